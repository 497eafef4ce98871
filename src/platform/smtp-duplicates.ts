// A mail delivered over XMPP may also arrive by SMTP/IMAP later (the sender fell back after an unconfirmed delivery).
// When a folder other than ours grows, the recently filed Message-IDs are looked up in it, and a copy from the same
// verified sender is moved to the Trash (recoverable), so the user sees the mail once.
// (messages.onNewMailReceived is not enough: it did not fire for a second new mail in an account whose first new
// mail was still unread; folders.onFolderInfoChanged fired for every arrival.)
import type { Logger } from "../core/log.js";
import { parseAddressList } from "../core/mime/address.js";
import { FiledIndex } from "../core/receive-rules.js";
import type { KeyValueStore } from "../xmpp/receiver.js";
import { isSpecialFolder } from "./jabber-id-learner.js";

const INDEX_KEY = "filedIndex";
/** How long after filing an SMTP copy is still looked for. */
const WATCH_MS = 14 * 24 * 3600_000;

const COPIES_KEY = "smtpCopies";

/**
 * A copy that carries our trace header was filed over XMPP, by this add-on or by the add-on in another Thunderbird of
 * the account (an IMAP folder both see, docs/protocol.md §6): not an SMTP copy, never trashed.
 */
async function filedOverXmpp(id: number): Promise<boolean> {
  const full = await messenger.messages.getFull(id, { decodeContent: false, decodeHeaders: true }).catch(() => null);
  return full === null || full.headers?.["x-mail-over-xmpp"] !== undefined; // unreadable: rather keep it
}

export function createSmtpDuplicateGuard(log: Logger, store: KeyValueStore, isOwnFolder: (folder: messenger.folders.MailFolder) => boolean) {
  let index: Promise<FiledIndex> | null = null;
  const load = () => (index ??= store.get(INDEX_KEY).then((saved) => new FiledIndex(500, saved)));
  /** SMTP copies that named an XMPP copy (X-Mail-Over-XMPP-ID) not filed yet: XMPP Message-ID → their From. */
  let copies: Promise<FiledIndex> | null = null;
  const loadCopies = () => (copies ??= store.get(COPIES_KEY).then((saved) => new FiledIndex(500, saved)));
  const counts = new Map<string, number>();

  return {
    /**
     * A new SMTP/IMAP mail says it is the fallback copy of the XMPP mail `copyOf`: trash it when that mail was filed
     * over XMPP from the same (verified) sender; otherwise remember it, so the XMPP copy is not filed a second time.
     */
    async onSmtpCopy(id: number, copyOf: string, fromAddress: string): Promise<void> {
      const filed = await load();
      if (filed.isDuplicate(copyOf, [fromAddress])) {
        await messenger.messages.delete([id], false);
        log.info("smtp-duplicate-trashed", { count: 1, by: "copy-header" });
        return;
      }
      const c = await loadCopies();
      c.remember(copyOf, fromAddress, Date.now());
      await store.set(COPIES_KEY, c.toJSON());
      log.info("smtp-copy-seen", { copyOf });
    },
    /** Did this XMPP mail (verified From) already arrive as an SMTP fallback copy? */
    async arrivedBySmtp(messageId: string, fromAddress: string): Promise<boolean> {
      return (await loadCopies()).isDuplicate(messageId, [fromAddress]);
    },
    /** Called after a mail from a verified sender was filed. */
    async remember(messageId: string, fromAddress: string): Promise<void> {
      const i = await load();
      i.remember(messageId, fromAddress, Date.now());
      await store.set(INDEX_KEY, i.toJSON());
    },
    /** folders.onFolderInfoChanged listener. */
    async onFolderInfo(folder: messenger.folders.MailFolder, info: { totalMessageCount?: number }): Promise<void> {
      const id = folder.id;
      const total = info.totalMessageCount;
      // Not Trash (where our own deletions land: deleting there again would be for good), Sent, Drafts, Junk, ….
      if (!id || total === undefined || isOwnFolder(folder) || isSpecialFolder(folder)) return;
      const before = counts.get(id) ?? 0;
      counts.set(id, total);
      if (total <= before) return;
      const i = await load();
      const duplicates: number[] = [];
      for (const messageId of i.recent(Date.now(), WATCH_MS)) {
        const page = await messenger.messages.query({ folderId: id, headerMessageId: messageId } as messenger.messages._QueryQueryInfo);
        if (typeof page === "string") continue;
        for (const m of page.messages) {
          let from: string[] = [];
          try {
            from = parseAddressList(m.author).map((a) => a.address);
          } catch {
            continue;
          }
          if (i.isDuplicate(m.headerMessageId, from) && !(await filedOverXmpp(m.id))) duplicates.push(m.id);
        }
      }
      if (duplicates.length === 0) return;
      await messenger.messages.delete(duplicates, false);
      log.info("smtp-duplicate-trashed", { folder: folder.name ?? "", count: duplicates.length });
    },
  };
}
