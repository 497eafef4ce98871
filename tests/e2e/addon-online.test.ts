// A real Thunderbird 153 with the built add-on (dist/), configured only through managed storage (the enterprise
// policy channel), comes online on a private Prosody, and another XMPP client sees it advertise the mail protocol.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client as stockClient, xml, type StockClient } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";
import type { MoxEvent } from "../support/thunderbird.js";

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_MAIL = "https://mailoverxmpp.net/protocol/mail/0";
const ONLINE_WITHIN_MS = 30_000;

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`skipping addon-online e2e test: ${skipReason}`);

describe.skipIf(skipReason !== null)("add-on in a real Thunderbird", () => {
  let env: E2E | null = null;
  let bob: StockClient | null = null;

  beforeAll(async () => {
    env = await startE2E({
      users: [
        { user: "alice", password: "secret-a" },
        { user: "bob", password: "secret-b" },
      ],
      as: "alice",
    });
  });

  afterAll(async () => {
    await bob?.stop().catch(() => undefined);
    if (env) {
      const q = await env.stop();
      if (q) console.log(`[e2e] Thunderbird quit: ${q.how} (exit code ${q.code}) in ${q.ms} ms`);
    }
  });

  it("comes online from managed configuration and answers disco#info with the mail feature", async () => {
    const { tb, server: prosody } = env!;
    console.log(`[e2e] Thunderbird up (helper ready) ${tb.readyMs} ms after spawn`);

    const online: MoxEvent = await tb.waitForEvent((e) => e.event === "status" && e.state === "online", ONLINE_WITHIN_MS);
    const onlineMs = Math.round(tb.timeOf(online)! - tb.spawnedAt);
    console.log(`[e2e] add-on online as ${String(online.jid)} ${onlineMs} ms after Thunderbird was spawned; RSS ${Math.round(tb.memoryKb() / 1024)} MB`);

    const fullJid = String(online.jid);
    expect(fullJid).toMatch(new RegExp(`^alice@${prosody.domain.replace(/\./g, "\\.")}/.+`));
    // No error/auth-failed status on the way.
    const statuses = tb.events().filter((e) => e.event === "status").map((e) => e.state);
    expect(statuses).not.toContain("auth-failed");

    bob = stockClient({ service: prosody.wsUrl, domain: prosody.domain, username: "bob", password: "secret-b", resource: "e2e" });
    bob.on("error", () => undefined);
    await bob.start();
    const t0 = performance.now();
    const reply: Element = await bob.iqCaller.request(
      xml("iq", { type: "get", to: fullJid, id: `disco-${Date.now()}` }, xml("query", { xmlns: NS_DISCO_INFO })),
      10_000,
    );
    console.log(`[e2e] disco#info round trip ${Math.round(performance.now() - t0)} ms`);
    expect(reply.attrs.type).toBe("result");
    expect(reply.attrs.from).toBe(fullJid); // iqCaller matches by id only: check the sender ourselves
    const query = reply.getChild("query", NS_DISCO_INFO);
    expect(query).toBeDefined();
    const features = query!.getChildren("feature").map((f) => f.attrs.var as string);
    expect(features).toContain(NS_MAIL);
  });
});
