// Files mail received over XMPP into Thunderbird: a folder named for the add-on under Local Folders (created on first
// use) or the folder chosen in the settings, a separate folder for unverified senders, tags that make the verdict
// visible in the message list.
//
// Filing is idempotent against the folders themselves, not only against the receiver's memory (its dedupe set is saved
// after the import, so a crash in between leaves a filed mail it does not know about): before importing, the mail is
// looked up in every folder the add-on may file it into, and a copy this add-on filed from the same stanza (or the
// same Message-ID from the same sender) counts as filed. After a crash Thunderbird may not be able to read such a
// folder's index at all: the mail is in the mbox, the .msf summary is older (NS_MSG_ERROR_FOLDER_SUMMARY_OUT_OF_DATE).
// Then every lookup — messages.query, messages.list, and messages.import's own duplicate check — sees an empty folder,
// and an import appends a second copy (and its promise never settles). Nothing but an import (or the user opening the
// folder) makes Thunderbird rebuild that index, so the sink imports a small marker mail, waits until the index is
// readable again, deletes the marker for good, and only then looks the mail up (docs/reliability.md).
import type { FiledMail, MailSink } from "../xmpp/receiver.js";
import type { Logger } from "../core/log.js";
import { displayedAddress } from "../core/mime/address.js";
import type { Settings } from "../core/settings.js";
import { withDeadline } from "../core/scheduler.js";
import { realScheduler } from "../xmpp/runtime.js";

/** The settings the sink reads for every mail, so a change applies to the next one. */
export type ReceiveSettings = Pick<Settings, "unknownSenders" | "receiveFolder">;

export const INBOX_FOLDER = "Mail over XMPP";
export const UNVERIFIED_FOLDER = "Mail over XMPP - unverified senders";
const TAG_UNVERIFIED = { key: "mox_unverified", label: "XMPP: unverified sender", color: "#D70022" };
const TAG_NEW_SENDER = { key: "mox_newsender", label: "XMPP: new sender", color: "#0A84FF" };
/** Signed by a device of the sender that is not pinned (docs/protocol.md §10.6.2): compare keys before trusting it. */
const TAG_KEY_CHANGED = { key: "mox_keychanged", label: "XMPP: sender's key changed", color: "#FF9400" };

type Folder = messenger.folders.MailFolder;

/** How long an import may take before it counts as failed (it never settles in a folder whose index is out of date). */
const IMPORT_TIMEOUT_MS = 30_000;
/** How long to wait for Thunderbird to rebuild a folder index that the crash left out of date. */
const INDEX_REBUILD_MS = 15_000;
/** The domain of the marker mail that makes Thunderbird rebuild an out-of-date folder index. */
export const INDEX_CHECK_DOMAIN = "mail-over-xmpp.invalid";
/** Folder candidates with the same subject checked for a mail without Message-ID (newest filings are rare there). */
const MAX_CANDIDATES = 200;

export interface FolderSinkOptions {
  readonly importTimeoutMs?: number;
  readonly indexRebuildMs?: number;
  readonly pollMs?: number;
}

async function localFoldersRoot(): Promise<Folder> {
  const accounts = await messenger.accounts.list(false);
  const local = accounts.find((a) => a.type === "none");
  if (!local?.rootFolder) throw new Error("Thunderbird has no Local Folders account to file mail into");
  return local.rootFolder;
}

async function findChild(parent: Folder, name: string): Promise<Folder | undefined> {
  const children = await messenger.folders.getSubFolders(parent, false);
  return children.find((f) => f.name === name);
}

/** Finds or creates `name` under Local Folders, checking what create returned (it once returned Trash on a fresh profile). */
async function ensureFolder(name: string): Promise<Folder> {
  const root = await localFoldersRoot();
  const existing = await findChild(root, name);
  if (existing) return existing;
  try {
    const created = await messenger.folders.create(root, name);
    if (created.name === name) return created;
  } catch {
    // Created concurrently, or the race below: look again.
  }
  const again = await findChild(root, name);
  if (!again) throw new Error(`could not create the folder "${name}" under Local Folders`);
  return again;
}

async function ensureTag(tag: { key: string; label: string; color: string }): Promise<void> {
  const tags = await messenger.messages.listTags();
  if (!tags.some((t) => t.key === tag.key)) await messenger.messages.createTag(tag.key, tag.label, tag.color);
}

/** The value receive-rules' traceHeader writes for a field (it blanks CR, LF, ";" and "=" and cuts at 200). */
const traceValue = (value: string) => value.replace(/[\r\n;=]/g, " ").slice(0, 200);

/** The fields of an X-Mail-Over-XMPP trace header value ("from=…; verified=…; origin-id=…; …"). */
function traceFields(value: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of value.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return fields;
}

async function allMessages(first: messenger.messages.MessageList | string, limit = Infinity): Promise<messenger.messages.MessageHeader[]> {
  const out: messenger.messages.MessageHeader[] = [];
  let page = first;
  for (;;) {
    if (typeof page === "string") page = await messenger.messages.continueList(page);
    out.push(...page.messages);
    if (!page.id || out.length >= limit) return out;
    page = await messenger.messages.continueList(page.id);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createFolderSink(log: Logger, settings: () => ReceiveSettings, options: FolderSinkOptions = {}): MailSink {
  const importTimeoutMs = options.importTimeoutMs ?? IMPORT_TIMEOUT_MS;
  const indexRebuildMs = options.indexRebuildMs ?? INDEX_REBUILD_MS;
  const pollMs = options.pollMs ?? 100;
  const folders = new Map<string, Promise<Folder>>();
  const folder = (name: string) => {
    let p = folders.get(name);
    if (!p) {
      p = ensureFolder(name).catch((error: unknown) => {
        folders.delete(name);
        throw error;
      });
      folders.set(name, p);
    }
    return p;
  };
  let tagsReady: Promise<void> | null = null;

  /** Can Thunderbird read the folder's index? getFolderInfo opens it and rejects when the summary is out of date. */
  const indexReadable = (f: Folder) =>
    messenger.folders.getFolderInfo(f.id ?? f).then(
      () => true,
      () => false,
    );

  /** Folders whose messages live in a local mbox/maildir store (Local Folders, POP): the ones a crash leaves stale. */
  const localStore = async (f: Folder) => {
    if (!f.accountId) return false;
    const account = await messenger.accounts.get(f.accountId, false).catch(() => null);
    return account?.type === "none" || account?.type === "pop3";
  };

  /**
   * Makes sure the folder's index can be read before it is searched or imported into (see the top of this file).
   * Returns false when it stayed unreadable: then nothing can be known about the folder's content.
   */
  const ensureIndex = async (f: Folder): Promise<boolean> => {
    if (await indexReadable(f)) return true;
    if (!(await localStore(f))) return false;
    const started = Date.now();
    const marker = `index-check.${crypto.randomUUID()}@${INDEX_CHECK_DOMAIN}`;
    log.warn("folder-index-stale", { folder: f.name ?? "" });
    const text = `Message-ID: <${marker}>\r\nFrom: Mail over XMPP <index-check@${INDEX_CHECK_DOMAIN}>\r\nSubject: Mail over XMPP: folder index check (can be deleted)\r\n\r\nThunderbird rebuilds the folder index after this import.\r\n`;
    // Never settles while the index is out of date; if it does settle (the index was rebuilt meanwhile), fine.
    void messenger.messages.import(new File([text], "index-check.eml", { type: "message/rfc822" }), f.id ?? f, { read: true, new: false }).catch(() => undefined);
    let readable = false;
    while (!(readable = await indexReadable(f)) && Date.now() - started < indexRebuildMs) await sleep(pollMs);
    if (!readable) {
      log.warn("folder-index-unreadable", { folder: f.name ?? "", ms: Date.now() - started });
      return false;
    }
    const markers = await allMessages(await messenger.messages.query({ folderId: f.id, headerMessageId: marker }));
    if (markers.length > 0) await messenger.messages.delete(markers.map((m) => m.id), true).catch((error: unknown) => log.warn("index-check-not-deleted", { error }));
    log.info("folder-index-rebuilt", { folder: f.name ?? "", ms: Date.now() - started });
    return true;
  };

  /**
   * A copy of this mail that this add-on filed: its trace header names the same sender JID and either the same
   * origin-id (the same stanza: a retransmission, a carbon, the archive copy) or, found by Message-ID, the same mail.
   */
  const sameMail = async (m: messenger.messages.MessageHeader, mail: FiledMail, byMessageId: boolean) => {
    const full = await messenger.messages.getFull(m.id, { decodeContent: false, decodeHeaders: true });
    const trace = full.headers?.["x-mail-over-xmpp"]?.[0];
    if (trace === undefined) return false;
    const fields = traceFields(trace);
    if (fields.get("from")?.toLowerCase() !== traceValue(mail.fromJid).trim().toLowerCase()) return false;
    return byMessageId || fields.get("origin-id") === traceValue(mail.originId).trim();
  };

  /** Looks the mail up in one folder whose index is readable. */
  const findIn = async (f: Folder, mail: FiledMail): Promise<boolean> => {
    const id = mail.messageId?.trim().replace(/^<|>$/g, "");
    const candidates = id
      ? await allMessages(await messenger.messages.query({ folderId: f.id, headerMessageId: id }))
      : // No Message-ID: Thunderbird keys it by a hash of its header ("md5:…"), which the trace header's time changes
        // from copy to copy; the subject narrows the search, the trace header's origin-id decides.
        (await allMessages(await messenger.messages.query({ folderId: f.id, subject: mail.subject }), MAX_CANDIDATES)).filter((m) => m.headerMessageId.startsWith("md5:"));
    for (const m of candidates) if (await sameMail(m, mail, id !== undefined)) return true;
    return false;
  };

  /** The folders other than `target` that the add-on may have filed this mail into (existing ones only). */
  const otherFolders = async (target: Folder): Promise<Folder[]> => {
    const { receiveFolder } = settings();
    const root = await localFoldersRoot().catch(() => undefined);
    const found = await Promise.all([
      root && findChild(root, INBOX_FOLDER),
      root && findChild(root, UNVERIFIED_FOLDER),
      receiveFolder ? messenger.folders.get(receiveFolder, false).catch(() => undefined) : undefined,
    ]);
    const seen = new Set([target.id]);
    return found.filter((f): f is Folder => f !== undefined && !seen.has(f.id) && (seen.add(f.id), true));
  };

  /** Is this mail in one of the add-on's folders already? */
  const alreadyFiled = async (target: Folder, mail: FiledMail): Promise<Folder | null> => {
    for (const f of [target, ...(await otherFolders(target))]) {
      if (!(await ensureIndex(f))) continue; // unknowable: rather a duplicate than a loss
      if (await findIn(f, mail)) return f;
    }
    return null;
  };

  /**
   * A mail is presented as from a verified sender only if the author Thunderbird itself reads after the import is the
   * address that was checked against the sender's JID. Should the two parsers ever disagree (the receiver's checks
   * are meant to make that impossible), the mail goes to the unverified-senders folder, tagged: a copy is imported
   * there first, then the first one is deleted (a crash in between leaves two copies, never none). With only the
   * permissions the add-on already has (import, delete): no move or update permission is needed for this.
   */
  const checkAuthor = async (header: messenger.messages.MessageHeader, checked: string, target: Folder, file: File): Promise<void> => {
    const shown = displayedAddress(header.author ?? "");
    if (shown === checked.toLowerCase()) return;
    log.warn("author-differs-after-import", { folder: target.name ?? "", messageId: header.headerMessageId });
    const apart = await folder(UNVERIFIED_FOLDER);
    // Already among the unverified (a new sender, with unknownSenders = unverified-folder): it stays there.
    if ((apart.id ?? apart.path) === (target.id ?? target.path)) return;
    try {
      await ensureTag(TAG_UNVERIFIED);
      await importWithin(file, apart, { new: true, read: false, tags: [TAG_UNVERIFIED.key] });
    } finally {
      // Never left looking verified: if the copy could not be made, the error means no receipt, and the sender's
      // SMTP fallback delivers the mail instead.
      await messenger.messages.delete([header.id], true);
    }
  };

  const importWithin = (file: File, target: Folder, props: messenger.messages.MessageProperties) =>
    withDeadline(realScheduler, messenger.messages.import(file, target.id ?? target, props), importTimeoutMs, `messages.import did not finish within ${importTimeoutMs} ms`);

  return {
    async file(mail: FiledMail): Promise<void> {
      const { unknownSenders, receiveFolder } = settings();
      const withUnverified = !mail.verified || (!mail.known && unknownSenders === "unverified-folder");
      // The chosen folder if it still exists; folders.get rejects ("Folder not found: …") when it was deleted.
      const chosen =
        withUnverified || receiveFolder === ""
          ? undefined
          : await messenger.folders.get(receiveFolder, false).catch((error: unknown) => void log.warn("receive-folder-missing", { folder: receiveFolder, error }));
      const target = chosen ?? (await folder(withUnverified ? UNVERIFIED_FOLDER : INBOX_FOLDER));
      const tags: string[] = [];
      if (!mail.verified) tags.push(TAG_UNVERIFIED.key);
      else if (!mail.known) tags.push(TAG_NEW_SENDER.key);
      if (mail.keyChanged) tags.push(TAG_KEY_CHANGED.key);
      if (tags.length > 0) {
        tagsReady ??= Promise.all([ensureTag(TAG_UNVERIFIED), ensureTag(TAG_NEW_SENDER), ensureTag(TAG_KEY_CHANGED)]).then(
          () => undefined,
          (error: unknown) => {
            tagsReady = null;
            throw error;
          },
        );
        await tagsReady;
      }
      const found = await alreadyFiled(target, mail);
      if (found) {
        log.info("mail-already-in-folder", { folder: found.name ?? "", messageId: mail.messageId ?? "", by: "lookup" });
        return;
      }
      const file = new File([mail.raw as Uint8Array<ArrayBuffer>], "mail.eml", { type: "message/rfc822" });
      log.debug("mail-import-start", { folder: target.name ?? "", messageId: mail.messageId ?? "" });
      try {
        const header = await importWithin(file, target, { new: true, read: false, tags });
        log.info("mail-filed", { folder: target.name ?? "", messageId: header.headerMessageId, verified: mail.verified, signerChanged: mail.keyChanged === true });
        if (mail.verified && mail.fromAddress) await checkAuthor(header, mail.fromAddress, target, file);
      } catch (error) {
        // Thunderbird refuses a second copy of a Message-ID in one folder: it is filed already (e.g. a retransmission).
        if (mail.messageId && error instanceof Error && /already/i.test(error.message)) {
          log.info("mail-already-in-folder", { folder: target.name ?? "", messageId: mail.messageId, by: "import" });
          return;
        }
        throw error;
      }
    },
  };
}
