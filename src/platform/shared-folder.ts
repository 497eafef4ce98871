// Filing into a receive folder that other Thunderbirds of the same account see (an IMAP folder): one of them files,
// the others count the mail as filed when it tells them so (src/core/shared-folder.ts has the rule, src/xmpp/
// siblings.ts the exchange, docs/protocol.md §6 the description). Folders in a local store are passed straight on.
import type { Logger } from "../core/log.js";
import { decideShared, FilingLedger, localFolderKey, SIBLING_ASK_MS, SIBLING_FILING_MS, SIBLING_WAIT_MS, sharedFolderKey, siblingMailKey, type SiblingWord } from "../core/shared-folder.js";
import type { FiledMail, KeyValueStore, MailSink } from "../xmpp/receiver.js";
import type { SiblingTracker } from "../xmpp/siblings.js";

/** What the sink uses of the sibling tracker. */
export type SiblingView = Pick<SiblingTracker, "self" | "siblings" | "settled" | "ask" | "words" | "waitFor" | "announce">;
import type { ReceiveSettings } from "./mail-folder.js";

const LEDGER_KEY = "siblingLedger";


export interface SharedFolderSinkDeps {
  readonly inner: MailSink;
  readonly log: Logger;
  readonly settings: () => ReceiveSettings;
  /** The current session's sibling tracker (null while there is no session). */
  readonly siblings: () => SiblingView | null;
  readonly store: KeyValueStore;
  readonly waitMs?: number;
  readonly askMs?: number;
  readonly filingMs?: number;
}

export interface SharedFolderSink extends MailSink {
  /** The folder key this Thunderbird filed (or saw filed) a mail into, for a sibling's query (once the ledger is loaded). */
  filedInto(mailKey: string): Promise<string | undefined>;
  /** The shared folder key of the receive folder now (for a verified sender; null: a local folder), for a query. */
  ownFolderKey(): Promise<string | null>;
}

/** How often, and how far apart, the receive folder is looked up before it counts as unknown (Thunderbird may not have
 * loaded an IMAP account's folders yet right after start). */
const LOOKUP_ATTEMPTS = 5;
const LOOKUP_PAUSE_MS = 300;

type FolderKeyResult = { readonly key: string | null } | { readonly unknown: string };

/** The shared-folder key of the chosen receive folder (null: a folder only we see), or why it could not be told. */
async function folderKeyFor(mail: Pick<FiledMail, "verified" | "known">, settings: ReceiveSettings): Promise<FolderKeyResult> {
  const withUnverified = !mail.verified || (!mail.known && settings.unknownSenders === "unverified-folder");
  if (withUnverified || settings.receiveFolder === "") return { key: null }; // Local Folders
  let why = "";
  for (let attempt = 1; attempt <= LOOKUP_ATTEMPTS; attempt++) {
    try {
      const folder = await messenger.folders.get(settings.receiveFolder, false);
      const account = folder.accountId ? await messenger.accounts.get(folder.accountId, false) : null;
      if (account) {
        return {
          key: sharedFolderKey({
            accountType: account.type,
            accountName: account.name,
            identities: (account.identities ?? []).map((i) => i.email ?? ""),
            path: folder.path ?? "",
          }),
        };
      }
      why = `no account for the folder (${folder.accountId ?? "none"})`;
    } catch (error) {
      why = error instanceof Error ? error.message : String(error);
    }
    if (attempt < LOOKUP_ATTEMPTS) await new Promise((resolve) => setTimeout(resolve, LOOKUP_PAUSE_MS));
  }
  return { unknown: why };
}

export function createSharedFolderSink(deps: SharedFolderSinkDeps): SharedFolderSink {
  const { inner, log } = deps;
  let ledger: FilingLedger | null = null;
  const loaded = deps.store.get(LEDGER_KEY).then(
    (saved) => (ledger = new FilingLedger(2000, saved)),
    () => (ledger = new FilingLedger(2000)),
  );
  const remember = async (mailKey: string, folderKey: string) => {
    await loaded;
    ledger!.set(mailKey, folderKey);
    await deps.store.set(LEDGER_KEY, ledger!.toJSON()).catch((error: unknown) => log.warn("sibling-ledger-save-failed", { error }));
  };

  return {
    filedInto: async (mailKey) => {
      await loaded;
      return ledger!.get(mailKey);
    },
    ownFolderKey: async () => {
      const found = await folderKeyFor({ verified: true, known: true }, deps.settings());
      // Unknown is not "local": the asker must not count this Thunderbird out as its filer because of it.
      if ("unknown" in found) throw new Error(found.unknown);
      return found.key;
    },

    async file(mail: FiledMail): Promise<void> {
      const tracker = deps.siblings();
      const self = tracker?.self ?? null;
      const found = await folderKeyFor(mail, deps.settings());
      // A receive folder that cannot be looked up: the folder sink files into Local Folders (a folder of our own).
      if ("unknown" in found) log.warn("receive-folder-unknown", { why: found.unknown });
      const folderKey = "unknown" in found ? null : found.key;
      const mailKey = siblingMailKey(mail.fromJid, mail.originId);
      if (tracker === null || self === null) return inner.file(mail);
      if (folderKey === null) {
        // A folder only this Thunderbird sees: file, no coordination. Say so all the same, so that a sibling waiting
        // for us as its filer (we are the smallest resource) files into its own shared folder at once.
        await inner.file(mail);
        if (tracker.siblings().length > 0) {
          log.info("shared-folder-local", { siblings: tracker.siblings().length });
          const own = localFolderKey(self);
          await remember(mailKey, own);
          tracker.announce(mail.fromJid, mail.originId, { state: "filed", folder: own });
        }
        return;
      }
      const started = Date.now();
      await tracker.settled();
      let words: Map<string, SiblingWord> =
        tracker.siblings().length > 0 ? await tracker.ask(mail.fromJid, mail.originId, deps.askMs ?? SIBLING_ASK_MS) : tracker.words(mail.fromJid, mail.originId);
      let decision = decideShared({ folderKey, self, siblings: tracker.siblings(), words, waited: false });
      if (decision.action === "wait") {
        log.info("shared-folder-wait", { filer: decision.filer, siblings: tracker.siblings().length });
        words = await tracker.waitFor(decision.filer, mail.fromJid, mail.originId, deps.waitMs ?? SIBLING_WAIT_MS);
        const said = words.get(decision.filer);
        if (said?.state === "filing" && said.folder === folderKey) {
          // It is importing into our folder (a large mail, a slow server): give it longer.
          log.info("shared-folder-wait-filing", { filer: decision.filer });
          words = await tracker.waitFor(decision.filer, mail.fromJid, mail.originId, deps.filingMs ?? SIBLING_FILING_MS);
        }
        decision = decideShared({ folderKey, self, siblings: tracker.siblings(), words, waited: true, waitedFor: decision.filer });
      }
      const ms = Date.now() - started;
      if (decision.action === "filed-by-sibling") {
        log.info("mail-filed-by-sibling", { by: decision.by, messageId: mail.messageId ?? "", ms });
        await remember(mailKey, folderKey);
        return;
      }
      log.info("shared-folder-file", { why: decision.action === "file" ? decision.why : "", siblings: tracker.siblings().length, ms });
      if (tracker.siblings().length > 0) tracker.announce(mail.fromJid, mail.originId, { state: "filing", folder: folderKey });
      try {
        await inner.file(mail);
      } catch (error) {
        tracker.announce(mail.fromJid, mail.originId, { state: "failed" });
        throw error;
      }
      await remember(mailKey, folderKey);
      tracker.announce(mail.fromJid, mail.originId, { state: "filed", folder: folderKey });
    },
  };
}
