// What the compose window's indicator says: a route preview → localized lines. Pure (keys and substitutions only),
// so every reason has a table test.
import type { RecipientReason } from "../../core/route.js";
import type { RoutePreviewResult } from "../../core/send-flow.js";
import type { MessageKey } from "../../platform/i18n.js";

export interface Line {
  readonly key: MessageKey;
  readonly subs?: readonly string[];
}

const SMTP_REASON: { readonly [R in Exclude<RecipientReason, "xmpp">]: MessageKey } = {
  offline: "composeReason_offline",
  "no-jid": "composeReason_noJid",
  "not-capable": "composeReason_notCapable",
  "capability-unknown": "composeReason_unknown",
  encrypted: "composeReason_encrypted",
  signed: "composeReason_signed",
  "switched-off": "composeReason_switchedOff",
  "unbound-identity": "composeReason_unboundIdentity",
  "too-large": "composeReason_tooLarge",
  "send-later": "composeReason_sendLater",
  newsgroup: "composeReason_newsgroup",
  "policy-whole-message": "composeReason_wholeMessage",
};

/** The sentence for a recipient that goes by ordinary mail, by reason. */
export function smtpReasonLine(reason: RecipientReason, jid?: string): Line {
  return reason === "xmpp" ? { key: "composeReason_noJid" } : { key: SMTP_REASON[reason], subs: [jid ?? ""] };
}

export function recipientLine(r: RoutePreviewResult["recipients"][number]): Line {
  if (r.route === "xmpp") return { key: "composeRoute_xmpp", subs: [r.jid ?? ""] };
  if (r.route === "checking") return { key: "composeRoute_checking", subs: [r.jid ?? ""] };
  if (r.reason === "xmpp") return { key: "composeReason_noJid" };
  // A JID another mail announced for this address: a suggestion only (the header can be forged), offered to confirm.
  if (r.candidates?.length) return { key: "composeReason_learnedUnconfirmed", subs: [r.candidates.join(", ")] };
  return { key: SMTP_REASON[r.reason], subs: [r.jid ?? ""] };
}

export function verdictLine(p: RoutePreviewResult): Line {
  if (p.result === "empty") return { key: "composeVerdict_empty" };
  if (p.fromUnbound === true) return { key: "composeVerdict_unboundIdentity" };
  const xmpp = p.recipients.filter((r) => r.route === "xmpp").length;
  const checking = p.recipients.some((r) => r.route === "checking");
  if (checking) return { key: "composeVerdict_checking" };
  if (p.result === "xmpp") return { key: "composeVerdict_xmpp" };
  if (p.result === "mixed") return { key: "composeVerdict_mixed", subs: [String(xmpp), String(p.recipients.length - xmpp)] };
  return { key: "composeVerdict_smtp" };
}
