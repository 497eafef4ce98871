// The version 1 mail stanza (docs/protocol.md §10.4): built from a really sealed envelope, written as XML, read back
// by the stream parser, strictly parsed, decoded and opened; and every refusal rule of the parser, one case each.
import { Element, Parser } from "@xmpp/xml";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeBase64 } from "../../src/core/base64.js";
import { checkEnvelope, decodeExternalKeys, encodeExternalKeys, openEnvelope, sealEnvelope, type Envelope } from "../../src/core/e2e/envelope.js";
import { generateDeviceKeys, parseDevicePublicKeys, type DeviceKeyPair, type DeviceKeys } from "../../src/core/e2e/keys.js";
import { E2eError } from "../../src/core/e2e/primitives.js";
import { sealPayload } from "../../src/core/payload-crypto.js";
import { NS_MAIL1 } from "../../src/core/protocol.js";
import {
  NEUTRAL_BODY,
  buildMailStanzaV1,
  envelopeToWire,
  inlineStanzaOctetsV1,
  parseMailV1,
  wireToEnvelope,
  type MailStanzaV1,
  type V1ParseResult,
} from "../../src/xmpp/mail-stanza-v1.js";

const NOW = Date.parse("2026-12-03T08:00:00.000Z");
const MAIL = new TextEncoder().encode("From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: Hi\r\n\r\nHello Bob :-)\r\n");
const MAX = 25 * 1024 * 1024;
const URL_ = "https://upload.example.org/slot/abc/mail.bin";

interface Device {
  pair: DeviceKeyPair;
  pub: DeviceKeys;
}
async function device(): Promise<Device> {
  const pair = await generateDeviceKeys();
  return { pair, pub: await parseDevicePublicKeys(pair.public) };
}

let alice1: Device, alice2: Device, bob1: Device, bob2: Device;
let inline: Envelope;
let external: Envelope;
let externalKeys: { key: string; iv: string; sha256: string };
beforeAll(async () => {
  [alice1, alice2, bob1, bob2] = await Promise.all([device(), device(), device(), device()]);
  inline = await seal(MAIL, "inline");
  externalKeys = await sealPayload(MAIL);
  external = await seal(encodeExternalKeys(externalKeys), "external");
});

function seal(payload: Uint8Array, kind: "inline" | "external", from = "alice@example.org", to = "bob@example.org"): Promise<Envelope> {
  return sealEnvelope({
    payload,
    kind,
    from,
    to,
    originId: "oid-1",
    now: NOW,
    sender: alice1.pair,
    recipientDevices: [bob1.pub, bob2.pub],
    senderDevices: [alice2.pub],
  });
}

function stanzaOf(e: Envelope, overrides: Partial<MailStanzaV1> = {}): MailStanzaV1 {
  return {
    to: e.to,
    id: e.originId,
    body: NEUTRAL_BODY,
    mail: {
      size: MAIL.length,
      envelope: envelopeToWire(e),
      ...(e.kind === "external" ? { external: { url: URL_, size: MAIL.length + 16 } } : {}),
    },
    ...overrides,
  };
}

/** Reads one stanza back as the session would: through xmpp.js's stream parser. */
function parseXml(text: string): Element {
  const parser = new Parser();
  let out: Element | undefined;
  let error: Error | undefined;
  parser.on("element", (el) => (out = el));
  parser.on("error", (e) => (error = e));
  parser.write(`<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">${text}</stream:stream>`);
  if (error) throw error;
  if (!out) throw new Error("no element");
  return out;
}

function wireStanza(e: Envelope = inline): Element {
  return parseXml(buildMailStanzaV1(stanzaOf(e)).toString());
}

function mailOf(stanza: Element): Element {
  const mail = stanza.getChild("mail", NS_MAIL1);
  if (!mail) throw new Error("no mail element");
  return mail;
}

function envelopeOf(stanza: Element): Element {
  return mailOf(stanza).getChild("envelope", NS_MAIL1)!;
}

function openAsBob(e: Envelope) {
  return openEnvelope(e, {
    me: bob1.pair,
    myJid: "bob@example.org",
    stanza: { from: "alice@example.org", to: "bob@example.org", originId: "oid-1" },
    senderDevices: [alice1.pub, alice2.pub],
    now: NOW + 5_000,
    maxPlainBytes: MAX,
  });
}

function refused(r: V1ParseResult): string {
  if (r.ok) throw new Error("accepted");
  return r.detail;
}

describe("v1 mail stanza: build, serialise, parse, open", () => {
  it("round-trips an inline mail through XML text to the same payload", async () => {
    const stanza = wireStanza(inline);
    const parsed = parseMailV1(mailOf(stanza), MAX);
    if (!parsed.ok) throw new Error(parsed.detail);
    expect(parsed.mail.size).toBe(MAIL.length);
    expect(parsed.mail.external).toBeUndefined();
    expect(parsed.mail.envelope).toEqual(envelopeToWire(inline));
    const envelope = await wireToEnvelope(parsed.mail.envelope, MAIL.length + 16);
    expect(envelope).toEqual(inline);
    const opened = await openAsBob(envelope);
    expect(opened.payload).toEqual(MAIL);
    expect(opened.verified).toBe(true);
    expect(opened.kind).toBe("inline");
  });

  it("round-trips an uploaded mail: the key block opens, and <external> carries url and size", async () => {
    const stanza = wireStanza(external);
    const parsed = parseMailV1(mailOf(stanza), MAX);
    if (!parsed.ok) throw new Error(parsed.detail);
    expect(parsed.mail.external).toEqual({ url: URL_, size: MAIL.length + 16 });
    expect(parsed.mail.envelope.ciphertextB64).toHaveLength(124);
    const opened = await openAsBob(await wireToEnvelope(parsed.mail.envelope, 1024));
    expect(opened.kind).toBe("external");
    expect(decodeExternalKeys(opened.payload)).toEqual({ key: externalKeys.key, iv: externalKeys.iv, sha256: externalKeys.sha256 });
  });

  it("writes the neutral body, no <subject>, no sha256, and the v0 hints around <mail>", () => {
    const s = buildMailStanzaV1(stanzaOf(inline));
    expect(s.attrs).toEqual({ type: "normal", to: "bob@example.org", id: "oid-1" });
    expect(s.getChildElements().map((c) => c.name)).toEqual(["body", "mail", "origin-id", "store", "request"]);
    expect(s.getChild("subject")).toBeUndefined();
    expect(s.getChildText("body")).toBe(NEUTRAL_BODY);
    const mail = s.getChild("mail", NS_MAIL1)!;
    expect(mail.attrs.sha256).toBeUndefined();
    expect(mail.attrs.size).toBe(String(MAIL.length));
    expect(s.getChild("origin-id", "urn:xmpp:sid:0")!.attrs.id).toBe("oid-1");
    expect(s.getChild("store", "urn:xmpp:hints")).toBeDefined();
    expect(s.getChild("request", "urn:xmpp:receipts")).toBeDefined();
    const env = mail.getChild("envelope")!;
    expect(Object.keys(env.attrs)).toEqual(["kind", "from", "to", "origin-id", "sender-device", "time", "epk", "iv", "sig"]);
    expect(env.getChildElements().map((c) => c.name)).toEqual(["rcpt", "rcpt", "own", "ciphertext"]);
    expect(env.getNS()).toBe(NS_MAIL1);
    expect(buildMailStanzaV1(stanzaOf(external)).getChild("mail", NS_MAIL1)!.getChildElements().map((c) => c.name)).toEqual(["envelope", "external"]);
  });

  it("counts the stanza's octets exactly without the ciphertext's base64, non-ASCII and escaped text included", async () => {
    const from = "jörg@exämple.org";
    const to = "日本@例え.jp";
    for (const n of [0, 1, 2, 3, 100, 1000, 4097]) {
      const payload = new Uint8Array(n).fill(65);
      const e = await seal(payload, "inline", from, to);
      const m: MailStanzaV1 = { ...stanzaOf(e), body: "Grüße <&> \u{1F600} \"quoted\"", mail: { size: n, envelope: envelopeToWire(e) } };
      const real = new TextEncoder().encode(buildMailStanzaV1(m).toString()).length;
      const { ciphertextB64: _unused, ...envelope } = m.mail.envelope;
      expect(inlineStanzaOctetsV1({ ...m, mail: { size: n, envelope }, ciphertextLength: e.ciphertext.length })).toBe(real);
    }
    const m = stanzaOf(external);
    const real = new TextEncoder().encode(buildMailStanzaV1(m).toString()).length;
    const { ciphertextB64: _unused, ...envelope } = m.mail.envelope;
    expect(inlineStanzaOctetsV1({ ...m, mail: { ...m.mail, envelope }, ciphertextLength: external.ciphertext.length })).toBe(real);
  });

  it("envelopeToWire and wireToEnvelope are inverse; bad base64 or too much is E2eError malformed", async () => {
    expect(await wireToEnvelope(envelopeToWire(inline), 1 << 20)).toEqual(inline);
    const w = envelopeToWire(inline);
    for (const [b64, max] of [
      [`${w.ciphertextB64.slice(0, -4)}A*A=`, 1 << 20],
      [w.ciphertextB64, inline.ciphertext.length - 1],
      [`${w.ciphertextB64} `, 1 << 20],
    ] as const) {
      const error = await wireToEnvelope({ ...w, ciphertextB64: b64 }, max).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(E2eError);
      expect((error as E2eError).code).toBe("malformed");
    }
  });
});

describe("v1 mail stanza: strict parsing refuses", () => {
  /** Parses a fresh valid stanza after `change` edited its <mail> (and <envelope>). */
  function after(change: (mail: Element, env: Element) => void, e: Envelope = inline, max = MAX): V1ParseResult {
    const stanza = wireStanza(e);
    change(mailOf(stanza), envelopeOf(stanza));
    return parseMailV1(mailOf(stanza), max);
  }
  const children = (env: Element, name: string) => env.getChildElements().filter((c) => c.name === name);
  const hex = (i: number) => i.toString(16).padStart(32, "0");

  it("accepts the unchanged stanza (the baseline of every case below)", () => {
    expect(after(() => {}).ok).toBe(true);
    expect(after(() => {}, external).ok).toBe(true);
  });

  it.each(["kind", "from", "to", "origin-id", "sender-device", "time", "epk", "iv", "sig"])("an envelope without %s", (name) => {
    expect(refused(after((_m, env) => delete env.attrs[name]))).toMatch(/envelope|kind/);
  });

  it.each([
    ["size", "", /bad size/],
    ["size", "-1", /bad size/],
    ["size", "1e3", /bad size/],
    ["size", "0000000000001", /bad size/],
    ["size", String(MAIL.length + 1), /ciphertext/],
    ["size", String(MAIL.length + 3), /ciphertext/],
  ])("a <mail> whose %s is %j", (name, value, detail) => {
    expect(refused(after((mail) => (mail.attrs[name] = value)))).toMatch(detail);
  });

  it("a <mail> without size, and a mail over the limit (detail starts with too-large)", () => {
    expect(refused(after((mail) => delete mail.attrs.size))).toMatch(/bad size/);
    expect(refused(after(() => {}, inline, MAIL.length - 1))).toMatch(/^too-large/);
    expect(refused(after((mail) => (mail.attrs.size = "999999999999")))).toMatch(/^too-large/);
    expect(after(() => {}, inline, MAIL.length).ok).toBe(true);
  });

  it.each([
    ["epk", 87],
    ["epk", 89],
    ["iv", 15],
    ["iv", 17],
    ["sig", 87],
    ["sig", 89],
    ["time", 23],
    ["time", 25],
    ["sender-device", 31],
    ["sender-device", 33],
    ["origin-id", 129],
  ])("an envelope whose %s is %i characters long", (name, length) => {
    expect(refused(after((_m, env) => (env.attrs[name] = "A".repeat(length))))).toMatch(/envelope/);
  });

  it("attribute values of the right length but the wrong content", () => {
    expect(refused(after((_m, env) => (env.attrs["sender-device"] = env.attrs["sender-device"]!.toUpperCase().replace(/[0-9]/g, "A"))))).toMatch(/sender-device/);
    expect(refused(after((_m, env) => (env.attrs.kind = "Inline")))).toMatch(/kind/);
    expect(refused(after((_m, env) => (env.attrs.time = "2026-12-03T08:00:00.000+")))).toMatch(/time/);
    expect(refused(after((_m, env) => (env.attrs.time = "2026-13-03T08:00:00.000Z")))).toMatch(/time/);
    expect(refused(after((_m, env) => (env.attrs.epk = "*".repeat(88))))).toMatch(/ephemeral/);
    expect(refused(after((_m, env) => (env.attrs.iv = "AAAAAAAAAAAAAAA=")))).toMatch(/IV/);
    expect(refused(after((_m, env) => (env.attrs["origin-id"] = "a b")))).toMatch(/origin-id/);
    expect(refused(after((_m, env) => (env.attrs.to = "bob@example.org/home")))).toMatch(/recipient JID/);
    expect(refused(after((_m, env) => (env.attrs.from = "")))).toMatch(/from/);
  });

  it("JIDs over 3071 octets, counted in UTF-8", () => {
    expect(refused(after((_m, env) => (env.attrs.from = `${"a".repeat(3060)}@example.org`)))).toMatch(/from/);
    // 1530 × "é" is 1530 characters but 3060 octets.
    expect(refused(after((_m, env) => (env.attrs.to = `${"é".repeat(1530)}@example.org`)))).toMatch(/to/);
    expect(after((_m, env) => (env.attrs.to = `${"é".repeat(1529)}@example.org`)).ok).toBe(true);
  });

  it("wrap and device of <rcpt>/<own> of the wrong length or alphabet", () => {
    expect(refused(after((_m, env) => (children(env, "rcpt")[0]!.attrs.wrap = "A".repeat(63))))).toMatch(/wrap/);
    expect(refused(after((_m, env) => (children(env, "own")[0]!.attrs.wrap = "A".repeat(65))))).toMatch(/wrap/);
    expect(refused(after((_m, env) => (children(env, "rcpt")[0]!.attrs.wrap = "*".repeat(64))))).toMatch(/wrap/);
    expect(refused(after((_m, env) => (children(env, "rcpt")[0]!.attrs.device = "a".repeat(31))))).toMatch(/device/);
    expect(refused(after((_m, env) => (children(env, "rcpt")[0]!.attrs.device = "G".repeat(32))))).toMatch(/device/);
    expect(refused(after((_m, env) => delete children(env, "own")[0]!.attrs.device))).toMatch(/device/);
    expect(refused(after((_m, env) => delete children(env, "rcpt")[1]!.attrs.wrap))).toMatch(/wrap/);
  });

  it("a ciphertext of the wrong length, alphabet, padding or stray bits, or holding elements", () => {
    const set = (text: string) => (_m: Element, env: Element) => {
      const c = children(env, "ciphertext")[0]!;
      c.children = [text];
    };
    const b64 = envelopeToWire(inline).ciphertextB64;
    expect(refused(after(set(b64.slice(4))))).toMatch(/ciphertext/);
    expect(refused(after(set(`${b64}AAAA`)))).toMatch(/ciphertext/);
    expect(refused(after(set(`*${b64.slice(1)}`)))).toMatch(/ciphertext/);
    expect(refused(after(set(`${b64.slice(0, 10)} ${b64.slice(11)}`)))).toMatch(/ciphertext/);
    expect(refused(after(set(`${b64.slice(0, 10)}=${b64.slice(11)}`)))).toMatch(/ciphertext/);
    // MAIL is 84 octets, so the ciphertext is 100: "==" of padding, and stray bits in the last character before it.
    expect(b64.endsWith("==")).toBe(true);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const stray = alphabet[alphabet.indexOf(b64[b64.length - 3]!) | 1]!;
    expect(refused(after(set(`${b64.slice(0, -3)}${stray}==`)))).toMatch(/ciphertext/);
    expect(refused(after(set(`${b64.slice(0, -2)}A=`)))).toMatch(/ciphertext/);
    expect(refused(after((_m, env) => children(env, "ciphertext")[0]!.c("x")))).toMatch(/ciphertext/);
    expect(refused(after(set(""), external))).toMatch(/ciphertext/);
  });

  it("extra, missing or duplicated children of <mail>", () => {
    expect(refused(after((mail) => mail.c("extra")))).toMatch(/unexpected <extra>/);
    expect(refused(after((mail) => mail.c("envelope")))).toMatch(/unexpected <envelope>/);
    expect(refused(after((mail, env) => mail.children.splice(mail.children.indexOf(env), 1)))).toMatch(/no <envelope>/);
    expect(refused(after((mail) => mail.children.push("text")))).toMatch(/text in <mail>/);
    // An <envelope> in another namespace is not ours.
    expect(refused(after((mail, env) => (env.attrs.xmlns = "urn:example:other")))).toMatch(/unexpected <envelope>/);
  });

  it("external without <external>, inline with <external>, and a bad <external>", () => {
    expect(refused(after((mail) => (mail.children = mail.children.filter((c) => typeof c === "string" || c.name !== "external")), external))).toMatch(
      /without <external>/,
    );
    expect(refused(after((mail) => mail.c("external", { url: URL_, size: String(MAIL.length + 16) })))).toMatch(/inline with <external>/);
    const ext = (mail: Element) => mail.getChild("external", NS_MAIL1)!;
    expect(refused(after((mail) => (ext(mail).attrs.size = String(MAIL.length)), external))).toMatch(/external size/);
    expect(refused(after((mail) => delete ext(mail).attrs.size, external))).toMatch(/incomplete/);
    expect(refused(after((mail) => delete ext(mail).attrs.url, external))).toMatch(/incomplete/);
    expect(refused(after((mail) => (ext(mail).attrs.url = `https://e.org/${"a".repeat(2048)}`), external))).toMatch(/incomplete/);
    expect(refused(after((mail) => (ext(mail).attrs.url = "not a url"), external))).toMatch(/URL/);
    expect(refused(after((mail) => mail.c("external", { url: URL_, size: String(MAIL.length + 16) }), external))).toMatch(/unexpected <external>/);
    // An inline-sized ciphertext under kind="external" (and the reverse) fails the length rule.
    const asExternal = (mail: Element, env: Element) => {
      env.attrs.kind = "external";
      mail.c("external", { url: URL_, size: String(MAIL.length + 16) });
    };
    expect(refused(after(asExternal))).toMatch(/ciphertext/);
  });

  it("children of <envelope> out of order, missing, or not ours", () => {
    const move = (from: number, to: number) => (_m: Element, env: Element) => {
      const [c] = env.children.splice(from, 1);
      env.children.splice(to, 0, c!);
    };
    // The envelope's children are rcpt, rcpt, own, ciphertext.
    expect(refused(after(move(2, 0)))).toMatch(/<rcpt> after <own>/);
    expect(refused(after(move(3, 0)))).toMatch(/not the last/);
    expect(refused(after((_m, env) => env.c("rcpt", { device: hex(7), wrap: children(env, "rcpt")[0]!.attrs.wrap! })))).toMatch(/not the last/);
    expect(refused(after((_m, env) => (env.children = env.children.filter((c) => typeof c === "string" || c.name !== "rcpt"))))).toMatch(/no <rcpt>/);
    expect(refused(after((_m, env) => (env.children = env.children.filter((c) => typeof c === "string" || c.name !== "ciphertext"))))).toMatch(/no <ciphertext>/);
    expect(refused(after((_m, env) => env.c("ciphertext")))).toMatch(/not the last/);
    expect(refused(after((_m, env) => env.children.unshift(new Element("note"))))).toMatch(/unexpected <note>/);
    expect(refused(after((_m, env) => env.children.unshift("junk")))).toMatch(/text in <envelope>/);
    // White space between children is not content.
    expect(after((_m, env) => env.children.unshift("\n  ")).ok).toBe(true);
  });

  it("more than 16 <rcpt> or 16 <own>, and up to 16 of each", () => {
    const withCount = (name: "rcpt" | "own", n: number) => (_m: Element, env: Element) => {
      const wrap = children(env, "rcpt")[0]!.attrs.wrap!;
      const cipher = env.getChild("ciphertext")!;
      const rcpt = name === "rcpt" ? Array.from({ length: n }, (_, i) => new Element("rcpt", { device: hex(i + 1), wrap })) : children(env, "rcpt");
      const own = name === "own" ? Array.from({ length: n }, (_, i) => new Element("own", { device: hex(i + 100), wrap })) : children(env, "own");
      env.children = [...rcpt, ...own, cipher];
      for (const c of env.children) (c as Element).parent = env;
    };
    expect(refused(after(withCount("rcpt", 17)))).toMatch(/more than 16 <rcpt>/);
    expect(refused(after(withCount("own", 17)))).toMatch(/more than 16 <own>/);
    // 16 of each is within the bounds (the signature no longer matches, but that is openEnvelope's to find).
    expect(after(withCount("rcpt", 16)).ok).toBe(true);
    expect(after(withCount("own", 16)).ok).toBe(true);
  });

  it("a device listed twice, in one list or across both", () => {
    expect(refused(after((_m, env) => (children(env, "rcpt")[1]!.attrs.device = children(env, "rcpt")[0]!.attrs.device)))).toMatch(/twice/);
    expect(refused(after((_m, env) => (children(env, "own")[0]!.attrs.device = children(env, "rcpt")[0]!.attrs.device)))).toMatch(/twice/);
  });

  it("whatever it accepts, the envelope check accepts once decoded", async () => {
    const parsed = after((_m, env) => (env.attrs.from = "someone@else.example"));
    if (!parsed.ok) throw new Error(parsed.detail);
    const e = await wireToEnvelope(parsed.mail.envelope, MAX);
    expect(checkEnvelope(e)).toBe(e);
    // Changed after signing: the parser lets it through (it cannot check signatures) and openEnvelope refuses it.
    await expect(openAsBob(e)).rejects.toMatchObject({ code: "bad-signature" });
    expect(encodeBase64(e.ciphertext)).toBe(parsed.mail.envelope.ciphertextB64);
  });
});
