// base64 (RFC 4648 §4: standard alphabet, padded, no line breaks): the one encoder and the one strict decoder, for
// the mail payload (inline and its key, IV and hash), MIME bodies and encoded words, SCRAM and entity caps.

import { runInSlices, runToEnd, type SliceOptions, type Steps } from "./slices.js";

/** Text the strict decoder refuses (or a length over its limit). */
export class Base64Error extends Error {
  override readonly name = "Base64Error";
  readonly code = "bad-base64";
}


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
export function base64Length(bytes: number): number {
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
 * before padding (so each byte string has exactly one accepted encoding). Throws Base64Error.
 */
export function decodeBase64Strict(b64: string, maxBytes: number): Uint8Array<ArrayBuffer> {
  return runToEnd(decodeSteps(b64, maxBytes));
}

/**
 * `decodeBase64Strict` in slices with a macrotask between them (runInSlices): 25 MiB of mail take ~0.1–0.5 s to
 * decode, too long to hold the background page at once. The receiver decodes inline payloads this way.
 */
export function decodeBase64StrictSliced(b64: string, maxBytes: number, options?: SliceOptions): Promise<Uint8Array<ArrayBuffer>> {
  return runInSlices(decodeSteps(b64, maxBytes), options);
}

/** The decoder as steps; yields the number of characters read so far every QUADS_PER_STEP quads. */
function* decodeSteps(b64: string, maxBytes: number): Steps<Uint8Array<ArrayBuffer>> {
  if (typeof b64 !== "string") throw new Base64Error("base64 text expected");
  const length = b64.length;
  if (!(maxBytes >= 0)) maxBytes = 0; // NaN or negative: nothing but the empty text passes
  if (length > base64Length(maxBytes)) {
    throw new Base64Error(`base64 text of ${length} characters exceeds the limit of ${maxBytes} bytes`);
  }
  if (length % 4 !== 0) throw new Base64Error("base64 text length is not a multiple of 4");
  if (length === 0) return new Uint8Array(0);
  // The text is read by UTF-16 code unit (no copy into bytes first): anything outside the alphabet, non-ASCII
  // included, is 255 in DECODE_UNIT.
  const padding = b64.charCodeAt(length - 1) === PAD ? (b64.charCodeAt(length - 2) === PAD ? 2 : 1) : 0;
  const size = (length / 4) * 3 - padding;
  if (size > maxBytes) throw new Base64Error(`base64 text decodes to ${size} bytes, more than ${maxBytes}`);

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
      throw new Base64Error("non-canonical base64 (stray bits before the padding)");
    }
    const n = (a << 18) | (b << 12) | (c << 6);
    out[o++] = n >>> 16;
    if (padding === 1) out[o++] = (n >>> 8) & 0xff;
  }
  return out;
}

function illegal(text: string, quad: number): Base64Error {
  for (let i = quad; i < quad + 4; i++) {
    const unit = text.charCodeAt(i);
    if (DECODE_UNIT[unit] === 255) {
      if (unit > 0x7f) return new Base64Error(`non-ASCII character in base64 text at ${i}`);
      return new Base64Error(unit === PAD ? `misplaced base64 padding at ${i}` : `illegal base64 character at ${i}`);
    }
  }
  return new Base64Error("malformed base64");
}
