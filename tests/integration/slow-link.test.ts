// Large mail over a link shaped like a home connection (10 Mbit/s up, 50 ms round trip; tests/support/shaped-relay.ts):
// the sender's WebSocket and its upload's HTTP PUT both go through the shaped uplink. A mail whose upload cannot end
// within the Send hold must not be uploaded until the deadline and then be sent again by SMTP (the user would wait
// twice): it goes by SMTP at once. A mail that fits goes over XMPP within the hold. (issue 13 item 2;
// docs/performance.md, "Slow links".)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.js";
import { DEFAULT_SIZE_POLICY, MailSender } from "../../src/xmpp/mail-sender.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { mailOfSize, startFilingPeer, type FilingPeer } from "../support/filing-peer.js";
import { ourSession, whenOnline } from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";
import { ShapedLink, startShapedHttpRelay, startShapedWsRelay, type HttpRelay, type WsRelay } from "../support/shaped-relay.js";

const log = createLogger(() => {}, () => "error");
/** The default Send hold (settings.sendHoldSeconds = 8) less send-flow's finish margin: the deadline deliver gets. */
const HOLD_MS = 8_000 - 100;
const UP = 1_250_000; // 10 Mbit/s

describe.each(testServers())("large mail over a shaped home link on %s", (kind) => {
  let server: XmppServer;
  let link: ShapedLink;
  let ws: WsRelay;
  let http: HttpRelay;
  let bob: XmppSession;
  let sender: MailSender;
  let alice: FilingPeer;

  beforeAll(async () => {
    server = await startServer(kind, { users: [{ user: "alice", password: "pw-a" }, { user: "bob", password: "pw-b" }], upload: true, uploadSizeLimit: 32 * 1024 * 1024 });
    link = new ShapedLink({ upBytesPerSecond: UP, oneWayDelayMs: 25 });
    ws = await startShapedWsRelay(server.wsUrl, link);
    http = await startShapedHttpRelay(link);
    bob = ourSession(server, "bob", "pw-b", "send", log, { websocketUrl: ws.url });
    bob.start();
    await whenOnline(bob);
    sender = new MailSender({ session: bob, log, scheduler: realScheduler, filedGraceMs: 1_000, fetchFn: http.fetchFn, sizePolicy: { ...DEFAULT_SIZE_POLICY, inlineBudget: null } });
    sender.start();
    alice = await startFilingPeer(server, "alice", "pw-a");
  }, 60_000);
  afterAll(async () => {
    await alice?.stop();
    await bob?.stop();
    await ws?.close();
    await http?.close();
    await server?.cleanup();
  });

  const copy = (raw: Uint8Array) => ({ to: `alice@${server.domain}`, raw, subject: "slow link", fallbackBody: "fallback" });

  it("a 10 MB mail within the default hold: SMTP at once — nothing uploaded, no wait for a deadline", async () => {
    const before = http.bodyBytes();
    const t0 = performance.now();
    const outcome = await sender.deliver(copy(mailOfSize(10_000_000)), HOLD_MS);
    const ms = performance.now() - t0;
    // Before the fix: the upload ran for the whole hold, timed out ("failed" after ~7.9 s), and SMTP followed.
    expect(outcome).toMatchObject({ status: "failed", reason: expect.stringMatching(/in time/) });
    expect(ms).toBeLessThan(1_500);
    expect(http.bodyBytes() - before).toBe(0);
    expect(alice.arrived).toEqual([]);
  });

  it("a 1 MB mail goes over XMPP within the hold through the shaped upload, and teaches the sender the rate", async () => {
    const before = http.bodyBytes();
    const t0 = performance.now();
    const outcome = await sender.deliver(copy(mailOfSize(1_000_000)), HOLD_MS);
    const ms = performance.now() - t0;
    expect(outcome).toMatchObject({ status: "filed", route: "external" });
    // The PUT really went through the shaped uplink: ≥ 0.8 s for 1 MB at 10 Mbit/s.
    expect(http.bodyBytes() - before).toBeGreaterThan(1_000_000);
    expect(ms).toBeGreaterThan((1_000_000 / UP) * 1000);
    expect(ms).toBeLessThan(HOLD_MS);
  });

  it("with the longest hold (20 s) and the rate learned, a 10 MB mail goes over XMPP and is filed within the hold — once", async () => {
    const hold = 20_000 - 100;
    const t0 = performance.now();
    const outcome = await sender.deliver(copy(mailOfSize(10_000_000)), hold);
    const ms = performance.now() - t0;
    expect(outcome, `${Math.round(ms)} ms: ${JSON.stringify(outcome)}`).toMatchObject({ status: "filed", route: "external" });
    expect(ms).toBeGreaterThan((10_000_000 / UP) * 1000);
    expect(ms).toBeLessThan(hold);
    expect(alice.filed.length).toBe(alice.arrived.length);
  }, 40_000);
});
