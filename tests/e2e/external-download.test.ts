// Downloads of external payloads in a real Thunderbird (issue 12 finding 3): the add-on still fetches an upload from
// its own loopback test server (the WebSocket URL is on loopback), and it follows no redirect — Thunderbird's fetch
// hid a redirect's target (opaque redirect), so the old code fetched again with "follow" and reached the target.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Element } from "@xmpp/xml";
import { createLogger } from "../../src/core/log.js";
import { buildMessage, newMessageId } from "../../src/core/mime/build.js";
import { encodeBase64 } from "../../src/core/base64.js";
import { sha256Base64 } from "../../src/core/payload-crypto.js";
import { NS_MAIL } from "../../src/core/protocol.js";
import { queryCapability } from "../../src/xmpp/capability.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { externalStanza, ourSession, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`skipping external-download e2e test: ${skipReason}`);
const quiet = createLogger(() => {}, () => "error");

interface Found {
  folder: string | null;
  subject: string;
}

describe.skipIf(skipReason !== null)("external payloads downloaded by a real Thunderbird", () => {
  let env: E2E;
  let bob: XmppSession;
  let sender: MailSender;
  const inbox: Element[] = [];
  /** A second little server on 127.0.0.2 that redirects to itself and counts what it is asked for. */
  let lan: Server;
  let lanPort = 0;
  const requests: string[] = [];

  beforeAll(async () => {
    env = await startE2E({
      users: [
        { user: "alice", password: "secret-a" },
        { user: "bob", password: "secret-b" },
      ],
      as: "alice",
      serverOptions: { upload: true },
    });
    await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
    bob = ourSession(env.server, "bob", "secret-b", "node", quiet);
    bob.onStanza((s) => void (s.is("message") && inbox.push(s)));
    bob.start();
    await whenOnline(bob);
    sender = new MailSender({ session: bob, log: quiet, scheduler: realScheduler });
    sender.start();
    lan = createServer((req, res) => {
      requests.push(req.url ?? "/");
      const cors = { "Access-Control-Allow-Origin": "*" };
      if (req.url === "/redirect") res.writeHead(302, { ...cors, Location: `http://127.0.0.2:${lanPort}/target` }).end();
      else res.writeHead(200, { ...cors, "Content-Type": "application/octet-stream" }).end(new Uint8Array(1000));
    });
    await new Promise<void>((resolve) => lan.listen(0, "127.0.0.2", resolve));
    lanPort = (lan.address() as AddressInfo).port;
  });

  afterAll(async () => {
    if (process.env.MOX_E2E_DUMP) console.log(env?.tb.events().map((e) => JSON.stringify(e)).join("\n"));
    lan?.closeAllConnections();
    await new Promise((r) => (lan ? lan.close(r) : r(null)));
    await bob?.stop();
    const q = await env?.stop();
    if (q) console.log(`[e2e] Thunderbird quit: ${q.how} in ${q.ms} ms`);
  });

  it("files a 200 KB mail sent by upload: the add-on downloads it from the loopback test server", async () => {
    const deadline = Date.now() + 10_000;
    while (!(await queryCapability(bob, env.jidOf("alice"), new Date(), 5_000)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const messageId = newMessageId("localhost");
    const text = `${"A large mail by upload. ".repeat(8_000)}\r\n`;
    const raw = buildMessage(
      { from: "Bob <bob@localhost>", to: ["alice@localhost"], cc: [], bcc: [], replyTo: [], subject: "By upload", text, isPlainText: true, attachments: [] },
      { date: new Date(), messageId },
    );
    const outcome = await sender.deliver({ to: env.jidOf("alice"), raw, subject: "By upload", fallbackBody: "By upload" }, 20_000);
    expect(outcome).toMatchObject({ status: "filed", route: "external" });
    const found = await env.tb.helper.command<Found[]>("findMessages", { headerMessageId: messageId.slice(1, -1) }, 10_000);
    expect(found).toMatchObject([{ folder: "Mail over XMPP", subject: "By upload" }]);
  });

  it("follows no redirect: the payload behind it is never requested, the sender is answered download-failed", async () => {
    const raw = buildMessage(
      { from: "Bob <bob@localhost>", to: ["alice@localhost"], cc: [], bcc: [], replyTo: [], subject: "Redirected", text: "x", isPlainText: true, attachments: [] },
      { date: new Date(), messageId: newMessageId("localhost") },
    );
    const ref = { url: `http://127.0.0.2:${lanPort}/redirect`, size: raw.length + 16, cipher: "aes-256-gcm" as const, key: encodeBase64(new Uint8Array(32)), iv: encodeBase64(new Uint8Array(12)) };
    const id = `redirect-${crypto.randomUUID()}`;
    const stanza = externalStanza(id, raw.length, await sha256Base64(raw), ref, env.jidOf("alice"));
    await bob.send(stanza, 10_000);
    const answer = () => inbox.find((m) => m.getChild("rejected", NS_MAIL)?.attrs.id === id || m.getChild("filed", NS_MAIL)?.attrs.id === id);
    await waitFor(() => answer() !== undefined, 15_000, "an answer from alice's Thunderbird");
    expect(answer()!.getChild("rejected", NS_MAIL)?.attrs.reason).toBe("download-failed");
    expect(requests).toEqual(["/redirect"]);
  });
});
