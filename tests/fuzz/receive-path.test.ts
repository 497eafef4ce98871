// Property-based fuzzing of every parser on the receive path and of the values that come from the network or a
// policy (issue 6, "Hostile input"). Each property runs many generated cases (MOX_FUZZ_RUNS scales them; CI uses the
// defaults), each case is timed, and each rejection must be the parser's own clear error — never a crash, a hang or a
// spoofed mail presented as verified. fast-check prints the seed of a failing run for replay.
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildMessage } from "../../src/core/mime/build.js";
import { parseAddressList, parseSingleMailbox } from "../../src/core/mime/address.js";
import { inspectMail, MimeInspectError } from "../../src/core/mime/inspect.js";
import { Base64Error, decodeBase64Strict, encodeBase64 } from "../../src/core/base64.js";
import { checkSender, neutralizeTraceHeaders, prependHeader, traceHeader } from "../../src/core/receive-rules.js";
import { isValidBareJid, parseJabberId, resolveRecipient } from "../../src/core/resolve.js";
import { resolveSettings, SETTING_KEYS, validateSetting } from "../../src/core/settings.js";
import { buildMailStanza, parseMailStanza } from "../../src/xmpp/mail-stanza.js";

const SCALE = Number(process.env.MOX_FUZZ_RUNS ?? 1);
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** The slowest single case allowed: a parser must stay linear-ish on hostile input. */
const CASE_MS = 250;
let total = 0;

function timed<T>(what: string, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    total += 1;
    const ms = performance.now() - t0;
    if (ms > CASE_MS) throw new Error(`${what} took ${ms.toFixed(0)} ms on one input`);
  }
}

function measure(name: string, started: number, before: number): void {
  console.log(`[measure] fuzz ${name}: ${total - before} cases in ${Math.round(performance.now() - started)} ms`);
}

const text = fc.string({ unit: "binary", maxLength: 300 });
const asciiish = fc.string({ unit: fc.constantFrom(..."abcXYZ019 @./:<>\"'&=+;,-_\r\n\t\\%"), maxLength: 120 });

describe("fuzz: the mail stanza parser", () => {
  const valid = (): Element =>
    buildMailStanza({
      to: "alice@example.org",
      id: "m1",
      subject: "Hi",
      fallbackBody: "Hi",
      size: 3,
      sha256: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
      payload: { inline: encodeBase64(new TextEncoder().encode("abc")) },
    });

  it("never throws, and classifies every stanza as ok, ignored or rejected with a reason", () => {
    const started = performance.now();
    const before = total;
    const attrs = fc.dictionary(fc.constantFrom("from", "to", "id", "type", "size", "sha256", "url", "cipher", "key", "iv", "version", "xmlns"), asciiish, { maxKeys: 6 });
    const child: fc.Arbitrary<Element> = fc.letrec<{ node: Element }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.tuple(fc.constantFrom("mail", "inline", "external", "origin-id", "store", "body", "subject", "x"), attrs, asciiish).map(([n, a, t]) => xml(n, a, t)),
        fc.tuple(fc.constantFrom("mail", "external"), attrs, fc.array(tie("node"), { maxLength: 3 })).map(([n, a, kids]) => xml(n, a, ...kids)),
      ),
    })).node;
    fc.assert(
      fc.property(attrs, fc.array(child, { maxLength: 4 }), fc.boolean(), (a, kids, withMail) => {
        const stanza = xml("message", { from: "bob@example.org/x", ...a }, ...(withMail ? [xml("mail", { xmlns: "https://mailoverxmpp.net/protocol/mail/0" }, ...kids)] : kids));
        const result = timed("parseMailStanza", () => parseMailStanza(stanza));
        if (!result.ok && !result.ignore) expect(result.reason).toMatch(/^(malformed|too-large|hash-mismatch|download-failed|decrypt-failed|not-mime|policy)$/);
        if (result.ok) expect(isValidBareJid(result.mail.from)).toBe(true);
      }),
      { numRuns: runs(3000) },
    );
    // Mutations of a valid stanza: every attribute of <mail> and its payload replaced by junk.
    fc.assert(
      fc.property(fc.constantFrom("size", "sha256", "id"), asciiish, (attr, junk) => {
        const s = valid();
        const mail = s.getChild("mail")!;
        if (attr === "id") s.attrs.id = junk;
        else mail.attrs[attr] = junk;
        s.attrs.from = "bob@example.org/x";
        const result = timed("parseMailStanza", () => parseMailStanza(s));
        expect(result.ok === false || result.ok === true).toBe(true);
      }),
      { numRuns: runs(1000) },
    );
    measure("mail stanza", started, before);
  });
});

describe("fuzz: base64, MIME, addresses", () => {
  it("decodeBase64Strict agrees with Buffer on valid input and rejects the rest with its own error", () => {
    const started = performance.now();
    const before = total;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const b64 = Buffer.from(bytes).toString("base64");
        expect(Buffer.from(timed("decodeBase64Strict", () => decodeBase64Strict(b64, 1000))).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: runs(1500) },
    );
    fc.assert(
      fc.property(text, fc.integer({ min: -5, max: 500 }), (junk, max) => {
        try {
          const out = timed("decodeBase64Strict", () => decodeBase64Strict(junk, max));
          expect(out.length).toBeLessThanOrEqual(Math.max(0, max));
          expect(Buffer.from(out).toString("base64")).toBe(junk);
        } catch (error) {
          if (!(error instanceof Base64Error)) throw error;
        }
      }),
      { numRuns: runs(1500) },
    );
    measure("base64", started, before);
  });

  it("inspectMail returns or throws its own error on random and mutated messages, and on MIME bombs", () => {
    const started = performance.now();
    const before = total;
    const good = buildMessage(
      { from: "Bob <bob@example.org>", to: ["alice@example.org"], cc: [], bcc: [], replyTo: [], subject: "x", text: "hello", html: "<p>hello</p>", isPlainText: false, attachments: [{ name: "a.bin", contentType: "application/octet-stream", data: new Uint8Array([1, 2, 3]) }] },
      { date: new Date(0), messageId: "<a@b.c>" },
    );
    const attempt = (bytes: Uint8Array) => {
      try {
        timed("inspectMail", () => inspectMail(bytes));
      } catch (error) {
        if (!(error instanceof MimeInspectError)) throw error;
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), attempt), { numRuns: runs(800) });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), (edits) => {
        const bytes = Uint8Array.from(good);
        for (const [at, value] of edits) bytes[at] = value;
        attempt(bytes);
      }),
      { numRuns: runs(800) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 2000 }), (depth, parts) => {
        let body = "leaf\r\n";
        for (let d = 0; d < depth; d++) body = `--b${d}\r\nContent-Type: multipart/mixed; boundary=b${d + 1}\r\n\r\n${body}\r\n--b${d}--\r\n`;
        const wide = Array.from({ length: parts }, (_, i) => `--w\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`).join("") + "--w--\r\n";
        attempt(new TextEncoder().encode(`From: a@b.c\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n${body}`));
        attempt(new TextEncoder().encode(`From: a@b.c\r\nContent-Length: 99999999999\r\nContent-Type: multipart/mixed; boundary=w\r\n\r\n${wide}`));
      }),
      { numRuns: runs(100) },
    );
    measure("MIME", started, before);
  });

  it("parseAddressList never throws anything but an Error and stays fast", () => {
    const started = performance.now();
    const before = total;
    fc.assert(
      fc.property(fc.oneof(text, asciiish), (s) => {
        try {
          const list = timed("parseAddressList", () => parseAddressList(s));
          for (const a of list) expect(typeof a.address).toBe("string");
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
        }
      }),
      { numRuns: runs(1500) },
    );
    measure("addresses", started, before);
  });
});

describe("fuzz: no spoofed mail presented as verified", () => {
  it("verifies a sender only by address equality, a confirmed mapping or the address book", () => {
    const started = performance.now();
    const before = total;
    const email = fc.tuple(fc.constantFrom("bob", "Bob", "eve", "b0b"), fc.constantFrom("example.org", "EXAMPLE.org", "evil.test")).map(([l, d]) => `${l}@${d}`);
    fc.assert(
      fc.property(fc.array(email, { maxLength: 3 }), email, fc.array(email, { maxLength: 2 }), fc.array(email, { maxLength: 2 }), fc.boolean(), (from, jid, confirmed, book, known) => {
        const verdict = timed("checkSender", () => checkSender({ fromAddresses: from, senderJid: jid, confirmedJids: confirmed, addressBookJids: book, senderKnown: known }));
        if (verdict.verified) {
          expect(from).toHaveLength(1);
          const j = jid.toLowerCase();
          expect(from[0]!.toLowerCase() === j || confirmed.some((c) => c.toLowerCase() === j) || book.some((b) => b.toLowerCase() === j)).toBe(true);
        }
      }),
      { numRuns: runs(2000) },
    );
    // A sender's own "X-Mail-Over-XMPP: … verified=yes" never survives next to the trace header the receiver adds.
    fc.assert(
      fc.property(fc.constantFrom("X-Mail-Over-XMPP", "x-mail-over-xmpp", "X-MAIL-OVER-XMPP"), asciiish, (name, value) => {
        const forged = new TextEncoder().encode(`${name}: from=ceo@bank.test; verified=yes ${value.replace(/[\r\n]/g, " ")}\r\nFrom: ceo@bank.test\r\n\r\nbody`);
        const filed = new TextDecoder().decode(
          timed("neutralize", () => prependHeader(neutralizeTraceHeaders(forged), traceHeader({ fromJid: "eve@evil.test", verified: false, originId: "o", receivedAt: new Date(0) }))),
        );
        const traceLines = filed.split("\r\n\r\n")[0]!.split("\r\n").filter((l) => /^x-mail-over-xmpp:/i.test(l));
        expect(traceLines).toHaveLength(1);
        expect(traceLines[0]).toMatch(/verified=no/);
      }),
      { numRuns: runs(1000) },
    );
    measure("sender check", started, before);
  });
});

describe("fuzz: values from policies and headers", () => {
  it("validates every setting and policy without throwing, and never accepts an insecure or malformed value", () => {
    const started = performance.now();
    const before = total;
    const value = fc.oneof(text, asciiish, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(asciiish, { maxLength: 2 }), fc.object({ maxDepth: 1 }));
    fc.assert(
      fc.property(fc.constantFrom(...SETTING_KEYS), value, (key, v) => {
        const check = timed("validateSetting", () => validateSetting(key, v));
        if (check.ok && key === "websocketUrl" && typeof v === "string" && v !== "") expect(v.startsWith("wss://") || v.startsWith("ws://")).toBe(true);
        if (check.ok && key === "jid" && typeof v === "string") expect(/\s/.test(v)).toBe(false);
      }),
      { numRuns: runs(2000) },
    );
    fc.assert(
      fc.property(fc.dictionary(fc.oneof(fc.constantFrom(...SETTING_KEYS), asciiish), value, { maxKeys: 5 }), fc.oneof(fc.dictionary(fc.constantFrom(...SETTING_KEYS), value, { maxKeys: 5 }), value), (local, managed) => {
        const resolved = timed("resolveSettings", () => resolveSettings(local, managed));
        // Every effective value is a valid one ("" for password means "none set", the default).
        for (const key of SETTING_KEYS) if (!(key === "password" && resolved.settings.password === "")) expect(validateSetting(key, resolved.settings[key]).ok).toBe(true);
      }),
      { numRuns: runs(1000) },
    );
    measure("settings", started, before);
  });

  it("learns from X-Jabber-ID only valid bare JIDs, and resolution never hands out an invalid one", () => {
    const started = performance.now();
    const before = total;
    fc.assert(
      fc.property(fc.oneof(text, asciiish), (v) => {
        const jid = timed("parseJabberId", () => parseJabberId(v));
        if (jid !== null) expect(isValidBareJid(jid)).toBe(true);
      }),
      { numRuns: runs(1500) },
    );
    fc.assert(
      fc.property(asciiish, asciiish, asciiish, fc.boolean(), (recipient, jid, domain, confirmed) => {
        const key = recipient.toLowerCase().trim();
        const res = timed("resolveRecipient", () =>
          resolveRecipient(recipient, {
            explicit: new Map([[key, jid]]),
            addressBook: new Map([[key, [jid]]]),
            xmppDomains: [domain],
            learned: new Map([[key, { jid, confirmed }]]),
            verifiedSenders: new Map([[key, jid]]),
          }),
        );
        if (res.jid !== null) expect(isValidBareJid(res.jid)).toBe(true);
      }),
      { numRuns: runs(1500) },
    );
    measure("headers and resolution", started, before);
  });

  it(`ran at least ${runs(10_000)} cases in total`, () => {
    console.log(`[measure] fuzz total: ${total} cases`);
    expect(total).toBeGreaterThanOrEqual(runs(10_000));
  });
});

describe("fuzz: the From the receiver verifies is the From a mail parser reads (postal-mime as the second reader)", () => {
  it("never verifies an address that postal-mime would not show as the author", async () => {
    const { default: PostalMime } = await import("postal-mime");
    const started = performance.now();
    const before = total;
    const addr = fc.constantFrom("bob@localhost", "ceo@bank.example", "mallory@x.example", '"b o b"@localhost', "BOB@LOCALHOST");
    const piece = fc.oneof(
      addr,
      addr.map((a) => `<${a}>`),
      fc.constantFrom("Bob", '"Bob, Inc"', '"<bob@localhost>"', "J. Doe", "=?utf-8?q?B=C3=B6b?=", "(comment)", ",", ";", ":", " ", "\t", "\u0000", "\r", "\n ", "\\", '"', "<", ">", "@"),
    );
    const value = fc.array(piece, { minLength: 1, maxLength: 6 }).map((parts) => parts.join(""));
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(value, async (from) => {
        const raw = new TextEncoder().encode(`From: ${from}\r\nSubject: x\r\nMessage-ID: <m@x.example>\r\n\r\nbody\r\n`);
        let checked: string | null = null;
        timed("inspect + parseSingleMailbox", () => {
          try {
            const mail = inspectMail(raw);
            const mailbox = mail.from.length === 1 ? parseSingleMailbox(mail.from[0]!) : null;
            checked = mailbox ? mailbox.address.toLowerCase() : null;
          } catch (error) {
            if (!(error instanceof MimeInspectError)) throw error;
          }
        });
        if (checked === null) return;
        compared += 1;
        const parsed = await PostalMime.parse(raw);
        expect(parsed.from?.address?.toLowerCase(), `From: ${JSON.stringify(from)}`).toBe(checked);
      }),
      { numRuns: runs(2000) },
    );
    measure("From vs postal-mime", started, before);
    console.log(`[measure] fuzz From vs postal-mime: ${compared} verified Froms compared`);
    expect(compared).toBeGreaterThan(runs(2000) / 20); // the generator must reach the comparison, not only rejections
  });
});

describe("fuzz: the MIME structure check stays linear and reads the tree postal-mime reads (issue 12, finding 2)", () => {
  type Tree = { kind: "leaf"; headerless: boolean; lines: string[] } | { kind: "multi"; boundary: string; preamble: string[]; children: Tree[]; epilogue: string[] };
  // Boundaries that are prefixes of each other, differ by a trailing "--", hold a blank, or are 70 characters long.
  const BOUNDARIES = ["b", "b1", "b10", "b-", "b--", "a b", "=_x", `${"-".repeat(68)}aa`, `${"-".repeat(68)}ab`, "X".repeat(70)];
  const lineOf = fc.oneof(
    fc.constantFrom("", "text", "--", "---", "-- ", "-", "--\t"),
    fc.tuple(fc.constantFrom(...BOUNDARIES), fc.constantFrom("", "--", "x", " ", "\t ", "-- ", "--x", "-"), fc.constantFrom("--", " --", "")).map(([b, tail, head]) => `${head}${b}${tail}`),
  );
  const lines = fc.array(lineOf, { maxLength: 4 });
  const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.record({ kind: fc.constant("leaf" as const), headerless: fc.boolean(), lines }),
      fc.record({ kind: fc.constant("multi" as const), boundary: fc.constantFrom(...BOUNDARIES), preamble: lines, children: fc.array(tie("node"), { minLength: 1, maxLength: 3 }), epilogue: lines }),
    ),
  })).node;
  // Deep chains, across the depth limit of 20.
  const chain = fc.tuple(fc.integer({ min: 15, max: 23 }), fc.array(lineOf, { maxLength: 3 })).map(([depth, body]): Tree => {
    let t: Tree = { kind: "leaf", headerless: false, lines: body };
    for (let d = depth - 1; d >= 0; d--) t = { kind: "multi", boundary: `${BOUNDARIES[d % BOUNDARIES.length]!.slice(0, 68)}${d}`, preamble: [], children: [t], epilogue: [] };
    return t;
  });

  const count = (t: Tree): number => (t.kind === "leaf" ? 1 : 1 + t.children.reduce((n, c) => n + count(c), 0));
  const depthOf = (t: Tree): number => (t.kind === "leaf" ? 0 : 1 + Math.max(...t.children.map(depthOf)));
  /** Whether `line` is a delimiter of one of `open` (whole line, trailing blanks aside). */
  const delimits = (line: string, open: readonly string[]) => open.some((b) => line.replace(/[ \t\r]+$/, "") === `--${b}` || line.replace(/[ \t\r]+$/, "") === `--${b}--`);
  /** No body line reads as a delimiter of an open boundary, and no nested boundary equals an open one or it plus "--". */
  function clean(t: Tree, open: readonly string[]): boolean {
    if (t.kind === "leaf") return !t.lines.some((l) => delimits(l, open));
    const b = t.boundary;
    if (b.length > 70 || open.some((o) => o === b || o === `${b}--` || `${o}--` === b)) return false;
    const inside = [...open, b];
    return !t.preamble.some((l) => delimits(l, inside)) && !t.epilogue.some((l) => delimits(l, open)) && t.children.every((c) => clean(c, inside));
  }
  function render(t: Tree, eol: string, pad: string): string {
    if (t.kind === "leaf") return `${t.headerless ? "" : `Content-Type: text/plain${eol}`}${eol}${t.lines.join(eol)}`;
    const b = t.boundary;
    const parts = t.children.map((c) => `--${b}${pad}${eol}${render(c, eol, pad)}${eol}`).join("");
    const pre = t.preamble.map((l) => l + eol).join("");
    const epi = t.epilogue.map((l) => eol + l).join("");
    return `Content-Type: multipart/mixed; boundary="${b}"${eol}${eol}${pre}${parts}--${b}--${pad}${epi}`;
  }
  interface PostalNode {
    childNodes: PostalNode[];
  }
  const postalCount = (n: PostalNode): number => 1 + n.childNodes.reduce((k, c) => k + postalCount(c), 0);

  it("random nested multiparts: at most 8 × the size examined; well-formed trees accepted whole; postal-mime reads as many parts whenever the check accepts", async () => {
    const { default: PostalMime } = await import("postal-mime");
    const started = performance.now();
    const before = total;
    let accepted = 0;
    let cleanTrees = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(tree, chain), fc.constantFrom("\r\n", "\n"), fc.constantFrom("", " ", "\t "), fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }), async (t, eol, pad, cut) => {
        const text = `From: a@b.example${eol}Subject: x${eol}${render(t, eol, pad)}${eol}`;
        const full = Uint8Array.from(text, (c) => c.charCodeAt(0));
        const bytes = cut === undefined ? full : full.subarray(0, Math.floor(full.length * cut));
        const stats = { examined: 0 };
        let parts: number | null = null;
        timed("inspectMail (tree)", () => {
          try {
            parts = inspectMail(bytes, undefined, stats).parts;
          } catch (error) {
            if (!(error instanceof MimeInspectError)) throw error;
          }
        });
        expect(stats.examined).toBeLessThanOrEqual(8 * bytes.length);
        const wellFormed = cut === undefined && clean(t, []) && depthOf(t) <= 20;
        if (wellFormed) {
          cleanTrees += 1;
          expect(parts, text).toBe(count(t));
        }
        if (parts === null) return;
        accepted += 1;
        const parser = new PostalMime();
        await parser.parse(bytes);
        expect(postalCount((parser as unknown as { root: PostalNode }).root), text).toBe(parts);
      }),
      { numRuns: runs(1500) },
    );
    measure("MIME trees vs postal-mime", started, before);
    console.log(`[measure] fuzz MIME trees: ${accepted} accepted and compared with postal-mime, ${cleanTrees} well-formed`);
    expect(accepted).toBeGreaterThan(runs(1500) / 10);
  });
});
