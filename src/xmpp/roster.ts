// The account's XMPP roster (RFC 6121 §2), read once at every login and kept current with the server's pushes, as
// one of the relations that exempt a sender from the limits on unsolicited mail. Only JIDs are kept, at most
// ROSTER_MAX; nothing on the send path waits for it (until it is read, no one counts as a roster contact).
import xml, { type Element } from "@xmpp/xml";
import type { Logger } from "../core/log.js";
import { checkedBareJid } from "./blocklist.js";
import type { XmppSession } from "./session.js";

const NS_ROSTER = "jabber:iq:roster";
const ROSTER_MAX = 10_000;

export class Roster {
  readonly #session: XmppSession;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  #jids = new Set<string>();
  #started = false;
  /** Pushes that arrive while a roster get is under way, applied again to its answer (which may predate them). */
  #duringLoad: Element[] | null = null;

  constructor(deps: { session: XmppSession; log: Logger; timeoutMs?: number }) {
    this.#session = deps.session;
    this.#log = deps.log;
    this.#timeoutMs = deps.timeoutMs ?? 10_000;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#session.onPush((iq) => this.#onPush(iq));
    this.#session.onStatus((s) => {
      if (s.state === "online") this.load().catch((error: unknown) => this.#log.warn("roster-load-failed", { error }));
    });
  }

  has(jid: string): boolean {
    const bare = checkedBareJid(jid);
    return bare !== null && this.#jids.has(bare);
  }

  get size(): number {
    return this.#jids.size;
  }

  async load(): Promise<number> {
    const during: Element[] = [];
    this.#duringLoad = during;
    let reply: Element;
    try {
      reply = await this.#session.request(xml("iq", { type: "get" }, xml("query", { xmlns: NS_ROSTER })), this.#timeoutMs);
    } finally {
      if (this.#duringLoad === during) this.#duringLoad = null;
    }
    const next = new Set<string>();
    for (const item of reply.getChild("query", NS_ROSTER)?.getChildren("item") ?? []) {
      if (next.size >= ROSTER_MAX) break;
      const jid = checkedBareJid(String(item.attrs.jid ?? ""));
      if (jid && item.attrs.subscription !== "remove") next.add(jid);
    }
    this.#jids = next;
    for (const push of during) this.#onPush(push);
    this.#log.debug("roster-read", { entries: next.size });
    return next.size;
  }

  #onPush(iq: Element): void {
    if (this.#duringLoad && this.#duringLoad.length < 100) this.#duringLoad.push(iq);
    for (const item of iq.getChild("query", NS_ROSTER)?.getChildren("item") ?? []) {
      const jid = checkedBareJid(String(item.attrs.jid ?? ""));
      if (!jid) continue;
      if (item.attrs.subscription === "remove") this.#jids.delete(jid);
      else if (this.#jids.size < ROSTER_MAX) this.#jids.add(jid);
    }
  }
}
