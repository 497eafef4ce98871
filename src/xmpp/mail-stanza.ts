// The wire format of docs/protocol.md: building and strictly parsing mail stanzas, receipts and rejections.
import xml, { type Element } from "@xmpp/xml";
import jidParse from "@xmpp/jid";
import { NS_MAIL, NS_MAIL1 } from "../core/protocol.js";
import { parseMailV1, type SealedMail } from "./mail-stanza-v1.js";

export const NS_RECEIPTS = "urn:xmpp:receipts";
const NS_SID = "urn:xmpp:sid:0";
export const NS_HINTS = "urn:xmpp:hints";
export const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

/** Receiver-side limits; every value from the network is checked against them before use. */
export interface MailLimits {
  /** Largest RFC 5322 message accepted, in octets. */
  readonly maxMailBytes: number;
}
export const DEFAULT_MAIL_LIMITS: MailLimits = { maxMailBytes: 25 * 1024 * 1024 };

export interface ExternalRef {
  readonly url: string;
  /** Ciphertext size in octets. */
  readonly size: number;
  readonly cipher: "aes-256-gcm";
  readonly key: string;
  readonly iv: string;
}

export interface MailEnvelope {
  /** Bare recipient JID. */
  readonly to: string;
  /** Stanza id = origin-id, fresh per recipient copy (reused on retransmission). */
  readonly id: string;
  readonly subject: string;
  /** Readable text for ordinary XMPP clients. */
  readonly fallbackBody: string;
  /** RFC 5322 size in octets and base64 SHA-256 of those octets. */
  readonly size: number;
  readonly sha256: string;
  readonly payload: { readonly inline: string } | { readonly external: ExternalRef };
}

export function buildMailStanza(m: MailEnvelope): Element {
  const payload =
    "inline" in m.payload
      ? xml("inline", {}, m.payload.inline)
      : xml("external", {
          url: m.payload.external.url,
          size: String(m.payload.external.size),
          cipher: m.payload.external.cipher,
          key: m.payload.external.key,
          iv: m.payload.external.iv,
        });
  return xml(
    "message",
    { type: "normal", to: m.to, id: m.id },
    xml("subject", {}, m.subject),
    xml("body", {}, m.fallbackBody),
    xml("mail", { xmlns: NS_MAIL, size: String(m.size), sha256: m.sha256 }, payload),
    xml("origin-id", { xmlns: NS_SID, id: m.id }),
    xml("store", { xmlns: NS_HINTS }),
    xml("request", { xmlns: NS_RECEIPTS }),
  );
}

/**
 * The inline stanza's size as the inline limit counts it (docs/protocol.md §3): octets of the `<message/>` element's
 * UTF-8 serialisation as this client writes it to the stream (XML-escaped subject and body included; without the
 * `from` the server adds and without stream framing), for an inline payload of `size` octets (base64 is ASCII and
 * needs no escaping, so only its length is added).
 */
export function inlineStanzaOctets(m: Omit<MailEnvelope, "payload">): number {
  const b64 = 4 * Math.ceil(m.size / 3);
  // One placeholder character stands for the payload (an empty <inline/> would be written self-closed).
  const shell = buildMailStanza({ ...m, payload: { inline: b64 === 0 ? "" : "A" } }).toString();
  return new TextEncoder().encode(shell).length + Math.max(0, b64 - 1);
}

export type MailRejectReason = "malformed" | "too-large" | "hash-mismatch" | "download-failed" | "decrypt-failed" | "not-mime" | "policy" | "e2e-failed";

export interface IncomingMail {
  /** Bare JID of the sender, as stamped by the servers. */
  readonly from: string;
  readonly fromFull: string;
  readonly id: string;
  readonly originId: string;
  readonly size: number;
  /** Version 0: base64 SHA-256 of the mail. Version 1: empty (the hash travels sealed, if at all). */
  readonly sha256: string;
  /** `sealed`: a version 1 payload (docs/protocol.md §10.4), opened by the receiver's keyring. */
  readonly payload: { readonly inline: string } | { readonly external: ExternalRef } | { readonly sealed: SealedMail };
}

export type ParseResult =
  | { readonly ok: true; readonly mail: IncomingMail }
  | { readonly ok: false; readonly ignore: true }
  | { readonly ok: false; readonly ignore: false; readonly reason: MailRejectReason; readonly detail: string; readonly from?: string; readonly id?: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const SHA256_B64 = /^[A-Za-z0-9+/]{43}=$/;
/** base64 of the 32-octet AES key and of the 12-octet IV. */
const KEY_B64 = /^[A-Za-z0-9+/]{43}=$/;
const IV_B64 = /^[A-Za-z0-9+/]{16}$/;
const ID = /^[\x21-\x7e]{1,128}$/;

function bad(reason: MailRejectReason, detail: string, from?: string, id?: string): ParseResult {
  return { ok: false, ignore: false, reason, detail, ...(from ? { from } : {}), ...(id ? { id } : {}) };
}

function parseSize(value: string | undefined): number | null {
  if (value === undefined || !/^\d{1,12}$/.test(value)) return null;
  return Number(value);
}

/**
 * Strictly parses a received message. Anything without our element is ignored (`ignore: true`); anything with it
 * that is not exactly right is a rejection with a reason, so the sender can fall back at once.
 */
export function parseMailStanza(stanza: Element, limits: MailLimits = DEFAULT_MAIL_LIMITS): ParseResult {
  if (!stanza.is("message")) return { ok: false, ignore: true };
  const type = stanza.attrs.type ?? "normal";
  if (type === "error" || type === "groupchat") return { ok: false, ignore: true };
  const mails = stanza.getChildren("mail", NS_MAIL);
  const sealed = stanza.getChildren("mail", NS_MAIL1);
  if (mails.length === 0 && sealed.length === 0) return { ok: false, ignore: true };
  const fromAttr = stanza.attrs.from;
  if (!fromAttr) return bad("malformed", "no sender");
  let from: string;
  try {
    const j = jidParse(fromAttr);
    if (!j.local) return bad("malformed", "sender is not an account");
    from = j.bare().toString();
  } catch {
    return bad("malformed", "sender JID unparsable");
  }
  const id = stanza.attrs.id;
  const originId = stanza.getChild("origin-id", NS_SID)?.attrs.id ?? id;
  if (!id || !ID.test(id) || !originId || !ID.test(originId)) return bad("malformed", "missing or bad id", from);
  if (mails.length + sealed.length !== 1) return bad("malformed", "more than one mail element", from, id);
  if (sealed.length === 1) {
    const v1 = parseMailV1(sealed[0]!, limits.maxMailBytes);
    if (!v1.ok) return v1.detail.startsWith("too-large") ? bad("too-large", v1.detail, from, id) : bad("malformed", v1.detail, from, id);
    return { ok: true, mail: { from, fromFull: fromAttr, id, originId, size: v1.mail.size, sha256: "", payload: { sealed: v1.mail } } };
  }
  const mail = mails[0]!;
  const size = parseSize(mail.attrs.size);
  const sha256 = mail.attrs.sha256 ?? "";
  if (size === null) return bad("malformed", "bad size", from, id);
  if (size > limits.maxMailBytes) return bad("too-large", `mail of ${size} octets exceeds ${limits.maxMailBytes}`, from, id);
  if (!SHA256_B64.test(sha256)) return bad("malformed", "bad sha256", from, id);
  const children = mail.getChildElements();
  if (children.length !== 1) return bad("malformed", "mail must hold exactly one payload", from, id);
  const p = children[0]!;
  const common = { from, fromFull: fromAttr, id, originId, size, sha256 };
  if (p.name === "inline") {
    const text = p.text();
    // base64 of `size` octets is exactly 4*ceil(size/3) characters: check before anyone decodes it.
    if (text.length !== 4 * Math.ceil(size / 3) || !BASE64.test(text)) return bad("malformed", "inline payload is not base64 of the stated size", from, id);
    return { ok: true, mail: { ...common, payload: { inline: text } } };
  }
  if (p.name === "external") {
    const { url, cipher, key, iv } = p.attrs;
    const extSize = parseSize(p.attrs.size);
    if (!url || url.length > 2048 || cipher !== "aes-256-gcm" || !key || !iv || extSize === null) {
      return bad("malformed", "incomplete external reference", from, id);
    }
    if (extSize !== size + 16) return bad("malformed", "ciphertext size does not match", from, id);
    // Checked here, so that nothing is fetched for a payload that could not be decrypted anyway.
    if (!KEY_B64.test(key) || !IV_B64.test(iv)) return bad("malformed", "external key or IV is not base64 of 32 and 12 octets", from, id);
    // Only that it is a URL: where it may point is the receiver's download policy (src/core/url-policy.ts), whose
    // refusals answer "download-failed" like every other failure of an external payload (docs/protocol.md §4).
    if (!URL.canParse(url)) return bad("malformed", "external URL unparsable", from, id);
    return { ok: true, mail: { ...common, payload: { external: { url, size: extSize, cipher, key, iv } } } };
  }
  return bad("malformed", `unknown payload <${p.name}>`, from, id);
}

/**
 * The receipt that means "filed" (XEP-0184 plus our marker), for the mail stanza whose `id` attribute is `id`. With a
 * XEP-0334 store hint: it has no body, and a server may discard a bodyless message instead of keeping it for an
 * offline recipient (ejabberd with `store_empty_body: false`; both servers as shipped keep it), so that a sender that
 * went offline still learns the outcome wherever it is (tests/integration/offline-answers.test.ts).
 */
export function buildFiledReceipt(to: string, id: string): Element {
  return xml(
    "message",
    { to, id: `r-${id}` },
    xml("received", { xmlns: NS_RECEIPTS, id }),
    xml("filed", { xmlns: NS_MAIL, id }),
    xml("store", { xmlns: NS_HINTS }),
  );
}

/** The rejection of the mail stanza whose `id` attribute is `id`; stored like the receipt (see above). */
export function buildRejection(to: string, id: string, reason: MailRejectReason): Element {
  return xml("message", { to, id: `x-${id}` }, xml("rejected", { xmlns: NS_MAIL, id, reason }), xml("store", { xmlns: NS_HINTS }));
}

export type ReceiptKind =
  | { readonly kind: "filed"; readonly id: string; readonly from: string }
  | { readonly kind: "rejected"; readonly id: string; readonly from: string; readonly reason: string }
  | { readonly kind: "bounced"; readonly id: string; readonly from: string; readonly condition: string }
  | { readonly kind: "plain-receipt"; readonly id: string; readonly from: string };

/** Classifies what a sender may get back for a mail it sent. null = not about our mail. */
export function parseDeliveryReport(stanza: Element): ReceiptKind | null {
  if (!stanza.is("message")) return null;
  const fromAttr = stanza.attrs.from;
  if (!fromAttr) return null;
  let from: string;
  try {
    from = jidParse(fromAttr).bare().toString();
  } catch {
    return null;
  }
  if (stanza.attrs.type === "error") {
    const id = stanza.attrs.id;
    const condition = stanza.getChild("error")?.getChildElements().find((c) => c.getNS() === NS_STANZAS)?.name ?? "undefined-condition";
    return id ? { kind: "bounced", id, from, condition } : null;
  }
  const filed = stanza.getChild("filed", NS_MAIL);
  if (filed?.attrs.id) return { kind: "filed", id: filed.attrs.id, from };
  const rejected = stanza.getChild("rejected", NS_MAIL);
  if (rejected?.attrs.id) return { kind: "rejected", id: rejected.attrs.id, from, reason: (rejected.attrs.reason ?? "unspecified").slice(0, 40) };
  const received = stanza.getChild("received", NS_RECEIPTS);
  if (received?.attrs.id) return { kind: "plain-receipt", id: received.attrs.id, from };
  return null;
}

/** The body an ordinary XMPP client shows: who, to whom, what, and a note about attachments. */
export function fallbackBody(info: { from: string; to: readonly string[]; subject: string; text: string; attachmentNames: readonly string[] }): string {
  const text = info.text.length > 4000 ? `${info.text.slice(0, 4000)}\n[…]` : info.text;
  const note =
    info.attachmentNames.length === 0
      ? "[Sent as e-mail over XMPP.]"
      : `[Sent as e-mail over XMPP. ${info.attachmentNames.length} attachment${info.attachmentNames.length === 1 ? "" : "s"} (${info.attachmentNames.join(", ")}) ${info.attachmentNames.length === 1 ? "is" : "are"} only in the e-mail: open it in Thunderbird with Mail over XMPP.]`;
  return `E-mail from ${info.from}\nTo: ${info.to.join(", ")}\nSubject: ${info.subject}\n\n${text}\n\n${note}`;
}
