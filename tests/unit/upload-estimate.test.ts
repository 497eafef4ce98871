// The upload-time estimate that decides whether a large mail's upload can end within the Send hold, or goes by SMTP at
// once (src/core/upload-estimate.ts; docs/performance.md, "Slow links").
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.js";
import { AFTER_UPLOAD_MIN_MS, DEFAULT_UPLOAD_RATE_POLICY, UploadEstimator, type UploadRatePolicy } from "../../src/core/upload-estimate.js";
import { DEFAULT_SIZE_POLICY, MailSender } from "../../src/xmpp/mail-sender.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";

const MB = 1_000_000;
const policy: UploadRatePolicy = { ...DEFAULT_UPLOAD_RATE_POLICY, defaultBytesPerSecond: 500_000, overheadMs: 500, halfLifeMs: 60_000, sampleWeight: 0.5 };

describe("UploadEstimator", () => {
  it("assumes the conservative default before any upload", () => {
    const e = new UploadEstimator(policy);
    expect(e.rate(0)).toEqual({ bytesPerSecond: 500_000, learned: false });
    expect(e.estimateMs(1 * MB, 0)).toBeCloseTo(500 + 2_000);
  });

  it("the shipped default is slower than a 10 Mbit/s home uplink and judges a 10 MB mail too slow for the default 8 s hold", () => {
    const e = new UploadEstimator();
    expect(e.rate(0).bytesPerSecond).toBeLessThan(1_250_000);
    expect(UploadEstimator.fits(e.estimateMs(10 * MB, 0), 8_000)).toBe(false);
    expect(UploadEstimator.fits(e.estimateMs(25 * MB, 0), 20_000)).toBe(false);
    expect(UploadEstimator.fits(e.estimateMs(1 * MB, 0), 8_000)).toBe(true);
  });

  it("learns the rate from uploads: 10 MB in 8 s makes the next 10 MB estimate ~8 s", () => {
    const e = new UploadEstimator(policy);
    e.record(10 * MB, 8_000, 1_000);
    expect(e.rate(1_000)).toEqual({ bytesPerSecond: 1_250_000, learned: true });
    expect(e.estimateMs(10 * MB, 1_000)).toBeCloseTo(8_500);
    // A faster link learned: a mail the default judged too slow now fits.
    const fast = new UploadEstimator(policy);
    expect(UploadEstimator.fits(fast.estimateMs(3 * MB, 0), 8_000)).toBe(false);
    fast.record(5 * MB, 1_000, 0);
    expect(UploadEstimator.fits(fast.estimateMs(3 * MB, 0), 8_000)).toBe(true);
  });

  it("averages samples (in time per byte) rather than taking the last one", () => {
    const e = new UploadEstimator(policy);
    e.record(2 * MB, 1_000, 0); // 2 MB/s: 0.5 ms per kB
    e.record(2 * MB, 4_000, 0); // 0.5 MB/s: 2 ms per kB
    expect(e.rate(0).bytesPerSecond).toBeCloseTo(1_000 / 1.25 * 1_000, 0); // 1.25 ms per kB
  });

  it("ignores uploads too small to measure throughput, and nonsense", () => {
    const e = new UploadEstimator(policy);
    e.record(policy.minSampleBytes - 1, 1, 0);
    e.record(Number.NaN, 100, 0);
    e.record(MB, Number.POSITIVE_INFINITY, 0);
    e.record(MB, -5, 0);
    expect(e.rate(0).learned).toBe(false);
  });

  it("bounds a learned rate both ways", () => {
    const e = new UploadEstimator(policy);
    e.record(100 * MB, 0, 0);
    expect(e.rate(0).bytesPerSecond).toBeCloseTo(policy.maxBytesPerSecond);
    const slow = new UploadEstimator(policy);
    slow.record(MB, 1e12, 0);
    expect(slow.rate(0).bytesPerSecond).toBeCloseTo(policy.minBytesPerSecond);
    expect(Number.isFinite(slow.estimateMs(25 * MB, 0))).toBe(true);
  });

  it("a learned faster rate fades back to the default with age; a learned slower one stays", () => {
    const e = new UploadEstimator(policy);
    e.record(4 * MB, 1_000, 0); // 4 MB/s
    const fresh = e.rate(0).bytesPerSecond;
    const oneHalfLife = e.rate(policy.halfLifeMs).bytesPerSecond;
    const long = e.rate(100 * policy.halfLifeMs).bytesPerSecond;
    expect(fresh).toBeCloseTo(4 * MB);
    expect(oneHalfLife).toBeLessThan(fresh);
    expect(oneHalfLife).toBeGreaterThan(policy.defaultBytesPerSecond);
    expect(long).toBeCloseTo(policy.defaultBytesPerSecond, 0);
    const s = new UploadEstimator(policy);
    s.record(MB, 10_000, 0); // 100 kB/s, slower than the default
    expect(s.rate(100 * policy.halfLifeMs).bytesPerSecond).toBeCloseTo(100_000);
  });

  it("counts the bytes of uploads running at the same time (they share the uplink)", () => {
    const e = new UploadEstimator(policy);
    expect(e.estimateMs(MB, 0, 2 * MB)).toBeCloseTo(e.estimateMs(3 * MB, 0));
  });

  it("fits leaves time after the upload for delivery and the receipt", () => {
    expect(UploadEstimator.fits(1_000, 1_000)).toBe(false);
    expect(UploadEstimator.fits(1_000, 1_000 + AFTER_UPLOAD_MIN_MS)).toBe(true);
    expect(UploadEstimator.fits(10_000, 14_999)).toBe(false);
    expect(UploadEstimator.fits(10_000, 15_000)).toBe(true);
  });

  it("a small upload fits even a short hold (1–2 s): the estimate stops uploads whose transfer cannot fit, not all", () => {
    const e = new UploadEstimator();
    expect(UploadEstimator.fits(e.estimateMs(13_000, 0), 900)).toBe(true);
    expect(UploadEstimator.fits(e.estimateMs(100_000, 0), 1_900)).toBe(true);
    expect(UploadEstimator.fits(e.estimateMs(2 * MB, 0), 1_900)).toBe(false);
  });

  it("refuses a policy that would divide by zero", () => {
    expect(() => new UploadEstimator({ ...policy, defaultBytesPerSecond: 0 })).toThrow();
    expect(() => new UploadEstimator({ ...policy, sampleWeight: 0 })).toThrow();
  });
});

describe("MailSender.precheck (before the message is read)", () => {
  // precheck uses no session: only the size policy, the estimator and the clock.
  const sender = (estimator = new UploadEstimator()) =>
    new MailSender({ session: {} as unknown as XmppSession, log: createLogger(() => {}, () => "error"), scheduler: realScheduler, uploadEstimator: estimator });

  it("refuses a mail whose attachments alone make the upload too slow for what is left of the hold", () => {
    expect(sender().precheck(13_400_000, 7_900)).toMatch(/not deliverable over XMPP in time: upload of 13400\d+ bytes/);
  });

  it("leaves everything else to deliver(): mail that may go inline, and uploads that fit", () => {
    expect(sender().precheck(DEFAULT_SIZE_POLICY.inlineFallbackMaxBytes, 100)).toBeNull();
    expect(sender().precheck(1_400_000, 7_900)).toBeNull();
    const fast = new UploadEstimator();
    fast.record(10 * MB, 2_000, performance.now()); // 5 MB/s measured
    expect(sender(fast).precheck(13_400_000, 7_900)).toBeNull();
  });
});
