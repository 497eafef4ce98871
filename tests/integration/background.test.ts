// The composition root in a fake Thunderbird host against a real Prosody: configure from the options page, come
// online, keep only salted keys, survive a background restart, and obey an enterprise policy.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { SessionStatus } from "../../src/core/status.js";
import { createFakeHost, installFakeHost, type FakeHost, type FakePort } from "../support/fake-messenger.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";
import { ourSession, whenOnline } from "../support/mail-fixtures.js";
import { publishCapability, queryCapability } from "../../src/xmpp/capability.js";
import { MailReceiver, type FiledMail } from "../../src/xmpp/receiver.js";
import { quietLog } from "../support/mail-fixtures.js";

let uninstall: (() => void) | null = null;
const logged: string[] = [];

async function startBackground(host: FakeHost): Promise<FakePort> {
  uninstall?.();
  uninstall = installFakeHost(host);
  vi.resetModules();
  await import("../../src/background/main.js");
  return host.connectStatusPort();
}

function statuses(port: FakePort): SessionStatus[] {
  return port.received.map((m) => (m as { status: SessionStatus }).status);
}

async function waitForState(port: FakePort, state: SessionStatus["state"], timeoutMs = 10_000): Promise<SessionStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = statuses(port).find((s) => s.state === state);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no ${state} status; got ${JSON.stringify(statuses(port))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(testServers())("background composition root (fake host, real %s)", (kind) => {
  let server: XmppServer;
  const stopFns: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    server = await startServer(kind, {
      users: [
        { user: "alice", password: "secret-a" },
        { user: "bob", password: "secret-b" },
        { user: "dora", password: "secret-d" },
      ],
    });
    vi.spyOn(console, "log").mockImplementation((line: string) => void logged.push(line));
    vi.spyOn(console, "warn").mockImplementation((line: string) => void logged.push(line));
    vi.spyOn(console, "error").mockImplementation((line: string) => void logged.push(line));
  });
  afterEach(async () => {
    for (const stop of stopFns.splice(0)) await stop();
  });
  afterAll(async () => {
    uninstall?.();
    vi.restoreAllMocks();
    await server?.cleanup();
  });

  /** Switches a running background off through its own storage, as the user would, and waits until it is. */
  const switchOffLater = (host: FakeHost, port: FakePort) =>
    stopFns.push(async () => {
      const before = port.received.length;
      await (host.messenger as { storage: { local: { set(i: object): Promise<void> } } }).storage.local.set({ enabled: false });
      const deadline = Date.now() + 5_000;
      while (!statuses(port).slice(before).some((s) => s.state === "disconnected") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
    });

  it("is configured from the options page, comes online, keeps salted keys only, and survives a restart", async () => {
    const hostA = createFakeHost();
    const portA = await startBackground(hostA);
    await waitForState(portA, "disconnected");
    expect(await hostA.request("getStatus")).toMatchObject({ state: "disconnected", reason: "not configured" });

    const saved = await hostA.request("saveAccount", { jid: "alice@localhost", password: "secret-a", websocketUrl: server.wsUrl });
    expect(saved).toEqual({ ok: true });
    const online = await waitForState(portA, "online");
    expect(online).toMatchObject({ jid: expect.stringMatching(/^alice@localhost\/thunderbird-[0-9a-f]{8}$/) });

    const creds = hostA.local.get("credentials") as Record<string, unknown>;
    expect(creds).toMatchObject({ jid: "alice@localhost", keys: { mechanism: "SCRAM-SHA-1", iterations: expect.any(Number) } });
    expect(creds.password).toBeUndefined();
    expect(JSON.stringify([...hostA.local])).not.toContain("secret-a");
    expect(logged.join("\n")).not.toContain("secret-a");
    const resource = hostA.local.get("resource");

    // Restart: a new background page over the same storage (A switched off first, as a closed Thunderbird would be).
    switchOffLater(hostA, portA);
    for (const stop of stopFns.splice(0)) await stop();
    const storage = new Map(hostA.local);
    storage.set("enabled", true);
    const hostB = createFakeHost(storage);
    const portB = await startBackground(hostB);
    switchOffLater(hostB, portB);
    const again = await waitForState(portB, "online");
    expect(again).toMatchObject({ jid: `alice@localhost/${String(resource)}` });
  });

  it("tells senders it accepts mail while on, and withdraws that when switched off", async () => {
    const host = createFakeHost();
    const port = await startBackground(host);
    await host.request("saveAccount", { jid: "alice@localhost", password: "secret-a", websocketUrl: server.wsUrl });
    await waitForState(port, "online");
    const bob = ourSession(server, "bob", "secret-b", "asker");
    bob.start();
    await whenOnline(bob);
    try {
      const capable = async () => queryCapability(bob, "alice@localhost", new Date(), 5_000);
      const deadline = Date.now() + 5_000;
      while (!(await capable()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await capable()).toBe(true);
      switchOffLater(host, port);
      for (const stop of stopFns.splice(0)) await stop();
      expect(await capable()).toBe(false);
    } finally {
      await bob.stop();
    }
  });

  it("routes a Send: over XMPP to a capable recipient (cancel + close), by SMTP otherwise, and logs each decision", async () => {
    const host = createFakeHost();
    const port = await startBackground(host);
    expect(await host.request("saveAccount", { jid: "alice@localhost", password: "secret-a", websocketUrl: server.wsUrl })).toEqual({ ok: true });
    await waitForState(port, "online");
    switchOffLater(host, port);

    // dora runs the receiving engine and says she accepts mail; bob has no add-on.
    const dora = ourSession(server, "dora", "secret-d", "tb");
    const filed: FiledMail[] = [];
    const memory = new Map<string, unknown>();
    new MailReceiver({
      session: dora,
      sink: { file: async (mail) => void filed.push(mail) },
      directory: { confirmedJids: async () => [], addressBookJids: async () => [], isKnown: async () => false },
      store: { get: async (k) => memory.get(k), set: async (k, v) => void memory.set(k, v) },
      log: quietLog,
    }).start();
    dora.start();
    await whenOnline(dora);
    await publishCapability(dora, new Date());
    stopFns.push(() => dora.stop());

    const m = host.messenger as {
      compose: { onBeforeSend: { fire(tab: unknown, details: unknown): unknown[] }; onAfterSend: { fire(tab: unknown, info: unknown): unknown[] } };
      tabs: { removed: number[] };
      notifications: { created: unknown[] };
    };
    const send = async (tabId: number, to: string[]) =>
      (await m.compose.onBeforeSend.fire({ id: tabId }, { from: "Alice <alice@localhost>", to, subject: `Hello ${tabId}`, plainTextBody: "Hi!", isPlainText: true })[0]) as object;

    // Same domain as alice's JID → dora@localhost is a JID; the PEP item says she accepts mail.
    expect(await send(5, ["Dora <dora@localhost>"])).toEqual({ cancel: true });
    expect(filed.map((f) => f.subject)).toEqual(["Hello 5"]);
    expect(filed[0]!.fromJid).toMatch(/^alice@localhost/);
    m.compose.onAfterSend.fire({ id: 5 }, { mode: "sendNow", error: "Send aborted by an onBeforeSend event" });
    const deadline = Date.now() + 5_000;
    while (!m.tabs.removed.includes(5) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(m.tabs.removed).toEqual([5]);
    expect(m.notifications.created).toHaveLength(1);

    // bob@localhost has no capability item; carol has no JID at all: SMTP, with alice's JID announced.
    const announced = { details: { customHeaders: [{ name: "X-Jabber-ID", value: "alice@localhost" }] } };
    expect(await send(6, ["bob@localhost"])).toEqual(announced);
    expect(await send(7, ["carol@elsewhere.test", "dora@localhost"])).toEqual(announced);
    expect(filed).toHaveLength(1);

    type Entry = { result: string; recipients: Array<{ reason: string }> };
    const storage = (host.messenger as { storage: { local: { get(k: string): Promise<Record<string, unknown>> } } }).storage.local;
    let log: Entry[] = [];
    // The delivery log is written after Thunderbird has its answer.
    for (let i = 0; i < 300 && log.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
      log = ((await storage.get("deliveryLog"))["deliveryLog"] as Entry[] | undefined) ?? [];
    }
    expect(log.map((e) => [e.result, e.recipients.map((r) => r.reason)])).toEqual([
      ["xmpp", ["xmpp"]],
      ["smtp", ["not-capable"]],
      ["smtp", ["no-jid", "policy-whole-message"]],
    ]);
  });

  it("answers only its own pages, and validates every request", async () => {
    const host = createFakeHost();
    const port = await startBackground(host);
    switchOffLater(host, port);
    expect(await host.request("getStatus", {}, { id: "someone-else@example", url: "moz-extension://other/x.html" })).toBeUndefined();
    expect(await host.request("getStatus", {}, { id: "mail-over-xmpp@mailoverxmpp.net", url: "https://evil.example/" })).toBeUndefined();
    expect(await host.request("launchMissiles")).toMatchObject({ error: expect.stringContaining("unknown request") });
    expect(await host.request("saveAccount", { jid: 42 })).toMatchObject({ error: expect.stringContaining("jid") });
    expect(await host.request("saveAccount", { jid: "alice@localhost", password: "", websocketUrl: "ws://xmpp.example.org/ws" })).toMatchObject({
      ok: false,
      error: expect.stringContaining("url-insecure"),
    });
  });

  it("takes its account from an enterprise policy, and rejects invalid policy values with a clear log line", async () => {
    logged.length = 0; // (shared by the runs on each server)
    const host = createFakeHost();
    host.setManaged({ jid: "bob@localhost", password: "secret-b", websocketUrl: server.wsUrl, logLevel: "loud" });
    const port = await startBackground(host);
    const online = await waitForState(port, "online");
    expect(online).toMatchObject({ jid: expect.stringMatching(/^bob@localhost\//) });
    expect(logged.filter((l) => l.includes("policy-value"))).toEqual([expect.stringContaining("logLevel")]);
    expect(logged.join("\n")).not.toContain("secret-b");
    switchOffLater(host, port);
  });
});
