// What the user's server lacks, and what that costs them (issue 11, points 2 and 8). Pure: the XMPP side finds the
// facts (src/xmpp/server-features.ts, src/xmpp/capability-publisher.ts); this module turns them into the list the
// status carries, in a fixed order, most costly first.

/** A feature whose absence changes what the add-on can do for the user. */
export type LimitationFeature = "capability" | "e2e" | "carbons" | "mam" | "upload" | "sm";

/** Why others cannot see that we accept mail over XMPP. */
export type CapabilityLimitCode = "no-pep" | "no-open-access" | "refused" | "no-answer";

export type Limitation =
  | {
      readonly feature: "capability";
      readonly code: CapabilityLimitCode;
      /** The server's words (condition - text), bounded, or "" when there are none. */
      readonly detail: string;
      /** When the add-on tries again (epoch ms), if it does. */
      readonly retryAt?: number;
    }
  /**
   * This computer's end-to-end keys cannot be read or made (the key store failed): its item says version 0 only, so
   * mail to the user comes unencrypted, and mail from the user to peers that pinned keys goes by SMTP.
   */
  | { readonly feature: "e2e" }
  | { readonly feature: "carbons" }
  | { readonly feature: "mam" }
  /**
   * Without an upload service mail up to about `inlineLimitBytes` still goes over XMPP (inline), larger by SMTP.
   * `blocked`: the server has one, but the add-on cannot reach its host from Thunderbird (issue 11 point 9).
   */
  | { readonly feature: "upload"; readonly inlineLimitBytes: number; readonly blocked?: UploadBlock }
  | { readonly feature: "sm" };

/** Why the add-on cannot use the account's own upload service (src/xmpp/upload-access.ts). */
export interface UploadBlock {
  /**
   * "no-permission": the upload host answers without CORS headers and the user has not granted the add-on a host
   * permission for it (granting `origins` fixes it); "unreachable": the upload host did not answer at all.
   */
  readonly reason: "no-permission" | "unreachable";
  /** host[:port] of the upload URL, shown to the user (never in the diagnostic report). */
  readonly host: string;
  /** The host-permission patterns that would let the add-on reach it; empty when no permission can. */
  readonly origins: readonly string[];
}

const ORDER: readonly LimitationFeature[] = ["capability", "e2e", "carbons", "mam", "upload", "sm"];

/** What the server was found to offer; undefined = not known (no answer), which is never reported as missing. */
export interface ServerFeatures {
  readonly pep?: boolean;
  readonly carbons?: boolean;
  readonly mam?: boolean;
  readonly upload?: boolean;
  readonly streamManagement?: boolean;
}

/** The limitations implied by the server's features (the capability itself is reported by the publisher). */
export function limitationsFromFeatures(features: ServerFeatures, inlineLimitBytes: number): Limitation[] {
  const out: Limitation[] = [];
  if (features.pep === false) out.push({ feature: "capability", code: "no-pep", detail: "" });
  if (features.carbons === false) out.push({ feature: "carbons" });
  if (features.mam === false) out.push({ feature: "mam" });
  if (features.upload === false) out.push({ feature: "upload", inlineLimitBytes });
  if (features.streamManagement === false) out.push({ feature: "sm" });
  return out;
}

/**
 * One list from several sources: at most one entry per feature (a later source wins: the publisher's outcome is
 * more precise than "no PEP" from disco), sorted most costly first.
 */
export function mergeLimitations(...sources: ReadonlyArray<readonly Limitation[]>): Limitation[] {
  const byFeature = new Map<LimitationFeature, Limitation>();
  for (const list of sources) for (const l of list) byFeature.set(l.feature, l);
  return ORDER.flatMap((f) => {
    const l = byFeature.get(f);
    return l ? [l] : [];
  });
}

/** Two lists say the same (so an unchanged list is not pushed to the UI again). */
export function sameLimitations(a: readonly Limitation[], b: readonly Limitation[]): boolean {
  return a.length === b.length && a.every((l, i) => JSON.stringify(l) === JSON.stringify(b[i]));
}

/** How bad it is: "severe" when nobody can reach the user over XMPP; "partial" when only some mail goes by SMTP. */
export function limitationSeverity(list: readonly Limitation[]): "none" | "partial" | "severe" {
  if (list.some((l) => l.feature === "capability")) return "severe";
  return list.length ? "partial" : "none";
}

/** Sizes as the user reads them: "about 47 KiB". */
export function aboutKib(bytes: number): string {
  return String(Math.max(1, Math.floor(bytes / 1024)));
}

/** English, for the log and the diagnostic report (the UI localizes through src/ui/shared). No addresses. */
export function describeLimitation(l: Limitation): string {
  switch (l.feature) {
    case "capability":
      return `others cannot see that you accept mail over XMPP: ${CAPABILITY_REASON_EN[l.code]}${l.detail ? ` (${stripAddresses(l.detail)})` : ""}`;
    case "e2e":
      return "this computer's end-to-end keys cannot be stored (extension storage failed): mail over XMPP goes without end-to-end encryption, to peers with pinned keys by ordinary mail";
    case "carbons":
      return "no message carbons (XEP-0280): while a phone or another client of yours has a higher priority, mail to you goes by ordinary mail";
    case "mam":
      return "no message archive (XEP-0313): mail that arrives while only another client of yours is online is not filed afterwards (it comes by ordinary mail)";
    case "upload":
      if (l.blocked) return `${UPLOAD_BLOCK_EN[l.blocked.reason]}: mail over about ${aboutKib(l.inlineLimitBytes)} KiB goes by ordinary mail`;
      return `no HTTP upload (XEP-0363): mail over about ${aboutKib(l.inlineLimitBytes)} KiB goes by ordinary mail`;
    case "sm":
      return "no stream management (XEP-0198): slower recovery after connection drops";
  }
}

const CAPABILITY_REASON_EN: { readonly [C in CapabilityLimitCode]: string } = {
  "no-pep": "your server has no PEP (XEP-0163)",
  "no-open-access": "your server does not let everyone read it (only your contacts can)",
  refused: "your server refused to publish it",
  "no-answer": "your server did not answer",
};

const UPLOAD_BLOCK_EN: { readonly [R in UploadBlock["reason"]]: string } = {
  "no-permission": "uploads blocked (XEP-0363): your server's upload host sends no CORS headers and the add-on has no permission for it",
  unreachable: "uploads blocked (XEP-0363): your server's upload host did not answer",
};

/** Server texts may quote a JID; the report and the status never carry addresses. */
function stripAddresses(text: string): string {
  return text.replace(/[^\s<>"'()]+@[^\s<>"'()]+/g, "<address>").slice(0, 200);
}
