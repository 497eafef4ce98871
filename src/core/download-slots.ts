// Bounded, fair concurrency for the receiver's downloads (docs/protocol.md §6, docs/reliability.md): at most `total`
// at once, at most `perSender` at once for one sender JID, waiting ones served round-robin across senders. A sender
// whose stanzas point to a server that never answers occupies its own slots only, so mail from anyone else goes on.
// Past a small queue per sender (and overall) a download is refused at once: its sender falls back to SMTP.

export interface SlotLimits {
  /** Downloads running at once, all senders together. */
  readonly total: number;
  /** Downloads running at once for one sender. */
  readonly perSender: number;
  /** Downloads of one sender waiting for a slot; one more is refused. */
  readonly waitingPerSender: number;
  /** Downloads waiting, all senders together; one more is refused. */
  readonly waitingTotal: number;
}

export const DEFAULT_SLOT_LIMITS: SlotLimits = { total: 4, perSender: 2, waitingPerSender: 8, waitingTotal: 64 };

export class SlotsFullError extends Error {
  override readonly name = "SlotsFullError";
}

interface Waiting {
  readonly start: () => void;
}

export class DownloadSlots {
  readonly #limits: SlotLimits;
  readonly #running = new Map<string, number>();
  /** Per sender, in the order senders started waiting; a sender moves to the end when served (round-robin). */
  readonly #waiting = new Map<string, Waiting[]>();
  #runningTotal = 0;
  #waitingTotal = 0;

  constructor(limits: SlotLimits = DEFAULT_SLOT_LIMITS) {
    this.#limits = limits;
  }

  get running(): number {
    return this.#runningTotal;
  }

  get waiting(): number {
    return this.#waitingTotal;
  }

  /**
   * Runs `work` in a slot of `sender` once one is free. Rejects with SlotsFullError, without running it, when the
   * queues are full — unless `mayWait` (a MAM catch-up, which hands in one stanza at a time and must not skip mail).
   */
  run<T>(sender: string, work: () => Promise<T>, mayWait = false): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.#runningTotal += 1;
        this.#running.set(sender, (this.#running.get(sender) ?? 0) + 1);
        let done: Promise<T>;
        try {
          done = work();
        } catch (error) {
          done = Promise.reject(error instanceof Error ? error : new Error(String(error)));
        }
        done.then(resolve, reject).finally(() => this.#release(sender));
      };
      const queue = this.#waiting.get(sender) ?? [];
      // Whoever waits now is held by their own sender's limit (#pump starts everyone else): a free slot is ours.
      if (queue.length === 0 && this.#free(sender)) return start();
      if (!mayWait && (queue.length >= this.#limits.waitingPerSender || this.#waitingTotal >= this.#limits.waitingTotal)) {
        reject(new SlotsFullError(`${queue.length} downloads of ${sender} and ${this.#waitingTotal} in all are already waiting`));
        return;
      }
      queue.push({ start });
      this.#waiting.set(sender, queue);
      this.#waitingTotal += 1;
      this.#pump();
    });
  }

  #free(sender: string): boolean {
    return this.#runningTotal < this.#limits.total && (this.#running.get(sender) ?? 0) < this.#limits.perSender;
  }

  #release(sender: string): void {
    this.#runningTotal -= 1;
    const left = (this.#running.get(sender) ?? 1) - 1;
    if (left > 0) this.#running.set(sender, left);
    else this.#running.delete(sender);
    this.#pump();
  }

  /** Starts waiting downloads while slots are free, taking senders in turn. */
  #pump(): void {
    while (this.#runningTotal < this.#limits.total) {
      let picked: string | null = null;
      for (const sender of this.#waiting.keys()) {
        if (this.#free(sender)) {
          picked = sender;
          break;
        }
      }
      if (picked === null) return;
      const queue = this.#waiting.get(picked)!;
      const next = queue.shift()!;
      this.#waiting.delete(picked);
      if (queue.length > 0) this.#waiting.set(picked, queue); // to the end: the next free slot goes to another sender
      this.#waitingTotal -= 1;
      next.start();
    }
  }
}
