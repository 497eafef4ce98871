// Split from core-session-logic.test.ts (one test file per module), assertions unchanged.
import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/core/backoff.js";

describe("backoffDelay", () => {
  it.each([
    // attempt, random, expected
    [1, 0, 500],
    [1, 1, 1_000],
    [2, 0.5, 1_500],
    [3, 0, 2_000],
    [6, 1, 32_000],
    [7, 0, 30_000], // ceiling 60 s (capped), lower half bound
    [7, 1, 60_000],
    [50, 1, 60_000], // never above the cap, no overflow
  ])("attempt %i with random %f waits %i ms", (attempt, random, expected) => {
    expect(backoffDelay(attempt, () => random)).toBe(expected);
  });
  it("clamps a random source outside [0,1]", () => {
    expect(backoffDelay(1, () => 7)).toBe(1_000);
    expect(backoffDelay(1, () => -3)).toBe(500);
  });
  it("rejects a non-positive attempt", () => {
    expect(() => backoffDelay(0, () => 0)).toThrow(RangeError);
  });
});
