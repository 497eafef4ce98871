// TLS as in real life, from Node, on both servers: a CA made at test time (tests/support/test-ca.ts), the server's
// WebSocket on wss:// and its upload service on https:// with a certificate from that CA. Our own session logs in and
// a sealed mail goes up (PUT) and comes down (GET) over https. Without the CA trusted, the same connection fails.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPayload } from "../../src/core/payload-crypto.js";
import { silentLogger } from "../../src/core/log.js";
import { testConnection } from "../../src/xmpp/connection-test.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import { downloadBytes } from "../../src/xmpp/upload.js";
import { nodeProbes } from "../support/node-probes.js";
import { filler, ourSession, rfc5322, uploadSealed, whenOnline } from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";
import { makeTestCa, trustCaInNode, type TestCa } from "../support/test-ca.js";

describe.each(testServers())("TLS (wss:// and https:// upload) on %s", (kind) => {
  let dir: string;
  let ca: TestCa;
  let server: XmppServer;
  let untrust: (() => void) | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mox-tls-"));
    const t0 = performance.now();
    ca = makeTestCa(join(dir, "ca"));
    const cert = ca.issueCert(["localhost", "127.0.0.1"]);
    console.log(`[measure] ${kind}: test CA + server certificate made in ${(performance.now() - t0).toFixed(0)} ms`);
    server = await startServer(kind, { users: [{ user: "alice", password: "secret-a" }], upload: true, tls: { certFile: cert.certFile, keyFile: cert.keyFile } });
  });
  afterAll(async () => {
    untrust?.();
    await server?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves wss:// and https:// only", () => {
    expect(server.wsUrl).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\//);
    expect(server.httpsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("does not let a client that does not trust the CA in", async () => {
    const session = ourSession(server, "alice", "secret-a", "untrusting");
    session.start();
    try {
      await expect(whenOnline(session, 2_000)).rejects.toThrow(/not online/);
    } finally {
      await session.stop();
    }
  });

  it("Test connection names the untrusted certificate as a TLS failure", async () => {
    const deps = { probes: nodeProbes, scheduler: realScheduler, random: Math.random, sha1: webCryptoSha1, log: silentLogger, timeoutMs: 3_000 };
    const result = await testConnection({ jid: "alice@localhost", websocketUrl: server.wsUrl, password: "secret-a" }, deps);
    expect(result).toMatchObject({ ok: false, kind: "tls", detail: expect.stringMatching(/^TLS failed: the server's certificate is not trusted/) });
  });

  it("logs in over wss:// and uploads and downloads a sealed mail over https:// when the CA is trusted", async () => {
    untrust = await trustCaInNode(ca.certPem);
    const session = ourSession(server, "alice", "secret-a", "tls");
    session.start();
    try {
      await whenOnline(session, 10_000);
      const raw = rfc5322({ from: "alice@localhost", body: filler(200_000) });
      const { ref, sha256 } = await uploadSealed(session, server.domain, raw);
      expect(ref.url.startsWith(`${server.httpsUrl}/`)).toBe(true);
      const sealed = await downloadBytes(ref.url, ref.size, 10_000);
      const opened = await openPayload(sealed, { key: ref.key, iv: ref.iv, sha256 }, 1 << 20);
      expect(Buffer.from(opened).equals(Buffer.from(raw))).toBe(true);
    } finally {
      await session.stop();
    }
  });
});
