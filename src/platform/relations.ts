// Relations the limits on unsolicited mail look up in Thunderbird (src/xmpp/stranger-gate.ts): is an address in any
// address book? contacts.quickSearch without a book searches all of them, Thunderbird's "Collected Addresses" included,
// where Thunderbird puts every address the user sends mail to (its default; the user can switch that off).
import { vcardEmailsAndJids } from "../core/vcard.js";

export async function addressInAddressBooks(address: string): Promise<boolean> {
  const wanted = address.toLowerCase();
  if (wanted.length === 0 || wanted.length > 320) return false;
  const nodes = await messenger.contacts.quickSearch(wanted);
  // quickSearch matches by "contains" over many fields: only a contact holding exactly this address counts.
  return nodes.some((node) => {
    const vcard = (node.properties as { vCard?: unknown }).vCard;
    return typeof vcard === "string" && vcardEmailsAndJids(vcard).emails.includes(wanted);
  });
}
