// The capability cache kept across restarts (src/platform/capability-store.ts): loaded once, answers learned before
// the load finished win, and saves are batched (one write per second at most, with everything known then).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { createCapabilityStore } from "../../src/platform/capability-store.js";

function fakeStore(saved: unknown) {
  let release: (value: unknown) => void = () => {};
  const loaded = new Promise((resolve) => (release = resolve));
  const writes: unknown[] = [];
  return {
    writes,
    release: () => release(saved),
    store: {
      get: vi.fn(async (key: string) => (key === "capabilities" ? loaded : undefined)),
      set: vi.fn(async (_key: string, value: unknown) => void writes.push(value)),
    },
  };
}

describe("createCapabilityStore", () => {
  const now = 1_000_000;
  beforeEach(() => void vi.useFakeTimers({ now }));
  afterEach(() => void vi.useRealTimers());

  it("loads the stored answers once; answers learned before the load finished win over them", async () => {
    const { store, release } = fakeStore([
      { jid: "bob@example.org", capable: true, expires: now + 60_000, devices: [{ id: "a".repeat(32), agree: "x", sign: "y" }] },
      { jid: "carol@example.org", capable: true, expires: now + 60_000, devices: [] },
      { jid: "old@example.org", capable: true, expires: now - 1, devices: [] },
      // Saved before version 1 (no device list): asked again, so that a peer's keys are learned.
      { jid: "dave@example.org", capable: true, expires: now + 60_000 },
    ]);
    const caps = createCapabilityStore(store, silentLogger, 1_000, () => Date.now());
    expect(caps.get("bob@example.org")).toBeUndefined();
    caps.set("carol@example.org", false);
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(caps.get("bob@example.org")).toBe(true);
    expect(caps.get("carol@example.org")).toBe(false);
    expect(caps.get("old@example.org")).toBeUndefined();
    expect(caps.get("dave@example.org")).toBeUndefined();
    expect(caps.devices("bob@example.org")).toEqual([{ id: "a".repeat(32), agree: "x", sign: "y" }]);
    expect(caps.devices("carol@example.org")).toBeNull();
    expect(store.get).toHaveBeenCalledTimes(1);
  });

  it("writes at most once a second, with every answer known at that time", async () => {
    const { store, release, writes } = fakeStore(undefined);
    release();
    const caps = createCapabilityStore(store, silentLogger, 1_000, () => Date.now());
    await vi.advanceTimersByTimeAsync(0);
    caps.set("bob@example.org", true);
    caps.set("dave@example.org", false);
    await vi.advanceTimersByTimeAsync(999);
    expect(writes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(writes).toHaveLength(1);
    expect((writes[0] as Array<{ jid: string; capable: boolean }>).map(({ jid, capable }) => ({ jid, capable }))).toEqual([
      { jid: "bob@example.org", capable: true },
      { jid: "dave@example.org", capable: false },
    ]);
    caps.set("erin@example.org", true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(writes).toHaveLength(2);
    expect(store.set).toHaveBeenCalledWith("capabilities", expect.any(Array));
  });

  it("logs a failed save and keeps the answers", async () => {
    const { store, release } = fakeStore(undefined);
    release();
    store.set.mockRejectedValueOnce(new Error("quota"));
    const warn = vi.fn();
    const caps = createCapabilityStore(store, { ...silentLogger, warn }, 1_000, () => Date.now());
    caps.set("bob@example.org", true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(warn).toHaveBeenCalledWith("capability-cache-save-failed", expect.anything());
    expect(caps.get("bob@example.org")).toBe(true);
  });
});
