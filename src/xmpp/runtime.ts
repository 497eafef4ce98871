// The real clock, timers, randomness and hashing, for the add-on and for integration tests (both have WebCrypto).
import type { Scheduler } from "../core/scheduler.js";

export const realScheduler: Scheduler = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
};

/** Wall-clock time in epoch ms: for times shown to the user (the Scheduler's clock is monotonic, not a date). */
export const wallClock = (): number => Date.now();

export async function webCryptoSha1(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-1", data as Uint8Array<ArrayBuffer>));
}

/** A resource name for this installation: stable across restarts (stored by the caller), unguessable. */
export function newResource(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(4));
  return `thunderbird-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
