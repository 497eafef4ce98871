// Which JIDs accept mail over XMPP (core/capability-cache.ts), kept across restarts: loaded from storage once at
// start, written back at most once a second after answers change (like createDeliveryLog's batching). Answers
// learned before the load finished win over the stored ones.
import { CapabilityCache } from "../core/capability-cache.js";
import type { Logger } from "../core/log.js";
import type { DevicePublicKeys } from "../core/e2e/keys.js";
import type { KeyValueStore } from "../xmpp/receiver.js";

const KEY = "capabilities";

export interface CapabilityStore {
  /** true/false while a fresh answer is known, undefined when unknown or expired. */
  get(jid: string): boolean | undefined;
  /** The version-1 devices of a fresh positive answer; null when unknown, expired or negative. */
  devices(jid: string): readonly DevicePublicKeys[] | null;
  /** How long ago the cached answer was learned; undefined when none is cached. */
  ageMs(jid: string): number | undefined;
  /** Remembers an answer (with the devices its item announced) and schedules a save. */
  set(jid: string, capable: boolean, devices?: readonly DevicePublicKeys[]): void;
}

export function createCapabilityStore(store: KeyValueStore, log: Logger, delayMs = 1_000, now: () => number = () => Date.now()): CapabilityStore {
  let cache: CapabilityCache | null = null;
  let saving = false;
  const current = (): CapabilityCache => (cache ??= new CapabilityCache(now));
  void store.get(KEY).then((saved) => {
    const loaded = new CapabilityCache(now, undefined, undefined, saved);
    for (const entry of cache?.toJSON() ?? []) loaded.set(entry.jid, entry.capable, entry.devices);
    cache = loaded;
  });
  function save(): void {
    if (saving) return;
    saving = true;
    setTimeout(() => {
      saving = false;
      store.set(KEY, current().toJSON()).catch((error: unknown) => log.warn("capability-cache-save-failed", { error }));
    }, delayMs);
  }
  return {
    get: (jid) => current().get(jid),
    devices: (jid) => current().devices(jid),
    ageMs: (jid) => current().ageMs(jid),
    set(jid, capable, devices) {
      current().set(jid, capable, devices);
      save();
    },
  };
}
