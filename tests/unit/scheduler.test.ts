import { describe, expect, it } from "vitest";
import { DeadlineError, valueWithin, withAbortDeadline, withDeadline, type Scheduler } from "../../src/core/scheduler.js";

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
  const advance = (ms: number) => {
    now += ms;
    for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at <= now) {
        timers.delete(id);
        t.fn();
      }
    }
  };
  return { scheduler, advance, pendingTimers: () => timers.size };
}

const never = <T>() => new Promise<T>(() => undefined);

describe("withDeadline", () => {
  it("resolves with the value and clears its timer", async () => {
    const { scheduler, pendingTimers } = fakeScheduler();
    await expect(withDeadline(scheduler, Promise.resolve(7), 100, "x")).resolves.toBe(7);
    expect(pendingTimers()).toBe(0);
  });

  it("rejects with a DeadlineError carrying the message once the time passed", async () => {
    const { scheduler, advance } = fakeScheduler();
    const p = withDeadline(scheduler, never<number>(), 100, "lookup: deadline passed");
    advance(99);
    let settled = false;
    p.catch(() => undefined).finally(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    advance(1);
    await expect(p).rejects.toThrow(new DeadlineError("lookup: deadline passed"));
    await expect(p).rejects.toBeInstanceOf(DeadlineError);
  });

  it("passes a rejection through, wrapping a non-Error", async () => {
    const { scheduler, pendingTimers } = fakeScheduler();
    await expect(withDeadline(scheduler, Promise.reject(new TypeError("boom")), 100, "x")).rejects.toBeInstanceOf(TypeError);
    await expect(withDeadline(scheduler, Promise.reject("text"), 100, "x")).rejects.toThrow("text");
    expect(pendingTimers()).toBe(0);
  });

  it("treats a negative time as zero", async () => {
    const { scheduler, advance } = fakeScheduler();
    const p = withDeadline(scheduler, never(), -5, "late");
    advance(0);
    await expect(p).rejects.toBeInstanceOf(DeadlineError);
  });
});

describe("withAbortDeadline", () => {
  it("resolves with the work's value and aborts the signal afterwards", async () => {
    const { scheduler, pendingTimers } = fakeScheduler();
    let seen: AbortSignal | null = null;
    const value = await withAbortDeadline(scheduler, 100, "x", async (signal) => {
      seen = signal;
      expect(signal.aborted).toBe(false);
      return "done";
    });
    expect(value).toBe("done");
    expect(seen!.aborted).toBe(true);
    expect(pendingTimers()).toBe(0);
  });

  it("aborts the signal at the deadline and rejects with DeadlineError even when the work ignores it", async () => {
    const { scheduler, advance } = fakeScheduler();
    let seen: AbortSignal | null = null;
    const p = withAbortDeadline(scheduler, 50, "upload did not finish", (signal) => {
      seen = signal;
      return never();
    });
    advance(50);
    expect(seen!.aborted).toBe(true);
    await expect(p).rejects.toThrow(new DeadlineError("upload did not finish"));
  });

  it("reports the deadline, with the work's failure as cause, when the work fails on the abort", async () => {
    const { scheduler, advance } = fakeScheduler();
    const abortError = new Error("aborted");
    const p = withAbortDeadline(scheduler, 50, "probe timed out", (signal) => {
      return new Promise((_resolve, reject) => signal.addEventListener("abort", () => reject(abortError)));
    });
    advance(50);
    const error = await p.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineError);
    expect((error as Error).message).toBe("probe timed out");
    // Whichever settled first, the result is the deadline; the abort's failure is its cause or swallowed.
    expect([undefined, abortError]).toContain((error as Error).cause);
  });

  it("passes the work's own failure through before the deadline", async () => {
    const { scheduler, pendingTimers } = fakeScheduler();
    await expect(withAbortDeadline(scheduler, 50, "x", () => Promise.reject(new RangeError("bad")))).rejects.toBeInstanceOf(RangeError);
    expect(pendingTimers()).toBe(0);
  });
});

describe("valueWithin", () => {
  it("gives the value when it comes in time and clears its timer", async () => {
    const { scheduler, pendingTimers } = fakeScheduler();
    await expect(valueWithin(scheduler, Promise.resolve("read"), 100, () => "late")).resolves.toBe("read");
    expect(pendingTimers()).toBe(0);
  });

  it("gives the fallback, computed when the time passed, and does not reject", async () => {
    const { scheduler, advance } = fakeScheduler();
    let state = "checking";
    const p = valueWithin(scheduler, never<string>(), 100, () => state);
    state = "still checking";
    advance(100);
    await expect(p).resolves.toBe("still checking");
  });

  it("passes a rejection before the time through", async () => {
    const { scheduler } = fakeScheduler();
    await expect(valueWithin(scheduler, Promise.reject(new Error("no")), 100, () => "late")).rejects.toThrow("no");
  });
});
