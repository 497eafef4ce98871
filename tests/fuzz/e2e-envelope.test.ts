// Fuzzing of the v1 end-to-end envelope (issue 15): random values and mutated genuine envelopes given to the opener
// and the device-key parser must end in an E2eError with one of the documented codes — never another exception, a
// hang, or a payload opened from an envelope that is not byte for byte the one the sender signed. MOX_FUZZ_RUNS
// scales the counts; fast-check prints the seed of a failing run for replay.
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeBase64 } from "../../src/core/base64.js";
import { checkEnvelope, openEnvelope, sealEnvelope, type Envelope, type OpenParams } from "../../src/core/e2e/envelope.js";
import { generateDeviceKeys, parseDevicePublicKeys, type DeviceKeyPair, type DeviceKeys } from "../../src/core/e2e/keys.js";
import { E2eError } from "../../src/core/e2e/primitives.js";
import { parseTrust } from "../../src/core/e2e/trust.js";

const SCALE = Number(process.env.MOX_FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** The slowest single case allowed: a handful of P-256 operations and a hash, whatever the input. */
const CASE_MS = 250;
const CODES = new Set(["malformed", "unknown-sender-device", "bad-signature", "not-for-this-device", "misdirected", "replay", "replay-window", "tampered"]);
const NOW = Date.parse("2026-12-03T08:00:00.000Z");
const MAIL = new TextEncoder().encode("From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n");
let total = 0;

let alice: DeviceKeyPair, bob: DeviceKeyPair, aliceKeys: DeviceKeys, bobKeys: DeviceKeys, genuine: Envelope, params: OpenParams;
beforeAll(async () => {
  [alice, bob] = await Promise.all([generateDeviceKeys(), generateDeviceKeys()]);
  [aliceKeys, bobKeys] = await Promise.all([parseDevicePublicKeys(alice.public), parseDevicePublicKeys(bob.public)]);
  genuine = await sealEnvelope({
    payload: MAIL,
    kind: "inline",
    from: "alice@example.org",
    to: "bob@example.org",
    originId: "o1",
    now: NOW,
    sender: alice,
    recipientDevices: [bobKeys],
    senderDevices: [],
  });
  params = {
    me: bob,
    myJid: "bob@example.org",
    stanza: { from: "alice@example.org", to: "bob@example.org", originId: "o1" },
    senderDevices: [aliceKeys],
    now: NOW,
    maxPlainBytes: 1 << 16,
  };
});

/** Runs one case; returns "ok" or the E2eError code, and fails on anything else or on a slow case. */
async function outcome(fn: () => Promise<unknown>): Promise<string> {
  const t0 = performance.now();
  total += 1;
  try {
    await fn();
    return "ok";
  } catch (error) {
    if (!(error instanceof E2eError)) throw error;
    expect(CODES.has(error.code)).toBe(true);
    return error.code;
  } finally {
    const ms = performance.now() - t0;
    if (ms > CASE_MS) throw new Error(`one case took ${ms.toFixed(0)} ms`);
  }
}

const b64 = (max: number) => fc.uint8Array({ maxLength: max }).map(encodeBase64);
// Well-formed times, years 1653–2096 (so before 1970 too), and JID-like strings with lone surrogates.
const isoTime = fc.date({ min: new Date(-1e13), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString());
const anyValue = fc.oneof(isoTime, fc.string({ unit: "binary", maxLength: 40 }), fc.string({ maxLength: 120 }), b64(100), fc.integer(), fc.constant(null), fc.constant(undefined), fc.uint8Array({ maxLength: 80 }), fc.array(fc.anything(), { maxLength: 3 }));
const FIELDS = ["kind", "from", "senderDevice", "to", "originId", "timestamp", "ephemeralKey", "iv", "recipients", "senderCopies", "ciphertext", "signature"] as const;

describe("fuzz: the v1 envelope", () => {
  it("opens the genuine envelope (the baseline the mutations start from)", async () => {
    expect(await outcome(() => openEnvelope(genuine, params))).toBe("ok");
  });

  it("anything at all as an envelope is refused with a code", async () => {
    const started = performance.now();
    const before = total;
    await fc.assert(
      fc.asyncProperty(fc.anything(), async (value) => {
        expect(await outcome(() => openEnvelope(value, params))).not.toBe("ok");
      }),
      { numRuns: runs(1000) },
    );
    console.log(`[measure] fuzz e2e anything: ${total - before} cases in ${Math.round(performance.now() - started)} ms`);
  });

  it("one to three fields replaced by random values: refused with a code, or (same value) opened", async () => {
    const started = performance.now();
    const before = total;
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.constantFrom(...FIELDS), anyValue, { minKeys: 1, maxKeys: 3 }), async (changes) => {
        const mutated = { ...genuine, ...changes };
        const result = await outcome(() => openEnvelope(mutated, params));
        if (result === "ok") for (const [k, v] of Object.entries(changes)) expect(v).toEqual(genuine[k as keyof Envelope]);
      }),
      { numRuns: runs(2000) },
    );
    console.log(`[measure] fuzz e2e fields: ${total - before} cases in ${Math.round(performance.now() - started)} ms`);
  });

  it("bit flips and truncations of the ciphertext, IV, keys and signature never open", async () => {
    const started = performance.now();
    const before = total;
    const target = fc.constantFrom("ciphertext", "iv", "ephemeralKey", "signature", "wrap");
    await fc.assert(
      fc.asyncProperty(target, fc.nat(), fc.integer({ min: 0, max: 7 }), fc.boolean(), async (field, at, bit, truncate) => {
        const bytesOf = (b64text: string) => Uint8Array.from(atob(b64text), (c) => c.charCodeAt(0));
        const mutate = (bytes: Uint8Array): Uint8Array => {
          const out = bytes.slice();
          if (truncate) return out.subarray(0, at % out.length);
          out[at % out.length]! ^= 1 << bit;
          return out;
        };
        let mutated: Envelope;
        if (field === "ciphertext") mutated = { ...genuine, ciphertext: mutate(genuine.ciphertext) };
        else if (field === "wrap") mutated = { ...genuine, recipients: [{ ...genuine.recipients[0]!, wrap: encodeBase64(mutate(bytesOf(genuine.recipients[0]!.wrap))) }] };
        else mutated = { ...genuine, [field]: encodeBase64(mutate(bytesOf(genuine[field]))) };
        expect(await outcome(() => openEnvelope(mutated, params))).not.toBe("ok");
      }),
      { numRuns: runs(1500) },
    );
    console.log(`[measure] fuzz e2e flips: ${total - before} cases in ${Math.round(performance.now() - started)} ms`);
  });

  it("checkEnvelope and the key and trust parsers refuse random input with a code", async () => {
    const started = performance.now();
    const before = total;
    await fc.assert(
      fc.asyncProperty(fc.record({ id: anyValue, agree: fc.oneof(anyValue, b64(70)), sign: fc.oneof(anyValue, b64(70)) }, { requiredKeys: [] }), async (keys) => {
        expect(await outcome(() => parseDevicePublicKeys(keys))).not.toBe("ok");
      }),
      { numRuns: runs(400) },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 300 }), fc.json({ maxDepth: 4 })), async (text) => {
        const r = await outcome(async () => parseTrust(text));
        if (r === "ok") expect(parseTrust(text).version).toBe(1);
      }),
      { numRuns: runs(800) },
    );
    await fc.assert(
      fc.asyncProperty(fc.object({ maxDepth: 2 }), async (value) => {
        expect(await outcome(async () => checkEnvelope(value))).toBe("malformed");
      }),
      { numRuns: runs(800) },
    );
    console.log(`[measure] fuzz e2e parsers: ${total - before} cases in ${Math.round(performance.now() - started)} ms`);
  });

  it("ran the expected number of cases", () => {
    console.log(`[measure] fuzz e2e total: ${total} cases`);
    expect(total).toBeGreaterThanOrEqual(runs(1000) + runs(2000) + runs(1500) + runs(400) + runs(800) + runs(800));
  });
});
