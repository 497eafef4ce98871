// Who is who: confirmed address↔JID mappings (storage.local "mappings") and address-book contacts whose XMPP field
// (vCard IMPP:xmpp:…) holds a JID. Used by the receiving side's sender check.
import { vcardEmailsAndJids } from "../core/vcard.js";
import type { SenderDirectory } from "../xmpp/receiver.js";

const MAPPINGS_KEY = "mappings";

async function contactsMatching(query: string): Promise<Array<{ emails: string[]; jids: string[] }>> {
  const nodes = await messenger.contacts.quickSearch(query);
  return nodes.map((node) => {
    const vcard = (node.properties as { vCard?: unknown }).vCard;
    return typeof vcard === "string" ? vcardEmailsAndJids(vcard) : { emails: [], jids: [] };
  });
}

export function createSenderDirectory(): SenderDirectory {
  return {
    async confirmedJids(address: string): Promise<string[]> {
      const got = await messenger.storage.local.get(MAPPINGS_KEY);
      const mappings = got[MAPPINGS_KEY];
      if (typeof mappings !== "object" || mappings === null) return [];
      const entry = (mappings as Record<string, unknown>)[address.toLowerCase()];
      return Array.isArray(entry) ? entry.filter((j): j is string => typeof j === "string").map((j) => j.toLowerCase()) : [];
    },
    async addressBookJids(address: string): Promise<string[]> {
      const wanted = address.toLowerCase();
      // quickSearch matches by "contains" over many fields: keep only contacts whose e-mail is exactly this address.
      const contacts = await contactsMatching(wanted);
      return contacts.filter((c) => c.emails.includes(wanted)).flatMap((c) => c.jids);
    },
    async isKnown(jid: string): Promise<boolean> {
      const wanted = jid.toLowerCase();
      const contacts = await contactsMatching(wanted);
      return contacts.some((c) => c.jids.includes(wanted));
    },
  };
}
