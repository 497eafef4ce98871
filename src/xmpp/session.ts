// One long-lived XMPP session over WebSocket: connects, authenticates (SCRAM with stored salted keys), enables stream
// management, announces itself (presence with XEP-0115 caps, disco#info, ping), reconnects with backoff and jitter,
// resumes when the server allows, and delivers stanzas from an outbox with a deadline and a clear outcome each.
// Host-free: the clock, timers, randomness, SHA-1 and the credential store are injected.
import xml, { type Element } from "@xmpp/xml";
import jidParse from "@xmpp/jid";
import type { Client } from "@xmpp/client-core";
import { NS as NS_SM } from "@xmpp/stream-management";
import { backoffDelay, type BackoffPolicy, DEFAULT_BACKOFF } from "../core/backoff.js";
import { capsVer, NS_CAPS, NS_DISCO_INFO, NS_PING, OWN_DISCO_INFO } from "../core/caps.js";
import { chooseMechanism } from "../core/auth.js";
import type { Logger } from "../core/log.js";
import { Outbox, type StanzaOutcome } from "../core/outbox.js";
import { withDeadline, type Scheduler } from "../core/scheduler.js";
import { wallClock } from "./runtime.js";
import { sameJid } from "../core/jid.js";
import { CAPS_NODE, NS_CARBONS } from "../core/protocol.js";
import type { SessionStatus } from "../core/status.js";
import { createXmppClient, type XmppClientParts } from "./client.js";
import { ScramNeedsPasswordError, ScramServerSignatureError, type ScramKeys, type ScramMechanism } from "./scram.js";
import { isLoopbackUrl } from "../core/host.js";
import { notifyAll } from "../core/listeners.js";

export type CarbonsState = "enabled" | "unsupported" | "unknown";

export interface SessionConfig {
  /** Bare JID of the account. */
  readonly jid: string;
  /** ws:// (loopback only) or wss:// endpoint. */
  readonly websocketUrl: string;
  /** Resource to bind, e.g. "thunderbird-3f2a". */
  readonly resource: string;
}

export interface StoredCredentials {
  readonly password?: string;
  readonly keys?: ScramKeys;
}

export interface CredentialSource {
  load(): Promise<StoredCredentials>;
  /** Called after a successful SCRAM login derived new salted keys: keep them, and drop the password. */
  saveKeys(keys: ScramKeys): Promise<void>;
}

export interface SessionDeps {
  /** The monotonic clock and timers (deadlines, backoff, keep-alive). */
  readonly scheduler: Scheduler;
  /** Wall-clock time in epoch ms, for the status's `since` and `retryAt` shown to the user (default: runtime's wallClock). */
  readonly wallClock?: () => number;
  readonly random: () => number;
  readonly log: Logger;
  readonly sha1: (data: Uint8Array) => Promise<Uint8Array>;
  readonly credentials: CredentialSource;
  readonly createClient?: typeof createXmppClient;
  readonly backoff?: BackoffPolicy;
  /** How long one connection attempt may take, from socket open to "ready" (default 20 s). */
  readonly connectTimeoutMs?: number;
  /** Ping the server after this much silence (default 60 s); the reply must come within pingTimeoutMs (default 15 s). */
  readonly keepAliveMs?: number;
  readonly pingTimeoutMs?: number;
  /** Deadline of the carbons request at login (default 10 s). */
  readonly carbonsTimeoutMs?: number;
}

class AuthError extends Error {
  override readonly name = "AuthError";
  constructor(
    message: string,
    readonly condition: string,
  ) {
    super(message);
  }
}

type StanzaListener = (stanza: Element) => void;
type StatusListener = (status: SessionStatus) => void;

export class XmppSession {
  readonly #config: SessionConfig;
  readonly #deps: SessionDeps;
  readonly #outbox: Outbox<Element>;
  readonly #statusListeners = new Set<StatusListener>();
  readonly #stanzaListeners = new Set<StanzaListener>();
  readonly #pushListeners = new Set<StanzaListener>();
  #status: SessionStatus = { state: "disconnected" };
  #parts: XmppClientParts | null = null;
  #running = false;
  #ready = false;
  #attempt = 0;
  #retryTimer: unknown = null;
  #keepAliveTimer: unknown = null;
  #connecting: Promise<void> | null = null;
  #smOffered = false;
  #mechanism = "";
  #carbons: CarbonsState = "unknown";
  #capsVer: Promise<string> | null = null;
  /** The SCRAM exchange of the login in progress, and the additional data of the server's <success/>. */
  #scram: ScramMechanism | null = null;
  #saslSuccessData: string | null = null;

  constructor(config: SessionConfig, deps: SessionDeps) {
    const bare = jidParse(config.jid);
    if (!bare.local || !bare.domain) throw new Error(`not a bare JID: ${config.jid}`);
    this.#config = { ...config, jid: bare.bare().toString() };
    this.#deps = deps;
    this.#outbox = new Outbox<Element>(deps.scheduler);
  }

  get status(): SessionStatus {
    return this.#status;
  }

  /** The account's WebSocket URL (the receiver allows loopback downloads only while this is on loopback). */
  get websocketUrl(): string {
    return this.#config.websocketUrl;
  }

  /** The SASL mechanism of the current (or last) login. */
  get mechanism(): string {
    return this.#mechanism;
  }

  /**
   * Message Carbons (XEP-0280) for this session: "enabled" once the server confirmed, "unsupported" when it refused.
   * With carbons, a mail addressed to the bare JID reaches this resource even while another client of the account
   * (a phone) has a higher presence priority and gets the stanza itself (docs/protocol.md §6).
   */
  get carbons(): CarbonsState {
    return this.#carbons;
  }

  /** The full JID while online. */
  get jid(): string | null {
    return this.#status.state === "online" ? this.#status.jid : null;
  }

  get outboxSize(): number {
    return this.#outbox.size;
  }

  onStatus(listener: StatusListener): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /** Every incoming message/presence/iq stanza that no built-in handler answered. */
  onStanza(listener: StanzaListener): () => void {
    this.#stanzaListeners.add(listener);
    return () => this.#stanzaListeners.delete(listener);
  }

  /**
   * Roster and block-list pushes (RFC 6121 §2.1.6, XEP-0191 §3.3): iq sets from the own account (or without a from),
   * answered with an empty result; pushes from anyone else are refused and not passed on.
   */
  onPush(listener: StanzaListener): () => void {
    this.#pushListeners.add(listener);
    return () => this.#pushListeners.delete(listener);
  }

  /** Starts connecting; never throws. Failures show in the status and are retried (except authentication). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#attempt = 0;
    void this.#connect();
  }

  /** Closes the session; everything still in the outbox fails with "session stopped". */
  async stop(): Promise<void> {
    this.#running = false;
    this.#clearTimers();
    this.#outbox.failAll("session stopped");
    const parts = this.#parts;
    this.#ready = false;
    if (parts && parts.entity.status !== "offline" && parts.entity.status !== "disconnect") {
      try {
        await withDeadline(this.#deps.scheduler, parts.entity.stop(), 3_000, "timed out after 3000 ms");
      } catch {
        // The socket is gone either way.
      }
    }
    this.#setStatus({ state: "disconnected" });
  }

  /** The network came back (or the user asked): retry now instead of waiting out the backoff. */
  retryNow(): void {
    if (!this.#running || this.#ready || this.#connecting) return;
    if (this.#status.state === "auth-failed") return;
    this.#clearRetry();
    void this.#connect();
  }

  /**
   * Hands a message or presence stanza over for delivery. Resolves with exactly one outcome, at the latest at the
   * deadline. Works while offline: the stanza waits in the outbox and goes out once the session is ready.
   */
  send(stanza: Element, deadlineMs: number): Promise<StanzaOutcome> {
    if (!this.#running) return Promise.resolve({ status: "failed", reason: "session not started" });
    const outcome = this.#outbox.enqueue(stanza, deadlineMs);
    this.#flush();
    return outcome;
  }

  /**
   * Sends an IQ and awaits its reply, checking that the reply comes from whom we asked (xmpp.js matches ids only).
   * Only while ready; rejects otherwise or after timeoutMs.
   */
  async request(iq: Element, timeoutMs: number): Promise<Element> {
    const parts = this.#parts;
    if (!parts || !this.#ready) throw new Error("not online");
    const reply = await parts.iqCaller.request(iq, timeoutMs);
    if (!isReplyFrom(reply.attrs.from, iq.attrs.to, parts.entity.jid?.toString() ?? this.#config.jid)) {
      throw new Error(`reply from ${reply.attrs.from ?? "(none)"} to a request for ${iq.attrs.to ?? "(own account)"}`);
    }
    return reply;
  }

  // ---------------------------------------------------------------------------------------------------------------

  #setStatus(status: SessionStatus): void {
    this.#status = status;
    this.#deps.log.info("status", { ...status });
    notifyAll(this.#statusListeners, status, this.#deps.log, "status-listener-failed");
  }

  #ensureClient(): XmppClientParts {
    if (this.#parts) return this.#parts;
    const create = this.#deps.createClient ?? createXmppClient;
    const domain = jidParse(this.#config.jid).domain;
    const parts = create({
      service: this.#config.websocketUrl,
      domain,
      resource: this.#config.resource,
      onAuthenticate: async (authenticate, mechanisms, _fast, entity) => {
        await this.#authenticate(authenticate, mechanisms, entity);
      },
      onScram: (mechanism) => {
        this.#scram = mechanism;
      },
    });
    this.#wire(parts);
    this.#parts = parts;
    return parts;
  }

  async #authenticate(
    authenticate: (credentials: object, mechanism: string) => Promise<void>,
    offered: string[],
    entity: Client,
  ): Promise<void> {
    const stored = await this.#deps.credentials.load();
    const secure = entity.isSecure() || isLoopbackUrl(this.#config.websocketUrl);
    const choice = chooseMechanism(
      offered,
      { hasPassword: Boolean(stored.password), ...(stored.keys ? { keysFor: stored.keys.mechanism } : {}) },
      secure,
    );
    if (!choice.ok) {
      const text = {
        "password-needed": "the server needs the password again",
        "no-common-mechanism": `no supported login method (server offers ${offered.join(", ") || "none"})`,
        "plain-needs-secure-channel": "the server only offers PLAIN, which needs an encrypted connection",
      }[choice.reason];
      throw new AuthError(text, choice.reason);
    }
    let newKeys: ScramKeys | null = null;
    this.#scram = null;
    this.#saslSuccessData = null;
    const username = jidParse(this.#config.jid).local;
    const keys = stored.keys && stored.keys.mechanism === choice.mechanism ? stored.keys : undefined;
    await authenticate(
      {
        username,
        password: stored.password ?? null,
        ...(keys ? { keys } : {}),
        onKeys: (derived: ScramKeys) => {
          newKeys = derived;
        },
      },
      choice.mechanism,
    );
    // Mutual authentication: Prosody sends the server signature (v=) inside <success/>, which xmpp.js ignores.
    // A server that cannot prove it knows the key is not our server: abort before the stream restarts.
    const scram = this.#scram as ScramMechanism | null;
    if (choice.mechanism !== "PLAIN") {
      if (!scram) throw new ScramServerSignatureError("SCRAM: the exchange could not be checked");
      if (!scram.serverVerified) await scram.verifyServerFinal(atob(this.#saslSuccessData ?? ""));
    }
    this.#mechanism = choice.mechanism;
    if (newKeys) {
      try {
        await this.#deps.credentials.saveKeys(newKeys);
      } catch (error) {
        this.#deps.log.warn("credentials-save-failed", { error });
      }
    }
  }

  #wire(parts: XmppClientParts): void {
    const { entity, middleware, iqCallee, streamManagement: sm } = parts;
    const log = this.#deps.log;

    entity.on("error", (error: Error) => {
      log.debug("xmpp-error", { error: safeMessage(error) });
    });

    // Remember whether the server offers stream management, from the features that precede resource binding.
    // (A "nonza" listener sees them before the stream-feature middleware binds and fires "online".)
    entity.on("nonza", (el: Element) => {
      if (el.is("success", "urn:ietf:params:xml:ns:xmpp-sasl")) this.#saslSuccessData = el.text();
      if (el.is("features", "http://etherx.jabber.org/streams") && el.getChild("bind", "urn:ietf:params:xml:ns:xmpp-bind")) {
        this.#smOffered = Boolean(el.getChild("sm", NS_SM));
      }
    });
    // Any traffic from the server proves the connection alive: postpone the keep-alive ping.
    middleware.use((_ctx, next) => {
      this.#armKeepAlive();
      return next();
    });

    entity.on("disconnect", () => {
      if (this.#ready) this.#onConnectionLost("connection lost");
    });

    sm.on("ack", (stanza: Element) => {
      this.#outbox.acked(stanza);
    });
    sm.on("fail", (stanza: Element) => {
      if (this.#outbox.lost(stanza)) log.info("stanza-retransmit", { id: stanza.attrs.id ?? "" });
    });

    iqCallee.get(NS_DISCO_INFO, "query", async (ctx) => this.#discoInfo(ctx.element));
    iqCallee.get(NS_PING, "ping", () => ({}));
    for (const [ns, name] of [["jabber:iq:roster", "query"], ["urn:xmpp:blocking", "block"], ["urn:xmpp:blocking", "unblock"]] as const) {
      iqCallee.set(ns, name, (ctx) => {
        const from = ctx.stanza.attrs.from;
        if (from && from.toLowerCase() !== this.#config.jid.toLowerCase()) {
          return xml("error", { type: "cancel" }, xml("service-unavailable", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }));
        }
        for (const listener of this.#pushListeners) listener(ctx.stanza);
        return {};
      });
    }

    entity.on("stanza", (stanza: Element) => {
      if (stanza.name === "iq") return; // answered by iqCallee / iqCaller
      notifyAll(this.#stanzaListeners, stanza, log, "stanza-listener-failed");
    });
  }

  async #discoInfo(query: Element): Promise<Element> {
    const node = query.attrs.node;
    const ver = await this.#ownCapsVer();
    if (node !== undefined && node !== `${CAPS_NODE}#${ver}`) {
      return xml("error", { type: "cancel" }, xml("item-not-found", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }));
    }
    return xml(
      "query",
      { xmlns: NS_DISCO_INFO, ...(node ? { node } : {}) },
      ...OWN_DISCO_INFO.identities.map((i) =>
        xml("identity", { category: i.category, type: i.type, ...(i.name ? { name: i.name } : {}) }),
      ),
      ...OWN_DISCO_INFO.features.map((f) => xml("feature", { var: f })),
    );
  }

  #ownCapsVer(): Promise<string> {
    this.#capsVer ??= capsVer(OWN_DISCO_INFO, this.#deps.sha1);
    return this.#capsVer;
  }

  async #connect(): Promise<void> {
    if (this.#connecting) return this.#connecting;
    this.#connecting = this.#connectOnce().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #connectOnce(): Promise<void> {
    if (!this.#running) return;
    this.#attempt += 1;
    this.#setStatus({ state: "connecting", attempt: this.#attempt });
    const started = this.#deps.scheduler.now();
    let parts: XmppClientParts;
    try {
      parts = this.#ensureClient();
    } catch (error) {
      this.#running = false;
      this.#setStatus({ state: "error", reason: safeMessage(error) });
      return;
    }
    const { entity, streamManagement: sm } = parts;
    try {
      const connectMs = this.#deps.connectTimeoutMs ?? 20_000;
      const resumed = await withDeadline(this.#deps.scheduler, this.#openAndWait(parts), connectMs, `timed out after ${connectMs} ms`);
      if (!this.#running) return;
      this.#ready = true;
      this.#attempt = 0;
      const fullJid = entity.jid?.toString() ?? this.#config.jid;
      this.#deps.log.info("ready", {
        jid: fullJid,
        resumed,
        streamManagement: sm.enabled,
        mechanism: this.#mechanism,
        millis: Math.round(this.#deps.scheduler.now() - started),
      });
      if (!resumed) {
        // Carbons first, presence right after, without waiting for the answer: the server handles our stanzas in
        // order, so carbons are on before the first message is routed to us, and coming online costs no round trip.
        const carbons = this.#enableCarbons();
        await this.#sendPresence(parts);
        void carbons;
      }
      this.#setStatus({ state: "online", jid: fullJid, since: this.#wallNow() });
      this.#armKeepAlive();
      this.#flush();
    } catch (error) {
      this.#ready = false;
      await this.#closeQuietly(parts);
      if (!this.#running) return;
      if (isAuthFailure(error)) {
        this.#running = false;
        this.#outbox.failAll("authentication failed");
        this.#setStatus({ state: "auth-failed", reason: authReason(error) });
        return;
      }
      this.#scheduleRetry(safeMessage(error));
    }
  }

  /** Opens socket and stream, runs the stream features; resolves true if the old session was resumed. */
  #openAndWait(parts: XmppClientParts): Promise<boolean> {
    const { entity, streamManagement: sm } = parts;
    return new Promise<boolean>((resolve, reject) => {
      const cleanup = () => {
        entity.removeListener("online", onOnline);
        entity.removeListener("error", onError);
        entity.removeListener("disconnect", onDisconnect);
        entity.removeListener("nonza", onNonza);
        sm.removeListener("resumed", onResumed);
      };
      let waitingForSm = false;
      const done = (resumed: boolean) => {
        cleanup();
        resolve(resumed);
      };
      const fail = (error: unknown) => {
        cleanup();
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      const onOnline = () => {
        // Nothing may be sent before <enabled/>: xmpp.js fires "online" first and would miscount otherwise.
        if (this.#smOffered && !sm.enabled) waitingForSm = true;
        else done(false);
      };
      const onNonza = (el: Element) => {
        if (!waitingForSm) return;
        if (el.is("enabled", NS_SM) || el.is("failed", NS_SM)) {
          // The library updates its state right after this event; look once it has.
          this.#deps.scheduler.setTimeout(() => done(false), 0);
        }
      };
      const onResumed = () => done(true);
      const onError = (error: unknown) => {
        if (isAuthFailure(error) || isStreamFatal(error)) fail(error);
      };
      const onDisconnect = () => fail(new Error("connection closed by the server or the network"));
      entity.on("online", onOnline);
      entity.on("error", onError);
      entity.on("disconnect", onDisconnect);
      entity.on("nonza", onNonza);
      sm.on("resumed", onResumed);
      const { domain } = jidParse(this.#config.jid);
      entity
        .connect(this.#config.websocketUrl)
        .then(() => entity.open({ domain }))
        .catch(fail);
    });
  }

  /** Asks for carbons; records and logs the answer. Never rejects. A resumed stream keeps its carbons state. */
  async #enableCarbons(): Promise<void> {
    this.#carbons = "unknown";
    try {
      await this.request(xml("iq", { type: "set" }, xml("enable", { xmlns: NS_CARBONS })), this.#deps.carbonsTimeoutMs ?? 10_000);
      this.#carbons = "enabled";
      this.#deps.log.debug("carbons-enabled", {});
    } catch (error) {
      // A stanza error means the server has no carbons; a timeout or a lost stream leaves it unknown.
      this.#carbons = error instanceof Error && error.name === "StanzaError" ? "unsupported" : "unknown";
      this.#deps.log.warn("carbons-not-enabled", { error: safeMessage(error) });
    }
  }

  async #sendPresence(parts: XmppClientParts): Promise<void> {
    const ver = await this.#ownCapsVer();
    await parts.entity.send(xml("presence", {}, xml("c", { xmlns: NS_CAPS, hash: "sha-1", node: CAPS_NODE, ver })));
  }

  #flush(): void {
    const parts = this.#parts;
    if (!parts || !this.#ready || this.#outbox.pendingCount === 0) return;
    const tracked = parts.streamManagement.enabled;
    for (const stanza of this.#outbox.drain()) {
      parts.entity.send(stanza).then(
        () => this.#outbox.written(stanza, tracked),
        (error: unknown) => {
          this.#deps.log.warn("send-failed", { error: safeMessage(error) });
          this.#outbox.writeFailed(stanza);
        },
      );
    }
  }

  #onConnectionLost(reason: string): void {
    this.#ready = false;
    this.#clearKeepAlive();
    if (!this.#running) return;
    this.#scheduleRetry(reason);
  }

  #wallNow(): number {
    return (this.#deps.wallClock ?? wallClock)();
  }

  #scheduleRetry(reason: string): void {
    this.#clearRetry();
    const delay = backoffDelay(Math.max(1, this.#attempt), this.#deps.random, this.#deps.backoff ?? DEFAULT_BACKOFF);
    const retryAt = this.#wallNow() + delay;
    this.#setStatus({ state: "error", reason, retryAt });
    this.#retryTimer = this.#deps.scheduler.setTimeout(() => {
      this.#retryTimer = null;
      void this.#connect();
    }, delay);
  }

  #armKeepAlive(): void {
    if (!this.#ready) return;
    this.#clearKeepAlive();
    this.#keepAliveTimer = this.#deps.scheduler.setTimeout(() => void this.#ping(), this.#deps.keepAliveMs ?? 60_000);
  }

  async #ping(): Promise<void> {
    const parts = this.#parts;
    if (!parts || !this.#ready) return;
    try {
      const { domain } = jidParse(this.#config.jid);
      await this.request(xml("iq", { type: "get", to: domain }, xml("ping", { xmlns: NS_PING })), this.#deps.pingTimeoutMs ?? 15_000);
    } catch (error) {
      if (!this.#ready) return;
      this.#deps.log.warn("keepalive-failed", { error: safeMessage(error) });
      // A dead socket: drop it, the disconnect handler schedules the reconnect.
      await this.#closeQuietly(parts);
      if (this.#ready) this.#onConnectionLost("keep-alive ping unanswered");
    }
  }

  async #closeQuietly(parts: XmppClientParts): Promise<void> {
    const status = parts.entity.status;
    if (status === "disconnect" || status === "offline") return;
    try {
      await withDeadline(this.#deps.scheduler, parts.entity.disconnect(1_000), 2_000, "timed out after 2000 ms");
    } catch {
      // Already closed or closing.
    }
  }

  #clearRetry(): void {
    if (this.#retryTimer !== null) this.#deps.scheduler.clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }

  #clearKeepAlive(): void {
    if (this.#keepAliveTimer !== null) this.#deps.scheduler.clearTimeout(this.#keepAliveTimer);
    this.#keepAliveTimer = null;
  }

  #clearTimers(): void {
    this.#clearRetry();
    this.#clearKeepAlive();
  }
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * RFC 6120 §8.1.2.1: a reply comes from the entity the request was addressed to; a request without 'to' is handled by
 * our own account, whose replies may carry no 'from', our bare or full JID, or (for server-handled queries) the domain.
 */
function isReplyFrom(from: string | undefined, to: string | undefined, ownFullJid: string): boolean {
  const own = jidParse(ownFullJid);
  const ownBare = own.bare().toString();
  if (to !== undefined && !sameJid(to, ownBare)) return from !== undefined && sameJid(from, to);
  return from === undefined || sameJid(from, ownBare) || sameJid(from, ownFullJid) || sameJid(from, own.domain);
}

function isAuthFailure(error: unknown): boolean {
  if (error instanceof AuthError || error instanceof ScramNeedsPasswordError || error instanceof ScramServerSignatureError) return true;
  return error instanceof Error && error.name === "SASLError";
}

function authReason(error: unknown): string {
  if (error instanceof ScramNeedsPasswordError) return "the server changed the account's salt: enter the password again";
  if (error instanceof ScramServerSignatureError) return "the server could not prove it knows your credentials (wrong server?)";
  if (error instanceof AuthError) return error.message;
  const condition = (error as { condition?: unknown }).condition;
  if (condition === "not-authorized") return "wrong JID or password (not-authorized)";
  return typeof condition === "string" && condition ? condition : safeMessage(error);
}

function isStreamFatal(error: unknown): boolean {
  return error instanceof Error && (error.name === "StreamError" || error.name === "XMLError");
}

/** Error text for logs and the UI. Our own errors never carry secrets; this only bounds the length. */
function safeMessage(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

