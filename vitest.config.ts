import { defineConfig } from "vitest/config";

// Three rungs of the test ladder, each runnable alone:
//   unit         pure logic with fakes of the host (fast, no servers)
//   integration  a real Prosody started by the suite on a free loopback port
//   e2e          a real Thunderbird (headless) with the built XPI, Prosody and an SMTP server
export default defineConfig({
  test: {
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
