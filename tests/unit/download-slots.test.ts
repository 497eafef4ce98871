// The receiver's download slots (issue 12 finding 5): bounded overall and per sender, fair across senders, a small
// queue per sender, refusals once full (but never for a MAM catch-up).
import { describe, expect, it } from "vitest";
import { DownloadSlots, SlotsFullError } from "../../src/core/download-slots.js";

interface Gate {
  readonly promise: Promise<string>;
  open(value?: string): void;
  fail(error: Error): void;
}
function gate(): Gate {
  let open!: (v: string) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<string>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open: (v = "ok") => open(v), fail };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("DownloadSlots", () => {
  it("runs at most `perSender` of one sender at once and lets another sender through meanwhile", async () => {
    const slots = new DownloadSlots({ total: 4, perSender: 2, waitingPerSender: 8, waitingTotal: 64 });
    const started: string[] = [];
    const gates = new Map<string, Gate>();
    const job = (name: string) => () => {
      started.push(name);
      const g = gate();
      gates.set(name, g);
      return g.promise;
    };
    const m = [1, 2, 3, 4, 5].map((i) => slots.run("mallory@evil.example", job(`m${i}`)));
    const b = slots.run("bob@example.org", job("b1"));
    await tick();
    expect(started).toEqual(["m1", "m2", "b1"]);
    expect(slots.running).toBe(3);
    expect(slots.waiting).toBe(3);
    gates.get("b1")!.open("bob's mail");
    await expect(b).resolves.toBe("bob's mail");
    gates.get("m1")!.fail(new Error("timeout"));
    await expect(m[0]).rejects.toThrow("timeout");
    await tick();
    expect(started).toEqual(["m1", "m2", "b1", "m3"]);
    for (const name of ["m2", "m3"]) gates.get(name)!.open();
    await tick();
    await tick();
    expect(started).toEqual(["m1", "m2", "b1", "m3", "m4", "m5"]);
    for (const name of ["m4", "m5"]) gates.get(name)!.open();
    await Promise.all(m.slice(1));
    expect(slots.running).toBe(0);
    expect(slots.waiting).toBe(0);
  });

  it("bounds the total and serves waiting senders in turn", async () => {
    const slots = new DownloadSlots({ total: 2, perSender: 2, waitingPerSender: 8, waitingTotal: 64 });
    const started: string[] = [];
    const gates: Gate[] = [];
    const job = (name: string) => () => {
      started.push(name);
      const g = gate();
      gates.push(g);
      return g.promise;
    };
    const all = [
      slots.run("a", job("a1")),
      slots.run("a", job("a2")),
      slots.run("a", job("a3")),
      slots.run("a", job("a4")),
      slots.run("b", job("b1")),
      slots.run("c", job("c1")),
    ];
    await tick();
    expect(started).toEqual(["a1", "a2"]);
    gates[0]!.open();
    await tick();
    gates[1]!.open();
    await tick();
    // a waited first, then b and c got their turn before a's third.
    expect(started).toEqual(["a1", "a2", "a3", "b1"]);
    gates[2]!.open();
    await tick();
    expect(started.at(-1)).toBe("c1");
    for (const g of gates.slice(3)) g.open();
    await tick();
    for (const g of gates.slice(3)) g.open();
    await Promise.all(all);
    expect(started.sort()).toEqual(["a1", "a2", "a3", "a4", "b1", "c1"]);
  });

  it("refuses past the queue of one sender and past the total queue, at once and without running the work", async () => {
    const slots = new DownloadSlots({ total: 4, perSender: 1, waitingPerSender: 2, waitingTotal: 3 });
    const hang = () => new Promise<string>(() => {});
    let ran = 0;
    const counted = () => {
      ran += 1;
      return hang();
    };
    void slots.run("m", counted);
    void slots.run("m", counted);
    void slots.run("m", counted);
    await expect(slots.run("m", counted)).rejects.toBeInstanceOf(SlotsFullError);
    void slots.run("n", counted); // n runs at once (a free slot): not waiting
    void slots.run("n", counted); // waits: 3 waiting in all
    await expect(slots.run("o", async () => "x")).resolves.toBe("x"); // o has a free slot and nobody of o waits
    await expect(slots.run("n", counted)).rejects.toBeInstanceOf(SlotsFullError);
    expect(ran).toBe(2);
  });

  it("lets a MAM catch-up wait past the queue limits instead of refusing", async () => {
    const slots = new DownloadSlots({ total: 1, perSender: 1, waitingPerSender: 0, waitingTotal: 0 });
    const first = gate();
    const running = slots.run("m", () => first.promise);
    await expect(slots.run("m", async () => "refused")).rejects.toBeInstanceOf(SlotsFullError);
    const waiting = slots.run("m", async () => "caught up", true);
    first.open();
    await running;
    await expect(waiting).resolves.toBe("caught up");
  });

  it("survives work that throws synchronously", async () => {
    const slots = new DownloadSlots();
    await expect(
      slots.run("a", () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(slots.running).toBe(0);
    await expect(slots.run("a", async () => 1)).resolves.toBe(1);
  });
});
