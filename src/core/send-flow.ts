// One Send press, start to end: resolve the recipients, decide the route, deliver over XMPP what qualifies within the
// hold deadline, and tell Thunderbird what to do with the rest. Every platform and network operation is injected, so
// the whole flow (every exit, every deadline) is tested with fakes, and the same code runs against real Prosody and
// in Thunderbird.
//
// Invariant: every exit (success, partial failure, timeout, exception) leaves each recipient either confirmed over
// XMPP ("filed") or in the list Thunderbird sends by SMTP — never neither. Anything not proven filed goes by SMTP.
import type { Logger } from "./log.js";
import { buildCopies } from "./copies.js";
import { buildMessage, newMessageId } from "./mime/build.js";
import type { OutgoingMail } from "./mime/compose-input.js";
import { withDeadline, type Scheduler } from "./scheduler.js";
import { sameJid } from "./jid.js";
import { resolveRecipient, type Resolution, type ResolutionData } from "./resolve.js";
import { decideRoute, recipientKey, type Decision, type RecipientField, type RecipientReason, type RouteMessage } from "./route.js";
import type { RoutePolicyMode } from "./settings.js";

/** What happened to one XMPP copy: what MailSender.deliver (src/xmpp/mail-sender.ts) settles with. */
export type CopyOutcome =
  /** The recipient's client filed it and said so: proof of delivery. */
  | { readonly status: "filed"; readonly millis: number; readonly route: "inline" | "external"; readonly e2e?: boolean; readonly e2eWhyNot?: E2eWhyNot }
  /** The server took it (stream-management ack) but no client filed it yet, e.g. the recipient is offline. */
  | { readonly status: "accepted"; readonly millis: number; readonly route: "inline" | "external"; readonly e2e?: boolean; readonly e2eWhyNot?: E2eWhyNot }
  /** It did not and will not arrive over XMPP (bounce, rejection, upload failure, not deliverable). */
  | { readonly status: "failed"; readonly reason: string }
  /** The deadline passed with neither proof nor failure; `sent` tells whether the stanza may have left. */
  | { readonly status: "timeout"; readonly sent: boolean };

/**
 * Why a copy went without end-to-end encryption (protocol version 0): the recipient's add-on announces no keys, or this
 * computer's keys were not published yet (or cannot be stored).
 */
export type E2eWhyNot = "peer-without-e2e" | "own-keys-unpublished";

export interface SendConfig {
  readonly policy: RoutePolicyMode;
  /** The longest the Send may be held, in ms (settings.sendHoldSeconds). */
  readonly holdMs: number;
  /** The user's bare JID to announce in an X-Jabber-ID header of SMTP mail, or null. */
  readonly announceJid: string | null;
  /**
   * The From addresses (lower case) whose mail may go over XMPP (settings `boundAddresses`); mail from any other
   * address, or whose From is unknown, goes entirely by SMTP. Absent = not checked.
   */
  readonly fromAddresses?: readonly string[];
}

export interface CapabilitySource {
  /** A cached answer, or undefined when unknown: must not wait. */
  cached(jid: string): boolean | undefined;
  /** Asks the network (and caches the answer); rejects on timeout or when offline. */
  lookup(jid: string, timeoutMs: number): Promise<boolean>;
}

export interface SendFlowDeps {
  readonly scheduler: Scheduler;
  readonly log: Logger;
  readonly now?: () => Date;
  online(): boolean;
  config(): SendConfig;
  /** The resolution sources, already in memory: resolution must not wait on I/O. */
  resolutionData(): ResolutionData;
  readonly capability: CapabilitySource;
  /** Delivers one copy over XMPP; settles by the deadline. */
  deliver(copy: { readonly jid: string; readonly raw: Uint8Array; readonly mail: OutgoingMail }, deadlineMs: number): Promise<CopyOutcome>;
  /**
   * Before the message is read: why a mail of at least `minBytes` cannot go over XMPP within `leftMs` (its upload
   * could not end in time), or null to go on. Reading and encoding a large message takes seconds; a mail that must go
   * by SMTP anyway should not make its user wait for that (docs/performance.md, "Slow links").
   */
  precheck?(minBytes: number, leftMs: number): string | null;
  record(entry: DeliveryRecord): void;
}

/** One Send, as far as it can be known without waiting: recipients are plain strings (contacts/lists expanded). */
export interface SendRequest {
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly bcc: readonly string[];
  readonly hasNewsgroups: boolean;
  readonly encryption: RouteMessage["encryption"];
  readonly xmppSwitchedOff: boolean;
  /** The addr-spec of the mail's From (the compose window's identity, or what the user typed there); undefined = unknown. */
  readonly from?: string;
  readonly customHeaders: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  /** For the delivery log (kept locally, never in the diagnostic report). */
  readonly subject?: string;
  /** Whether Thunderbird will send now or put the mail into the Outbox; asked only when XMPP is in play. */
  mode(): Promise<"sendNow" | "sendLater">;
  /** The full message (bodies, attachments); read only when XMPP is in play. */
  readMail(): Promise<OutgoingMail>;
  /** A lower bound of the message's size in octets, known without reading it (e.g. its attachments base64-encoded). */
  minSize?(): Promise<number>;
}

export type SendResult =
  /**
   * Everything was delivered over XMPP: cancel Thunderbird's send, file `sentCopy()`, close the compose window. The
   * Sent copy is built only when asked for, after Thunderbird has its answer (a 10 MB mail takes seconds to encode).
   */
  | { readonly kind: "cancel"; readonly messageId: string; readonly sentCopy: () => Uint8Array; readonly delivered: readonly string[] }
  /**
   * Thunderbird sends by SMTP. `recipients` is set only when the list changed (some were delivered over XMPP, or
   * split), `customHeaders` only when a header was added; neither set = exactly as Thunderbird would have sent it.
   */
  | {
      readonly kind: "smtp";
      readonly recipients?: { readonly to: string[]; readonly cc: string[]; readonly bcc: string[] };
      readonly customHeaders?: Array<{ name: string; value: string }>;
    };

export type RecipientOutcome = CopyOutcome["status"] | "not-sent";

/** What a Send would do now (the compose window's indicator). */
export interface RoutePreviewResult {
  readonly online: boolean;
  readonly policy: RoutePolicyMode;
  readonly switchedOff: boolean;
  /** The From address is not bound to the XMPP account: everything goes by SMTP (reason "unbound-identity"). */
  readonly fromUnbound?: boolean;
  /** "empty": no recipients yet. */
  readonly result: "xmpp" | "smtp" | "mixed" | "empty";
  readonly recipients: Array<{
    readonly address: string;
    readonly route: "xmpp" | "smtp" | "checking";
    readonly reason: RecipientReason;
    readonly jid?: string;
    readonly via?: string;
    /** JIDs learned from X-Jabber-ID headers (not the address itself), waiting for the user to confirm one. */
    readonly candidates?: readonly string[];
  }>;
}

export interface DeliveryRecord {
  /** Wall-clock time of the Send, ms since the epoch. */
  readonly at: number;
  /** How long the Send was held, ms. */
  readonly holdMs: number;
  readonly policy: RoutePolicyMode;
  /** The Message-ID of the XMPP copies (and the Sent copy); absent when nothing went over XMPP. */
  readonly messageId?: string;
  readonly subject?: string;
  readonly summary: string;
  readonly result: "xmpp" | "smtp" | "mixed";
  readonly recipients: ReadonlyArray<{
    readonly address: string;
    readonly field: RecipientField;
    readonly jid?: string;
    readonly via?: string;
    readonly reason: RecipientReason;
    /** What the XMPP attempt gave, when there was one. */
    readonly outcome?: RecipientOutcome;
    /** Why the attempt did not prove delivery (failure reason), when known. */
    readonly detail?: string;
    /** Over XMPP: whether end-to-end encrypted (protocol version 1); false says it went as version 0. */
    readonly e2e?: boolean;
    /** With e2e false: why. */
    readonly e2eWhyNot?: E2eWhyNot;
    readonly smtp: boolean;
  }>;
  /** An error that cut the XMPP path short (everything unconfirmed then went by SMTP). */
  readonly error?: string;
}

/** Longest wait for one capability lookup, within the hold. */
const LOOKUP_TIMEOUT_MS = 2_000;
/** Kept free at the end of the hold for carrying out the result. */
const FINISH_MARGIN_MS = 100;
/** How long the size of a message may take to find out before the precheck gives up and the message is read. */
const PRECHECK_TIMEOUT_MS = 500;
export const JABBER_ID_HEADER = "X-Jabber-ID";
/**
 * On an SMTP fallback copy of a mail whose XMPP copy may have arrived anyway: the Message-ID of the XMPP copy, so
 * that the recipient's add-on shows the mail once (Thunderbird gives the SMTP copy a Message-ID of its own).
 */
export const COPY_OF_HEADER = "X-Mail-Over-XMPP-ID";

function fieldsOf(req: Pick<SendRequest, "to" | "cc" | "bcc">): Array<{ address: string; field: RecipientField }> {
  return [
    ...req.to.map((address) => ({ address, field: "to" as const })),
    ...req.cc.map((address) => ({ address, field: "cc" as const })),
    ...req.bcc.map((address) => ({ address, field: "bcc" as const })),
  ];
}

/** Is the mail's From outside the addresses bound to the XMPP account? (false when the config does not check.) */
export function fromUnbound(from: string | undefined, config: SendConfig): boolean {
  if (config.fromAddresses === undefined) return false;
  return from === undefined || !config.fromAddresses.includes(from.trim().toLowerCase());
}

type RoutedRequest = Pick<SendRequest, "encryption" | "xmppSwitchedOff" | "from" | "hasNewsgroups">;

/** The route question for a Send now (`mode` changes to "sendLater" when Thunderbird says so). */
function routeMessage(req: RoutedRequest, recipients: RouteMessage["recipients"], config: SendConfig): { -readonly [K in keyof RouteMessage]: RouteMessage[K] } {
  return {
    recipients,
    encryption: req.encryption,
    xmppSwitchedOff: req.xmppSwitchedOff,
    fromUnbound: fromUnbound(req.from, config),
    mode: "sendNow",
    hasNewsgroups: req.hasNewsgroups,
    // The size path is settled per copy by the deliverer; a copy that cannot go falls back like any failure.
    sizePath: "inline",
  };
}

function domainOfAddress(from: string): string {
  const match = /@([^>\s]+)>?\s*$/.exec(from);
  return match?.[1] ?? "localhost";
}

export class SendFlow {
  readonly #deps: SendFlowDeps;

  constructor(deps: SendFlowDeps) {
    this.#deps = deps;
  }

  readonly #inFlight = new Set<string>();

  /**
   * What a Send would do right now, from what is known (no waiting): for the compose window's indicator. Unknown
   * capabilities are looked up in the background (once at a time per JID) and reported as "checking" meanwhile.
   */
  preview(req: Pick<SendRequest, "to" | "cc" | "bcc" | "hasNewsgroups" | "encryption" | "xmppSwitchedOff" | "from">): RoutePreviewResult {
    const config = this.#deps.config();
    const recipients = fieldsOf(req);
    const { resolutions, capable } = this.#resolve(recipients);
    const online = this.#deps.online();
    const decision = decideRoute(routeMessage(req, recipients, config), { online, resolutions, capable }, { mode: config.policy, sendLater: "smtp" });
    const checking = new Set(decision.needsLookup.map((j) => j.toLowerCase()));
    for (const jid of decision.needsLookup) this.#lookUpInBackground(jid);
    const seen = new Set<string>();
    const rows: RoutePreviewResult["recipients"] = [];
    for (const r of recipients) {
      const key = recipientKey(r.address);
      if (seen.has(key)) continue;
      seen.add(key);
      const resolution = resolutions.get(r.address);
      const jid = resolution?.jid ?? undefined;
      const reason = decision.reasons.get(r.address) ?? "no-jid";
      const route = decision.xmpp.some((x) => recipientKey(x.address) === key) ? "xmpp" : jid && checking.has(jid.toLowerCase()) ? "checking" : "smtp";
      const candidates = resolution?.jid === null ? resolution.candidates : undefined;
      rows.push({
        address: r.address,
        route,
        reason,
        ...(jid ? { jid } : {}),
        ...(resolution ? { via: resolution.jid !== null ? resolution.via : resolution.why } : {}),
        ...(candidates?.length ? { candidates } : {}),
      });
    }
    const result = rows.length === 0 ? "empty" : decision.xmpp.length === 0 ? "smtp" : decision.smtp.length === 0 ? "xmpp" : "mixed";
    const unbound = fromUnbound(req.from, config);
    return { online, policy: config.policy, switchedOff: req.xmppSwitchedOff, ...(unbound ? { fromUnbound: true } : {}), result, recipients: rows };
  }

  /** Each distinct address resolved from memory, and what the capability cache knows of each JID found. */
  #resolve(recipients: RouteMessage["recipients"]): { resolutions: Map<string, Resolution>; capable: Map<string, boolean | "unknown"> } {
    const data = this.#deps.resolutionData();
    const resolutions = new Map<string, Resolution>();
    const capable = new Map<string, boolean | "unknown">();
    for (const r of recipients) {
      if (resolutions.has(r.address)) continue;
      const resolution = resolveRecipient(r.address, data);
      resolutions.set(r.address, resolution);
      if (resolution.jid !== null) capable.set(resolution.jid, this.#deps.capability.cached(resolution.jid) ?? "unknown");
    }
    return { resolutions, capable };
  }

  #lookUpInBackground(jid: string): void {
    const key = jid.toLowerCase();
    if (this.#inFlight.has(key)) return;
    this.#inFlight.add(key);
    withDeadline(this.#deps.scheduler, this.#deps.capability.lookup(jid, LOOKUP_TIMEOUT_MS), LOOKUP_TIMEOUT_MS + 50, "capability lookup: deadline passed")
      .catch((error: unknown) => this.#deps.log.info("capability-lookup-failed", { jid, error }))
      .finally(() => this.#inFlight.delete(key));
  }

  /** Decides and carries out one Send; never rejects, settles within the configured hold (plus the finish margin). */
  async handle(req: SendRequest): Promise<SendResult> {
    const { scheduler, log } = this.#deps;
    const started = scheduler.now();
    const config = this.#deps.config();
    const deadline = started + config.holdMs;
    const left = () => deadline - scheduler.now();
    const recipients = fieldsOf(req);

    const { resolutions, capable } = this.#resolve(recipients);
    const message = routeMessage(req, recipients, config);
    const policy = { mode: config.policy, sendLater: "smtp" } as const;
    const decide = () => decideRoute(message, { online: this.#deps.online(), resolutions, capable }, policy);
    let decision = decide();

    const outcomes = new Map<string, CopyOutcome>();
    let messageId: string | undefined;
    let error: string | undefined;
    let result: SendResult | undefined;
    // The common case ends here, without a single await: nothing can go over XMPP and nothing needs looking up.
    if (decision.xmpp.length > 0 || decision.needsLookup.length > 0) {
      try {
        if ((await withDeadline(scheduler, req.mode(), left(), "send mode: deadline passed")) === "sendLater") {
          message.mode = "sendLater";
          decision = decide();
        }
        if (decision.needsLookup.length > 0) {
          await this.#lookUp(decision.needsLookup, capable, Math.min(LOOKUP_TIMEOUT_MS, left() - FINISH_MARGIN_MS));
          decision = decide();
        }
        const tooSlow = decision.xmpp.length > 0 ? await this.#precheck(req, left() - FINISH_MARGIN_MS) : null;
        if (tooSlow !== null) {
          for (const x of decision.xmpp) outcomes.set(recipientKey(x.address), { status: "failed", reason: tooSlow });
        } else if (decision.xmpp.length > 0) {
          const mail = await withDeadline(scheduler, req.readMail(), left() - FINISH_MARGIN_MS, "reading the message: deadline passed");
          const date = (this.#deps.now ?? (() => new Date()))();
          messageId = newMessageId(domainOfAddress(mail.from));
          const copies = buildCopies(mail, decision.xmpp, { date, messageId });
          await Promise.all(
            copies.map(async (copy) => {
              const budget = left() - FINISH_MARGIN_MS;
              const outcome = await withDeadline(scheduler, this.#deps.deliver({ jid: copy.jid, raw: copy.raw, mail }, budget), budget + 50, "delivery: deadline passed").catch(
                (): CopyOutcome => ({ status: "timeout", sent: true }),
              );
              outcomes.set(recipientKey(copy.address), outcome);
            }),
          );
          const allFiled = decision.smtp.length === 0 && decision.xmpp.every((x) => outcomes.get(recipientKey(x.address))?.status === "filed");
          if (allFiled) {
            const id = messageId;
            result = {
              kind: "cancel",
              messageId,
              sentCopy: () => buildMessage(mail, { date, messageId: id, senderCopy: true }),
              delivered: decision.xmpp.map((x) => x.jid),
            };
          }
        }
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
        log.warn("send-xmpp-path-failed", { error: e });
      }
    }
    result ??= this.#smtpResult(req, decision, outcomes, config, messageId);
    const holdMs = Math.round((scheduler.now() - started) * 1000) / 1000;
    const final = result;
    // Logging and the delivery log wait until Thunderbird has its answer: nothing on the send path writes anywhere.
    scheduler.setTimeout(() => {
      this.#deps.record(this.#record(req, decision, resolutions, outcomes, config, holdMs, final, messageId, error));
      log.info("send-decided", { holdMs, result: final.kind, summary: decision.summary, filed: [...outcomes.values()].filter((o) => o.status === "filed").length, e2e: [...outcomes.values()].filter((o) => (o.status === "filed" || o.status === "accepted") && o.e2e === true).length });
    }, 0);
    return result;
  }

  /** Why the mail cannot go over XMPP in time, judged from its size before it is read; null = read it and try. */
  async #precheck(req: SendRequest, leftMs: number): Promise<string | null> {
    const check = this.#deps.precheck;
    if (!check || !req.minSize) return null;
    try {
      const minBytes = await withDeadline(this.#deps.scheduler, req.minSize(), Math.min(PRECHECK_TIMEOUT_MS, leftMs), "message size: deadline passed");
      return check.call(this.#deps, minBytes, leftMs);
    } catch (error) {
      this.#deps.log.info("precheck-failed", { error });
      return null;
    }
  }

  async #lookUp(jids: readonly string[], capable: Map<string, boolean | "unknown">, timeoutMs: number): Promise<void> {
    if (timeoutMs <= 0) return;
    await Promise.all(
      jids.map(async (jid) => {
        try {
          const answer = await withDeadline(this.#deps.scheduler, this.#deps.capability.lookup(jid, timeoutMs), timeoutMs + 50, "capability lookup: deadline passed");
          for (const key of capable.keys()) if (sameJid(key, jid)) capable.set(key, answer);
        } catch (error) {
          this.#deps.log.info("capability-lookup-failed", { jid, error });
        }
      }),
    );
  }

  /** SMTP for everyone not proven filed; the recipient list changes only when someone was filed. */
  #smtpResult(req: SendRequest, decision: Decision, outcomes: ReadonlyMap<string, CopyOutcome>, config: SendConfig, messageId: string | undefined): SendResult {
    const filed = new Set(decision.xmpp.map((x) => recipientKey(x.address)).filter((k) => outcomes.get(k)?.status === "filed"));
    const keep = (list: readonly string[]) => list.filter((address) => !filed.has(recipientKey(address)));
    const recipients = filed.size === 0 ? undefined : { to: keep(req.to), cc: keep(req.cc), bcc: keep(req.bcc) };
    const has = (name: string) => req.customHeaders.some((h) => h.name.toLowerCase() === name.toLowerCase());
    const added: Array<{ name: string; value: string }> = [];
    if (config.announceJid !== null && !has(JABBER_ID_HEADER)) added.push({ name: JABBER_ID_HEADER, value: config.announceJid });
    const mayHaveArrived = [...outcomes.values()].some((o) => o.status === "accepted" || (o.status === "timeout" && o.sent));
    if (messageId !== undefined && mayHaveArrived && !has(COPY_OF_HEADER)) added.push({ name: COPY_OF_HEADER, value: messageId });
    const customHeaders = added.length > 0 ? [...req.customHeaders.map((h) => ({ name: h.name, value: h.value })), ...added] : undefined;
    return { kind: "smtp", ...(recipients ? { recipients } : {}), ...(customHeaders ? { customHeaders } : {}) };
  }

  #record(
    req: SendRequest,
    decision: Decision,
    resolutions: ReadonlyMap<string, Resolution>,
    outcomes: ReadonlyMap<string, CopyOutcome>,
    config: SendConfig,
    holdMs: number,
    result: SendResult,
    messageId: string | undefined,
    error: string | undefined,
  ): DeliveryRecord {
    const smtpKeys =
      result.kind === "cancel"
        ? new Set<string>()
        : new Set([...(result.recipients ? [...result.recipients.to, ...result.recipients.cc, ...result.recipients.bcc] : [...req.to, ...req.cc, ...req.bcc])].map(recipientKey));
    const seen = new Set<string>();
    const rows: Array<DeliveryRecord["recipients"][number]> = [];
    for (const r of fieldsOf(req)) {
      const key = recipientKey(r.address);
      if (seen.has(key)) continue;
      seen.add(key);
      const resolution = resolutions.get(r.address);
      const outcome = outcomes.get(key);
      rows.push({
        address: r.address,
        field: r.field,
        ...(resolution === undefined ? {} : resolution.jid !== null ? { jid: resolution.jid, via: resolution.via } : { via: resolution.why }),
        reason: decision.reasons.get(r.address) ?? "no-jid",
        ...(decision.xmpp.some((x) => recipientKey(x.address) === key) ? { outcome: outcome?.status ?? "not-sent" } : {}),
        ...((outcome?.status === "filed" || outcome?.status === "accepted") && outcome.e2e !== undefined ? { e2e: outcome.e2e } : {}),
        ...((outcome?.status === "filed" || outcome?.status === "accepted") && outcome.e2e === false && outcome.e2eWhyNot ? { e2eWhyNot: outcome.e2eWhyNot } : {}),
        ...(outcome?.status === "failed" ? { detail: outcome.reason } : outcome?.status === "timeout" ? { detail: outcome.sent ? "no answer in time (may have arrived)" : "not sent in time" } : {}),
        smtp: smtpKeys.has(key),
      });
    }
    const anyXmpp = [...outcomes.values()].some((o) => o.status === "filed");
    return {
      at: (this.#deps.now ?? (() => new Date()))().getTime(),
      holdMs,
      policy: config.policy,
      ...(messageId ? { messageId } : {}),
      ...(req.subject !== undefined ? { subject: req.subject.slice(0, 200) } : {}),
      summary: decision.summary,
      result: result.kind === "cancel" ? "xmpp" : anyXmpp ? "mixed" : "smtp",
      recipients: rows,
      ...(error ? { error } : {}),
    };
  }
}
