// Which JIDs accept mail over XMPP: answers cached with a lifetime (positive longer than negative), bounded, and
// serializable so the cache survives a restart. Pure: the clock is injected.

export interface CapabilityTtl {
  readonly positiveMs: number;
  readonly negativeMs: number;
}

export const DEFAULT_CAPABILITY_TTL: CapabilityTtl = { positiveMs: 24 * 3600_000, negativeMs: 3600_000 };

export interface CapabilityEntry {
  readonly jid: string;
  readonly capable: boolean;
  readonly expires: number;
}

export class CapabilityCache {
  readonly #entries = new Map<string, CapabilityEntry>();
  readonly #ttl: CapabilityTtl;
  readonly #now: () => number;
  readonly #max: number;

  constructor(now: () => number, ttl: CapabilityTtl = DEFAULT_CAPABILITY_TTL, max = 2000, saved: unknown = []) {
    this.#now = now;
    this.#ttl = ttl;
    this.#max = max;
    if (Array.isArray(saved)) {
      for (const e of saved as unknown[]) {
        const { jid, capable, expires } = (e ?? {}) as Partial<CapabilityEntry>;
        if (typeof jid === "string" && typeof capable === "boolean" && typeof expires === "number" && expires > now()) {
          this.#entries.set(jid.toLowerCase(), { jid: jid.toLowerCase(), capable, expires });
        }
      }
    }
  }

  /** true/false while a fresh answer is cached, undefined when unknown or expired. */
  get(jid: string): boolean | undefined {
    const key = jid.toLowerCase();
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry.capable;
  }

  set(jid: string, capable: boolean): void {
    const key = jid.toLowerCase();
    this.#entries.delete(key);
    this.#entries.set(key, { jid: key, capable, expires: this.#now() + (capable ? this.#ttl.positiveMs : this.#ttl.negativeMs) });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }

  toJSON(): CapabilityEntry[] {
    return [...this.#entries.values()];
  }
}
