// Who is who: confirmed address↔JID mappings (storage.local "mappings", and a JID the user confirmed in the compose
// window's indicator: "learnedMappings" with confirmed) and address-book contacts whose XMPP field (vCard
// IMPP:xmpp:…) holds a JID. Used by the receiving side's sender check.
import { isValidBareJid } from "../core/resolve.js";
import { vcardEmailsAndJids } from "../core/vcard.js";
import type { SenderDirectory } from "../xmpp/receiver.js";

const MAPPINGS_KEY = "mappings";
const LEARNED_KEY = "learnedMappings";

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
      const key = address.toLowerCase();
      const got = await messenger.storage.local.get([MAPPINGS_KEY, LEARNED_KEY]);
      const mappings = got[MAPPINGS_KEY];
      const entry = typeof mappings === "object" && mappings !== null ? (mappings as Record<string, unknown>)[key] : undefined;
      const out = Array.isArray(entry) ? entry.filter((j): j is string => typeof j === "string").map((j) => j.toLowerCase()) : [];
      // The user's click on "Use … for this address" (issue 13): the same confirmation, so mail from that JID with this
      // From is verified too. An unconfirmed learned JID (an X-Jabber-ID header anyone can write) never counts.
      const learned = got[LEARNED_KEY];
      const mine = typeof learned === "object" && learned !== null ? (learned as Record<string, unknown>)[key] : undefined;
      const { jid, confirmed } = (typeof mine === "object" && mine !== null ? mine : {}) as { jid?: unknown; confirmed?: unknown };
      if (confirmed === true && typeof jid === "string" && isValidBareJid(jid) && !out.includes(jid.toLowerCase())) out.push(jid.toLowerCase());
      return out;
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
