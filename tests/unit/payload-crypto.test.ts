// AES-256-GCM sealing of large mail, and the strict base64 that carries its key, IV and hash.
import { describe, expect, it } from "vitest";
import { decodeBase64Strict, encodeBase64 } from "../../src/core/base64.js";
import {
  openPayload,
  PayloadError,
  sealPayload,
  SEAL_OVERHEAD_BYTES,
  sha256Base64,
  type PayloadErrorCode,
} from "../../src/core/payload-crypto.js";

const MiB = 1024 * 1024;

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call
  for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

async function rejectsWith(promise: Promise<unknown>, code: PayloadErrorCode): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PayloadError);
  expect((error as PayloadError).code).toBe(code);
}

/** Replaces the character at `index` of a base64 text with another valid base64 character. */
function alterChar(b64: string, index: number): string {
  const c = b64[index] === "A" ? "B" : "A";
  return b64.slice(0, index) + c + b64.slice(index + 1);
}

describe("sealPayload / openPayload", () => {
  it("uses a hash the caller already has instead of hashing again, and the result still opens", async () => {
    const plain = randomBytes(1000);
    const sha256 = await sha256Base64(plain);
    const sealed = await sealPayload(plain, sha256);
    expect(sealed.sha256).toBe(sha256);
    const opened = await openPayload(sealed.ciphertext, sealed, plain.length);
    expect(Buffer.from(opened).equals(Buffer.from(plain))).toBe(true);
  });

  it.each([
    ["0 B", 0],
    ["1 B", 1],
    ["5 MiB", 5 * MiB],
  ])("round-trips %s of random data", async (_label, size) => {
    const plain = randomBytes(size);
    const sealed = await sealPayload(plain);
    expect(sealed.ciphertext.length).toBe(size + 16); // GCM tag appended
    expect(sealed.ciphertext.length).toBe(size + SEAL_OVERHEAD_BYTES); // the sender asks for its slot before encrypting
    expect(sealed.sha256).toBe(await sha256Base64(plain));
    expect(decodeBase64Strict(sealed.key, 64)).toHaveLength(32);
    expect(decodeBase64Strict(sealed.iv, 64)).toHaveLength(12);
    if (size >= 16) expect(Buffer.from(sealed.ciphertext.subarray(0, 16)).equals(Buffer.from(plain.subarray(0, 16)))).toBe(false);
    const opened = await openPayload(sealed.ciphertext, sealed, size);
    expect(opened.length).toBe(size);
    expect(Buffer.from(opened).equals(Buffer.from(plain))).toBe(true);
  });

  it("sha256 is the SHA-256 of the plaintext (known vector)", async () => {
    expect(await sha256Base64(new TextEncoder().encode("abc"))).toBe("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  });

  it("uses a fresh key and IV for every seal of the same plaintext", async () => {
    const plain = new TextEncoder().encode("Subject: same\r\n\r\nsame body\r\n");
    const a = await sealPayload(plain);
    const b = await sealPayload(plain);
    expect(a.key).not.toBe(b.key);
    expect(a.iv).not.toBe(b.iv);
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false);
    expect(a.sha256).toBe(b.sha256);
  });

  it("rejects a flipped ciphertext bit, a flipped tag bit, a wrong key and a wrong IV as auth-tag", async () => {
    const plain = randomBytes(4096);
    const sealed = await sealPayload(plain);
    for (const index of [0, 2000, sealed.ciphertext.length - 1]) {
      const tampered = sealed.ciphertext.slice();
      tampered[index]! ^= 0x01;
      await rejectsWith(openPayload(tampered, sealed, 1 * MiB), "auth-tag");
    }
    const other = await sealPayload(plain);
    await rejectsWith(openPayload(sealed.ciphertext, { ...sealed, key: other.key }, 1 * MiB), "auth-tag");
    await rejectsWith(openPayload(sealed.ciphertext, { ...sealed, iv: other.iv }, 1 * MiB), "auth-tag");
  });

  it("rejects truncated ciphertext as auth-tag", async () => {
    const sealed = await sealPayload(randomBytes(1000));
    await rejectsWith(openPayload(sealed.ciphertext.subarray(0, sealed.ciphertext.length - 1), sealed, MiB), "auth-tag");
    await rejectsWith(openPayload(sealed.ciphertext.subarray(0, 500), sealed, MiB), "auth-tag");
    await rejectsWith(openPayload(sealed.ciphertext.subarray(0, 16), sealed, MiB), "auth-tag"); // tag-sized, wrong tag
    await rejectsWith(openPayload(sealed.ciphertext.subarray(0, 15), sealed, MiB), "auth-tag"); // shorter than a tag
    await rejectsWith(openPayload(new Uint8Array(0), sealed, MiB), "auth-tag");
  });

  it("rejects a wrong sha256 as hash-mismatch (after a successful decrypt)", async () => {
    const plain = randomBytes(100);
    const sealed = await sealPayload(plain);
    const wrong = await sha256Base64(new Uint8Array(100));
    await rejectsWith(openPayload(sealed.ciphertext, { ...sealed, sha256: wrong }, MiB), "hash-mismatch");
    await rejectsWith(openPayload(sealed.ciphertext, { ...sealed, sha256: alterChar(sealed.sha256, 5) }, MiB), "hash-mismatch");
  });

  it("refuses a payload above maxPlainBytes before decrypting", async () => {
    const sealed = await sealPayload(randomBytes(1000));
    await expect(openPayload(sealed.ciphertext, sealed, 1000)).resolves.toHaveLength(1000);
    await rejectsWith(openPayload(sealed.ciphertext, sealed, 999), "too-large");
  });

  it("validates key and IV lengths and the base64 of key, IV and hash", async () => {
    const sealed = await sealPayload(randomBytes(10));
    const open = (p: Partial<{ key: string; iv: string; sha256: string }>) => openPayload(sealed.ciphertext, { ...sealed, ...p }, MiB);
    await rejectsWith(open({ key: encodeBase64(randomBytes(16)) }), "bad-key"); // AES-128 key
    await rejectsWith(open({ key: encodeBase64(randomBytes(31)) }), "bad-key"); // 44 characters, 31 bytes
    await rejectsWith(open({ key: encodeBase64(randomBytes(33)) }), "bad-key");
    await rejectsWith(open({ key: "" }), "bad-key");
    await rejectsWith(open({ iv: encodeBase64(randomBytes(16)) }), "bad-iv");
    await rejectsWith(open({ iv: encodeBase64(randomBytes(11)) }), "bad-iv"); // 16 characters, 11 bytes
    await rejectsWith(open({ iv: "" }), "bad-iv");
    await rejectsWith(open({ key: sealed.key.replace(/.$/, "*") }), "bad-base64");
    await rejectsWith(open({ key: sealed.key.slice(0, 43) + "A" }), "bad-key"); // 44 chars without padding = 33 bytes
    await rejectsWith(open({ iv: sealed.iv.slice(0, 15) + "-" }), "bad-base64");
    await rejectsWith(open({ sha256: sealed.sha256.slice(0, 40) + " " + sealed.sha256.slice(41) }), "bad-base64");
    await rejectsWith(open({ sha256: "" }), "bad-base64");
  });
});
