// The trust state of end-to-end encryption (docs/protocol.md §10.6: the devices pinned per peer) in a key-value store
// (storage.local through platform/kv-store.ts in Thunderbird), as the text serializeTrust makes. Reading is strict:
// a stored value that does not parse is an error, never an empty state — an empty state would pin every peer's
// current devices again on first use, accepting any key a server swapped in meanwhile.
import { E2eError } from "../core/e2e/primitives.js";
import { emptyTrust, parseTrust, serializeTrust } from "../core/e2e/trust.js";
import type { TrustStore } from "../xmpp/e2e-keyring.js";
import type { KeyValueStore } from "../xmpp/receiver.js";

export function createTrustStore(store: KeyValueStore, key = "e2eTrust"): TrustStore {
  return {
    async load() {
      const stored = await store.get(key);
      if (stored === undefined) return emptyTrust();
      if (typeof stored !== "string") throw new E2eError("malformed", "the stored trust state is not text");
      return parseTrust(stored);
    },
    async save(state) {
      await store.set(key, serializeTrust(state));
    },
  };
}
