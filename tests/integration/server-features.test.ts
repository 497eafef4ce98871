// A server without PEP, carbons, MAM, upload and stream management, on Prosody and on ejabberd: the add-on still
// logs in, finds out at login what is missing, and says what each missing feature costs — in the status (through
// AccountHealth, as the background wires it) and in "Test connection". The capability publish is retried later.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { limitationsOf } from "../../src/core/status.js";
import { AccountHealth } from "../../src/xmpp/account-health.js";
import { testConnection } from "../../src/xmpp/connection-test.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import { detectServerFeatures, inlineLimitWithoutUpload, observeStreamManagement } from "../../src/xmpp/server-features.js";
import { XmppSession } from "../../src/xmpp/session.js";
import { nodeProbes } from "../support/node-probes.js";
import { waitFor } from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

const deps = { probes: nodeProbes, scheduler: realScheduler, random: Math.random, sha1: webCryptoSha1, log: silentLogger, timeoutMs: 5_000 };

function session(server: XmppServer, user: string, password: string, createClient?: ReturnType<typeof observeStreamManagement>["createClient"]): XmppSession {
  return new XmppSession(
    { jid: `${user}@${server.domain}`, websocketUrl: server.wsUrl, resource: "features" },
    {
      scheduler: realScheduler,
      random: Math.random,
      sha1: webCryptoSha1,
      log: silentLogger,
      credentials: { load: async () => ({ password }), saveKeys: async () => {} },
      ...(createClient ? { createClient } : {}),
    },
  );
}

describe.each(testServers())("a server without PEP, carbons, MAM, upload and stream management (%s)", (kind) => {
  let server: XmppServer;

  beforeAll(async () => {
    server = await startServer(kind, { users: [{ user: "alice", password: "pw-a" }], mam: false, upload: false, without: ["pep", "carbons", "sm"] });
  });
  afterAll(async () => {
    await server?.cleanup();
  });

  it("is found out at login and shown in the status, each with its cost; the publish is retried later", async () => {
    const sm = observeStreamManagement();
    const alice = session(server, "alice", "pw-a", sm.createClient);
    const health = new AccountHealth({ session: alice, scheduler: realScheduler, random: Math.random, log: silentLogger, streamManagement: sm.enabled });
    health.start();
    alice.start();
    try {
      await waitFor(() => health.limitations.length === 5, 10_000, "five limitations");
      const status = health.decorate(alice.status);
      const list = limitationsOf(status);
      expect(list.map((l) => l.feature)).toEqual(["capability", "carbons", "mam", "upload", "sm"]);
      expect(list[0]).toMatchObject({ feature: "capability", code: "no-pep", retryAt: expect.any(Number) });
      // About 1 min (0.5–1 min with jitter) until the next try.
      const retryIn = (list[0] as { retryAt: number }).retryAt - Date.now();
      expect(retryIn).toBeGreaterThan(25_000);
      expect(retryIn).toBeLessThanOrEqual(60_000);
      expect(list[3]).toEqual({ feature: "upload", inlineLimitBytes: inlineLimitWithoutUpload() });
    } finally {
      health.stop();
      await alice.stop();
    }
  });

  it("is reported by Test connection the same way", async () => {
    const result = await testConnection({ jid: `alice@${server.domain}`, websocketUrl: server.wsUrl, password: "pw-a" }, deps);
    expect(result.ok).toBe(true);
    expect(result.ok && result.limitations?.map((l) => l.feature)).toEqual(["capability", "carbons", "mam", "upload", "sm"]);
  });

  it("detects each missing feature directly (disco#info, disco#items, stream features)", async () => {
    const sm = observeStreamManagement();
    const alice = session(server, "alice", "pw-a", sm.createClient);
    alice.start();
    try {
      await waitFor(() => alice.status.state === "online", 10_000, "online");
      expect(await detectServerFeatures(alice, { streamManagement: sm.enabled })).toEqual({ pep: false, carbons: false, mam: false, upload: false, streamManagement: false });
    } finally {
      await alice.stop();
    }
  });
});
