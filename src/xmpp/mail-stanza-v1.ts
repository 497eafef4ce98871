// The wire format of protocol version 1 (docs/protocol.md §10.4): the end-to-end encrypted mail stanza — building it,
// counting its octets without building the big base64, and strictly parsing its <mail xmlns=NS_MAIL1> element. The
// envelope travels as attributes and children of <envelope>; here it is the plain `Envelope` of src/core/e2e with its
// ciphertext still in base64 (WireEnvelope), decoded later in slices (wireToEnvelope) for openEnvelope.
// The parser bounds every value before anything else reads it: each attribute by its exact or maximal length, the
// device lists by count, the ciphertext by the length `size` implies (checked before its characters, and those before
// any decoding); every check is linear in the input, and a refusal is a result with a detail, never an exception.
import xml, { type Element } from "@xmpp/xml";
import { NS_MAIL1 } from "../core/protocol.js";
import { Base64Error, base64Length, decodeBase64StrictSliced, encodeBase64 } from "../core/base64.js";
import { checkEnvelope, EXTERNAL_KEYS_BYTES, MAX_JID_OCTETS, MAX_RECIPIENT_DEVICES, MAX_SENDER_DEVICES, type Envelope, type WrappedKey } from "../core/e2e/envelope.js";
import { E2eError, GCM_TAG_BYTES } from "../core/e2e/primitives.js";
import { NS_HINTS, NS_RECEIPTS } from "./mail-stanza.js";

const NS_SID = "urn:xmpp:sid:0";

/** The stanza's <body> (§4.4): what an ordinary XMPP client shows instead of the mail. */
export const NEUTRAL_BODY = "An encrypted e-mail for you \u2014 open it in Thunderbird with Mail over XMPP.";

/** The sealed part of a v1 stanza as it travels: the envelope with its ciphertext still in base64 (decoded later, in slices). */
export type WireEnvelope = Omit<Envelope, "ciphertext"> & { readonly ciphertextB64: string };

export interface SealedMail {
  /** `<mail size>`: the mail's octets. */
  readonly size: number;
  readonly envelope: WireEnvelope;
  /** kind="external" only: where the encrypted mail is, and its ciphertext size (= size + 16). */
  readonly external?: { readonly url: string; readonly size: number };
}

export interface MailStanzaV1 {
  /** Bare recipient JID. */
  readonly to: string;
  /** Stanza id = origin-id (the envelope's originId). */
  readonly id: string;
  /** NEUTRAL_BODY, or the version 0 readable body when the user opted into a preview (§4.4). */
  readonly body: string;
  /** Only with the user's preview opt-in (§4.4): the mail's subject, readable by the servers. */
  readonly subject?: string;
  readonly mail: SealedMail;
}

function envelopeElement(e: Omit<WireEnvelope, "ciphertextB64">, ciphertextB64: string): Element {
  return xml(
    "envelope",
    {
      kind: e.kind,
      from: e.from,
      to: e.to,
      "origin-id": e.originId,
      "sender-device": e.senderDevice,
      time: e.timestamp,
      epk: e.ephemeralKey,
      iv: e.iv,
      sig: e.signature,
    },
    e.recipients.map((r) => xml("rcpt", { device: r.device, wrap: r.wrap })),
    e.senderCopies.map((r) => xml("own", { device: r.device, wrap: r.wrap })),
    xml("ciphertext", {}, ciphertextB64),
  );
}

function stanza(m: Omit<MailStanzaV1, "mail"> & { readonly mail: Omit<SealedMail, "envelope"> }, envelope: Element): Element {
  const external = m.mail.external;
  return xml(
    "message",
    { type: "normal", to: m.to, id: m.id },
    m.subject === undefined ? null : xml("subject", {}, m.subject),
    xml("body", {}, m.body),
    xml(
      "mail",
      { xmlns: NS_MAIL1, size: String(m.mail.size) },
      envelope,
      external ? xml("external", { url: external.url, size: String(external.size) }) : null,
    ),
    xml("origin-id", { xmlns: NS_SID, id: m.id }),
    xml("store", { xmlns: NS_HINTS }),
    xml("request", { xmlns: NS_RECEIPTS }),
  );
}

/** The v1 mail stanza (§4): neutral body, no <subject>, the envelope in <mail xmlns=NS_MAIL1>, origin-id, store hint, receipt request. */
export function buildMailStanzaV1(m: MailStanzaV1): Element {
  return stanza(m, envelopeElement(m.mail.envelope, m.mail.envelope.ciphertextB64));
}

/**
 * The v1 stanza's size as the inline limit counts it (docs/protocol.md §3): octets of the UTF-8 serialisation of
 * buildMailStanzaV1(…) (`.toString()`), for a ciphertext of `ciphertextLength` **octets** (inline: the mail's size + 16),
 * without building its base64 (ASCII, never escaped: only its length counts).
 */
export function inlineStanzaOctetsV1(
  m: Omit<MailStanzaV1, "mail"> & {
    readonly mail: Omit<SealedMail, "envelope"> & { readonly envelope: Omit<WireEnvelope, "ciphertextB64"> };
    readonly ciphertextLength: number;
  },
): number {
  const b64 = base64Length(m.ciphertextLength);
  // One placeholder character stands for the ciphertext (an empty <ciphertext/> would be written self-closed).
  const shell = stanza(m, envelopeElement(m.mail.envelope, b64 === 0 ? "" : "A")).toString();
  return new TextEncoder().encode(shell).length + Math.max(0, b64 - 1);
}

export type V1ParseResult = { readonly ok: true; readonly mail: SealedMail } | { readonly ok: false; readonly detail: string };

const SIZE = /^\d{1,12}$/;
const DEVICE_ID = /^[0-9a-f]{32}$/;
const ORIGIN_ID = /^[\x21-\x7e]{1,128}$/;
/** Linear: "=" only at the end (the count is checked apart). */
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BLANK = /^[ \t\r\n]*$/;
/** base64 lengths of the fixed-size values: P-256 point (65), GCM IV (12), raw ECDSA signature (64), wrapped key (48). */
const EPK_CHARS = 88;
const IV_CHARS = 16;
const SIG_CHARS = 88;
const WRAP_CHARS = 64;
/** A wrapped content key: 32 octets and the 16 of its tag. */
const WRAP_BYTES = 48;
/** `YYYY-MM-DDThh:mm:ss.sssZ`. */
const TIME_CHARS = 24;
const MAX_URL_CHARS = 2048;
const MAX_ORIGIN_ID_CHARS = 128;

function bad(detail: string): V1ParseResult {
  return { ok: false, detail };
}

/** An attribute's value, only if the element really has it (never an Object.prototype member). */
function attr(el: Element, name: string): string | undefined {
  const attrs = el.attrs as Record<string, unknown>;
  if (!Object.hasOwn(attrs, name)) return undefined;
  const value = attrs[name];
  return typeof value === "string" ? value : undefined;
}

function parseSize(value: string | undefined): number | null {
  if (value === undefined || value.length > 12 || !SIZE.test(value)) return null;
  return Number(value);
}

/** Only white space between elements; anything else is a child that should not be there. */
function isBlank(child: unknown): boolean {
  return typeof child === "string" && BLANK.test(child);
}

const B64_VALUE = (() => {
  const table = new Map<string, number>();
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < alphabet.length; i++) table.set(alphabet[i]!, i);
  return table;
})();

/**
 * Whether `text` is canonical base64 of exactly `bytes` octets: its length (first), its characters, the padding the
 * length needs and no stray bits before it — so that the strict decoder later accepts it and yields `bytes` octets.
 */
function isBase64Of(text: string, bytes: number): boolean {
  const length = text.length;
  if (length !== base64Length(bytes) || !BASE64.test(text)) return false;
  const padding = (3 - (bytes % 3)) % 3;
  const found = length > 0 && text[length - 1] === "=" ? (length > 1 && text[length - 2] === "=" ? 2 : 1) : 0;
  if (found !== padding) return false;
  if (padding === 2) return ((B64_VALUE.get(text[length - 3]!) ?? 0) & 0x0f) === 0;
  if (padding === 1) return ((B64_VALUE.get(text[length - 2]!) ?? 0) & 0x03) === 0;
  return true;
}

/** A bare JID as the envelope carries it: bounded first (≤ 3071 UTF-16 units, so that its octets can be counted). */
function boundedJid(value: string | undefined): value is string {
  return value !== undefined && value.length > 0 && value.length <= MAX_JID_OCTETS && new TextEncoder().encode(value).length <= MAX_JID_OCTETS;
}

function parseWrap(el: Element, what: string): WrappedKey | string {
  const device = attr(el, "device");
  const wrap = attr(el, "wrap");
  if (device === undefined || device.length !== 32 || !DEVICE_ID.test(device)) return `a <${what}> device id is not 32 lowercase hex digits`;
  if (wrap === undefined || wrap.length !== WRAP_CHARS || !isBase64Of(wrap, WRAP_BYTES)) return `a <${what}> wrap is not base64 of ${WRAP_BYTES} octets`;
  return { device, wrap };
}

/**
 * Strictly parses one <mail xmlns=NS_MAIL1> element (the caller has found exactly one and checked the stanza's from
 * and id). `maxMailBytes` bounds `size` (a refusal for that has a detail starting "too-large"). Linear in the input;
 * never throws. What it accepts, wireToEnvelope decodes and checkEnvelope accepts.
 */
export function parseMailV1(mail: Element, maxMailBytes: number): V1ParseResult {
  const size = parseSize(attr(mail, "size"));
  if (size === null) return bad("bad size");
  if (!(size <= maxMailBytes)) return bad(`too-large: mail of ${size} octets exceeds ${maxMailBytes}`);

  let envelopeEl: Element | undefined;
  let externalEl: Element | undefined;
  for (const child of mail.children) {
    if (typeof child === "string") {
      if (!isBlank(child)) return bad("text in <mail>");
      continue;
    }
    if (child.is("envelope", NS_MAIL1) && !envelopeEl) envelopeEl = child;
    else if (child.is("external", NS_MAIL1) && !externalEl) externalEl = child;
    else return bad(`unexpected <${child.name.slice(0, 40)}> in <mail>`);
  }
  if (!envelopeEl) return bad("no <envelope>");
  const e = envelopeEl;

  const kind = attr(e, "kind");
  if (kind !== "inline" && kind !== "external") return bad("envelope kind must be inline or external");
  let external: SealedMail["external"];
  if (kind === "external") {
    if (!externalEl) return bad("kind external without <external>");
    const url = attr(externalEl, "url");
    const extSize = parseSize(attr(externalEl, "size"));
    if (url === undefined || url.length === 0 || url.length > MAX_URL_CHARS || extSize === null) return bad("incomplete <external>");
    if (extSize !== size + GCM_TAG_BYTES) return bad("external size does not match the mail size");
    if (!URL.canParse(url)) return bad("external URL unparsable");
    external = { url, size: extSize };
  } else if (externalEl) {
    return bad("kind inline with <external>");
  }

  const from = attr(e, "from");
  const to = attr(e, "to");
  const originId = attr(e, "origin-id");
  const senderDevice = attr(e, "sender-device");
  const timestamp = attr(e, "time");
  const ephemeralKey = attr(e, "epk");
  const iv = attr(e, "iv");
  const signature = attr(e, "sig");
  if (!boundedJid(from)) return bad("envelope from is missing or too long");
  if (!boundedJid(to)) return bad("envelope to is missing or too long");
  if (originId === undefined || originId.length > MAX_ORIGIN_ID_CHARS || !ORIGIN_ID.test(originId)) return bad("envelope origin-id is not 1–128 printable ASCII characters");
  if (senderDevice === undefined || senderDevice.length !== 32 || !DEVICE_ID.test(senderDevice)) return bad("envelope sender-device is not 32 lowercase hex digits");
  if (timestamp === undefined || timestamp.length !== TIME_CHARS) return bad("envelope time is not 24 characters");
  if (ephemeralKey === undefined || ephemeralKey.length !== EPK_CHARS) return bad(`envelope epk is not ${EPK_CHARS} characters`);
  if (iv === undefined || iv.length !== IV_CHARS) return bad(`envelope iv is not ${IV_CHARS} characters`);
  if (signature === undefined || signature.length !== SIG_CHARS) return bad(`envelope sig is not ${SIG_CHARS} characters`);

  // Children: <rcpt/>{1,16} <own/>{0,16} <ciphertext/>, in that order, nothing else.
  const recipients: WrappedKey[] = [];
  const senderCopies: WrappedKey[] = [];
  const seen = new Set<string>();
  let ciphertextEl: Element | undefined;
  for (const child of e.children) {
    if (typeof child === "string") {
      if (!isBlank(child)) return bad("text in <envelope>");
      continue;
    }
    if (ciphertextEl) return bad("<ciphertext> is not the last child of <envelope>");
    if (child.is("rcpt", NS_MAIL1)) {
      if (senderCopies.length > 0) return bad("<rcpt> after <own>");
      if (recipients.length === MAX_RECIPIENT_DEVICES) return bad(`more than ${MAX_RECIPIENT_DEVICES} <rcpt>`);
      const w = parseWrap(child, "rcpt");
      if (typeof w === "string") return bad(w);
      if (seen.has(w.device)) return bad("a device is listed twice");
      seen.add(w.device);
      recipients.push(w);
    } else if (child.is("own", NS_MAIL1)) {
      if (senderCopies.length === MAX_SENDER_DEVICES) return bad(`more than ${MAX_SENDER_DEVICES} <own>`);
      const w = parseWrap(child, "own");
      if (typeof w === "string") return bad(w);
      if (seen.has(w.device)) return bad("a device is listed twice");
      seen.add(w.device);
      senderCopies.push(w);
    } else if (child.is("ciphertext", NS_MAIL1)) {
      ciphertextEl = child;
    } else {
      return bad(`unexpected <${child.name.slice(0, 40)}> in <envelope>`);
    }
  }
  if (recipients.length === 0) return bad("no <rcpt>");
  if (!ciphertextEl) return bad("no <ciphertext>");
  if (ciphertextEl.children.some((c) => typeof c !== "string")) return bad("<ciphertext> holds elements");
  // The ciphertext's length follows from `size` (inline: the mail + its tag; external: the key block + its tag): its
  // text length is checked before its characters, and those before anyone decodes it.
  const ciphertextBytes = (kind === "inline" ? size : EXTERNAL_KEYS_BYTES) + GCM_TAG_BYTES;
  const expectedChars = base64Length(ciphertextBytes);
  let textLength = 0;
  for (const c of ciphertextEl.children) textLength += (c as string).length;
  if (textLength !== expectedChars) return bad(`ciphertext is not ${expectedChars} characters of base64`);
  const ciphertextB64 = ciphertextEl.text();
  if (!isBase64Of(ciphertextB64, ciphertextBytes)) return bad(`ciphertext is not base64 of ${ciphertextBytes} octets`);

  const envelope: WireEnvelope = { kind, from, senderDevice, to, originId, timestamp, ephemeralKey, iv, recipients, senderCopies, ciphertextB64, signature };
  // Everything is bounded now: the envelope's own shape check (strict base64 of each key, canonical time, JID
  // characters) runs on it with a stand-in ciphertext, so that nothing it would refuse gets past here.
  try {
    checkEnvelope({ ...envelope, ciphertext: new Uint8Array(GCM_TAG_BYTES) });
  } catch (error) {
    if (error instanceof E2eError) return bad(`envelope: ${error.message}`);
    throw error;
  }
  return { ok: true, mail: external ? { size, envelope, external } : { size, envelope } };
}

/**
 * The envelope openEnvelope takes: the ciphertext decoded strictly, in slices (at most `maxBytes` octets). Throws
 * E2eError("malformed") on bad base64 or a longer ciphertext; the other fields are passed on as they are.
 */
export async function wireToEnvelope(w: WireEnvelope, maxBytes: number): Promise<Envelope> {
  let ciphertext: Uint8Array;
  try {
    ciphertext = await decodeBase64StrictSliced(w.ciphertextB64, maxBytes);
  } catch (error) {
    if (error instanceof Base64Error) throw new E2eError("malformed", `the ciphertext: ${error.message}`);
    throw error;
  }
  return {
    kind: w.kind,
    from: w.from,
    senderDevice: w.senderDevice,
    to: w.to,
    originId: w.originId,
    timestamp: w.timestamp,
    ephemeralKey: w.ephemeralKey,
    iv: w.iv,
    recipients: w.recipients,
    senderCopies: w.senderCopies,
    ciphertext,
    signature: w.signature,
  };
}

/** The envelope as it travels: its ciphertext in base64. */
export function envelopeToWire(e: Envelope): WireEnvelope {
  return {
    kind: e.kind,
    from: e.from,
    senderDevice: e.senderDevice,
    to: e.to,
    originId: e.originId,
    timestamp: e.timestamp,
    ephemeralKey: e.ephemeralKey,
    iv: e.iv,
    recipients: e.recipients,
    senderCopies: e.senderCopies,
    ciphertextB64: encodeBase64(e.ciphertext),
    signature: e.signature,
  };
}
