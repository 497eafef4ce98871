// Both XMPP servers the add-on is tested against, behind one surface, so that a suite is written once and runs on each:
//
//   describe.each(testServers())("capability (%s)", (kind) => {
//     beforeAll(async () => { server = await startServer(kind, { users: [...] }); });
//   });
//
// MOX_SERVERS=prosody (or ejabberd) runs one of them only; a server whose package is missing is skipped loudly in CI
// (there it must be installed: .ci/run installs both).
import { isEjabberdAvailable, startEjabberd, type EjabberdOptions } from "./ejabberd.js";
import { isProsodyAvailable, startProsody, type ProsodyOptions, type ProsodyServer, type TlsFiles } from "./prosody.js";

export type ServerKind = "prosody" | "ejabberd";
export type XmppServer = ProsodyServer;

/** What a test asks of a server, in terms both servers understand. */
export interface ServerOptions {
  domain?: string;
  users?: Array<{ user: string; password: string }>;
  smResumeTimeout?: number;
  mam?: boolean;
  /** XEP-0363 upload (Prosody: mod_http_file_share; ejabberd: mod_http_upload). */
  upload?: boolean;
  uploadSizeLimit?: number;
  /** The base URL the server's upload slots point at (default its own HTTP listener), e.g. a shaped relay in front of it. */
  uploadUrl?: string;
  /** ejabberd only: CORS headers on its upload service (Prosody always sends them). Default true here. */
  uploadCors?: boolean;
  /** Each server's shipped rate limit: Prosody mod_limits at its default (10 kB/s), ejabberd's `normal` shaper. */
  shippedLimits?: boolean;
  /** Features to leave out, to test how the add-on copes without them. */
  without?: Array<"carbons" | "pep" | "sm" | "offline">;
  /**
   * TLS as in real life: WebSocket and upload served over HTTPS with this certificate (tests/support/test-ca.ts), so
   * `wsUrl` is wss:// and upload URLs are https://. Default: plain ws:// and http:// on loopback.
   */
  tls?: TlsFiles;
  /** Prosody-only extras (ignored by ejabberd). */
  prosody?: Pick<ProsodyOptions, "uploadDailyQuota" | "extraModules">;
  /** ejabberd-only extras (ignored by Prosody). */
  ejabberd?: Pick<EjabberdOptions, "maxOfflineMessages">;
}

const PROSODY_MODULE: Record<NonNullable<ServerOptions["without"]>[number], string> = {
  carbons: "carbons",
  pep: "pep",
  sm: "smacks",
  offline: "offline",
};
const EJABBERD_MODULE: Record<NonNullable<ServerOptions["without"]>[number], string> = {
  carbons: "mod_carboncopy",
  pep: "mod_pubsub",
  sm: "mod_stream_mgmt",
  offline: "mod_offline",
};

export function isServerAvailable(kind: ServerKind): boolean {
  return kind === "prosody" ? isProsodyAvailable() : isEjabberdAvailable();
}

/** The servers to run parametrized suites on: MOX_SERVERS (comma-separated) or both; in CI a missing one is an error. */
export function testServers(): ServerKind[] {
  const wanted = (process.env.MOX_SERVERS ?? "prosody,ejabberd")
    .split(",")
    .map((s) => s.trim())
    .filter((s): s is ServerKind => s === "prosody" || s === "ejabberd");
  const available = wanted.filter(isServerAvailable);
  if (process.env.CI && available.length !== wanted.length) {
    throw new Error(`CI must test on ${wanted.join(" and ")}, but ${wanted.filter((k) => !available.includes(k)).join(", ")} is not installed`);
  }
  return available;
}

export async function startServer(kind: ServerKind, opts: ServerOptions = {}): Promise<XmppServer> {
  const without = opts.without ?? [];
  if (kind === "prosody") {
    return startProsody({
      ...(opts.domain ? { domain: opts.domain } : {}),
      ...(opts.users ? { users: opts.users } : {}),
      ...(opts.smResumeTimeout !== undefined ? { smResumeTimeout: opts.smResumeTimeout } : {}),
      mam: opts.mam ?? false,
      httpFileShare: opts.upload ?? false,
      ...(opts.uploadSizeLimit !== undefined ? { uploadSizeLimit: opts.uploadSizeLimit } : {}),
      ...(opts.uploadUrl !== undefined ? { uploadUrl: opts.uploadUrl } : {}),
      ...(opts.shippedLimits ? { rateLimit: "10kb/s" } : {}),
      ...(without.length ? { withoutModules: without.map((f) => PROSODY_MODULE[f]) } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.prosody ?? {}),
    });
  }
  return startEjabberd({
    ...(opts.domain ? { domain: opts.domain } : {}),
    ...(opts.users ? { users: opts.users } : {}),
    ...(opts.smResumeTimeout !== undefined ? { smResumeTimeout: opts.smResumeTimeout } : {}),
    mam: opts.mam ?? false,
    httpFileShare: opts.upload ?? false,
    uploadCors: opts.uploadCors ?? true,
    ...(opts.uploadSizeLimit !== undefined ? { uploadSizeLimit: opts.uploadSizeLimit } : {}),
    ...(opts.uploadUrl !== undefined ? { uploadUrl: opts.uploadUrl } : {}),
    ...(opts.shippedLimits ? { shaper: "shipped" as const } : {}),
    ...(without.length ? { withoutModules: without.map((f) => EJABBERD_MODULE[f]) } : {}),
    ...(opts.tls ? { tls: opts.tls } : {}),
    ...(opts.ejabberd ?? {}),
  });
}
