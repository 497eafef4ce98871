// How long an upload of n bytes will take from here, learned from the sender's own past uploads, and whether it fits
// in what is left of the Send hold (docs/performance.md, "Slow links").
//
// On a home connection (~10 Mbit/s up) a 10 MB mail's upload takes ~8 s, as long as the default hold: started anyway,
// it times out at the deadline and the mail then goes by SMTP through the same slow uplink — the user waits twice.
// So the sender estimates first and leaves a mail whose upload cannot finish in time to SMTP at once.
//
// The model is pace (ms per byte) plus a fixed overhead. A rate is learned from each upload's bytes and time (only
// from uploads large enough to measure throughput rather than round trips; a timed-out upload counts too, as a bound),
// kept within fixed limits, averaged, and it fades back to the conservative default with age (the laptop moves from
// home to a café). A learned rate slower than the default does not fade: the slow link is the safe assumption.
// Pure: the caller passes the time.

export interface UploadRatePolicy {
  /** Assumed before anything is learned, and what a learned faster rate fades back to. Conservative. */
  readonly defaultBytesPerSecond: number;
  /** Bounds on any learned rate (a sample outside is clamped). */
  readonly minBytesPerSecond: number;
  readonly maxBytesPerSecond: number;
  /** Uploads smaller than this are not samples: their time is mostly round trips, not throughput. */
  readonly minSampleBytes: number;
  /** A learned rate counts half after this long without a new sample. */
  readonly halfLifeMs: number;
  /** Added to every estimate: slot request, connection set-up, the server's answer. */
  readonly overheadMs: number;
  /** Weight of a new sample in the running average (0 < w ≤ 1). */
  readonly sampleWeight: number;
}

/**
 * 6 Mbit/s until measured, below the ~10 Mbit/s of a typical home uplink; with the margins of `fits` a first upload
 * is tried within the default 8 s hold up to ~3.8 MB. An upload wrongly judged too slow only costs an SMTP send the
 * user would have had without the add-on; one wrongly judged fast costs one double wait, and its timeout teaches the
 * true rate at once.
 */
export const DEFAULT_UPLOAD_RATE_POLICY: UploadRatePolicy = {
  defaultBytesPerSecond: 750_000,
  minBytesPerSecond: 8_000,
  maxBytesPerSecond: 125_000_000,
  minSampleBytes: 128 * 1024,
  halfLifeMs: 30 * 60_000,
  overheadMs: 300,
  sampleWeight: 0.5,
};

/**
 * After the upload, the hold must still cover the stanza, the recipient's download and filing, and the receipt
 * ("filed" is the only proof; "accepted" also sends the SMTP copy). The download is not measured here; it is taken as
 * half the upload (downlinks are rarely slower than uplinks) and at least this much: the stanza's way, the recipient's
 * GET and import (~0.1–0.3 s in Thunderbird) and the receipt's way back, a few round trips of a home link. A larger floor
 * (1.5 s was tried) keeps every upload out of a short hold (1–2 s) however small the mail, which is not what the
 * estimate is for: it stops the uploads whose own transfer time cannot fit.
 */
export const AFTER_UPLOAD_MIN_MS = 500;
export const AFTER_UPLOAD_FACTOR = 0.5;

/** The time kept after an upload estimated at `estimateMs` for the recipient's download, filing and receipt. */
export function afterUploadMs(estimateMs: number): number {
  return Math.max(AFTER_UPLOAD_MIN_MS, estimateMs * AFTER_UPLOAD_FACTOR);
}

export class UploadEstimator {
  /** Learned pace in ms per byte, or null before the first sample. */
  #pace: number | null = null;
  #learnedAt = 0;

  constructor(readonly policy: UploadRatePolicy = DEFAULT_UPLOAD_RATE_POLICY) {
    const p = policy;
    if (!(p.defaultBytesPerSecond > 0 && p.minBytesPerSecond > 0 && p.maxBytesPerSecond >= p.minBytesPerSecond)) throw new Error("UploadEstimator: bad rate bounds");
    if (!(p.halfLifeMs > 0 && p.overheadMs >= 0 && p.sampleWeight > 0 && p.sampleWeight <= 1 && p.minSampleBytes >= 0)) throw new Error("UploadEstimator: bad policy");
  }

  /** Counts one upload of `bytes` that took `ms` (or timed out after `ms`: then the true rate was lower still). */
  record(bytes: number, ms: number, now: number): void {
    if (!(Number.isFinite(bytes) && Number.isFinite(ms)) || bytes < this.policy.minSampleBytes || bytes <= 0 || ms < 0) return;
    const rate = Math.min(this.policy.maxBytesPerSecond, Math.max(this.policy.minBytesPerSecond, (bytes * 1000) / Math.max(1, ms)));
    const pace = 1000 / rate;
    const current = this.#currentPace(now);
    this.#pace = this.#pace === null ? pace : current + this.policy.sampleWeight * (pace - current);
    this.#learnedAt = now;
  }

  /** The rate assumed now, bytes per second, and whether it comes from measurements. */
  rate(now: number): { bytesPerSecond: number; learned: boolean } {
    return { bytesPerSecond: 1000 / this.#currentPace(now), learned: this.#pace !== null };
  }

  /** Estimated ms to upload `bytes` now, with `sharing` more bytes going up at the same time over the same link. */
  estimateMs(bytes: number, now: number, sharing = 0): number {
    return this.policy.overheadMs + (Math.max(0, bytes) + Math.max(0, sharing)) * this.#currentPace(now);
  }

  /** Would an upload estimated at `estimateMs` leave time for delivery and the receipt within `leftMs`? */
  static fits(estimateMs: number, leftMs: number): boolean {
    return estimateMs + afterUploadMs(estimateMs) <= leftMs;
  }

  #currentPace(now: number): number {
    const fallback = 1000 / this.policy.defaultBytesPerSecond;
    if (this.#pace === null) return fallback;
    if (this.#pace >= fallback) return this.#pace; // slower than the default: stays
    const weight = Math.pow(0.5, Math.max(0, now - this.#learnedAt) / this.policy.halfLifeMs);
    return weight * this.#pace + (1 - weight) * fallback;
  }
}
