// One mail, the copies it needs over XMPP: every To/Cc recipient shares a copy without any Bcc header; each Bcc
// recipient gets its own copy whose Bcc header names only itself. Built once per distinct header set.
import { buildMessage, parseAddressList } from "./mime/build.js";
import type { OutgoingMail } from "./mime/compose-input.js";

export interface XmppRecipient {
  /** The address as it stands in the mail (To, Cc or Bcc). */
  readonly address: string;
  readonly jid: string;
}

export interface MailCopyPlan {
  readonly jid: string;
  readonly address: string;
  readonly raw: Uint8Array;
}

function addrSpec(address: string): string {
  const [first] = parseAddressList(address);
  if (!first) throw new Error(`not an address: ${address}`);
  return first.address.toLowerCase();
}

export function buildCopies(
  mail: OutgoingMail,
  recipients: readonly XmppRecipient[],
  options: { readonly date: Date; readonly messageId: string; readonly extraHeaders?: ReadonlyArray<{ name: string; value: string }> },
): MailCopyPlan[] {
  const bcc = new Map(mail.bcc.map((b) => [addrSpec(b), b]));
  const visible = new Set([...mail.to, ...mail.cc].map(addrSpec));
  let shared: Uint8Array | null = null;
  const base = { date: options.date, messageId: options.messageId, ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}) };
  return recipients.map((r) => {
    const spec = addrSpec(r.address);
    const bccEntry = bcc.get(spec);
    // Someone in To/Cc and also Bcc has nothing hidden: the shared copy.
    if (bccEntry !== undefined && !visible.has(spec)) {
      return { jid: r.jid, address: r.address, raw: buildMessage(mail, { ...base, bccVisible: [bccEntry] }) };
    }
    shared ??= buildMessage(mail, base);
    return { jid: r.jid, address: r.address, raw: shared };
  });
}
