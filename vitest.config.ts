import { defineConfig } from "vitest/config";

// The rungs of the test ladder, each runnable alone (plus "fuzz": property-based hostile input, npm run test:fuzz):
//   unit         pure logic with fakes of the host (fast, no servers)
//   integration  a real Prosody started by the suite on a free loopback port
//   e2e          a real Thunderbird (headless) with the built XPI, Prosody and an SMTP server
/**
 * A known race in xmpp.js 0.14 (@xmpp/connection `_onData`): a WebSocket frame that arrives after the stream's parser
 * was detached (while a client is stopping) throws "Cannot read properties of null (reading 'write')" from the
 * socket's message handler. It is harmless to the tests (the client is going away) but is reported as an unhandled
 * error. Only that exact signature is ignored; every other unhandled error still fails the run.
 */
function isKnownXmppShutdownRace(error: { message?: string; stack?: string }): boolean {
  return (
    (error.message ?? "").includes("Cannot read properties of null (reading 'write')") &&
    (error.stack ?? "").includes("@xmpp/connection") &&
    (error.stack ?? "").includes("_onData")
  );
}

export default defineConfig({
  test: {
    onUnhandledError(error) {
      if (isKnownXmppShutdownRace(error)) return false;
    },
    projects: [
      {
        test: {
          name: "unit",
          include: ["tests/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["tests/integration/**/*.test.ts"],
          setupFiles: ["tests/support/websocket-global.ts"],
          testTimeout: 30_000,
          hookTimeout: 30_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "faults",
          include: ["tests/faults/**/*.test.ts"],
          // The soak measures the heap after a full collection.
          execArgv: ["--expose-gc"],
          setupFiles: ["tests/support/websocket-global.ts"],
          testTimeout: 30 * 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: "fuzz",
          include: ["tests/fuzz/**/*.test.ts"],
          environment: "node",
          testTimeout: 300_000,
          // The total-count test reads what the earlier tests in its file counted.
          sequence: { concurrent: false },
        },
      },
      {
        test: {
          name: "e2e",
          include: ["tests/e2e/**/*.test.ts"],
          setupFiles: ["tests/support/websocket-global.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
