import { describe, expect, it } from "vitest";
import { CapabilityCache } from "../../src/core/capability-cache.js";

describe("CapabilityCache", () => {
  it("keeps positive answers longer than negative ones, case-insensitively", () => {
    let now = 0;
    const cache = new CapabilityCache(() => now, { positiveMs: 1_000, negativeMs: 100 });
    cache.set("Bob@Example.org", true);
    cache.set("carol@example.org", false);
    expect(cache.get("bob@example.org")).toBe(true);
    expect(cache.get("carol@example.org")).toBe(false);
    now = 100;
    expect(cache.get("carol@example.org")).toBeUndefined();
    expect(cache.get("bob@example.org")).toBe(true);
    now = 1_000;
    expect(cache.get("bob@example.org")).toBeUndefined();
  });
  it("keeps the devices of a positive answer (none for a negative one), its age, and both across a restart", () => {
    let now = 1_000;
    const device = { id: "a".repeat(32), agree: "B".repeat(88), sign: "C".repeat(88) };
    const cache = new CapabilityCache(() => now, { positiveMs: 10_000, negativeMs: 100 });
    cache.set("bob@x", true, [device]);
    cache.set("carol@x", false, [device]);
    cache.set("dave@x", true);
    expect(cache.devices("bob@x")).toEqual([device]);
    expect(cache.devices("carol@x")).toBeNull();
    expect(cache.devices("dave@x")).toEqual([]);
    expect(cache.devices("nobody@x")).toBeNull();
    now = 3_500;
    expect(cache.ageMs("bob@x")).toBe(2_500);
    const restored = new CapabilityCache(() => now, undefined, undefined, JSON.parse(JSON.stringify(cache.toJSON())));
    expect(restored.devices("bob@x")).toEqual([device]);
    expect(restored.ageMs("bob@x")).toBe(2_500);
    // More than 16 devices, or a device that is not three strings: the entry is dropped (asked again).
    const bad = new CapabilityCache(() => now, undefined, undefined, [
      { jid: "x@x", capable: true, expires: now + 1_000, devices: Array(17).fill(device) },
      { jid: "y@x", capable: true, expires: now + 1_000, devices: [{ id: 1, agree: "a", sign: "b" }] },
    ]);
    expect(bad.get("x@x")).toBeUndefined();
    expect(bad.get("y@x")).toBeUndefined();
  });
  it("stays bounded, dropping the oldest", () => {
    const cache = new CapabilityCache(() => 0, { positiveMs: 10, negativeMs: 10 }, 2);
    cache.set("a@x", true);
    cache.set("b@x", true);
    cache.set("c@x", true);
    expect(cache.get("a@x")).toBeUndefined();
    expect(cache.get("c@x")).toBe(true);
  });
  it("survives a restart through toJSON, ignoring expired and malformed entries", () => {
    let now = 0;
    const a = new CapabilityCache(() => now, { positiveMs: 50, negativeMs: 10 });
    a.set("a@x", true);
    a.set("b@x", false);
    now = 20;
    const b = new CapabilityCache(() => now, undefined, 10, [...a.toJSON(), { jid: 7 }, null, "junk"]);
    expect(b.get("a@x")).toBe(true);
    expect(b.get("b@x")).toBeUndefined();
    expect(b.toJSON()).toHaveLength(1);
  });
});
