// Issue 12 finding 1: the From the receiver checks must be the one Thunderbird displays. The header block may not hold
// NUL or bare CR (Thunderbird and the inspector would read different lines), and only exactly one mailbox is checked.
import { describe, expect, it } from "vitest";
import { parseSingleMailbox } from "../../src/core/mime/address.js";
import { inspectMail, MimeInspectError } from "../../src/core/mime/inspect.js";
import { checkSender } from "../../src/core/receive-rules.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("parseSingleMailbox: exactly one mailbox, nothing after it", () => {
  it.each([
    ["Bob <bob@example.org>", "bob@example.org"],
    ["bob@example.org", "bob@example.org"],
    ["<bob@example.org>", "bob@example.org"],
    ['"Doe, John" <j@d.example>', "j@d.example"],
    ["J. Doe <j@d.example>", "j@d.example"],
    ["=?utf-8?q?J=C3=B6rg?= <j@x.example>", "j@x.example"],
    ['"bob@example.org" <carol@evil.example>', "carol@evil.example"], // the address is the angle-addr, as Thunderbird shows
  ])("accepts %j as %j", (value, address) => {
    expect(parseSingleMailbox(value)?.address).toBe(address);
  });

  it.each([
    "<mallory@localhost> <ceo@bank.example>", // Thunderbird shows "<mallory@localhost>" <ceo@bank.example>
    "ceo@bank.example\u0000 <mallory@localhost>",
    "Bob <bob@example.org> trailing",
    "a@example.org, b@example.org",
    "a@example.org (Alice)",
    "Team: a@example.org;",
    "<bob@example.org",
    "",
    "Bob <>",
    "bob@[127.0.0.1]",
    '"b o b"@example.org', // quoted local parts are read differently by different parsers
    // Thunderbird decodes an encoded word inside the atoms (found by tests/e2e/from-oracle.test.ts):
    "Mallory=?utf-8?q?ceo=40bank=2Eexample?=MALLORY@EVIL.EXAMPLE",
    "M <m=?utf-8?q?x?=@evil.example>",
  ])("refuses %j", (value) => {
    expect(parseSingleMailbox(value)).toBeNull();
  });

  it("stays linear on long near-misses", () => {
    const t0 = performance.now();
    for (const v of ["a ".repeat(990) + "(", "a".repeat(1_990) + "(", '"'.repeat(1_990), "a.".repeat(990) + "@"]) parseSingleMailbox(v);
    expect(performance.now() - t0).toBeLessThan(200);
  });
});

describe("inspectMail: the header block Thunderbird and the add-on read alike", () => {
  it("rejects a NUL or a bare CR in the header block (not-mime)", () => {
    for (const raw of [
      "From: ceo@bank.example\u0000 <mallory@localhost>\r\nSubject: x\r\n\r\nbody\r\n",
      "X-A: b\rFrom: ceo@bank.example\r\nFrom: mallory@localhost\r\nSubject: x\r\n\r\nbody\r\n",
      "From: mallory@localhost\r\nX-Note: a\rX-Mail-Over-XMPP: from=ceo@bank.example; verified=yes\r\n\r\nbody\r\n",
    ]) {
      expect(() => inspectMail(bytes(raw))).toThrow(MimeInspectError);
    }
  });

  it("keeps a NBSP after the address (Thunderbird shows it as part of the author): no mailbox to verify", () => {
    // Found by tests/e2e/from-oracle.test.ts: String.prototype.trim dropped the 0xA0 byte, Thunderbird did not.
    const raw = Uint8Array.from("From: mallory@evil.example\u00a0\r\nSubject: x\r\n\r\nb\r\n", (c) => c.charCodeAt(0));
    const from = inspectMail(raw).from;
    expect(from).toEqual(["mallory@evil.example\u00a0"]);
    expect(parseSingleMailbox(from[0]!)).toBeNull();
  });

  it("accepts bare LF line ends throughout, and a CR or NUL in the body", () => {
    expect(inspectMail(bytes("From: bob@example.org\nSubject: lf\n\nbody\rwith CR\u0000\n")).from).toEqual(["bob@example.org"]);
  });
});

describe("checkSender with an unclear From", () => {
  it("never verifies a From that is not exactly one mailbox, even when some address in it equals the JID", () => {
    expect(
      checkSender({ fromAddresses: ["mallory@localhost"], fromUnclear: true, senderJid: "mallory@localhost", confirmedJids: [], addressBookJids: [], senderKnown: false }),
    ).toEqual({ verified: false, reason: "unclear-from" });
  });
});
