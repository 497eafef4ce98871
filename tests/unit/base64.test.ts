// The strict base64 that carries the mail payload, its key, IV and hash (moved from payload-crypto.test.ts with the
// codec, from core/payload-crypto.ts to core/base64.ts; its error is Base64Error now, code "bad-base64" as before).
import { describe, expect, it } from "vitest";
import { Base64Error, decodeBase64Strict, encodeBase64 } from "../../src/core/base64.js";

const MiB = 1024 * 1024;

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call
  for (let i = 0; i < n; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

function throwsBase64Error(fn: () => unknown): void {
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected Base64Error(bad-base64)").toBeInstanceOf(Base64Error);
  expect((caught as Base64Error).code).toBe("bad-base64");
}

describe("base64", () => {
  it("encodeBase64 of 5 MiB equals Node's Buffer base64 (no call-stack overflow)", () => {
    const bytes = randomBytes(5 * MiB);
    const t0 = performance.now();
    const text = encodeBase64(bytes);
    const ms = performance.now() - t0;
    expect(text).toBe(Buffer.from(bytes).toString("base64"));
    console.log(`[measure] encodeBase64 5 MiB: ${ms.toFixed(1)} ms`);
  });

  it("encodeBase64 and decodeBase64Strict agree with Buffer around padding and chunk boundaries", () => {
    for (const n of [0, 1, 2, 3, 4, 5, 6, 7, 100, 8191, 8192, 8193, 24575, 24576, 24577, 49152, 65537]) {
      const bytes = randomBytes(n);
      const expected = Buffer.from(bytes).toString("base64");
      expect(encodeBase64(bytes), `encode ${n}`).toBe(expected);
      expect(Buffer.from(decodeBase64Strict(expected, n)).equals(Buffer.from(bytes)), `decode ${n}`).toBe(true);
    }
    // a view into a larger buffer encodes only its own bytes
    const big = randomBytes(100);
    expect(encodeBase64(big.subarray(10, 20))).toBe(Buffer.from(big.subarray(10, 20)).toString("base64"));
  });

  it("decodes 5 MiB strictly and quickly", () => {
    const bytes = randomBytes(5 * MiB);
    const text = Buffer.from(bytes).toString("base64");
    const t0 = performance.now();
    const decoded = decodeBase64Strict(text, 5 * MiB);
    const ms = performance.now() - t0;
    expect(Buffer.from(decoded).equals(Buffer.from(bytes))).toBe(true);
    console.log(`[measure] decodeBase64Strict 5 MiB: ${ms.toFixed(1)} ms`);
  });

  it.each([
    ["illegal character", "QUJD*A==", 100],
    ["URL-safe alphabet", "ab-_", 100],
    ["non-ASCII", "QUJDé===".slice(0, 8), 100],
    ["embedded space", "QUJD REVG", 100],
    ["trailing newline", "QUJD\n", 100],
    ["CRLF line break", "QUJD\r\nREVG", 100],
    ["missing padding", "QUI", 100],
    ["unpadded tail", "QUJDRA", 100],
    ["too much padding", "Q===", 100],
    ["only padding", "====", 100],
    ["padding in the middle", "QQ==QUJD", 100],
    ["padding then data", "QQ=A", 100],
    ["leading padding", "=QUJ", 100],
    ["non-canonical stray bits (2 pad)", "QR==", 100],
    ["non-canonical stray bits (1 pad)", "QUN=", 100],
    ["decodes past maxBytes", "QUJDRA==", 3],
    ["longer than maxBytes allows", "QUJDREVG", 5],
  ])("rejects %s", (_label, text, max) => {
    throwsBase64Error(() => decodeBase64Strict(text, max));
  });

  it("accepts the exact limit and canonical padding", () => {
    expect(Array.from(decodeBase64Strict("QUJDRA==", 4))).toEqual([65, 66, 67, 68]);
    expect(Array.from(decodeBase64Strict("QUJDREU=", 5))).toEqual([65, 66, 67, 68, 69]);
    expect(Array.from(decodeBase64Strict("QUJD", 3))).toEqual([65, 66, 67]);
    expect(decodeBase64Strict("", 0)).toHaveLength(0);
  });

  it("refuses oversize input by its length, without decoding or scanning it", () => {
    // 64 Mi characters of which the first is already illegal: the length check must come first, and be instant.
    const huge = "!".padEnd(64 * MiB, "A");
    const t0 = performance.now();
    let caught: unknown = null;
    try {
      decodeBase64Strict(huge, 1024);
    } catch (e) {
      caught = e;
    }
    const ms = performance.now() - t0;
    expect(caught).toBeInstanceOf(Base64Error);
    expect((caught as Base64Error).code).toBe("bad-base64");
    expect((caught as Base64Error).message).toMatch(/exceeds the limit/);
    expect(ms).toBeLessThan(20);
  });
});
