// Why a recipient goes by ordinary mail, in the user's words: the compose window's indicator and the Send log say it
// the same way.
import type { RecipientReason } from "../../core/route.js";
import type { MessageKey } from "../../platform/i18n.js";
import type { Text } from "./text.js";

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
export function smtpReasonLine(reason: RecipientReason, jid?: string): Text {
  return reason === "xmpp" ? { key: "composeReason_noJid" } : { key: SMTP_REASON[reason], subs: [jid ?? ""] };
}
