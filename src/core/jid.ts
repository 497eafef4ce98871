/**
 * The parts of a JID as text (RFC 7622 §3.1): `local@domain/resource`. The resource starts at the first "/" and may
 * itself contain "@" and "/"; the localpart ends at the first "@" of the bare part. Nothing here validates: see
 * settings.validateJid and resolve.isValidBareJid for that.
 */

/** The JID without its resource: `local@domain` (or `domain`). */
export function bareJid(jid: string): string {
  const slash = jid.indexOf("/");
  return slash < 0 ? jid : jid.slice(0, slash);
}

/** The resource, or null when the JID has none. */
export function jidResource(jid: string): string | null {
  const slash = jid.indexOf("/");
  return slash < 0 ? null : jid.slice(slash + 1);
}

/** The domainpart: what follows the "@" of the bare JID, or the whole bare JID when it has no localpart. */
export function jidDomain(jid: string): string {
  const bare = bareJid(jid);
  return bare.slice(bare.indexOf("@") + 1);
}

/** The localpart, or "" when the JID has none. */
export function jidLocal(jid: string): string {
  const bare = bareJid(jid);
  const at = bare.indexOf("@");
  return at < 0 ? "" : bare.slice(0, at);
}

/** The bare JID lower-cased: the form the add-on compares and stores. */
export function bareJidKey(jid: string): string {
  return bareJid(jid).toLowerCase();
}

/** The same JID, compared case-insensitively as a whole (a resource, if any, included). */
export function sameJid(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The two JIDs name the same account (resources ignored, case-insensitively). */
export function sameBareJid(a: string, b: string): boolean {
  return bareJidKey(a) === bareJidKey(b);
}
