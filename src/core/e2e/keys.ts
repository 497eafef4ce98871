// Device keys of end-to-end encryption (docs/protocol.md §10.3): each installation of the add-on is a device with two
// P-256 key pairs, one for ECDH key agreement and one for ECDSA signatures. Private keys are made non-extractable
// CryptoKeys (they can be stored as such in the extension's IndexedDB: structured clone keeps a CryptoKey without
// exposing its bytes); only the public halves leave the device, as raw uncompressed points in base64.
// Why P-256 and not X25519/Ed25519: Thunderbird 128 ESR is Gecko 128, and Gecko's WebCrypto gained Ed25519 in 129 and
// X25519 in 130; P-256 ECDH/ECDSA have been in every Gecko since 34. See docs/protocol.md §10.2.

import { Base64Error, base64Length, decodeBase64Strict, encodeBase64 } from "../base64.js";
import { ByteWriter, E2eError, buf, sha256, subtle, toHex } from "./primitives.js";

/** An uncompressed P-256 point: 0x04 || X (32) || Y (32). */
export const P256_POINT_BYTES = 65;
/** Device id: the first 16 octets of the key hash, lowercase hex. */
export const DEVICE_ID_LENGTH = 32;
const DEVICE_ID = /^[0-9a-f]{32}$/;
const DEVICE_LABEL = "mox-e2e-v1 device";

const ECDH = { name: "ECDH", namedCurve: "P-256" } as const;
const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;

/** The public half of a device as it is published (the `<device/>` element's attributes, docs/protocol.md §10.3). */
export interface DevicePublicKeys {
  /** 32 lowercase hex digits, derived from the two keys (deviceIdOf). */
  readonly id: string;
  /** base64 of the ECDH P-256 public key, uncompressed point (88 characters). */
  readonly agree: string;
  /** base64 of the ECDSA P-256 public key, uncompressed point (88 characters). */
  readonly sign: string;
}

/** This device: its public keys and its two non-extractable private keys. */
export interface DeviceKeyPair {
  readonly public: DevicePublicKeys;
  readonly agreePrivate: CryptoKey;
  readonly signPrivate: CryptoKey;
}

/** A peer device's public keys, checked and imported. */
export interface DeviceKeys {
  readonly public: DevicePublicKeys;
  readonly agreeRaw: Uint8Array;
  readonly agree: CryptoKey;
  readonly verify: CryptoKey;
}

/** Makes a new device: two P-256 key pairs, private halves non-extractable. */
export async function generateDeviceKeys(): Promise<DeviceKeyPair> {
  const [agreePair, signPair] = await Promise.all([
    subtle().generateKey(ECDH, false, ["deriveBits"]) as Promise<CryptoKeyPair>,
    subtle().generateKey(ECDSA, false, ["sign", "verify"]) as Promise<CryptoKeyPair>,
  ]);
  const [agreeRaw, signRaw] = await Promise.all([
    subtle().exportKey("raw", agreePair.publicKey),
    subtle().exportKey("raw", signPair.publicKey),
  ]);
  const agree = new Uint8Array(agreeRaw);
  const sign = new Uint8Array(signRaw);
  return {
    public: { id: await deviceIdOf(agree, sign), agree: encodeBase64(agree), sign: encodeBase64(sign) },
    agreePrivate: agreePair.privateKey,
    signPrivate: signPair.privateKey,
  };
}

/** The canonical bytes of a device's public keys: what its id and fingerprint are hashes of. */
function canonicalKeys(agree: Uint8Array, sign: Uint8Array): Uint8Array {
  return new ByteWriter().field(DEVICE_LABEL).field(agree).field(sign).bytes();
}

/** The device id: the first 16 octets of SHA-256 over the canonical public keys, in lowercase hex. */
export async function deviceIdOf(agree: Uint8Array, sign: Uint8Array): Promise<string> {
  return toHex((await sha256(canonicalKeys(agree, sign))).subarray(0, DEVICE_ID_LENGTH / 2));
}

export function isDeviceId(id: unknown): id is string {
  return typeof id === "string" && DEVICE_ID.test(id);
}

function decodePoint(text: unknown, what: string): Uint8Array {
  if (typeof text !== "string" || text.length !== base64Length(P256_POINT_BYTES)) {
    throw new E2eError("malformed", `the ${what} key must be ${P256_POINT_BYTES} octets in base64`);
  }
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64Strict(text, P256_POINT_BYTES);
  } catch (error) {
    if (error instanceof Base64Error) throw new E2eError("malformed", `the ${what} key: ${error.message}`);
    throw error;
  }
  if (bytes.length !== P256_POINT_BYTES || bytes[0] !== 0x04) {
    throw new E2eError("malformed", `the ${what} key is not an uncompressed P-256 point`);
  }
  return bytes;
}

/**
 * Checks and imports a peer device's published keys: strict base64 of exactly 65 octets each, uncompressed points that
 * WebCrypto accepts as points of P-256 (importKey validates the point), and an id equal to the one the keys give.
 * Every refusal is E2eError("malformed") saying what is wrong.
 */
export async function parseDevicePublicKeys(input: { readonly id?: unknown; readonly agree?: unknown; readonly sign?: unknown }): Promise<DeviceKeys> {
  if (!isDeviceId(input.id)) throw new E2eError("malformed", `a device id is ${DEVICE_ID_LENGTH} lowercase hex digits`);
  const agreeRaw = decodePoint(input.agree, "agreement");
  const signRaw = decodePoint(input.sign, "signature");
  let agree: CryptoKey;
  let verify: CryptoKey;
  try {
    agree = await subtle().importKey("raw", buf(agreeRaw), ECDH, true, []);
  } catch {
    throw new E2eError("malformed", "the agreement key is not a point of P-256");
  }
  try {
    verify = await subtle().importKey("raw", buf(signRaw), ECDSA, true, ["verify"]);
  } catch {
    throw new E2eError("malformed", "the signature key is not a point of P-256");
  }
  if ((await deviceIdOf(agreeRaw, signRaw)) !== input.id) {
    throw new E2eError("malformed", "the device id does not match the device's keys");
  }
  return { public: { id: input.id, agree: input.agree as string, sign: input.sign as string }, agreeRaw, agree, verify };
}

/** Groups of five digits in a fingerprint. */
export const FINGERPRINT_GROUPS = 8;

/**
 * The fingerprint two people compare, read aloud or side by side: SHA-256 over the canonical public keys, as 8 groups
 * of 5 decimal digits ("12345 67890 …", ≈ 133 bits). Each group is a 4-octet big-endian slice of the hash modulo
 * 100,000. Digits because they read the same in every language and script and have no look-alikes (0/O, 1/l); groups
 * of five as in Signal's safety numbers, which people already compare this way.
 */
export async function fingerprint(keys: DevicePublicKeys): Promise<string> {
  const hash = await sha256(canonicalKeys(decodePoint(keys.agree, "agreement"), decodePoint(keys.sign, "signature")));
  const view = new DataView(hash.buffer, hash.byteOffset, hash.byteLength);
  const groups: string[] = [];
  for (let i = 0; i < FINGERPRINT_GROUPS; i++) groups.push(String(view.getUint32(i * 4) % 100_000).padStart(5, "0"));
  return groups.join(" ");
}
