// Recipient → JID: which XMPP address, if any, a mail recipient has, and from which source. Pure: every source is
// handed in as plain data (mappings, address book, settings), so the answer is a table lookup with a reason.
import { assertAddrSpec, parseAddressList } from "./mime/address.js";
import { validateJid } from "./settings.js";
import { jidDomain, jidLocal, sameJid } from "./jid.js";

/**
 * Everything resolution may use, loaded by the caller. Every map is keyed by the e-mail address in lower case
 * (see `emailKey`); every JID in it is untrusted and checked with `isValidBareJid` before use.
 */
export interface ResolutionData {
  /** Step 1: mappings the user (or the enterprise policy) configured. */
  readonly explicit: ReadonlyMap<string, string>;
  /** Step 2: contacts whose primary or secondary e-mail is the key, with the JIDs of their vCard IMPP:xmpp: entries. */
  readonly addressBook: ReadonlyMap<string, readonly string[]>;
  /** Step 3: domains whose e-mail addresses are also JIDs (default: the domain of the user's own JID). */
  readonly xmppDomains: readonly string[];
  /** Step 4: JIDs learned from X-Jabber-ID headers of incoming mail, and whether the user confirmed one. */
  readonly learned: ReadonlyMap<string, LearnedMapping>;
  /** Step 5: address ↔ JID pairs checked by the receiving side on mail that came over XMPP. */
  readonly verifiedSenders: ReadonlyMap<string, string>;
}

/**
 * What X-Jabber-ID headers announced for one address. `confirmed`: `jid` is the user's choice. Otherwise `jid` is the
 * first JID announced and `also` the different ones announced later (a forged first mail must not hide the genuine
 * one): none of them is used unless it is the address itself; the others are suggestions for the user to confirm.
 */
export interface LearnedMapping {
  readonly jid: string;
  readonly confirmed: boolean;
  readonly also?: readonly string[];
}

/** Most JIDs kept (and offered) per address while none is confirmed. */
export const MAX_LEARNED_CANDIDATES = 3;

export type ResolutionSource = "explicit" | "address-book" | "same-address" | "learned" | "verified-sender";

export type NoJidReason = "no-mapping" | "learned-unconfirmed" | "invalid-address" | "newsgroup" | "mailing-list-unexpanded";

export type Resolution =
  | { readonly jid: string; readonly via: ResolutionSource }
  | {
      readonly jid: null;
      readonly why: NoJidReason;
      /** learned-unconfirmed: the JIDs announced for the address, for the user to confirm one (never used unconfirmed). */
      readonly candidates?: readonly string[];
    };

/** The key under which an e-mail address is looked up: e-mail addresses are compared case-insensitively. */
export function emailKey(address: string): string {
  return address.toLowerCase();
}

/**
 * A bare JID (local@domain) fit to send to: RFC 7622 length limits, no whitespace or control characters, no
 * characters a localpart forbids, a plausible domain, and no resource. Applied to every JID from every source.
 */
export function isValidBareJid(jid: string): boolean {
  return !jid.includes("/") && validateJid(jid) === null;
}

/** The JID as used for sending: domain lower-cased, localpart as given. */
function normalizeJid(jid: string): string {
  return `${jidLocal(jid)}@${jidDomain(jid).toLowerCase()}`;
}

/** The JID normalized, or null when it fails the sanity check. */
function checkedJid(jid: unknown): string | null {
  if (typeof jid !== "string" || !isValidBareJid(jid)) return null;
  return normalizeJid(jid);
}

/** A domain in comparable form: lower case, internationalized names as the URL parser spells them (punycode). */
function domainKey(domain: string): string {
  const lower = domain.toLowerCase();
  try {
    return new URL(`http://${lower}/`).hostname;
  } catch {
    return lower;
  }
}

/** An e-mail address's domain and local part (split at the last "@": a quoted local part may hold one). */
const addressDomain = (address: string): string => address.slice(address.lastIndexOf("@") + 1);
const addressLocal = (address: string): string => address.slice(0, address.lastIndexOf("@"));

/** The JID is the e-mail address itself: same local part and domain, case-insensitively (IDN domains in either form). */
export function isAddressItself(jid: string, address: string): boolean {
  return jidLocal(jid).toLowerCase() === addressLocal(address).toLowerCase() && domainKey(jidDomain(jid)) === domainKey(addressDomain(address));
}

/** news:/snews:/nntp: URLs, and bare dotted newsgroup names (RFC 5536 §3.1.4) written without angle brackets. */
const NEWS_URL = /^(?:s?news|nntp):/i;
const NEWSGROUP_NAME = /^[A-Za-z0-9+_-]+(?:\.[A-Za-z0-9+_-]+)+$/;

type Parsed = { readonly ok: true; readonly address: string } | { readonly ok: false; readonly why: NoJidReason };

/** One recipient as Thunderbird gives it ("Name <a@b>", "a@b", "List <List>") → its addr-spec, or why not. */
function parseRecipient(recipient: string): Parsed {
  const text = recipient.trim();
  if (text === "" || /[\r\n]/.test(text)) return { ok: false, why: "invalid-address" };
  if (NEWS_URL.test(text)) return { ok: false, why: "newsgroup" };
  const mailboxes = parseAddressList(text);
  // One recipient is one mailbox: several (or none) means the caller handed over something else.
  if (mailboxes.length !== 1) return { ok: false, why: "invalid-address" };
  const address = mailboxes[0]!.address;
  if (!address.includes("@")) {
    if (address === "") return { ok: false, why: "invalid-address" };
    if (!text.includes("<") && NEWSGROUP_NAME.test(address)) return { ok: false, why: "newsgroup" };
    // Thunderbird writes a mailing list as "Name <ListName>": it should have been expanded before routing.
    return { ok: false, why: "mailing-list-unexpanded" };
  }
  try {
    assertAddrSpec(address, "recipient");
  } catch {
    return { ok: false, why: "invalid-address" };
  }
  return { ok: true, address };
}

/**
 * The JID for one recipient and where it came from; first hit wins:
 * 1. explicit mapping, 2. address-book contact with an XMPP field, 3. the address itself for an XMPP-enabled
 * domain, 4. a learned mapping: the one the user confirmed, or automatically only a learned JID that is the address
 * itself (X-Jabber-ID is unauthenticated: anyone can send a mail with carol's From and mallory's JID), 5. the
 * verified sender of a mail received over XMPP.
 * A JID that fails `isValidBareJid` is ignored as if absent. Unconfirmed learned JIDs other than the address are
 * never used and do not stop step 5; if nothing later hits, the answer is `learned-unconfirmed` with those JIDs (so
 * the UI can offer to confirm one) — and the mail goes by SMTP.
 */
export function resolveRecipient(recipient: string, data: ResolutionData): Resolution {
  const parsed = parseRecipient(recipient);
  if (!parsed.ok) return { jid: null, why: parsed.why };
  const { address } = parsed;
  const key = emailKey(address);
  const emailDomain = domainKey(addressDomain(address));

  const explicit = checkedJid(data.explicit.get(key));
  if (explicit !== null) return { jid: explicit, via: "explicit" };

  for (const candidate of data.addressBook.get(key) ?? []) {
    const jid = checkedJid(candidate);
    if (jid !== null) return { jid, via: "address-book" };
  }

  if (data.xmppDomains.some((d) => domainKey(d) === emailDomain)) {
    const jid = checkedJid(address);
    if (jid !== null) return { jid, via: "same-address" };
  }

  const unconfirmed: string[] = [];
  const learned = data.learned.get(key);
  if (learned !== undefined) {
    if (learned.confirmed === true) {
      const jid = checkedJid(learned.jid);
      if (jid !== null) return { jid, via: "learned" };
    } else {
      const announced = [learned.jid, ...(Array.isArray(learned.also) ? learned.also : [])].slice(0, MAX_LEARNED_CANDIDATES);
      for (const candidate of announced) {
        const jid = checkedJid(candidate);
        if (jid === null) continue;
        if (isAddressItself(jid, address)) return { jid, via: "learned" };
        if (!unconfirmed.some((u) => sameJid(u, jid))) unconfirmed.push(jid);
      }
    }
  }

  const verified = checkedJid(data.verifiedSenders.get(key));
  if (verified !== null) return { jid: verified, via: "verified-sender" };

  return unconfirmed.length > 0 ? { jid: null, why: "learned-unconfirmed", candidates: unconfirmed } : { jid: null, why: "no-mapping" };
}

/**
 * The JID announced in a Jabber-ID / X-Jabber-ID header (RFC 7259: a bare JID; "xmpp:" URIs and angle brackets are
 * tolerated), or null when the value is not exactly one valid bare JID. The header is unauthenticated: the caller
 * decides how far to trust it (resolution step 4).
 */
export function parseJabberId(value: string): string | null {
  if (value.length > 3100 || /[\r\n]/.test(value)) return null;
  let v = value.trim();
  if (v.startsWith("<") && v.endsWith(">")) v = v.slice(1, -1).trim();
  if (/^xmpp:/i.test(v)) {
    v = v.slice(5).split("?")[0]!;
    try {
      v = decodeURIComponent(v);
    } catch {
      return null;
    }
  }
  if (v.startsWith("//")) return null;
  return checkedJid(v);
}
