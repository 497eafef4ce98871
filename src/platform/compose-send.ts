// Thunderbird's side of a Send: turns compose.onBeforeSend's (tab, details) into a SendRequest for the core flow,
// turns the SendResult back into what onBeforeSend returns, and, after an XMPP-only delivery, does what Thunderbird
// would have done after sending: a copy in the Sent folder, the autosaved draft removed, the window closed.
import type { Logger } from "../core/log.js";
import type { OutgoingMail } from "../core/mime/compose-input.js";
import type { DeliveryRecord, SendFlow, SendRequest, SendResult } from "../core/send-flow.js";
import type { AddressIndexSnapshot } from "./address-index.js";
import { parseSingleMailbox } from "../core/mime/address.js";
import { expandRecipients, readOutgoingMail } from "./compose-reader.js";

type Details = messenger.compose.ComposeDetails;
type RecipientList = messenger.compose.ComposeRecipientList | undefined;

/** "Name <ListName>" (no @ inside the brackets): how Thunderbird writes a mailing list into a recipient field. */
const LIST_FORM = /^(.*)<([^<>@]+)>\s*$/;

/** Recipients as plain address strings: plain strings stay, lists are expanded from the in-memory index when possible. */
async function plainRecipients(list: RecipientList, index: AddressIndexSnapshot): Promise<string[]> {
  if (list === undefined) return [];
  const items = Array.isArray(list) ? list : [list];
  // Contact and mailing-list references need the address book: only then is there anything to wait for.
  const strings = items.every((i) => typeof i === "string") ? (items as string[]).map((s) => s.trim()).filter((s) => s !== "") : await expandRecipients(list);
  return strings.flatMap((s) => {
    const m = LIST_FORM.exec(s);
    const members = m ? index.listMembers.get(m[2]!.trim().toLowerCase()) : undefined;
    return members && members.length > 0 ? [...members] : [s];
  });
}

/**
 * The addr-spec the mail is sent from: the From field as the compose window has it (the identity, or what the user
 * typed over it), else the identity's address. Undefined (the Send then goes by SMTP) when unknown, or when the From
 * is not exactly one mailbox: the recipient could not verify such a From either.
 */
async function fromAddress(details: Details): Promise<string | undefined> {
  const from = typeof details.from === "string" ? details.from.trim() : "";
  if (from !== "") return parseSingleMailbox(from)?.address;
  return details.identityId === undefined ? undefined : identityAddress(details.identityId);
}

async function identityAddress(identityId: string): Promise<string | undefined> {
  const identity = await messenger.identities.get(identityId).catch(() => null);
  return identity?.email ?? undefined;
}

function hasNewsgroups(details: Details): boolean {
  const n = details.newsgroups;
  return Array.isArray(n) ? n.some((g) => g.trim() !== "") : typeof n === "string" && n.trim() !== "";
}

export async function toSendRequest(
  tabId: number,
  details: Details,
  index: AddressIndexSnapshot,
  switchedOff: boolean,
): Promise<SendRequest> {
  const [to, cc, bcc, from] = await Promise.all([
    plainRecipients(details.to, index),
    plainRecipients(details.cc, index),
    plainRecipients(details.bcc, index),
    fromAddress(details),
  ]);
  const encryption = details.selectedEncryptionTechnology ?? null;
  return {
    to,
    cc,
    bcc,
    hasNewsgroups: hasNewsgroups(details),
    encryption,
    xmppSwitchedOff: switchedOff,
    ...(from !== undefined ? { from } : {}),
    customHeaders: (details.customHeaders ?? []).map((h) => ({ name: h.name, value: h.value })),
    ...(details.subject !== undefined ? { subject: details.subject } : {}),
    // Thunderbird puts the mail into the Outbox instead of sending when it works offline; navigator.onLine follows
    // that state. (An explicit "Send Later" press is not visible to onBeforeSend: compose.getComposeState reports
    // canSendNow=false for every Send in progress, and the mode only reaches onAfterSend.)
    mode: async () => (globalThis.navigator?.onLine === false ? "sendLater" : "sendNow"),
    readMail: async (): Promise<OutgoingMail> => ({ ...(await readOutgoingMail(tabId, details)), to, cc, bcc }),
  };
}

/** What onBeforeSend returns for a result: {} leaves Thunderbird's send exactly as it was. */
export function toBeforeSendReturn(result: SendResult): { cancel?: boolean; details?: Details } {
  if (result.kind === "cancel") return { cancel: true };
  const details: Details = {};
  if (result.recipients) {
    details.to = result.recipients.to;
    details.cc = result.recipients.cc;
    details.bcc = result.recipients.bcc;
  }
  if (result.customHeaders) details.customHeaders = result.customHeaders;
  return Object.keys(details).length > 0 ? { details } : {};
}

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

async function fileSentCopy(raw: Uint8Array, details: Details, log: Logger): Promise<string | null> {
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

export interface ComposeSendDeps {
  readonly flow: SendFlow;
  readonly log: Logger;
  /** Resolves once the in-memory resolution sources are loaded (at once after start). */
  ready(): Promise<void>;
  index(): AddressIndexSnapshot;
  isSwitchedOff(tabId: number): boolean;
  /** Localized "Delivered over XMPP to …" notification. */
  notify(delivered: readonly string[]): void;
}

export function createComposeSend(deps: ComposeSendDeps) {
  const { log } = deps;
  /** Drafts Thunderbird saved for a compose tab (autosave or explicit): removed when that mail went over XMPP. */
  const drafts = new Map<number, Set<number>>();

  async function complete(tabId: number, details: Details, result: Extract<SendResult, { kind: "cancel" }>): Promise<void> {
    // Listen for Thunderbird's report on the cancelled send from now on (this runs before onBeforeSend answers): it
    // may come before the Sent copy is filed. Only while such a report is due: a registered compose.onAfterSend
    // listener makes every send of Thunderbird 153 ~65 ms slower (measured), also the ones this add-on leaves alone.
    const aborted = new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), 3_000);
      const listener = (tab: messenger.tabs.Tab) => {
        if (tab.id === tabId) done();
      };
      const done = () => {
        clearTimeout(timer);
        messenger.compose.onAfterSend.removeListener(listener);
        resolve();
      };
      messenger.compose.onAfterSend.addListener(listener);
    });
    try {
      await finish(tabId, details, result, aborted);
    } catch (error) {
      log.error("after-xmpp-send-failed", { error });
    }
  }

  async function finish(tabId: number, details: Details, result: Extract<SendResult, { kind: "cancel" }>, aborted: Promise<void>): Promise<void> {
    try {
      const where = await fileSentCopy(result.sentCopy, details, log);
      log.info("sent-copy-filed", { folder: where ?? "(none: no Fcc)", messageId: result.messageId });
    } catch (error) {
      log.error("sent-copy-failed", { error, messageId: result.messageId });
    }
    const draftIds = [...(drafts.get(tabId) ?? [])];
    if (details.type === "draft" && details.relatedMessageId !== undefined) draftIds.push(details.relatedMessageId);
    if (draftIds.length > 0) {
      await messenger.messages.delete(draftIds, true).then(
        () => log.info("draft-deleted", { count: draftIds.length }),
        (error: unknown) => log.warn("draft-delete-failed", { error }),
      );
    }
    drafts.delete(tabId);
    // Close the window only once Thunderbird has finished with the cancelled send (onAfterSend), or after 3 s.
    await aborted;
    await messenger.tabs.remove(tabId).catch((error: unknown) => log.warn("compose-close-failed", { error }));
    log.info("compose-closed", { tabId });
    deps.notify(result.delivered);
  }

  return {
    /** compose.onBeforeSend listener. Never rejects: on any error Thunderbird sends as it would have. */
    async onBeforeSend(tab: messenger.tabs.Tab, details: Details): Promise<{ cancel?: boolean; details?: Details }> {
      const started = performance.now();
      const tabId = tab.id;
      if (tabId === undefined) return {};
      let answer: { cancel?: boolean; details?: Details } = {};
      try {
        await deps.ready();
        const request = await toSendRequest(tabId, details, deps.index(), deps.isSwitchedOff(tabId));
        const result = await deps.flow.handle(request);
        if (result.kind === "cancel") void complete(tabId, details, result);
        answer = toBeforeSendReturn(result);
      } catch (error) {
        log.error("before-send-failed", { error });
      }
      // The whole time Thunderbird's Send was held by this listener; logged after the answer is on its way.
      const ms = Math.round((performance.now() - started) * 1000) / 1000;
      setTimeout(() => log.info("send-held", { ms, cancel: answer.cancel === true, rewrite: answer.details !== undefined }), 0);
      return answer;
    },
    /** compose.onAfterSave listener: remembers the drafts of each compose tab. */
    onAfterSave(tab: messenger.tabs.Tab, info: { mode: string; messages: messenger.messages.MessageHeader[] }): void {
      if (tab.id === undefined || (info.mode !== "autoSave" && info.mode !== "draft")) return;
      const set = drafts.get(tab.id) ?? new Set<number>();
      for (const m of info.messages) set.add(m.id);
      drafts.set(tab.id, set);
    },
    /** tabs.onRemoved listener. */
    onTabRemoved(tabId: number): void {
      drafts.delete(tabId);
    },
  };
}

/**
 * The delivery log in storage.local: newest last, bounded. Entries are written in batches a moment after the send,
 * so that the storage write does not compete with Thunderbird's own SMTP send (measured: ~20 ms when it did).
 */
export function createDeliveryLog(max = 500, delayMs = 2_000) {
  const KEY = "deliveryLog";
  const pending: DeliveryRecord[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let queue: Promise<void> = Promise.resolve();
  const flush = () => {
    timer = null;
    const batch = pending.splice(0);
    queue = queue
      .then(async () => {
        const got = await messenger.storage.local.get(KEY);
        const list = Array.isArray(got[KEY]) ? (got[KEY] as unknown[]) : [];
        list.push(...batch);
        await messenger.storage.local.set({ [KEY]: list.slice(Math.max(0, list.length - max)) });
      })
      .catch(() => undefined);
    return queue;
  };
  return {
    record(entry: DeliveryRecord): void {
      pending.push(entry);
      timer ??= setTimeout(flush, delayMs);
    },
    async entries(): Promise<DeliveryRecord[]> {
      if (timer !== null) {
        clearTimeout(timer);
        await flush();
      }
      await queue;
      const got = await messenger.storage.local.get(KEY);
      return Array.isArray(got[KEY]) ? (got[KEY] as DeliveryRecord[]) : [];
    },
  };
}
