// Smoke test of the Prosody test harness (tests/support/prosody.ts) against a real Prosody,
// driven by a real xmpp.js client over WebSocket.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isProsodyAvailable, startProsody, type ProsodyServer } from "../support/prosody";

// ---------------------------------------------------------------------------------------------
// The little of xmpp.js (0.14, no bundled typings) this test touches.

interface XmlElement {
  name: string;
  attrs: Record<string, string | undefined>;
  is(name: string, xmlns?: string): boolean;
  getChild(name: string, xmlns?: string): XmlElement | undefined;
  getChildren(name: string, xmlns?: string): XmlElement[];
  getChildText(name: string, xmlns?: string): string | null;
  text(): string;
  toString(): string;
}
interface XmppClient {
  status: string;
  start(): Promise<{ toString(): string }>;
  stop(): Promise<unknown>;
  send(element: XmlElement): Promise<void>;
  on(event: "element" | "stanza", listener: (element: XmlElement) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  reconnect: { stop(): void };
  streamManagement: { enabled: boolean; id: string; max: string | null };
  iqCaller: { request(element: XmlElement, timeout?: number): Promise<XmlElement> };
}
interface XmppClientModule {
  client(options: { service: string; domain: string; username: string; password: string; resource?: string }): XmppClient;
  xml(name: string, attrs?: Record<string, string> | null, ...children: Array<XmlElement | string>): XmlElement;
}

const NS_STREAMS = "http://etherx.jabber.org/streams";
const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_SM = "urn:xmpp:sm:3";

const ALICE = { user: "alice", password: "alice-secret" };
const BOB = { user: "bob", password: "bob-secret" };

const available = isProsodyAvailable();
if (!available) {
  console.warn(
    "[prosody-harness.test] SKIPPED: no `prosody`/`prosodyctl` on PATH. Install Prosody 0.12 (Debian: apt-get install prosody) to run the integration tests.",
  );
}

// ---------------------------------------------------------------------------------------------

let xmppjs: XmppClientModule;
const openClients = new Set<XmppClient>();

interface Connected {
  xmpp: XmppClient;
  jid: string;
  /** Every <stream:features/> the server sent, in order (pre-auth first). */
  features: XmlElement[];
  stanzas: XmlElement[];
}

function makeClient(server: ProsodyServer, username: string, password: string) {
  const xmpp = xmppjs.client({ service: server.wsUrl, domain: server.domain, username, password });
  xmpp.reconnect.stop(); // every step below wants to see exactly one connection attempt
  openClients.add(xmpp);
  const features: XmlElement[] = [];
  const stanzas: XmlElement[] = [];
  const errors: Error[] = [];
  xmpp.on("element", (el) => {
    if (el.is("features", NS_STREAMS)) features.push(el);
  });
  xmpp.on("stanza", (el) => stanzas.push(el));
  xmpp.on("error", (err) => errors.push(err)); // start() rejects with it; keep it off the emitter's default path
  return { xmpp, features, stanzas, errors };
}

async function connect(server: ProsodyServer, account: { user: string; password: string }): Promise<Connected> {
  const { xmpp, features, stanzas } = makeClient(server, account.user, account.password);
  const jid = (await xmpp.start()).toString();
  return { xmpp, jid, features, stanzas };
}

/** xmpp.js resolves start() after resource binding; <enable/> is answered a moment later. */
async function smEnabled(xmpp: XmppClient): Promise<string> {
  await waitFor("stream management to be enabled", () => xmpp.streamManagement.enabled);
  return xmpp.streamManagement.id;
}

async function quietStop(xmpp: XmppClient): Promise<void> {
  openClients.delete(xmpp);
  await Promise.race([xmpp.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function wsEndpointAnswers(server: ProsodyServer): Promise<boolean> {
  try {
    const res = await fetch(`${server.httpUrl}/xmpp-websocket`, { signal: AbortSignal.timeout(2000) });
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}

function logOf(server: ProsodyServer): string {
  return readFileSync(server.logFile, "utf8");
}

async function stopAllClients(): Promise<void> {
  await Promise.all([...openClients].map((c) => quietStop(c)));
}

// ---------------------------------------------------------------------------------------------

describe.skipIf(!available)("Prosody test harness", () => {
  let server: ProsodyServer;
  let dir: string;

  beforeAll(async () => {
    xmppjs = (await import("@xmpp/client" as string)) as XmppClientModule;
    server = await startProsody({ users: [ALICE, BOB] });
    dir = server.dataDir.replace(/\/data$/, "");
  });

  afterEach(stopAllClients);

  afterAll(async () => {
    await stopAllClients();
    await server?.cleanup();
  });

  it("runs privately: own temp dir, loopback-only ports, no s2s", async () => {
    expect(server.domain).toBe("localhost");
    expect(server.wsUrl).toBe(`ws://127.0.0.1:${server.port}/xmpp-websocket`);
    expect(server.httpUrl).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.c2sPort).not.toBe(server.port);
    expect(dir.startsWith(`${tmpdir()}/mox-prosody-`)).toBe(true);
    expect(server.logFile.startsWith(dir)).toBe(true);
    expect(existsSync(server.dataDir)).toBe(true);
    expect(await wsEndpointAnswers(server)).toBe(true);

    const log = logOf(server);
    expect(log).toContain(`Activated service 'http' on [127.0.0.1]:${server.port}`);
    expect(log).toContain(`Activated service 'c2s' on [127.0.0.1]:${server.c2sPort}`);
    expect(log).not.toMatch(/Activated service '(s2s|component|https|c2s_direct_tls)' on \[/);
  });

  it("lets a registered user come online over WebSocket and offers SCRAM and stream management", async () => {
    const alice = await connect(server, ALICE);
    expect(alice.xmpp.status).toBe("online");
    expect(alice.jid).toMatch(/^alice@localhost\/.+/);

    const [preAuth, postAuth] = alice.features;
    const mechanisms = (preAuth?.getChild("mechanisms", NS_SASL)?.getChildren("mechanism") ?? []).map((m) => m.text());
    expect(mechanisms).toContain("SCRAM-SHA-1");
    expect(postAuth?.getChild("sm", NS_SM)).toBeDefined();
    expect(await smEnabled(alice.xmpp)).not.toBe("");
    expect(alice.xmpp.streamManagement.max).toBe("20"); // <enabled max=…/> = smacks_hibernation_time
  });

  it("delivers a message between the two users", async () => {
    const alice = await connect(server, ALICE);
    const bob = await connect(server, BOB);
    const body = `hello bob ${Date.now()}`;
    await alice.xmpp.send(xmppjs.xml("message", { to: bob.jid, type: "chat" }, xmppjs.xml("body", {}, body)));
    await waitFor("bob to receive alice's message", () =>
      bob.stanzas.some((s) => s.is("message") && s.getChildText("body") === body),
    );
    const got = bob.stanzas.find((s) => s.is("message") && s.getChildText("body") === body);
    expect(got?.attrs.from).toBe(alice.jid);
  });

  it("registers users while running", async () => {
    const carol = { user: `carol${Date.now()}`, password: "carol-secret" };
    await expect(connect(server, carol)).rejects.toMatchObject({ condition: "not-authorized" });
    await server.register(carol.user, carol.password);
    const c = await connect(server, carol);
    expect(c.jid.startsWith(`${carol.user}@localhost/`)).toBe(true);
  });

  it("rejects a wrong password with SASL not-authorized", async () => {
    const { xmpp } = makeClient(server, ALICE.user, "not-the-password");
    const err = await xmpp.start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe("SASLError");
    expect((err as { condition?: string }).condition).toBe("not-authorized");
    expect(xmpp.status).not.toBe("online");
  });

  it("restarts on the same port and data dir; old sessions are dropped, new ones work", async () => {
    const before = await connect(server, ALICE);
    const smIdBefore = await smEnabled(before.xmpp);
    const { port, c2sPort, wsUrl, dataDir } = server;

    await server.restart();

    expect(server.port).toBe(port);
    expect(server.c2sPort).toBe(c2sPort);
    expect(server.wsUrl).toBe(wsUrl);
    expect(server.dataDir).toBe(dataDir);
    await waitFor("the old session to notice the restart", () => before.xmpp.status !== "online");
    // accounts live in the data dir, so they survive the restart
    const after = await connect(server, ALICE);
    expect(after.xmpp.status).toBe("online");
    const smIdAfter = await smEnabled(after.xmpp);
    expect(smIdAfter).not.toBe("");
    expect(smIdAfter).not.toBe(smIdBefore);
  });

  it("survives kill() (SIGKILL) and start() again on the same port", async () => {
    const { port } = server;
    await server.kill();
    expect(await wsEndpointAnswers(server)).toBe(false);

    await server.start();
    expect(server.port).toBe(port);
    expect(await wsEndpointAnswers(server)).toBe(true);
    const alice = await connect(server, ALICE);
    expect(alice.xmpp.status).toBe("online");
  });

  it("stop() is idempotent and start() brings it back", async () => {
    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    expect(await wsEndpointAnswers(server)).toBe(false);
    await server.start();
    await server.start(); // already running: no second process
    expect(logOf(server).match(/Activated service 'http' on/g)?.length).toBe(
      logOf(server).match(/=== mox harness: starting/g)?.length,
    );
    const bob = await connect(server, BOB);
    expect(bob.xmpp.status).toBe("online");
  });
});

describe.skipIf(!available)("Prosody test harness options", () => {
  let server: ProsodyServer | undefined;

  beforeAll(async () => {
    xmppjs = (await import("@xmpp/client" as string)) as XmppClientModule;
  });

  afterEach(async () => {
    await stopAllClients();
    await server?.cleanup();
    server = undefined;
  });

  it("loads MAM, mod_limits and HTTP upload with URLs on the loopback HTTP port", async () => {
    server = await startProsody({
      domain: "example.test",
      users: [ALICE],
      mam: true,
      rateLimit: "1mb/s",
      httpFileShare: true,
      extraModules: ["lastactivity"],
      smResumeTimeout: 7,
    });
    const { xml } = xmppjs;
    const alice = await connect(server, ALICE);
    expect(alice.jid.startsWith("alice@example.test/")).toBe(true);
    expect(alice.features[1]?.getChild("sm", NS_SM)).toBeDefined();
    await smEnabled(alice.xmpp);
    expect(alice.xmpp.streamManagement.max).toBe("7");

    // MAM is advertised on the account, the extra module on the server
    const accountInfo = await alice.xmpp.iqCaller.request(
      xml("iq", { type: "get", to: "alice@example.test" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })),
    );
    const accountFeatures = accountInfo.getChild("query")!.getChildren("feature").map((f) => f.attrs.var);
    expect(accountFeatures).toContain("urn:xmpp:mam:2");
    const serverInfo = await alice.xmpp.iqCaller.request(
      xml("iq", { type: "get", to: "example.test" }, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })),
    );
    expect(serverInfo.getChild("query")!.getChildren("feature").map((f) => f.attrs.var)).toContain("jabber:iq:last");
    expect(logOf(server)).not.toMatch(/mod_limits\terror\t/); // e.g. "Error parsing rate"

    // MAM keeps a message with a body, in memory (no archive files in the data dir)
    const body = `archived ${Date.now()}`;
    await alice.xmpp.send(xml("presence")); // messages to a bare JID need an available resource
    await alice.xmpp.send(xml("message", { to: "alice@example.test", type: "chat" }, xml("body", {}, body)));
    await waitFor("the message to come back", () => alice.stanzas.some((s) => s.getChildText("body") === body));
    const fin = await alice.xmpp.iqCaller.request(xml("iq", { type: "set" }, xml("query", { xmlns: "urn:xmpp:mam:2", queryid: "q1" })));
    expect(fin.getChild("fin", "urn:xmpp:mam:2")).toBeDefined();
    const archived = alice.stanzas
      .map((s) => s.getChild("result", "urn:xmpp:mam:2"))
      .filter((r) => r?.attrs.queryid === "q1")
      .map((r) => r?.getChild("forwarded", "urn:xmpp:forward:0")?.getChild("message")?.getChildText("body"));
    expect(archived).toContain(body);
    const files = readdirSync(server.dataDir, { recursive: true }).map(String);
    expect(files.some((f) => f.split("/").includes("accounts"))).toBe(true);
    expect(files.filter((f) => /archive/.test(f))).toEqual([]);

    // XEP-0363: slot on upload.example.test, PUT and GET over plain http on the loopback port
    const content = `upload test ${Date.now()}\n`;
    const slot = await alice.xmpp.iqCaller.request(
      xml(
        "iq",
        { type: "get", to: "upload.example.test" },
        xml("request", { xmlns: "urn:xmpp:http:upload:0", filename: "note.txt", size: String(Buffer.byteLength(content)), "content-type": "text/plain" }),
      ),
    );
    const putEl = slot.getChild("slot")?.getChild("put");
    const putUrl = putEl?.attrs.url ?? "";
    const getUrl = slot.getChild("slot")?.getChild("get")?.attrs.url ?? "";
    expect(putUrl.startsWith(`${server.httpUrl}/file_share/`)).toBe(true);
    expect(getUrl).toBe(putUrl);
    // the slot carries an Authorization header (a JWT) that the PUT must echo
    const putHeaders: Record<string, string> = { "content-type": "text/plain" };
    for (const h of putEl?.getChildren("header") ?? []) putHeaders[h.attrs.name ?? ""] = h.text();
    expect(Object.keys(putHeaders)).toContain("Authorization");
    const put = await fetch(putUrl, { method: "PUT", body: content, headers: putHeaders });
    expect(put.status).toBe(201);
    const get = await fetch(getUrl);
    expect(get.status).toBe(200);
    expect(await get.text()).toBe(content);
  });

  it("fails fast, with the log, when a module cannot be loaded", async () => {
    const err = await startProsody({ extraModules: ["no_such_module_xyz"] }).then(
      (s) => {
        server = s;
        return null;
      },
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain("Unable to load module 'no_such_module_xyz'");
    expect(err!.message).toContain("--- tail of ");
  });
});
