// End-to-end encryption of a mail before it goes to an upload service (docs/protocol.md §4): AES-256-GCM with a fresh
// random 256-bit key and 96-bit IV per mail, the 128-bit tag appended to the ciphertext (WebCrypto's layout). The
// upload service only ever sees ciphertext; the key, IV and the SHA-256 of the plaintext travel in the XMPP stanza.
// Host-free: WebCrypto (globalThis.crypto), Uint8Array and TextEncoder/TextDecoder only, so it runs in Node and in Thunderbird alike.

import { Base64Error, base64Length, decodeBase64Strict, encodeBase64 } from "./base64.js";

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
  const keyBytes = decodeField(params.key, KEY_BYTES + 2);
  const iv = decodeField(params.iv, IV_BYTES + 2);
  if (keyBytes.length !== KEY_BYTES) throw new PayloadError("bad-key", `the key must be ${KEY_BYTES} bytes`);
  if (iv.length !== IV_BYTES) throw new PayloadError("bad-iv", `the IV must be ${IV_BYTES} bytes`);
  if (typeof params.sha256 !== "string" || params.sha256.length !== base64Length(SHA256_BYTES)) {
    throw new PayloadError("bad-base64", "the SHA-256 must be 32 bytes in base64");
  }
  const expected = decodeField(params.sha256, SHA256_BYTES + 2);
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

/** Strict base64 (core/base64.ts), its refusal reported as PayloadError("bad-base64"). */
function decodeField(b64: string, maxBytes: number): Uint8Array {
  try {
    return decodeBase64Strict(b64, maxBytes);
  } catch (error) {
    if (error instanceof Base64Error) throw new PayloadError("bad-base64", error.message);
    throw error;
  }
}

/** Compares two byte strings without an early exit. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
