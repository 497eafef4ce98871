// Reads what the user is sending from Thunderbird's compose API into the plain OutgoingMail the MIME builder takes:
// recipients (contact and mailing-list references expanded), bodies, flags, reply headers, custom headers, and the
// attachment files byte for byte. The only module that knows the compose details' shape.
import { vcardEmailsAndJids } from "../core/vcard.js";
import type { OutgoingAttachment, OutgoingMail } from "../core/mime/compose-input.js";

type Recipient = messenger.compose.ComposeRecipient;

function formatContact(node: messenger.contacts.ContactNode): string[] {
  const vcard = (node.properties as { vCard?: unknown }).vCard;
  const emails = typeof vcard === "string" ? vcardEmailsAndJids(vcard).emails : [];
  const primary = emails[0] ?? (typeof node.properties.PrimaryEmail === "string" ? node.properties.PrimaryEmail : "");
  return primary ? [primary] : [];
}

/** Expands contact and mailing-list references to addresses; plain strings stay as Thunderbird wrote them. */
export async function expandRecipients(list: messenger.compose.ComposeRecipientList | undefined): Promise<string[]> {
  if (list === undefined) return [];
  const items: Recipient[] = Array.isArray(list) ? list : [list];
  const out: string[] = [];
  for (const item of items) {
    if (typeof item === "string") {
      if (item.trim()) out.push(item.trim());
    } else if (item.type === "contact") {
      out.push(...formatContact(await messenger.contacts.get(item.id)));
    } else {
      for (const member of await messenger.mailingLists.listMembers(item.id)) out.push(...formatContact(member));
    }
  }
  return out;
}

async function replyHeaders(relatedMessageId: number | undefined): Promise<{ inReplyTo?: string; references?: string[] }> {
  if (relatedMessageId === undefined) return {};
  const full = await messenger.messages.getFull(relatedMessageId);
  const id = full.headers?.["message-id"]?.[0]?.trim();
  if (!id) return {};
  const refs = (full.headers?.["references"]?.[0] ?? "").split(/\s+/).filter((r) => /^<[^<>\s]+>$/.test(r));
  return { inReplyTo: id, references: [...refs, id] };
}

/**
 * A lower bound of the message's size without reading it: its attachments, base64-encoded (4 octets per 3, before
 * line breaks), from the sizes Thunderbird lists. Read the same way as readAttachments, so it bounds what that reads.
 */
export async function attachmentsMinSize(tabId: number): Promise<number> {
  const list = await messenger.compose.listAttachments(tabId);
  let bytes = 0;
  for (const attachment of list) bytes += typeof attachment.size === "number" && attachment.size > 0 ? attachment.size : 0;
  return Math.ceil(bytes / 3) * 4;
}

async function readAttachments(tabId: number): Promise<OutgoingAttachment[]> {
  const list = await messenger.compose.listAttachments(tabId);
  const out: OutgoingAttachment[] = [];
  for (const attachment of list) {
    const file = await messenger.compose.getAttachmentFile(attachment.id);
    out.push({ name: attachment.name || file.name || "attachment", contentType: file.type || "application/octet-stream", data: new Uint8Array(await file.arrayBuffer()) });
  }
  return out;
}

export async function readOutgoingMail(tabId: number, details: messenger.compose.ComposeDetails): Promise<OutgoingMail> {
  const [from] = await expandRecipients(details.from);
  if (!from) throw new Error("the message has no sender");
  const [to, cc, bcc, replyTo, attachments, reply] = await Promise.all([
    expandRecipients(details.to),
    expandRecipients(details.cc),
    expandRecipients(details.bcc),
    expandRecipients(details.replyTo),
    readAttachments(tabId),
    replyHeaders(details.relatedMessageId),
  ]);
  const isPlainText = details.isPlainText ?? false;
  return {
    from,
    to,
    cc,
    bcc,
    replyTo,
    subject: details.subject ?? "",
    text: details.plainTextBody ?? "",
    ...(isPlainText || details.body === undefined ? {} : { html: details.body }),
    isPlainText,
    ...(details.deliveryFormat ? { deliveryFormat: details.deliveryFormat } : {}),
    ...(details.priority ? { priority: details.priority } : {}),
    ...(details.returnReceipt ? { returnReceipt: true } : {}),
    ...reply,
    customHeaders: (details.customHeaders ?? []).map((h) => ({ name: h.name, value: h.value })),
    attachments,
  };
}
