// RFC 5322 / MIME message builder for mail delivered over XMPP. Our own code on purpose (see
// docs/mime.md): browser-safe (Uint8Array, TextEncoder, crypto.getRandomValues), no Node
// built-ins, no dependency.
import { addressListAtoms, mailboxAtoms, parseAndValidate, type ParsedAddress } from "./address.js";
import { CRLF, base64Body, encodeText, utf8 } from "./codec.js";
import type { OutgoingAttachment, OutgoingMail } from "./compose-input.js";
import {
  MAX_LINE,
  assertHeaderValue,
  assertSingleLine,
  foldAtoms,
  foldUnstructured,
  isFieldName,
  legacyNameAtoms,
  parameterAtoms,
} from "./header.js";

export { parseAddressList } from "./address.js";
export type { ParsedAddress } from "./address.js";
export type { OutgoingAttachment, OutgoingMail } from "./compose-input.js";

export interface BuildOptions {
  readonly date: Date;
  /** "<...@domain>", e.g. from newMessageId. */
  readonly messageId: string;
  /** Bcc header content for a Bcc recipient's own copy: at most that recipient, never others. */
  readonly bccVisible?: readonly string[];
  /** The sender's own copy (Sent folder): the Bcc header lists every Bcc recipient, as Thunderbird's Sent copy does. */
  readonly senderCopy?: boolean;
  /**
   * Headers the add-on itself adds (e.g. RFC 7259 Jabber-ID). Any valid field name except the
   * ones this builder writes; single-line values.
   */
  readonly extraHeaders?: ReadonlyArray<{ name: string; value: string }>;
}

/** Header names the builder owns: neither custom nor extra headers may set them. */
const RESERVED = new Set(
  [
    "date",
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "mime-version",
    "x-priority",
    "disposition-notification-to",
    "return-path",
    "received",
  ].map((s) => s.toLowerCase()),
);

const PRIORITY: Record<NonNullable<OutgoingMail["priority"]>, string | undefined> = {
  highest: "1 (Highest)",
  high: "2 (High)",
  normal: undefined, // the default: no header, as Thunderbird does
  low: "4 (Low)",
  lowest: "5 (Lowest)",
};

const MSG_ID = /^<[!-;=?-~]+@[!-;=?-~]+>$/; // printable ASCII without "<" ">" and whitespace
const MSG_ID_LOOSE = /^<[!-;=?-~]+>$/;

/** Returns "<id>" for "<id>" or a bare "id"; throws on anything that is not one msg-id. */
function normalizeMsgId(value: string, what: string): string {
  assertSingleLine(value, what);
  const v = value.trim();
  const withBrackets = v.startsWith("<") ? v : `<${v}>`;
  if (!MSG_ID_LOOSE.test(withBrackets) || withBrackets.length > 250) {
    throw new Error(`${what}: not a Message-ID ${JSON.stringify(value)}`);
  }
  return withBrackets;
}

/**
 * A new Message-ID "<uuid@domain>" from 16 random bytes (UUID v4 layout). A Unicode domain is
 * converted to its ASCII (punycode) form; anything that is not a host name throws.
 */
export function newMessageId(domain: string, random: () => Uint8Array = () => crypto.getRandomValues(new Uint8Array(16))): string {
  const host = asciiHost(domain);
  const bytes = random();
  if (!(bytes instanceof Uint8Array) || bytes.length < 16) throw new Error("newMessageId: random() must return at least 16 bytes");
  const b = Uint8Array.from(bytes.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return `<${uuid}@${host}>`;
}

function asciiHost(domain: string): string {
  const d = domain.trim().replace(/^@/, "");
  if (d === "" || /[\s/?#@\\:<>[\]]/.test(d)) throw new Error(`newMessageId: not a domain name ${JSON.stringify(domain)}`);
  let host = d;
  if (/[^\x00-\x7f]/.test(d)) {
    try {
      host = new URL(`http://${d}/`).hostname; // IDNA → xn--…, in browsers and Node alike
    } catch {
      throw new Error(`newMessageId: not a domain name ${JSON.stringify(domain)}`);
    }
  }
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host) || host.length > 253) {
    throw new Error(`newMessageId: not a domain name ${JSON.stringify(domain)}`);
  }
  return host;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 5322 §3.3 date-time in the local time zone, e.g. "Tue, 03 Mar 2026 14:05:09 +0100". */
function formatDate(date: Date): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new Error("BuildOptions.date is not a valid Date");
  const p2 = (n: number) => String(n).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return (
    `${DAYS[date.getDay()]}, ${p2(date.getDate())} ${MONTHS[date.getMonth()]} ${date.getFullYear()} ` +
    `${p2(date.getHours())}:${p2(date.getMinutes())}:${p2(date.getSeconds())} ${sign}${p2(Math.floor(abs / 60))}${p2(abs % 60)}`
  );
}

/** A leaf or multipart entity: header lines (already folded) and a body (ASCII/UTF-8, CRLF). */
interface Entity {
  readonly headers: string[];
  readonly body: string;
  /** Holds unencoded 8-bit data (a forwarded UTF-8 message): enclosing multiparts say 8bit. */
  readonly eightBit?: boolean;
}

function randomBoundary(): string {
  const b = crypto.getRandomValues(new Uint8Array(15));
  // "=_" cannot occur in base64 or quoted-printable output (RFC 2045 §6.7 note / RFC 2046 §5.1.1).
  return "=_mox_" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function multipart(subtype: "mixed" | "alternative", parts: readonly Entity[]): Entity {
  let boundary = randomBoundary();
  const rendered = parts.map(renderEntity);
  while (rendered.some((r) => r.includes("--" + boundary))) boundary = randomBoundary();
  const body =
    (subtype === "mixed" ? "This is a multi-part message in MIME format." + CRLF : "") +
    rendered.map((r) => `--${boundary}${CRLF}${r}${CRLF}`).join("") +
    `--${boundary}--${CRLF}`;
  const eightBit = parts.some((p) => p.eightBit === true);
  const headers = [foldAtoms("Content-Type", [`multipart/${subtype};`, `boundary="${boundary}"`])];
  // RFC 2045 §6.4: a composite entity is labelled with the widest encoding of its parts.
  if (eightBit) headers.push("Content-Transfer-Encoding: 8bit");
  return { headers, body, eightBit };
}

function renderEntity(e: Entity): string {
  return e.headers.join(CRLF) + CRLF + CRLF + e.body;
}

function textEntity(subtype: "plain" | "html", text: string): Entity {
  const enc = encodeText(text);
  return {
    headers: [
      foldAtoms("Content-Type", [`text/${subtype};`, "charset=UTF-8"]),
      `Content-Transfer-Encoding: ${enc.encoding}`,
    ],
    body: enc.body,
  };
}

const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+$/;

/**
 * A message/rfc822 (forwarded mail) part may not be base64 (RFC 2046 §5.2.1). We keep the type
 * and send it as 7bit/8bit when its bytes allow that byte-exactly (UTF-8, CRLF-only, no
 * controls, lines ≤ 998 octets); otherwise it goes as application/octet-stream in base64.
 */
function asIdentityEncoded(data: Uint8Array): { text: string; encoding: "7bit" | "8bit" } | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(data);
  } catch {
    return undefined;
  }
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text)) return undefined;
  if (/\r(?!\n)|(?<!\r)\n/.test(text)) return undefined;
  for (const line of text.split(CRLF)) if (utf8(line).length > MAX_LINE) return undefined;
  return { text, encoding: /^[\x00-\x7f]*$/.test(text) ? "7bit" : "8bit" };
}

function attachmentEntity(att: OutgoingAttachment, index: number): Entity {
  const what = `Attachment ${index + 1}`;
  if (!(att.data instanceof Uint8Array)) throw new Error(`${what}: data must be a Uint8Array`);
  if (typeof att.name !== "string") throw new Error(`${what}: name must be a string`);
  const raw = typeof att.contentType === "string" ? (att.contentType.split(";")[0] ?? "").trim() : "";
  let type = MEDIA_TYPE.test(raw) ? raw : "application/octet-stream";
  const major = type.split("/")[0]!.toLowerCase();
  let encoding: "base64" | "7bit" | "8bit" = "base64";
  let body: string | undefined;
  if (major === "message") {
    const identity = asIdentityEncoded(att.data);
    if (identity !== undefined) {
      encoding = identity.encoding;
      body = identity.text;
    } else {
      type = "application/octet-stream";
    }
  } else if (major === "multipart") {
    type = "application/octet-stream";
  }
  const named = att.name !== "";
  const ctAtoms = named ? [`${type};`, ...legacyNameAtoms("name", att.name)] : [type];
  const cdAtoms = named ? ["attachment;", ...joinParams(parameterAtoms("filename", att.name))] : ["attachment"];
  return {
    headers: [
      foldAtoms("Content-Type", ctAtoms),
      foldAtoms("Content-Disposition", cdAtoms),
      `Content-Transfer-Encoding: ${encoding}`,
    ],
    body: body ?? base64Body(att.data),
    eightBit: encoding === "8bit",
  };
}

/** Adds the ";" between parameter sections. */
function joinParams(atoms: readonly string[]): string[] {
  return atoms.map((a, i) => (i < atoms.length - 1 ? a + ";" : a));
}

function bodyEntity(mail: OutgoingMail): Entity {
  if (typeof mail.text !== "string") throw new Error("OutgoingMail.text must be a string");
  const format = mail.deliveryFormat ?? "auto";
  const hasHtml = !mail.isPlainText && typeof mail.html === "string";
  if (!hasHtml || format === "plaintext") return textEntity("plain", mail.text);
  if (format === "html") return textEntity("html", mail.html!);
  return multipart("alternative", [textEntity("plain", mail.text), textEntity("html", mail.html!)]);
}

function sameAddress(a: string, b: string): boolean {
  // The domain is case-insensitive; the local part is compared as given (RFC 5321 §2.4).
  const ia = a.lastIndexOf("@");
  const ib = b.lastIndexOf("@");
  return a.slice(0, ia) === b.slice(0, ib) && a.slice(ia).toLowerCase() === b.slice(ib).toLowerCase();
}

function validatedHeader(h: { name: string; value: string }, what: string, onlyXOrList: boolean): { name: string; value: string } {
  if (typeof h?.name !== "string" || typeof h.value !== "string") throw new Error(`${what}: name and value must be strings`);
  assertSingleLine(h.name, `${what} name`);
  if (!isFieldName(h.name)) throw new Error(`${what}: invalid header name ${JSON.stringify(h.name)}`);
  if (onlyXOrList && !/^(?:X|List)-[A-Za-z0-9][A-Za-z0-9_.-]*$/i.test(h.name)) {
    throw new Error(`${what}: only X-* and List-* header names are allowed, not ${JSON.stringify(h.name)}`);
  }
  const lower = h.name.toLowerCase();
  if (RESERVED.has(lower) || lower.startsWith("content-")) {
    throw new Error(`${what}: ${h.name} is written by the message builder and cannot be set`);
  }
  assertHeaderValue(h.name, h.value);
  return h;
}

/**
 * Builds the RFC 5322 message (CRLF line ends, lines ≤ 998 octets, header lines folded at 78
 * where the content allows). A To/Cc copy carries no Bcc header; a Bcc recipient's copy may
 * carry only that recipient (`bccVisible`). Throws an Error with a clear message on
 * malformed input (CR/LF in subject, addresses or headers; empty From; bad header names).
 */
export function buildMessage(mail: OutgoingMail, options: BuildOptions): Uint8Array {
  if (typeof mail.from !== "string" || mail.from.trim() === "") throw new Error("From is empty");
  const from = parseAndValidate([mail.from], "From");
  if (from.length !== 1) throw new Error(`From must be exactly one address, got ${from.length}: ${JSON.stringify(mail.from)}`);
  const sender = from[0]!;
  const to = parseAndValidate(mail.to, "To");
  const cc = parseAndValidate(mail.cc, "Cc");
  const bcc = parseAndValidate(mail.bcc, "Bcc");
  const replyTo = parseAndValidate(mail.replyTo, "Reply-To");
  if (typeof mail.subject !== "string") throw new Error("Subject must be a string");
  assertSingleLine(mail.subject, "Subject");

  let bccVisible: ParsedAddress[] = [];
  if (options.senderCopy === true) {
    if (options.bccVisible !== undefined) throw new Error("senderCopy and bccVisible exclude each other");
    bccVisible = bcc;
  } else if (options.bccVisible !== undefined) {
    bccVisible = parseAndValidate(options.bccVisible, "bccVisible");
    if (bccVisible.length > 1) throw new Error("bccVisible may name at most one recipient (the copy's own)");
    for (const v of bccVisible) {
      if (!bcc.some((b) => sameAddress(b.address, v.address))) {
        throw new Error(`bccVisible ${JSON.stringify(v.address)} is not a Bcc recipient of this mail`);
      }
    }
  }

  const messageId = typeof options.messageId === "string" ? options.messageId.trim() : "";
  assertSingleLine(messageId, "Message-ID");
  if (!MSG_ID.test(messageId) || messageId.length > 250) throw new Error(`Message-ID must look like "<id@domain>": ${JSON.stringify(options.messageId)}`);

  const headers: string[] = [];
  headers.push(`Date: ${formatDate(options.date)}`);
  headers.push(foldAtoms("From", mailboxAtoms(sender)));
  if (replyTo.length > 0) headers.push(foldAtoms("Reply-To", addressListAtoms(replyTo)));
  if (to.length > 0) headers.push(foldAtoms("To", addressListAtoms(to)));
  if (cc.length > 0) headers.push(foldAtoms("Cc", addressListAtoms(cc)));
  if (bccVisible.length > 0) headers.push(foldAtoms("Bcc", addressListAtoms(bccVisible)));
  headers.push(foldUnstructured("Subject", mail.subject, true));
  headers.push(`Message-ID: ${messageId}`);

  if (mail.inReplyTo !== undefined && mail.inReplyTo !== "") {
    const parent = normalizeMsgId(mail.inReplyTo, "In-Reply-To");
    headers.push(foldAtoms("In-Reply-To", [parent]));
  }
  const refs: string[] = [];
  for (const r of mail.references ?? []) {
    const id = normalizeMsgId(r, "References");
    if (!refs.includes(id)) refs.push(id);
  }
  if (mail.inReplyTo !== undefined && mail.inReplyTo !== "") {
    const parent = normalizeMsgId(mail.inReplyTo, "In-Reply-To");
    if (!refs.includes(parent)) refs.push(parent); // RFC 5322 §3.6.4: parent's id ends References
  }
  if (refs.length > 0) headers.push(foldAtoms("References", refs));

  if (mail.priority !== undefined) {
    if (!(mail.priority in PRIORITY)) throw new Error(`Unknown priority ${JSON.stringify(mail.priority)}`);
    const p = PRIORITY[mail.priority];
    if (p !== undefined) headers.push(`X-Priority: ${p}`);
  }
  if (mail.returnReceipt === true) headers.push(foldAtoms("Disposition-Notification-To", mailboxAtoms(sender)));

  for (const h of mail.customHeaders ?? []) {
    const v = validatedHeader(h, "Custom header", true);
    headers.push(foldUnstructured(v.name, v.value, false));
  }
  for (const h of options.extraHeaders ?? []) {
    const v = validatedHeader(h, "Extra header", false);
    headers.push(foldUnstructured(v.name, v.value, false));
  }
  headers.push("MIME-Version: 1.0");

  const body = bodyEntity(mail);
  const top = mail.attachments.length > 0 ? multipart("mixed", [body, ...mail.attachments.map(attachmentEntity)]) : body;
  const text = [...headers, ...top.headers].join(CRLF) + CRLF + CRLF + top.body;
  const bytes = utf8(text);
  assertWellFormed(bytes);
  return bytes;
}

/** Last line of defence: CRLF only (no bare CR or LF) and no line longer than 998 octets. */
function assertWellFormed(bytes: Uint8Array): void {
  let lineStart = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 0x0d) {
      if (bytes[i + 1] !== 0x0a) throw new Error("MIME builder produced a bare CR");
      if (i - lineStart > MAX_LINE) throw new Error("MIME builder produced a line longer than 998 octets");
      i++;
      lineStart = i + 1;
    } else if (b === 0x0a) {
      throw new Error("MIME builder produced a bare LF");
    }
  }
  if (bytes.length - lineStart > MAX_LINE) throw new Error("MIME builder produced a line longer than 998 octets");
}
