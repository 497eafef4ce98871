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
