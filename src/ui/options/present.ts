// Pure presentation logic of the options page: which message to show for a status, a test result or a
// settings error, and runtime checks of what the background sends (the page displays nothing unchecked).
import type { ConnectFailureKind, ConnectTestResult } from "../../core/messages.js";
import { validateSetting, type SettingError, type SettingKey } from "../../core/settings.js";
import type { CapabilityLimitCode, Limitation } from "../../core/limitations.js";
import { aboutKib } from "../../core/limitations.js";
import { limitationsOf, type SessionStatus } from "../../core/status.js";
import type { MessageKey } from "../../platform/i18n.js";

/** A message key with its substitutions, turned into text by i18n.t(). */
export interface Text {
  readonly key: MessageKey;
  readonly subs?: readonly string[];
}

/** Plain words and the fix, per failure kind. */
export const FAILURE_TEXT: { readonly [K in ConnectFailureKind]: MessageKey } = {
  "invalid-input": "testFail_invalidInput",
  insecure: "testFail_insecure",
  dns: "testFail_dns",
  refused: "testFail_refused",
  tls: "testFail_tls",
  "not-websocket": "testFail_notWebsocket",
  "no-websocket": "testFail_noWebsocket",
  auth: "testFail_auth",
  timeout: "testFail_timeout",
  other: "testFail_other",
};

export const SETTING_ERROR_TEXT: { readonly [K in SettingError]: MessageKey } = {
  "wrong-type": "settingError_wrongType",
  "unknown-key": "settingError_unknownKey",
  locked: "settingError_locked",
  "policy-not-object": "settingError_policyNotObject",
  "jid-whitespace": "settingError_jidWhitespace",
  "jid-too-long": "settingError_jidTooLong",
  "jid-missing-local": "settingError_jidMissingLocal",
  "jid-bad-local": "settingError_jidBadLocal",
  "jid-bad-domain": "settingError_jidBadDomain",
  "jid-bad-resource": "settingError_jidBadResource",
  "url-too-long": "settingError_urlTooLong",
  "url-whitespace": "settingError_urlWhitespace",
  "url-invalid": "settingError_urlInvalid",
  "url-scheme": "settingError_urlScheme",
  "url-insecure": "settingError_urlInsecure",
  "url-credentials": "settingError_urlCredentials",
  "url-fragment": "settingError_urlFragment",
  "password-empty": "settingError_passwordEmpty",
  "password-too-long": "settingError_passwordTooLong",
  "password-control-chars": "settingError_passwordControlChars",
  "log-level-unknown": "settingError_logLevelUnknown",
  "unknown-senders-invalid": "settingError_unknownSendersInvalid",
  "receive-folder-too-long": "settingError_receiveFolderTooLong",
  "receive-folder-control-chars": "settingError_receiveFolderControlChars",
  "route-policy-invalid": "settingError_routePolicyInvalid",
  "send-hold-invalid": "settingError_sendHoldInvalid",
  "xmpp-domains-invalid": "settingError_xmppDomainsInvalid",
  "xmpp-identities-invalid": "settingError_xmppIdentitiesInvalid",
  "stranger-limit-invalid": "settingError_strangerLimitInvalid",
};

export const SETTING_NAME_TEXT: { readonly [K in SettingKey]: MessageKey } = {
  enabled: "settingName_enabled",
  jid: "settingName_jid",
  websocketUrl: "settingName_websocketUrl",
  password: "settingName_password",
  logLevel: "settingName_logLevel",
  unknownSenders: "settingName_unknownSenders",
  receiveFolder: "settingName_receiveFolder",
  routePolicy: "settingName_routePolicy",
  sendHoldSeconds: "settingName_sendHoldSeconds",
  xmppDomains: "settingName_xmppDomains",
  xmppIdentities: "settingName_xmppIdentities",
  announceJid: "settingName_announceJid",
  learnJids: "settingName_learnJids",
  strangerMailsPerHour: "settingName_strangerMailsPerHour",
  strangerMailsPerDay: "settingName_strangerMailsPerDay",
  strangerMaxKiB: "settingName_strangerMaxKiB",
};

// ---- the folder choice for received mail --------------------------------------------------------------

/** The parts of a folders.MailFolder the choice looks at. */
export interface FolderLike {
  readonly id?: string | undefined;
  readonly accountId?: string | undefined;
  readonly path: string;
  readonly isRoot?: boolean | undefined;
  readonly isVirtual?: boolean | undefined;
  readonly isUnified?: boolean | undefined;
  readonly isTag?: boolean | undefined;
}

/** The parts of an accounts.MailAccount the choice looks at. */
export interface AccountLike {
  readonly id: string;
  readonly name: string;
  readonly type: string;
}

export interface FolderChoice {
  /** The folders.MailFolderId to store as receiveFolder. */
  readonly id: string;
  readonly text: Text;
}

/**
 * The folders offered for received mail, from folders.query({canAddMessages: true}) and accounts.list(): real
 * folders (no root, search, unified or tag folders) of accounts messages.import() can file into, in the order of
 * the accounts, each shown as "account: path". messages.import() accepts local folders and POP3, and from
 * Thunderbird 133 on also IMAP (153's ext-messages.js: "none", "pop3", "imap"); an unknown version (NaN) counts as 128.
 */
export function folderChoices(folders: readonly FolderLike[], accounts: readonly AccountLike[], thunderbirdMajor: number): FolderChoice[] {
  const importable = thunderbirdMajor >= 133 ? ["none", "pop3", "imap"] : ["none", "pop3"];
  return accounts.flatMap((account) =>
    importable.includes(account.type)
      ? folders.flatMap((f) =>
          f.accountId !== account.id || f.id === undefined || f.isRoot || f.isVirtual || f.isUnified || f.isTag || !validateSetting("receiveFolder", f.id).ok
            ? []
            : [{ id: f.id, text: { key: "receiveFolderChoice", subs: [clip(account.name, 80), clip(f.path.replace(/^\/+/, ""), 200)] } }],
        )
      : [],
  );
}

/** Text from the background or a policy is shown as-is (textContent), but bounded. */
export function clip(text: string, max = 300): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function statusText(status: SessionStatus, formatTime: (epochMillis: number) => string): Text {
  switch (status.state) {
    case "disconnected":
      return status.reason ? { key: "statusDisconnectedReason", subs: [clip(status.reason)] } : { key: "statusDisconnected" };
    case "connecting":
      return status.attempt > 1 ? { key: "statusConnectingAttempt", subs: [String(status.attempt)] } : { key: "statusConnecting" };
    case "online":
      return status.limitations?.length ? { key: "statusOnlineLimited", subs: [clip(status.jid)] } : { key: "statusOnline", subs: [clip(status.jid)] };
    case "auth-failed":
      return { key: "statusAuthFailed", subs: [clip(status.reason)] };
    case "error":
      return status.retryAt === undefined
        ? { key: "statusError", subs: [clip(status.reason)] }
        : { key: "statusErrorRetry", subs: [clip(status.reason), formatTime(status.retryAt)] };
  }
}

// ---- limitations: what the server lacks and what it costs -----------------------------------------------

const CAPABILITY_REASON_TEXT: { readonly [C in CapabilityLimitCode]: MessageKey } = {
  "no-pep": "capabilityReason_noPep",
  "no-open-access": "capabilityReason_noOpenAccess",
  refused: "capabilityReason_refused",
  "no-answer": "capabilityReason_noAnswer",
};

/** One limitation in the user's words; `tr` is i18n.t (injected so this stays pure). */
export function limitationLine(l: Limitation, formatTime: (epochMillis: number) => string, tr: (key: MessageKey, subs?: readonly string[]) => string): string {
  switch (l.feature) {
    case "capability": {
      const reason = tr(CAPABILITY_REASON_TEXT[l.code], l.code === "refused" ? [clip(l.detail || "?", 200)] : undefined);
      return l.retryAt === undefined ? tr("limitCapability", [reason]) : tr("limitCapabilityRetry", [reason, formatTime(l.retryAt)]);
    }
    case "carbons":
      return tr("limitCarbons");
    case "mam":
      return tr("limitMam");
    case "upload":
      if (l.blocked) {
        const key = l.blocked.reason === "no-permission" ? "limitUploadBlocked" : "limitUploadUnreachable";
        return tr(key, [clip(l.blocked.host, 100), aboutKib(l.inlineLimitBytes)]);
      }
      return tr("limitUpload", [aboutKib(l.inlineLimitBytes)]);
    case "sm":
      return tr("limitSm");
  }
}

/** The limitations of a status, each in the user's words (empty unless online with limitations). */
export function limitationLines(status: SessionStatus, formatTime: (epochMillis: number) => string, tr: (key: MessageKey, subs?: readonly string[]) => string): string[] {
  return limitationsOf(status).map((l) => limitationLine(l, formatTime, tr));
}

/** The status as one text (toolbar tooltip): the state, then one line per limitation. */
export function statusSummary(status: SessionStatus, formatTime: (epochMillis: number) => string, tr: (key: MessageKey, subs?: readonly string[]) => string): string {
  const head = statusText(status, formatTime);
  return [tr(head.key, head.subs), ...limitationLines(status, formatTime, tr).map((line) => `• ${line}`)].join("\n");
}

export function testResultText(result: ConnectTestResult): { readonly text: Text; readonly detail?: Text } {
  if (result.ok) {
    const key = result.limitations?.length ? "testOkLimited" : "testOk";
    return { text: { key, subs: [clip(result.jid), clip(result.mechanism, 40), String(Math.round(result.millis))] } };
  }
  const text: Text = { key: FAILURE_TEXT[result.kind] };
  return result.detail === "" ? { text } : { text, detail: { key: "resultDetail", subs: [clip(result.detail)] } };
}

// ---- runtime checks of replies and pushes -------------------------------------------------------------

type Fields = Readonly<Record<string, unknown>>;
/** An origin pattern the add-on may ask for (its optional_permissions): one https host, or loopback for tests. */
const isUploadOrigin = (o: unknown): boolean => typeof o === "string" && (/^https:\/\/[^/*\s]+\/\*$/.test(o) || o === "http://127.0.0.1/*");
const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const optionalString = (v: unknown): v is string | undefined => v === undefined || typeof v === "string";

export function parseSessionStatus(value: unknown): SessionStatus | null {
  if (!isObject(value)) return null;
  switch (value.state) {
    case "disconnected":
      return optionalString(value.reason) ? (value.reason === undefined ? { state: "disconnected" } : { state: "disconnected", reason: value.reason }) : null;
    case "connecting":
      return isFiniteNumber(value.attempt) ? { state: "connecting", attempt: value.attempt } : null;
    case "online": {
      if (typeof value.jid !== "string" || !isFiniteNumber(value.since)) return null;
      const limitations = parseLimitations(value.limitations);
      if (limitations === null) return null;
      return limitations.length ? { state: "online", jid: value.jid, since: value.since, limitations } : { state: "online", jid: value.jid, since: value.since };
    }
    case "auth-failed":
      return typeof value.reason === "string" ? { state: "auth-failed", reason: value.reason } : null;
    case "error":
      if (typeof value.reason !== "string") return null;
      if (value.retryAt === undefined) return { state: "error", reason: value.reason };
      return isFiniteNumber(value.retryAt) ? { state: "error", reason: value.reason, retryAt: value.retryAt } : null;
    default:
      return null;
  }
}

const CAPABILITY_CODES = new Set<string>(Object.keys(CAPABILITY_REASON_TEXT));

/** A limitation from the background, checked field by field; null when malformed. */
export function parseLimitation(value: unknown): Limitation | null {
  if (!isObject(value)) return null;
  switch (value.feature) {
    case "capability": {
      const { code, detail, retryAt } = value;
      if (typeof code !== "string" || !CAPABILITY_CODES.has(code) || typeof detail !== "string") return null;
      const base = { feature: "capability" as const, code: code as CapabilityLimitCode, detail };
      if (retryAt === undefined) return base;
      return isFiniteNumber(retryAt) ? { ...base, retryAt } : null;
    }
    case "upload": {
      if (!isFiniteNumber(value.inlineLimitBytes) || value.inlineLimitBytes < 0) return null;
      const b = value.blocked;
      if (b === undefined) return { feature: "upload", inlineLimitBytes: value.inlineLimitBytes };
      if (!isObject(b) || (b.reason !== "no-permission" && b.reason !== "unreachable") || typeof b.host !== "string") return null;
      const origins = b.origins;
      if (!Array.isArray(origins) || origins.length > 4 || !origins.every(isUploadOrigin)) return null;
      return { feature: "upload", inlineLimitBytes: value.inlineLimitBytes, blocked: { reason: b.reason, host: b.host, origins: origins as string[] } };
    }
    case "carbons":
    case "mam":
    case "sm":
      return { feature: value.feature };
    default:
      return null;
  }
}

/** Absent → []; a list of at most 10 well-formed limitations → them; anything else → null. */
function parseLimitations(value: unknown): Limitation[] | null {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 10) return null;
  const out: Limitation[] = [];
  for (const item of value) {
    const l = parseLimitation(item);
    if (l === null) return null;
    out.push(l);
  }
  return out;
}

/** The status carried by a StatusPush, or null when `message` is not one. */
export function parseStatusPush(message: unknown): SessionStatus | null {
  return isObject(message) && message.type === "status" ? parseSessionStatus(message.status) : null;
}

const FAILURE_KINDS = new Set<string>(Object.keys(FAILURE_TEXT));
const isFailureKind = (v: unknown): v is ConnectFailureKind => typeof v === "string" && FAILURE_KINDS.has(v);

export function parseTestResult(value: unknown): ConnectTestResult | null {
  if (!isObject(value)) return null;
  if (value.ok === true) {
    const { jid, mechanism, millis } = value;
    if (typeof jid !== "string" || typeof mechanism !== "string" || !isFiniteNumber(millis)) return null;
    const limitations = parseLimitations(value.limitations);
    if (limitations === null) return null;
    return limitations.length ? { ok: true, jid, mechanism, millis, limitations } : { ok: true, jid, mechanism, millis };
  }
  if (value.ok === false) {
    const { kind, detail } = value;
    return isFailureKind(kind) && typeof detail === "string" ? { ok: false, kind, detail } : null;
  }
  return null;
}

export function parseSaveReply(value: unknown): { readonly ok: true } | { readonly ok: false; readonly error: string } | null {
  if (!isObject(value)) return null;
  if (value.ok === true) return { ok: true };
  if (value.ok === false && typeof value.error === "string") return { ok: false, error: value.error };
  return null;
}

export function parseDiscoverReply(
  value: unknown,
): { readonly url: string } | { readonly error: string; readonly noWebsocket?: true } | null {
  if (!isObject(value)) return null;
  if (typeof value.url === "string") return { url: value.url };
  if (typeof value.error === "string") return value.noWebsocket === true ? { error: value.error, noWebsocket: true } : { error: value.error };
  return null;
}

/** What the Discover button shows when nothing was found: plainly "this server offers no WebSocket" when so. */
export function discoverFailureText(reply: { readonly error: string; readonly noWebsocket?: boolean }, domain: string): { readonly text: Text; readonly detail?: Text } {
  if (!reply.noWebsocket) return { text: { key: "discoverFailed", subs: [clip(reply.error)] } };
  return { text: { key: "discoverNoWebsocket", subs: [clip(domain, 100)] }, detail: { key: "resultDetail", subs: [clip(reply.error)] } };
}
