// The "copy diagnostic report" text of the delivery-log page: what a supporter needs to see why mail went where it
// went, and nothing private — no addresses, no subjects, no message content, no password, no key. Pure.
import type { DeliveryRecord } from "./send-flow.js";
import type { Settings } from "./settings.js";
import { describeLimitation } from "./limitations.js";
import { limitationsOf, type SessionStatus } from "./status.js";
import { jidDomain } from "./jid.js";

export interface DiagnosticInput {
  readonly addonVersion: string;
  readonly host: string;
  readonly status: SessionStatus;
  readonly settings: Settings;
  readonly entries: readonly DeliveryRecord[];
  readonly now: Date;
}

const quantile = (xs: readonly number[], q: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};

function tally(values: Iterable<string>): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
}

/** The status without the JID's local part: "online (domain example.org)". */
function statusLine(status: SessionStatus): string {
  switch (status.state) {
    case "online":
      return `online (domain ${jidDomain(status.jid) || "?"})`;
    case "connecting":
      return `connecting (attempt ${status.attempt})`;
    case "error":
      return `error: ${status.reason.slice(0, 200)}`;
    case "auth-failed":
      return `auth-failed: ${status.reason.slice(0, 200)}`;
    case "disconnected":
      return `disconnected${status.reason ? ` (${status.reason.slice(0, 200)})` : ""}`;
  }
}

/** One line per limitation of the account's server ("limitation: capability — …"), or "limitations: none known". */
function limitationLines(status: SessionStatus, now: Date): string[] {
  const list = limitationsOf(status);
  if (status.state !== "online") return [];
  if (list.length === 0) return ["limitations: none known"];
  return list.map((l) => {
    const retry = l.feature === "capability" && l.retryAt !== undefined ? ` [next try in ${Math.max(0, Math.round((l.retryAt - now.getTime()) / 1000))} s]` : "";
    return `limitation: ${l.feature} — ${describeLimitation(l)}${retry}`;
  });
}

export function diagnosticReport(input: DiagnosticInput): string {
  const { settings, entries } = input;
  const domain = jidDomain(settings.jid);
  const lines = [
    "Mail over XMPP — diagnostic report (no addresses, subjects, content or passwords)",
    `created: ${input.now.toISOString()}`,
    `add-on: ${input.addonVersion}; host: ${input.host}`,
    `session: ${statusLine(input.status)}`,
    ...limitationLines(input.status, input.now),
    `settings: enabled ${settings.enabled}, account domain ${domain || "(none)"}, WebSocket URL ${settings.websocketUrl ? "set" : "discovered"}, ` +
      `routePolicy ${settings.routePolicy}, sendHoldSeconds ${settings.sendHoldSeconds}, xmppDomains ${settings.xmppDomains ? settings.xmppDomains.split(/[\s,;]+/).filter(Boolean).length : 0} listed, ` +
      `announceJid ${settings.announceJid}, learnJids ${settings.learnJids}, unknownSenders ${settings.unknownSenders}, receiveFolder ${settings.receiveFolder ? "chosen" : "default"}, e2ePreview ${settings.e2ePreview}, logLevel ${settings.logLevel}`,
    `sends logged: ${entries.length}; results: ${tally(entries.map((e) => e.result))}`,
    `recipient reasons: ${tally(entries.flatMap((e) => e.recipients.map((r) => r.reason)))}`,
    `XMPP outcomes: ${tally(entries.flatMap((e) => e.recipients.flatMap((r) => (r.outcome ? [r.outcome] : []))))}`,
    `end-to-end encryption (XMPP copies): ${tally(entries.flatMap((e) => e.recipients.flatMap((r) => (r.e2e === undefined ? [] : [r.e2e ? "encrypted" : "not encrypted"]))))}`,
    `hold: p50 ${quantile(entries.map((e) => e.holdMs), 0.5)} ms, p99 ${quantile(entries.map((e) => e.holdMs), 0.99)} ms`,
    "last sends (newest first):",
  ];
  for (const e of [...entries].reverse().slice(0, 30)) {
    const outcomes = e.recipients.map((r) => `${r.field}:${r.reason}${r.outcome ? `/${r.outcome}` : ""}${r.e2e === undefined ? "" : r.e2e ? "+e2e" : "+v0"}${r.smtp ? "+smtp" : ""}`).join(" ");
    lines.push(`  ${new Date(e.at).toISOString()} ${e.result} hold ${e.holdMs} ms [${outcomes}]${e.error ? ` error: ${e.error.slice(0, 120).replace(/[^\x20-\x7e]/g, "?")}` : ""}`);
  }
  return lines.join("\n") + "\n";
}
