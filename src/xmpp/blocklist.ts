// The account's block list (XEP-0191 Blocking Command) and, where the server has none, a local one.
//
// At every login the server is asked (disco#info on its domain) whether it offers urn:xmpp:blocking. If it does, the
// list is fetched (<blocklist/> get) and kept in sync with the server's pushes (<block/>, <unblock/>); blocking a JID
// is an iq set, after which the server drops its stanzas. The receiver still refuses MAM and carbon copies from a
// blocked JID (what was archived before the block, or arrives by a path the server does not filter). If the server
// does not offer it, blocking is local: the JID is kept in storage and the receiver answers its mail "policy" (the
// sender falls back to SMTP, where the provider's filters apply). Both lists are bounded.
import xml, { type Element } from "@xmpp/xml";
import jidParse from "@xmpp/jid";
import { NS_DISCO_INFO } from "../core/caps.js";
import { isValidBareJid } from "../core/resolve.js";
import type { Logger } from "../core/log.js";
import type { KeyValueStore } from "./receiver.js";
import type { XmppSession } from "./session.js";
import { jidDomain } from "../core/jid.js";
import { valueWithin } from "../core/scheduler.js";
import { realScheduler } from "./runtime.js";

export const NS_BLOCKING = "urn:xmpp:blocking";
/** Most JIDs kept (server list as read, or local list); a longer server list is cut, and the cut logged. */
export const BLOCKLIST_MAX = 10_000;
const LOCAL_KEY = "localBlocklist";
const JID_MAX = 3071;

/** "server": the account's XEP-0191 list; "local": this add-on's own; "unknown": not yet asked (or no answer). */
export type BlockMode = "server" | "local" | "unknown";

export interface BlockListDeps {
  readonly session: XmppSession;
  readonly store: KeyValueStore;
  readonly log: Logger;
  readonly timeoutMs?: number;
}

/** A bare JID, lower case, or null when it is not one (parsed and checked; core/jid.ts only splits). */
export function checkedBareJid(jid: string): string | null {
  if (jid.length === 0 || jid.length > JID_MAX) return null;
  try {
    const j = jidParse(jid);
    if (!j.domain) return null;
    const bare = j.bare().toString().toLowerCase();
    // A domain alone (XEP-0191 blocks whole domains) is checked as if it had a local part.
    return isValidBareJid(j.local ? bare : `x@${bare}`) ? bare : null;
  } catch {
    return null;
  }
}

export class BlockList {
  readonly #deps: BlockListDeps;
  #server = new Set<string>();
  #local = new Set<string>();
  #localLoaded: Promise<void> | null = null;
  #mode: BlockMode = "unknown";
  #started = false;
  /** The sync of the current login, while it runs. */
  #syncing: Promise<unknown> | null = null;

  constructor(deps: BlockListDeps) {
    this.#deps = deps;
  }

  get mode(): BlockMode {
    return this.#mode;
  }

  /** Follows the session: reads the list at every login, applies pushes. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    const { session, log } = this.#deps;
    session.onPush((iq) => this.#onPush(iq));
    session.onStatus((s) => {
      if (s.state !== "online") return;
      const run = this.sync().catch((error: unknown) => log.warn("blocklist-sync-failed", { error }));
      this.#syncing = run;
      void run.finally(() => {
        if (this.#syncing === run) this.#syncing = null;
      });
    });
    void this.#loadLocal();
  }

  /** Asks the server whether it blocks, and reads its list. Resolves with the mode found. */
  async sync(): Promise<BlockMode> {
    const { session, log } = this.#deps;
    const timeoutMs = this.#deps.timeoutMs ?? 10_000;
    await this.#loadLocal();
    const full = session.jid;
    if (!full) return this.#mode;
    const domain = jidParse(full).domain;
    let supported: boolean;
    try {
      const info = await session.request(xml("iq", { type: "get", to: domain }, xml("query", { xmlns: NS_DISCO_INFO })), timeoutMs);
      supported = (info.getChild("query", NS_DISCO_INFO)?.getChildren("feature") ?? []).some((f) => f.attrs.var === NS_BLOCKING);
    } catch (error) {
      // No answer: keep what we knew. An error answer: the domain offers nothing, so no blocking either.
      if (!(error instanceof Error && error.name === "StanzaError")) throw error;
      supported = false;
    }
    if (!supported) {
      this.#mode = "local";
      log.info("blocklist-local", { entries: this.#local.size });
      return this.#mode;
    }
    const reply = await session.request(xml("iq", { type: "get" }, xml("blocklist", { xmlns: NS_BLOCKING })), timeoutMs);
    const items = reply.getChild("blocklist", NS_BLOCKING)?.getChildren("item") ?? [];
    const next = new Set<string>();
    for (const item of items) {
      if (next.size >= BLOCKLIST_MAX) {
        log.warn("blocklist-cut", { kept: BLOCKLIST_MAX, listed: items.length });
        break;
      }
      const jid = checkedBareJid(String(item.attrs.jid ?? ""));
      if (jid) next.add(jid);
    }
    this.#server = next;
    this.#mode = "server";
    // JIDs blocked locally while the server had no blocking (or before this account used it): hand them over.
    for (const jid of this.#local) if (!next.has(jid)) await this.#serverBlock(jid).catch((error: unknown) => log.warn("blocklist-handover-failed", { error }));
    log.info("blocklist-read", { entries: next.size });
    return this.#mode;
  }

  /**
   * Resolves once the list of the current login is read (at most `timeoutMs`): mail handled right after a login
   * (offline storage, MAM catch-up) is checked against the list the server has, not the one of the last session.
   */
  async settled(timeoutMs = 10_000): Promise<void> {
    const running = this.#syncing;
    await this.#loadLocal();
    if (!running) return;
    await valueWithin(realScheduler, running, timeoutMs, () => undefined);
  }

  /**
   * Is mail from this JID refused? A blocked domain (an item without a local part) blocks every account there,
   * as XEP-0191 §3.5 has the server do.
   */
  isBlocked(jid: string): boolean {
    const bare = checkedBareJid(jid);
    if (!bare) return false;
    const domain = jidDomain(bare);
    return this.#server.has(bare) || this.#local.has(bare) || this.#server.has(domain) || this.#local.has(domain);
  }

  /** Blocks a JID: on the server when it offers blocking (also kept locally until it confirms), else locally. */
  async block(jid: string): Promise<BlockMode> {
    const bare = checkedBareJid(jid);
    if (!bare) throw new Error("not a JID");
    await this.#loadLocal();
    if (this.#mode === "unknown" && this.#deps.session.status.state === "online") await this.sync().catch(() => undefined);
    if (this.#mode === "server") {
      await this.#serverBlock(bare);
      this.#server.add(bare);
      return "server";
    }
    await this.#addLocal(bare);
    return "local";
  }

  /** How many JIDs are blocked, for the options page. */
  get size(): number {
    return new Set([...this.#server, ...this.#local]).size;
  }

  async #serverBlock(jid: string): Promise<void> {
    await this.#deps.session.request(
      xml("iq", { type: "set" }, xml("block", { xmlns: NS_BLOCKING }, xml("item", { jid }))),
      this.#deps.timeoutMs ?? 10_000,
    );
    // On the server now: the local copy is no longer needed.
    if (this.#local.delete(jid)) await this.#deps.store.set(LOCAL_KEY, [...this.#local]);
  }

  async #addLocal(jid: string): Promise<void> {
    this.#local.delete(jid);
    this.#local.add(jid);
    while (this.#local.size > BLOCKLIST_MAX) this.#local.delete(this.#local.values().next().value!);
    await this.#deps.store.set(LOCAL_KEY, [...this.#local]);
  }

  #loadLocal(): Promise<void> {
    this.#localLoaded ??= this.#deps.store.get(LOCAL_KEY).then(
      (saved) => {
        if (!Array.isArray(saved)) return;
        for (const j of saved.slice(-BLOCKLIST_MAX)) {
          const bare = typeof j === "string" ? checkedBareJid(j) : null;
          if (bare) this.#local.add(bare);
        }
      },
      (error: unknown) => this.#deps.log.warn("blocklist-load-failed", { error }),
    );
    return this.#localLoaded;
  }

  #onPush(iq: Element): void {
    const block = iq.getChild("block", NS_BLOCKING);
    const unblock = iq.getChild("unblock", NS_BLOCKING);
    if (!block && !unblock) return;
    const jids = (block ?? unblock)!
      .getChildren("item")
      .map((i) => checkedBareJid(String(i.attrs.jid ?? "")))
      .filter((j): j is string => j !== null);
    if (block) {
      for (const jid of jids) if (this.#server.size < BLOCKLIST_MAX) this.#server.add(jid);
    } else if (jids.length === 0) {
      this.#server.clear(); // <unblock/> without items: everything unblocked
    } else {
      for (const jid of jids) this.#server.delete(jid);
    }
    this.#deps.log.info("blocklist-push", { kind: block ? "block" : "unblock", items: jids.length });
  }
}
