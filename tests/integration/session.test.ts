// The XMPP session against a real Prosody: login, stored salted keys, wrong password, restart → reconnect,
// socket drop → resumption, outbox while offline, deadlines, disco/caps/ping answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client as stockClient, xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { capsVer, NS_DISCO_INFO, OWN_DISCO_INFO } from "../../src/core/caps.js";
import { createLogger, type Logger } from "../../src/core/log.js";
import { CAPS_NODE, NS_MAIL } from "../../src/core/protocol.js";
import type { SessionStatus } from "../../src/core/status.js";
import { createXmppClient, type XmppClientParts } from "../../src/xmpp/client.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import type { ScramKeys } from "../../src/xmpp/scram.js";
import { XmppSession, type StoredCredentials } from "../../src/xmpp/session.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";


const lines: string[] = [];
const log: Logger = createLogger((_l, line) => lines.push(line), () => "debug");

interface Harness {
  session: XmppSession;
  statuses: SessionStatus[];
  saved: ScramKeys[];
  parts: () => XmppClientParts;
}

function makeSession(server: XmppServer, user: string, creds: StoredCredentials, resource = "it"): Harness {
  const statuses: SessionStatus[] = [];
  const saved: ScramKeys[] = [];
  let captured: XmppClientParts | null = null;
  const session = new XmppSession(
    { jid: `${user}@${server.domain}`, websocketUrl: server.wsUrl, resource },
    {
      scheduler: realScheduler,
      random: Math.random,
      sha1: webCryptoSha1,
      log,
      backoff: { baseMs: 300, capMs: 2_000, factor: 2 },
      credentials: {
        load: async () => creds,
        saveKeys: async (keys) => {
          saved.push(keys);
        },
      },
      // Capture the client parts so a test can cut the socket under the session, as a network failure would.
      createClient: (options) => (captured = createXmppClient(options)),
    },
  );
  session.onStatus((s) => statuses.push(s));
  return {
    session,
    statuses,
    saved,
    parts: () => {
      if (!captured) throw new Error("no client yet");
      return captured;
    },
  };
}

function waitForStatus(session: XmppSession, pred: (s: SessionStatus) => boolean, timeoutMs = 15_000): Promise<SessionStatus> {
  if (pred(session.status)) return Promise.resolve(session.status);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`status not reached within ${timeoutMs} ms; last: ${JSON.stringify(session.status)}`));
    }, timeoutMs);
    const off = session.onStatus((s) => {
      if (pred(s)) {
        clearTimeout(timer);
        off();
        resolve(s);
      }
    });
  });
}

const online = (s: SessionStatus) => s.state === "online";

async function peer(server: XmppServer, user: string, password: string) {
  const xmpp = stockClient({ service: server.wsUrl, domain: server.domain, username: user, password, resource: "peer" });
  xmpp.on("error", () => {});
  const received: Element[] = [];
  xmpp.on("stanza", (s: Element) => {
    if (s.is("message")) received.push(s);
  });
  await xmpp.start();
  await xmpp.send(xml("presence"));
  return { xmpp, received };
}

async function waitUntil(pred: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(testServers())("XmppSession against a real %s", (kind) => {
  let server: XmppServer;

  beforeAll(async () => {
    server = await startServer(kind, {
      users: [
        { user: "alice", password: "secret-a" },
        { user: "bob", password: "secret-b" },
        { user: "carol", password: "secret-c" },
      ],
      smResumeTimeout: 30,
    });
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it("logs in with SCRAM, keeps salted keys instead of the password, and logs in again with the keys alone", async () => {
    const first = makeSession(server, "alice", { password: "secret-a" });
    const t0 = performance.now();
    first.session.start();
    const status = await waitForStatus(first.session, online);
    const loginMs = performance.now() - t0;
    expect(status).toMatchObject({ state: "online", jid: expect.stringMatching(/^alice@localhost\/it$/) });
    expect(first.session.mechanism).toMatch(/^SCRAM-SHA-(1|256)$/);
    // "online" is reported only once stream management is enabled: nothing is sent before <enabled/>.
    const ready = lines.map((l) => JSON.parse(l) as { event: string; streamManagement?: boolean }).filter((e) => e.event === "ready");
    expect(ready.at(-1)?.streamManagement).toBe(true);
    expect(first.saved).toHaveLength(1);
    const keys = first.saved[0]!;
    expect(keys.mechanism).toBe(first.session.mechanism);
    expect(JSON.stringify(keys)).not.toContain("secret-a");
    await first.session.stop();
    expect(first.session.status.state).toBe("disconnected");

    const second = makeSession(server, "alice", { keys });
    second.session.start();
    await waitForStatus(second.session, online);
    expect(second.saved).toHaveLength(0); // nothing new derived: the stored keys were enough
    await second.session.stop();
    console.log(`[measure] SCRAM login to online (incl. SM enable + presence): ${loginMs.toFixed(1)} ms`);
    expect(lines.join("\n")).not.toContain("secret-a");
  });

  it("refuses a server whose SCRAM signature does not match (mutual authentication)", async () => {
    const first = makeSession(server, "alice", { password: "secret-a" }, "sig");
    first.session.start();
    await waitForStatus(first.session, online);
    await first.session.stop();
    const keys = first.saved[0]!;
    // Correct ClientKey (the server accepts our proof) but a different ServerKey: from our side, the server's v= is
    // now wrong, exactly as if an impostor that does not know the account had answered.
    const forged = { ...keys, serverKey: btoa("x".repeat(atob(keys.serverKey).length)) };
    const h = makeSession(server, "alice", { keys: forged }, "sig2");
    h.session.start();
    const status = await waitForStatus(h.session, (s) => s.state === "auth-failed" || s.state === "online");
    expect(status).toMatchObject({ state: "auth-failed", reason: expect.stringContaining("could not prove") });
    await h.session.stop();
  });

  it("reports a wrong password as auth-failed and does not retry", async () => {
    const h = makeSession(server, "alice", { password: "bad-pw-73x" });
    h.session.start();
    const status = await waitForStatus(h.session, (s) => s.state === "auth-failed");
    expect(status).toMatchObject({ state: "auth-failed", reason: expect.stringContaining("not-authorized") });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(h.statuses.filter((s) => s.state === "connecting")).toHaveLength(1);
    expect(JSON.stringify(h.statuses)).not.toContain("bad-pw-73x");
    const outcome = await h.session.send(xml("message", { to: "bob@localhost" }, xml("body", {}, "x")), 1_000);
    expect(outcome.status).toBe("failed");
    await h.session.stop();
  });

  it("answers disco#info (with the mail feature, also for its caps node) and ping from another account", async () => {
    const h = makeSession(server, "alice", { password: "secret-a" }, "disco");
    h.session.start();
    const status = await waitForStatus(h.session, online);
    const full = status.state === "online" ? status.jid : "";
    const bob = await peer(server, "bob", "secret-b");
    try {
      const info = await bob.xmpp.iqCaller.request(xml("iq", { type: "get", to: full }, xml("query", { xmlns: NS_DISCO_INFO })), 5_000);
      const features = info.getChild("query", NS_DISCO_INFO)!.getChildren("feature").map((f: Element) => f.attrs.var);
      expect(features).toContain(NS_MAIL);
      const ver = await capsVer(OWN_DISCO_INFO, webCryptoSha1);
      const byNode = await bob.xmpp.iqCaller.request(
        xml("iq", { type: "get", to: full }, xml("query", { xmlns: NS_DISCO_INFO, node: `${CAPS_NODE}#${ver}` })),
        5_000,
      );
      expect(byNode.getChild("query", NS_DISCO_INFO)!.attrs.node).toBe(`${CAPS_NODE}#${ver}`);
      await expect(
        bob.xmpp.iqCaller.request(xml("iq", { type: "get", to: full }, xml("query", { xmlns: NS_DISCO_INFO, node: `${CAPS_NODE}#bogus` })), 5_000),
      ).rejects.toMatchObject({ condition: "item-not-found" });
      const pong = await bob.xmpp.iqCaller.request(xml("iq", { type: "get", to: full }, xml("ping", { xmlns: "urn:xmpp:ping" })), 5_000);
      expect(pong.attrs.type).toBe("result");
    } finally {
      await bob.xmpp.stop();
      await h.session.stop();
    }
  });

  it("holds stanzas handed over while offline and delivers them, acked, once online", async () => {
    const bob = await peer(server, "bob", "secret-b");
    const h = makeSession(server, "alice", { password: "secret-a" }, "outbox");
    try {
      h.session.start(); // connecting, not yet ready: the stanza must wait for <enabled/>
      const outcome = h.session.send(xml("message", { to: "bob@localhost/peer", id: "early-1" }, xml("body", {}, "early")), 10_000);
      await expect(outcome).resolves.toMatchObject({ status: "acked" });
      await waitUntil(() => bob.received.some((m) => m.attrs.id === "early-1"), 5_000);
      expect(h.session.status.state).toBe("online");
    } finally {
      await bob.xmpp.stop();
      await h.session.stop();
    }
  });

  it("times out a stanza whose deadline passes while the server is unreachable, saying it was never sent", async () => {
    const h = makeSession(server, "carol", { password: "secret-c" }, "deadline");
    await server.stop();
    try {
      h.session.start();
      const outcome = await h.session.send(xml("message", { to: "bob@localhost" }, xml("body", {}, "late")), 1_500);
      expect(outcome).toEqual({ status: "timeout", sent: false });
      expect(h.statuses.some((s) => s.state === "error")).toBe(true);
    } finally {
      await h.session.stop();
      await server.start();
    }
  });

  it("reconnects by itself after a server restart and delivers what was handed over meanwhile", async () => {
    const h = makeSession(server, "alice", { password: "secret-a" }, "restart");
    h.session.start();
    await waitForStatus(h.session, online);
    const t0 = performance.now();
    await server.restart();
    const restartedAt = performance.now();
    await waitForStatus(h.session, (s) => s.state !== "online", 5_000);
    const queued = h.session.send(xml("message", { to: "bob@localhost", id: "after-restart" }, xml("body", {}, "hi")), 20_000);
    await waitForStatus(h.session, online, 20_000);
    const reconnectMs = performance.now() - restartedAt;
    await expect(queued).resolves.toMatchObject({ status: "acked" });
    console.log(
      `[measure] server restart took ${(restartedAt - t0).toFixed(0)} ms; session online again ${reconnectMs.toFixed(0)} ms after the server was back`,
    );
    expect(reconnectMs).toBeLessThan(10_000);
    await h.session.stop();
  });

  it("resumes the stream (XEP-0198) after the socket drops, without a new session", async () => {
    const h = makeSession(server, "alice", { password: "secret-a" }, "resume");
    h.session.start();
    await waitForStatus(h.session, online);
    const before = lines.length;
    // Cut the WebSocket under the session, as a network failure would (no </stream>).
    const socket = (h.parts().entity.socket as { socket: { close(): void } }).socket;
    socket.close();
    await waitForStatus(h.session, (s) => s.state !== "online", 5_000);
    await waitForStatus(h.session, online, 15_000);
    const ready = lines
      .slice(before)
      .map((l) => JSON.parse(l) as { event: string; resumed?: boolean })
      .filter((e) => e.event === "ready");
    expect(ready.at(-1)?.resumed).toBe(true);
    const outcome = await h.session.send(xml("message", { to: "bob@localhost", id: "after-resume" }, xml("body", {}, "hi")), 5_000);
    expect(outcome.status).toBe("acked");
    await h.session.stop();
  });
});
