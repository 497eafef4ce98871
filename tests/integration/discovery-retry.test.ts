// The composition root when no WebSocket URL is set and none can be found (issue 13 point 4): the status says so
// plainly, and the add-on looks again later by itself (from Thunderbird a network that is down looks like a server
// without a WebSocket, so one failed search at start-up must not leave the account dead until a settings change).
import { afterAll, describe, expect, it, vi } from "vitest";
import type { SessionStatus } from "../../src/core/status.js";
import { createFakeHost, installFakeHost, type FakePort } from "../support/fake-messenger.js";

let uninstall: (() => void) | null = null;
const logged: string[] = [];

afterAll(() => {
  uninstall?.();
  vi.restoreAllMocks();
});

const statuses = (port: FakePort): SessionStatus[] => port.received.map((m) => (m as { status: SessionStatus }).status);

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("no WebSocket URL and none to be found", () => {
  it("says the server offers no XMPP WebSocket and looks again later by itself", async () => {
    vi.spyOn(console, "log").mockImplementation((line: string) => void logged.push(line));
    vi.spyOn(console, "warn").mockImplementation((line: string) => void logged.push(line));
    const host = createFakeHost();
    uninstall = installFakeHost(host);
    vi.resetModules();
    await import("../../src/background/main.js");
    const port = host.connectStatusPort();

    // .invalid never resolves (RFC 6761): host-meta and every candidate fail at once.
    const timers = vi.spyOn(globalThis, "setTimeout");
    expect(await host.request("saveAccount", { jid: "alice@nothing.invalid", password: "pw", websocketUrl: "" })).toEqual({ ok: true });
    await waitFor(() => statuses(port).some((s) => s.state === "error"), 15_000, "the error status");
    const error = statuses(port).find((s) => s.state === "error") as { reason: string };
    expect(error.reason).toMatch(/^this server offers no XMPP WebSocket, so Mail over XMPP cannot use this account .*; looking again in 1 min$/);
    const failures = () => logged.filter((l) => l.includes('"discovery-failed"')).length;
    expect(failures()).toBe(1);

    // The retry is armed (15–30 s: 30 s with equal jitter); run it now instead of waiting.
    const retry = timers.mock.calls.find(([, ms]) => typeof ms === "number" && ms >= 15_000 && ms <= 30_000);
    expect(retry).toBeDefined();
    (retry![0] as () => void)();
    await waitFor(() => failures() === 2, 15_000, "the second search");
    await waitFor(() => statuses(port).filter((s) => s.state === "error").length >= 2, 5_000, "the second error status");
    expect((statuses(port).at(-1) as { reason: string }).reason).toMatch(/looking again in 1 min$/); // 30–60 s now
  }, 40_000);
});
