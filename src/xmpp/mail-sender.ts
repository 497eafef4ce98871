// MailSender (docs/protocol.md §3–§5): one mail copy to one recipient JID, inline or through an
// encrypted upload, with a deadline and exactly one outcome. "filed" is the only proof of delivery.
import type { Element } from "@xmpp/xml";
import type { Logger } from "../core/log.js";
import { InlineBudget, SHIPPED_LIMIT_BUDGET, type InlineBudgetPolicy } from "../core/inline-budget.js";
import type { Scheduler } from "../core/scheduler.js";
import { afterUploadMs, UploadEstimator } from "../core/upload-estimate.js";
import { encodeBase64 } from "../core/base64.js";
import { SEAL_OVERHEAD_BYTES, sealPayload, sha256Base64 } from "../core/payload-crypto.js";
import { buildMailStanza, inlineStanzaOctets, parseDeliveryReport, type MailEnvelope } from "./mail-stanza.js";
import type { XmppSession } from "./session.js";
import type { UploadAccess } from "./upload-access.js";
import { discoverUploadService, requestSlot, uploadBytes, UploadError, type UploadService } from "./upload.js";
import { bareJid, jidDomain } from "../core/jid.js";
import type { CopyOutcome } from "../core/send-flow.js";
import type { DeviceKeyPair, DeviceKeys } from "../core/e2e/keys.js";
import { encodeExternalKeys, sealEnvelope } from "../core/e2e/envelope.js";
import { buildMailStanzaV1, envelopeToWire, inlineStanzaOctetsV1, NEUTRAL_BODY, type MailStanzaV1 } from "./mail-stanza-v1.js";

export interface MailCopy {
  /** Bare JID of the recipient. */
  readonly to: string;
  /** The complete RFC 5322 message for this recipient. */
  readonly raw: Uint8Array;
  readonly subject: string;
  readonly fallbackBody: string;
  /**
   * Protocol version 1 (docs/protocol.md §10): seal for these devices of the recipient, signed by `me`; the stanza
   * then carries the neutral body and no subject. Absent: version 0.
   */
  readonly e2e?: {
    readonly me: DeviceKeyPair;
    readonly devices: readonly DeviceKeys[];
    /** The user opted into a readable preview (§4.4): subject and fallback body in clear, the payload still sealed. */
    readonly preview?: boolean;
  };
}

export interface SizePolicy {
  /** Inline when the stanza stays at or below this (fast even under a 10 kB/s c2s rate limit). */
  readonly inlineMaxBytes: number;
  /** Without an upload service, still inline up to this (slow under rate limits, well under 256 KiB). */
  readonly inlineFallbackMaxBytes: number;
  /**
   * Inline only while the stream's recent inline bytes fit this token bucket (the servers' shipped rate limits, see
   * core/inline-budget.ts); absent or null = no budget (a server known to have no limit).
   */
  readonly inlineBudget?: InlineBudgetPolicy | null;
}

/**
 * 12 KiB: one stanza inside both servers' shipped burst (≈20 KiB), so a single mail is never shaped; more than the
 * budget in a few seconds (several recipients, several mails) goes by upload, which the servers do not shape.
 */
export const DEFAULT_SIZE_POLICY: SizePolicy = { inlineMaxBytes: 12 * 1024, inlineFallbackMaxBytes: 64 * 1024, inlineBudget: SHIPPED_LIMIT_BUDGET };

export interface MailSenderDeps {
  readonly session: XmppSession;
  readonly log: Logger;
  readonly scheduler: Scheduler;
  readonly sizePolicy?: SizePolicy;
  /** How long to wait for the "filed" receipt after the server's ack before answering "accepted". */
  readonly filedGraceMs?: number;
  readonly newId?: () => string;
  readonly fetchFn?: typeof fetch;
  /**
   * Whether uploads can work from here, decided at login (src/xmpp/upload-access.ts). When it says "blocked" or
   * "none", no upload is attempted: a mail too large for inline goes by SMTP at once. Without it (Node), the service
   * is discovered at the first large mail and tried.
   */
  readonly uploadAccess?: UploadAccess;
  /** Learns the upload rate from each upload and judges whether the next one fits the hold (core/upload-estimate.ts). */
  readonly uploadEstimator?: UploadEstimator;
}

/** How long a send waits for the login's upload check still running (it usually ended long before). */
const ACCESS_WAIT_MS = 2_000;

interface Pending {
  readonly to: string;
  readonly route: "inline" | "external";
  readonly started: number;
  readonly settle: (outcome: CopyOutcome) => void;
}

/** Outcome reported after "accepted", when a bounce arrives later (the mail must then go by SMTP). */
export type LateFailureListener = (id: string, to: string, reason: string) => void;

export class MailSender {
  readonly #deps: MailSenderDeps;
  readonly #pending = new Map<string, Pending>();
  /** Ids answered "accepted" whose later bounce must still be reported, bounded. */
  readonly #accepted = new Map<string, string>();
  readonly #lateListeners = new Set<LateFailureListener>();
  #upload: Promise<UploadService | null> | null = null;
  #budget: InlineBudget | null = null;
  readonly #estimator: UploadEstimator;
  /** Bytes of uploads running now (they share the uplink). */
  #uploading = 0;
  #unsubscribe: (() => void) | null = null;

  constructor(deps: MailSenderDeps) {
    this.#deps = deps;
    this.#estimator = deps.uploadEstimator ?? new UploadEstimator();
  }

  start(): void {
    this.#unsubscribe ??= this.#deps.session.onStanza((stanza) => this.#onStanza(stanza));
    // A new connection may have a different upload service (or now have one).
    this.#deps.session.onStatus((s) => {
      if (s.state === "online") this.#upload = null;
    });
  }

  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  onLateFailure(listener: LateFailureListener): () => void {
    this.#lateListeners.add(listener);
    return () => this.#lateListeners.delete(listener);
  }

  /** Delivers one copy; resolves with exactly one outcome by `deadlineMs` at the latest. Never rejects. */
  /**
   * Before the message is read (send-flow's precheck): why a mail of at least `minBytes` octets cannot go over XMPP
   * within `leftMs`, or null to go on. Only a mail too large for any inline stanza, whose upload the estimate rules
   * out, is refused here; everything else is decided by deliver() with the real message.
   */
  precheck(minBytes: number, leftMs: number): string | null {
    const policy = this.#deps.sizePolicy ?? DEFAULT_SIZE_POLICY;
    if (!(minBytes > policy.inlineFallbackMaxBytes)) return null;
    const now = this.#deps.scheduler.now();
    const estimate = this.#estimator.estimateMs(minBytes + SEAL_OVERHEAD_BYTES, now, this.#uploading);
    if (UploadEstimator.fits(estimate, leftMs)) return null;
    return this.#tooSlow(minBytes + SEAL_OVERHEAD_BYTES, estimate, leftMs);
  }

  async deliver(copy: MailCopy, deadlineMs: number): Promise<CopyOutcome> {
    const { scheduler, log } = this.#deps;
    const started = scheduler.now();
    const deadline = started + deadlineMs;
    const id = (this.#deps.newId ?? (() => globalThis.crypto.randomUUID()))();
    try {
      const sha256 = await sha256Base64(copy.raw);
      const built = await this.#build(copy, id, sha256, deadline);
      if ("failed" in built) return { status: "failed", reason: built.failed };
      const outcome = await this.#send(built.stanza, id, copy.to, built.route, started, deadline, built.downloadMs ?? 0);
      return outcome.status === "filed" || outcome.status === "accepted" ? { ...outcome, e2e: copy.e2e !== undefined } : outcome;
    } catch (error) {
      log.warn("mail-send-failed", { to: copy.to, id, error });
      return { status: "failed", reason: error instanceof Error ? error.message : "send failed" };
    }
  }

  /** The inline stanza's octets for this copy, in the version it goes out in (no crypto, no base64 of the mail). */
  #inlineOctets(copy: MailCopy, id: string, sha256: string): number {
    if (!copy.e2e) return inlineStanzaOctets({ to: copy.to, id, subject: copy.subject, fallbackBody: copy.fallbackBody, size: copy.raw.length, sha256 });
    return inlineStanzaOctetsV1({
      to: copy.to,
      id,
      ...readable(copy),
      mail: { size: copy.raw.length, envelope: shapeOfEnvelope(this.#ownBare(), copy.to, id, copy.e2e.me.public.id, copy.e2e.devices) },
      ciphertextLength: copy.raw.length + 16,
    });
  }

  #ownBare(): string {
    const jid = this.#deps.session.jid;
    if (!jid) throw new Error("not online");
    return bareJid(jid);
  }

  /** Seals `payload` for the copy's devices: the version 1 stanza. */
  async #sealed(copy: MailCopy & { e2e: NonNullable<MailCopy["e2e"]> }, id: string, payload: Uint8Array, external?: { url: string; size: number }): Promise<Element> {
    const envelope = await sealEnvelope({
      payload,
      kind: external ? "external" : "inline",
      from: this.#ownBare(),
      to: copy.to,
      originId: id,
      now: Date.now(),
      sender: copy.e2e.me,
      recipientDevices: copy.e2e.devices,
      senderDevices: [],
    });
    const stanza: MailStanzaV1 = { to: copy.to, id, ...readable(copy), mail: { size: copy.raw.length, envelope: envelopeToWire(envelope), ...(external ? { external } : {}) } };
    return buildMailStanzaV1(stanza);
  }

  async #build(
    copy: MailCopy,
    id: string,
    sha256: string,
    deadline: number,
  ): Promise<{ stanza: Element; route: "inline" | "external"; downloadMs?: number } | { failed: string }> {
    const policy = this.#deps.sizePolicy ?? DEFAULT_SIZE_POLICY;
    const base: Omit<MailEnvelope, "payload"> = { to: copy.to, id, subject: copy.subject, fallbackBody: copy.fallbackBody, size: copy.raw.length, sha256 };
    const inlineStanza = this.#inlineOctets(copy, id, sha256);
    const now = this.#deps.scheduler.now();
    if (policy.inlineBudget) this.#budget ??= new InlineBudget(policy.inlineBudget, now);
    const inline = async () => {
      this.#budget?.spend(inlineStanza, this.#deps.scheduler.now());
      const stanza = copy.e2e
        ? await this.#sealed({ ...copy, e2e: copy.e2e }, id, copy.raw)
        : buildMailStanza({ ...base, payload: { inline: encodeBase64(copy.raw) } });
      return { stanza, route: "inline" as const };
    };
    const small = inlineStanza <= policy.inlineMaxBytes;
    if (small && (this.#budget === null || this.#budget.fits(inlineStanza, now))) return inline();
    const { service, blocked } = await this.#usableUploadService(Math.max(1, deadline - this.#deps.scheduler.now()));
    // Small but over the budget, and no upload service: inline all the same (slower under a limit, but it goes).
    if (small && !service) return inline();
    // The ciphertext's size is known before encrypting: the slot is asked for while encrypting (saves a round trip).
    const size = copy.raw.length + SEAL_OVERHEAD_BYTES;
    if (service && (service.maxFileSize === null || size <= service.maxFileSize)) {
      const left = () => Math.max(1, deadline - this.#deps.scheduler.now());
      // An upload that cannot end in time would time out at the deadline and the user would then wait for SMTP too:
      // such a mail goes by SMTP at once (docs/performance.md, "Slow links").
      const estimate = this.#estimator.estimateMs(size, this.#deps.scheduler.now(), this.#uploading);
      if (!UploadEstimator.fits(estimate, left())) return { failed: this.#tooSlow(size, estimate, left()) };
      const [sealed, slot] = await Promise.all([
        sealPayload(copy.raw, sha256),
        requestSlot(this.#deps.session, service, { filename: "mail.bin", size, contentType: "application/octet-stream" }, left()),
      ]);
      if (sealed.ciphertext.length !== size) throw new Error("encrypted size differs from the slot's");
      // Version 1: the key, IV and hash travel only sealed for the recipient's devices (docs/protocol.md §10.4.3),
      // sealed while the upload runs.
      const sealing = copy.e2e
        ? this.#sealed({ ...copy, e2e: copy.e2e }, id, encodeExternalKeys({ key: sealed.key, iv: sealed.iv, sha256 }), { url: slot.getUrl, size: sealed.ciphertext.length })
        : null;
      sealing?.catch(() => undefined); // awaited below; an upload failure must not leave it unhandled
      const upStart = this.#deps.scheduler.now();
      this.#uploading += size;
      try {
        await uploadBytes(slot, sealed.ciphertext, left(), this.#deps.fetchFn);
        this.#estimator.record(size, this.#deps.scheduler.now() - upStart, this.#deps.scheduler.now());
      } catch (error) {
        // Timed out: the rate was lower than this still, a bound worth learning. Other failures say nothing of the rate.
        if (error instanceof UploadError && error.code === "timeout") this.#estimator.record(size, this.#deps.scheduler.now() - upStart, this.#deps.scheduler.now());
        throw error;
      } finally {
        this.#uploading -= size;
      }
      const stanza = sealing
        ? await sealing
        : buildMailStanza({
            ...base,
            payload: { external: { url: slot.getUrl, size: sealed.ciphertext.length, cipher: "aes-256-gcm", key: sealed.key, iv: sealed.iv } },
          });
      return {
        stanza,
        route: "external",
        // The recipient downloads it before it can say "filed": the time the estimate kept for that (fits()).
        downloadMs: afterUploadMs(estimate),
      };
    }
    if (inlineStanza <= policy.inlineFallbackMaxBytes) return inline();
    if (blocked) return { failed: `not deliverable over XMPP: too large to send inline and ${blocked}` };
    return { failed: "not deliverable over XMPP: too large to send inline and no upload service" };
  }

  #tooSlow(size: number, estimate: number, leftMs: number): string {
    const { bytesPerSecond, learned } = this.#estimator.rate(this.#deps.scheduler.now());
    this.#deps.log.info("upload-too-slow-for-hold", { size, estimateMs: Math.round(estimate), bytesPerSecond: Math.round(bytesPerSecond), learned });
    return `not deliverable over XMPP in time: upload of ${size} bytes would take ~${Math.round(estimate / 100) / 10} s at ${Math.round(bytesPerSecond / 1000)} kB/s (${learned ? "measured" : "assumed"}), more than the ${Math.round(leftMs / 100) / 10} s left`;
  }

  /** The upload service to use now, or null with why not (`blocked`: the login's check found it unreachable from here). */
  async #usableUploadService(timeoutMs: number): Promise<{ service: UploadService | null; blocked?: string }> {
    const access = this.#deps.uploadAccess;
    if (access) {
      const known = await access.settled(Math.min(timeoutMs, ACCESS_WAIT_MS));
      if (known.state === "ok") return { service: known.service };
      if (known.state === "none") return { service: null };
      if (known.state === "blocked") {
        const why = known.block.reason === "no-permission" ? "sends no CORS headers and the add-on has no permission for it" : "did not answer";
        return { service: null, blocked: `uploads are blocked: the upload host ${known.block.host} ${why}` };
      }
      // "checking" past the wait, or "unknown": try as without the check.
    }
    return { service: await this.#uploadService(timeoutMs) };
  }

  #uploadService(timeoutMs: number): Promise<UploadService | null> {
    const domain = this.#deps.session.jid && jidDomain(this.#deps.session.jid);
    if (!domain) return Promise.resolve(null);
    const found =
      this.#upload ??
      discoverUploadService(this.#deps.session, domain, Math.min(timeoutMs, 5_000)).catch((error: unknown) => {
        this.#deps.log.info("upload-discovery-failed", { error });
        this.#upload = null;
        return null;
      });
    this.#upload = found;
    return found;
  }

  #send(stanza: Element, id: string, to: string, route: "inline" | "external", started: number, deadline: number, downloadMs: number): Promise<CopyOutcome> {
    const { scheduler, session } = this.#deps;
    return new Promise<CopyOutcome>((resolve) => {
      let acked = false;
      let settled = false;
      let timer: unknown = null;
      const settle = (outcome: CopyOutcome) => {
        if (settled) return;
        settled = true;
        if (timer !== null) scheduler.clearTimeout(timer);
        this.#pending.delete(id);
        if (outcome.status === "accepted") this.#rememberAccepted(id, to);
        resolve(outcome);
      };
      const millis = () => Math.round(scheduler.now() - started);
      this.#pending.set(id, { to: to, route, started, settle });
      timer = scheduler.setTimeout(
        () => settle(acked ? { status: "accepted", millis: millis(), route } : { status: "timeout", sent: true }),
        Math.max(1, deadline - scheduler.now()),
      );
      session.send(stanza, Math.max(1, deadline - scheduler.now())).then((outcome) => {
        if (settled) return;
        if (outcome.status === "acked" || outcome.status === "unconfirmed") {
          acked = outcome.status === "acked";
          // Give an online recipient a moment to file it; then "accepted" (like an SMTP relay taking the mail).
          // An external copy: at least the time kept for the recipient's download (a large mail takes longer than 3 s).
          const grace = Math.min(Math.max(this.#deps.filedGraceMs ?? 3_000, downloadMs), Math.max(1, deadline - scheduler.now()));
          if (timer !== null) scheduler.clearTimeout(timer);
          timer = scheduler.setTimeout(
            () => settle(acked ? { status: "accepted", millis: millis(), route } : { status: "timeout", sent: true }),
            grace,
          );
        } else if (outcome.status === "failed") {
          settle({ status: "failed", reason: outcome.reason });
        } else {
          settle({ status: "timeout", sent: outcome.sent });
        }
      });
    });
  }

  #rememberAccepted(id: string, to: string): void {
    this.#accepted.set(id, to);
    while (this.#accepted.size > 500) {
      const oldest = this.#accepted.keys().next().value;
      if (oldest === undefined) break;
      this.#accepted.delete(oldest);
    }
  }

  #onStanza(stanza: Element): void {
    const report = parseDeliveryReport(stanza);
    if (!report) return;
    const pending = this.#pending.get(report.id);
    const to = pending?.to ?? this.#accepted.get(report.id);
    // Only the recipient's own account may report on its copy; a bounce comes from the recipient's address too.
    if (!to || to.toLowerCase() !== report.from.toLowerCase()) return;
    const { log } = this.#deps;
    if (report.kind === "plain-receipt") {
      log.debug("mail-plain-receipt", { id: report.id, from: report.from });
      return;
    }
    if (pending) {
      if (report.kind === "filed") {
        pending.settle({ status: "filed", millis: Math.round(this.#deps.scheduler.now() - pending.started), route: pending.route });
      }
      else pending.settle({ status: "failed", reason: report.kind === "rejected" ? `rejected: ${report.reason}` : `bounced: ${report.condition}` });
      return;
    }
    if (report.kind === "filed") {
      this.#accepted.delete(report.id);
      log.info("mail-filed-later", { id: report.id, to });
      return;
    }
    this.#accepted.delete(report.id);
    const reason = report.kind === "rejected" ? `rejected: ${report.reason}` : `bounced: ${report.condition}`;
    for (const l of this.#lateListeners) l(report.id, to, reason);
  }
}

/** What a version 1 stanza shows ordinary clients and servers: the neutral note, or with the opt-in the preview. */
function readable(copy: MailCopy): { body: string; subject?: string } {
  return copy.e2e?.preview ? { body: copy.fallbackBody, subject: copy.subject } : { body: NEUTRAL_BODY };
}

/**
 * An envelope with every value at its final length (docs/protocol.md §10.4.2: ids, keys, IV, signature and wraps are
 * fixed-length), for counting the stanza's octets before anything is sealed.
 */
function shapeOfEnvelope(from: string, to: string, originId: string, senderDevice: string, devices: readonly DeviceKeys[]) {
  return {
    kind: "inline" as const,
    from,
    to,
    originId,
    senderDevice,
    timestamp: "2000-01-01T00:00:00.000Z",
    ephemeralKey: "A".repeat(88),
    iv: "A".repeat(16),
    recipients: devices.map((d) => ({ device: d.public.id, wrap: "A".repeat(64) })),
    senderCopies: [],
    signature: "A".repeat(88),
  };
}
