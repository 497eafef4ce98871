// User settings: typed defaults, strict validation, versioned migrations, and the merge of user values
// (storage.local) with enterprise-policy values (storage.managed), which override and lock.
// Pure: no host calls. src/platform/settings-store.ts reads and writes the storage areas.
//
// Validation errors are codes, never text that repeats the value: a password must not reach an error
// message or a log line, and the UI turns each code into a localized sentence.
import type { LogLevel } from "./log.js";
import { STRANGER_MAX_KIB_MAX, STRANGER_PER_DAY_MAX, STRANGER_PER_HOUR_MAX } from "./stranger-policy.js";
import { bareJidKey, jidDomain, jidLocal, jidResource } from "./jid.js";
import { DOTTED_QUAD, HOST_FORBIDDEN, isLoopbackHost } from "./host.js";

export interface Settings {
  /** Master switch: when false, every mail goes out by SMTP as if the add-on were not installed. */
  readonly enabled: boolean;
  /** The user's XMPP address (local@domain, optionally /resource). "" = not configured. */
  readonly jid: string;
  /** wss:// endpoint; "" = discover it from the JID's domain (XEP-0156). */
  readonly websocketUrl: string;
  /**
   * Policy-only way to preset a password. Users type theirs into the options page and the background keeps
   * credentials elsewhere, so storage.local normally has no such key.
   */
  readonly password: string;
  readonly logLevel: LogLevel;
  /**
   * Mail whose From address was verified against the sender's JID, from a sender who is not in the address book:
   * "deliver-tagged" files it like other verified mail, tagged "XMPP: new sender"; "unverified-folder" files it
   * with the mail from unverified senders.
   */
  readonly unknownSenders: UnknownSenderMode;
  /**
   * Where verified mail is filed: "" = the add-on's own folder under Local Folders (created on first use), else the
   * id of a Thunderbird folder (folders.MailFolderId, e.g. "account1://INBOX"). A folder that no longer exists
   * falls back to the default one.
   */
  readonly receiveFolder: string;
  /**
   * "whole-message": the mail goes over XMPP only when every recipient can take it, else all of it by SMTP (every copy
   * carries the headers the author wrote). "split": XMPP-capable recipients get it over XMPP, the others by SMTP (whose
   * copy then lists only the SMTP recipients in To/Cc, as Thunderbird writes the headers from the envelope).
   */
  readonly routePolicy: RoutePolicyMode;
  /** The longest a Send is held for XMPP delivery before the undelivered recipients fall back to SMTP, in seconds. */
  readonly sendHoldSeconds: number;
  /**
   * Mail domains whose addresses are also JIDs, separated by commas or spaces; "" = the domain of the user's own JID.
   * A recipient there still gets mail over XMPP only once its account is seen to accept it.
   */
  readonly xmppDomains: string;
  /** Put an X-Jabber-ID header with the user's JID into mail sent by SMTP, so that other users of the add-on learn it. */
  readonly announceJid: boolean;
  /**
   * Learn address → JID pairs from the X-Jabber-ID header of incoming mail (used automatically when the JID's domain
   * is the address's domain, else only once the user confirms it).
   */
  readonly learnJids: boolean;
  /**
   * Limits on mail over XMPP from senders the user has no relation with (not in the roster or address book, never
   * written to, no confirmed mapping): mails per hour per sender JID (0 = none at all), mails a day from all of them
   * together, and the largest such mail in KiB. Above a limit the mail is refused "policy" and comes by SMTP, where the
   * mail provider's spam filter applies (src/core/stranger-policy.ts).
   */
  readonly strangerMailsPerHour: number;
  readonly strangerMailsPerDay: number;
  readonly strangerMaxKiB: number;
  /**
   * E-mail addresses (the user's identities) whose mail may go over XMPP besides the one that is the bare JID itself,
   * separated by commas or spaces; "" = only that one. Mail from any other address goes by SMTP: the recipient
   * verifies the From address against the sending JID, so mail from an address not tied to the account would be
   * filed as unverified (see `boundAddresses`).
   */
  readonly xmppIdentities: string;
  /**
   * Mail sent end-to-end encrypted (docs/protocol.md §10.4.4): false = chat clients (and the servers on the route) see
   * only a neutral note as the message's readable body; true = the subject and the beginning of the text instead, as
   * version 0 puts them there (the mail itself stays encrypted).
   */
  readonly e2ePreview: boolean;
}

export type RoutePolicyMode = "whole-message" | "split";

export type UnknownSenderMode = "deliver-tagged" | "unverified-folder";

export type SettingKey = keyof Settings;

// unknownSenders and receiveFolder came after layout version 1 without a migration: stored data that lacks them
// simply gets their defaults, and older add-on versions ignore them.
export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  enabled: true,
  jid: "",
  websocketUrl: "",
  password: "",
  logLevel: "info",
  unknownSenders: "deliver-tagged",
  receiveFolder: "",
  routePolicy: "whole-message",
  sendHoldSeconds: 8,
  xmppDomains: "",
  announceJid: true,
  learnJids: true,
  strangerMailsPerHour: 3,
  strangerMailsPerDay: 20,
  strangerMaxKiB: 1024,
  xmppIdentities: "",
  e2ePreview: false,
});

export const SETTING_KEYS: readonly SettingKey[] = Object.freeze(Object.keys(DEFAULT_SETTINGS) as SettingKey[]);

export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(["error", "warn", "info", "debug"] as const);
export const ROUTE_POLICIES: readonly RoutePolicyMode[] = Object.freeze(["whole-message", "split"] as const);
export const SEND_HOLD_MAX_SECONDS = 20;
const XMPP_DOMAINS_MAX_LENGTH = 2048;
const XMPP_IDENTITIES_MAX_LENGTH = 2048;
export const UNKNOWN_SENDER_MODES: readonly UnknownSenderMode[] = Object.freeze(["deliver-tagged", "unverified-folder"] as const);

/** The storage.local key holding the version of the stored settings layout. */
export const SETTINGS_VERSION_KEY = "settingsVersion";
export const SETTINGS_VERSION = 1;

/** Limits from RFC 7622 §3.1: each part at most 1023 octets, the whole JID at most 3071. */
const JID_MAX_OCTETS = 3071;
const JID_PART_MAX_OCTETS = 1023;
const URL_MAX_LENGTH = 2048;
const PASSWORD_MAX_LENGTH = 1024;
const FOLDER_ID_MAX_LENGTH = 1024;

export type SettingError =
  | "wrong-type"
  | "unknown-key"
  | "locked"
  | "policy-not-object"
  | "jid-whitespace"
  | "jid-too-long"
  | "jid-missing-local"
  | "jid-bad-local"
  | "jid-bad-domain"
  | "jid-bad-resource"
  | "url-too-long"
  | "url-whitespace"
  | "url-invalid"
  | "url-scheme"
  | "url-insecure"
  | "url-credentials"
  | "url-fragment"
  | "password-empty"
  | "password-too-long"
  | "password-control-chars"
  | "log-level-unknown"
  | "unknown-senders-invalid"
  | "receive-folder-too-long"
  | "receive-folder-control-chars"
  | "route-policy-invalid"
  | "send-hold-invalid"
  | "xmpp-domains-invalid"
  | "stranger-limit-invalid"
  | "xmpp-identities-invalid";

export type Validation<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: SettingError };

/** One rejected value. `key` is a SettingKey, or the unknown name a policy used. */
export interface SettingIssue {
  readonly key: string;
  readonly error: SettingError;
}

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(DEFAULT_SETTINGS, key);
}

// Whitespace (any Unicode White_Space) and control characters.
const WHITESPACE_OR_CONTROL = /[\s\p{Cc}]/u;
const CONTROL = /\p{Cc}/u;
const HOST_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Characters RFC 7622 §3.3.1 forbids in a localpart. */
const LOCALPART_FORBIDDEN = /["&'/:<>@]/;

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

function isCanonicalIPv4(s: string): boolean {
  const m = DOTTED_QUAD.exec(s);
  return m !== null && m.slice(1).every((octet) => Number(octet) <= 255 && (octet === "0" || !octet.startsWith("0")));
}

function validateDomainpart(domain: string): boolean {
  if (domain.length === 0 || utf8Length(domain) > JID_PART_MAX_OCTETS) return false;
  if (domain.startsWith("[")) {
    // IPv6 literal (RFC 7622 §3.2: IP-literal as in RFC 3986).
    if (!domain.endsWith("]") || !/^\[[0-9a-fA-F:.]+\]$/.test(domain)) return false;
    try {
      new URL(`http://${domain}/`);
      return true;
    } catch {
      return false;
    }
  }
  if (isCanonicalIPv4(domain)) return true;
  if (HOST_FORBIDDEN.test(domain) || domain.endsWith(".")) return false;
  let ascii: string;
  try {
    ascii = new URL(`http://${domain}/`).hostname; // lower-cases and applies IDNA (punycode)
  } catch {
    return false;
  }
  // The URL parser reads things like "127.1" or "0x7f.1" as IPv4: not a domain a user means.
  if (DOTTED_QUAD.test(ascii) || ascii.length > 253) return false;
  return ascii.split(".").every((label) => HOST_LABEL.test(label));
}

/** Sanity checks for local@domain[/resource]; not a full PRECIS implementation. */
export function validateJid(jid: string): SettingError | null {
  if (WHITESPACE_OR_CONTROL.test(jid)) return "jid-whitespace";
  if (utf8Length(jid) > JID_MAX_OCTETS) return "jid-too-long";
  const local = jidLocal(jid);
  if (local === "") return "jid-missing-local";
  if (utf8Length(local) > JID_PART_MAX_OCTETS || LOCALPART_FORBIDDEN.test(local)) return "jid-bad-local";
  if (!validateDomainpart(jidDomain(jid))) return "jid-bad-domain";
  const resource = jidResource(jid);
  if (resource !== null && (resource.length === 0 || utf8Length(resource) > JID_PART_MAX_OCTETS)) return "jid-bad-resource";
  return null;
}

export type WebsocketUrlCheck = { readonly ok: true; readonly href: string } | { readonly ok: false; readonly error: SettingError };

/**
 * A WebSocket endpoint the add-on may connect to: wss:// anywhere, ws:// only to a loopback host,
 * no user info, no fragment. `href` is the URL as the WHATWG parser normalizes it.
 */
export function validateWebsocketUrl(url: string): WebsocketUrlCheck {
  if (url.length > URL_MAX_LENGTH) return { ok: false, error: "url-too-long" };
  if (WHITESPACE_OR_CONTROL.test(url)) return { ok: false, error: "url-whitespace" };
  // Special schemes parse even without "//" ("wss:host"); require the ordinary spelling.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== "ws" && scheme !== "wss") return { ok: false, error: "url-scheme" };
  if (!/^wss?:\/\/[^/]/i.test(url)) return { ok: false, error: "url-invalid" };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, error: "url-invalid" };
  }
  if (parsed.hostname === "") return { ok: false, error: "url-invalid" };
  if (parsed.username !== "" || parsed.password !== "") return { ok: false, error: "url-credentials" };
  if (url.includes("#")) return { ok: false, error: "url-fragment" };
  if (parsed.protocol === "ws:" && !isLoopbackHost(parsed.hostname)) return { ok: false, error: "url-insecure" };
  return { ok: true, href: parsed.href };
}

const VALIDATORS: { readonly [K in SettingKey]: (value: unknown) => Validation<Settings[K]> } = {
  enabled: (value) => (typeof value === "boolean" ? { ok: true, value } : { ok: false, error: "wrong-type" }),
  jid: (value) => {
    if (typeof value !== "string") return { ok: false, error: "wrong-type" };
    if (value === "") return { ok: true, value };
    const error = validateJid(value);
    return error === null ? { ok: true, value } : { ok: false, error };
  },
  websocketUrl: (value) => {
    if (typeof value !== "string") return { ok: false, error: "wrong-type" };
    if (value === "") return { ok: true, value };
    const check = validateWebsocketUrl(value);
    return check.ok ? { ok: true, value } : { ok: false, error: check.error };
  },
  password: (value) => {
    if (typeof value !== "string") return { ok: false, error: "wrong-type" };
    if (value.length === 0) return { ok: false, error: "password-empty" };
    if (value.length > PASSWORD_MAX_LENGTH) return { ok: false, error: "password-too-long" };
    if (CONTROL.test(value)) return { ok: false, error: "password-control-chars" };
    return { ok: true, value };
  },
  logLevel: (value) => oneOf(LOG_LEVELS, value, "log-level-unknown"),
  unknownSenders: (value) => oneOf(UNKNOWN_SENDER_MODES, value, "unknown-senders-invalid"),
  receiveFolder: (value) => {
    if (typeof value !== "string") return { ok: false, error: "wrong-type" };
    if (value.length > FOLDER_ID_MAX_LENGTH) return { ok: false, error: "receive-folder-too-long" };
    if (CONTROL.test(value)) return { ok: false, error: "receive-folder-control-chars" };
    return { ok: true, value };
  },
  routePolicy: (value) => oneOf(ROUTE_POLICIES, value, "route-policy-invalid"),
  sendHoldSeconds: (value) => {
    if (typeof value !== "number") return { ok: false, error: "wrong-type" };
    return Number.isInteger(value) && value >= 1 && value <= SEND_HOLD_MAX_SECONDS ? { ok: true, value } : { ok: false, error: "send-hold-invalid" };
  },
  xmppDomains: (value) => {
    if (typeof value !== "string") return { ok: false, error: "wrong-type" };
    return parseXmppDomains(value) === null ? { ok: false, error: "xmpp-domains-invalid" } : { ok: true, value };
  },
  announceJid: (value) => (typeof value === "boolean" ? { ok: true, value } : { ok: false, error: "wrong-type" }),
  learnJids: (value) => (typeof value === "boolean" ? { ok: true, value } : { ok: false, error: "wrong-type" }),
  strangerMailsPerHour: (value) => wholeNumber(value, 0, STRANGER_PER_HOUR_MAX),
  strangerMailsPerDay: (value) => wholeNumber(value, 0, STRANGER_PER_DAY_MAX),
  strangerMaxKiB: (value) => wholeNumber(value, 1, STRANGER_MAX_KIB_MAX),
  xmppIdentities: (value) => {
    if (typeof value !== "string") return { ok: false, error: "wrong-type" };
    return parseXmppIdentities(value) === null ? { ok: false, error: "xmpp-identities-invalid" } : { ok: true, value };
  },
  e2ePreview: (value) => (typeof value === "boolean" ? { ok: true, value } : { ok: false, error: "wrong-type" }),
};

/** One of a fixed list of strings: "wrong-type" for a non-string, `error` for any other string. */
function oneOf<T extends string>(values: readonly T[], value: unknown, error: SettingError): Validation<T> {
  if (typeof value !== "string") return { ok: false, error: "wrong-type" };
  const found = values.find((v) => v === value);
  return found === undefined ? { ok: false, error } : { ok: true, value: found };
}

function wholeNumber(value: unknown, min: number, max: number): Validation<number> {
  if (typeof value !== "number") return { ok: false, error: "wrong-type" };
  return Number.isInteger(value) && value >= min && value <= max ? { ok: true, value } : { ok: false, error: "stranger-limit-invalid" };
}

/** The domains of an xmppDomains value, lower case, in order, without duplicates; null when one is not a host name. */
export function parseXmppDomains(value: string): string[] | null {
  if (value.length > XMPP_DOMAINS_MAX_LENGTH) return null;
  const out: string[] = [];
  for (const raw of value.split(/[\s,;]+/)) {
    if (raw === "") continue;
    const domain = raw.toLowerCase().replace(/\.$/, "");
    const labels = domain.split(".");
    if (domain.length > 253 || labels.length < 2 || !labels.every((l) => HOST_LABEL.test(l) || /^xn--[a-z0-9-]+$/.test(l))) return null;
    if (!out.includes(domain)) out.push(domain);
  }
  return out;
}

const ADDRESS_LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;

/**
 * The addresses of an xmppIdentities value, lower case, in order, without duplicates; null when one is not a plain
 * e-mail address (dot-atom local part, host-name domain, at most 254 octets) or the value is longer than 2048.
 */
export function parseXmppIdentities(value: string): string[] | null {
  if (value.length > XMPP_IDENTITIES_MAX_LENGTH) return null;
  const out: string[] = [];
  for (const raw of value.split(/[\s,;]+/)) {
    if (raw === "") continue;
    const address = raw.toLowerCase();
    const at = address.lastIndexOf("@");
    if (at <= 0 || utf8Length(address) > 254 || !ADDRESS_LOCAL.test(address.slice(0, at))) return null;
    const labels = address.slice(at + 1).split(".");
    if (!labels.every((l) => HOST_LABEL.test(l) || /^xn--[a-z0-9-]+$/.test(l))) return null;
    if (!out.includes(address)) out.push(address);
  }
  return out;
}

/**
 * The From addresses (lower case) whose mail may go over XMPP: the bare JID itself (a recipient verifies that one
 * without any set-up) and those the user or the policy bound in xmppIdentities. Empty when no JID is configured.
 */
export function boundAddresses(settings: Pick<Settings, "jid" | "xmppIdentities">): string[] {
  const bare = bareJidKey(settings.jid);
  if (bare === "") return [];
  const listed = parseXmppIdentities(settings.xmppIdentities) ?? [];
  return [bare, ...listed.filter((a) => a !== bare)];
}

/** Strictly validates one value for `key`; the value is returned unchanged when valid. */
export function validateSetting<K extends SettingKey>(key: K, value: unknown): Validation<Settings[K]> {
  const validator: (value: unknown) => Validation<Settings[K]> = VALIDATORS[key];
  return validator(value);
}

function isPlainObject(value: unknown): value is Readonly<Record<string, unknown>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

function setValid<K extends SettingKey>(into: Writable<Partial<Settings>>, key: K, value: Settings[K]): void {
  into[key] = value;
}

/** MIGRATIONS[n] turns the stored layout of version n into that of version n + 1. */
type Migration = (data: Readonly<Record<string, unknown>>) => Record<string, unknown>;
const MIGRATIONS: readonly Migration[] = [
  // 0 → 1: values stored before the layout was versioned already use the version 1 keys.
  (data) => ({ ...data }),
];

export interface Migrated {
  /** The valid settings found, after migration; invalid or unknown values are left out. */
  readonly settings: Partial<Settings>;
  /** The layout version `settings` is in: SETTINGS_VERSION, or a newer stored one (written by a later add-on version). */
  readonly version: number;
  /** The version found in storage (0 when the data predates versioning). from < version means: write back. */
  readonly from: number;
  /** Stored values that were dropped because they are not valid. */
  readonly invalid: readonly SettingIssue[];
}

/** Brings raw storage.local contents to the current layout and keeps only valid setting values. */
export function migrate(raw: unknown): Migrated {
  if (!isPlainObject(raw)) return { settings: {}, version: SETTINGS_VERSION, from: SETTINGS_VERSION, invalid: [] };
  const stored = raw[SETTINGS_VERSION_KEY];
  const hasSettings = SETTING_KEYS.some((k) => Object.hasOwn(raw, k));
  let from: number;
  if (typeof stored === "number" && Number.isSafeInteger(stored) && stored >= 0) from = stored;
  else from = hasSettings ? 0 : SETTINGS_VERSION; // nothing stored yet: nothing to migrate

  let data: Record<string, unknown> = { ...raw };
  for (let v = from; v < SETTINGS_VERSION; v++) {
    const step = MIGRATIONS[v];
    if (step === undefined) throw new Error(`no settings migration from version ${v}`);
    data = step(data);
  }
  const settings: Writable<Partial<Settings>> = {};
  const invalid: SettingIssue[] = [];
  for (const key of SETTING_KEYS) {
    if (!Object.hasOwn(data, key)) continue;
    const result = validateSetting(key, data[key]);
    if (result.ok) setValid(settings, key, result.value);
    else invalid.push({ key, error: result.error });
  }
  return { settings, version: Math.max(from, SETTINGS_VERSION), from, invalid };
}

export interface ResolvedSettings {
  readonly settings: Settings;
  /** Keys whose value comes from the enterprise policy; the UI shows them disabled and saving them is refused. */
  readonly locked: ReadonlySet<SettingKey>;
  /** Policy values that were not applied (invalid, or unknown keys). Values are never repeated here. */
  readonly policyErrors: readonly SettingIssue[];
}

/**
 * Merges defaults, user values (raw storage.local contents) and policy values (raw storage.managed contents;
 * undefined/null when there is no policy). A valid policy value overrides and locks its key; an invalid one is
 * ignored (the key stays editable) and reported, as is any key the policy names that is not a setting.
 */
export function resolveSettings(local: unknown, managed: unknown): ResolvedSettings {
  const settings: Writable<Settings> = { ...DEFAULT_SETTINGS, ...migrate(local).settings };
  const locked = new Set<SettingKey>();
  const policyErrors: SettingIssue[] = [];
  if (managed !== undefined && managed !== null) {
    if (!isPlainObject(managed)) {
      policyErrors.push({ key: "*", error: "policy-not-object" });
    } else {
      for (const [key, value] of Object.entries(managed)) {
        if (!isSettingKey(key)) {
          policyErrors.push({ key, error: "unknown-key" });
          continue;
        }
        const result = validateSetting(key, value);
        if (!result.ok) {
          policyErrors.push({ key, error: result.error });
          continue;
        }
        setValid(settings, key, result.value);
        locked.add(key);
      }
    }
  }
  return { settings, locked, policyErrors };
}

/**
 * Checks a partial update from the user against the current effective settings. A locked key may only be
 * "saved" with the value it already has (the policy's), which is then left out; any other value is refused.
 * Returns the validated values to write, or every problem found (nothing is to be written then).
 */
export function checkUpdate(
  update: Readonly<Record<string, unknown>>,
  current: Pick<ResolvedSettings, "settings" | "locked">,
): { readonly ok: true; readonly values: Partial<Settings> } | { readonly ok: false; readonly errors: readonly SettingIssue[] } {
  const values: Writable<Partial<Settings>> = {};
  const errors: SettingIssue[] = [];
  for (const [key, value] of Object.entries(update)) {
    if (!isSettingKey(key)) errors.push({ key, error: "unknown-key" });
    else if (current.locked.has(key)) {
      if (value !== current.settings[key]) errors.push({ key, error: "locked" });
    } else {
      const result = validateSetting(key, value);
      if (result.ok) setValid(values, key, result.value);
      else errors.push({ key, error: result.error });
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, values };
}
