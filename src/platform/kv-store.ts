// A small key-value view of storage.local for the engine's persisted state (dedupe set, MAM position, caches).
// Keys are namespaced so they never collide with settings or credentials.
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
