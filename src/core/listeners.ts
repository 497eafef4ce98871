// Telling listeners: every one is called, and one that throws is logged without stopping the others.
import type { Logger } from "./log.js";

/** Calls each listener with `value`; a listener that throws is logged as `event` (with the error) and skipped. */
export function notifyAll<T>(listeners: Iterable<(value: T) => void>, value: T, log: Logger, event: string): void {
  for (const listener of listeners) {
    try {
      listener(value);
    } catch (error) {
      log.error(event, { error });
    }
  }
}
