// The receiver's admission check (MailReceiverDeps.admit): the block list, then the limits on mail from senders the
// user has no relation with (src/core/stranger-policy.ts), with the counters kept in storage across restarts.
//
// A sender has a relation with the user (and is not limited) when its JID is in the XMPP roster, in the address book
// (a contact's XMPP field), or among the JIDs the user sent mail to over XMPP; or when the mail's From was verified
// and is a confirmed mapping, an address-book contact holding the JID, or an address in any address book — which
// includes Thunderbird's "Collected Addresses", where Thunderbird puts the addresses the user writes to.
import type { Logger } from "../core/log.js";
import { DedupeSet } from "../core/receive-rules.js";
import { StrangerPolicy, type StrangerLimits } from "../core/stranger-policy.js";
import type { AdmitDecision, AdmitInfo, KeyValueStore } from "./receiver.js";

const COUNTERS_KEY = "strangers";
const SENT_TO_KEY = "sentTo";
/** JIDs the user sent mail to over XMPP that are remembered (most recent kept). */
export const SENT_TO_MAX = 2000;

export interface StrangerGateDeps {
  readonly store: KeyValueStore;
  readonly log: Logger;
  readonly limits: () => StrangerLimits;
  readonly now?: () => number;
  readonly isBlocked?: (jid: string) => boolean | Promise<boolean>;
  readonly inRoster?: (jid: string) => boolean;
  /** Is the JID in the address book (a contact's XMPP field)? */
  readonly jidKnown?: (jid: string) => Promise<boolean>;
  /** Is the (verified) address in an address book, Collected Addresses included? */
  readonly addressKnown?: (address: string) => Promise<boolean>;
}

export class StrangerGate {
  readonly #deps: StrangerGateDeps;
  #policy: Promise<StrangerPolicy> | null = null;
  #sentTo: Promise<DedupeSet> | null = null;

  constructor(deps: StrangerGateDeps) {
    this.#deps = deps;
  }

  /** MailReceiverDeps.admit. */
  readonly admit = async (info: AdmitInfo): Promise<AdmitDecision> => {
    const jid = info.fromJid.toLowerCase();
    if (await this.#deps.isBlocked?.(jid)) return { admit: false, detail: "sender is blocked" };
    const limits = this.#deps.limits();
    const policy = await this.#loadPolicy();
    if (await this.#jidRelation(jid, info.sender?.known ?? false)) return { admit: true };
    if (info.sender === null) {
      // Before the download only the size can be judged; a From the user wrote to is not known yet, so a large
      // mail from a JID without a relation goes by SMTP even when its From would have exempted it.
      const size = policy.checkSize(info.size, limits);
      return size.admit ? size : { admit: false, detail: size.detail };
    }
    if (await this.#addressRelation(info.sender)) return { admit: true };
    const decision = policy.admit({ fromJid: jid, size: info.size }, limits);
    if (!decision.admit) return { admit: false, detail: decision.detail };
    await this.#deps.store.set(COUNTERS_KEY, policy.toJSON());
    return decision;
  };

  /** The user sent mail to this JID over XMPP: from now on it is not a stranger. */
  async rememberSentTo(jid: string): Promise<void> {
    const set = await this.#loadSentTo();
    set.add(jid.toLowerCase());
    await this.#deps.store.set(SENT_TO_KEY, set.toJSON());
  }

  async #jidRelation(jid: string, knownByDirectory: boolean): Promise<boolean> {
    if (knownByDirectory || this.#deps.inRoster?.(jid)) return true;
    if ((await this.#loadSentTo()).has(jid)) return true;
    return (await this.#deps.jidKnown?.(jid)) ?? false;
  }

  async #addressRelation(sender: NonNullable<AdmitInfo["sender"]>): Promise<boolean> {
    if (!sender.verified) return false;
    if (sender.how === "confirmed-mapping" || sender.how === "address-book") return true;
    return sender.fromAddress !== null && ((await this.#deps.addressKnown?.(sender.fromAddress)) ?? false);
  }

  #loadPolicy(): Promise<StrangerPolicy> {
    const now = this.#deps.now ?? Date.now;
    this.#policy ??= this.#deps.store.get(COUNTERS_KEY).then(
      (saved) => new StrangerPolicy(now, saved),
      (error: unknown) => {
        this.#deps.log.warn("stranger-counters-load-failed", { error });
        return new StrangerPolicy(now);
      },
    );
    return this.#policy;
  }

  #loadSentTo(): Promise<DedupeSet> {
    this.#sentTo ??= this.#deps.store.get(SENT_TO_KEY).then(
      (saved) => new DedupeSet(SENT_TO_MAX, saved),
      () => new DedupeSet(SENT_TO_MAX),
    );
    return this.#sentTo;
  }
}
