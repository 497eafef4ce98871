// The options page's list of the user's identities with a checkbox each: which ones send over XMPP (the setting
// xmppIdentities). Pure: accounts as Thunderbird lists them in, rows and the new setting value out.
import { parseXmppIdentities } from "../../core/settings.js";
import { bareJidKey } from "../../core/jid.js";

export interface IdentityRow {
  /** The address, lower case (as compared with the mail's From). */
  readonly address: string;
  /** "Name <address>" as Thunderbird shows the identity, bounded; the address alone when there is no name. */
  readonly label: string;
  readonly checked: boolean;
  /** The identity whose address is the JID: always sends over XMPP, the box cannot be unticked. */
  readonly isJid: boolean;
  /** Listed in the setting but not an identity of this profile (kept, so that saving does not drop it unasked). */
  readonly elsewhere: boolean;
}

interface AccountLike {
  readonly identities?: ReadonlyArray<{ readonly email?: string | null; readonly name?: string | null }>;
}

const MAX_ROWS = 200;
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** One row per distinct identity address (in account order), then the listed addresses no identity has. */
export function identityRows(accounts: readonly AccountLike[], settings: { readonly jid: string; readonly xmppIdentities: string }): IdentityRow[] {
  const jid = bareJidKey(settings.jid);
  const listed = parseXmppIdentities(settings.xmppIdentities) ?? [];
  const rows: IdentityRow[] = [];
  const seen = new Set<string>();
  for (const account of accounts) {
    for (const identity of account.identities ?? []) {
      const address = (identity.email ?? "").trim().toLowerCase();
      if (address === "" || seen.has(address) || rows.length >= MAX_ROWS) continue;
      seen.add(address);
      const name = (identity.name ?? "").trim();
      const isJid = address === jid;
      rows.push({
        address,
        label: clip(name === "" ? address : `${name} <${address}>`, 300),
        checked: isJid || listed.includes(address),
        isJid,
        elsewhere: false,
      });
    }
  }
  for (const address of listed) {
    if (seen.has(address) || rows.length >= MAX_ROWS) continue;
    seen.add(address);
    rows.push({ address, label: clip(address, 300), checked: true, isJid: address === jid, elsewhere: true });
  }
  return rows;
}

/**
 * The setting value after ticking (`on`) or unticking one address: the current list with it added or removed, in
 * order. The JID's own address is never written (it always sends); an unreadable current value starts empty.
 */
export function toggleIdentity(value: string, address: string, on: boolean, jid: string): string {
  const own = bareJidKey(jid);
  const wanted = address.trim().toLowerCase();
  const list = (parseXmppIdentities(value) ?? []).filter((a) => a !== wanted && a !== own);
  if (on && wanted !== own) list.push(wanted);
  return list.join(", ");
}
