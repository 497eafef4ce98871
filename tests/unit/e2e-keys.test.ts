import { describe, expect, it } from "vitest";
import { decodeBase64Strict, encodeBase64 } from "../../src/core/base64.js";
import { deviceIdOf, fingerprint, generateDeviceKeys, parseDevicePublicKeys } from "../../src/core/e2e/keys.js";
import { aesGcmDecrypt, aesGcmEncrypt, E2eError, hkdfSha256, toHex } from "../../src/core/e2e/primitives.js";

const hex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    if (error instanceof E2eError) return error.code;
    throw error;
  }
  return "ok";
}

describe("e2e primitives: known-answer vectors", () => {
  it("HKDF-SHA-256 gives RFC 5869 test case 1", async () => {
    const okm = await hkdfSha256(hex("0b".repeat(22)), hex("000102030405060708090a0b0c"), hex("f0f1f2f3f4f5f6f7f8f9"), 42);
    expect(toHex(okm)).toBe("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  });

  it("HKDF-SHA-256 gives RFC 5869 test case 3 (empty salt and info)", async () => {
    const okm = await hkdfSha256(hex("0b".repeat(22)), new Uint8Array(0), new Uint8Array(0), 42);
    expect(toHex(okm)).toBe("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  });

  it("AES-256-GCM gives the GCM specification's test cases 13 and 14 (zero key and IV)", async () => {
    const key = new Uint8Array(32);
    const iv = new Uint8Array(12);
    expect(toHex(await aesGcmEncrypt(key, iv, new Uint8Array(0)))).toBe("530f8afbc74536b9a963b4f1c4cb738b");
    const sealed = await aesGcmEncrypt(key, iv, new Uint8Array(16));
    expect(toHex(sealed)).toBe("cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919");
    expect(await aesGcmDecrypt(key, iv, sealed)).toEqual(new Uint8Array(16));
    sealed[3]! ^= 1;
    expect(await code(aesGcmDecrypt(key, iv, sealed))).toBe("tampered");
    expect(await code(aesGcmDecrypt(key, iv, new Uint8Array(15)))).toBe("tampered");
  });
});

describe("e2e device keys", () => {
  it("makes non-extractable private keys and a public part that parses back to the same device", async () => {
    const device = await generateDeviceKeys();
    expect(device.agreePrivate.extractable).toBe(false);
    expect(device.signPrivate.extractable).toBe(false);
    expect(device.public.id).toMatch(/^[0-9a-f]{32}$/);
    expect(device.public.agree).toHaveLength(88);
    expect(device.public.sign).toHaveLength(88);
    const parsed = await parseDevicePublicKeys(device.public);
    expect(parsed.public).toEqual(device.public);
    expect(parsed.agreeRaw).toEqual(decodeBase64Strict(device.public.agree, 65));
    // Two devices never share an id.
    expect((await generateDeviceKeys()).public.id).not.toBe(device.public.id);
  });

  it("derives the id from the keys: another id, or keys swapped, is refused", async () => {
    const { public: pub } = await generateDeviceKeys();
    const other = await generateDeviceKeys();
    expect(await code(parseDevicePublicKeys({ ...pub, id: other.public.id }))).toBe("malformed");
    expect(await code(parseDevicePublicKeys({ ...pub, sign: other.public.sign }))).toBe("malformed");
    expect(await code(parseDevicePublicKeys({ id: pub.id, agree: pub.sign, sign: pub.agree }))).toBe("malformed");
  });

  it("refuses keys that are not P-256 points, of the wrong length or not strict base64", async () => {
    const { public: pub } = await generateDeviceKeys();
    const raw = decodeBase64Strict(pub.agree, 65);
    const offCurve = raw.slice();
    offCurve[64]! ^= 1; // Y changed: no longer on the curve
    const compressed = raw.slice();
    compressed[0] = 0x02;
    const cases: Record<string, unknown>[] = [
      { ...pub, agree: encodeBase64(offCurve) },
      { ...pub, agree: encodeBase64(compressed) },
      { ...pub, agree: encodeBase64(raw.subarray(0, 33)) },
      { ...pub, agree: pub.agree.slice(0, 87) + "\n" },
      { ...pub, sign: undefined },
      { ...pub, id: pub.id.toUpperCase() },
      { ...pub, id: 42 },
      {},
    ];
    for (const c of cases) expect(await code(parseDevicePublicKeys(c))).toBe("malformed");
  });

  it("gives a stable fingerprint of 8 groups of 5 digits, fixed for fixed keys", async () => {
    // Fixed points (the P-256 generator G and 2G), so the expected text pins the hash layout.
    const g = hex("046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
    const g2 = hex("047cf27b188d034f7e8a52380304b51ac3c08969e277f21b35a60b48fc4766997807775510db8ed040293d9ac69f7430dbba7dade63ce982299e04b79d227873d1");
    const pub = { id: await deviceIdOf(g, g2), agree: encodeBase64(g), sign: encodeBase64(g2) };
    const parsed = await parseDevicePublicKeys(pub);
    const fp = await fingerprint(parsed.public);
    expect(fp).toMatch(/^\d{5}( \d{5}){7}$/);
    expect(await fingerprint(pub)).toBe(fp);
    // Expected values computed independently (Python hashlib over the layout of docs/protocol.md §10.3).
    expect(fp).toBe("30735 29267 07022 18049 38668 48115 17675 68034");
    expect(pub.id).toBe("bd80bcafc4725d131b9a73ce9e899a41");
    expect(await fingerprint({ ...pub, agree: pub.sign, sign: pub.agree })).not.toBe(fp);
  });
});
