// The delivery log page's logic: which entries match a search, and the lines shown for each recipient. Pure.
import type { DeliveryRecord } from "../../core/send-flow.js";
import { smtpReasonLine } from "../shared/route-reason.js";
import type { Text } from "../shared/text.js";

/** Case-insensitive match of every word of the query against the entry's subject, addresses, JIDs, reasons and outcomes. */
export function matches(entry: DeliveryRecord, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = [entry.subject ?? "", entry.result, entry.error ?? "", ...entry.recipients.flatMap((r) => [r.address, r.jid ?? "", r.reason, r.outcome ?? "", r.detail ?? ""])]
    .join("\n")
    .toLowerCase();
  return words.every((w) => haystack.includes(w));
}

/** "over XMPP, delivery confirmed", "by mail: no XMPP address", "over XMPP unconfirmed, also by mail", … */
export function routeLine(r: DeliveryRecord["recipients"][number]): { line: Text; kind: "xmpp" | "smtp" | "both" } {
  if (r.outcome === "filed" && !r.smtp) return { line: { key: "logRoute_filed", subs: [r.jid ?? ""] }, kind: "xmpp" };
  if (r.outcome !== undefined && r.outcome !== "filed") {
    const why = r.outcome === "accepted" ? "logOutcome_accepted" : r.outcome === "failed" ? "logOutcome_failed" : r.outcome === "timeout" ? "logOutcome_timeout" : "logOutcome_notSent";
    return { line: { key: why, subs: [r.jid ?? "", r.detail ?? ""] }, kind: r.outcome === "accepted" || (r.outcome === "timeout" && r.detail?.startsWith("no answer")) ? "both" : "smtp" };
  }
  return { line: smtpReasonLine(r.reason, r.jid), kind: "smtp" };
}

/** Shown before "end-to-end encrypted". */
export const E2E_MARK = "\u{1F512}";

/**
 * Whether the recipient's XMPP copy went end-to-end encrypted (protocol version 1) or as version 0 because the
 * recipient's add-on announces no keys; null when the record does not say (SMTP only, or logged before version 1).
 */
export function e2eLine(r: DeliveryRecord["recipients"][number]): { line: Text; mark: string; encrypted: boolean } | null {
  if (r.e2e === true) return { line: { key: "logE2e_encrypted" }, mark: E2E_MARK, encrypted: true };
  if (r.e2e === false && r.e2eWhyNot === "own-keys-unpublished") return { line: { key: "logE2e_ownKeysUnpublished" }, mark: "", encrypted: false };
  if (r.e2e === false) return { line: { key: "logE2e_notEncrypted" }, mark: "", encrypted: false };
  return null;
}
