// End-to-end encryption of a mail before it goes to an upload service (docs/protocol.md §4): AES-256-GCM with a fresh
// random 256-bit key and 96-bit IV per mail, the 128-bit tag appended to the ciphertext (WebCrypto's layout). The
// upload service only ever sees ciphertext; the key, IV and the SHA-256 of the plaintext travel in the XMPP stanza.
// Host-free: WebCrypto (globalThis.crypto), Uint8Array and TextEncoder/TextDecoder only, so it runs in Node and in Thunderbird alike.

import { runInSlices, runToEnd, type SliceOptions, type Steps } from "./slices.js";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SHA256_BYTES = 32;

export interface SealedPayload {
  /** AES-256-GCM ciphertext followed by the 16-byte tag: plaintext length + 16 bytes. */
  readonly ciphertext: Uint8Array;
  /** base64 of the 32-byte key. */
  readonly key: string;
  /** base64 of the 12-byte IV. */
  readonly iv: string;
  /** base64 SHA-256 of the PLAINTEXT. */
  readonly sha256: string;
}

export type PayloadErrorCode = "bad-key" | "bad-iv" | "too-large" | "auth-tag" | "hash-mismatch" | "bad-base64";

export class PayloadError extends Error {
  override readonly name = "PayloadError";
  constructor(
    readonly code: PayloadErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** WebCrypto's typings want an ArrayBuffer-backed view; every Uint8Array we hand it is one (or is copied to one). */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error("WebCrypto is not available (needs a secure context)");
  return s;
}

/** The ciphertext is exactly this much longer than the plaintext (the GCM tag). */
export const SEAL_OVERHEAD_BYTES = TAG_BYTES;

/** Encrypts one mail under a fresh key and IV; `knownSha256` spares hashing a mail the caller already hashed. */
export async function sealPayload(plain: Uint8Array, knownSha256?: string): Promise<SealedPayload> {
  const keyBytes = globalThis.crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  const iv = globalThis.crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await subtle().importKey("raw", keyBytes, { name: "AES-GCM" }, false, ["encrypt"]);
  const [sealed, sha256] = await Promise.all([
    subtle().encrypt({ name: "AES-GCM", iv, tagLength: TAG_BYTES * 8 }, key, bufferSource(plain)),
    knownSha256 ?? sha256Base64(plain),
  ]);
  const result: SealedPayload = { ciphertext: new Uint8Array(sealed), key: encodeBase64(keyBytes), iv: encodeBase64(iv), sha256 };
  keyBytes.fill(0);
  return result;
}

/**
 * Decrypts and checks a downloaded payload. Everything is validated before any work: key and IV lengths, strict
 * base64, the plaintext size bound (from the ciphertext length, before decrypting). Decryption verifies the GCM tag;
 * then the plaintext's SHA-256 must equal `params.sha256`.
 */
export async function openPayload(
  ciphertext: Uint8Array,
  params: { key: string; iv: string; sha256: string },
  maxPlainBytes: number,
): Promise<Uint8Array> {
  // 32 bytes are exactly 44 base64 characters (one "=" of padding), 12 bytes exactly 16 (none): anything else is
  // the wrong length whatever it decodes to, and is refused before decoding.
  if (typeof params.key !== "string" || params.key.length !== base64Length(KEY_BYTES)) {
    throw new PayloadError("bad-key", `the key must be ${KEY_BYTES} bytes in base64`);
  }
  if (typeof params.iv !== "string" || params.iv.length !== base64Length(IV_BYTES)) {
    throw new PayloadError("bad-iv", `the IV must be ${IV_BYTES} bytes in base64`);
  }
  // (Decoded with room to spare so that a well-formed text of the wrong length is reported as such.)
  const keyBytes = decodeBase64Strict(params.key, KEY_BYTES + 2);
  const iv = decodeBase64Strict(params.iv, IV_BYTES + 2);
  if (keyBytes.length !== KEY_BYTES) throw new PayloadError("bad-key", `the key must be ${KEY_BYTES} bytes`);
  if (iv.length !== IV_BYTES) throw new PayloadError("bad-iv", `the IV must be ${IV_BYTES} bytes`);
  if (typeof params.sha256 !== "string" || params.sha256.length !== base64Length(SHA256_BYTES)) {
    throw new PayloadError("bad-base64", "the SHA-256 must be 32 bytes in base64");
  }
  const expected = decodeBase64Strict(params.sha256, SHA256_BYTES + 2);
  if (expected.length !== SHA256_BYTES) throw new PayloadError("bad-base64", "the SHA-256 must be 32 bytes");

  if (ciphertext.length < TAG_BYTES) throw new PayloadError("auth-tag", "the ciphertext is shorter than its tag");
  const plainLength = ciphertext.length - TAG_BYTES;
  if (!(plainLength <= maxPlainBytes)) {
    throw new PayloadError("too-large", `the payload holds ${plainLength} bytes, more than the limit of ${maxPlainBytes}`);
  }

  const key = await subtle().importKey("raw", bufferSource(keyBytes), { name: "AES-GCM" }, false, ["decrypt"]);
  keyBytes.fill(0);
  let plain: Uint8Array;
  try {
    plain = new Uint8Array(await subtle().decrypt({ name: "AES-GCM", iv: bufferSource(iv), tagLength: TAG_BYTES * 8 }, key, bufferSource(ciphertext)));
  } catch {
    // WebCrypto reports a failed tag check (tampered data, wrong key or IV, truncation) as a bare OperationError.
    throw new PayloadError("auth-tag", "the payload failed authentication (tampered, truncated or wrong key)");
  }
  const actual = new Uint8Array(await subtle().digest("SHA-256", bufferSource(plain)));
  if (!sameBytes(actual, expected)) throw new PayloadError("hash-mismatch", "the decrypted payload does not match its SHA-256");
  return plain;
}

/** base64 of the SHA-256 of `bytes`. */
export async function sha256Base64(bytes: Uint8Array): Promise<string> {
  return encodeBase64(new Uint8Array(await subtle().digest("SHA-256", bufferSource(bytes))));
}

// ---------------------------------------------------------------------------------------------------------------
// base64 (RFC 4648 §4, standard alphabet, padded, no line breaks)

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const PAD = 61; // "="
/** 6-bit value → ASCII code. */
const ENCODE = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
/** Byte (of the ASCII text) → 6-bit value, or 255 for anything outside the alphabet ("=" included). */
const DECODE = (() => {
  const table = new Uint8Array(256).fill(255);
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i;
  return table;
})();

/** Length of the padded base64 text of `bytes` octets. */
function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

/**
 * base64 of `bytes`. Writes ASCII codes into one buffer and decodes that once: linear, no argument lists or string
 * concatenation, so multi-megabyte arrays cannot overflow the call stack (≈50 ms for 5 MiB in Node 20).
 */
export function encodeBase64(bytes: Uint8Array): string {
  const length = bytes.length;
  const out = new Uint8Array(base64Length(length));
  const full = length - (length % 3);
  let o = 0;
  for (let i = 0; i < full; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = ENCODE[n >>> 18]!;
    out[o++] = ENCODE[(n >>> 12) & 63]!;
    out[o++] = ENCODE[(n >>> 6) & 63]!;
    out[o++] = ENCODE[n & 63]!;
  }
  if (length - full === 1) {
    const n = bytes[full]! << 16;
    out[o++] = ENCODE[n >>> 18]!;
    out[o++] = ENCODE[(n >>> 12) & 63]!;
    out[o++] = PAD;
    out[o++] = PAD;
  } else if (length - full === 2) {
    const n = (bytes[full]! << 16) | (bytes[full + 1]! << 8);
    out[o++] = ENCODE[n >>> 18]!;
    out[o++] = ENCODE[(n >>> 12) & 63]!;
    out[o++] = ENCODE[(n >>> 6) & 63]!;
    out[o++] = PAD;
  }
  return ASCII_DECODER.decode(out);
}

const ASCII_DECODER = new TextDecoder("utf-8");

/** Byte (of the ASCII text) → 6-bit value, or 255 for anything outside the alphabet; indexed by UTF-16 code unit. */
const DECODE_UNIT = (() => {
  const table = new Uint8Array(65536).fill(255);
  table.set(DECODE.subarray(0, 128));
  return table;
})();

/** Quads decoded between two checks of the clock when decoding in slices (256 KiB of text). */
const QUADS_PER_STEP = 64 * 1024;

/**
 * Decodes canonical, padded base64 of at most `maxBytes` octets. The length is checked first (before reading the
 * text at all), then every character: no whitespace or line breaks, no URL-safe alphabet, no non-ASCII, "=" only as
 * the final one or two characters of a text whose length is a multiple of 4, and no stray bits in the last character
 * before padding (so each byte string has exactly one accepted encoding). Throws PayloadError("bad-base64").
 */
export function decodeBase64Strict(b64: string, maxBytes: number): Uint8Array {
  return runToEnd(decodeSteps(b64, maxBytes));
}

/**
 * `decodeBase64Strict` in slices with a macrotask between them (runInSlices): 25 MiB of mail take ~0.1–0.5 s to
 * decode, too long to hold the background page at once. The receiver decodes inline payloads this way.
 */
export function decodeBase64StrictSliced(b64: string, maxBytes: number, options?: SliceOptions): Promise<Uint8Array> {
  return runInSlices(decodeSteps(b64, maxBytes), options);
}

/** The decoder as steps; yields the number of characters read so far every QUADS_PER_STEP quads. */
function* decodeSteps(b64: string, maxBytes: number): Steps<Uint8Array> {
  if (typeof b64 !== "string") throw new PayloadError("bad-base64", "base64 text expected");
  const length = b64.length;
  if (!(maxBytes >= 0)) maxBytes = 0; // NaN or negative: nothing but the empty text passes
  if (length > base64Length(maxBytes)) {
    throw new PayloadError("bad-base64", `base64 text of ${length} characters exceeds the limit of ${maxBytes} bytes`);
  }
  if (length % 4 !== 0) throw new PayloadError("bad-base64", "base64 text length is not a multiple of 4");
  if (length === 0) return new Uint8Array(0);
  // The text is read by UTF-16 code unit (no copy into bytes first): anything outside the alphabet, non-ASCII
  // included, is 255 in DECODE_UNIT.
  const padding = b64.charCodeAt(length - 1) === PAD ? (b64.charCodeAt(length - 2) === PAD ? 2 : 1) : 0;
  const size = (length / 4) * 3 - padding;
  if (size > maxBytes) throw new PayloadError("bad-base64", `base64 text decodes to ${size} bytes, more than ${maxBytes}`);

  const out = new Uint8Array(size);
  const fullEnd = padding === 0 ? length : length - 4; // whole quads, no padding inside
  let o = 0;
  for (let from = 0; from < fullEnd; from += 4 * QUADS_PER_STEP) {
    if (from > 0) yield from;
    const to = Math.min(fullEnd, from + 4 * QUADS_PER_STEP);
    for (let i = from; i < to; i += 4) {
      const a = DECODE_UNIT[b64.charCodeAt(i)]!;
      const b = DECODE_UNIT[b64.charCodeAt(i + 1)]!;
      const c = DECODE_UNIT[b64.charCodeAt(i + 2)]!;
      const d = DECODE_UNIT[b64.charCodeAt(i + 3)]!;
      if ((a | b | c | d) > 63) throw illegal(b64, i);
      const n = (a << 18) | (b << 12) | (c << 6) | d;
      out[o++] = n >>> 16;
      out[o++] = (n >>> 8) & 0xff;
      out[o++] = n & 0xff;
    }
  }
  if (padding > 0) {
    const a = DECODE_UNIT[b64.charCodeAt(fullEnd)]!;
    const b = DECODE_UNIT[b64.charCodeAt(fullEnd + 1)]!;
    const c = padding === 1 ? DECODE_UNIT[b64.charCodeAt(fullEnd + 2)]! : 0;
    if ((a | b | c) > 63) throw illegal(b64, fullEnd);
    if (padding === 2 ? (b & 0x0f) !== 0 : (c & 0x03) !== 0) {
      throw new PayloadError("bad-base64", "non-canonical base64 (stray bits before the padding)");
    }
    const n = (a << 18) | (b << 12) | (c << 6);
    out[o++] = n >>> 16;
    if (padding === 1) out[o++] = (n >>> 8) & 0xff;
  }
  return out;
}

function illegal(text: string, quad: number): PayloadError {
  for (let i = quad; i < quad + 4; i++) {
    const unit = text.charCodeAt(i);
    if (DECODE_UNIT[unit] === 255) {
      if (unit > 0x7f) return new PayloadError("bad-base64", `non-ASCII character in base64 text at ${i}`);
      return new PayloadError("bad-base64", unit === PAD ? `misplaced base64 padding at ${i}` : `illegal base64 character at ${i}`);
    }
  }
  return new PayloadError("bad-base64", "malformed base64");
}

/** Compares two byte strings without an early exit. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
