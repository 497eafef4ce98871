// Unsolicited mail (issue 12, "also build"): mail over XMPP bypasses the spam filter of the user's mail provider, and
// any XMPP account can send. Senders the user has no relation with ("strangers") are limited: a few mails per hour
// per sender JID, a daily total for all strangers together, and a lower size limit. Above a limit the mail is
// answered <rejected reason="policy"/>, so its sender falls back to SMTP, where the provider's filters apply.
//
// Pure: the clock is injected; the state is a bounded, serializable list of the stranger mails admitted in the last
// 24 hours. Who is a stranger is decided by the caller (src/xmpp/stranger-gate.ts).

export interface StrangerLimits {
  /** Mails admitted per stranger JID in any rolling hour. 0 = no mail from strangers at all. */
  readonly perHour: number;
  /** Mails admitted from all strangers together in any rolling 24 hours. */
  readonly perDay: number;
  /** Largest mail (octets of RFC 5322 text) admitted from a stranger. */
  readonly maxBytes: number;
}

export const DEFAULT_STRANGER_LIMITS: StrangerLimits = Object.freeze({ perHour: 3, perDay: 20, maxBytes: 1024 * 1024 });
/** The largest values a setting or policy may give (the state below is bounded by STRANGER_PER_DAY_MAX). */
export const STRANGER_PER_HOUR_MAX = 100;
export const STRANGER_PER_DAY_MAX = 1000;
/** In KiB: the receiver's own limit for any mail (25 MiB). */
export const STRANGER_MAX_KIB_MAX = 25 * 1024;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** JIDs longer than this are not JIDs (RFC 7622: 3071 octets); stored ones are cut to keep the state small. */
const JID_STORED_MAX = 3071;

export type StrangerRefusal = "size" | "hourly" | "daily";

export type StrangerDecision = { readonly admit: true } | { readonly admit: false; readonly reason: StrangerRefusal; readonly detail: string };

export interface StrangerMail {
  /** Bare JID the servers authenticated. */
  readonly fromJid: string;
  /** Octets of the mail as the stanza states them. */
  readonly size: number;
}

interface Admitted {
  readonly jid: string;
  readonly at: number;
}

export class StrangerPolicy {
  /** Stranger mails admitted, oldest first; never more than STRANGER_PER_DAY_MAX entries, none older than a day. */
  #log: Admitted[] = [];
  readonly #now: () => number;

  /** `saved` is what toJSON() returned (anything else is ignored: a damaged state starts empty). */
  constructor(now: () => number, saved?: unknown) {
    this.#now = now;
    if (Array.isArray(saved)) {
      for (const entry of saved.slice(-STRANGER_PER_DAY_MAX)) {
        if (!Array.isArray(entry) || entry.length !== 2) continue;
        const [jid, at] = entry as unknown[];
        if (typeof jid === "string" && jid.length > 0 && jid.length <= JID_STORED_MAX && typeof at === "number" && Number.isFinite(at)) {
          this.#log.push({ jid: jid.toLowerCase(), at });
        }
      }
      this.#log.sort((a, b) => a.at - b.at);
    }
  }

  /** The size check alone: usable before a payload is downloaded (the stanza states the size). Records nothing. */
  checkSize(size: number, limits: StrangerLimits): StrangerDecision {
    if (size > limits.maxBytes) return { admit: false, reason: "size", detail: `mail from an unknown sender: ${size} octets exceeds ${limits.maxBytes}` };
    return { admit: true };
  }

  /**
   * Decides on one mail from a stranger and, when it is admitted, counts it. Mail refused is not counted, so a flood
   * of refused mail neither grows the state nor uses up the allowance of other senders.
   */
  admit(mail: StrangerMail, limits: StrangerLimits): StrangerDecision {
    const size = this.checkSize(mail.size, limits);
    if (!size.admit) return size;
    const now = this.#now();
    this.#expire(now);
    const jid = mail.fromJid.toLowerCase();
    if (this.#log.length >= Math.min(limits.perDay, STRANGER_PER_DAY_MAX)) {
      return { admit: false, reason: "daily", detail: `${this.#log.length} mails from unknown senders in 24 hours (limit ${limits.perDay})` };
    }
    const lastHour = this.#log.filter((e) => e.jid === jid && e.at > now - HOUR_MS).length;
    if (lastHour >= limits.perHour) {
      return { admit: false, reason: "hourly", detail: `${lastHour} mails from this unknown sender in the last hour (limit ${limits.perHour})` };
    }
    this.#log.push({ jid: jid.slice(0, JID_STORED_MAX), at: now });
    return { admit: true };
  }

  /** Mails counted in the last 24 hours (all strangers). */
  get countToday(): number {
    this.#expire(this.#now());
    return this.#log.length;
  }

  toJSON(): Array<[string, number]> {
    return this.#log.map((e) => [e.jid, e.at]);
  }

  /**
   * Drops what is older than a day, and entries from the future: the clock was set back, and a count that would then
   * hold for as long as the clock was moved is worse than one that restarts.
   */
  #expire(now: number): void {
    this.#log = this.#log.filter((e) => e.at > now - DAY_MS && e.at <= now);
  }
}
