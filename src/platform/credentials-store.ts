// Where the account's secret lives: storage.local "credentials" = { jid, password?, keys? }.
// After the first SCRAM login only the salted keys are kept (RFC 5802: enough to log in, useless elsewhere);
// the password stays only for servers that offer nothing but PLAIN, or until a SCRAM login succeeds.
import type { ScramKeys } from "../xmpp/scram.js";
import type { CredentialSource, StoredCredentials } from "../xmpp/session.js";

const KEY = "credentials";

interface Record_ {
  readonly jid: string;
  readonly password?: string;
  readonly keys?: ScramKeys;
}

type StorageArea = Pick<messenger.storage.StorageArea, "get" | "set" | "remove">;

function parse(raw: unknown, jid: string): StoredCredentials {
  if (typeof raw !== "object" || raw === null) return {};
  const r = raw as Partial<Record_>;
  if (typeof r.jid !== "string" || r.jid.toLowerCase() !== jid.toLowerCase()) return {};
  const out: { password?: string; keys?: ScramKeys } = {};
  if (typeof r.password === "string" && r.password) out.password = r.password;
  const k = r.keys;
  if (
    k &&
    (k.mechanism === "SCRAM-SHA-1" || k.mechanism === "SCRAM-SHA-256") &&
    typeof k.salt === "string" &&
    Number.isInteger(k.iterations) &&
    typeof k.clientKey === "string" &&
    typeof k.serverKey === "string"
  ) {
    out.keys = k;
  }
  return out;
}

export function createCredentialStore(area: StorageArea) {
  async function read(jid: string): Promise<StoredCredentials> {
    const got = await area.get(KEY);
    return parse(got[KEY], jid);
  }
  return {
    read,
    /** A new password for `jid` replaces whatever was stored (the keys belong to the old password). */
    async setPassword(jid: string, password: string): Promise<void> {
      await area.set({ [KEY]: { jid, password } });
    },
    async clear(): Promise<void> {
      await area.remove(KEY);
    },
    /** A CredentialSource for the session; `policyPassword` (enterprise policy) wins over a stored one. */
    sourceFor(jid: string, policyPassword?: string): CredentialSource {
      return {
        load: async () => {
          const stored = await read(jid);
          return policyPassword ? { ...stored, password: policyPassword } : stored;
        },
        saveKeys: async (keys: ScramKeys) => {
          await area.set({ [KEY]: { jid, keys } });
        },
      };
    },
  };
}

export type CredentialStore = ReturnType<typeof createCredentialStore>;
