// The account's other Thunderbirds (docs/protocol.md §6, "Several Thunderbirds on one account"): which other resources
// of our own account run the add-on (their presence carries our XEP-0115 caps node; a client receives the presence of
// its own other resources), and the small exchange between them that keeps one mail from being filed twice into an
// IMAP folder they all see (src/core/shared-folder.ts has the rule):
//
//   <message to="bob@example.org/thunderbird-0a1b2c3d" type="normal">
//     <filing xmlns="https://mailoverxmpp.net/protocol/sibling/0" state="query|not-yet|filing|filed|failed"
//             sender="alice@example.org" origin-id="…" folder="imap|…"/>   (folder: with not-yet, filing, filed)
//     <no-store xmlns="urn:xmpp:hints"/><no-copy xmlns="urn:xmpp:hints"/>
//   </message>
//
// Only stanzas from our own bare JID with another resource count (the server stamps `from`); anything else is dropped.
import xml, { type Element } from "@xmpp/xml";
import jidParse from "@xmpp/jid";
import type { Logger } from "../core/log.js";
import { NS_CAPS } from "../core/caps.js";
import { CAPS_NODE, NS_SIBLING } from "../core/protocol.js";
import { localFolderKey, siblingMailKey, type SiblingWord } from "../core/shared-folder.js";
import type { XmppSession } from "./session.js";

const NS_HINTS = "urn:xmpp:hints";
const MAX_ATTR = 1024;
/** Words kept for mails not (yet) being filed here: a notice can arrive before this Thunderbird got the mail. */
const MAX_BUFFERED = 500;
const BUFFER_MS = 10 * 60_000;
/**
 * After a fresh login the server sends the presence of our other online resources right after our own initial
 * presence; until this much time has passed, "no siblings" may only mean "not heard of them yet".
 */
const PRESENCE_SETTLE_MS = 1_500;

export interface SiblingTrackerDeps {
  readonly session: XmppSession;
  readonly log: Logger;
  /** The folder key this Thunderbird filed a mail into (its ledger), for answering a sibling's query. */
  readonly filedInto: (mailKey: string) => string | undefined | Promise<string | undefined>;
  /**
   * The shared folder key this Thunderbird files mail into now, null for a folder only it sees (sent with "not yet":
   * the asker elects its filer among those filing where it files). Default: unknown (no folder sent).
   */
  readonly ownFolderKey?: () => Promise<string | null>;
  readonly now?: () => number;
  readonly settleMs?: number;
}

interface Buffered {
  readonly at: number;
  readonly words: Map<string, SiblingWord>;
}

export class SiblingTracker {
  readonly #deps: SiblingTrackerDeps;
  /** Online add-on resources of our account other than us: resource → full JID. */
  readonly #siblings = new Map<string, string>();
  readonly #words = new Map<string, Buffered>();
  readonly #waiters = new Set<() => void>();
  #off: Array<() => void> = [];
  /** When the current session came online (Date.now()), or null while it is not online. */
  #onlineSince: number | null = null;

  constructor(deps: SiblingTrackerDeps) {
    this.#deps = deps;
  }

  start(): void {
    if (this.#off.length > 0) return;
    const { session } = this.#deps;
    this.#off.push(session.onStanza((stanza) => this.#onStanza(stanza)));
    this.#off.push(
      session.onStatus((s) => {
        if (s.state === "online") this.#onlineSince ??= (this.#deps.now ?? Date.now)();
        // A fresh login gets every sibling's presence again; a resumed stream keeps what we knew.
        if (s.state === "disconnected" || s.state === "auth-failed") {
          this.#siblings.clear();
          this.#onlineSince = null;
        }
      }),
    );
  }

  stop(): void {
    for (const off of this.#off) off();
    this.#off = [];
    this.#siblings.clear();
    for (const wake of this.#waiters) wake();
  }

  /** This Thunderbird's resource while online, else null. */
  get self(): string | null {
    const jid = this.#deps.session.jid;
    return jid ? jidParse(jid).resource || null : null;
  }

  /**
   * Resolves once the siblings are known: PRESENCE_SETTLE_MS after this session came online (at once later on). A
   * mail caught up from the archive right after login would otherwise be filed as if this Thunderbird were alone.
   */
  async settled(): Promise<void> {
    const since = this.#onlineSince ?? (this.#deps.now ?? Date.now)();
    const left = since + (this.#deps.settleMs ?? PRESENCE_SETTLE_MS) - (this.#deps.now ?? Date.now)();
    if (left > 0) await new Promise<void>((resolve) => setTimeout(resolve, left));
  }

  /** The other online resources of the account that run the add-on (resource names). */
  siblings(): string[] {
    return [...this.#siblings.keys()].sort();
  }

  /** What siblings said about this mail so far. */
  words(sender: string, originId: string): Map<string, SiblingWord> {
    return new Map(this.#words.get(siblingMailKey(sender, originId))?.words ?? []);
  }

  /**
   * Asks every sibling whether it filed this mail; resolves with all words once every sibling answered, at the latest
   * after timeoutMs (those that did not answer are simply missing).
   */
  async ask(sender: string, originId: string, timeoutMs: number): Promise<Map<string, SiblingWord>> {
    const asked = this.siblings();
    for (const r of asked) this.#send(r, "query", sender, originId);
    await this.#until(() => {
      const w = this.words(sender, originId);
      return asked.every((r) => w.has(r) || !this.#siblings.has(r));
    }, timeoutMs);
    return this.words(sender, originId);
  }

  /** Waits until `resource` says something final ("filed" or "failed") about this mail, or timeoutMs passed. */
  async waitFor(resource: string, sender: string, originId: string, timeoutMs: number): Promise<Map<string, SiblingWord>> {
    await this.#until(() => {
      const word = this.words(sender, originId).get(resource);
      return word !== undefined && word.state !== "not-yet" && word.state !== "filing";
    }, timeoutMs);
    return this.words(sender, originId);
  }

  /** Tells every sibling the outcome of filing this mail here. */
  announce(sender: string, originId: string, word: Exclude<SiblingWord, { state: "not-yet" }>): void {
    for (const r of this.siblings()) this.#send(r, word.state, sender, originId, "folder" in word ? word.folder : undefined);
  }

  // ---------------------------------------------------------------------------------------------------------------

  #until(done: () => boolean, timeoutMs: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (done() || this.#off.length === 0) finish();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.#waiters.add(check);
    });
  }

  #send(resource: string, state: string, sender: string, originId: string, folder?: string): void {
    const to = this.#siblings.get(resource);
    if (!to) return;
    const stanza = xml(
      "message",
      { to, type: "normal" },
      xml("filing", { xmlns: NS_SIBLING, state, sender, "origin-id": originId, ...(folder !== undefined ? { folder } : {}) }),
      xml("no-store", { xmlns: NS_HINTS }),
      xml("no-copy", { xmlns: NS_HINTS }),
    );
    void this.#deps.session.send(stanza, 10_000).then((outcome) => {
      if (outcome.status === "failed" || outcome.status === "timeout") this.#deps.log.debug("sibling-word-not-sent", { to: resource, state, status: outcome.status });
    });
  }

  /** The resource of a stanza from another resource of our own account, else null. */
  #ownOtherResource(from: string | undefined): string | null {
    const own = this.#deps.session.jid;
    if (!from || !own) return null;
    let f;
    try {
      f = jidParse(from);
    } catch {
      return null;
    }
    if (!f.resource || f.bare().toString().toLowerCase() !== jidParse(own).bare().toString().toLowerCase()) return null;
    if (from === own) return null;
    return f.resource;
  }

  #onStanza(stanza: Element): void {
    if (stanza.is("presence")) return this.#onPresence(stanza);
    if (!stanza.is("message")) return;
    const filing = stanza.getChild("filing", NS_SIBLING);
    if (!filing) return;
    const resource = this.#ownOtherResource(stanza.attrs.from);
    if (resource === null) {
      // Before we are online (a word the server kept for our resource's previous session) we cannot check the sender.
      if (this.#deps.session.jid === null) this.#deps.log.debug("sibling-word-before-online", { from: String(stanza.attrs.from ?? "") });
      else this.#deps.log.warn("sibling-word-dropped", { from: String(stanza.attrs.from ?? "") });
      return;
    }
    const { state, sender, folder } = filing.attrs as Record<string, string | undefined>;
    const originId = filing.attrs["origin-id"] as string | undefined;
    if (!sender || !originId || sender.length > MAX_ATTR || originId.length > MAX_ATTR || (folder?.length ?? 0) > MAX_ATTR) return;
    // Whoever talks to us about filing runs the add-on, whether or not its presence reached us yet.
    if (!this.#siblings.has(resource)) {
      this.#deps.log.info("sibling-online", { resource, by: "word" });
      this.#siblings.set(resource, stanza.attrs.from!);
    }
    const mailKey = siblingMailKey(sender, originId);
    switch (state) {
      case "query":
        void this.#answer(resource, sender, originId, mailKey);
        return;
      case "filed":
      case "filing":
        if (folder === undefined) return;
        this.#record(mailKey, resource, { state, folder });
        return;
      case "not-yet":
        this.#record(mailKey, resource, folder === undefined ? { state } : { state, folder });
        return;
      case "failed":
        this.#record(mailKey, resource, { state });
        return;
      default:
        return;
    }
  }

  /** "filed" from the ledger, else "not-yet" with the folder key this Thunderbird files into now. */
  async #answer(resource: string, sender: string, originId: string, mailKey: string): Promise<void> {
    const into = await Promise.resolve(this.#deps.filedInto(mailKey)).catch(() => undefined);
    if (into !== undefined) return this.#send(resource, "filed", sender, originId, into);
    const own = await (this.#deps.ownFolderKey?.() ?? Promise.reject(new Error("unknown"))).then(
      (key) => key ?? localFolderKey(this.self ?? ""),
      () => undefined,
    );
    this.#send(resource, "not-yet", sender, originId, own);
  }

  #onPresence(stanza: Element): void {
    const resource = this.#ownOtherResource(stanza.attrs.from);
    if (resource === null) return;
    const type = stanza.attrs.type as string | undefined;
    if (type === "unavailable" || type === "error") {
      if (this.#siblings.delete(resource)) this.#deps.log.info("sibling-offline", { resource });
      this.#wake();
      return;
    }
    if (type !== undefined) return; // subscription requests and the like
    const caps = stanza.getChild("c", NS_CAPS);
    if (caps?.attrs.node === CAPS_NODE) {
      if (!this.#siblings.has(resource)) this.#deps.log.info("sibling-online", { resource });
      this.#siblings.set(resource, stanza.attrs.from!);
    } else {
      this.#siblings.delete(resource);
    }
    this.#wake();
  }

  #record(mailKey: string, resource: string, word: SiblingWord): void {
    const now = (this.#deps.now ?? Date.now)();
    for (const [key, b] of this.#words) {
      if (this.#words.size <= MAX_BUFFERED && now - b.at < BUFFER_MS) break;
      this.#words.delete(key);
    }
    const entry = this.#words.get(mailKey) ?? { at: now, words: new Map<string, SiblingWord>() };
    const before = entry.words.get(resource);
    // A final word is not taken back by a later "not yet" or "filing" (answers and notices may cross).
    const final = (w: SiblingWord | undefined) => w?.state === "filed" || w?.state === "failed";
    if (!(final(before) && !final(word))) entry.words.set(resource, word);
    this.#words.set(mailKey, entry);
    this.#wake();
  }

  #wake(): void {
    for (const check of [...this.#waiters]) check();
  }
}
