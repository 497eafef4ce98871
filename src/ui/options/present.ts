// Pure presentation logic of the options page: which message to show for a test result, a discovery or a settings
// error, the folder choice, and runtime checks of the page's replies (the status texts are in ../shared/status.ts).
import type { ConnectFailureKind, ConnectTestResult } from "../../core/messages.js";
import { validateSetting, type SettingError, type SettingKey } from "../../core/settings.js";
import type { MessageKey } from "../../platform/i18n.js";
import { isFiniteNumber, isObject } from "../shared/checks.js";
import { parseLimitations } from "../shared/status.js";
import { clip, type Text } from "../shared/text.js";

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
  e2ePreview: "settingName_e2ePreview",
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

export function testResultText(result: ConnectTestResult): { readonly text: Text; readonly detail?: Text } {
  if (result.ok) {
    const key = result.limitations?.length ? "testOkLimited" : "testOk";
    return { text: { key, subs: [clip(result.jid), clip(result.mechanism, 40), String(Math.round(result.millis))] } };
  }
  const text: Text = { key: FAILURE_TEXT[result.kind] };
  return result.detail === "" ? { text } : { text, detail: { key: "resultDetail", subs: [clip(result.detail)] } };
}

// ---- runtime checks of replies and pushes -------------------------------------------------------------

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
