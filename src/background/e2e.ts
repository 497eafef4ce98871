// End-to-end encryption's wiring (docs/protocol.md §10): this device's keys in the extension's IndexedDB, the pinned
// peers in storage.local, and the devices peers announce from the capability answers (cached; asked over the current
// session when a mail comes from a device not known yet).
import type { Logger } from "../core/log.js";
import type { CapabilityStore } from "../platform/capability-store.js";
import { createIndexedDbKeyStore } from "../platform/device-key-store.js";
import { createTrustStore } from "../platform/trust-store.js";
import { announcedDevicesFrom } from "../xmpp/capability.js";
import { Keyring } from "../xmpp/e2e-keyring.js";
import type { KeyValueStore } from "../xmpp/receiver.js";
import type { Live } from "./session-lifecycle.js";

/** How long a receiver waits for a sender's capability item when its signing device is not known yet. */
const LOOKUP_TIMEOUT_MS = 5_000;

export function createKeyring(deps: { readonly log: Logger; readonly live: Live; readonly capabilities: CapabilityStore; readonly store: KeyValueStore }): Keyring {
  const { log, live, capabilities, store } = deps;
  return new Keyring({
    keys: createIndexedDbKeyStore(),
    trust: createTrustStore(store),
    announced: announcedDevicesFrom(capabilities, () => live.session, LOOKUP_TIMEOUT_MS),
    log,
  });
}
