// The outbox: callers hand over stanzas at any time (also while offline); each gets a deadline and exactly one outcome.
// Generic over the stanza type and driven by the session, so it is pure and unit-testable with a fake clock.

import type { Scheduler } from "./scheduler.js";

/** What became of one stanza handed to the session (server ack, not delivery: that is the Send log's DeliveryRecord). */
export type StanzaOutcome =
  /** The server confirmed it took the stanza (XEP-0198 ack). */
  | { readonly status: "acked"; readonly millis: number }
  /** Written to the stream, but the server offers no stream management: nobody confirmed it. */
  | { readonly status: "unconfirmed"; readonly millis: number }
  /** It could not be sent, and will not be (session stopped, too large, ...). */
  | { readonly status: "failed"; readonly reason: string }
  /** The deadline passed first. `sent` tells whether it was written at least once (it may still arrive). */
  | { readonly status: "timeout"; readonly sent: boolean };

interface Entry<T> {
  readonly item: T;
  readonly queuedAt: number;
  readonly timer: unknown;
  readonly resolve: (outcome: StanzaOutcome) => void;
  sent: boolean;
}

export class Outbox<T extends object> {
  readonly #scheduler: Scheduler;
  readonly #pending: Entry<T>[] = [];
  /** Handed to the session by drain(), not yet reported written. */
  readonly #writing: Entry<T>[] = [];
  readonly #inFlight = new Map<T, Entry<T>>();

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  /** Number of stanzas waiting to be written or to be acknowledged. */
  get size(): number {
    return this.#pending.length + this.#inFlight.size;
  }

  get pendingCount(): number {
    return this.#pending.length;
  }

  enqueue(item: T, deadlineMs: number): Promise<StanzaOutcome> {
    if (!(deadlineMs > 0) || !Number.isFinite(deadlineMs)) {
      return Promise.reject(new RangeError(`deadline must be a positive number of ms, got ${deadlineMs}`));
    }
    if (this.#inFlight.has(item) || this.#pending.some((e) => e.item === item)) {
      return Promise.reject(new Error("this stanza is already in the outbox"));
    }
    return new Promise<StanzaOutcome>((resolve) => {
      const entry: Entry<T> = {
        item,
        queuedAt: this.#scheduler.now(),
        sent: false,
        resolve,
        timer: this.#scheduler.setTimeout(() => this.#expire(entry), deadlineMs),
      };
      this.#pending.push(entry);
    });
  }

  /** Hands the session everything waiting to be written, oldest first, and forgets them as pending. */
  drain(): T[] {
    const items = this.#pending.map((e) => e.item);
    this.#writing.push(...this.#pending.splice(0));
    return items;
  }

  /** The session wrote `item`. `tracked`: the server will acknowledge it (stream management on). */
  written(item: T, tracked: boolean): void {
    const entry = this.#take(this.#writing, item);
    if (!entry) return;
    entry.sent = true;
    if (tracked) {
      this.#inFlight.set(item, entry);
    } else {
      this.#settle(entry, { status: "unconfirmed", millis: this.#scheduler.now() - entry.queuedAt });
    }
  }

  /** Writing failed (socket closed under us): it goes back to the front of the queue. */
  writeFailed(item: T): void {
    const entry = this.#take(this.#writing, item);
    if (entry) this.#pending.unshift(entry);
  }

  /** The server acknowledged `item`. Unknown items (presence, iq, expired ones) are ignored. */
  acked(item: T): boolean {
    const entry = this.#inFlight.get(item);
    if (!entry) return false;
    this.#inFlight.delete(item);
    this.#settle(entry, { status: "acked", millis: this.#scheduler.now() - entry.queuedAt });
    return true;
  }

  /**
   * The stream that carried `item` died and could not be resumed: we cannot know whether the server got it.
   * It is sent again on the next stream (at least once; receivers de-duplicate).
   */
  lost(item: T): boolean {
    const entry = this.#inFlight.get(item);
    if (!entry) return false;
    this.#inFlight.delete(item);
    this.#pending.push(entry);
    return true;
  }

  /** Everything still waiting, in flight or not, fails with `reason` (e.g. the session was stopped). */
  failAll(reason: string): void {
    const all = [...this.#writing.splice(0), ...this.#pending.splice(0), ...this.#inFlight.values()];
    this.#inFlight.clear();
    for (const entry of all) this.#settle(entry, { status: "failed", reason });
  }

  #expire(entry: Entry<T>): void {
    const removed =
      this.#take(this.#pending, entry.item) ??
      this.#take(this.#writing, entry.item) ??
      (this.#inFlight.delete(entry.item) ? entry : undefined);
    if (removed) entry.resolve({ status: "timeout", sent: entry.sent });
  }

  #settle(entry: Entry<T>, outcome: StanzaOutcome): void {
    this.#scheduler.clearTimeout(entry.timer);
    entry.resolve(outcome);
  }

  #take(list: Entry<T>[], item: T): Entry<T> | undefined {
    const index = list.findIndex((e) => e.item === item);
    return index === -1 ? undefined : list.splice(index, 1)[0];
  }
}
