// The session's life (src/background/session-lifecycle.ts) on the paths that need no server: what is published when
// there is nothing to connect, when discovery finds nothing (and the retry), and when a reconfigure changes nothing.
// The connecting path runs against real servers in tests/integration/background.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger, type LogLevel } from "../../src/core/log.js";
import { DEFAULT_SETTINGS, type Settings } from "../../src/core/settings.js";
import type { SessionStatus } from "../../src/core/status.js";
import { createLive, createSessionLifecycle, storedResource, type SessionLifecycleDeps } from "../../src/background/session-lifecycle.js";
import { createWebsocketEndpoint } from "../../src/background/websocket-endpoint.js";
import type { FindResult } from "../../src/xmpp/endpoint-probe.js";

function setup(initial: Partial<Settings>) {
  let settings: Settings = { ...DEFAULT_SETTINGS, ...initial };
  const published: SessionStatus[] = [];
  const levels: LogLevel[] = [];
  const warnings: string[] = [];
  const find = vi.fn(async (): Promise<FindResult> => ({ error: "nothing", noWebsocket: true, tried: [] }));
  const live = createLive();
  const lifecycle = createSessionLifecycle({
    log: { ...silentLogger, warn: (event: string) => void warnings.push(event) },
    setLogLevel: (level: LogLevel) => void levels.push(level),
    live,
    publish: (s: SessionStatus) => void published.push(s),
    settingsStore: {
      load: async () => ({ settings, locked: new Set(), policyErrors: [{ key: "bogus", error: "unknown-key" }] }),
      save: async () => ({ ok: false, errors: [] }),
      onChange: () => () => {},
    },
    endpoint: createWebsocketEndpoint(silentLogger, find),
    resource: async () => "thunderbird-00000000",
  } as unknown as SessionLifecycleDeps);
  return { published, levels, warnings, find, live, lifecycle, change: (next: Partial<Settings>) => void (settings = { ...settings, ...next }) };
}

describe("createSessionLifecycle", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("publishes 'not configured' without a JID and 'switched off' when disabled; applies log level and settings", async () => {
    const { published, levels, warnings, live, lifecycle, change } = setup({ logLevel: "debug" });
    await lifecycle.reconfigure();
    expect(published).toEqual([{ state: "disconnected", reason: "not configured" }]);
    expect(levels).toEqual(["debug"]);
    expect(warnings).toEqual(["policy-value-rejected"]);
    expect(live.settings.logLevel).toBe("debug");
    change({ enabled: false, jid: "alice@example.org" });
    await lifecycle.reconfigure();
    expect(published.at(-1)).toEqual({ state: "disconnected", reason: "switched off" });
  });

  it("when discovery finds nothing: says so, looks again after 15–30 s, then 30–60 s, and at once after a settings change", async () => {
    // The random half at its top: each retry comes at the end of its range (at 30 s, then 60 s after it), so the
    // checks below hold for every draw (with a low draw the second retry came before t = 60 s).
    vi.spyOn(Math, "random").mockReturnValue(0.999);
    const { published, find, lifecycle, change } = setup({ jid: "alice@example.org/laptop" });
    await lifecycle.reconfigure();
    expect(find).toHaveBeenCalledTimes(1);
    expect(published.at(-1)).toMatchObject({ state: "error", code: "no-websocket", retryAt: expect.any(Number), reason: expect.stringMatching(/offers no XMPP WebSocket.*; looking again in 1 min$/) });
    // 15–30 s (half fixed, half random), then 30–60 s.
    await vi.advanceTimersByTimeAsync(14_900);
    expect(find).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(15_200);
    expect(find).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(29_900);
    expect(find).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(30_200);
    expect(find).toHaveBeenCalledTimes(3);
    // A settings change (settingsStore.onChange → reconfigure) looks at once, and the pending retry is dropped.
    change({ jid: "alice@example.net" });
    await lifecycle.reconfigure();
    expect(find).toHaveBeenCalledTimes(4);
    expect(find).toHaveBeenLastCalledWith("example.net");
  });

  it("does not restart when nothing that matters changed; a new password restarts", async () => {
    const { published, lifecycle, change } = setup({ enabled: false, jid: "alice@example.org" });
    await lifecycle.reconfigure();
    change({ routePolicy: "split" });
    await lifecycle.reconfigure();
    expect(published).toHaveLength(1);
    lifecycle.passwordChanged();
    await lifecycle.reconfigure();
    expect(published).toHaveLength(2);
  });

  it("serializes reconfigures and turns a failure into an error status", async () => {
    const { published, lifecycle } = setup({});
    const failing = createSessionLifecycle({
      log: silentLogger,
      setLogLevel: () => {},
      live: createLive(),
      publish: (s: SessionStatus) => void published.push(s),
      settingsStore: { load: async () => Promise.reject(new Error("storage broken")) },
    } as unknown as SessionLifecycleDeps);
    await failing.reconfigure();
    expect(published.at(-1)).toEqual({ state: "error", reason: "storage broken" });
    await lifecycle.reconfigure();
    expect(published.at(-1)).toEqual({ state: "disconnected", reason: "not configured" });
  });
});

describe("storedResource", () => {
  it("keeps a stored resource of the add-on's form and replaces anything else with a new one", async () => {
    const area = { data: {} as Record<string, unknown>, get: async () => ({ ...area.data }), set: async (items: Record<string, unknown>) => void Object.assign(area.data, items) };
    const fresh = await storedResource(area as never);
    expect(fresh).toMatch(/^thunderbird-[0-9a-f]{8}$/);
    expect(await storedResource(area as never)).toBe(fresh);
    area.data.resource = "laptop";
    const replaced = await storedResource(area as never);
    expect(replaced).toMatch(/^thunderbird-[0-9a-f]{8}$/);
    expect(area.data.resource).toBe(replaced);
  });
});
