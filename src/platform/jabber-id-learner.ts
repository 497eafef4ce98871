// Resolution step 4: learns address → JID pairs from the X-Jabber-ID (or RFC 7259 Jabber-ID) header of mail that
// arrives by SMTP/IMAP. Runs when a folder other than the add-on's own grows; reads only the headers of new messages,
// a bounded number per change, each message once.
import type { Logger } from "../core/log.js";
import { parseAddressList } from "../core/mime/address.js";
import { parseJabberId } from "../core/resolve.js";
import type { ResolutionStore } from "./resolution-store.js";

const PER_CHANGE = 50;
const SEEN_MAX = 5000;

export function createJabberIdLearner(log: Logger, store: ResolutionStore, enabled: () => boolean, isOwnFolder: (folder: messenger.folders.MailFolder) => boolean) {
  const seen = new Set<number>();
  const counts = new Map<string, number>();
  let busy: Promise<void> = Promise.resolve();

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
      const values = [...(full.headers?.["x-jabber-id"] ?? []), ...(full.headers?.["jabber-id"] ?? [])];
      if (values.length !== 1) continue; // none, or contradicting announcements: learn nothing
      const jid = parseJabberId(values[0]!);
      if (jid === null) {
        log.info("jabber-id-invalid", { from });
        continue;
      }
      const outcome = await store.rememberLearned(from, jid);
      if (outcome === "learned") log.info("jabber-id-learned", { from, jid });
      else if (outcome === "conflict") log.warn("jabber-id-conflict", { from, jid });
    }
  }

  return {
    /** folders.onFolderInfoChanged listener. */
    onFolderInfo(folder: messenger.folders.MailFolder, info: { totalMessageCount?: number }): Promise<void> {
      const id = folder.id;
      const total = info.totalMessageCount;
      if (!id || total === undefined || isOwnFolder(folder) || !enabled()) return Promise.resolve();
      const before = counts.get(id);
      counts.set(id, total);
      if (before !== undefined && total <= before) return Promise.resolve();
      busy = busy.then(() => learnFrom(id)).catch((error: unknown) => log.warn("jabber-id-learning-failed", { error }));
      return busy;
    },
  };
}
