// xmpp/session takes wall-clock time (status `since`, `retryAt`) from its injected wallClock, not from Date.now().
import "../support/websocket-global.js";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.js";
import type { SessionStatus } from "../../src/core/status.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import { XmppSession } from "../../src/xmpp/session.js";

/** A loopback port nobody listens on (bound once, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("XmppSession wall clock", () => {
  it("computes retryAt from the injected wallClock", async () => {
    const port = await closedPort();
    const FAKE_NOW = 1_000_000_000_000; // 2001: far from the real clock
    const session = new XmppSession(
      { jid: "alice@localhost", websocketUrl: `ws://127.0.0.1:${port}/xmpp-websocket`, resource: "tb-test" },
      {
        scheduler: realScheduler,
        wallClock: () => FAKE_NOW,
        random: () => 0,
        log: createLogger(() => undefined, () => "error"),
        sha1: webCryptoSha1,
        credentials: { load: async () => ({ password: "x" }), saveKeys: async () => undefined },
        backoff: { baseMs: 60_000, capMs: 60_000, factor: 2 },
      },
    );
    const error = new Promise<Extract<SessionStatus, { state: "error" }>>((resolve) => {
      session.onStatus((s) => {
        if (s.state === "error") resolve(s);
      });
    });
    session.start();
    try {
      const status = await error;
      expect(status.retryAt).toBeDefined();
      expect(status.retryAt! - FAKE_NOW).toBeGreaterThanOrEqual(0);
      expect(status.retryAt! - FAKE_NOW).toBeLessThanOrEqual(60_000);
    } finally {
      await session.stop();
    }
  });
});
