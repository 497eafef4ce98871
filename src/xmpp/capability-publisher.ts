// Keeps our capability item published (docs/protocol.md §2): at every login, every 24 h while the session lasts (a
// sender treats an item older than 30 days as absent, and a session can outlast that), and after a failure again
// later with a bounded backoff (about 1 min, doubling, at most 1 h), until it works or the session ends. While it does not work,
// it reports a "capability" limitation that the status shows ("others cannot see that you accept mail over XMPP").
import { backoffDelay, type BackoffPolicy } from "../core/backoff.js";
import type { Limitation } from "../core/limitations.js";
import type { Logger } from "../core/log.js";
import type { Scheduler } from "../core/scheduler.js";
import { CapabilityUnavailableError, describeError, ownListedDeviceIds, publishCapability, type PublishOptions, type PublishReport, type PublishStep } from "./capability.js";
import type { XmppSession } from "./session.js";
import { notifyAll } from "../core/listeners.js";
import type { Keyring } from "./e2e-keyring.js";

/** 1 min, 2, 4 … capped at 1 h, each delay in [ceiling/2, ceiling]. */
const CAPABILITY_RETRY: BackoffPolicy = { baseMs: 60_000, capMs: 3_600_000, factor: 2 };
/**
 * Re-publish interval while a session stays online: far inside the 30 days after which senders treat the item as
 * stale (CAPABILITY_MAX_AGE_MS), so a suspended machine or a few failed refreshes never let it expire.
 */
export const CAPABILITY_REFRESH_MS = 24 * 3_600_000;

export interface CapabilityPublisherDeps {
  readonly session: XmppSession;
  readonly scheduler: Scheduler;
  readonly random: () => number;
  readonly log: Logger;
  readonly retry?: BackoffPolicy;
  /** Re-publish after this long online (default CAPABILITY_REFRESH_MS). */
  readonly refreshMs?: number;
  /** The procedure (injected in unit tests). */
  readonly publish?: (session: XmppSession, now: Date, opts: PublishOptions) => Promise<PublishReport>;
  readonly timeoutMs?: number;
  /** Wall-clock time in epoch ms (the scheduler's clock may be monotonic); default Date.now. */
  readonly wallClock?: () => number;
  /**
   * This device's keys go into the item (version 1); the account's devices it then lists are handed back. Without
   * it, or when the keys cannot be had, the item says version 0 only.
   */
  readonly keyring?: Pick<Keyring, "device" | "setOwnDevices">;
}

export type CapabilityListener = (limitation: Limitation | null) => void;

export class CapabilityPublisher {
  readonly #deps: CapabilityPublisherDeps;
  readonly #listeners = new Set<CapabilityListener>();
  #limitation: Limitation | null = null;
  /** Set while this device's keys cannot be had (the item then says version 0 only). */
  #e2eLimited = false;
  /** The later look at the item after a publish with this device's keys (another device may have overwritten it). */
  #checkTimer: unknown = null;
  #failures = 0;
  #timer: unknown = null;
  #running: Promise<void> | null = null;
  #generation = 0;
  /** The rung that worked last (same account, same server): the next publish starts there. */
  #step: PublishStep | undefined;
  #unsubscribe: (() => void) | null = null;

  constructor(deps: CapabilityPublisherDeps) {
    this.#deps = deps;
  }

  /** Publishes at every login from now on. */
  start(): void {
    this.#unsubscribe ??= this.#deps.session.onStatus((status) => {
      if (status.state === "online") {
        // A login starts afresh: try now, backoff from the beginning.
        this.#failures = 0;
        this.#clearTimer();
        void this.publishNow();
      } else {
        this.#clearTimer();
        this.#clearCheck();
        this.#generation += 1;
      }
    });
    if (this.#deps.session.status.state === "online") void this.publishNow();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#clearTimer();
    this.#clearCheck();
    this.#generation += 1;
  }

  /** The current limitation, or null when the item is published (or not tried yet). */
  get limitation(): Limitation | null {
    return this.#limitation;
  }

  /** The end-to-end limitation: this device's keys could not be had at the last publish. */
  get e2eLimitation(): Limitation | null {
    return this.#e2eLimited ? { feature: "e2e" } : null;
  }

  onChange(listener: CapabilityListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** One attempt now (joins one in progress). Resolves when it is over; never rejects. */
  publishNow(): Promise<void> {
    this.#running ??= this.#attempt().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #attempt(): Promise<void> {
    const { session, log } = this.#deps;
    const wallClock = this.#deps.wallClock ?? Date.now;
    if (session.status.state !== "online") return;
    const generation = this.#generation;
    const publish = this.#deps.publish ?? publishCapability;
    try {
      const device = this.#deps.keyring
        ? await this.#deps.keyring.device().then(
            (keys) => keys.public,
            (error: unknown) => {
              log.warn("e2e-keys-unavailable", { error });
              return null;
            },
          )
        : null;
      const e2eLimited = this.#deps.keyring !== undefined && device === null;
      if (e2eLimited !== this.#e2eLimited) {
        this.#e2eLimited = e2eLimited;
        notifyAll(this.#listeners, this.#limitation, this.#deps.log, "capability-listener-failed");
      }
      const report = await publish(session, new Date(wallClock()), {
        timeoutMs: this.#deps.timeoutMs ?? 10_000,
        ...(this.#step ? { startAt: this.#step } : {}),
        ...(device ? { device } : {}),
      });
      if (generation !== this.#generation) return;
      if (report.devices) this.#deps.keyring?.setOwnDevices(report.devices);
      if (device) this.#scheduleCheck(device.id, generation);
      log.info("capability-published", { step: report.step, requests: report.requests, rejected: report.rejected.join(" | "), devices: report.devices?.length ?? 0 });
      this.#failures = 0;
      this.#step = report.step;
      this.#set(null);
      // Refresh `updated` before the item goes stale, however long this session lasts.
      this.#schedule(this.#deps.refreshMs ?? CAPABILITY_REFRESH_MS);
    } catch (error) {
      if (generation !== this.#generation || session.status.state !== "online") return;
      this.#failures += 1;
      const delay = backoffDelay(this.#failures, this.#deps.random, this.#deps.retry ?? CAPABILITY_RETRY);
      const retryAt = wallClock() + delay;
      const limitation: Limitation =
        error instanceof CapabilityUnavailableError
          ? { feature: "capability", code: error.code, detail: error.detail, retryAt }
          : { feature: "capability", code: "no-answer", detail: describeError(error), retryAt };
      log.warn("capability-publish-failed", { error, failures: this.#failures, retryInMs: delay });
      this.#set(limitation);
      this.#schedule(delay);
    }
  }

  /**
   * Two devices of the account that publish at the same moment can each see their own entry right after publishing
   * and still end with only the later one in the item (docs/protocol.md §10.3): a second look 2–6 s later publishes
   * again (merging) when this device's entry is gone.
   */
  #scheduleCheck(deviceId: string, generation: number): void {
    this.#clearCheck();
    this.#checkTimer = this.#deps.scheduler.setTimeout(() => {
      this.#checkTimer = null;
      const { session, log } = this.#deps;
      if (generation !== this.#generation || session.status.state !== "online") return;
      const wallClock = this.#deps.wallClock ?? Date.now;
      ownListedDeviceIds(session, new Date(wallClock()), this.#deps.timeoutMs ?? 10_000).then(
        (ids) => {
          if (generation !== this.#generation || ids.includes(deviceId)) return;
          log.info("capability-device-lost", { listed: ids.length });
          void this.publishNow();
        },
        (error: unknown) => log.debug("capability-check-failed", { error }),
      );
    }, 2_000 + Math.floor(this.#deps.random() * 4_000));
  }

  #clearCheck(): void {
    if (this.#checkTimer !== null) this.#deps.scheduler.clearTimeout(this.#checkTimer);
    this.#checkTimer = null;
  }

  #schedule(delayMs: number): void {
    this.#clearTimer();
    this.#timer = this.#deps.scheduler.setTimeout(() => {
      this.#timer = null;
      void this.publishNow();
    }, delayMs);
  }

  #set(limitation: Limitation | null): void {
    if (JSON.stringify(limitation) === JSON.stringify(this.#limitation)) return;
    this.#limitation = limitation;
    notifyAll(this.#listeners, limitation, this.#deps.log, "capability-listener-failed");
  }

  #clearTimer(): void {
    if (this.#timer !== null) this.#deps.scheduler.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
