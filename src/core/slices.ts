// Long synchronous work (a 25 MiB mail's structure check, its base64 decode) written once as steps and run either to
// the end at once or in time slices with a macrotask between them, so that the background page — and, in
// Thunderbird, every other extension, which all share one process — keeps answering while a hostile mail is read.
// Host-free: setTimeout and performance.now exist in Node and in extension pages alike.

/** Work that runs in steps: a generator that now and then yields the work done so far (in units it chooses). */
export type Steps<T> = Generator<number, T, void>;

/** Runs all the steps at once. */
export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

export interface SliceOptions {
  /** Hand the thread back after this long (default 10 ms)… */
  readonly sliceMs?: number;
  /** …or after this much work (in the steps' own units), whichever comes first (default: no work limit). */
  readonly sliceWork?: number;
}

/** A macrotask, not a microtask: timers, I/O and other listeners (other extensions too) run in between. */
const macrotask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Runs the steps in slices of about `sliceMs` (plus the one step that crosses it), with a macrotask between slices.
 * Work that ends within its first slice finishes without any added wait.
 */
export async function runInSlices<T>(steps: Steps<T>, options: SliceOptions = {}): Promise<T> {
  const sliceMs = options.sliceMs ?? 10;
  const sliceWork = options.sliceWork ?? Infinity;
  let started = performance.now();
  let mark = 0;
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - started >= sliceMs || step.value - mark >= sliceWork) {
      await macrotask();
      started = performance.now();
      mark = step.value;
    }
  }
}
