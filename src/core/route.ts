// The send decision: which recipients get this mail over XMPP and which by SMTP, each with the reason. Pure and
// synchronous: resolutions and capabilities are looked up by the caller; what is not known yet is listed in
// `needsLookup` so the caller can ask the network (with a deadline) and decide again.
import { parseAddressList } from "./mime/address.js";
import { isValidBareJid, type Resolution } from "./resolve.js";

export type RecipientField = "to" | "cc" | "bcc";

export interface RouteMessage {
  readonly recipients: ReadonlyArray<{ readonly address: string; readonly field: RecipientField }>;
  /** Thunderbird's selected encryption technology and what it will do with it; null when none is selected. */
  readonly encryption: null | {
    readonly name: string;
    readonly encryptBody: boolean;
    readonly encryptSubject?: boolean;
    readonly signMessage: boolean;
  };
  /** The user switched XMPP delivery off for this message. */
  readonly xmppSwitchedOff: boolean;
  /**
   * The mail is sent from an address not bound to the XMPP account (settings.xmppIdentities): its recipients would
   * see the From address unverified, so all of it goes by SMTP. Absent = not checked (callers without identities).
   */
  readonly fromUnbound?: boolean;
  readonly mode: "sendNow" | "sendLater";
  readonly hasNewsgroups: boolean;
  /** Can the message go over XMPP at all (size limits, upload service). */
  readonly sizePath: "inline" | "external" | "none";
}

export interface RouteKnowledge {
  /** The XMPP session is up. */
  readonly online: boolean;
  /** Keyed by the recipient's `address` exactly as in `RouteMessage.recipients`; a missing entry means "no JID". */
  readonly resolutions: ReadonlyMap<string, Resolution>;
  /** Keyed by JID (exact, or lower case); a missing entry counts as "unknown". */
  readonly capable: ReadonlyMap<string, boolean | "unknown">;
}

export interface RoutePolicy {
  readonly mode: "whole-message" | "split";
  readonly sendLater: "smtp" | "route-now";
}

export type RecipientReason =
  | "xmpp"
  | "offline"
  | "no-jid"
  | "not-capable"
  | "capability-unknown"
  | "encrypted"
  | "signed"
  | "switched-off"
  | "unbound-identity"
  | "too-large"
  | "send-later"
  | "newsgroup"
  | "policy-whole-message";

export interface Decision {
  readonly xmpp: ReadonlyArray<{ address: string; jid: string; field: RecipientField }>;
  readonly smtp: ReadonlyArray<{ address: string; field: RecipientField }>;
  /** Every recipient `address` string of the message (duplicates included) → why it goes where it goes. */
  readonly reasons: ReadonlyMap<string, RecipientReason>;
  /** JIDs whose capability is unknown and would change the decision: ask the network with a short deadline, then decide again. */
  readonly needsLookup: readonly string[];
  /** One line for the delivery log (counts and reasons, no addresses). */
  readonly summary: string;
}

/** Reasons that apply to the whole message, strongest first: the first that applies is every recipient's reason. */
type MessageBlock = "switched-off" | "unbound-identity" | "encrypted" | "signed" | "newsgroup" | "send-later" | "too-large" | "offline";

/** Every reason that sends the whole message by SMTP before any recipient is looked at, in precedence order. */
function messageBlocks(message: RouteMessage, knowledge: RouteKnowledge, policy: RoutePolicy): MessageBlock[] {
  const blocks: MessageBlock[] = [];
  if (message.xmppSwitchedOff) blocks.push("switched-off");
  if (message.fromUnbound === true) blocks.push("unbound-identity");
  // An XMPP-delivered mail bypasses Thunderbird's OpenPGP/S-MIME step. A technology selected with nothing to do is
  // no protection; the subject is only protected inside an encrypted body, so encryptSubject alone does not count.
  if (message.encryption?.encryptBody === true) blocks.push("encrypted");
  if (message.encryption?.signMessage === true) blocks.push("signed");
  const newsgroupRecipient = message.recipients.some((r) => {
    const res = knowledge.resolutions.get(r.address);
    return res !== undefined && res.jid === null && res.why === "newsgroup";
  });
  if (message.hasNewsgroups || newsgroupRecipient) blocks.push("newsgroup");
  if (message.mode === "sendLater" && policy.sendLater === "smtp") blocks.push("send-later");
  if (message.sizePath === "none") blocks.push("too-large");
  if (!knowledge.online) blocks.push("offline");
  return blocks;
}

/** One distinct recipient: all its occurrences in To/Cc/Bcc, decided once. */
interface Distinct {
  readonly address: string;
  field: RecipientField;
  readonly spellings: string[];
}

const FIELD_RANK: Readonly<Record<RecipientField, number>> = { to: 0, cc: 1, bcc: 2 };

/** The identity of a recipient: its addr-spec in lower case ("Bob <B@x>" and "b@x" are one), else the text itself. */
export function recipientKey(address: string): string {
  const parsed = parseAddressList(address);
  const only = parsed.length === 1 ? parsed[0]!.address : "";
  return (only.includes("@") ? only : address.trim()).toLowerCase();
}

/**
 * Groups the recipients by identity, in order of first appearance. A recipient listed more than once keeps the most
 * visible field (to > cc > bcc): it already sees itself in To/Cc, so nothing is hidden by treating it so.
 */
function distinctRecipients(message: RouteMessage): Distinct[] {
  const byKey = new Map<string, Distinct>();
  for (const r of message.recipients) {
    const key = recipientKey(r.address);
    const seen = byKey.get(key);
    if (seen === undefined) byKey.set(key, { address: r.address, field: r.field, spellings: [r.address] });
    else {
      if (FIELD_RANK[r.field] < FIELD_RANK[seen.field]) seen.field = r.field;
      if (!seen.spellings.includes(r.address)) seen.spellings.push(r.address);
    }
  }
  return [...byKey.values()];
}

function jidOf(d: Distinct, knowledge: RouteKnowledge): string | null {
  for (const spelling of d.spellings) {
    const res = knowledge.resolutions.get(spelling);
    if (res !== undefined) return res.jid !== null && isValidBareJid(res.jid) ? res.jid : null;
  }
  return null;
}

function capabilityOf(jid: string, knowledge: RouteKnowledge): boolean | "unknown" {
  return knowledge.capable.get(jid) ?? knowledge.capable.get(jid.toLowerCase()) ?? "unknown";
}

type Verdict = { readonly ok: true; readonly jid: string } | { readonly ok: false; readonly reason: RecipientReason; readonly lookup?: string };

function judge(d: Distinct, knowledge: RouteKnowledge): Verdict {
  const jid = jidOf(d, knowledge);
  if (jid === null) return { ok: false, reason: "no-jid" };
  const capable = capabilityOf(jid, knowledge);
  if (capable === true) return { ok: true, jid };
  if (capable === false) return { ok: false, reason: "not-capable" };
  return { ok: false, reason: "capability-unknown", lookup: jid };
}

/**
 * Decides the route of one message. Everything goes by SMTP when XMPP is switched off, the From address is not bound
 * to the XMPP account, the message is to be
 * encrypted or signed, it has newsgroups, it is sent later and the policy leaves that to SMTP, it cannot go over
 * XMPP (size), or the session is offline — each recipient then carries that reason and nothing is looked up.
 * Otherwise a recipient qualifies only with a JID whose capability is known to be true; "whole-message" sends over
 * XMPP only when every recipient qualifies, "split" sends the qualifying ones over XMPP and the rest by SMTP.
 * Unknown capability counts as not capable here and is listed in `needsLookup` when the answer could change the
 * decision (never when a recipient already forces the whole message to SMTP).
 */
export function decideRoute(message: RouteMessage, knowledge: RouteKnowledge, policy: RoutePolicy): Decision {
  const distinct = distinctRecipients(message);
  const blocks = messageBlocks(message, knowledge, policy);
  const xmpp: Array<{ address: string; jid: string; field: RecipientField }> = [];
  const smtp: Array<{ address: string; field: RecipientField }> = [];
  const reasonOf = new Map<Distinct, RecipientReason>();
  let lookups: string[] = [];

  const toSmtp = (d: Distinct, reason: RecipientReason) => {
    smtp.push({ address: d.address, field: d.field });
    reasonOf.set(d, reason);
  };

  const block = blocks[0];
  if (block !== undefined) {
    for (const d of distinct) toSmtp(d, block);
  } else {
    const verdicts = distinct.map((d) => [d, judge(d, knowledge)] as const);
    for (const [, v] of verdicts) if (!v.ok && v.lookup !== undefined) lookups.push(v.lookup);
    const allQualify = verdicts.every(([, v]) => v.ok);
    if (policy.mode === "whole-message" && !allQualify) {
      // Waiting for a lookup only helps if every other recipient already qualifies.
      const hopeless = verdicts.some(([, v]) => !v.ok && v.reason !== "capability-unknown");
      if (hopeless) lookups = [];
      for (const [d, v] of verdicts) toSmtp(d, v.ok ? "policy-whole-message" : v.reason);
    } else {
      for (const [d, v] of verdicts) {
        if (v.ok) {
          xmpp.push({ address: d.address, jid: v.jid, field: d.field });
          reasonOf.set(d, "xmpp");
        } else toSmtp(d, v.reason);
      }
    }
  }

  const reasons = new Map<string, RecipientReason>();
  for (const d of distinct) for (const s of d.spellings) reasons.set(s, reasonOf.get(d)!);
  const needsLookup = dedupeJids(lookups);
  return { xmpp, smtp, reasons, needsLookup, summary: summarize(policy, blocks, xmpp.length, smtp.length, reasonOf, needsLookup.length) };
}

function dedupeJids(jids: readonly string[]): string[] {
  const seen = new Set<string>();
  return jids.filter((j) => {
    const key = j.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** e.g. "whole-message: 0 xmpp, 3 smtp [encrypted 3] (also: offline)" or "split: 2 xmpp, 1 smtp [xmpp 2, no-jid 1]; 1 lookup". */
function summarize(
  policy: RoutePolicy,
  blocks: readonly MessageBlock[],
  xmppCount: number,
  smtpCount: number,
  reasonOf: ReadonlyMap<Distinct, RecipientReason>,
  lookupCount: number,
): string {
  const counts = new Map<RecipientReason, number>();
  for (const r of reasonOf.values()) counts.set(r, (counts.get(r) ?? 0) + 1);
  const tally = [...counts].map(([r, n]) => `${r} ${n}`).join(", ");
  let line = `${policy.mode}: ${xmppCount} xmpp, ${smtpCount} smtp`;
  if (tally !== "") line += ` [${tally}]`;
  if (blocks.length > 1) line += ` (also: ${blocks.slice(1).join(", ")})`;
  if (lookupCount > 0) line += `; ${lookupCount} lookup${lookupCount === 1 ? "" : "s"}`;
  return line;
}
