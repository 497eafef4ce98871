// The diagnostic report tells what happened without anything private in it.
import { describe, expect, it } from "vitest";
import { diagnosticReport } from "../../src/core/diagnostic.js";
import type { DeliveryRecord } from "../../src/core/send-flow.js";
import { DEFAULT_SETTINGS } from "../../src/core/settings.js";

const entry = (over: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
  at: Date.UTC(2026, 10, 23, 10, 0, 0),
  holdMs: 42,
  policy: "whole-message",
  messageId: "<secret-id-123@mail.example>",
  subject: "Salary negotiation with Bob",
  summary: "whole-message: 1 xmpp, 0 smtp [xmpp 1]",
  result: "xmpp",
  recipients: [{ address: "Bob Secret <bob.secret@corp.example>", field: "to", jid: "bob.secret@corp.example", via: "address-book", reason: "xmpp", outcome: "filed", smtp: false }],
  ...over,
});

describe("diagnosticReport", () => {
  const report = diagnosticReport({
    addonVersion: "0.1.0",
    host: "Thunderbird 153.7.0esr",
    status: { state: "online", jid: "alice.private@example.org/thunderbird-1234abcd", since: 0 },
    settings: { ...DEFAULT_SETTINGS, jid: "alice.private@example.org", password: "hunter2-policy", xmppDomains: "corp.example, other.example" },
    entries: [
      entry(),
      entry({ result: "smtp", recipients: [{ address: "carol@nowhere.example", field: "cc", via: "no-mapping", reason: "no-jid", smtp: true }], error: "reading the message: deadline passed" }),
    ],
    now: new Date(Date.UTC(2026, 10, 23, 12, 0, 0)),
  });

  it("summarizes routes, reasons, outcomes and hold times", () => {
    expect(report).toContain("results: xmpp 1, smtp 1");
    expect(report).toContain("recipient reasons: xmpp 1, no-jid 1");
    expect(report).toContain("XMPP outcomes: filed 1");
    expect(report).toContain("session: online (domain example.org)");
    expect(report).toContain("xmppDomains 2 listed");
    expect(report).toMatch(/to:xmpp\/filed/);
    expect(report).toMatch(/cc:no-jid\+smtp/);
  });

  it("states the preview setting and how many XMPP copies went end-to-end encrypted", () => {
    expect(report).toContain("e2ePreview false");
    expect(report).toContain("end-to-end encryption (XMPP copies): none");
    const bob = entry().recipients[0]!;
    const mixed = diagnosticReport({
      addonVersion: "0.1.0",
      host: "Thunderbird 153.7.0esr",
      status: { state: "disconnected" },
      settings: { ...DEFAULT_SETTINGS, e2ePreview: true },
      entries: [
        entry({ recipients: [{ ...bob, e2e: true }, { ...bob, address: "dave@corp.example", field: "cc", e2e: true }] }),
        entry({ recipients: [{ ...bob, e2e: false }, { ...bob, field: "bcc" }] }),
      ],
      now: new Date(Date.UTC(2026, 10, 23, 12, 0, 0)),
    });
    expect(mixed).toContain("e2ePreview true");
    expect(mixed).toContain("end-to-end encryption (XMPP copies): encrypted 2, not encrypted 1");
    expect(mixed).toMatch(/to:xmpp\/filed\+e2e cc:xmpp\/filed\+e2e\]/);
    expect(mixed).toMatch(/to:xmpp\/filed\+v0 bcc:xmpp\/filed\]/);
  });

  it("contains no address, subject, Message-ID, local part or password", () => {
    for (const secret of ["bob.secret", "corp.example", "Salary", "secret-id-123", "alice.private", "hunter2", "carol@", "nowhere.example", "thunderbird-1234abcd"]) {
      expect(report).not.toContain(secret);
    }
  });
});
