// Adds an XMPP address to Thunderbird's address book (the contact's "XMPP" field, vCard IMPP:xmpp:…): to the contact
// whose e-mail is exactly the address when there is one, else to a new contact in the first writable address book.
import { vcardEmailsAndJids } from "../core/vcard.js";

/** Inserts an IMPP line before END:VCARD (vCard lines end with CRLF; a missing END is a malformed card). */
export function vcardWithJid(vcard: string, jid: string): string {
  if (vcardEmailsAndJids(vcard).jids.includes(jid.toLowerCase())) return vcard;
  const end = vcard.search(/\r?\nEND:VCARD\s*$/i);
  if (end < 0) throw new Error("the contact's vCard has no END:VCARD");
  return `${vcard.slice(0, end)}\r\nIMPP:xmpp:${jid}${vcard.slice(end)}`;
}

/** A new vCard 4.0 with the name, the e-mail address and the JID; values escaped per RFC 6350. */
export function newVcard(name: string, address: string, jid: string): string {
  const escape = (v: string) => v.replace(/[\\,;]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, " ");
  return ["BEGIN:VCARD", "VERSION:4.0", `FN:${escape(name || address)}`, `EMAIL;PREF=1:${escape(address)}`, `IMPP:xmpp:${jid}`, "END:VCARD", ""].join("\r\n");
}

export async function addJidToAddressBook(address: string, jid: string, name: string): Promise<"updated" | "created"> {
  const wanted = address.toLowerCase();
  for (const node of await messenger.contacts.quickSearch(wanted)) {
    const vcard = (node.properties as { vCard?: unknown }).vCard;
    if (node.readOnly || node.remote || typeof vcard !== "string" || !vcardEmailsAndJids(vcard).emails.includes(wanted)) continue;
    await messenger.contacts.update(node.id, { vCard: vcardWithJid(vcard, jid) } as never);
    return "updated";
  }
  const books = await messenger.addressBooks.list(false);
  const book = books.find((b) => !b.readOnly && !b.remote);
  if (!book) throw new Error("no writable address book");
  await messenger.contacts.create(book.id, undefined as never, { vCard: newVcard(name, address, jid) } as never);
  return "created";
}
