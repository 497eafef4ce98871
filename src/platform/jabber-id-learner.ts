// Looks at the headers of mail that arrives by SMTP/IMAP, when a folder other than the add-on's own grows (new
// messages only, a bounded number per change, each once):
// - resolution step 4: learns address → JID pairs from X-Jabber-ID (or RFC 7259 Jabber-ID), when enabled — as
//   suggestions: the From is unauthenticated, so only a JID that is the address itself is used without the user;
// - an X-Mail-Over-XMPP-ID header marks the SMTP fallback copy of a mail sent over XMPP: handed to the duplicate guard.
import type { Logger } from "../core/log.js";
import { parseAddressList } from "../core/mime/address.js";
import { parseJabberId } from "../core/resolve.js";
import type { ResolutionStore } from "./resolution-store.js";

const PER_CHANGE = 50;
const SEEN_MAX = 5000;

export interface CopyHandler {
  onSmtpCopy(id: number, copyOf: string, fromAddress: string): Promise<void>;
}

export function createJabberIdLearner(
  log: Logger,
  store: ResolutionStore,
  enabled: () => boolean,
  isOwnFolder: (folder: messenger.folders.MailFolder) => boolean,
  copies: CopyHandler,
) {
  const seen = new Set<number>();

  async function learnFrom(folderId: string): Promise<void> {
    const page = await messenger.messages.query({ folderId, new: true, messagesPerPage: PER_CHANGE } as messenger.messages._QueryQueryInfo);
    if (typeof page === "string") return;
    for (const m of page.messages.slice(0, PER_CHANGE)) {
      if (seen.has(m.id)) continue;
      seen.add(m.id);
      if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value!);
      let from: string | undefined;
      try {
        const parsed = parseAddressList(m.author);
        from = parsed.length === 1 ? parsed[0]!.address : undefined;
      } catch {
        from = undefined;
      }
      if (!from?.includes("@")) continue;
      const full = await messenger.messages.getFull(m.id, { decodeContent: false } as never);
      const copyOf = full.headers?.["x-mail-over-xmpp-id"] ?? [];
      if (copyOf.length === 1 && /^<[^<>\s]{1,250}>$/.test(copyOf[0]!.trim())) {
        await copies.onSmtpCopy(m.id, copyOf[0]!.trim(), from).catch((error: unknown) => log.warn("smtp-copy-check-failed", { error }));
      }
      if (!enabled()) continue;
      const values = [...(full.headers?.["x-jabber-id"] ?? []), ...(full.headers?.["jabber-id"] ?? [])];
      if (values.length !== 1) continue; // none, or contradicting announcements: learn nothing
      const jid = parseJabberId(values[0]!);
      if (jid === null) {
        log.info("jabber-id-invalid", { from });
        continue;
      }
      const outcome = await store.rememberLearned(from, jid);
      if (outcome === "learned") log.info("jabber-id-learned", { from, jid });
      else if (outcome === "candidate") log.warn("jabber-id-conflict", { from, jid, kept: true });
      else if (outcome === "conflict") log.warn("jabber-id-conflict", { from, jid, kept: false });
    }
  }

  /** Per folder: a pass is running (and whether another one is due when it ends). */
  const passes = new Map<string, { again: boolean }>();

  async function run(folderId: string): Promise<void> {
    const pass = { again: false };
    passes.set(folderId, pass);
    try {
      do {
        pass.again = false;
        await learnFrom(folderId).catch((error: unknown) => log.warn("incoming-headers-failed", { error }));
      } while (pass.again);
    } finally {
      passes.delete(folderId);
    }
  }

  return {
    /**
     * folders.onFolderInfoChanged listener. Counts are not compared (a decrease can go unreported, and then an
     * arrival would look like no change): every change of a foreign folder triggers one pass over its new messages;
     * changes during a pass trigger one more.
     */
    onFolderInfo(folder: messenger.folders.MailFolder): Promise<void> {
      const id = folder.id;
      if (!id || isOwnFolder(folder) || isSpecialFolder(folder)) return Promise.resolve();
      const running = passes.get(id);
      if (running) {
        running.again = true;
        return Promise.resolve();
      }
      return run(id);
    },
  };
}

/** Folders whose growth is not arriving mail: Trash, Junk, Sent, Drafts, Templates, Outbox, Archives. */
export function isSpecialFolder(folder: messenger.folders.MailFolder): boolean {
  const uses = (folder as { specialUse?: string[] }).specialUse ?? [];
  return uses.some((u) => ["trash", "junk", "sent", "drafts", "templates", "outbox", "archives"].includes(u));
}
