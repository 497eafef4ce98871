// "Block sender" (issue 12): a button in the message header (message_display_action). For a mail the add-on filed, it
// reads the XMPP sender from the trace header the receiver prepended (X-Mail-Over-XMPP: from=…), blocks that JID
// (src/xmpp/blocklist.ts: on the server's XEP-0191 list, or locally when the server has none) and moves the mail to
// the Junk folder of its account.
//
// The trace header is trusted only on mail in the two folders only this add-on files into ("Mail over XMPP" and
// "… - unverified senders" under Local Folders): a mail that came by SMTP can carry a forged one, and blocking the JID
// it names would let a spammer make the user block a friend. Mail filed into a chosen receive folder (receiveFolder)
// shares it with SMTP mail, so the button declines there.
//
// Moving uses only the permissions the add-on already has: a copy is imported into Junk, then the original deleted
// (a crash in between leaves two copies, never none).
import type { Logger } from "../core/log.js";
import { checkedBareJid, type BlockMode } from "../xmpp/blocklist.js";
import { INBOX_FOLDER, UNVERIFIED_FOLDER } from "./mail-folder.js";

type Folder = messenger.folders.MailFolder;

export type BlockResult =
  | { readonly status: "blocked"; readonly jid: string; readonly mode: BlockMode; readonly movedToJunk: boolean }
  | { readonly status: "not-xmpp" }
  | { readonly status: "failed"; readonly reason: string };

export interface BlockActionDeps {
  readonly log: Logger;
  readonly block: (jid: string) => Promise<BlockMode>;
  /** Shows the outcome (a notification in main.ts). */
  readonly notify: (result: BlockResult) => void;
}

/** The sender JID of the receiver's trace header (the first header line of a mail the add-on filed), or null. */
export function traceSender(values: readonly string[] | undefined): string | null {
  // Exactly one: the receiver renames any the sender wrote, so a second one means the mail was not filed by us.
  if (!values || values.length !== 1) return null;
  const m = /(?:^|;)\s*from=([^;\s]{1,3071})\s*(?:;|$)/.exec(values[0]!);
  return m ? checkedBareJid(m[1]!) : null;
}

async function isAddonFolder(folder: Folder | undefined): Promise<boolean> {
  if (!folder || (folder.name !== INBOX_FOLDER && folder.name !== UNVERIFIED_FOLDER) || folder.path !== `/${folder.name}`) return false;
  const account = folder.accountId ? await messenger.accounts.get(folder.accountId, false) : null;
  return account?.type === "none";
}

async function junkFolderOf(accountId: string): Promise<Folder> {
  const found = await messenger.folders.query({ accountId, specialUse: ["junk"] } as messenger.folders._QueryQueryInfo).catch(() => []);
  const junk = (found as Folder[])[0];
  if (junk) return junk;
  const account = await messenger.accounts.get(accountId, false);
  const root = account?.rootFolder;
  if (!root) throw new Error("the account has no folders");
  const children = await messenger.folders.getSubFolders(root, false);
  const named = children.find((f) => f.name === "Junk");
  if (named) return named;
  return messenger.folders.create(root, "Junk");
}

/**
 * Enables the button only while exactly one mail from the add-on's own folders is shown (it would decline anything
 * else). Called from messageDisplay.onMessagesDisplayed; a failure leaves the button as it was (it still declines).
 */
export async function updateBlockButton(tabId: number, shown: readonly { folder?: Folder | undefined }[]): Promise<void> {
  const ours = shown.length === 1 && (await isAddonFolder(shown[0]!.folder));
  await (ours ? messenger.messageDisplayAction.enable(tabId) : messenger.messageDisplayAction.disable(tabId));
}

export function createBlockAction(deps: BlockActionDeps): { onClicked(tab: { id?: number | undefined }): Promise<BlockResult> } {
  const { log } = deps;
  const run = async (tab: { id?: number | undefined }): Promise<BlockResult> => {
    if (tab.id === undefined) return { status: "not-xmpp" };
    const header = await messenger.messageDisplay.getDisplayedMessage(tab.id);
    if (!header || !(await isAddonFolder(header.folder))) return { status: "not-xmpp" };
    const full = await messenger.messages.getFull(header.id, { decodeContent: false, decodeHeaders: true } as never);
    const jid = traceSender(full.headers?.["x-mail-over-xmpp"]);
    if (!jid) return { status: "not-xmpp" };
    const mode = await deps.block(jid);
    log.info("sender-blocked", { jid, mode });
    let movedToJunk = false;
    try {
      const junk = await junkFolderOf(header.folder!.accountId!);
      const raw = await messenger.messages.getRaw(header.id, { data_format: "File" });
      const file = raw instanceof File ? raw : new File([Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff)], "mail.eml", { type: "message/rfc822" });
      await messenger.messages.import(file, junk.id ?? junk, { read: true });
      await messenger.messages.delete([header.id], true);
      movedToJunk = true;
    } catch (error) {
      log.warn("blocked-mail-not-moved", { error });
    }
    return { status: "blocked", jid, mode, movedToJunk };
  };
  return {
    async onClicked(tab) {
      let result: BlockResult;
      try {
        result = await run(tab);
      } catch (error) {
        log.warn("block-failed", { error });
        result = { status: "failed", reason: error instanceof Error ? error.message.slice(0, 200) : "unknown error" };
      }
      deps.notify(result);
      return result;
    },
  };
}
