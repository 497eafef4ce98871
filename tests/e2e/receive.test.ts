// Receiving in a real Thunderbird: another account's engine (Node) sends alice a mail over XMPP; alice's add-on checks
// the sender, files it with messages.import into its folder, and only then answers with the "filed" receipt.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.js";
import { buildMessage, newMessageId } from "../../src/core/mime/build.js";
import type { SessionStatus } from "../../src/core/status.js";
import { queryCapability } from "../../src/xmpp/capability.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { fallbackBody } from "../../src/xmpp/mail-stanza.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import { XmppSession } from "../../src/xmpp/session.js";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`skipping receive e2e test: ${skipReason}`);

interface Found {
  folder: string | null;
  subject: string;
  author: string;
  tags: string[];
  raw?: string;
}

describe.skipIf(skipReason !== null)("receiving mail over XMPP in a real Thunderbird", () => {
  let env: E2E;
  let bob: XmppSession;
  let sender: MailSender;

  beforeAll(async () => {
    env = await startE2E({
      users: [
        { user: "alice", password: "secret-a" },
        { user: "bob", password: "secret-b" },
      ],
      as: "alice",
    });
    await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
    bob = new XmppSession(
      { jid: env.jidOf("bob"), websocketUrl: env.server.wsUrl, resource: "node" },
      {
        scheduler: realScheduler,
        random: Math.random,
        sha1: webCryptoSha1,
        log: createLogger(() => {}, () => "info"),
        credentials: { load: async () => ({ password: "secret-b" }), saveKeys: async () => {} },
      },
    );
    bob.start();
    await new Promise<void>((resolve) => {
      const off = bob.onStatus((s: SessionStatus) => {
        if (s.state === "online") {
          off();
          resolve();
        }
      });
    });
    sender = new MailSender({ session: bob, log: createLogger(() => {}, () => "info"), scheduler: realScheduler });
    sender.start();
  });

  afterAll(async () => {
    if (process.env.MOX_E2E_DUMP) console.log(env?.tb.events().map((e) => JSON.stringify(e)).join("\n"));
    await bob?.stop();
    const q = await env?.stop();
    if (q) console.log(`[e2e] Thunderbird quit: ${q.how} in ${q.ms} ms`);
  });

  async function send(fromHeader: string, subject: string, text: string) {
    const messageId = newMessageId("localhost");
    const raw = buildMessage(
      { from: fromHeader, to: ["alice@localhost"], cc: [], bcc: [], replyTo: [], subject, text, isPlainText: true, attachments: [] },
      { date: new Date(), messageId },
    );
    const t0 = performance.now();
    const outcome = await sender.deliver(
      { to: env.jidOf("alice"), raw, subject, fallbackBody: fallbackBody({ from: fromHeader, to: ["alice@localhost"], subject, text, attachmentNames: [] }) },
      15_000,
    );
    return { outcome, messageId, ms: performance.now() - t0, raw };
  }

  it("advertises the capability on PEP, readable by bob", async () => {
    const deadline = Date.now() + 10_000;
    let capable = false;
    while (!capable && Date.now() < deadline) {
      capable = await queryCapability(bob, env.jidOf("alice"), new Date(), 5_000);
      if (!capable) await new Promise((r) => setTimeout(r, 200));
    }
    expect(capable).toBe(true);
  });

  it("files a mail from a verified sender in its folder, then sends the filed receipt", async () => {
    const { outcome, messageId, ms } = await send("Bob <bob@localhost>", "Über XMPP: hello", "Hallo Alice,\r\nthis came over XMPP.\r\n");
    console.log(`[e2e] send → filed receipt from Thunderbird: ${ms.toFixed(0)} ms (${outcome.status})`);
    expect(outcome).toMatchObject({ status: "filed" });
    const found = await env.tb.helper.command<Found[]>("findMessages", { headerMessageId: messageId.slice(1, -1), withRaw: true }, 10_000);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ folder: "Mail over XMPP", subject: "Über XMPP: hello" });
    expect(found[0]!.raw).toMatch(/^X-Mail-Over-XMPP: .*from=bob@localhost.*verified=yes/m);
    expect(found[0]!.raw).toContain("this came over XMPP.");
  });

  it("files a mail with bare LF line ends like a CRLF one: verified, author read alike, a forged trace header renamed", async () => {
    // Issue 12 finding 1: line ends are settled once — the add-on accepts bare LF throughout (mbox tools write it) and
    // reads the lines exactly as Thunderbird does, so the forged header below is a header line to both.
    const messageId = newMessageId("localhost");
    const crlf = new TextDecoder().decode(
      buildMessage(
        { from: "Bob <bob@localhost>", to: ["alice@localhost"], cc: [], bcc: [], replyTo: [], subject: "LF only", text: "Line one\r\nLine two\r\n", isPlainText: true, attachments: [] },
        { date: new Date(), messageId },
      ),
    );
    const lf = ("X-Mail-Over-XMPP: from=ceo@bank.example; verified=yes\r\n" + crlf).replace(/\r\n/g, "\n");
    const raw = new TextEncoder().encode(lf);
    expect(raw.includes(0x0d)).toBe(false);
    const outcome = await sender.deliver({ to: env.jidOf("alice"), raw, subject: "LF only", fallbackBody: "LF only" }, 15_000);
    expect(outcome).toMatchObject({ status: "filed" });
    const found = await env.tb.helper.command<Found[]>("findMessages", { headerMessageId: messageId.slice(1, -1), withRaw: true }, 10_000);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ folder: "Mail over XMPP", subject: "LF only", author: "Bob <bob@localhost>" });
    const traceLines = found[0]!.raw!.split(/\r?\n/).filter((l) => /^x-mail-over-xmpp:/i.test(l));
    expect(traceLines).toHaveLength(1);
    expect(traceLines[0]).toMatch(/from=bob@localhost;.*verified=yes/);
    expect(found[0]!.raw).toMatch(/^X-Untrusted-Mox-: from=ceo@bank\.example/m);
  });

  it("moves a later SMTP copy of a mail already filed over XMPP to the Trash, but not a mail from someone else", async () => {
    const { outcome, messageId, raw } = await send("Bob <bob@localhost>", "Sent both ways", "One mail, two routes.");
    expect(outcome).toMatchObject({ status: "filed" });
    const id = messageId.slice(1, -1);
    const text = new TextDecoder().decode(raw);
    const copies = () => env.tb.helper.command<Found[]>("findMessages", { headerMessageId: id }, 10_000);
    // The same mail arriving by SMTP (simulated: imported as new mail into an ordinary folder).
    await env.tb.helper.command("importTo", { raw: text, folder: "Arrived by SMTP" }, 10_000);
    const inArrived = async () => (await copies()).filter((f) => f.folder === "Arrived by SMTP");
    await new Promise((r) => setTimeout(r, 300));
    const deadline = Date.now() + 10_000;
    while ((await inArrived()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await inArrived()).toEqual([]);
    expect((await copies()).filter((f) => f.folder === "Mail over XMPP")).toHaveLength(1);
    // Someone else reusing the Message-ID is not a copy of bob's mail: it stays where it arrived.
    await env.tb.helper.command("importTo", { raw: text.replace("From: Bob <bob@localhost>", "From: Mallory <mallory@evil.example>"), folder: "Arrived by SMTP" }, 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await inArrived()).map((f) => f.author)).toEqual([expect.stringContaining("mallory@evil.example")]);
  });

  /** An SMTP fallback copy as the sender's Thunderbird would write it: its own Message-ID, the XMPP copy's in a header. */
  function smtpCopy(xmppText: string, xmppMessageId: string): { text: string; id: string } {
    const id = `smtp-${Date.now()}-${Math.random().toString(36).slice(2)}@example.test`;
    const text = xmppText.replace(/^Message-ID: .*$/im, `Message-ID: <${id}>\r\nX-Mail-Over-XMPP-ID: ${xmppMessageId}`);
    return { text, id };
  }

  it("trashes an SMTP fallback copy that names a mail already filed over XMPP (X-Mail-Over-XMPP-ID)", async () => {
    const { outcome, messageId, raw } = await send("Bob <bob@localhost>", "Fallback after filing", "Unconfirmed at the sender, so it also went by SMTP.");
    expect(outcome).toMatchObject({ status: "filed" });
    const copy = smtpCopy(new TextDecoder().decode(raw), messageId);
    await env.tb.helper.command("importTo", { raw: copy.text, folder: "Arrived by SMTP" }, 10_000);
    const where = async () => (await env.tb.helper.command<Found[]>("findMessages", { headerMessageId: copy.id }, 10_000)).map((f) => f.folder);
    const deadline = Date.now() + 10_000;
    while (!(await where()).includes("Trash") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await where()).toEqual(["Trash"]);
  });

  it("does not file an XMPP mail a second time when its SMTP fallback copy arrived first, and still confirms it", async () => {
    const messageId = newMessageId("localhost");
    const subject = `SMTP first ${Date.now()}`;
    const raw = buildMessage(
      { from: "Bob <bob@localhost>", to: ["alice@localhost"], cc: [], bcc: [], replyTo: [], subject, text: "Arrives twice.", isPlainText: true, attachments: [] },
      { date: new Date(), messageId },
    );
    const copy = smtpCopy(new TextDecoder().decode(raw), messageId);
    await env.tb.helper.command("importTo", { raw: copy.text, folder: "Arrived by SMTP" }, 10_000);
    // Give the add-on the moment it needs to read the new mail's headers.
    await new Promise((r) => setTimeout(r, 1_500));
    const outcome = await sender.deliver(
      { to: env.jidOf("alice"), raw, subject, fallbackBody: fallbackBody({ from: "Bob", to: ["alice@localhost"], subject, text: "Arrives twice.", attachmentNames: [] }) },
      15_000,
    );
    expect(outcome).toMatchObject({ status: "filed" });
    expect(await env.tb.helper.command<Found[]>("findMessages", { headerMessageId: messageId.slice(1, -1) }, 10_000)).toEqual([]);
    expect((await env.tb.helper.command<Found[]>("findMessages", { headerMessageId: copy.id }, 10_000)).map((f) => f.folder)).toEqual(["Arrived by SMTP"]);
  });

  it("files a mail whose From does not match the sending JID apart, tagged as unverified", async () => {
    const { outcome, messageId } = await send("The Bank <security@bank.example>", "Please confirm your password", "Click here.");
    expect(outcome).toMatchObject({ status: "filed" });
    const found = await env.tb.helper.command<Found[]>("findMessages", { headerMessageId: messageId.slice(1, -1) }, 10_000);
    expect(found).toHaveLength(1);
    expect(found[0]!.folder).toBe("Mail over XMPP - unverified senders");
    expect(found[0]!.tags).toContain("mox_unverified");
  });
});
