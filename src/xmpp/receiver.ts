// The Receiver (docs/protocol.md §6): for each mail stanza — validate, fetch, verify, parse,
// de-duplicate, check the sender, add the trace header, file, and only then send the "filed" receipt. Catches up
// on missed mail from the own MAM archive. A bad stanza never crashes anything: every path ends in an outcome.
import xml, { type Element } from "@xmpp/xml";
import jidParse from "@xmpp/jid";
import type { Logger } from "../core/log.js";
import { NS_CARBONS, NS_FORWARD } from "../core/protocol.js";
import { parseAddressList, parseSingleMailbox } from "../core/mime/address.js";
import { inspectMailSliced, MimeInspectError, type InspectedMail } from "../core/mime/inspect.js";
import { DEFAULT_SLOT_LIMITS, DownloadSlots, SlotsFullError, type SlotLimits } from "../core/download-slots.js";
import { decodeBase64StrictSliced } from "../core/base64.js";
import { openPayload, sha256Base64 } from "../core/payload-crypto.js";
import { checkSender, DedupeSet, messageIdKey, neutralizeTraceHeaders, originKey, prependHeader, traceHeader } from "../core/receive-rules.js";
import { buildFiledReceipt, buildRejection, DEFAULT_MAIL_LIMITS, parseMailStanza, type IncomingMail, type MailLimits, type MailRejectReason } from "./mail-stanza.js";
import { isLoopbackUrl } from "../core/host.js";
import type { XmppSession } from "./session.js";
import { checkDownloadTarget, downloadBytes, type DownloadPolicy, type HostResolver } from "./upload.js";
import { decodeExternalKeys } from "../core/e2e/envelope.js";
import { E2eError } from "../core/e2e/primitives.js";
import type { Keyring, OpenVerdict } from "./e2e-keyring.js";
import { wireToEnvelope, type SealedMail } from "./mail-stanza-v1.js";

export interface FiledMail {
  /** The mail with the trace header prepended. */
  readonly raw: Uint8Array;
  readonly verified: boolean;
  /** Whether the sender is known (address book); unknown verified senders are tagged. */
  readonly known: boolean;
  readonly fromJid: string;
  /** The single From address when the sender check verified it (what an SMTP copy of the same mail carries). */
  readonly fromAddress: string | null;
  readonly originId: string;
  readonly messageId: string | null;
  readonly subject: string;
  /** Version 1, signed by a device not pinned for the sender (docs/protocol.md §10.6.2): filed with a warning tag. */
  readonly keyChanged?: boolean;
}

/** Stores a mail durably; resolves only when it is stored, rejects when it is not. */
export interface MailSink {
  file(mail: FiledMail): Promise<void>;
}

export interface SenderDirectory {
  confirmedJids(address: string): Promise<string[]>;
  addressBookJids(address: string): Promise<string[]>;
  isKnown(jid: string): Promise<boolean>;
}

export interface KeyValueStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
}

/** How a stanza reached us: directly, as a carbon copy of a message routed to another client of ours, or from MAM. */
export type Via = "live" | "carbon" | "mam";

export type ReceiveOutcome =
  | { readonly status: "filed"; readonly verified: boolean }
  | { readonly status: "duplicate" }
  | { readonly status: "rejected"; readonly reason: MailRejectReason }
  | { readonly status: "failed"; readonly error: string }
  | { readonly status: "ignored" };

/** What the admission check (limits on unsolicited mail, block list) is told; `sender` is null before the download. */
export interface AdmitInfo {
  readonly fromJid: string;
  readonly size: number;
  readonly via: Via;
  readonly sender: null | { readonly verified: boolean; readonly how: string; readonly fromAddress: string | null; readonly known: boolean };
}

export type AdmitDecision = { readonly admit: true } | { readonly admit: false; readonly detail: string };

export interface MailReceiverDeps {
  readonly session: XmppSession;
  readonly sink: MailSink;
  readonly directory: SenderDirectory;
  readonly store: KeyValueStore;
  readonly log: Logger;
  readonly limits?: MailLimits;
  /** The GET of an external payload, after checkDownloadTarget() allowed its URL. Default: downloadBytes. */
  readonly download?: (url: string, maxBytes: number, timeoutMs: number) => Promise<Uint8Array>;
  /**
   * The addresses of a download's host name (messenger.dns.resolve in Thunderbird). Without it no host name can be
   * checked, so only loopback literals are fetched, and those only while loopback downloads are allowed.
   */
  readonly resolveHost?: HostResolver;
  /**
   * Loopback download URLs (http or https, any port): by default exactly while the session's WebSocket URL is itself
   * on loopback (a local test server, docs/protocol.md §4). Tests of the deployed rules set it to false.
   */
  readonly allowLoopbackDownloads?: boolean;
  /** Per external payload, from the first DNS lookup to the last byte (default DOWNLOAD_TIMEOUT_MS). */
  readonly downloadTimeoutMs?: number;
  /** How many downloads run at once, overall and per sender, and how many may wait (default DEFAULT_SLOT_LIMITS). */
  readonly downloadSlots?: SlotLimits;
  /** Longest wait for the sink to file one mail (default 90 s: above the platform sink's own import bound). */
  readonly fileTimeoutMs?: number;
  readonly now?: () => Date;
  /** Asked before the download (size, block list) and after the sender check; a refusal is answered "policy". */
  readonly admit?: (info: AdmitInfo) => Promise<AdmitDecision>;
  /** Opens version 1 payloads (docs/protocol.md §10.5.3); without it they are refused "e2e-failed". */
  readonly e2e?: Pick<Keyring, "open">;
}

/** An external payload fetched and opened, with the version 1 verdict when it was sealed. */
interface Fetched {
  readonly raw: Uint8Array;
  readonly e2e?: OpenVerdict;
}

/** A version 1 copy that holds no key for this device: another device of the account may; no answer (§5.4). */
class NotForThisDevice extends Error {}

const NS_MAM = "urn:xmpp:mam:2";
const NS_RSM = "http://jabber.org/protocol/rsm";
const DEDUPE_KEY = "dedupe";
const MAM_KEY = "mamLast";
/** MAM position meaning "the archive was empty: read it from the start". */
const FROM_START = "@start";
/**
 * Longest time for one external payload (DNS, GET, body). 20 s is the longest Send hold this implementation's
 * senders can be set to (SEND_HOLD_MAX_SECONDS; default 8 s, of which "filed" is awaited ≤ 3 s after the server's
 * ack): a download still running then can no longer spare its sender the SMTP fallback, it only holds a slot. A
 * 25 MiB payload needs ~10 s at 20 Mbit/s; loopback GETs of 10 MB take ~0.1 s (docs/performance.md).
 */
const DOWNLOAD_TIMEOUT_MS = 20_000;
/** Of that, the longest wait for the DNS answer on the host name. */
const DNS_TIMEOUT_MS = 5_000;

class Rejection extends Error {
  constructor(
    readonly reason: MailRejectReason,
    message: string,
  ) {
    super(message);
  }
}

export class MailReceiver {
  readonly #deps: MailReceiverDeps;
  #dedupe: Promise<DedupeSet> | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #started = false;
  readonly #slots: DownloadSlots;
  /** External payloads being fetched, by mail and reference: a second copy (carbon, MAM) waits for the same bytes. */
  readonly #fetching = new Map<string, Promise<Fetched | null>>();

  constructor(deps: MailReceiverDeps) {
    this.#deps = deps;
    this.#slots = new DownloadSlots(deps.downloadSlots ?? DEFAULT_SLOT_LIMITS);
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    const { session, log } = this.#deps;
    session.onStanza((stanza) => {
      if (!stanza.is("message")) return;
      const mam = stanza.getChild("result", NS_MAM);
      if (mam) {
        // MAM results are consumed by catchUp()'s own listener; one from anyone but our own archive is forged.
        const from = stanza.attrs.from ? jidParse(stanza.attrs.from).bare().toString().toLowerCase() : ownBare(session);
        if (from !== ownBare(session)) log.warn("forged-mam-result-dropped", { from });
        return;
      }
      const carbon = stanza.getChild("received", NS_CARBONS) ?? stanza.getChild("sent", NS_CARBONS);
      if (carbon) {
        // XEP-0280 §11: a carbon is genuine only when it comes from our own bare JID (the server stamps it); anyone
        // else can wrap a forged "received" message. A "sent" carbon is another client's outgoing message: not mail.
        if (stanza.attrs.from?.toLowerCase() !== ownBare(session)) {
          log.warn("forged-carbon-dropped", { from: stanza.attrs.from ?? "" });
          return;
        }
        const inner = carbon.getChild("forwarded", NS_FORWARD)?.getChild("message");
        if (carbon.is("received") && inner) void this.handle(inner, "carbon");
        return;
      }
      void this.handle(stanza, "live");
    });
    session.onStatus((s) => {
      if (s.state !== "online") return;
      this.catchUp().then(
        (n) => n > 0 && log.info("mam-catch-up", { handled: n }),
        (error: unknown) => log.warn("mam-catch-up-failed", { error }),
      );
    });
  }

  /**
   * Runs the pipeline for one stanza. The download of an external payload runs first, in parallel with others
   * (bounded overall and per sender, #slots); everything after it — de-duplication, checks, filing, receipt — runs
   * one stanza at a time, so simultaneous copies of one mail file once. Resolves when the stanza is done.
   */
  handle(stanza: Element, via: Via = "live"): Promise<ReceiveOutcome> {
    const limits = this.#deps.limits ?? DEFAULT_MAIL_LIMITS;
    const parsed = parseMailStanza(stanza, limits);
    const serial = (fetched: Promise<Fetched | null> | null) => {
      const run = this.#queue.then(() => this.#handle(stanza, via, parsed, fetched));
      this.#queue = run.catch(() => undefined);
      return run;
    };
    if (!parsed.ok || !isExternal(parsed.mail) || parsed.mail.from === ownBare(this.#deps.session)) return serial(null);
    const mail = parsed.mail;
    const key = JSON.stringify([mail.from, mail.originId, mail.size, mail.sha256, mail.payload]);
    let fetched = this.#fetching.get(key);
    const owner = fetched === undefined;
    if (fetched === undefined) {
      fetched = this.#prefetch(mail, via, limits);
      this.#fetching.set(key, fetched);
    }
    const done = fetched.then(
      () => serial(fetched),
      () => serial(fetched),
    );
    // Kept until the first copy is filed: a copy arriving meanwhile reuses the bytes; later ones find it in dedupe.
    if (owner) void done.finally(() => this.#fetching.delete(key));
    return done;
  }

  /**
   * Fetches, decrypts and verifies an external payload in a download slot. Null when the mail is already filed (no
   * download). Rejects with a Rejection: "policy" from the admission check, "download-failed" for everything else.
   */
  async #prefetch(mail: IncomingMail, via: Via, limits: MailLimits): Promise<Fetched | null> {
    if ((await this.#dedupeSet()).has(originKey(mail.from, mail.originId))) return null;
    await this.#admit({ fromJid: mail.from, size: mail.size, via, sender: null });
    try {
      return await this.#slots.run(mail.from, () => this.#external(mail, limits), via === "mam");
    } catch (error) {
      if (error instanceof SlotsFullError) throw new Rejection("download-failed", `not downloaded: ${error.message}`);
      throw error;
    }
  }

  /**
   * One reason for every failure of an external payload — URL rules, DNS, HTTP status, size, time, decryption, hash —
   * so that the answer tells a sender nothing about what a URL returned (docs/protocol.md §4). The detail is logged.
   */
  async #external(mail: IncomingMail, limits: MailLimits): Promise<Fetched> {
    let ref: { url: string; size: number };
    // Version 1: the key block is sealed. It is opened while the download runs (the URL needs no key); its failures
    // have their own answers (§5.4) and win over a download failure.
    let opening: Promise<{ verdict: OpenVerdict } | { error: unknown }> | null = null;
    if ("sealed" in mail.payload && mail.payload.sealed.external) {
      ref = mail.payload.sealed.external;
      opening = this.#open(mail, mail.payload.sealed, 1024).then(
        (verdict) => ({ verdict }),
        (error: unknown) => ({ error }),
      );
    } else if ("external" in mail.payload) {
      ref = mail.payload.external;
    } else {
      throw new Error("not an external payload");
    }
    const timeoutMs = this.#deps.downloadTimeoutMs ?? DOWNLOAD_TIMEOUT_MS;
    const started = Date.now();
    const left = () => Math.max(1, timeoutMs - (Date.now() - started));
    let ciphertext: Uint8Array | null = null;
    let downloadError: unknown = null;
    try {
      const policy: DownloadPolicy = {
        allowLoopback: this.#deps.allowLoopbackDownloads ?? isLoopbackUrl(this.#deps.session.websocketUrl),
        resolve: this.#deps.resolveHost ?? null,
      };
      const url = await checkDownloadTarget(ref.url, policy, Math.min(DNS_TIMEOUT_MS, left()));
      ciphertext = await (this.#deps.download ?? downloadBytes)(url, ref.size, left());
    } catch (error) {
      downloadError = error;
    }
    let keys: { key: string; iv: string; sha256: string };
    let verdict: OpenVerdict | undefined;
    if (opening) {
      const opened = await opening;
      if ("error" in opened) throw opened.error;
      verdict = opened.verdict;
      if (verdict.opened.kind !== "external") throw new Rejection("e2e-failed", "the envelope does not hold a key block");
      try {
        keys = decodeExternalKeys(verdict.opened.payload);
      } catch (error) {
        throw new Rejection("e2e-failed", error instanceof Error ? error.message : "bad key block");
      }
    } else if ("external" in mail.payload) {
      keys = { key: mail.payload.external.key, iv: mail.payload.external.iv, sha256: mail.sha256 };
    } else {
      throw new Error("not an external payload");
    }
    try {
      if (downloadError !== null || ciphertext === null) throw downloadError ?? new Error("no download");
      const raw = await openPayload(ciphertext, keys, limits.maxMailBytes);
      if (raw.length !== mail.size) throw new Error(`size ${raw.length} differs from the stated ${mail.size}`);
      return verdict ? { raw, e2e: verdict } : { raw };
    } catch (error) {
      throw new Rejection("download-failed", error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * Opens a version 1 envelope for this account (docs/protocol.md §10.5.3) and maps its failures to answers (§5.4):
   * malformed → "malformed"; misdirected, replay, replay-window, tampered → "e2e-failed"; not for this device → no
   * answer. A signature that does not verify is not a failure: the verdict says unverified.
   */
  async #open(mail: IncomingMail, sealed: SealedMail, maxPlainBytes: number): Promise<OpenVerdict> {
    const keyring = this.#deps.e2e;
    if (!keyring) throw new Rejection("e2e-failed", "this client cannot open end-to-end encrypted mail");
    try {
      const envelope = await wireToEnvelope(sealed.envelope, maxPlainBytes + 16);
      return await keyring.open(envelope, { from: mail.from, to: ownBare(this.#deps.session), originId: mail.originId }, maxPlainBytes);
    } catch (error) {
      if (!(error instanceof E2eError)) throw error;
      if (error.code === "not-for-this-device") throw new NotForThisDevice(error.message);
      if (error.code === "malformed") throw new Rejection("malformed", `envelope: ${error.message}`);
      throw new Rejection("e2e-failed", `${error.code}: ${error.message}`);
    }
  }

  async #handle(stanza: Element, via: Via, parsed: ReturnType<typeof parseMailStanza>, fetched: Promise<Fetched | null> | null): Promise<ReceiveOutcome> {
    // Live and carbon copies are answered (their sender waits for the receipt); archive copies are not.
    const answer = via !== "mam";
    const { log, session } = this.#deps;
    const limits = this.#deps.limits ?? DEFAULT_MAIL_LIMITS;
    if (!parsed.ok) {
      if (parsed.ignore) return { status: "ignored" };
      log.warn("mail-rejected", { from: parsed.from ?? "", reason: parsed.reason, detail: parsed.detail, via });
      // Archive copies were answered when they first arrived (or their sender has long given up): no second reply.
      if (answer && parsed.from && parsed.id && stanza.attrs.from) this.#reply(buildRejection(stanza.attrs.from, parsed.id, parsed.reason));
      return { status: "rejected", reason: parsed.reason };
    }
    const mail = parsed.mail;
    if (mail.from === ownBare(session)) return { status: "ignored" }; // our own outgoing copy (e.g. from MAM)
    try {
      const dedupe = await this.#dedupeSet();
      const oKey = originKey(mail.from, mail.originId);
      if (dedupe.has(oKey)) {
        if (answer) this.#reply(buildFiledReceipt(mail.fromFull, mail.id));
        return { status: "duplicate" };
      }
      await this.#admit({ fromJid: mail.from, size: mail.size, via, sender: null });
      const got = fetched ? await this.#fetched(fetched) : await this.#bytes(mail, limits);
      const raw = got.raw;
      const sealedVerdict = got.e2e;
      let email: InspectedMail;
      try {
        email = await inspectMailSliced(raw); // in ~10 ms slices: a hostile 25 MiB mail never holds the thread long
      } catch (error) {
        throw new Rejection("not-mime", error instanceof MimeInspectError ? error.message : "unparsable");
      }
      if (email.from.length === 0) throw new Rejection("not-mime", "no From header");
      const messageId = email.messageId;
      if (messageId && dedupe.has(messageIdKey(mail.from, messageId))) {
        dedupe.add(oKey);
        await this.#persist(dedupe);
        if (answer) this.#reply(buildFiledReceipt(mail.fromFull, mail.id));
        return { status: "duplicate" };
      }
      // Only exactly one mailbox is checked against the JID: a tolerant reading of anything else could pick another
      // address than the one Thunderbird displays.
      const mailbox = email.from.length === 1 ? parseSingleMailbox(email.from[0]!) : null;
      const fromUnclear = email.from.length === 1 && mailbox === null;
      const fromAddresses = email.from.length > 1 ? ["(several From headers)", "x"] : mailbox ? [mailbox.address.toLowerCase()] : fromAddressList(email.from[0]!);
      const single = mailbox ? mailbox.address.toLowerCase() : "";
      const { directory } = this.#deps;
      const [confirmedJids, addressBookJids, senderKnown] = await Promise.all([
        single ? directory.confirmedJids(single) : Promise.resolve([]),
        single ? directory.addressBookJids(single) : Promise.resolve([]),
        directory.isKnown(mail.from),
      ]);
      // Version 1 with a signature that does not verify: from an unverified sender, whatever the From header says (§6.2).
      const verdict: ReturnType<typeof checkSender> =
        sealedVerdict && !sealedVerdict.verified
          ? { verified: false, reason: sealedVerdict.unverifiedReason ?? "bad-signature" }
          : checkSender({ fromAddresses, fromUnclear, senderJid: mail.from, confirmedJids, addressBookJids, senderKnown });
      const known = verdict.verified ? verdict.known : senderKnown;
      const how = verdict.verified ? verdict.how : verdict.reason;
      await this.#admit({ fromJid: mail.from, size: mail.size, via, sender: { verified: verdict.verified, how, fromAddress: verdict.verified ? single : null, known } });
      const receivedAt = (this.#deps.now ?? (() => new Date()))();
      const header = traceHeader({
        fromJid: mail.from,
        verified: verdict.verified,
        ...(verdict.verified ? { how: verdict.how } : { how: verdict.reason }),
        originId: mail.originId,
        receivedAt,
        e2e: sealedVerdict?.verified === true,
        keyChanged: sealedVerdict?.keyChanged === true,
      });
      await this.#fileBounded({
        raw: prependHeader(neutralizeTraceHeaders(raw), header),
        verified: verdict.verified,
        known: verdict.verified ? verdict.known : senderKnown,
        fromJid: mail.from,
        fromAddress: verdict.verified ? single : null,
        originId: mail.originId,
        messageId,
        subject: email.subject,
        ...(sealedVerdict?.keyChanged ? { keyChanged: true } : {}),
      });
      // Filed: remember it, then (and only then) tell the sender.
      dedupe.add(oKey);
      if (messageId) dedupe.add(messageIdKey(mail.from, messageId));
      try {
        await this.#persist(dedupe);
      } catch (error) {
        // Filed all the same: acknowledge it; at worst a retransmission after a restart is filed twice.
        log.warn("dedupe-save-failed", { error });
      }
      this.#reply(buildFiledReceipt(mail.fromFull, mail.id));
      log.info("mail-received", { from: mail.from, verified: verdict.verified, via, size: mail.size, e2e: sealedVerdict?.verified === true, signerChanged: sealedVerdict?.keyChanged === true });
      return { status: "filed", verified: verdict.verified };
    } catch (error) {
      if (error instanceof NotForThisDevice) {
        // Another device of this account may hold the key (docs/protocol.md §10.5.4): no answer; the sender's deadline
        // sends it by SMTP if none does.
        log.info("mail-not-for-this-device", { from: mail.from, id: mail.id, via });
        return { status: "ignored" };
      }
      if (error instanceof Rejection) {
        log.warn("mail-rejected", { from: mail.from, reason: error.reason, detail: error.message, via });
        if (answer) this.#reply(buildRejection(mail.fromFull, mail.id, error.reason));
        return { status: "rejected", reason: error.reason };
      }
      // Not filed (sink failure or a bug): no receipt, nothing remembered — the sender falls back, a retransmission files.
      log.error("mail-not-filed", { from: mail.from, id: mail.id, error });
      return { status: "failed", error: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * The sink, with a deadline: mail is received one stanza at a time, so a sink that never settles (a Thunderbird
   * import into a folder whose index a crash left stale did not, in tests) would stop all receiving. Past the deadline
   * the mail counts as not filed: no receipt, nothing remembered; the sender falls back to SMTP, and if the import
   * completes after all, the sink's own lookup finds it before filing a retransmission or archive copy again.
   */
  #fileBounded(mail: FiledMail): Promise<void> {
    const ms = this.#deps.fileTimeoutMs ?? 90_000;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`filing took longer than ${ms} ms`)), ms);
      this.#deps.sink.file(mail).then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  async #admit(info: AdmitInfo): Promise<void> {
    const decision = this.#deps.admit ? await this.#deps.admit(info) : null;
    if (decision && !decision.admit) throw new Rejection("policy", decision.detail);
  }

  /** The bytes of an inline payload, checked against the stated size and SHA-256 (version 1: opened, §5.3). */
  async #bytes(mail: IncomingMail, limits: MailLimits): Promise<Fetched> {
    if ("sealed" in mail.payload) {
      const verdict = await this.#open(mail, mail.payload.sealed, limits.maxMailBytes);
      if (verdict.opened.kind !== "inline") throw new Rejection("e2e-failed", "the envelope holds a key block, not a mail");
      if (verdict.opened.payload.length !== mail.size) throw new Rejection("malformed", `size ${verdict.opened.payload.length} differs from the stated ${mail.size}`);
      return { raw: verdict.opened.payload, e2e: verdict };
    }
    if (!("inline" in mail.payload)) throw new Error("not an inline payload");
    let raw: Uint8Array;
    try {
      raw = await decodeBase64StrictSliced(mail.payload.inline, limits.maxMailBytes); // 25 MiB: ~0.2 s, in slices
    } catch (error) {
      throw new Rejection("malformed", error instanceof Error ? error.message : "bad base64");
    }
    if (raw.length !== mail.size) throw new Rejection("malformed", `size ${raw.length} differs from the stated ${mail.size}`);
    if ((await sha256Base64(raw)) !== mail.sha256) throw new Rejection("hash-mismatch", "SHA-256 of the mail does not match");
    return { raw };
  }

  /** The prefetched external payload (already verified by openPayload). */
  async #fetched(fetched: Promise<Fetched | null>): Promise<Fetched> {
    const got = await fetched;
    // Null: it was filed when the download was skipped, and is no longer in the dedupe set (5,000 filings later).
    if (got === null) throw new Error("already filed, no longer remembered as filed: not filed again");
    return got;
  }

  /** Loaded once (a promise, so that a download's early look and the filing share one set). */
  #dedupeSet(): Promise<DedupeSet> {
    this.#dedupe ??= this.#deps.store.get(DEDUPE_KEY).then((saved) => new DedupeSet(5000, saved));
    const loading = this.#dedupe;
    loading.catch(() => {
      if (this.#dedupe === loading) this.#dedupe = null; // a failed load is tried again with the next stanza
    });
    return loading;
  }

  async #persist(dedupe: DedupeSet): Promise<void> {
    await this.#deps.store.set(DEDUPE_KEY, dedupe.toJSON());
  }

  /** Hands a receipt or rejection to the outbox without holding up the next stanza while it waits for the ack. */
  #reply(stanza: Element): void {
    void this.#deps.session.send(stanza, 30_000).then((outcome) => {
      if (outcome.status === "failed" || outcome.status === "timeout") this.#deps.log.warn("reply-not-sent", { status: outcome.status });
    });
  }

  /**
   * Files what arrived while we were away and another client took: pages through the own MAM archive after the last
   * processed id. The first run only records the archive's current end (no flood of old history).
   */
  async catchUp(pageSize = 50, maxPages = 20): Promise<number> {
    const { session, store, log } = this.#deps;
    const own = ownBare(session);
    if (!own) return 0;
    const last = await store.get(MAM_KEY);
    let after = typeof last === "string" && last ? last : null;
    let handled = 0;
    if (after === null) {
      // First run: start from the archive's current end (no flood of old history). An empty archive is remembered as
      // "from the beginning", so mail archived before the next login is not skipped.
      const page = await this.#mamPage(own, { before: "", max: 1 });
      await store.set(MAM_KEY, page.last ?? FROM_START);
      return 0;
    }
    for (let i = 0; i < maxPages; i++) {
      let page: MamPage;
      try {
        page = await this.#mamPage(own, after === FROM_START ? { max: pageSize } : { after, max: pageSize });
      } catch (error) {
        // The archive no longer knows our position (the server lost or expired it): restart from its current end, as
        // on a first run. What arrived in between was never confirmed "filed" by us, so its sender used SMTP.
        if (after === FROM_START || (error as { condition?: unknown } | null)?.condition !== "item-not-found") throw error;
        log.warn("mam-position-lost", { after });
        const end = await this.#mamPage(own, { before: "", max: 1 });
        await store.set(MAM_KEY, end.last ?? FROM_START);
        return handled;
      }
      for (const { archiveId, message } of page.messages) {
        const outcome = await this.handle(message, "mam");
        if (outcome.status === "failed") {
          // Not filed: keep the position before it, so the next catch-up tries again.
          log.warn("mam-catch-up-stopped", { at: archiveId });
          return handled;
        }
        if (outcome.status !== "ignored") handled += 1;
        after = archiveId;
        await store.set(MAM_KEY, after);
      }
      if (page.last) {
        after = page.last;
        await store.set(MAM_KEY, after);
      }
      if (page.complete || page.messages.length === 0) break;
    }
    log.debug("mam-position", { after });
    return handled;
  }

  async #mamPage(
    own: string,
    rsm: { after?: string; before?: string; max: number },
  ): Promise<MamPage> {
    const { session, log } = this.#deps;
    const queryid = `q${Math.floor(Math.random() * 1e12).toString(36)}`;
    const messages: Array<{ archiveId: string; message: Element }> = [];
    const off = session.onStanza((stanza) => {
      const result = stanza.getChild("result", NS_MAM);
      if (!stanza.is("message") || !result || result.attrs.queryid !== queryid) return;
      // Only our own archive may speak for us: anything else claiming to be a MAM result is forged.
      const from = stanza.attrs.from ? jidParse(stanza.attrs.from).bare().toString().toLowerCase() : own;
      if (from !== own) {
        log.warn("forged-mam-result-dropped", { from });
        return;
      }
      const inner = result.getChild("forwarded", NS_FORWARD)?.getChild("message");
      if (inner && result.attrs.id) messages.push({ archiveId: result.attrs.id, message: inner });
    });
    try {
      const set = xml(
        "set",
        { xmlns: NS_RSM },
        xml("max", {}, String(rsm.max)),
        rsm.after !== undefined ? xml("after", {}, rsm.after) : null,
        rsm.before !== undefined ? xml("before", {}, rsm.before) : null,
      );
      const reply = await session.request(xml("iq", { type: "set" }, xml("query", { xmlns: NS_MAM, queryid }, set)), 15_000);
      const fin = reply.getChild("fin", NS_MAM);
      const last = fin?.getChild("set", NS_RSM)?.getChildText("last") ?? null;
      return { messages, last, complete: fin?.attrs.complete === "true" };
    } finally {
      off();
    }
  }
}

interface MamPage {
  readonly messages: Array<{ archiveId: string; message: Element }>;
  readonly last: string | null;
  readonly complete: boolean;
}

/** An uploaded payload, in either version: fetched in a download slot before the serial part. */
function isExternal(mail: IncomingMail): boolean {
  return "external" in mail.payload || ("sealed" in mail.payload && mail.payload.sealed.external !== undefined);
}

function ownBare(session: XmppSession): string {
  const full = session.jid;
  return full ? jidParse(full).bare().toString().toLowerCase() : "";
}

/** Every address in a From header value (RFC 2047 words left as they are: only the addr-specs matter here). */
function fromAddressList(value: string): string[] {
  try {
    return parseAddressList(value).map((a) => a.address.toLowerCase());
  } catch {
    return [];
  }
}
