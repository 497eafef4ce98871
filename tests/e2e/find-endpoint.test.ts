// A user who knows only their JID and password (issue 13 point 4), in a real Thunderbird 153, on each server: no
// WebSocket URL is configured and the domain publishes no host-meta, so the add-on must find the server's endpoint
// among the defaults Prosody and ejabberd ship (src/core/websocket-candidates.ts) — unchanged production code, no
// test mapping. The account's domain is `localhost`; a TCP relay on 127.0.0.1 and ::1 at the shipped port (Prosody
// 5281, ejabberd 5443) stands in for the server listening there, forwarding to the test server's TLS listener
// (wss:// with a certificate from a CA made at test time and trusted in the profile). Nothing listens on 443, so the
// preferred wss://localhost/xmpp-websocket is refused and the shipped port is found; the add-on then logs in.
// Twice per server: at login with no URL configured, and from the options page's Discover button, driven with the
// real keyboard (xdotool), which fills in the URL that Save then keeps.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findOnPath } from "../support/bin.js";
import { DIST_DIR, E2E_STRANGER_LIMITS, e2eSkipReason } from "../support/e2e-env.js";
import { waitFor } from "../support/mail-fixtures.js";
import { startServer, testServers, type ServerKind, type XmppServer } from "../support/servers.js";
import { startSmtpSink, type SmtpSink } from "../support/smtp.js";
import { launchThunderbird, type TB } from "../support/thunderbird.js";
import { makeTestCa } from "../support/test-ca.js";

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`skipping find-endpoint e2e test: ${skipReason}`);
const keyboardSkip = skipReason ?? (findOnPath("xdotool") === null ? "xdotool not installed (apt-get install xdotool)" : null);

const SHIPPED: Record<ServerKind, { port: number; path: string }> = {
  prosody: { port: 5281, path: "/xmpp-websocket" },
  ejabberd: { port: 5443, path: "/ws" },
};

/** A relay on the shipped port of loopback to `target()` (known only once the server is up). */
async function startRelay(port: number, target: () => number | null): Promise<{ connections: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const servers: Server[] = [];
  const onConnection = (client: Socket) => {
    state.connections++;
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    const to = target();
    if (to === null) return void client.destroy();
    const upstream = connect(to, "127.0.0.1");
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  };
  for (const host of ["127.0.0.1", "::1"]) {
    const server = createServer(onConnection);
    const ok = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, host, () => resolve(true));
    });
    if (ok) servers.push(server);
    else if (host === "127.0.0.1") throw new Error(`port ${port} on 127.0.0.1 is taken: cannot stand in for the shipped endpoint`);
  }
  return {
    get connections() {
      return state.connections;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    },
  };
}

interface Stage {
  readonly server: XmppServer;
  readonly tb: TB;
  readonly relay: Awaited<ReturnType<typeof startRelay>>;
  stop(): Promise<void>;
}

/**
 * Server (wss:// with a test CA's certificate), the relay on the shipped port, an SMTP sink, then Thunderbird: in this
 * order, so that the relay knows where to forward before the add-on's first probe (startE2E would launch Thunderbird
 * before the test learns the server's port).
 */
async function stage(kind: ServerKind, dir: string, unconfigured: boolean): Promise<Stage> {
  const ca = makeTestCa(join(dir, "ca"));
  const cert = ca.issueCert(["localhost", "127.0.0.1", "::1"]);
  const server = await startServer(kind, { users: [{ user: "alice", password: "secret-alice" }], tls: { certFile: cert.certFile, keyFile: cert.keyFile } });
  let relay: Stage["relay"] | null = null;
  let sink: SmtpSink | null = null;
  try {
    relay = await startRelay(SHIPPED[kind].port, () => Number(new URL(server.wsUrl).port));
    sink = await startSmtpSink();
    const tb = await launchThunderbird({
      addonDir: DIST_DIR,
      smtpPort: sink.port,
      identities: [{ email: "alice@localhost", fullName: "Alice" }],
      trustCa: ca.certFile,
      ...(unconfigured
        ? { xvfb: true }
        : { managed: { jid: `alice@${server.domain}`, password: "secret-alice", websocketUrl: "", ...E2E_STRANGER_LIMITS } }),
    });
    const r = relay;
    const k = sink;
    return {
      server,
      tb,
      relay: r,
      async stop() {
        await tb.quit().catch(() => undefined);
        await k.stop();
        await r.close();
        await server.cleanup();
      },
    };
  } catch (error) {
    await sink?.stop();
    await relay?.close();
    await server.cleanup();
    throw error;
  }
}

describe.skipIf(skipReason !== null).each(testServers())("finding the WebSocket in Thunderbird without a URL on %s", (kind) => {
  let dir: string;
  let env: Stage | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mox-e2e-find-"));
    env = await stage(kind, dir, false);
  }, 90_000);

  afterAll(async () => {
    if (process.env.MOX_E2E_DUMP) console.log(env?.tb.events().map((e) => JSON.stringify(e)).join("\n"));
    await env?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("finds the shipped endpoint without host-meta and comes online through it", async () => {
    const e = env!;
    const expected = `wss://localhost:${SHIPPED[kind].port}${SHIPPED[kind].path}`;
    // The relay is the only way to the server: the add-on cannot come online without having found it.
    const online = await e.tb.waitForEvent((ev) => ev.event === "status" && ev.state === "online", 45_000);
    const found = e.tb.events().find((ev) => ev.event === "websocket-found");
    console.log(
      `[measure] ${kind}: found ${String(found?.url)} via ${String(found?.via)}; Thunderbird start → online ${Math.round(e.tb.timeOf(online)! - e.tb.spawnedAt)} ms; relay connections ${e.relay.connections}`,
    );
    expect(found).toMatchObject({ url: expected, via: "probe" });
    expect(e.relay.connections).toBeGreaterThanOrEqual(2); // the probe, then the session
  }, 60_000);
});

describe.skipIf(keyboardSkip !== null).each(testServers())("the options page's Discover button without host-meta on %s", (kind) => {
  let dir: string;
  let env: Stage | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mox-e2e-discover-"));
    env = await stage(kind, dir, true);
  }, 90_000);

  afterAll(async () => {
    if (process.env.MOX_E2E_DUMP) console.log(env?.tb.events().map((e) => JSON.stringify(e)).join("\n"));
    await env?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("Discover fills in the shipped endpoint, and Save comes online with it", async () => {
    const e = env!;
    const expected = `wss://localhost:${SHIPPED[kind].port}${SHIPPED[kind].path}`;
    const display = e.tb.display()!;
    const xdotool = (...args: string[]) => execFileSync("xdotool", args, { env: { ...process.env, DISPLAY: display }, encoding: "utf8" }).trim();
    await e.tb.waitForEvent((ev) => ev.event === "onboarding-opened", 30_000);
    let page = "";
    await waitFor(() => {
      try {
        page = xdotool("search", "--name", "Mail over XMPP – Settings").split("\n")[0] ?? "";
      } catch {
        page = "";
      }
      return page !== "";
    }, 15_000, "the settings page in front");
    await new Promise((r) => setTimeout(r, 1_000));
    xdotool("windowfocus", "--sync", page);
    xdotool("mousemove", "--window", page, "600", "170", "click", "1");
    const type = (text: string) => xdotool("type", "--delay", "15", text);
    xdotool("key", "Tab", "Tab");
    type("alice@localhost");
    xdotool("key", "Tab");
    type("secret-alice");
    // The WebSocket URL stays empty: Tab past it to Discover and press it.
    xdotool("key", "Tab", "Tab");
    const pressedAt = performance.now();
    xdotool("key", "space");
    const discovered = await e.tb.waitForEvent((ev) => ev.event === "websocket-discovered", 15_000);
    expect(discovered).toMatchObject({ url: expected, via: "probe" });
    // Back to the (now filled) URL field and Enter: Save keeps the found URL and the add-on logs in with it.
    await new Promise((r) => setTimeout(r, 500));
    xdotool("key", "shift+Tab", "Return");
    const online = await e.tb.waitForEvent((ev) => ev.event === "status" && ev.state === "online", 30_000);
    console.log(
      `[measure] ${kind}: Discover found ${String(discovered.url)} ${Math.round(e.tb.timeOf(discovered)! - pressedAt)} ms after the key press; online ${Math.round(e.tb.timeOf(online)! - pressedAt)} ms after it`,
    );
    expect(e.tb.events().some((ev) => ev.event === "websocket-found")).toBe(false); // the login used the saved URL
  }, 90_000);
});

describe.skipIf(skipReason !== null)("an account whose server offers no WebSocket, in Thunderbird", () => {
  let tb: TB | null = null;
  let sink: SmtpSink | null = null;
  afterAll(async () => {
    await tb?.quit().catch(() => undefined);
    await sink?.stop();
  });

  it("says so in the toolbar, in the user's words (not the background's English reason), and when it looks again", async () => {
    sink = await startSmtpSink();
    // Nothing listens on localhost's shipped WebSocket ports here, and there is no host-meta: every probe fails.
    tb = await launchThunderbird({
      addonDir: DIST_DIR,
      smtpPort: sink.port,
      managed: { jid: "alice@localhost", password: "secret-alice", websocketUrl: "", ...E2E_STRANGER_LIMITS },
    });
    const status = await tb.waitForEvent((e) => e.event === "status-shown" && /no XMPP WebSocket/.test(String(e["text"])), 40_000);
    // The toolbar text comes from _locales (statusNoWebsocketRetry), with the time of the next search.
    expect(String(status["shown"])).toMatch(/^This server offers no XMPP WebSocket, so Mail over XMPP cannot use this account\. .*Looking again at \S+/);
  }, 60_000);
});
