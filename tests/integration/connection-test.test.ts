// "Test connection" against real sockets on Prosody and ejabberd: success (and, on a server with every feature the
// add-on uses, no limitation reported), and each failure named precisely. A server that lacks features:
// tests/integration/server-features.test.ts.
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import { testConnection, type ConnectionTestInput } from "../../src/xmpp/connection-test.js";
import { freePort } from "../support/ports.js";
import { nodeProbes } from "../support/node-probes.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

const deps = { probes: nodeProbes, scheduler: realScheduler, random: Math.random, sha1: webCryptoSha1, log: silentLogger, timeoutMs: 4_000 };

describe.each(testServers())("testConnection on %s", (kind) => {
  let server: XmppServer;
  let web: Server;
  let webPort: number;

  beforeAll(async () => {
    server = await startServer(kind, { users: [{ user: "alice", password: "secret-a" }], mam: true, upload: true });
    webPort = await freePort();
    web = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<h1>just a web page</h1>");
    });
    await new Promise<void>((r) => web.listen(webPort, "127.0.0.1", r));
  });
  afterAll(async () => {
    await server?.cleanup();
    await new Promise((r) => web?.close(r));
  });

  const run = (input: Partial<ConnectionTestInput>) =>
    testConnection({ jid: "alice@localhost", websocketUrl: server.wsUrl, password: "secret-a", ...input }, deps);

  it("succeeds with the right credentials and says how; reports no limitation on a full-featured server", async () => {
    const result = await run({});
    expect(result).toMatchObject({ ok: true, jid: expect.stringMatching(/^alice@localhost\/test-/), mechanism: expect.stringMatching(/^SCRAM-SHA-/) });
    expect(result.ok && result.limitations).toBeUndefined();
  });

  it.each([
    ["a wrong password", { password: "nope-123" }, "auth"],
    ["a JID without local part", { jid: "localhost" }, "invalid-input"],
    ["ws:// to a remote host", { websocketUrl: "ws://xmpp.example.org/ws" }, "insecure"],
    ["a non-WebSocket scheme", { websocketUrl: "https://127.0.0.1/ws" }, "invalid-input"],
    ["no password at all", { password: "" }, "invalid-input"],
    ["a host name that does not resolve", { websocketUrl: "wss://no-such-host.invalid/xmpp-websocket" }, "dns"],
  ])("names %s", async (_label, input, kind) => {
    const result = await run(input);
    expect(result).toMatchObject({ ok: false, kind });
    expect(JSON.stringify(result)).not.toContain("nope-123");
  });

  it("names a closed port as refused", async () => {
    const port = await freePort();
    const result = await run({ websocketUrl: `ws://127.0.0.1:${port}/xmpp-websocket` });
    expect(result).toMatchObject({ ok: false, kind: "refused" });
  });

  it("names a wss:// address served without TLS as a TLS problem", async () => {
    const result = await run({ websocketUrl: `wss://127.0.0.1:${webPort}/xmpp-websocket` });
    expect(result).toMatchObject({ ok: false, kind: "tls" });
  });

  it("names a web server that is no XMPP endpoint as not-websocket", async () => {
    const result = await run({ websocketUrl: `ws://127.0.0.1:${webPort}/xmpp-websocket` });
    expect(result).toMatchObject({ ok: false, kind: "not-websocket" });
  });
});
