// Files mail received over XMPP into Thunderbird: a folder named for the add-on under Local Folders (created on first
// use) or the folder chosen in the settings, a separate folder for unverified senders, tags that make the verdict
// visible in the message list.
import type { FiledMail, MailSink } from "../xmpp/receiver.js";
import type { Logger } from "../core/log.js";
import type { Settings } from "../core/settings.js";

/** The settings the sink reads for every mail, so a change applies to the next one. */
export type ReceiveSettings = Pick<Settings, "unknownSenders" | "receiveFolder">;

export const INBOX_FOLDER = "Mail over XMPP";
export const UNVERIFIED_FOLDER = "Mail over XMPP - unverified senders";
const TAG_UNVERIFIED = { key: "mox_unverified", label: "XMPP: unverified sender", color: "#D70022" };
const TAG_NEW_SENDER = { key: "mox_newsender", label: "XMPP: new sender", color: "#0A84FF" };

type Folder = messenger.folders.MailFolder;

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

export function createFolderSink(log: Logger, settings: () => ReceiveSettings): MailSink {
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
      if (tags.length > 0) {
        tagsReady ??= Promise.all([ensureTag(TAG_UNVERIFIED), ensureTag(TAG_NEW_SENDER)]).then(
          () => undefined,
          (error: unknown) => {
            tagsReady = null;
            throw error;
          },
        );
        await tagsReady;
      }
      const file = new File([mail.raw as Uint8Array<ArrayBuffer>], "mail.eml", { type: "message/rfc822" });
      try {
        const header = await messenger.messages.import(file, target.id ?? target, { new: true, read: false, tags });
        log.info("mail-filed", { folder: target.name ?? "", messageId: header.headerMessageId, verified: mail.verified });
      } catch (error) {
        // Thunderbird refuses a second copy of a Message-ID in one folder: it is filed already (e.g. a retransmission).
        if (mail.messageId && error instanceof Error && /already/i.test(error.message)) {
          log.info("mail-already-in-folder", { messageId: mail.messageId });
          return;
        }
        throw error;
      }
    },
  };
}
