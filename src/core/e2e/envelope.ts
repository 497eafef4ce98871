// The end-to-end envelope of protocol version 1 (docs/protocol.md §10.4–5): one payload (the mail, or for an uploaded
// mail the key block of today's payload-crypto) encrypted once under a fresh AES-256-GCM content key, that key wrapped
// for every device of the recipient and every other device of the sender (ephemeral-static ECDH P-256 → HKDF-SHA-256 →
// AES-256-GCM), and everything signed by the sending device (ECDSA P-256, SHA-256) over a transcript that binds
// sender, recipient, device lists, origin-id, time and ciphertext — so a signature cannot be moved to another mail,
// recipient or sender. The envelope here is plain data; src/xmpp maps it to and from the stanza.
// Every refusal is an E2eError with a code, never another exception: the checks of shape and size come first and are
// linear in the envelope's size.

import { Base64Error, base64Length, decodeBase64Strict, encodeBase64 } from "../base64.js";
import { isDeviceId, P256_POINT_BYTES, type DeviceKeyPair, type DeviceKeys } from "./keys.js";
import {
  AES_KEY_BYTES,
  ByteWriter,
  E2eError,
  GCM_IV_BYTES,
  GCM_TAG_BYTES,
  aesGcmDecrypt,
  aesGcmEncrypt,
  buf,
  hkdfSha256,
  randomBytes,
  sha256,
  subtle,
  utf8,
} from "./primitives.js";

/** What the ciphertext holds: the RFC 5322 mail itself, or the key block of an uploaded mail (encodeExternalKeys). */
export type PayloadKind = "inline" | "external";

/** One device's copy of the content key. */
export interface WrappedKey {
  /** The device id (keys.ts). */
  readonly device: string;
  /** base64 of the AES-256-GCM-wrapped content key: 32 octets + 16 of tag. */
  readonly wrap: string;
}

export interface Envelope {
  readonly kind: PayloadKind;
  /** Sender's bare JID. */
  readonly from: string;
  readonly senderDevice: string;
  /** Recipient's bare JID. */
  readonly to: string;
  /** The stanza's origin-id (XEP-0359). */
  readonly originId: string;
  /** When it was sealed: XEP-0082 UTC with milliseconds, exactly `YYYY-MM-DDThh:mm:ss.sssZ`. */
  readonly timestamp: string;
  /** base64 of the ephemeral ECDH P-256 public key, uncompressed. */
  readonly ephemeralKey: string;
  /** base64 of the 12-octet IV of the content encryption. */
  readonly iv: string;
  readonly recipients: readonly WrappedKey[];
  readonly senderCopies: readonly WrappedKey[];
  /** AES-256-GCM of the payload under the content key, tag appended. */
  readonly ciphertext: Uint8Array;
  /** base64 of the ECDSA P-256 signature, raw r || s (64 octets; WebCrypto's form, not DER). */
  readonly signature: string;
}

/** Most devices of the recipient an envelope carries a key for, and most other devices of the sender. */
export const MAX_RECIPIENT_DEVICES = 16;
export const MAX_SENDER_DEVICES = 16;
/** RFC 7622: a JID is at most 3071 octets. */
export const MAX_JID_OCTETS = 3071;
/** docs/protocol.md §3: origin-ids are 1–128 printable ASCII characters. */
const ORIGIN_ID = /^[\x21-\x7e]{1,128}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const WRAP_BYTES = AES_KEY_BYTES + GCM_TAG_BYTES;
const SIGNATURE_BYTES = 64;
const ZERO_IV = new Uint8Array(GCM_IV_BYTES);
const MAIL_LABEL = "mox-e2e-v1 mail";
const WRAP_LABEL = "mox-e2e-v1 wrap";

/** The receiver's default window: sealed at most 14 days ago and at most 24 h ahead of its clock. */
export const DEFAULT_MAX_AGE_MS = 14 * 24 * 3600_000;
export const DEFAULT_MAX_FUTURE_MS = 24 * 3600_000;

export interface SealParams {
  readonly payload: Uint8Array;
  readonly kind: PayloadKind;
  readonly from: string;
  readonly to: string;
  readonly originId: string;
  /** The sender's clock, ms since the epoch. */
  readonly now: number;
  readonly sender: DeviceKeyPair;
  /** Every device the recipient publishes (that the sender's trust policy lets it encrypt for). */
  readonly recipientDevices: readonly DeviceKeys[];
  /** The sender's own other devices, so they can read what this one sent. */
  readonly senderDevices: readonly DeviceKeys[];
}

/** Encrypts and signs one payload for one recipient JID's devices and the sender's other devices. */
export async function sealEnvelope(p: SealParams): Promise<Envelope> {
  checkJid(p.from, "sender");
  checkJid(p.to, "recipient");
  checkOriginId(p.originId);
  if (p.kind !== "inline" && p.kind !== "external") throw new E2eError("malformed", "unknown payload kind");
  if (p.recipientDevices.length > MAX_RECIPIENT_DEVICES) throw new E2eError("malformed", `more than ${MAX_RECIPIENT_DEVICES} recipient devices`);
  if (p.senderDevices.length > MAX_SENDER_DEVICES) throw new E2eError("malformed", `more than ${MAX_SENDER_DEVICES} sender devices`);
  if (p.recipientDevices.length === 0) throw new E2eError("malformed", "the recipient has no device to encrypt for");
  checkUnique([...p.recipientDevices.map((d) => d.public.id), ...p.senderDevices.map((d) => d.public.id)]);
  if (!Number.isFinite(p.now) || p.now < 0) throw new E2eError("malformed", "the clock is not a time after 1970");
  const timestamp = new Date(p.now).toISOString();
  if (!TIMESTAMP.test(timestamp)) throw new E2eError("malformed", "the clock is outside the years 0000–9999");

  const contentKey = randomBytes(AES_KEY_BYTES);
  const iv = randomBytes(GCM_IV_BYTES);
  // The content encryption runs while the ephemeral key is made and the wraps are derived.
  const sealing = aesGcmEncrypt(contentKey, iv, p.payload);
  const ephemeral = (await subtle().generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"])) as CryptoKeyPair;
  const epk = new Uint8Array(await subtle().exportKey("raw", ephemeral.publicKey));
  const wrapFor = async (device: DeviceKeys): Promise<WrappedKey> => {
    const kek = await wrapKey(ephemeral.privateKey, device.agree, epk, device.agreeRaw, device.public.id);
    const wrapped = await aesGcmEncrypt(kek, ZERO_IV, contentKey, utf8(device.public.id));
    kek.fill(0);
    return { device: device.public.id, wrap: encodeBase64(wrapped) };
  };
  const [ciphertext, recipients, senderCopies] = await Promise.all([
    sealing,
    Promise.all(p.recipientDevices.map(wrapFor)),
    Promise.all(p.senderDevices.map(wrapFor)),
  ]);
  contentKey.fill(0);
  const unsigned = {
    kind: p.kind,
    from: p.from,
    senderDevice: p.sender.public.id,
    to: p.to,
    originId: p.originId,
    timestamp,
    ephemeralKey: encodeBase64(epk),
    iv: encodeBase64(iv),
    recipients,
    senderCopies,
    ciphertext,
  };
  return { ...unsigned, signature: await signEnvelope(unsigned, p.sender.signPrivate) };
}

/**
 * Signs an envelope's fields (everything but the signature) with a device's signing key. sealEnvelope uses it; it is
 * exported so that tests can build envelopes a genuine but faulty sender would make.
 */
export async function signEnvelope(e: Omit<Envelope, "signature">, signPrivate: CryptoKey): Promise<string> {
  const transcript = await envelopeTranscript(e);
  return encodeBase64(new Uint8Array(await subtle().sign({ name: "ECDSA", hash: "SHA-256" }, signPrivate, buf(transcript))));
}

/**
 * The signed transcript (docs/protocol.md §10.5.2), each field a 4-octet big-endian length and its octets, each count
 * 4 octets, the time 8: label, kind, from, sender device, to, origin-id, time (ms since the epoch), ephemeral key (65),
 * IV (12), SHA-256 of the ciphertext (32), the recipient copies (count, then id and wrapped key of each, in envelope
 * order), the sender's copies (the same). Call only on an envelope checkEnvelope accepted.
 */
export async function envelopeTranscript(e: Omit<Envelope, "signature">): Promise<Uint8Array> {
  const w = new ByteWriter()
    .field(MAIL_LABEL)
    .field(e.kind)
    .field(e.from)
    .field(e.senderDevice)
    .field(e.to)
    .field(e.originId)
    .u64(Date.parse(e.timestamp))
    .field(decode(e.ephemeralKey, P256_POINT_BYTES, "ephemeral key"))
    .field(decode(e.iv, GCM_IV_BYTES, "IV"))
    .field(await sha256(e.ciphertext));
  for (const list of [e.recipients, e.senderCopies]) {
    w.u32(list.length);
    for (const entry of list) w.field(entry.device).field(decode(entry.wrap, WRAP_BYTES, "wrapped key"));
  }
  return w.bytes();
}

async function wrapKey(privateKey: CryptoKey, publicKey: CryptoKey, epk: Uint8Array, deviceAgree: Uint8Array, deviceId: string): Promise<Uint8Array> {
  const shared = new Uint8Array(await subtle().deriveBits({ name: "ECDH", public: publicKey }, privateKey, 256));
  const info = new ByteWriter().field(WRAP_LABEL).field(epk).field(deviceAgree).field(deviceId).bytes();
  const kek = await hkdfSha256(shared, new Uint8Array(0), info, AES_KEY_BYTES);
  shared.fill(0);
  return kek;
}

export interface OpenParams {
  /** This device. */
  readonly me: DeviceKeyPair;
  /** This account's bare JID. */
  readonly myJid: string;
  /** What the stanza itself says: its (bare) from and to, and its origin-id. */
  readonly stanza: { readonly from: string; readonly to: string; readonly originId: string };
  /** The sender JID's device keys the caller knows (pinned or announced); the envelope's sender device must be one. */
  readonly senderDevices: readonly DeviceKeys[];
  /** The receiver's clock, ms since the epoch. */
  readonly now: number;
  /** Largest payload accepted (checked from the ciphertext's length, before any crypto). */
  readonly maxPlainBytes: number;
  readonly maxAgeMs?: number;
  readonly maxFutureMs?: number;
  /**
   * What an envelope whose signature cannot be checked becomes (unknown-sender-device, bad-signature): "refuse" (the
   * default) throws; "open-unverified" still decrypts it, every other check applied, and returns it with `verified`
   * false and the reason — for the receiver that files such a mail as from an unverified sender (docs/protocol.md §10
   * §6.2) rather than losing it.
   */
  readonly unverified?: "refuse" | "open-unverified";
}

export interface Opened {
  readonly payload: Uint8Array;
  readonly kind: PayloadKind;
  /** The device that signed it (absent when unverified). */
  readonly senderDevice?: DeviceKeys;
  /** Sealed at (ms since the epoch, the sender's clock). */
  readonly sealedAt: number;
  /** "recipient": a mail to this account; "sender": a copy of a mail this account sent from another device. */
  readonly copy: "recipient" | "sender";
  /** Whether the signature verified; false only with `unverified: "open-unverified"`. */
  readonly verified: boolean;
  /** Why it is unverified. */
  readonly unverifiedReason?: "unknown-sender-device" | "bad-signature";
}

/**
 * Opens an envelope: shape and sizes (malformed), the sender device among the known ones (unknown-sender-device), the
 * signature (bad-signature), the bindings to the stanza (misdirected, replay), the time window (replay-window), this
 * device's wrapped key (not-for-this-device), then unwrap and decrypt (tampered).
 */
export async function openEnvelope(input: unknown, p: OpenParams): Promise<Opened> {
  const e = checkEnvelope(input);
  const plainLength = e.ciphertext.length - GCM_TAG_BYTES;
  if (!(plainLength <= p.maxPlainBytes)) throw new E2eError("malformed", `the payload holds ${plainLength} octets, more than the limit of ${p.maxPlainBytes}`);

  const senderDevice = p.senderDevices.find((d) => d.public.id === e.senderDevice);
  if (!senderDevice && p.unverified !== "open-unverified") {
    throw new E2eError("unknown-sender-device", `the sender device ${e.senderDevice} is not one of ${e.from}'s known devices`);
  }
  // The signature check, the key derivation and the decryption run at once (they are independent; this saves a
  // WebCrypto round per step on the receive path); their outcomes are still judged in the order of §10.5.3.
  const verifying = senderDevice
    ? envelopeTranscript(e).then((transcript) =>
        subtle().verify({ name: "ECDSA", hash: "SHA-256" }, senderDevice.verify, buf(decode(e.signature, SIGNATURE_BYTES, "signature")), buf(transcript)),
      )
    : Promise.resolve(false);
  const myId = p.me.public.id;
  const asRecipient = e.recipients.find((r) => r.device === myId);
  const entry = asRecipient ?? e.senderCopies.find((r) => r.device === myId);
  const opening = entry ? settle(decryptFor(e, entry, p.me)) : null;
  opening?.catch(() => undefined);

  let unverifiedReason: Opened["unverifiedReason"];
  if (!senderDevice) {
    unverifiedReason = "unknown-sender-device";
  } else if (!(await verifying)) {
    unverifiedReason = "bad-signature";
    if (p.unverified !== "open-unverified") throw new E2eError(unverifiedReason, `the signature of device ${e.senderDevice} does not verify`);
  }

  if (e.from !== p.stanza.from) throw new E2eError("misdirected", `signed by ${e.from}, but the stanza comes from ${p.stanza.from}`);
  if (e.to !== p.stanza.to) throw new E2eError("misdirected", `signed for ${e.to}, but the stanza is addressed to ${p.stanza.to}`);
  if (e.originId !== p.stanza.originId) throw new E2eError("replay", "signed for another origin-id than the stanza's");
  const sealedAt = Date.parse(e.timestamp);
  if (sealedAt < p.now - (p.maxAgeMs ?? DEFAULT_MAX_AGE_MS)) throw new E2eError("replay-window", `sealed at ${e.timestamp}, too long ago`);
  if (sealedAt > p.now + (p.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS)) throw new E2eError("replay-window", `sealed at ${e.timestamp}, too far in the future`);

  let copy: Opened["copy"];
  if (asRecipient) {
    if (e.to !== p.myJid) throw new E2eError("misdirected", `a copy for ${e.to}, not for ${p.myJid}`);
    copy = "recipient";
  } else {
    if (!entry || !opening) throw new E2eError("not-for-this-device", `no key for this device (${myId})`);
    if (e.from !== p.myJid) throw new E2eError("misdirected", `a sender's copy for ${e.from}, not for ${p.myJid}`);
    copy = "sender";
  }
  const result = await opening!;
  if ("error" in result) throw result.error;
  const payload = result.value;
  return unverifiedReason
    ? { payload, kind: e.kind, sealedAt, copy, verified: false, unverifiedReason }
    : { payload, kind: e.kind, senderDevice: senderDevice!, sealedAt, copy, verified: true };
}

/** A promise's outcome as a value (so that it can be started early and judged later without an unhandled rejection). */
function settle<T>(promise: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  return promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
}

/** Derives this device's key-encryption key, unwraps the content key and decrypts (§10.5.3 step 7; tampered on failure). */
async function decryptFor(e: Envelope, entry: WrappedKey, me: DeviceKeyPair): Promise<Uint8Array> {
  const myId = me.public.id;
  const epk = decode(e.ephemeralKey, P256_POINT_BYTES, "ephemeral key");
  let ephemeral: CryptoKey;
  try {
    ephemeral = await subtle().importKey("raw", buf(epk), { name: "ECDH", namedCurve: "P-256" }, false, []);
  } catch {
    throw new E2eError("tampered", "the ephemeral key is not a point of P-256");
  }
  const myAgree = decode(me.public.agree, P256_POINT_BYTES, "own agreement key");
  const kek = await wrapKey(me.agreePrivate, ephemeral, epk, myAgree, myId);
  const contentKey = await aesGcmDecrypt(kek, ZERO_IV, decode(entry.wrap, WRAP_BYTES, "wrapped key"), utf8(myId), "wrapped key");
  kek.fill(0);
  const payload = await aesGcmDecrypt(contentKey, decode(e.iv, GCM_IV_BYTES, "IV"), e.ciphertext, new Uint8Array(0), "ciphertext");
  contentKey.fill(0);
  return payload;
}

/**
 * Checks that a value has the shape of an envelope with every field within its bounds and strictly encoded
 * (malformed otherwise) and returns it typed. Linear in its size; reads nothing it does not check.
 */
export function checkEnvelope(input: unknown): Envelope {
  if (typeof input !== "object" || input === null) throw new E2eError("malformed", "an envelope is an object");
  const e = input as Record<string, unknown>;
  if (e.kind !== "inline" && e.kind !== "external") throw new E2eError("malformed", "kind must be inline or external");
  checkJid(e.from, "sender");
  checkJid(e.to, "recipient");
  if (!isDeviceId(e.senderDevice)) throw new E2eError("malformed", "the sender device id is not a device id");
  checkOriginId(e.originId);
  if (
    typeof e.timestamp !== "string" ||
    !TIMESTAMP.test(e.timestamp) ||
    !(Date.parse(e.timestamp) >= 0) || // before 1970 has no u64 in the transcript
    new Date(Date.parse(e.timestamp)).toISOString() !== e.timestamp
  ) {
    throw new E2eError("malformed", "the time must be YYYY-MM-DDThh:mm:ss.sssZ, 1970 or later");
  }
  decode(e.ephemeralKey, P256_POINT_BYTES, "ephemeral key");
  decode(e.iv, GCM_IV_BYTES, "IV");
  decode(e.signature, SIGNATURE_BYTES, "signature");
  if (!(e.ciphertext instanceof Uint8Array) || e.ciphertext.length < GCM_TAG_BYTES) throw new E2eError("malformed", "the ciphertext is missing or shorter than its tag");
  const recipients = checkWrapList(e.recipients, MAX_RECIPIENT_DEVICES, "recipient");
  const senderCopies = checkWrapList(e.senderCopies, MAX_SENDER_DEVICES, "sender");
  if (recipients.length === 0) throw new E2eError("malformed", "an envelope has at least one recipient device");
  checkUnique([...recipients, ...senderCopies].map((w) => w.device));
  return e as unknown as Envelope;
}

function checkWrapList(list: unknown, max: number, what: string): readonly WrappedKey[] {
  if (!Array.isArray(list)) throw new E2eError("malformed", `the ${what} devices are a list`);
  if (list.length > max) throw new E2eError("malformed", `more than ${max} ${what} devices`);
  for (const entry of list as unknown[]) {
    if (typeof entry !== "object" || entry === null) throw new E2eError("malformed", `a ${what} device entry is an object`);
    const w = entry as Record<string, unknown>;
    if (!isDeviceId(w.device)) throw new E2eError("malformed", `a ${what} device id is not a device id`);
    decode(w.wrap, WRAP_BYTES, "wrapped key");
  }
  return list as readonly WrappedKey[];
}

function checkUnique(ids: readonly string[]): void {
  if (new Set(ids).size !== ids.length) throw new E2eError("malformed", "a device is listed twice");
}

function checkJid(jid: unknown, what: string): asserts jid is string {
  // A bare JID, not parsed here (src/xmpp normalises it); bounded, non-empty, no resource, no white space or controls.
  if (typeof jid !== "string" || jid.length === 0 || jid.length > MAX_JID_OCTETS || utf8(jid).length > MAX_JID_OCTETS) {
    throw new E2eError("malformed", `the ${what} JID is missing or longer than ${MAX_JID_OCTETS} octets`);
  }
  if (/[\x00-\x20\x7f/]/.test(jid)) throw new E2eError("malformed", `the ${what} JID is not a bare JID`);
  // A lone surrogate would be signed as U+FFFD: two different strings, one transcript.
  if (LONE_SURROGATE.test(jid)) throw new E2eError("malformed", `the ${what} JID is not well-formed Unicode`);
}

function checkOriginId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !ORIGIN_ID.test(id)) throw new E2eError("malformed", "the origin-id must be 1–128 printable ASCII characters");
}

/** Strict base64 of exactly `bytes` octets, else malformed. */
function decode(text: unknown, bytes: number, what: string): Uint8Array {
  if (typeof text !== "string" || text.length !== base64Length(bytes)) throw new E2eError("malformed", `the ${what} must be ${bytes} octets in base64`);
  let out: Uint8Array;
  try {
    out = decodeBase64Strict(text, bytes);
  } catch (error) {
    if (error instanceof Base64Error) throw new E2eError("malformed", `the ${what}: ${error.message}`);
    throw error;
  }
  if (out.length !== bytes) throw new E2eError("malformed", `the ${what} must be ${bytes} octets`);
  return out;
}

/** The key block of an uploaded mail (kind "external"): AES key (32) || IV (12) || SHA-256 of the mail (32). */
export const EXTERNAL_KEYS_BYTES = 32 + 12 + 32;

/** Packs payload-crypto's key, IV and plaintext hash (base64, as sealPayload returns them) into the key block. */
export function encodeExternalKeys(k: { readonly key: string; readonly iv: string; readonly sha256: string }): Uint8Array {
  const out = new Uint8Array(EXTERNAL_KEYS_BYTES);
  out.set(decode(k.key, 32, "key"), 0);
  out.set(decode(k.iv, 12, "IV"), 32);
  out.set(decode(k.sha256, 32, "SHA-256"), 44);
  return out;
}

/** Unpacks a key block into the base64 fields payload-crypto's openPayload takes. */
export function decodeExternalKeys(block: Uint8Array): { key: string; iv: string; sha256: string } {
  if (block.length !== EXTERNAL_KEYS_BYTES) throw new E2eError("malformed", `a key block is ${EXTERNAL_KEYS_BYTES} octets`);
  return { key: encodeBase64(block.subarray(0, 32)), iv: encodeBase64(block.subarray(32, 44)), sha256: encodeBase64(block.subarray(44)) };
}
