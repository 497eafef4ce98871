// The Sent copy of a mail that went over XMPP only (Thunderbird's send was cancelled, so it files none): which folder,
// found or made as Thunderbird does, and the import into it and into the compose window's additional Fcc.
import type { Logger } from "../core/log.js";

type Details = messenger.compose.ComposeDetails;
type Folder = messenger.folders.MailFolder;

/** Account types whose folders live in the profile: Thunderbird creates a missing Sent folder in such an account. */
const LOCAL_STORE_TYPES = new Set(["pop3", "none", "rss"]);
const SENT_NAME = "Sent";

/**
 * The folder for the Sent copy, found or made the way Thunderbird itself does when it files a sent mail and the
 * identity names no Fcc folder yet (nsMsgIdentity getOrCreateFolder; the extension API shows no identity's Fcc): a
 * folder with the Sent flag (the identity's account first, then Local Folders), else a top-level folder named "Sent",
 * else a new top-level "Sent" — in the identity's account when it keeps its folders in the profile and has an Inbox of
 * its own (POP; a POP account deferred to Local Folders has none), otherwise (IMAP, deferred POP) in Local Folders.
 * The extension API cannot set the Sent flag; Thunderbird sets it on that top-level "Sent" folder at its next own send
 * and at its next start (measured: tests/e2e/sent-folder.test.ts), as for a "Sent" folder a user made by hand. Creating it elsewhere (Local
 * Folders for a POP identity, as this did before) left the copy in a folder Thunderbird never flags, beside the Sent
 * folder it creates later.
 */
export async function sentFolderFor(identityId: string | undefined, log: Logger): Promise<Folder | null> {
  const identity = identityId ? await messenger.identities.get(identityId).catch(() => null) : null;
  const accounts = await messenger.accounts.list(false);
  const own = identity?.accountId === undefined ? undefined : accounts.find((a) => a.id === identity.accountId);
  const local = accounts.find((a) => a.type === "none");
  const withUse = async (account: messenger.accounts.MailAccount, use: "sent" | "inbox"): Promise<Folder | null> => {
    const found = await messenger.folders.query({ accountId: account.id, specialUse: [use] } as messenger.folders._QueryQueryInfo).catch(() => []);
    return Array.isArray(found) && found.length > 0 ? found[0]! : null;
  };
  for (const account of [own, local]) {
    const flagged = account ? await withUse(account, "sent") : null;
    if (flagged) return flagged;
  }
  const ownStore = own !== undefined && LOCAL_STORE_TYPES.has(own.type) && (own.type === "none" || (await withUse(own, "inbox")) !== null);
  const root = (ownStore ? own : local)?.rootFolder;
  if (!root) return null;
  const named = async () => (await messenger.folders.getSubFolders(root, false).catch(() => [] as Folder[])).find((f) => f.name === SENT_NAME) ?? null;
  const existing = await named();
  if (existing) return existing;
  try {
    const created = await messenger.folders.create(root, SENT_NAME);
    // On a fresh profile the first create once returned another folder (PLATFORM-FACTS): check what came back.
    if (created.name === SENT_NAME) return created;
  } catch (error) {
    log.warn("sent-folder-create-failed", { error });
  }
  return named();
}

/** Imports the Sent copy where Thunderbird would have filed it (the compose window's Fcc choices); returns where. */
export async function fileSentCopy(raw: Uint8Array, details: Details, log: Logger): Promise<string | null> {
  // The compose window can override the identity's Fcc: "" means "keep no copy".
  let target: Folder | string | null;
  if (details.overrideDefaultFcc === true) {
    const chosen = details.overrideDefaultFccFolder;
    target = chosen === undefined || chosen === "" ? null : typeof chosen === "string" ? chosen : (chosen.id ?? null);
  } else {
    target = await sentFolderFor(details.identityId, log);
    if (target === null) log.warn("sent-folder-missing", {});
  }
  const extra = details.additionalFccFolder;
  const targets = [target, extra === undefined || extra === "" ? null : typeof extra === "string" ? extra : (extra.id ?? null)];
  let where: string | null = null;
  for (const folder of targets) {
    if (folder === null) continue;
    const id = typeof folder === "string" ? folder : (folder.id ?? "");
    const file = new File([raw as Uint8Array<ArrayBuffer>], "sent.eml", { type: "message/rfc822" });
    await messenger.messages.import(file, id, { read: true });
    where ??= typeof folder === "string" ? folder : (folder.path ?? folder.name ?? id);
  }
  return where;
}
