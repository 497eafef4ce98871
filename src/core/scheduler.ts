// Time, injected: the clock and timers every module with a deadline takes as a parameter (src/xmpp/runtime.ts has the
// real one, tests a fake), and the deadline helpers built on them.

/** A monotonic clock in milliseconds and one-shot timers. */
export interface Scheduler {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The deadline of withDeadline/withAbortDeadline passed first. */
export class DeadlineError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DeadlineError";
  }
}

/**
 * Settles as `promise` does, or rejects with a DeadlineError(`message`) after `ms` (negative counts as 0), whichever
 * comes first; the timer is cleared either way. A rejection that is not an Error is wrapped in one.
 */
export function withDeadline<T>(scheduler: Scheduler, promise: Promise<T>, ms: number, message: string): Promise<T> {
  return raceTimer<T, never>(
    scheduler,
    promise,
    ms,
    (_resolve, reject) => reject(new DeadlineError(message)),
    (error) => (error instanceof Error ? error : new Error(String(error))),
  );
}

/**
 * Waits for `promise` at most `ms` (negative counts as 0): its value, or `fallback()` once the time passed; a rejection
 * before then passes through. The timer is cleared either way. For "wait a little for X, else go on without it".
 */
export function valueWithin<T, F>(scheduler: Scheduler, promise: Promise<T>, ms: number, fallback: () => F): Promise<T | F> {
  return raceTimer<T, F>(scheduler, promise, ms, (resolve) => resolve(fallback()), (error) => error);
}

/** `promise` against a timer: `onTime` settles the result when the timer fires first; `onError` maps a rejection. */
function raceTimer<T, F>(
  scheduler: Scheduler,
  promise: Promise<T>,
  ms: number,
  onTime: (resolve: (value: F) => void, reject: (error: unknown) => void) => void,
  onError: (error: unknown) => unknown,
): Promise<T | F> {
  return new Promise<T | F>((resolve, reject) => {
    const timer = scheduler.setTimeout(() => onTime(resolve, reject), Math.max(0, ms));
    promise.then(
      (value) => {
        scheduler.clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        scheduler.clearTimeout(timer);
        reject(onError(error));
      },
    );
  });
}

/**
 * Runs `work` with an AbortSignal that fires after `ms`. Resolves or rejects as `work` does before then; once the
 * deadline has passed it rejects with a DeadlineError(`message`) even if `work` ignores the signal, and a later
 * failure of `work` (its AbortError) is swallowed. The signal is aborted when this settles, releasing whatever `work`
 * left open (an unread body).
 */
export async function withAbortDeadline<T>(scheduler: Scheduler, ms: number, message: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timedOut = false;
  let timer: unknown;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = scheduler.setTimeout(() => {
      timedOut = true;
      controller.abort();
      reject(new DeadlineError(message));
    }, Math.max(0, ms));
  });
  const running = work(controller.signal);
  running.catch(() => undefined); // after a timeout its late rejection (AbortError) is expected and not news
  try {
    return await Promise.race([running, deadline]);
  } catch (error) {
    if (timedOut && !(error instanceof DeadlineError)) throw new DeadlineError(message, { cause: error });
    throw error;
  } finally {
    scheduler.clearTimeout(timer);
    controller.abort();
  }
}
