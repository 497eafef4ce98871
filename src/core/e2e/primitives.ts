// The WebCrypto building blocks of end-to-end encryption (docs/protocol.md §10.4): SHA-256, HKDF-SHA-256,
// AES-256-GCM and the length-prefixed byte writer the signed transcript is made of. Host-free: globalThis.crypto.subtle
// only (Node ≥ 20 and Thunderbird's extension pages both have it), so src/core stays pure.

/** Every failure of the e2e code, each with a code the caller can act on (docs/protocol.md §10.5.4). */
export type E2eErrorCode =
  | "malformed" // shape, size, encoding or a key that is not a valid P-256 point
  | "unknown-sender-device" // the envelope names a sender device the caller does not know (refresh the keys, retry)
  | "bad-signature" // the signature does not verify over the envelope as received
  | "not-for-this-device" // no wrapped key for this device in the envelope
  | "misdirected" // signed for another sender or recipient JID than the stanza's
  | "replay" // signed for another origin-id than the stanza's
  | "replay-window" // signed too long ago, or too far in the future
  | "tampered"; // signed, but the wrapped key or the ciphertext does not decrypt

export class E2eError extends Error {
  override readonly name = "E2eError";
  constructor(
    readonly code: E2eErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error("WebCrypto is not available (needs a secure context)");
  return s;
}

/** WebCrypto's typings want an ArrayBuffer-backed view; a view over a SharedArrayBuffer is copied. */
export function buf(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  return globalThis.crypto.getRandomValues(new Uint8Array(n));
}

export async function sha256(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await subtle().digest("SHA-256", buf(bytes)));
}

/** HKDF-SHA-256 (RFC 5869): `length` octets from `ikm`; an empty salt means HashLen zero octets, as the RFC says. */
export async function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array<ArrayBuffer>> {
  const key = await subtle().importKey("raw", buf(ikm), "HKDF", false, ["deriveBits"]);
  const bits = await subtle().deriveBits({ name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(info) }, key, length * 8);
  return new Uint8Array(bits);
}

export const AES_KEY_BYTES = 32;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;

function aesKey(raw: Uint8Array, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  if (raw.length !== AES_KEY_BYTES) throw new E2eError("malformed", `an AES-256 key is ${AES_KEY_BYTES} bytes`);
  return subtle().importKey("raw", buf(raw), { name: "AES-GCM" }, false, [usage]);
}

/** AES-256-GCM, 128-bit tag appended (WebCrypto's layout). */
export async function aesGcmEncrypt(key: Uint8Array, iv: Uint8Array, plain: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Promise<Uint8Array<ArrayBuffer>> {
  const k = await aesKey(key, "encrypt");
  return new Uint8Array(await subtle().encrypt({ name: "AES-GCM", iv: buf(iv), additionalData: buf(aad), tagLength: 128 }, k, buf(plain)));
}

/** AES-256-GCM decryption; a failed tag check (or a text shorter than the tag) is E2eError("tampered"). */
export async function aesGcmDecrypt(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array = new Uint8Array(0), what = "data"): Promise<Uint8Array<ArrayBuffer>> {
  const k = await aesKey(key, "decrypt");
  if (sealed.length < GCM_TAG_BYTES) throw new E2eError("tampered", `the ${what} is shorter than its tag`);
  try {
    return new Uint8Array(await subtle().decrypt({ name: "AES-GCM", iv: buf(iv), additionalData: buf(aad), tagLength: 128 }, k, buf(sealed)));
  } catch {
    throw new E2eError("tampered", `the ${what} failed authentication`);
  }
}

const UTF8 = new TextEncoder();
export function utf8(text: string): Uint8Array<ArrayBuffer> {
  return UTF8.encode(text) as Uint8Array<ArrayBuffer>;
}

/**
 * Builds the byte strings that are hashed, signed or fed to HKDF: every field is a 4-octet big-endian length and the
 * octets, every count a 4-octet big-endian number, so no two different field lists give the same bytes.
 */
export class ByteWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  field(bytes: Uint8Array | string): this {
    const b = typeof bytes === "string" ? utf8(bytes) : bytes;
    this.u32(b.length);
    this.parts.push(b);
    this.length += b.length;
    return this;
  }

  u32(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`not a 32-bit count: ${n}`);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    this.parts.push(b);
    this.length += 4;
    return this;
  }

  u64(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a 64-bit count: ${n}`);
    const b = new Uint8Array(8);
    const view = new DataView(b.buffer);
    view.setUint32(0, Math.floor(n / 2 ** 32));
    view.setUint32(4, n >>> 0);
    this.parts.push(b);
    this.length += 8;
    return this;
  }

  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** Compares two byte strings without an early exit. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}
