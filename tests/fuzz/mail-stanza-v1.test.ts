// Fuzzing of the version 1 mail stanza parser (docs/protocol.md §10.4, src/xmpp/mail-stanza-v1.ts): genuine stanzas
// mutated element by element (attribute values, lengths, huge strings, children removed, duplicated, moved, added),
// random XML text read by the stream parser, and random element trees. parseMailV1 must never throw, must stay linear
// in its input, and whatever it accepts must decode (wireToEnvelope) into an envelope checkEnvelope accepts — and must
// open only when it is, field for field, the envelope the sender signed. MOX_FUZZ_RUNS scales the counts; fast-check
// prints the seed of a failing run for replay.
import { Element, Parser } from "@xmpp/xml";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeBase64 } from "../../src/core/base64.js";
import { checkEnvelope, encodeExternalKeys, openEnvelope, sealEnvelope, type Envelope, type OpenParams } from "../../src/core/e2e/envelope.js";
import { generateDeviceKeys, parseDevicePublicKeys, type DeviceKeyPair, type DeviceKeys } from "../../src/core/e2e/keys.js";
import { E2eError } from "../../src/core/e2e/primitives.js";
import { NS_MAIL1 } from "../../src/core/protocol.js";
import { NEUTRAL_BODY, buildMailStanzaV1, envelopeToWire, parseMailV1, wireToEnvelope, type V1ParseResult, type WireEnvelope } from "../../src/xmpp/mail-stanza-v1.js";

const SCALE = Number(process.env.MOX_FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** The slowest single parse allowed for a small input (a few KB)… */
const CASE_MS = 100;
/** …and per MB of input for the big ones: linear work is a few ms per MB; anything quadratic is minutes. */
const MS_PER_MB = 150;
const NOW = Date.parse("2026-12-03T08:00:00.000Z");
const MAIL = new TextEncoder().encode("From: alice@example.org\r\nTo: bob@example.org\r\nSubject: x\r\n\r\nbody\r\n");
const MAX = 1 << 20;
const URL_ = "https://upload.example.org/slot/mail.bin";
let total = 0;
let accepted = 0;

interface Device {
  pair: DeviceKeyPair;
  pub: DeviceKeys;
}
let alice1: Device, alice2: Device, bob1: Device, bob2: Device;
let inline: Envelope, external: Envelope, other: Envelope;
let inlineXml: string, externalXml: string;
let params: OpenParams;

async function device(): Promise<Device> {
  const pair = await generateDeviceKeys();
  return { pair, pub: await parseDevicePublicKeys(pair.public) };
}

beforeAll(async () => {
  [alice1, alice2, bob1, bob2] = await Promise.all([device(), device(), device(), device()]);
  const seal = (payload: Uint8Array, kind: "inline" | "external", originId = "o1") =>
    sealEnvelope({ payload, kind, from: "alice@example.org", to: "bob@example.org", originId, now: NOW, sender: alice1.pair, recipientDevices: [bob1.pub, bob2.pub], senderDevices: [alice2.pub] });
  inline = await seal(MAIL, "inline");
  external = await seal(encodeExternalKeys({ key: encodeBase64(new Uint8Array(32).fill(1)), iv: encodeBase64(new Uint8Array(12).fill(2)), sha256: encodeBase64(new Uint8Array(32).fill(3)) }), "external");
  // Another genuine envelope of the same size: a source of well-formed values signed for something else.
  other = await seal(MAIL.map((b) => b ^ 1), "inline", "o2");
  const build = (e: Envelope) =>
    buildMailStanzaV1({
      to: e.to,
      id: e.originId,
      body: NEUTRAL_BODY,
      mail: { size: MAIL.length, envelope: envelopeToWire(e), ...(e.kind === "external" ? { external: { url: URL_, size: MAIL.length + 16 } } : {}) },
    }).toString();
  inlineXml = build(inline);
  externalXml = build(external);
  params = {
    me: bob1.pair,
    myJid: "bob@example.org",
    stanza: { from: "alice@example.org", to: "bob@example.org", originId: "o1" },
    senderDevices: [alice1.pub, alice2.pub],
    now: NOW,
    maxPlainBytes: MAX,
  };
});

/** Reads XML text through xmpp.js's stream parser; null when it is not well-formed. */
function parseXml(text: string): Element | null {
  const parser = new Parser();
  let out: Element | null = null;
  let failed = false;
  parser.on("element", (el) => (out = el));
  parser.on("error", () => (failed = true));
  try {
    parser.write(`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">${text}</stream:stream>`);
  } catch {
    return null;
  }
  return failed ? null : out;
}

function mailOf(stanza: Element | null): Element | null {
  return stanza?.getChild("mail", NS_MAIL1) ?? null;
}

/** parseMailV1, timed against a bound that grows linearly with the input's size in characters. */
function parse(mail: Element, inputChars: number, max = MAX): V1ParseResult {
  const t0 = performance.now();
  const result = parseMailV1(mail, max);
  total += 1;
  const ms = performance.now() - t0;
  const bound = CASE_MS + (MS_PER_MB * inputChars) / 1e6;
  if (ms > bound) throw new Error(`parseMailV1 took ${ms.toFixed(0)} ms on ${inputChars} characters (bound ${bound.toFixed(0)} ms)`);
  if (!result.ok) {
    expect(typeof result.detail).toBe("string");
    expect(result.detail.length).toBeLessThanOrEqual(300);
  }
  return result;
}

const sameWire = (a: WireEnvelope, b: WireEnvelope) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What follows an acceptance: the envelope decodes and checkEnvelope accepts it (the parser already bounded and
 * checked everything), and it opens if and only if it is the genuine envelope.
 */
async function followUp(result: V1ParseResult): Promise<void> {
  if (!result.ok) return;
  accepted += 1;
  const { mail } = result;
  expect(mail.size).toBeLessThanOrEqual(MAX);
  if (mail.envelope.kind === "external") expect(mail.external?.size).toBe(mail.size + 16);
  else expect(mail.external).toBeUndefined();
  let envelope: Envelope;
  try {
    envelope = await wireToEnvelope(mail.envelope, MAX + 16);
    expect(checkEnvelope(envelope)).toBe(envelope);
    // The ciphertext is exactly what `size` says: the mail and its tag, or the key block and its tag.
    expect(envelope.ciphertext.length).toBe(mail.envelope.kind === "inline" ? mail.size + 16 : 76 + 16);
  } catch (error) {
    // The parser promises more than the brief's minimum (E2eError only): that nothing it accepts is refused here.
    throw new Error(`accepted by parseMailV1 but refused after: ${String(error)}`);
  }
  const genuine = [inline, external].map(envelopeToWire).find((g) => sameWire(g, mail.envelope));
  try {
    const opened = await openEnvelope(envelope, params);
    expect(genuine).toBeDefined();
    expect(opened.verified).toBe(true);
  } catch (error) {
    if (!(error instanceof E2eError)) throw error;
    expect(genuine).toBeUndefined();
  }
}

const HEX = "0123456789abcdef";
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ATTRS = ["size", "kind", "from", "to", "origin-id", "sender-device", "time", "epk", "iv", "sig", "device", "wrap", "url", "xmlns", "sha256", "constructor", "__proto__"];
const NAMES = ["mail", "envelope", "external", "rcpt", "own", "ciphertext", "inline", "x"];

/** Values near the valid ones (right length ± 1 in the right alphabet), random text, and big strings. */
const junk: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.tuple(fc.constantFrom(HEX, B64, `${B64}=`, "0123456789", "é\u{1F600}\uD800 <&>"), fc.constantFrom(0, 1, 15, 16, 17, 23, 24, 25, 31, 32, 33, 63, 64, 65, 87, 88, 89, 123, 124, 125, 128, 129), fc.nat()).map(([alphabet, length, seed]) =>
    Array.from({ length }, (_, i) => [...alphabet][(seed + i * 7) % [...alphabet].length]).join(""),
  ),
  fc.constantFrom("inline", "external", "0", "-1", "1e3", "0000000000001", "999999999999", String(MAIL.length), String(MAIL.length + 16), String(MAIL.length + 1), "2026-12-03T08:00:00.000Z", "1969-12-31T23:59:59.999Z", URL_, "not a url"),
  fc.tuple(fc.constantFrom("a", "é", " ", "="), fc.integer({ min: 3000, max: 5000 })).map(([c, n]) => c.repeat(n)),
);

function copy(el: Element): Element {
  const out = new Element(el.name, { ...el.attrs });
  for (const c of el.children) out.children.push(typeof c === "string" ? c : Object.assign(copy(c), { parent: out }));
  return out;
}

/** One edit of the parsed <mail>: the elements it may touch are <mail>, <envelope>, its children and <external>. */
type Edit =
  | { op: "set"; target: number; name: string; value: string }
  | { op: "delete"; target: number; name: string }
  | { op: "remove" | "duplicate"; target: number }
  | { op: "move"; target: number; to: number }
  | { op: "insert"; target: number; at: number; node: string | { name: string; attrs: Record<string, string> } }
  | { op: "ciphertext"; text: string }
  | { op: "swap"; field: string }
  | { op: "size"; delta: number; external: boolean };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant("set" as const), target: fc.nat(), name: fc.constantFrom(...ATTRS), value: junk }),
  fc.record({ op: fc.constant("delete" as const), target: fc.nat(), name: fc.constantFrom(...ATTRS) }),
  fc.record({ op: fc.constantFrom("remove" as const, "duplicate" as const), target: fc.nat() }),
  fc.record({ op: fc.constant("move" as const), target: fc.nat(), to: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    target: fc.nat(),
    at: fc.nat(),
    node: fc.oneof(fc.constantFrom(" ", "\n\t", "x", "&lt;"), fc.record({ name: fc.constantFrom(...NAMES), attrs: fc.dictionary(fc.constantFrom(...ATTRS), junk, { maxKeys: 3 }) })),
  }),
  fc.record({
    op: fc.constant("ciphertext" as const),
    text: fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map(encodeBase64),
      fc.tuple(fc.nat(), fc.constantFrom("*", "=", " ", "é", "-", "\n")).map(([at, c]) => {
        const b = envelopeToWire(inline).ciphertextB64;
        const i = at % b.length;
        return b.slice(0, i) + c + b.slice(i + 1);
      }),
      junk,
    ),
  }),
  fc.record({ op: fc.constant("size" as const), delta: fc.integer({ min: -3, max: 3 }), external: fc.boolean() }),
  fc.record({ op: fc.constant("swap" as const), field: fc.constantFrom("epk", "iv", "sig", "time", "wrap", "ciphertext", "sender-device", "device") }),
);

function applyEdit(mail: Element, e: Edit): void {
  const env = mail.getChild("envelope", NS_MAIL1);
  const targets = [mail, ...(env ? [env, ...env.getChildElements()] : []), ...mail.getChildElements().filter((c) => c !== env)];
  const pick = (i: number) => targets[i % targets.length]!;
  const parentOf = (el: Element) => (el === mail ? null : (el.parent ?? null));
  switch (e.op) {
    case "set":
      pick(e.target).attrs[e.name] = e.value;
      return;
    case "delete":
      delete pick(e.target).attrs[e.name];
      return;
    case "remove":
    case "duplicate": {
      const el = pick(e.target);
      const parent = parentOf(el);
      if (!parent) return;
      const i = parent.children.indexOf(el);
      if (e.op === "remove") parent.children.splice(i, 1);
      else parent.children.splice(i, 0, Object.assign(copy(el), { parent }));
      return;
    }
    case "move": {
      const el = pick(e.target);
      const parent = parentOf(el);
      if (!parent) return;
      parent.children.splice(parent.children.indexOf(el), 1);
      parent.children.splice(e.to % (parent.children.length + 1), 0, el);
      return;
    }
    case "insert": {
      const parent = pick(e.target);
      const node = typeof e.node === "string" ? e.node : Object.assign(new Element(e.node.name, { ...e.node.attrs }), { parent });
      parent.children.splice(e.at % (parent.children.length + 1), 0, node);
      return;
    }
    case "ciphertext": {
      const c = env?.getChild("ciphertext", NS_MAIL1);
      if (c) c.children = [e.text];
      return;
    }
    case "size": {
      // A size near the true one (the same base64 length for some deltas), with <external size> kept in step or not.
      mail.attrs.size = String(MAIL.length + e.delta);
      const ext = mail.getChild("external", NS_MAIL1);
      if (ext && e.external) ext.attrs.size = String(MAIL.length + e.delta + 16);
      return;
    }
    case "swap": {
      // A well-formed value from another genuine envelope (signed for another mail).
      const w = envelopeToWire(other);
      if (!env) return;
      const values: Record<string, string> = { epk: w.ephemeralKey, iv: w.iv, sig: w.signature, time: "2026-12-03T08:00:01.000Z", "sender-device": w.recipients[0]!.device };
      if (e.field === "ciphertext") {
        const c = env.getChild("ciphertext", NS_MAIL1);
        if (c) c.children = [w.ciphertextB64];
      } else if (e.field === "wrap" || e.field === "device") {
        const r = env.getChild("rcpt", NS_MAIL1);
        if (r) r.attrs[e.field] = e.field === "wrap" ? w.recipients[0]!.wrap : w.senderCopies[0]!.device;
      } else env.attrs[e.field] = values[e.field]!;
      return;
    }
  }
}

describe("fuzz: the v1 mail stanza parser", () => {
  it("accepts and opens the genuine stanzas (the baseline the mutations start from)", async () => {
    for (const text of [inlineXml, externalXml]) {
      const mail = mailOf(parseXml(text))!;
      const result = parse(mail, text.length);
      expect(result.ok).toBe(true);
      await followUp(result);
    }
  });

  it("edited genuine stanzas: never throws, stays linear, and what it accepts decodes, checks and opens only if genuine", async () => {
    const started = performance.now();
    const before = total;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(edit, { minLength: 1, maxLength: 4 }), async (isExternal, edits) => {
        const text = isExternal ? externalXml : inlineXml;
        const mail = mailOf(parseXml(text))!;
        for (const e of edits) applyEdit(mail, e);
        await followUp(parse(mail, mail.toString().length));
      }),
      { numRuns: runs(8000) },
    );
    console.log(`[measure] fuzz v1 stanza edits: ${total - before} cases (${accepted} accepted so far) in ${Math.round(performance.now() - started)} ms`);
  });

  it("random edits of the XML text, read by the stream parser", async () => {
    const started = performance.now();
    const before = total;
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 8 }), fc.constantFrom("", "<", ">", "/", "\"", "=", " ", "A", "<x/>", "</envelope>", "<rcpt/>", "<own ", "&amp;", "xmlns='x' ")), { minLength: 1, maxLength: 5 }),
        async (isExternal, edits) => {
          let text = isExternal ? externalXml : inlineXml;
          for (const [at, del, insert] of edits) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + insert + text.slice(i + del);
          }
          const mail = mailOf(parseXml(text));
          if (mail) await followUp(parse(mail, text.length));
        },
      ),
      { numRuns: runs(5000) },
    );
    console.log(`[measure] fuzz v1 stanza text: ${total - before} cases in ${Math.round(performance.now() - started)} ms`);
  });

  it("random element trees under <mail xmlns=NS_MAIL1>", async () => {
    const started = performance.now();
    const before = total;
    const attrs = fc.dictionary(fc.constantFrom(...ATTRS), junk, { maxKeys: 6 });
    const node: fc.Arbitrary<Element | string> = fc.letrec<{ node: Element | string }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.constantFrom("", " ", "AAAA", "x"),
        fc.tuple(fc.constantFrom(...NAMES), attrs, fc.array(tie("node"), { maxLength: 4 })).map(([name, a, kids]) => {
          const el = new Element(name, a);
          for (const k of kids) el.children.push(typeof k === "string" ? k : Object.assign(k, { parent: el }));
          return el;
        }),
      ),
    })).node;
    await fc.assert(
      fc.asyncProperty(attrs, fc.array(node, { maxLength: 4 }), async (a, kids) => {
        const mail = new Element("mail", { ...a, xmlns: NS_MAIL1 });
        for (const k of kids) mail.children.push(typeof k === "string" ? k : Object.assign(k, { parent: mail }));
        await followUp(parse(mail, mail.toString().length));
      }),
      { numRuns: runs(3000) },
    );
    console.log(`[measure] fuzz v1 stanza trees: ${total - before} cases in ${Math.round(performance.now() - started)} ms`);
  });

  it("huge inputs stay linear: long attributes, many children, long text, a big ciphertext", () => {
    const started = performance.now();
    const before = total;
    const fresh = () => mailOf(parseXml(inlineXml))!;
    const env = (m: Element) => m.getChild("envelope", NS_MAIL1)!;
    const cipher = (m: Element) => env(m).getChild("ciphertext", NS_MAIL1)!;
    for (const n of [1 << 16, 1 << 20, 1 << 22]) {
      const cases: Array<[string, (m: Element) => void, number?, boolean?]> = [
        ["long from", (m) => (env(m).attrs.from = "a".repeat(n))],
        ["long origin-id", (m) => (env(m).attrs["origin-id"] = "!".repeat(n))],
        ["long epk", (m) => (env(m).attrs.epk = "A".repeat(n))],
        ["long size", (m) => (m.attrs.size = "9".repeat(n))],
        [
          "long url",
          (m) => {
            env(m).attrs.kind = "external";
            m.children.push(Object.assign(new Element("external", { url: `https://e.org/${"a".repeat(n)}`, size: String(MAIL.length + 16) }), { parent: m }));
          },
        ],
        ["long white space (accepted: it is not content)", (m) => env(m).children.unshift(" ".repeat(n)), undefined, true],
        ["long text almost white", (m) => env(m).children.unshift(`${" ".repeat(n)}x`)],
        ["many <rcpt>", (m) => (env(m).children = [...Array.from({ length: n >> 6 }, () => Object.assign(new Element("rcpt", { device: "0".repeat(32), wrap: "A".repeat(64) }), { parent: env(m) })), ...env(m).children])],
        ["many blank texts, then an unknown child", (m) => (m.children = [...m.children, ...Array.from({ length: n >> 4 }, () => " "), Object.assign(new Element("x"), { parent: m })])],
        ["many <rcpt>, all distinct", (m) => (env(m).children = [...Array.from({ length: n >> 6 }, (_, i) => Object.assign(new Element("rcpt", { device: i.toString(16).padStart(32, "0"), wrap: "A".repeat(64) }), { parent: env(m) })), ...env(m).children])],
        ["ciphertext too long", (m) => (cipher(m).children = ["A".repeat(n)])],
        ["ciphertext in many pieces", (m) => (cipher(m).children = Array.from({ length: n >> 4 }, () => "AAAA"))],
        // A ciphertext of exactly the stated length that fails at its very end: the character scan runs to the end.
        [
          "big ciphertext, bad last quad",
          (m) => {
            m.attrs.size = String(n);
            cipher(m).children = [`${"A".repeat(4 * Math.ceil((n + 16) / 3) - 4)}A*==`];
          },
          n + 1,
        ],
        [
          "big ciphertext, '=' inside",
          (m) => {
            m.attrs.size = String(n);
            cipher(m).children = [`${"A".repeat(4 * Math.ceil((n + 16) / 3) - 8)}====AAAA`];
          },
          n + 1,
        ],
      ];
      for (const [what, change, max, ok] of cases) {
        const m = fresh();
        change(m);
        const chars = n * 2 + inlineXml.length;
        const result = parse(m, chars, max ?? MAX);
        expect(result.ok, what).toBe(ok ?? false);
        if (what === "long url" && !result.ok) expect(result.detail).toBe("incomplete <external>");
      }
    }
    // A big genuine-looking ciphertext passes the parser's checks (its signature is openEnvelope's business).
    const m = fresh();
    const n = 3 << 20;
    m.attrs.size = String(n);
    cipher(m).children = [encodeBase64(new Uint8Array(n + 16))];
    const result = parse(m, 4 * n, 4 << 20);
    if (!result.ok) throw new Error(result.detail);
    console.log(`[measure] fuzz v1 stanza huge: ${total - before} cases in ${Math.round(performance.now() - started)} ms`);
  });

  it("ran the expected number of cases, and accepted some", () => {
    console.log(`[measure] fuzz v1 stanza total: ${total} cases, ${accepted} accepted`);
    expect(total).toBeGreaterThanOrEqual(2 + runs(8000) + runs(3000) + 3 * 14 + 1);
    expect(accepted).toBeGreaterThan(2);
  });
});
