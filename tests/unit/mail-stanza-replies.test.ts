// The receiver's answers (docs/protocol.md §5): "filed" receipts and <rejected/> name the mail stanza's `id`, carry a
// XEP-0334 <store/> hint so that a server keeps them for a sender that went offline, and the sender still matches them
// (live, and after it had answered "accepted").
import type { Element } from "@xmpp/xml";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { NS_MAIL } from "../../src/core/protocol.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { encodeBase64 } from "../../src/core/base64.js";
import { buildFiledReceipt, buildMailStanza, buildRejection, inlineStanzaOctets, NS_HINTS, NS_RECEIPTS, parseDeliveryReport } from "../../src/xmpp/mail-stanza.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";

/** As the recipient's server delivers it: with a `from` stamped on. */
function stamped(stanza: Element, from: string): Element {
  stanza.attrs.from = from;
  return stanza;
}

describe("receipts and rejections on the wire", () => {
  it("a rejection names the stanza id, has a store hint, and is read back as a rejection with its reason", () => {
    const r = buildRejection("alice@example.org/tb", "2f1c-id", "policy");
    expect(r.getChild("rejected", NS_MAIL)?.attrs).toMatchObject({ id: "2f1c-id", reason: "policy" });
    expect(r.getChild("store", NS_HINTS)).toBeDefined();
    expect(r.getChild("no-store", NS_HINTS)).toBeUndefined();
    expect(parseDeliveryReport(stamped(r, "bob@example.org/phone"))).toEqual({ kind: "rejected", id: "2f1c-id", from: "bob@example.org", reason: "policy" });
  });

  it("a filed receipt is XEP-0184 plus <filed/>, both naming the stanza id, with a store hint", () => {
    const r = buildFiledReceipt("alice@example.org/tb", "2f1c-id");
    expect(r.getChild("received", NS_RECEIPTS)?.attrs.id).toBe("2f1c-id");
    expect(r.getChild("filed", NS_MAIL)?.attrs.id).toBe("2f1c-id");
    expect(r.getChild("store", NS_HINTS)).toBeDefined();
    expect(parseDeliveryReport(stamped(r, "bob@example.org/tb2"))).toEqual({ kind: "filed", id: "2f1c-id", from: "bob@example.org" });
  });
});

describe("the inline limit's count (§3)", () => {
  it("is the octets of the stanza's UTF-8 serialisation as sent, escapes and multi-octet characters included", () => {
    for (const [subject, body, size] of [
      ["Quarterly figures", "plain", 0],
      ["A & B <c>", "&".repeat(4000), 1],
      ["Grüße 🎉", "ü".repeat(3000) + "<>&\"'", 2],
      ["s", "b", 8_191],
    ] as const) {
      const raw = new Uint8Array(size).fill(0x41);
      const base = { to: "bob@example.org", id: "2f1c-id", subject, fallbackBody: body, size, sha256: "q".repeat(43) + "=" };
      const wire = buildMailStanza({ ...base, payload: { inline: encodeBase64(raw) } }).toString();
      expect(inlineStanzaOctets(base)).toBe(new TextEncoder().encode(wire).length);
    }
  });
});

/** A session that hands every sent mail stanza to `answer`, whose replies come back as incoming stanzas. */
function scriptedSession(answer: (mail: Element) => Element[]): { session: XmppSession; deliver(stanza: Element): void; sent: Element[] } {
  const sent: Element[] = [];
  const listeners = new Set<(s: Element) => void>();
  const deliver = (stanza: Element) => {
    for (const l of listeners) l(stanza);
  };
  const session = {
    jid: "alice@example.org/tb",
    status: { state: "online", jid: "alice@example.org/tb", since: 0 },
    onStatus: () => () => {},
    onStanza(l: (s: Element) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async request(): Promise<Element> {
      throw new Error("no server here");
    },
    async send(stanza: Element) {
      sent.push(stanza);
      if (stanza.getChild("mail", NS_MAIL)) setTimeout(() => answer(stanza).forEach(deliver), 5);
      return { status: "acked" };
    },
  } as unknown as XmppSession;
  return { session, deliver, sent };
}

describe("the sender matches the receiver's answers", () => {
  const copy = { to: "bob@example.org", raw: new TextEncoder().encode("From: a@example.org\r\n\r\nhi\r\n"), subject: "s", fallbackBody: "b" };

  it("a live <rejected/> (with its store hint) fails the copy at once, so the sender falls back to SMTP", async () => {
    const { session } = scriptedSession((mail) => [stamped(buildRejection(mail.attrs.from ?? "alice@example.org/tb", String(mail.attrs.id), "policy"), "bob@example.org/tb")]);
    const sender = new MailSender({ session, log: silentLogger, scheduler: realScheduler, filedGraceMs: 2_000, sizePolicy: { inlineMaxBytes: 64 * 1024, inlineFallbackMaxBytes: 64 * 1024, inlineBudget: null } });
    sender.start();
    const started = Date.now();
    expect(await sender.deliver(copy, 5_000)).toEqual({ status: "failed", reason: "rejected: policy" });
    expect(Date.now() - started).toBeLessThan(1_000);
    sender.stop();
  });

  it("a rejection that arrives after the copy was reported accepted (kept offline for the sender) is still reported", async () => {
    const { session, deliver, sent } = scriptedSession(() => []);
    const sender = new MailSender({ session, log: silentLogger, scheduler: realScheduler, filedGraceMs: 1, sizePolicy: { inlineMaxBytes: 64 * 1024, inlineFallbackMaxBytes: 64 * 1024, inlineBudget: null } });
    sender.start();
    const late: string[] = [];
    sender.onLateFailure((id, to, reason) => late.push(`${id} ${to} ${reason}`));
    expect(await sender.deliver(copy, 5_000)).toMatchObject({ status: "accepted" });
    const mailId = sent[0]!.attrs.id as string;
    deliver(stamped(buildRejection("alice@example.org/tb", mailId, "download-failed"), "bob@example.org/tb"));
    expect(late).toEqual([`${mailId} bob@example.org rejected: download-failed`]);
    // From anyone but the recipient's account it counts for nothing.
    deliver(stamped(buildRejection("alice@example.org/tb", mailId, "policy"), "mallory@example.org/x"));
    expect(late).toHaveLength(1);
    sender.stop();
  });
});
