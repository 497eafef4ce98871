// The address↔JID knowledge kept in storage.local, mirrored in memory for the send path: explicit mappings
// ("mappings", shared with the receiving side's sender check), mappings learned from X-Jabber-ID headers
// ("learnedMappings") and the verified senders of mail received over XMPP ("verifiedSenders"). Every value read from
// storage is validated; the stores are bounded.
import { emailKey, isValidBareJid, type ResolutionData } from "../core/resolve.js";
import { parseXmppDomains } from "../core/settings.js";

const MAPPINGS = "mappings";
const LEARNED = "learnedMappings";
const VERIFIED = "verifiedSenders";
const MAX_ENTRIES = 2000;

type Learned = { jid: string; confirmed: boolean };

function readExplicit(raw: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof raw !== "object" || raw === null) return out;
  for (const [address, value] of Object.entries(raw as Record<string, unknown>)) {
    const jid = Array.isArray(value) ? value.find((j): j is string => typeof j === "string" && isValidBareJid(j)) : typeof value === "string" ? value : undefined;
    if (jid && isValidBareJid(jid)) out.set(emailKey(address), jid);
  }
  return out;
}

function readVerified(raw: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof raw !== "object" || raw === null) return out;
  for (const [address, jid] of Object.entries(raw as Record<string, unknown>)) if (typeof jid === "string" && isValidBareJid(jid)) out.set(emailKey(address), jid);
  return out;
}

function readLearned(raw: unknown): Map<string, Learned> {
  const out = new Map<string, Learned>();
  if (typeof raw !== "object" || raw === null) return out;
  for (const [address, value] of Object.entries(raw as Record<string, unknown>)) {
    const { jid, confirmed } = (value ?? {}) as Partial<Learned>;
    if (typeof jid === "string" && isValidBareJid(jid)) out.set(emailKey(address), { jid, confirmed: confirmed === true });
  }
  return out;
}

/** Keeps the newest `max` entries of a map (insertion order = age). */
function bounded<V>(map: Map<string, V>, max: number): Record<string, V> {
  const entries = [...map];
  return Object.fromEntries(entries.slice(Math.max(0, entries.length - max)));
}

export function createResolutionStore() {
  let explicit = new Map<string, string>();
  let learned = new Map<string, Learned>();
  let verified = new Map<string, string>();
  let loaded: Promise<void> | null = null;

  const load = () =>
    (loaded ??= messenger.storage.local.get([MAPPINGS, LEARNED, VERIFIED]).then((got) => {
      explicit = readExplicit(got[MAPPINGS]);
      learned = readLearned(got[LEARNED]);
      verified = readVerified(got[VERIFIED]);
    }));

  return {
    ready: load,
    /** storage.onChanged listener (area "local"). */
    onStorageChanged(changes: Record<string, { newValue?: unknown }>): void {
      if (MAPPINGS in changes) explicit = readExplicit(changes[MAPPINGS]!.newValue);
      if (LEARNED in changes) learned = readLearned(changes[LEARNED]!.newValue);
      if (VERIFIED in changes) verified = readVerified(changes[VERIFIED]!.newValue);
    },
    /** Everything resolution needs, from memory. */
    data(addressBook: ReadonlyMap<string, readonly string[]>, settings: { jid: string; xmppDomains: string }): ResolutionData {
      const own = settings.jid.split("/")[0]!.split("@")[1] ?? "";
      const listed = parseXmppDomains(settings.xmppDomains) ?? [];
      return { explicit, addressBook, xmppDomains: listed.length > 0 ? listed : own ? [own] : [], learned, verifiedSenders: verified };
    },
    /** Remembers the checked address ↔ JID pair of a mail received over XMPP (resolution step 5). */
    async rememberVerifiedSender(address: string, jid: string): Promise<void> {
      await load();
      const key = emailKey(address);
      if (verified.get(key) === jid || !isValidBareJid(jid)) return;
      const next = new Map(verified);
      next.delete(key);
      next.set(key, jid);
      verified = next;
      await messenger.storage.local.set({ [VERIFIED]: bounded(next, MAX_ENTRIES) });
    },
    /**
     * Remembers a JID announced in an X-Jabber-ID header (resolution step 4). The header is unauthenticated, so the
     * first JID seen for an address stays (trust on first use): a different one later is reported as a conflict and
     * not stored; only `confirmed` (the user's word) replaces it.
     */
    async rememberLearned(address: string, jid: string, confirmed = false): Promise<"learned" | "known" | "conflict" | "invalid"> {
      await load();
      if (!isValidBareJid(jid)) return "invalid";
      const key = emailKey(address);
      const known = learned.get(key);
      if (known && known.jid.toLowerCase() === jid.toLowerCase() && (known.confirmed || !confirmed)) return "known";
      if (known && known.jid.toLowerCase() !== jid.toLowerCase() && !confirmed) return "conflict";
      const next = new Map(learned);
      next.delete(key);
      next.set(key, { jid, confirmed });
      learned = next;
      await messenger.storage.local.set({ [LEARNED]: bounded(next, MAX_ENTRIES) });
      return "learned";
    },
  };
}

export type ResolutionStore = ReturnType<typeof createResolutionStore>;
