// Whether this add-on can use the account's own XEP-0363 upload service from where it runs (issue 11 point 9),
// decided at every login, not at send time. In Thunderbird every upload and download is a cross-origin fetch: it
// works when the upload host sends CORS headers or the user granted the add-on a host permission for that host
// (src/platform/upload-permission.ts). Without either, the send path must not try an upload at all (the mail then goes
// inline when small enough, else by SMTP at once) and the status says why.
//
// How: find the service (disco), ask it for a slot for 1 byte (nothing is uploaded; the slot names the upload host,
// which is often not the service's JID), then GET the slot's put and get URLs cross-origin (src/xmpp/upload.ts
// probeCrossOrigin). The check runs again at every login and whenever the host permissions change (recheck()).
import type { Limitation, UploadBlock } from "../core/limitations.js";
import type { Logger } from "../core/log.js";
import type { XmppSession } from "./session.js";
import { discoverUploadService, probeCrossOrigin, requestSlot, uploadOriginPattern, type UploadService, type UploadSlot } from "./upload.js";
import { jidDomain } from "../core/jid.js";
import { valueWithin } from "../core/scheduler.js";
import { realScheduler } from "./runtime.js";
import { notifyAll } from "../core/listeners.js";

export type UploadAccessState =
  /** Not checked yet in this session, or the check is running. */
  | { readonly state: "checking" }
  /** The server has no upload service. */
  | { readonly state: "none" }
  /** Uploads and downloads on the own upload host work from here. */
  | { readonly state: "ok"; readonly service: UploadService; readonly host: string }
  /** The service exists but this add-on cannot reach it: no upload is attempted. */
  | { readonly state: "blocked"; readonly service: UploadService; readonly block: UploadBlock }
  /** The check could not be made (no answer, slot refused): the send path tries as it always did. */
  | { readonly state: "unknown"; readonly detail: string };

export interface UploadAccessDeps {
  readonly session: XmppSession;
  readonly log: Logger;
  readonly fetchFn?: typeof fetch;
  /** Longest a whole check may take (default 10 s). */
  readonly timeoutMs?: number;
  /** Finds the service and a 1-byte slot (default: disco + XEP-0363 slot request on the session). For tests. */
  readonly locate?: (timeoutMs: number) => Promise<{ service: UploadService; slot: UploadSlot } | null>;
}

export class UploadAccess {
  readonly #deps: UploadAccessDeps;
  readonly #listeners = new Set<() => void>();
  #state: UploadAccessState = { state: "checking" };
  #running: Promise<UploadAccessState> | null = null;
  #generation = 0;
  #unsubscribe: (() => void) | null = null;

  constructor(deps: UploadAccessDeps) {
    this.#deps = deps;
  }

  /** Checks at every login of the session (and now, if it is online). */
  start(): void {
    this.#unsubscribe ??= this.#deps.session.onStatus((s) => {
      if (s.state === "online") void this.recheck();
    });
    if (this.#deps.session.status.state === "online") void this.recheck();
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#generation += 1;
  }

  get state(): UploadAccessState {
    return this.#state;
  }

  /** The state once the running check ends, waiting at most `timeoutMs` (then "checking"). Never rejects. */
  async settled(timeoutMs: number): Promise<UploadAccessState> {
    const running = this.#running;
    if (!running) return this.#state;
    return valueWithin(realScheduler, running, timeoutMs, () => this.#state);
  }

  /** For the status: uploads blocked, with why and what fixes it; null otherwise. */
  limitation(inlineLimitBytes: number): Limitation | null {
    return this.#state.state === "blocked" ? { feature: "upload", inlineLimitBytes, blocked: this.#state.block } : null;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Checks again (login, a host permission granted or revoked). Resolves with the new state; never rejects. */
  recheck(): Promise<UploadAccessState> {
    const generation = ++this.#generation;
    const running = this.#check().then((next) => {
      if (generation !== this.#generation) return this.#state;
      this.#running = null;
      this.#set(next);
      return next;
    });
    this.#running = running;
    return running;
  }

  async #check(): Promise<UploadAccessState> {
    const { log } = this.#deps;
    const timeoutMs = this.#deps.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    let located: { service: UploadService; slot: UploadSlot } | null;
    try {
      located = await (this.#deps.locate ?? ((t) => this.#locate(t)))(left());
    } catch (error) {
      log.info("upload-access-unknown", { error });
      return { state: "unknown", detail: error instanceof Error ? error.message : String(error) };
    }
    if (!located) return { state: "none" };
    const { service, slot } = located;
    const urls = [...new Set([slot.putUrl, slot.getUrl])];
    const results = await Promise.all(urls.map((url) => probeCrossOrigin(url, left(), this.#deps.fetchFn)));
    const host = new URL(slot.putUrl).host;
    if (results.every((r) => r === "readable")) return { state: "ok", service, host };
    const failing = urls.filter((_url, i) => results[i] !== "readable");
    const patterns = failing.map(uploadOriginPattern);
    const origins = [...new Set(patterns.filter((p): p is string => p !== null))];
    const reason = results.includes("no-cors") ? "no-permission" : "unreachable";
    // A host no permission could cover (http on a loopback name other than 127.0.0.1) cannot be fixed by the user.
    const block: UploadBlock = { reason, host: new URL(failing[0]!).host, origins: patterns.includes(null) ? [] : origins };
    return { state: "blocked", service, block };
  }

  async #locate(timeoutMs: number): Promise<{ service: UploadService; slot: UploadSlot } | null> {
    const { session } = this.#deps;
    const deadline = Date.now() + timeoutMs;
    const domain = session.jid && jidDomain(session.jid);
    if (!domain) throw new Error("not online");
    const service = await discoverUploadService(session, domain, timeoutMs);
    if (!service) return null;
    const left = Math.max(1, deadline - Date.now());
    const slot = await requestSlot(session, service, { filename: "probe.bin", size: 1, contentType: "application/octet-stream" }, left);
    return { service, slot };
  }

  #set(next: UploadAccessState): void {
    const before = JSON.stringify(this.#state);
    this.#state = next;
    const { log } = this.#deps;
    if (next.state === "blocked") log.warn("upload-access", { state: "blocked", reason: next.block.reason, host: next.block.host, origins: next.block.origins.join(" ") });
    else log.info("upload-access", { state: next.state, ...(next.state === "ok" ? { host: next.host } : {}) });
    if (JSON.stringify(next) === before) return;
    notifyAll(this.#listeners, undefined, log, "upload-access-listener-failed");
  }
}
