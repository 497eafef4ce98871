// The limits on mail from senders the user has no relation with (xmpp/stranger-gate.ts), read from the current
// settings, with the current session's block list and roster.
import type { Logger } from "../core/log.js";
import { addressInAddressBooks } from "../platform/relations.js";
import type { KeyValueStore, SenderDirectory } from "../xmpp/receiver.js";
import { StrangerGate } from "../xmpp/stranger-gate.js";
import type { Live } from "./session-lifecycle.js";

export function createStrangerGate(log: Logger, live: Live, store: KeyValueStore, directory: Pick<SenderDirectory, "isKnown">): StrangerGate {
  return new StrangerGate({
    store,
    log,
    limits: () => ({
      perHour: live.settings.strangerMailsPerHour,
      perDay: live.settings.strangerMailsPerDay,
      maxBytes: live.settings.strangerMaxKiB * 1024,
    }),
    isBlocked: async (jid) => {
      const list = live.blocklist;
      if (!list) return false;
      await list.settled();
      return list.isBlocked(jid);
    },
    inRoster: (jid) => live.roster?.has(jid) ?? false,
    jidKnown: (jid) => directory.isKnown(jid),
    addressKnown: (address) => addressInAddressBooks(address),
  });
}
