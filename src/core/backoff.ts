// Reconnect delays: exponential growth with "equal jitter" (half fixed, half random), capped.
// Pure: the caller supplies the random source, so tables of tests can pin it.

export interface BackoffPolicy {
  /** Delay before the first retry, in ms. */
  readonly baseMs: number;
  /** Upper bound for any delay, in ms. */
  readonly capMs: number;
  /** Growth per failed attempt. */
  readonly factor: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 60_000, factor: 2 };

/**
 * Delay before retry number `attempt` (1 = first retry after a failure).
 * The result lies in [ceiling/2, ceiling], ceiling = min(cap, base * factor^(attempt-1)),
 * so retries spread out (no thundering herd after a server restart) but never come sooner than half the ceiling.
 */
export function backoffDelay(attempt: number, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  const exponent = Math.min(attempt - 1, 30);
  const ceiling = Math.min(policy.capMs, policy.baseMs * policy.factor ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(ceiling / 2 + (ceiling / 2) * r);
}
