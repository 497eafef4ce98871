// Which JIDs accept mail over XMPP: answers cached with a lifetime (positive longer than negative), bounded, and
// serializable so the cache survives a restart. Pure: the clock is injected. With each positive answer it keeps the
// version-1 devices the item announced (docs/protocol.md §10.3), so a Send knows them without asking the network.
import type { DevicePublicKeys } from "./e2e/keys.js";

export interface CapabilityTtl {
  readonly positiveMs: number;
  readonly negativeMs: number;
}

export const DEFAULT_CAPABILITY_TTL: CapabilityTtl = { positiveMs: 24 * 3600_000, negativeMs: 3600_000 };

export interface CapabilityEntry {
  readonly jid: string;
  readonly capable: boolean;
  readonly expires: number;
  /** The version-1 devices announced with a positive answer (empty: version 0 only). */
  readonly devices: readonly DevicePublicKeys[];
  /** When the answer was learned (ms since the epoch). */
  readonly checked?: number;
}

const MAX_DEVICES = 16;

/** A stored device list: at most 16 entries of three bounded strings (their keys are checked again where used). */
function storedDevices(value: unknown): DevicePublicKeys[] | null {
  if (!Array.isArray(value) || value.length > MAX_DEVICES) return null;
  const out: DevicePublicKeys[] = [];
  for (const d of value as unknown[]) {
    const { id, agree, sign } = (d ?? {}) as Record<string, unknown>;
    if (typeof id !== "string" || typeof agree !== "string" || typeof sign !== "string" || id.length > 64 || agree.length > 128 || sign.length > 128) return null;
    out.push({ id, agree, sign });
  }
  return out;
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
        const { jid, capable, expires, devices, checked } = (e ?? {}) as Record<string, unknown>;
        // A saved positive answer without a device list is from before version 1: asked again.
        const list = storedDevices(devices);
        if (typeof jid === "string" && typeof capable === "boolean" && typeof expires === "number" && expires > now() && list !== null) {
          this.#entries.set(jid.toLowerCase(), { jid: jid.toLowerCase(), capable, expires, devices: list, ...(typeof checked === "number" ? { checked } : {}) });
        }
      }
    }
  }

  /** true/false while a fresh answer is cached, undefined when unknown or expired. */
  get(jid: string): boolean | undefined {
    return this.#fresh(jid)?.capable;
  }

  /** The version-1 devices of a fresh positive answer; null when unknown, expired or negative. */
  devices(jid: string): readonly DevicePublicKeys[] | null {
    const entry = this.#fresh(jid);
    return entry?.capable ? entry.devices : null;
  }

  /** How long ago a fresh answer was learned; undefined when none is cached (or its time is unknown). */
  ageMs(jid: string): number | undefined {
    const checked = this.#fresh(jid)?.checked;
    return checked === undefined ? undefined : this.#now() - checked;
  }

  #fresh(jid: string): CapabilityEntry | undefined {
    const key = jid.toLowerCase();
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.#now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(jid: string, capable: boolean, devices: readonly DevicePublicKeys[] = []): void {
    const key = jid.toLowerCase();
    this.#entries.delete(key);
    this.#entries.set(key, {
      jid: key,
      capable,
      expires: this.#now() + (capable ? this.#ttl.positiveMs : this.#ttl.negativeMs),
      devices: capable ? devices.slice(0, MAX_DEVICES).map(({ id, agree, sign }) => ({ id, agree, sign })) : [],
      checked: this.#now(),
    });
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
