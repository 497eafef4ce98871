import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeBase64Strict, encodeBase64 } from "../../src/core/base64.js";
import {
  DEFAULT_MAX_AGE_MS,
  decodeExternalKeys,
  encodeExternalKeys,
  envelopeTranscript,
  MAX_RECIPIENT_DEVICES,
  openEnvelope,
  sealEnvelope,
  signEnvelope,
  type Envelope,
  type OpenParams,
} from "../../src/core/e2e/envelope.js";
import { generateDeviceKeys, parseDevicePublicKeys, type DeviceKeyPair, type DeviceKeys } from "../../src/core/e2e/keys.js";
import { E2eError } from "../../src/core/e2e/primitives.js";
import { openPayload, sealPayload } from "../../src/core/payload-crypto.js";

const NOW = Date.parse("2026-12-03T08:00:00.000Z");
const MAIL = new TextEncoder().encode("From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Hi\r\n\r\nHello Bob\r\n");

interface Device {
  pair: DeviceKeyPair;
  pub: DeviceKeys;
}
async function device(): Promise<Device> {
  const pair = await generateDeviceKeys();
  return { pair, pub: await parseDevicePublicKeys(pair.public) };
}

let alice1: Device, alice2: Device, bob1: Device, bob2: Device, bob3: Device, carol: Device;
beforeAll(async () => {
  [alice1, alice2, bob1, bob2, bob3, carol] = await Promise.all([device(), device(), device(), device(), device(), device()]);
});

function seal(overrides: Partial<Parameters<typeof sealEnvelope>[0]> = {}): Promise<Envelope> {
  return sealEnvelope({
    payload: MAIL,
    kind: "inline",
    from: "alice@example.org",
    to: "bob@example.org",
    originId: "oid-1",
    now: NOW,
    sender: alice1.pair,
    recipientDevices: [bob1.pub, bob2.pub, bob3.pub],
    senderDevices: [alice2.pub],
    ...overrides,
  });
}

function openAs(me: Device, envelope: unknown, overrides: Partial<OpenParams> = {}) {
  const mine = me === alice1 || me === alice2;
  return openEnvelope(envelope, {
    me: me.pair,
    myJid: mine ? "alice@example.org" : "bob@example.org",
    stanza: { from: "alice@example.org", to: "bob@example.org", originId: "oid-1" },
    senderDevices: [alice1.pub, alice2.pub],
    now: NOW + 5_000,
    maxPlainBytes: 1 << 20,
    ...overrides,
  });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    if (error instanceof E2eError) return error.code;
    throw error;
  }
  return "ok";
}

function flip(b64: string, index = 5): string {
  const bytes = decodeBase64Strict(b64, 1 << 10).slice();
  bytes[index]! ^= 0x01;
  return encodeBase64(bytes);
}

describe("e2e envelope: round trip", () => {
  it("one recipient device reads the mail", async () => {
    const e = await seal({ recipientDevices: [bob1.pub], senderDevices: [] });
    expect(e.recipients).toHaveLength(1);
    expect(e.ciphertext.length).toBe(MAIL.length + 16);
    const opened = await openAs(bob1, e);
    expect(opened.payload).toEqual(MAIL);
    expect(opened).toMatchObject({ kind: "inline", copy: "recipient", sealedAt: NOW });
    expect(opened.senderDevice?.public.id).toBe(alice1.pair.public.id);
    expect(opened.verified).toBe(true);
  });

  it("each of three recipient devices and the sender's own second device read it; the ciphertext does not hold the mail", async () => {
    const e = await seal();
    for (const d of [bob1, bob2, bob3]) expect((await openAs(d, e)).payload).toEqual(MAIL);
    const own = await openAs(alice2, e);
    expect(own.payload).toEqual(MAIL);
    expect(own.copy).toBe("sender");
    expect(Buffer.from(e.ciphertext).includes(Buffer.from("Hello Bob"))).toBe(false);
  });

  it("a device that was not listed, or the sending device itself, cannot open it", async () => {
    const e = await seal();
    expect(await code(openAs(carol, e, { myJid: "bob@example.org" }))).toBe("not-for-this-device");
    expect(await code(openAs(alice1, e))).toBe("not-for-this-device");
  });

  it("two seals of the same mail share no bytes of ciphertext, key or ephemeral key", async () => {
    const [a, b] = await Promise.all([seal(), seal()]);
    expect(a.ephemeralKey).not.toBe(b.ephemeralKey);
    expect(a.iv).not.toBe(b.iv);
    expect(a.recipients[0]!.wrap).not.toBe(b.recipients[0]!.wrap);
    expect(Buffer.from(a.ciphertext).equals(Buffer.from(b.ciphertext))).toBe(false);
  });

  it("carries an uploaded mail's key block, which opens today's payload-crypto ciphertext", async () => {
    const sealed = await sealPayload(MAIL);
    const e = await seal({ kind: "external", payload: encodeExternalKeys(sealed) });
    const opened = await openAs(bob2, e);
    expect(opened.kind).toBe("external");
    expect(await openPayload(sealed.ciphertext, decodeExternalKeys(opened.payload), 1 << 20)).toEqual(MAIL);
    expect(await code(Promise.resolve().then(() => decodeExternalKeys(new Uint8Array(75))))).toBe("malformed");
  });
});

describe("e2e envelope: tampering", () => {
  it("a flipped byte anywhere a server could flip it is bad-signature", async () => {
    const e = await seal();
    const ct = e.ciphertext.slice();
    ct[0]! ^= 1;
    const variants: Envelope[] = [
      { ...e, ciphertext: ct },
      { ...e, recipients: [{ ...e.recipients[0]!, wrap: flip(e.recipients[0]!.wrap) }, ...e.recipients.slice(1)] },
      { ...e, senderCopies: [{ ...e.senderCopies[0]!, wrap: flip(e.senderCopies[0]!.wrap) }] },
      { ...e, signature: flip(e.signature, 40) },
      { ...e, iv: flip(e.iv, 0) },
      { ...e, ephemeralKey: flip(e.ephemeralKey, 10) },
      { ...e, timestamp: "2026-12-03T08:00:00.001Z" },
      { ...e, kind: "external" },
      { ...e, originId: "oid-2" },
      { ...e, to: "mallory@example.org" },
      { ...e, from: "mallory@example.org" },
      // A device of the recipient dropped from the list, or two swapped.
      { ...e, recipients: e.recipients.slice(0, 2) },
      { ...e, recipients: [e.recipients[1]!, e.recipients[0]!, e.recipients[2]!] },
    ];
    for (const v of variants) expect(await code(openAs(bob1, v)), JSON.stringify(v.timestamp)).toBe("bad-signature");
  });

  it("a signature by another device of the same JID does not pass for the named one", async () => {
    const e = await seal();
    const forged = { ...e, signature: await signEnvelope(e, alice2.pair.signPrivate) };
    expect(await code(openAs(bob1, forged))).toBe("bad-signature");
    // …and naming the device that did sign it works: the device id is part of what is signed.
    const honest = { ...e, senderDevice: alice2.pair.public.id };
    expect(await code(openAs(bob1, { ...honest, signature: await signEnvelope(honest, alice2.pair.signPrivate) }))).toBe("ok");
  });

  it("a sender device the receiver does not know is unknown-sender-device (a server cannot slip in its own key)", async () => {
    const e = await seal({ sender: carol.pair });
    expect(await code(openAs(bob1, e))).toBe("unknown-sender-device");
    // Even with carol's key announced under alice's JID, the signature binds carol's device id to nothing alice pinned:
    // the trust layer (trust.ts) is what reports such a device as changed.
  });

  it("signed by the genuine sender but not decryptable is tampered (wrapped key, ciphertext)", async () => {
    const e = await seal();
    const badWrap = { ...e, recipients: [{ ...e.recipients[0]!, wrap: flip(e.recipients[0]!.wrap) }, ...e.recipients.slice(1)] };
    expect(await code(openAs(bob1, { ...badWrap, signature: await signEnvelope(badWrap, alice1.pair.signPrivate) }))).toBe("tampered");
    // bob2's copy in that same envelope is still fine.
    expect(await code(openAs(bob2, { ...badWrap, signature: await signEnvelope(badWrap, alice1.pair.signPrivate) }))).toBe("ok");
    const ct = e.ciphertext.slice();
    ct[ct.length - 1]! ^= 1;
    const badCt = { ...e, ciphertext: ct };
    expect(await code(openAs(bob1, { ...badCt, signature: await signEnvelope(badCt, alice1.pair.signPrivate) }))).toBe("tampered");
  });
});

describe("e2e envelope: opening what cannot be verified (to file it as from an unverified sender)", () => {
  it("decrypts a bad signature or an unknown sender device only when asked, and says so", async () => {
    const e = await seal();
    const badSig = { ...e, signature: flip(e.signature, 40) };
    const opened = await openAs(bob1, badSig, { unverified: "open-unverified" });
    expect(opened).toMatchObject({ verified: false, unverifiedReason: "bad-signature", payload: MAIL });
    expect(opened.senderDevice).toBeUndefined();
    const unknown = await openAs(bob1, e, { senderDevices: [], unverified: "open-unverified" });
    expect(unknown).toMatchObject({ verified: false, unverifiedReason: "unknown-sender-device", payload: MAIL });
    // The other checks still apply.
    expect(await code(openAs(bob1, badSig, { unverified: "open-unverified", stanza: { from: "alice@example.org", to: "bob@example.org", originId: "x" } }))).toBe("replay");
    expect(await code(openAs(carol, badSig, { unverified: "open-unverified" }))).toBe("not-for-this-device");
    const ct = e.ciphertext.slice();
    ct[0]! ^= 1;
    expect(await code(openAs(bob1, { ...e, ciphertext: ct }, { unverified: "open-unverified" }))).toBe("tampered");
  });
});

describe("e2e envelope: bindings and replay", () => {
  it("the same envelope in a stanza with another origin-id is replay", async () => {
    const e = await seal();
    expect(await code(openAs(bob1, e, { stanza: { from: "alice@example.org", to: "bob@example.org", originId: "oid-2" } }))).toBe("replay");
  });

  it("the same envelope sent to another recipient, or from another sender, is misdirected", async () => {
    const e = await seal();
    expect(await code(openAs(bob1, e, { stanza: { from: "alice@example.org", to: "carol@example.org", originId: "oid-1" } }))).toBe("misdirected");
    expect(await code(openAs(bob1, e, { stanza: { from: "mallory@example.org", to: "bob@example.org", originId: "oid-1" } }))).toBe("misdirected");
    // A device listed as bob's but opening as another account.
    expect(await code(openAs(bob1, e, { myJid: "carol@example.org" }))).toBe("misdirected");
    // The sender's copy opened by a device of another account.
    expect(await code(openAs(alice2, e, { myJid: "bob@example.org" }))).toBe("misdirected");
  });

  it("outside the time window is replay-window; inside it is fine", async () => {
    const e = await seal();
    expect(await code(openAs(bob1, e, { now: NOW + DEFAULT_MAX_AGE_MS + 1 }))).toBe("replay-window");
    expect(await code(openAs(bob1, e, { now: NOW + DEFAULT_MAX_AGE_MS }))).toBe("ok");
    expect(await code(openAs(bob1, e, { now: NOW - 25 * 3600_000 }))).toBe("replay-window");
    expect(await code(openAs(bob1, e, { now: NOW - 1000, maxFutureMs: 0 }))).toBe("replay-window");
  });
});

describe("e2e envelope: bounds and shape", () => {
  it("refuses malformed envelopes before any crypto", async () => {
    const e = await seal();
    const cases: unknown[] = [
      null,
      "envelope",
      {},
      { ...e, kind: "other" },
      { ...e, originId: "" },
      { ...e, originId: "a b" },
      { ...e, originId: "x".repeat(129) },
      { ...e, from: "alice@example.org/tb" },
      { ...e, to: "" },
      { ...e, to: "b".repeat(3072) },
      { ...e, senderDevice: "nope" },
      { ...e, timestamp: "2026-12-03T08:00:00Z" },
      { ...e, timestamp: "2026-02-30T08:00:00.000Z" },
      { ...e, timestamp: "1969-12-31T23:59:59.999Z" },
      { ...e, to: "bob\uD800@example.org" },
      { ...e, from: "\uDC00alice@example.org" },
      { ...e, iv: e.iv + "AAAA" },
      { ...e, ephemeralKey: e.ephemeralKey.replace(/.$/, "\n") },
      { ...e, signature: "" },
      { ...e, ciphertext: new Uint8Array(15) },
      { ...e, ciphertext: Array.from(e.ciphertext) },
      { ...e, recipients: [] },
      { ...e, recipients: "x" },
      { ...e, recipients: [e.recipients[0], e.recipients[0]] },
      { ...e, senderCopies: [{ device: e.recipients[0]!.device, wrap: e.senderCopies[0]!.wrap }] },
      { ...e, recipients: Array.from({ length: MAX_RECIPIENT_DEVICES + 1 }, () => e.recipients[0]) },
      { ...e, recipients: [{ device: e.recipients[0]!.device, wrap: e.recipients[0]!.wrap.slice(4) }] },
    ];
    for (const c of cases) expect(await code(openAs(bob1, c)), JSON.stringify(c)?.slice(0, 80)).toBe("malformed");
  });

  it("refuses a payload over the receiver's limit from the ciphertext's length", async () => {
    const e = await seal();
    expect(await code(openAs(bob1, e, { maxPlainBytes: MAIL.length - 1 }))).toBe("malformed");
    expect(await code(openAs(bob1, e, { maxPlainBytes: MAIL.length }))).toBe("ok");
  });

  it("refuses to seal for no device, too many devices, a device twice or a bad origin-id", async () => {
    expect(await code(seal({ recipientDevices: [] }))).toBe("malformed");
    expect(await code(seal({ recipientDevices: Array.from({ length: MAX_RECIPIENT_DEVICES + 1 }, () => bob1.pub) }))).toBe("malformed");
    expect(await code(seal({ recipientDevices: [bob1.pub], senderDevices: [bob1.pub] }))).toBe("malformed");
    expect(await code(seal({ originId: "has space" }))).toBe("malformed");
    expect(await code(seal({ now: Number.NaN }))).toBe("malformed");
    expect(await code(seal({ now: -1 }))).toBe("malformed");
    // Well-formed non-ASCII JIDs are fine (a surrogate pair included).
    expect(await code(seal({ to: "bö\uD83D\uDE00@example.org" }))).toBe("ok");
  });

  it("the transcript's layout: label, then length-prefixed fields in the documented order", async () => {
    const e = await seal({ recipientDevices: [bob1.pub], senderDevices: [] });
    const t = await envelopeTranscript(e);
    const view = new DataView(t.buffer, t.byteOffset, t.byteLength);
    const fields: Uint8Array[] = [];
    let o = 0;
    const field = () => {
      const n = view.getUint32(o);
      fields.push(t.subarray(o + 4, o + 4 + n));
      o += 4 + n;
    };
    for (let i = 0; i < 6; i++) field();
    const ms = view.getUint32(o) * 2 ** 32 + view.getUint32(o + 4);
    o += 8;
    for (let i = 0; i < 3; i++) field();
    expect(view.getUint32(o)).toBe(1);
    o += 4;
    field();
    field();
    expect(view.getUint32(o)).toBe(0);
    expect(o + 4).toBe(t.length);
    const text = fields.slice(0, 6).map((f) => new TextDecoder().decode(f));
    expect(text).toEqual(["mox-e2e-v1 mail", "inline", "alice@example.org", alice1.pair.public.id, "bob@example.org", "oid-1"]);
    expect(ms).toBe(NOW);
    expect(fields[6]).toEqual(decodeBase64Strict(e.ephemeralKey, 65));
    expect(fields[7]).toEqual(decodeBase64Strict(e.iv, 12));
    expect(Buffer.from(fields[8]!).toString("hex")).toBe(createHash("sha256").update(e.ciphertext).digest("hex"));
    expect(new TextDecoder().decode(fields[9])).toBe(bob1.pair.public.id);
    expect(fields[10]).toEqual(decodeBase64Strict(e.recipients[0]!.wrap, 48));
  });
});

/**
 * A fixed envelope (docs/protocol.md §10, Appendix A): sealed once by this code and opened independently by a separate
 * implementation written from the text (Python, pyca/cryptography). Opening it here pins the wire format — transcript
 * layout, HKDF info, wrap AAD — against later changes.
 */
const VECTOR = {
  "sender": {
    "id": "ed09d80f118e18f404b5249d231afd85",
    "agree": "BK7+fROA/J2IQmVRipPQK18hNbtriP9IU/MJdT+UeVSCPSiz9bZi1Tv/Bv/BoptNS28MttGvzLiY3J8xelVFgwg=",
    "sign": "BN4GOzsE+HTgjw6OorlyniJHxUG4c+rFpWcb2BEiauZXvwzv/WbhmtSgK7ubD/FwaWS/GHtpvtgLhfCq+t3YkBE="
  },
  "recipient": {
    "id": "f81a61373f4027a17012b7a2eee598b7",
    "agree": "BBR8tmLYkufOvQem150GeMjmh95MHgszfJYHiRsvfEYzBYbmftIEOMoGSb0Eo2bZimRm1WujKSjDakQl5udY5xI=",
    "sign": "BDStD+lr0SOT9/S0X7PRfRpivqwo7A3p0ujHS5wRKkP5reBbjFfC54Bk0qcUzP9D/i7TZfBVLvzxQK/Ves0pn+g="
  },
  "recipientAgreePrivateD": "UEAYhEtv95UMRW0bObeb0sVNa0vdKwyODYHUyJqiqjY",
  "payload": "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Test vector\r\n\r\nHello Bob\r\n",
  "envelope": {
    "kind": "inline",
    "from": "alice@example.org",
    "senderDevice": "ed09d80f118e18f404b5249d231afd85",
    "to": "bob@example.org",
    "originId": "vector-1",
    "timestamp": "2026-12-03T08:00:00.000Z",
    "ephemeralKey": "BLQjFKhMGahReYYjtB/F4bnjDJ29vqKVRxFtJNSd8wqFQD8Ico3WZxSepVMjPIm8p7Z8uXKvb69N4Z5aivtdxVM=",
    "iv": "pmhtDCWCVIrJ4HUX",
    "recipients": [
      {
        "device": "f81a61373f4027a17012b7a2eee598b7",
        "wrap": "B8cEBwBd2oOP/v57qVmZiN0Y00/ZcqLR4bOL8srtIuH4Vz/4gcDXqcEbQSrnezGw"
      }
    ],
    "senderCopies": [],
    "ciphertext": "dyVN2IlAEESka2HWz1H/DJqqq0hljL0UhLCx8O8lFqAPrEuKWYPqjFdoyNfRJ5KouYfBFwmtakG38/FQ2EvfcQoxgVgKyqF9iNP3cwMx/TtuXNtFVma9YYkk10WBkpmcT3FITfsJjGUD",
    "signature": "LFVpyQWpO4Hf/7x7E9qSjd1kEyPNkD5AiMvbPJHHYyPVp5NiQgJdzPGSjmIl+bM7jo2ODtmMxXPRX6ZNJUOo9w=="
  }
} as const;

describe("e2e envelope: the test vector of docs/protocol.md §10", () => {
  async function bobFromVector(): Promise<DeviceKeyPair> {
    const point = decodeBase64Strict(VECTOR.recipient.agree, 65);
    const b64url = (bytes: Uint8Array) => encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const jwk = { kty: "EC", crv: "P-256", x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)), d: VECTOR.recipientAgreePrivateD };
    const agreePrivate = await crypto.subtle.importKey("jwk", jwk, { name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
    return { public: VECTOR.recipient, agreePrivate, signPrivate: (await generateDeviceKeys()).signPrivate };
  }
  const envelope = () => ({ ...VECTOR.envelope, ciphertext: decodeBase64Strict(VECTOR.envelope.ciphertext, 1 << 10) });
  const params = async (): Promise<OpenParams> => ({
    me: await bobFromVector(),
    myJid: "bob@example.org",
    stanza: { from: "alice@example.org", to: "bob@example.org", originId: "vector-1" },
    senderDevices: [await parseDevicePublicKeys(VECTOR.sender)],
    now: Date.parse(VECTOR.envelope.timestamp) + 1000,
    maxPlainBytes: 1 << 10,
  });

  it("opens to the vector's mail, verified", async () => {
    const opened = await openEnvelope(envelope(), await params());
    expect(new TextDecoder().decode(opened.payload)).toBe(VECTOR.payload);
    expect(opened.verified).toBe(true);
  });

  it("refuses it with one transcript field changed", async () => {
    expect(await code(openEnvelope({ ...envelope(), originId: "vector-2" }, await params()))).toBe("bad-signature");
  });
});
