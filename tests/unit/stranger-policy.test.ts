// Limits on unsolicited mail (issue 12, "also build"): the pure policy (src/core/stranger-policy.ts) with an injected
// clock — per-JID hourly limit, daily total, size, bounded persisted state — and the gate that decides who is a
// stranger (src/xmpp/stranger-gate.ts): roster, address book, JIDs written to, confirmed mappings, Collected Addresses,
// and the block list.
import { describe, expect, it } from "vitest";
import { DEFAULT_STRANGER_LIMITS, STRANGER_PER_DAY_MAX, StrangerPolicy, type StrangerLimits } from "../../src/core/stranger-policy.js";
import { StrangerGate, SENT_TO_MAX } from "../../src/xmpp/stranger-gate.js";
import type { AdmitInfo } from "../../src/xmpp/receiver.js";

const HOUR = 3_600_000;
const MiB = 1024 * 1024;
const limits: StrangerLimits = { perHour: 3, perDay: 20, maxBytes: MiB };

function clock(start = Date.UTC(2026, 11, 3, 12)) {
  const c = { t: start, now: () => c.t };
  return c;
}

describe("StrangerPolicy", () => {
  it("documents its defaults: 3 per hour per JID, 20 a day in all, 1 MiB", () => {
    expect(DEFAULT_STRANGER_LIMITS).toEqual({ perHour: 3, perDay: 20, maxBytes: MiB });
  });

  it("admits 3 mails an hour from one stranger, refuses the 4th, and admits again once the first is an hour old", () => {
    const c = clock();
    const p = new StrangerPolicy(c.now);
    const results: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      results.push(p.admit({ fromJid: "mallory@evil.example", size: 100 }, limits).admit);
      c.t += 60_000;
    }
    expect(results).toEqual([true, true, true, false]);
    expect(p.admit({ fromJid: "mallory@evil.example", size: 100 }, limits)).toMatchObject({ admit: false, reason: "hourly" });
    // Another stranger is counted on its own.
    expect(p.admit({ fromJid: "eve@evil.example", size: 100 }, limits).admit).toBe(true);
    c.t = Date.UTC(2026, 11, 3, 13) + 1; // the first mail is now more than an hour old
    expect(p.admit({ fromJid: "mallory@evil.example", size: 100 }, limits).admit).toBe(true);
  });

  it("counts a JID case-insensitively", () => {
    const p = new StrangerPolicy(clock().now);
    for (const jid of ["M@evil.example", "m@EVIL.example", "m@evil.example"]) expect(p.admit({ fromJid: jid, size: 1 }, limits).admit).toBe(true);
    expect(p.admit({ fromJid: "M@Evil.Example", size: 1 }, limits).admit).toBe(false);
  });

  it("refuses the 21st stranger mail in 24 hours, whoever sends it, and admits again a day later", () => {
    const c = clock();
    const p = new StrangerPolicy(c.now);
    for (let i = 0; i < 20; i++) expect(p.admit({ fromJid: `s${i}@evil.example`, size: 1 }, limits).admit).toBe(true);
    expect(p.admit({ fromJid: "fresh@evil.example", size: 1 }, limits)).toMatchObject({ admit: false, reason: "daily" });
    c.t += 23 * HOUR;
    expect(p.admit({ fromJid: "fresh@evil.example", size: 1 }, limits).admit).toBe(false);
    c.t += HOUR;
    expect(p.admit({ fromJid: "fresh@evil.example", size: 1 }, limits).admit).toBe(true);
  });

  it("refuses a stranger's mail above the size limit, before counting anything; checkSize alone records nothing", () => {
    const p = new StrangerPolicy(clock().now);
    expect(p.checkSize(MiB, limits).admit).toBe(true);
    expect(p.checkSize(MiB + 1, limits)).toMatchObject({ admit: false, reason: "size" });
    expect(p.admit({ fromJid: "big@evil.example", size: 2 * MiB }, limits)).toMatchObject({ admit: false, reason: "size" });
    expect(p.countToday).toBe(0);
  });

  it("does not count refused mail: a flood of distinct JIDs leaves the state at the daily total", () => {
    const p = new StrangerPolicy(clock().now);
    for (let i = 0; i < 10_000; i++) p.admit({ fromJid: `flood${i}@evil.example`, size: 1 }, limits);
    expect(p.toJSON()).toHaveLength(20);
    expect(JSON.stringify(p).length).toBeLessThan(20 * 64);
  });

  it("keeps at most STRANGER_PER_DAY_MAX entries even with a larger daily setting or a tampered saved state", () => {
    const c = clock();
    const p = new StrangerPolicy(c.now);
    for (let i = 0; i < 5000; i++) p.admit({ fromJid: `j${i}@x.example`, size: 1 }, { ...limits, perDay: 1e9 });
    expect(p.toJSON()).toHaveLength(STRANGER_PER_DAY_MAX);
    const saved = Array.from({ length: 50_000 }, (_, i) => [`t${i}@x.example`, c.t - 1]);
    expect(new StrangerPolicy(c.now, saved).toJSON().length).toBeLessThanOrEqual(STRANGER_PER_DAY_MAX);
  });

  it("survives a restart through toJSON, and ignores a damaged state", () => {
    const c = clock();
    const p = new StrangerPolicy(c.now);
    for (let i = 0; i < 3; i++) p.admit({ fromJid: "m@evil.example", size: 1 }, limits);
    const restored = new StrangerPolicy(c.now, JSON.parse(JSON.stringify(p)));
    expect(restored.admit({ fromJid: "m@evil.example", size: 1 }, limits).admit).toBe(false);
    for (const junk of [null, "x", [["a"]], [[1, 2]], [["a@b", "soon"]], { a: 1 }]) {
      expect(new StrangerPolicy(c.now, junk).toJSON()).toEqual([]);
    }
  });

  it("forgets counts from the future (the clock was set back) instead of holding them until the clock catches up", () => {
    const c = clock();
    const p = new StrangerPolicy(c.now);
    for (let i = 0; i < 3; i++) p.admit({ fromJid: "m@evil.example", size: 1 }, limits);
    c.t -= 10 * 24 * HOUR;
    expect(p.admit({ fromJid: "m@evil.example", size: 1 }, limits).admit).toBe(true);
  });

  it("with perHour 0 admits no stranger at all", () => {
    const p = new StrangerPolicy(clock().now);
    expect(p.admit({ fromJid: "m@evil.example", size: 1 }, { ...limits, perHour: 0 }).admit).toBe(false);
  });
});

function memoryStore() {
  const data = new Map<string, unknown>();
  return { data, get: async (k: string) => structuredClone(data.get(k)), set: async (k: string, v: unknown) => void data.set(k, structuredClone(v)) };
}
const quiet = { error() {}, warn() {}, info() {}, debug() {} };

function mail(fromJid: string, sender: AdmitInfo["sender"] = { verified: true, how: "same-address", fromAddress: fromJid, known: false }, size = 100): AdmitInfo {
  return { fromJid, size, via: "live", sender };
}

describe("StrangerGate (who is a stranger)", () => {
  function gate(over: Partial<ConstructorParameters<typeof StrangerGate>[0]> = {}) {
    const c = clock();
    const store = memoryStore();
    const g = new StrangerGate({ store, log: quiet, limits: () => limits, now: c.now, ...over });
    return { g, store, c };
  }
  const fourth = async (g: StrangerGate, info: AdmitInfo) => {
    const out: boolean[] = [];
    for (let i = 0; i < 4; i++) out.push((await g.admit(info)).admit);
    return out;
  };

  it("limits a stranger: the 4th mail in an hour is refused", async () => {
    const { g } = gate();
    expect(await fourth(g, mail("m@evil.example"))).toEqual([true, true, true, false]);
  });

  it.each([
    ["in the roster", { inRoster: (j: string) => j === "friend@x.example" }, mail("friend@x.example")],
    ["an address-book contact's JID", { jidKnown: async (j: string) => j === "friend@x.example" }, mail("friend@x.example")],
    ["known to the sender check (address book)", {}, mail("friend@x.example", { verified: false, how: "mismatch", fromAddress: null, known: true })],
    ["a confirmed mapping", {}, mail("friend@x.example", { verified: true, how: "confirmed-mapping", fromAddress: "f@mail.example", known: false })],
    ["a verified address the user wrote to (Collected Addresses)", { addressKnown: async (a: string) => a === "friend@x.example" }, mail("friend@x.example")],
  ])("does not limit a sender %s", async (_label, deps, info) => {
    const { g } = gate(deps);
    expect(await fourth(g, info)).toEqual([true, true, true, true]);
  });

  it("does not take an unverified From as a relation (anyone can write a contact's address)", async () => {
    const { g } = gate({ addressKnown: async () => true });
    expect(await fourth(g, mail("m@evil.example", { verified: false, how: "mismatch", fromAddress: null, known: false }))).toEqual([true, true, true, false]);
  });

  it("does not limit a JID the user sent mail to, also after a restart; that record is bounded", async () => {
    const { g, store, c } = gate();
    await g.rememberSentTo("Pen@Pal.example");
    expect(await fourth(g, mail("pen@pal.example"))).toEqual([true, true, true, true]);
    const again = new StrangerGate({ store, log: quiet, limits: () => limits, now: c.now });
    expect(await fourth(again, mail("pen@pal.example"))).toEqual([true, true, true, true]);
    for (let i = 0; i < SENT_TO_MAX + 10; i++) await again.rememberSentTo(`p${i}@x.example`);
    expect((store.data.get("sentTo") as string[]).length).toBe(SENT_TO_MAX);
  });

  it("keeps its counters across a restart (the store)", async () => {
    const { g, store, c } = gate();
    expect(await fourth(g, mail("m@evil.example"))).toEqual([true, true, true, false]);
    const again = new StrangerGate({ store, log: quiet, limits: () => limits, now: c.now });
    expect((await again.admit(mail("m@evil.example"))).admit).toBe(false);
  });

  it("before the download refuses only a stranger's oversized mail and counts nothing", async () => {
    const { g, store } = gate({ inRoster: (j) => j === "friend@x.example" });
    expect((await g.admit({ fromJid: "m@evil.example", size: 2 * MiB, via: "live", sender: null })).admit).toBe(false);
    expect((await g.admit({ fromJid: "friend@x.example", size: 2 * MiB, via: "live", sender: null })).admit).toBe(true);
    for (let i = 0; i < 5; i++) expect((await g.admit({ fromJid: "m@evil.example", size: 100, via: "live", sender: null })).admit).toBe(true);
    expect(store.data.get("strangers")).toBeUndefined();
  });

  it("refuses a blocked JID in every phase and by every path, contact or not", async () => {
    const { g } = gate({ isBlocked: (j) => j === "m@evil.example", inRoster: () => true });
    for (const via of ["live", "carbon", "mam"] as const) {
      expect((await g.admit({ fromJid: "M@evil.example", size: 1, via, sender: null })).admit).toBe(false);
      expect((await g.admit({ ...mail("m@evil.example"), via })).admit).toBe(false);
    }
  });
});
