import { describe, expect, it } from "vitest";
import { InlineBudget, SHIPPED_LIMIT_BUDGET } from "../../src/core/inline-budget.js";

describe("InlineBudget (a token bucket modelled on the servers' shipped c2s limits)", () => {
  it("starts full, empties as inline stanzas are sent, refills at the rate, never above the burst", () => {
    const b = new InlineBudget({ bytesPerSecond: 3_000, burstBytes: 16_000 }, 0);
    expect(b.fits(16_000, 0)).toBe(true);
    expect(b.fits(16_001, 0)).toBe(false);
    b.spend(12_000, 0);
    expect(b.fits(4_000, 0)).toBe(true);
    expect(b.fits(4_001, 0)).toBe(false);
    // 1 s later: 3,000 more.
    expect(b.fits(7_000, 1_000)).toBe(true);
    expect(b.fits(7_001, 1_000)).toBe(false);
    // A long pause refills to the burst and no further.
    expect(b.fits(16_000, 60_000)).toBe(true);
    expect(b.fits(16_001, 60_000)).toBe(false);
  });

  it("owes what was sent beyond it (a forced inline send), and pays it back over time", () => {
    const b = new InlineBudget(SHIPPED_LIMIT_BUDGET, 0);
    b.spend(40_000, 0); // 24,000 in debt
    expect(b.fits(1, 0)).toBe(false);
    expect(b.fits(1, 7_999)).toBe(false);
    expect(b.fits(1, 8_001)).toBe(true); // 24,000 / 3,000 B/s = 8 s
  });

  it("ignores a clock that goes backwards and refuses a nonsense policy", () => {
    const b = new InlineBudget({ bytesPerSecond: 1_000, burstBytes: 5_000 }, 10_000);
    b.spend(5_000, 10_000);
    expect(b.fits(1, 5_000)).toBe(false);
    expect(b.fits(1_000, 11_000)).toBe(true);
    expect(() => new InlineBudget({ bytesPerSecond: 0, burstBytes: 1 }, 0)).toThrow();
  });
});
