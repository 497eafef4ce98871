import { describe, expect, it } from "vitest";
import { Outbox } from "../../src/core/outbox.js";
import type { Scheduler } from "../../src/core/scheduler.js";

/** A manual clock: timers fire only when the test advances time. */
function fakeScheduler() {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const scheduler: Scheduler = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = ++seq;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (id) => {
      timers.delete(id as number);
    },
  };
  const advance = async (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
    await Promise.resolve();
  };
  return { scheduler, advance, pendingTimers: () => timers.size };
}

const stanza = (id: string) => ({ id });

describe("Outbox", () => {
  it("resolves acked with the time from hand-over to ack", async () => {
    const { scheduler, advance, pendingTimers } = fakeScheduler();
    const box = new Outbox<{ id: string }>(scheduler);
    const s = stanza("a");
    const outcome = box.enqueue(s, 5_000);
    await advance(100);
    expect(box.drain()).toEqual([s]);
    box.written(s, true);
    await advance(20);
    expect(box.acked(s)).toBe(true);
    await expect(outcome).resolves.toEqual({ status: "acked", millis: 120 });
    expect(pendingTimers()).toBe(0);
    expect(box.size).toBe(0);
  });

  it("reports unconfirmed when the stream cannot acknowledge", async () => {
    const { scheduler } = fakeScheduler();
    const box = new Outbox<{ id: string }>(scheduler);
    const s = stanza("a");
    const outcome = box.enqueue(s, 5_000);
    box.drain();
    box.written(s, false);
    await expect(outcome).resolves.toMatchObject({ status: "unconfirmed" });
  });

  it("times out a stanza that never went out, saying it was not sent", async () => {
    const { scheduler, advance } = fakeScheduler();
    const box = new Outbox<{ id: string }>(scheduler);
    const outcome = box.enqueue(stanza("a"), 1_000);
    await advance(999);
    expect(box.size).toBe(1);
    await advance(1);
    await expect(outcome).resolves.toEqual({ status: "timeout", sent: false });
    expect(box.drain()).toEqual([]);
  });

  it("times out a written but unacknowledged stanza with sent=true and ignores a late ack", async () => {
    const { scheduler, advance } = fakeScheduler();
    const box = new Outbox<{ id: string }>(scheduler);
    const s = stanza("a");
    const outcome = box.enqueue(s, 1_000);
    box.drain();
    box.written(s, true);
    await advance(1_000);
    await expect(outcome).resolves.toEqual({ status: "timeout", sent: true });
    expect(box.acked(s)).toBe(false);
  });

  it("re-queues a stanza lost with its stream, keeping order, and it can still be acked later", async () => {
    const { scheduler } = fakeScheduler();
    const box = new Outbox<{ id: string }>(scheduler);
    const [a, b] = [stanza("a"), stanza("b")];
    const oa = box.enqueue(a, 5_000);
    box.enqueue(b, 5_000);
    box.drain();
    box.written(a, true);
    box.writeFailed(b);
    expect(box.lost(a)).toBe(true);
    expect(box.drain()).toEqual([b, a]);
    box.written(a, true);
    box.acked(a);
    await expect(oa).resolves.toMatchObject({ status: "acked" });
  });

  it("fails everything on failAll, exactly once each", async () => {
    const { scheduler, advance } = fakeScheduler();
    const box = new Outbox<{ id: string }>(scheduler);
    const [a, b, c] = [stanza("a"), stanza("b"), stanza("c")];
    const outcomes = [box.enqueue(a, 1_000), box.enqueue(b, 1_000), box.enqueue(c, 1_000)];
    box.drain();
    box.written(a, true);
    box.enqueue(stanza("d"), 1_000).catch(() => {});
    box.failAll("session stopped");
    await advance(5_000);
    for (const o of outcomes) await expect(o).resolves.toEqual({ status: "failed", reason: "session stopped" });
    expect(box.size).toBe(0);
  });

  it("rejects a bad deadline and a double hand-over", async () => {
    const { scheduler } = fakeScheduler();
    const box = new Outbox<{ id: string }>(scheduler);
    await expect(box.enqueue(stanza("x"), 0)).rejects.toThrow(RangeError);
    await expect(box.enqueue(stanza("x"), Number.NaN)).rejects.toThrow(RangeError);
    const s = stanza("y");
    void box.enqueue(s, 100);
    await expect(box.enqueue(s, 100)).rejects.toThrow(/already/);
  });
});
