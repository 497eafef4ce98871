// The optional host permission for the account's own XEP-0363 upload host (issue 11 point 9). With it, the add-on's
// uploads and downloads on that host are not subject to CORS (Manifest V2 background page), so a server that sends no
// CORS headers (ejabberd's mod_http_upload as shipped) works. Never wider than that one host: other servers' upload
// hosts are reached only when they send CORS headers themselves (docs/protocol.md, "External payloads").
//
// The origins to ask for come from the login's check (src/xmpp/upload-access.ts → the status's "upload" limitation
// with `blocked.origins`). `request` must be called synchronously from a click or key handler of one of the add-on's
// pages (Thunderbird refuses permissions.request outside a user action), i.e. before any `await` in that handler.
import { uploadOriginPattern } from "../xmpp/upload.js";

/** The permission patterns that cover these upload URLs (or hosts); empty when none can (see uploadOriginPattern). */
export function needed(urlsOrHosts: readonly string[]): string[] {
  const patterns = urlsOrHosts.map((u) => uploadOriginPattern(/^[a-z][a-z0-9+.-]*:\/\//i.test(u) ? u : `https://${u}/`));
  return patterns.includes(null) ? [] : [...new Set(patterns.filter((p): p is string => p !== null))];
}

/** Whether the add-on holds all of these origin permissions. */
export async function has(origins: readonly string[]): Promise<boolean> {
  if (origins.length === 0) return false;
  try {
    return await messenger.permissions.contains({ origins: [...origins] });
  } catch {
    return false;
  }
}

/**
 * Shows Thunderbird's permission prompt for these origins. Call it synchronously inside the user's click (no await
 * before it). Resolves true when granted (or already held), false when refused or not allowed here.
 */
export function request(origins: readonly string[]): Promise<boolean> {
  if (origins.length === 0) return Promise.resolve(false);
  try {
    return messenger.permissions.request({ origins: [...origins] }).catch(() => false);
  } catch {
    return Promise.resolve(false);
  }
}

/** Calls `listener` whenever the add-on's host permissions change (granted in a page, or removed in the add-on manager). */
export function onChange(listener: () => void): void {
  messenger.permissions.onAdded.addListener(() => listener());
  messenger.permissions.onRemoved.addListener(() => listener());
}
