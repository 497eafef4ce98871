// Finding the WebSocket of a domain that publishes no host-meta (issue 13 point 4), against real Prosody and ejabberd.
//
// The servers run on dynamic loopback ports, each with its shipped WebSocket path (Prosody mod_websocket's default
// /xmpp-websocket, ejabberd's /ws from the shipped ejabberd.yml). The production candidate list is used unchanged
// except for where it connects: `ports` maps the default ports (443, 5281, 5443) onto loopback ports and
// `address` maps the domain and xmpp.<domain> onto 127.0.0.x. Host-meta is asked of the server's own HTTP port,
// where neither server serves one (a real 404).
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { WebSocketServer } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CandidateOptions } from "../../src/core/websocket-candidates.js";
import { findWebsocket, probeEndpoint } from "../../src/xmpp/endpoint-probe.js";
import type { FetchText } from "../../src/xmpp/discovery.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import { freePort } from "../support/ports.js";
import { startServer, testServers, type ServerKind, type XmppServer } from "../support/servers.js";

/** host-meta for https://<domain>/… is asked of this loopback origin instead. */
const fetchFrom =
  (origin: string): FetchText =>
  async (url, timeoutMs) => {
    const local = url.replace(/^https:\/\/[^/]+/, origin);
    const res = await fetch(local, { redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
    return { ok: res.ok, text: res.ok ? await res.text() : "" };
  };

/** What each server answers on: the shipped default port its WebSocket listener stands in for. */
const OWN_PORT: Record<ServerKind, number> = { prosody: 5281, ejabberd: 5443 };
const SHIPPED_PATH: Record<ServerKind, string> = { prosody: "/xmpp-websocket", ejabberd: "/ws" };

let closedPort: number; // nothing listens here: connections are refused at once
let web: Server; // an ordinary web server: 200 and a page for every request, WebSocket upgrades included
let webPort: number;
let chat: WebSocketServer; // a WebSocket that accepts "xmpp" but is no XMPP server (its first frame is not <open/>)
let chatPort: number;
let hole: TcpServer; // accepts TCP, never answers (a firewall that drops, an overloaded host)
let holePort: number;
const holeSockets = new Set<Socket>();

beforeAll(async () => {
  closedPort = await freePort();
  web = createHttpServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end("<h1>Welcome</h1>");
  });
  web.on("upgrade", (_req, socket) => socket.end("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\n\r\nhello"));
  await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
  webPort = (web.address() as { port: number }).port;
  chat = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (p) => (p.has("xmpp") ? "xmpp" : false) });
  await new Promise<void>((resolve) => chat.once("listening", resolve));
  chatPort = (chat.address() as { port: number }).port;
  chat.on("connection", (socket) => socket.send('{"type":"welcome","room":"lobby"}'));
  hole = createTcpServer((socket) => {
    holeSockets.add(socket);
    socket.on("close", () => holeSockets.delete(socket));
  });
  await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", resolve));
  holePort = (hole.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => web?.close(r));
  await new Promise((r) => chat?.close(r));
  for (const s of holeSockets) s.destroy();
  await new Promise((r) => hole?.close(r));
});

describe.each(testServers())("finding the WebSocket without host-meta on %s", (kind) => {
  let server: XmppServer;
  let port: number;

  beforeAll(async () => {
    server = await startServer(kind, {});
    port = Number(new URL(server.wsUrl).port);
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  /** Every default port refused, except `mapped` (default port → loopback port); domain on 127.0.0.1. */
  const layout = (mapped: Record<number, number>, address?: CandidateOptions["address"]): CandidateOptions => ({
    scheme: "ws",
    ports: { 443: closedPort, 5281: closedPort, 5443: closedPort, ...mapped },
    address: address ?? ((host) => (host === server.domain ? "127.0.0.1" : "127.0.0.2")),
  });
  const find = (candidates: CandidateOptions) =>
    findWebsocket(server.domain, { fetchText: fetchFrom(server.httpUrl), scheduler: realScheduler, candidates });

  it("the server really publishes no host-meta", async () => {
    const res = await fetch(`${server.httpUrl}/.well-known/host-meta`);
    expect(res.ok).toBe(false);
  });

  it("finds the endpoint on the shipped default port and path", async () => {
    const started = performance.now();
    const result = await find(layout({ [OWN_PORT[kind]]: port }));
    const ms = performance.now() - started;
    console.log(`[measure] ${kind}: found ${"url" in result ? result.url : "nothing"} (stands for ${OWN_PORT[kind]}) in ${Math.round(ms)} ms`);
    expect(result).toEqual({ url: `ws://127.0.0.1:${port}${SHIPPED_PATH[kind]}`, via: "probe" });
    expect(ms).toBeLessThan(3_000);
  });

  it("finds it behind the standard port, under the path that server uses", async () => {
    // Every default port leads to the server: the first shape it answers is the one for its own path
    // (Prosody: /xmpp-websocket at once; ejabberd: 404 there, then /ws).
    const result = await find(layout({ 443: port, 5281: port, 5443: port }));
    expect(result).toEqual({ url: `ws://127.0.0.1:${port}${SHIPPED_PATH[kind]}`, via: "probe" });
  });

  it("finds it on xmpp.<domain> when the domain itself has nothing", async () => {
    const result = await find(layout({ [OWN_PORT[kind]]: port }, (host) => (host === server.domain ? "127.0.0.2" : "127.0.0.1")));
    expect(result).toEqual({ url: `ws://127.0.0.1:${port}${SHIPPED_PATH[kind]}`, via: "probe" });
  });

  it("skips a more preferred candidate that answers HTTP, or a WebSocket, but is not XMPP", async () => {
    expect(await find(layout({ 443: webPort, [OWN_PORT[kind]]: port }))).toEqual({
      url: `ws://127.0.0.1:${port}${SHIPPED_PATH[kind]}`,
      via: "probe",
    });
    expect(await find(layout({ 443: chatPort, [OWN_PORT[kind]]: port }))).toEqual({
      url: `ws://127.0.0.1:${port}${SHIPPED_PATH[kind]}`,
      via: "probe",
    });
    expect(await probeEndpoint(`ws://127.0.0.1:${webPort}/xmpp-websocket`, server.domain, 2_000, { scheduler: realScheduler })).toMatchObject({
      ok: false,
      failure: "unreachable",
    });
    expect(await probeEndpoint(`ws://127.0.0.1:${chatPort}/ws`, server.domain, 2_000, { scheduler: realScheduler })).toMatchObject({
      ok: false,
      failure: "not-xmpp",
    });
  });

  it("does not take the server for a domain it does not serve", async () => {
    const outcome = await probeEndpoint(server.wsUrl, "not-served.example", 3_000, { scheduler: realScheduler });
    console.log(`[measure] ${kind}: probe for a domain it does not serve → ${JSON.stringify(outcome)}`);
    expect(outcome.ok).toBe(false);
    expect(await probeEndpoint(server.wsUrl, server.domain, 3_000, { scheduler: realScheduler })).toEqual({ ok: true });
  });

  it("says plainly that a domain offers no WebSocket at all", async () => {
    // The XMPP server is not among the candidates: refused ports and an ordinary web page only.
    const result = await find(layout({ 443: webPort }));
    expect(result).toMatchObject({ noWebsocket: true, tried: expect.arrayContaining([`ws://127.0.0.1:${webPort}/xmpp-websocket`]) });
    expect("error" in result && result.error).toMatch(/none of the usual WebSocket addresses answered/);
  });
});

describe("a domain with no WebSocket whose hosts never answer", () => {
  it("gives the no-WebSocket result within the 10 s deadline", async () => {
    // host-meta hangs too (the TCP hole accepts and says nothing), then every probe hangs: the worst case.
    const started = performance.now();
    const result = await findWebsocket("example.test", {
      fetchText: fetchFrom(`http://127.0.0.1:${holePort}`),
      scheduler: realScheduler,
      candidates: { scheme: "ws", address: () => "127.0.0.1", ports: { 443: holePort, 5281: holePort, 5443: holePort } },
    });
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ noWebsocket: true });
    expect("error" in result && result.error).toContain("timeout");
    expect(elapsed).toBeLessThan(10_500);
    console.log(`no-WebSocket verdict after ${Math.round(elapsed)} ms (host-meta and every probe hanging)`);
  }, 20_000);
});
