// How much inline mail the sender may push through its c2s stream without the server's rate limit holding it up.
//
// Servers as shipped shape what a client sends: Debian's Prosody enables mod_limits (c2s 10 kB/s, 2 s burst ≈ 20 KiB)
// and ejabberd its `normal` shaper (3,000 B/s, burst 20,000 B). A stanza beyond the burst waits for the bucket to
// refill, and so does everything behind it on the same stream (receipts, pings). Measured with the limits in force
// (tests/integration/shipped-limits.test.ts): a 4 KB inline mail once the burst was spent took 0.6–1 s, a 10 KB mail
// through the upload service (HTTP, not shaped) ~0.1–0.13 s. So the sender keeps its own token bucket, modelled on the
// stricter of the two shipped limits, a little under it, and sends inline only what fits; the rest goes by upload.
// Pure: the caller passes the time.

export interface InlineBudgetPolicy {
  readonly bytesPerSecond: number;
  readonly burstBytes: number;
}

/** ejabberd's shipped `normal` shaper (3,000 B/s, burst 20,000), with a margin for the rest of the stream. */
export const SHIPPED_LIMIT_BUDGET: InlineBudgetPolicy = { bytesPerSecond: 3_000, burstBytes: 16_000 };

export class InlineBudget {
  #tokens: number;
  #at: number;

  constructor(
    readonly policy: InlineBudgetPolicy,
    now: number,
  ) {
    if (!(policy.bytesPerSecond > 0 && policy.burstBytes > 0)) throw new Error("InlineBudget: rate and burst must be positive");
    this.#tokens = policy.burstBytes;
    this.#at = now;
  }

  #refill(now: number): void {
    if (now > this.#at) this.#tokens = Math.min(this.policy.burstBytes, this.#tokens + ((now - this.#at) * this.policy.bytesPerSecond) / 1000);
    this.#at = Math.max(this.#at, now);
  }

  /** Would `bytes` go out now without waiting on the server's shaper? */
  fits(bytes: number, now: number): boolean {
    this.#refill(now);
    return bytes <= this.#tokens;
  }

  /** Counts `bytes` sent now (also when they did not fit: the bucket then owes). */
  spend(bytes: number, now: number): void {
    this.#refill(now);
    this.#tokens -= bytes;
  }
}
