// The address books, indexed in memory for the send path: e-mail address → the JIDs of the contacts that have it
// (vCard IMPP:xmpp:, Thunderbird's "XMPP" field), and mailing-list name → member addresses. Built once at start and
// rebuilt (debounced) when a contact or list changes, so a Send never waits on an address-book query.
import { vcardEmailsAndJids } from "../core/vcard.js";
import { emailKey } from "../core/resolve.js";
import type { Logger } from "../core/log.js";

export interface AddressIndexSnapshot {
  /** emailKey(address) → JIDs from the contacts whose e-mail (primary or secondary) is exactly that address. */
  readonly jidsByEmail: ReadonlyMap<string, readonly string[]>;
  /** Lower-cased list name → member e-mail addresses (each member's first address). */
  readonly listMembers: ReadonlyMap<string, readonly string[]>;
}

const EMPTY: AddressIndexSnapshot = { jidsByEmail: new Map(), listMembers: new Map() };

function contactData(node: messenger.contacts.ContactNode): { emails: string[]; jids: string[] } {
  const vcard = (node.properties as { vCard?: unknown }).vCard;
  if (typeof vcard === "string") return vcardEmailsAndJids(vcard);
  const primary = node.properties.PrimaryEmail;
  return { emails: typeof primary === "string" && primary ? [primary.toLowerCase()] : [], jids: [] };
}

function buildIndex(books: readonly messenger.addressBooks.AddressBookNode[]): AddressIndexSnapshot {
  const jidsByEmail = new Map<string, string[]>();
  const listMembers = new Map<string, string[]>();
  for (const book of books) {
    for (const contact of book.contacts ?? []) {
      const { emails, jids } = contactData(contact);
      if (jids.length === 0) continue;
      for (const email of emails) {
        const key = emailKey(email);
        const known = jidsByEmail.get(key) ?? [];
        for (const jid of jids) if (!known.includes(jid)) known.push(jid);
        jidsByEmail.set(key, known);
      }
    }
    for (const list of book.mailingLists ?? []) {
      const members = (list.contacts ?? []).flatMap((c) => contactData(c).emails.slice(0, 1));
      const key = list.name.toLowerCase();
      listMembers.set(key, [...(listMembers.get(key) ?? []), ...members]);
    }
  }
  return { jidsByEmail, listMembers };
}

export function createAddressIndex(log: Logger, debounceMs = 500) {
  let snapshot: AddressIndexSnapshot = EMPTY;
  let loading: Promise<void> | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const load = (): Promise<void> =>
    (loading = messenger.addressBooks
      .list(true)
      .then((books) => {
        snapshot = buildIndex(books);
        log.debug("address-index-built", { emails: snapshot.jidsByEmail.size, lists: snapshot.listMembers.size });
      })
      .catch((error: unknown) => log.warn("address-index-failed", { error })));

  return {
    /** The current index; empty until the first load finished. */
    get current(): AddressIndexSnapshot {
      return snapshot;
    },
    /** Resolves once the first load has finished (successfully or not). */
    ready(): Promise<void> {
      return loading ?? load();
    },
    /** Call from every contacts/mailingLists change event. */
    changed(): void {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        void load();
      }, debounceMs);
    },
  };
}

export type AddressIndex = ReturnType<typeof createAddressIndex>;
