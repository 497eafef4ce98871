// A Send in Thunderbird's terms and the core's: compose.onBeforeSend's (tab, details) → SendRequest for
// core/send-flow, and its SendResult → what onBeforeSend returns.
import type { OutgoingMail } from "../core/mime/compose-input.js";
import type { SendRequest, SendResult } from "../core/send-flow.js";
import type { AddressIndexSnapshot } from "./address-index.js";
import { parseSingleMailbox } from "../core/mime/address.js";
import { attachmentsMinSize, expandRecipients, readOutgoingMail } from "./compose-reader.js";

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
    minSize: () => attachmentsMinSize(tabId),
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
