// The account's limitations for the status (issue 11 points 2 and 8): the server's missing features, found at every
// login, and whether our capability item could be published (kept up by CapabilityPublisher). The composition root
// shows `decorate(session.status)` and re-shows it on `onChange`.
import { mergeLimitations, sameLimitations, type Limitation } from "../core/limitations.js";
import type { Logger } from "../core/log.js";
import type { Scheduler } from "../core/scheduler.js";
import { withLimitations, type SessionStatus } from "../core/status.js";
import { CapabilityPublisher, type CapabilityPublisherDeps } from "./capability-publisher.js";
import { detectServerFeatures, serverLimitations, type DetectOptions } from "./server-features.js";
import type { XmppSession } from "./session.js";
import { notifyAll } from "../core/listeners.js";

export interface AccountHealthDeps {
  readonly session: XmppSession;
  readonly scheduler: Scheduler;
  readonly random: () => number;
  readonly log: Logger;
  readonly streamManagement?: DetectOptions["streamManagement"];
  readonly publish?: CapabilityPublisherDeps["publish"];
  readonly detect?: typeof detectServerFeatures;
  /** This device's end-to-end keys, published with the capability item (docs/protocol.md §10.3). */
  readonly keyring?: CapabilityPublisherDeps["keyring"];
}

export class AccountHealth {
  readonly #deps: AccountHealthDeps;
  readonly #publisher: CapabilityPublisher;
  readonly #listeners = new Set<() => void>();
  #server: Limitation[] = [];
  #current: Limitation[] = [];
  #unsubscribe: (() => void) | null = null;

  constructor(deps: AccountHealthDeps) {
    this.#deps = deps;
    this.#publisher = new CapabilityPublisher({
      session: deps.session,
      scheduler: deps.scheduler,
      random: deps.random,
      log: deps.log,
      ...(deps.publish ? { publish: deps.publish } : {}),
      ...(deps.keyring ? { keyring: deps.keyring } : {}),
    });
  }

  start(): void {
    this.#publisher.onChange(() => this.#update());
    this.#unsubscribe ??= this.#deps.session.onStatus((status) => {
      if (status.state === "online") void this.#detect();
    });
    this.#publisher.start();
    if (this.#deps.session.status.state === "online") void this.#detect();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#publisher.stop();
  }

  /** Most costly first; empty when nothing is missing (or nothing is known yet). */
  get limitations(): readonly Limitation[] {
    return this.#current;
  }

  /** The session's status with the account's limitations attached (online only). */
  decorate(status: SessionStatus): SessionStatus {
    return withLimitations(status, this.#current);
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #detect(): Promise<void> {
    const detect = this.#deps.detect ?? detectServerFeatures;
    const features = await detect(this.#deps.session, this.#deps.streamManagement ? { streamManagement: this.#deps.streamManagement } : {});
    if (this.#deps.session.status.state !== "online") return;
    this.#server = serverLimitations(features);
    this.#deps.log.info("server-features", { ...features, missing: this.#server.map((l) => l.feature).join(",") || "none" });
    this.#update();
  }

  #update(): void {
    const capability = this.#publisher.limitation;
    const e2e = this.#publisher.e2eLimitation;
    const next = mergeLimitations(this.#server, capability ? [capability] : [], e2e ? [e2e] : []);
    if (sameLimitations(next, this.#current)) return;
    this.#current = next;
    notifyAll(this.#listeners, undefined, this.#deps.log, "health-listener-failed");
  }
}
