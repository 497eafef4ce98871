// A small key-value view of storage.local for the persisted state of xmpp/receiver (dedupe set, MAM position),
// platform/smtp-duplicates, the stranger gate and platform/capability-store. Keys are namespaced so they never
// collide with settings or credentials; the prefix "engine." is kept as it is because stored data uses it.
import type { KeyValueStore } from "../xmpp/receiver.js";

export function createKeyValueStore(prefix = "engine."): KeyValueStore {
  return {
    async get(key) {
      const name = prefix + key;
      const got = await messenger.storage.local.get(name);
      return got[name];
    },
    async set(key, value) {
      await messenger.storage.local.set({ [prefix + key]: value });
    },
  };
}
