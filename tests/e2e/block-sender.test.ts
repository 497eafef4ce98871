// "Block sender" in a real Thunderbird 153 on a virtual display: a stranger (mallory, an engine in Node) sends alice a
// mail over XMPP; it is filed in "Mail over XMPP"; the mail is shown in a tab and the message display action is
// triggered with its keyboard shortcut (Alt+Shift+B, xdotool). Then mallory is on alice's XEP-0191 block list on the
// server (read with a plain XMPP client), the mail is in Junk and no longer in the add-on's folder, and mallory's next
// mail does not arrive (the server refuses it; the sender's outcome is a failure, so it would go by SMTP). On Prosody
// and ejabberd.
import { execFileSync } from "node:child_process";
import { client as stockClient, xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.js";
import { buildMessage, newMessageId } from "../../src/core/mime/build.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import { XmppSession } from "../../src/xmpp/session.js";
import { findOnPath } from "../support/bin.js";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";
import { whenOnline } from "../support/mail-fixtures.js";
import { testServers } from "../support/servers.js";

const skipReason = e2eSkipReason() ?? (findOnPath("xdotool") === null ? "xdotool not installed (apt-get install xdotool)" : null);
if (skipReason) console.warn(`skipping block-sender e2e test: ${skipReason}`);

interface Listed {
  subject: string;
  headerMessageId: string;
}

describe.skipIf(skipReason !== null).each(testServers())("blocking a sender from a received mail in a real Thunderbird on %s", (kind) => {
  let env: E2E;
  let mallory: XmppSession;
  let sender: MailSender;
  let display = "";
  const quiet = createLogger(() => {}, () => "info");
  const xdotool = (...args: string[]) => execFileSync("xdotool", args, { env: { ...process.env, DISPLAY: display }, encoding: "utf8" }).trim();

  beforeAll(async () => {
    env = await startE2E({
      users: [
        { user: "alice", password: "secret-a" },
        { user: "mallory", password: "secret-m" },
      ],
      as: "alice",
      kind,
      managed: { logLevel: "debug" },
      thunderbird: { xvfb: true },
    });
    display = env.tb.display()!;
    await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
    mallory = new XmppSession(
      { jid: env.jidOf("mallory"), websocketUrl: env.server.wsUrl, resource: "node" },
      { scheduler: realScheduler, random: Math.random, sha1: webCryptoSha1, log: quiet, credentials: { load: async () => ({ password: "secret-m" }), saveKeys: async () => {} } },
    );
    mallory.start();
    await whenOnline(mallory);
    sender = new MailSender({ session: mallory, log: quiet, scheduler: realScheduler, filedGraceMs: 10_000 });
    sender.start();
  }, 120_000);

  afterAll(async () => {
    if (process.env.MOX_E2E_DUMP) console.log(env?.tb.events().map((e) => JSON.stringify(e)).join("\n"));
    await mallory?.stop();
    const q = await env?.stop();
    if (q) console.log(`[e2e] Thunderbird quit: ${q.how} in ${q.ms} ms`);
  });

  const send = (subject: string) => {
    const messageId = newMessageId("localhost");
    const raw = buildMessage(
      { from: "mallory@localhost", to: ["alice@localhost"], cc: [], bcc: [], replyTo: [], subject, text: "Buy now!", isPlainText: true, attachments: [] },
      { date: new Date(), messageId },
    );
    return sender.deliver({ to: env.jidOf("alice"), raw, subject, fallbackBody: "Buy now!" }, 20_000);
  };
  const listed = (folder: string) => env.tb.helper.command<Listed[]>("folderMessages", { folder }, 20_000);

  it("blocks the sender on the server with Alt+Shift+B, moves the mail to Junk, and the next mail does not arrive", async () => {
    const outcome = await send("Unsolicited offer");
    expect(outcome.status).toBe("filed");
    const inFolder = (await listed("Mail over XMPP")).find((m) => m.subject === "Unsolicited offer");
    expect(inFolder).toBeDefined();

    // No settings page on first install (the policy presets the account): make sure none comes in front of the mail.
    await env.tb.waitForEvent((e) => e.event === "onboarding-skipped", 30_000);
    await env.tb.helper.command("displayMessage", { headerMessageId: inFolder!.headerMessageId, folder: "Mail over XMPP" }, 20_000);
    await new Promise((r) => setTimeout(r, 1_500)); // the message tab in front, the button's state updated
    const main = xdotool("search", "--name", "Mozilla Thunderbird").split("\n").at(-1)!;
    xdotool("windowfocus", "--sync", main);
    xdotool("key", "--clearmodifiers", "alt+shift+b");
    const blocked = await env.tb.waitForEvent((e) => e.event === "sender-blocked", 20_000);
    expect(blocked).toMatchObject({ jid: "mallory@localhost", mode: "server" });

    // The server's list, as any XMPP client of alice's sees it.
    const check = stockClient({ service: env.server.wsUrl, domain: env.server.domain, username: "alice", password: "secret-a", resource: "check" });
    check.on("error", () => {});
    await check.start();
    try {
      const reply = await check.iqCaller.request(xml("iq", { type: "get" }, xml("blocklist", { xmlns: "urn:xmpp:blocking" })), 10_000);
      expect(reply.getChild("blocklist", "urn:xmpp:blocking")?.getChildren("item").map((i) => i.attrs.jid)).toContain("mallory@localhost");
    } finally {
      await check.stop().catch(() => {});
    }

    let junk: Listed[] = [];
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      junk = await listed("Junk");
      if (junk.some((m) => m.subject === "Unsolicited offer")) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(junk.map((m) => m.subject)).toContain("Unsolicited offer");
    expect((await listed("Mail over XMPP")).map((m) => m.subject)).not.toContain("Unsolicited offer");

    const next = await send("Second offer");
    expect(next.status).toBe("failed");
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await listed("Mail over XMPP")).map((m) => m.subject)).not.toContain("Second offer");
    expect((await listed("Junk")).map((m) => m.subject)).not.toContain("Second offer");
  }, 120_000);
});
