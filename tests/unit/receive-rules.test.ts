// The receiving side's pure rules (src/core/receive-rules.ts): the bounded, persisted dedupe set, the sender check
// (a table), the trace header (sanitized) and prepending it byte-exactly.
import { describe, expect, it } from "vitest";
import { checkSender, DedupeSet, messageIdKey, neutralizeTraceHeaders, originKey, prependHeader, traceHeader, type SenderEvidence, type SenderVerdict } from "../../src/core/receive-rules.js";

describe("DedupeSet", () => {
  it("remembers keys and forgets nothing below its bound", () => {
    const set = new DedupeSet(3);
    expect(set.has("a")).toBe(false);
    set.add("a");
    set.add("b");
    set.add("c");
    expect(["a", "b", "c"].map((k) => set.has(k))).toEqual([true, true, true]);
    expect(set.toJSON()).toEqual(["a", "b", "c"]);
  });

  it("drops the oldest key first when the bound is exceeded", () => {
    const set = new DedupeSet(3);
    for (const k of ["a", "b", "c", "d", "e"]) set.add(k);
    expect(set.toJSON()).toEqual(["c", "d", "e"]);
    expect(set.has("a")).toBe(false);
    expect(set.has("b")).toBe(false);
  });

  it("counts a key added again as new (it moves to the young end) and never holds it twice", () => {
    const set = new DedupeSet(3);
    for (const k of ["a", "b", "c", "a", "d"]) set.add(k);
    expect(set.toJSON()).toEqual(["c", "a", "d"]);
  });

  it("round-trips through JSON, oldest first, and a restored set keeps evicting in the same order", () => {
    const set = new DedupeSet(4);
    for (const k of ["k1", "k2", "k3", "k4"]) set.add(k);
    const saved = JSON.parse(JSON.stringify(set)) as unknown;
    expect(saved).toEqual(["k1", "k2", "k3", "k4"]);
    const restored = new DedupeSet(4, saved);
    restored.add("k5");
    expect(restored.toJSON()).toEqual(["k2", "k3", "k4", "k5"]);
  });

  it("restores into a smaller bound by keeping the youngest, and ignores persisted garbage", () => {
    expect(new DedupeSet(2, ["a", "b", "c"]).toJSON()).toEqual(["b", "c"]);
    expect(new DedupeSet(5, ["a", 7, null, { x: 1 }, "b"]).toJSON()).toEqual(["a", "b"]);
    expect(new DedupeSet(5, "not a list").toJSON()).toEqual([]);
    expect(new DedupeSet(5, undefined).toJSON()).toEqual([]);
  });

  it("holds 5000 keys by default", () => {
    const set = new DedupeSet();
    for (let i = 0; i < 5001; i++) set.add(`k${i}`);
    expect(set.toJSON()).toHaveLength(5000);
    expect(set.has("k0")).toBe(false);
    expect(set.has("k5000")).toBe(true);
  });

  it("builds origin keys per sender (JID case-folded, origin-id exact) and Message-ID keys case-folded", () => {
    expect(originKey("Bob@Example.ORG", "Ab-1")).toBe("origin:bob@example.org/Ab-1");
    expect(originKey("bob@example.org", "Ab-1")).not.toBe(originKey("carol@example.org", "Ab-1"));
    expect(messageIdKey("Bob@Example.org", " <X.Y@Host> ")).toBe("msgid:bob@example.org/<x.y@host>");
    expect(messageIdKey("bob@example.org", "<a@b>")).not.toBe(messageIdKey("carol@example.org", "<a@b>"));
  });
});

describe("checkSender", () => {
  const none = { confirmedJids: [], addressBookJids: [], senderKnown: false } as const;
  const cases: Array<[string, SenderEvidence, SenderVerdict]> = [
    ["same address", { ...none, fromAddresses: ["bob@example.org"], senderJid: "bob@example.org" }, { verified: true, how: "same-address", known: false }],
    ["same address, different case", { ...none, fromAddresses: ["Bob@Example.org"], senderJid: "bob@EXAMPLE.org" }, { verified: true, how: "same-address", known: false }],
    ["same address, known in roster/address book", { ...none, senderKnown: true, fromAddresses: ["bob@example.org"], senderJid: "bob@example.org" }, { verified: true, how: "same-address", known: true }],
    ["no From address", { ...none, fromAddresses: [], senderJid: "bob@example.org" }, { verified: false, reason: "no-from" }],
    ["two From addresses, one of them the JID", { ...none, fromAddresses: ["bob@example.org", "carol@example.org"], senderJid: "bob@example.org" }, { verified: false, reason: "multiple-from" }],
    ["another address, nothing binds it", { ...none, fromAddresses: ["carol@example.org"], senderJid: "bob@example.org" }, { verified: false, reason: "mismatch" }],
    ["another address, known sender does not help", { ...none, senderKnown: true, fromAddresses: ["carol@example.org"], senderJid: "bob@example.org" }, { verified: false, reason: "mismatch" }],
    [
      "another address confirmed by the user for this JID",
      { ...none, confirmedJids: ["BOB@example.org"], fromAddresses: ["bob@work.example"], senderJid: "bob@example.org" },
      { verified: true, how: "confirmed-mapping", known: false },
    ],
    [
      "another address confirmed for a different JID",
      { ...none, confirmedJids: ["carol@example.org"], fromAddresses: ["bob@work.example"], senderJid: "bob@example.org" },
      { verified: false, reason: "mismatch" },
    ],
    [
      "address-book contact with this address holds the JID (known by definition)",
      { ...none, addressBookJids: ["x@y", "bob@example.org"], fromAddresses: ["bob@work.example"], senderJid: "bob@example.org" },
      { verified: true, how: "address-book", known: true },
    ],
    [
      "address-book contact with this address holds another JID",
      { ...none, addressBookJids: ["carol@example.org"], fromAddresses: ["bob@work.example"], senderJid: "bob@example.org" },
      { verified: false, reason: "mismatch" },
    ],
    [
      "confirmed mapping wins over the address book when both bind",
      { ...none, confirmedJids: ["bob@example.org"], addressBookJids: ["bob@example.org"], fromAddresses: ["bob@work.example"], senderJid: "bob@example.org" },
      { verified: true, how: "confirmed-mapping", known: true },
    ],
    [
      "a JID that only shares the local part",
      { ...none, fromAddresses: ["bob@evil.example"], senderJid: "bob@example.org" },
      { verified: false, reason: "mismatch" },
    ],
    [
      "the JID as a prefix of the address",
      { ...none, fromAddresses: ["bob@example.org.evil.example"], senderJid: "bob@example.org" },
      { verified: false, reason: "mismatch" },
    ],
  ];
  it.each(cases)("%s", (_label, evidence, verdict) => {
    expect(checkSender(evidence)).toEqual(verdict);
  });
});

describe("traceHeader", () => {
  const receivedAt = new Date("2026-11-23T21:00:00.000Z");

  it("formats one header line as in docs/protocol.md §6", () => {
    expect(traceHeader({ fromJid: "alice@example.org", verified: true, how: "same-address", originId: "2f1c", receivedAt })).toBe(
      "X-Mail-Over-XMPP: from=alice@example.org; verified=yes; how=same-address; origin-id=2f1c; received=2026-11-23T21:00:00.000Z\r\n",
    );
    expect(traceHeader({ fromJid: "bob@example.org", verified: false, originId: "x", receivedAt })).toBe(
      "X-Mail-Over-XMPP: from=bob@example.org; verified=no; origin-id=x; received=2026-11-23T21:00:00.000Z\r\n",
    );
  });

  it("ends with e2e=yes|no and, for a signer not pinned, key=changed (docs/protocol.md §10.8)", () => {
    const base = { fromJid: "alice@example.org", verified: true, how: "same-address", originId: "2f1c", receivedAt };
    expect(traceHeader({ ...base, e2e: true })).toMatch(/; received=2026-11-23T21:00:00\.000Z; e2e=yes\r\n$/);
    expect(traceHeader({ ...base, e2e: true, keyChanged: true })).toMatch(/; e2e=yes; key=changed\r\n$/);
    expect(traceHeader({ ...base, e2e: false })).toMatch(/; e2e=no\r\n$/);
  });

  it.each([
    ["CRLF (header injection)", "evil@example.org\r\nFrom: ceo@example.org"],
    ["bare LF", "evil@example.org\nX-Spam: no"],
    ["bare CR", "evil@example.org\rX: y"],
    ["a semicolon (fake field)", "evil@example.org; verified=yes"],
  ])("neutralizes %s in every value", (_label, nasty) => {
    const line = traceHeader({ fromJid: nasty, verified: false, how: nasty, originId: nasty, receivedAt });
    expect(line.endsWith("\r\n")).toBe(true);
    const body = line.slice(0, -2);
    expect(body).not.toMatch(/[\r\n]/);
    // Exactly the five fields we wrote: no value can add one.
    expect(body.split(";")).toHaveLength(5);
    expect(body).toContain("verified=no;");
    expect(body.match(/verified=/g)).toHaveLength(1);
  });

  it("bounds the length of each value", () => {
    const line = traceHeader({ fromJid: "a".repeat(10_000), verified: true, originId: "b".repeat(10_000), receivedAt });
    expect(line.length).toBeLessThan(1_000);
  });
});

describe("prependHeader", () => {
  it("puts the header line in front of the original bytes, which stay byte-exact (8-bit, CRLF, NUL included)", () => {
    const raw = Uint8Array.from([0x46, 0x72, 0x6f, 0x6d, 0x3a, 0x20, 0xe4, 0x0d, 0x0a, 0x00, 0xff, 0x0a]);
    const out = prependHeader(raw, "X-Mail-Over-XMPP: from=a@b\r\n");
    const head = new TextEncoder().encode("X-Mail-Over-XMPP: from=a@b\r\n");
    expect(out.length).toBe(head.length + raw.length);
    expect(out.subarray(0, head.length)).toEqual(head);
    expect(out.subarray(head.length)).toEqual(raw);
  });

  it("works on an empty mail and on a view into a larger buffer, without touching the input", () => {
    expect(new TextDecoder().decode(prependHeader(new Uint8Array(0), "X: y\r\n"))).toBe("X: y\r\n");
    const big = new TextEncoder().encode("xxxxSubject: s\r\n\r\nbody");
    const view = big.subarray(4);
    const copy = view.slice();
    const out = prependHeader(view, "X: y\r\n");
    expect(new TextDecoder().decode(out)).toBe("X: y\r\nSubject: s\r\n\r\nbody");
    expect(view).toEqual(copy);
  });
});

describe("neutralizeTraceHeaders", () => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  it("renames sender-supplied trace headers in the header block only, keeping every byte offset", () => {
    const raw = enc.encode("From: a@b\r\nx-mail-over-xmpp: verified=yes\r\nSubject: s\r\n\r\nX-Mail-Over-XMPP: in the body stays\r\n");
    const out = neutralizeTraceHeaders(raw);
    expect(out.length).toBe(raw.length);
    expect(dec.decode(out)).toBe("From: a@b\r\nX-Untrusted-Mox-: verified=yes\r\nSubject: s\r\n\r\nX-Mail-Over-XMPP: in the body stays\r\n");
  });
  it("returns the same bytes when there is nothing to rename", () => {
    const raw = enc.encode("From: a@b\r\n\r\nbody");
    expect(neutralizeTraceHeaders(raw)).toBe(raw);
  });
});

describe("FiledIndex", () => {
  it("recognizes an SMTP copy by Message-ID and the verified From address only", async () => {
    const { FiledIndex } = await import("../../src/core/receive-rules.js");
    const index = new FiledIndex(3);
    index.remember("<Abc@Host>", "Bob@Example.org", 1_000);
    expect(index.isDuplicate("abc@host", ["bob@example.org"])).toBe(true);
    expect(index.isDuplicate("<abc@host>", ["mallory@evil.example"])).toBe(false);
    expect(index.isDuplicate("<abc@host>", ["bob@example.org", "x@y"])).toBe(false);
    expect(index.isDuplicate("<other@host>", ["bob@example.org"])).toBe(false);
  });
  it("lists recent ids, stays bounded and survives a restart", async () => {
    const { FiledIndex } = await import("../../src/core/receive-rules.js");
    const index = new FiledIndex(2);
    index.remember("<a@h>", "a@x", 0);
    index.remember("<b@h>", "b@x", 100);
    index.remember("<c@h>", "c@x", 200);
    expect(index.recent(250, 100)).toEqual(["c@h"]); // "a" was dropped (bound 2), "b" is older than 100 ms
    const again = new FiledIndex(10, JSON.parse(JSON.stringify(index.toJSON())));
    expect(again.isDuplicate("<a@h>", ["a@x"])).toBe(false);
    expect(again.isDuplicate("<c@h>", ["c@x"])).toBe(true);
    expect(new FiledIndex(10, [["x", 1], "junk", null]).toJSON()).toEqual([]);
  });
});
