// The session status in the user's words, shared by the options page, the status popup and (through the
// composition root) the toolbar button; and the checks of a status the background pushes.
import type { CapabilityLimitCode, Limitation } from "../../core/limitations.js";
import { aboutKib } from "../../core/limitations.js";
import { limitationsOf, type SessionStatus } from "../../core/status.js";
import type { MessageKey } from "../../platform/i18n.js";
import { isFiniteNumber, isObject, optionalString } from "./checks.js";
import { clip, type Text } from "./text.js";

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
      if (status.code === "no-websocket") return status.retryAt === undefined ? { key: "statusNoWebsocket" } : { key: "statusNoWebsocketRetry", subs: [formatTime(status.retryAt)] };
      if (status.code === "no-url") return status.retryAt === undefined ? { key: "statusNoUrl" } : { key: "statusNoUrlRetry", subs: [formatTime(status.retryAt)] };
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
    case "e2e":
      return tr("limitE2e");
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

// ---- runtime checks of a pushed status ------------------------------------------------------------------

/** An origin pattern the add-on may ask for (its optional_permissions): one https host, or loopback for tests. */
const isUploadOrigin = (o: unknown): boolean => typeof o === "string" && (/^https:\/\/[^/*\s]+\/\*$/.test(o) || o === "http://127.0.0.1/*");

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
    case "error": {
      if (typeof value.reason !== "string") return null;
      if (value.code !== undefined && value.code !== "no-websocket" && value.code !== "no-url") return null;
      if (value.retryAt !== undefined && !isFiniteNumber(value.retryAt)) return null;
      return {
        state: "error",
        reason: value.reason,
        ...(value.retryAt !== undefined ? { retryAt: value.retryAt } : {}),
        ...(value.code !== undefined ? { code: value.code } : {}),
      };
    }
    default:
      return null;
  }
}

const CAPABILITY_CODES = new Set<string>(Object.keys(CAPABILITY_REASON_TEXT));

/** A limitation from the background, checked field by field; null when malformed. */
function parseLimitation(value: unknown): Limitation | null {
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
    case "e2e":
    case "carbons":
    case "mam":
    case "sm":
      return { feature: value.feature };
    default:
      return null;
  }
}

/** Absent → []; a list of at most 10 well-formed limitations → them; anything else → null. */
export function parseLimitations(value: unknown): Limitation[] | null {
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
