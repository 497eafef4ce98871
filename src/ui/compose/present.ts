// What the compose window's indicator says: a route preview → localized lines. Pure (keys and substitutions only),
// so every reason has a table test.
import type { E2ePeerView } from "../../core/messages.js";
import type { RoutePreviewResult } from "../../core/send-flow.js";
import { smtpReasonLine } from "../shared/route-reason.js";
import type { Text } from "../shared/text.js";

export function recipientLine(r: RoutePreviewResult["recipients"][number]): Text {
  if (r.route === "xmpp") return { key: "composeRoute_xmpp", subs: [r.jid ?? ""] };
  if (r.route === "checking") return { key: "composeRoute_checking", subs: [r.jid ?? ""] };
  if (r.reason === "xmpp") return { key: "composeReason_noJid" };
  // A JID another mail announced for this address: a suggestion only (the header can be forged), offered to confirm.
  if (r.candidates?.length) return { key: "composeReason_learnedUnconfirmed", subs: [r.candidates.join(", ")] };
  return smtpReasonLine(r.reason, r.jid);
}

export function verdictLine(p: RoutePreviewResult): Text {
  if (p.result === "empty") return { key: "composeVerdict_empty" };
  if (p.fromUnbound === true) return { key: "composeVerdict_unboundIdentity" };
  const xmpp = p.recipients.filter((r) => r.route === "xmpp").length;
  const checking = p.recipients.some((r) => r.route === "checking");
  if (checking) return { key: "composeVerdict_checking" };
  if (p.result === "xmpp") return { key: "composeVerdict_xmpp" };
  if (p.result === "mixed") return { key: "composeVerdict_mixed", subs: [String(xmpp), String(p.recipients.length - xmpp)] };
  return { key: "composeVerdict_smtp" };
}

/** At most this many correspondents are asked about their keys per refresh (a long list shows the first ones). */
export const MAX_E2E_LOOKUPS = 50;

/** The JIDs whose keys the indicator shows: recipients going over XMPP, each JID once. */
/**
 * Whether a recipient's encryption line is shown: always when it goes over XMPP; when it goes by mail only for a key
 * that changed or vanished (that is why it goes by mail, and the user can accept the key here).
 */
export function showsE2e(route: RoutePreviewResult["recipients"][number]["route"], state: E2ePeerView["state"]): boolean {
  return route === "xmpp" || state === "changed" || state === "withdrawn";
}

export function e2eJids(p: RoutePreviewResult): string[] {
  // Every recipient with a JID: one going by mail may be held there by a changed key, which is shown (showsE2e).
  const jids = p.recipients.filter((r) => r.jid).map((r) => r.jid!);
  return [...new Set(jids)].slice(0, MAX_E2E_LOOKUPS);
}
