// The usual end-to-end stage: a private XMPP server (Prosody by default, or ejabberd) with accounts, an SMTP sink, and
// a Thunderbird running the built add-on (dist/) configured through managed storage for one of the accounts.
//
//   const why = e2eSkipReason();                 // null when everything needed is installed/built
//   const env = await startE2E({ users: [...], as: "alice" });
//   ... env.tb, env.server, env.sink, env.jidOf("bob") ...
//   await env.stop();

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isProsodyAvailable } from "./prosody.js";
import { startServer, type ServerKind, type ServerOptions, type XmppServer } from "./servers.js";
import { startSmtpSink, type SmtpSink } from "./smtp.js";
import { isThunderbirdAvailable, launchThunderbird, type LaunchOptions, type QuitResult, type TB } from "./thunderbird.js";

export const DIST_DIR = fileURLToPath(new URL("../../dist/", import.meta.url));

/** Why the e2e tests cannot run here, or null. */
export function e2eSkipReason(): string | null {
  if (!existsSync(`${DIST_DIR}manifest.json`)) return `dist/manifest.json is missing: run "npm run build" first (npm test and npm run test:e2e do)`;
  if (!isThunderbirdAvailable()) return "thunderbird is not installed (apt-get install thunderbird xvfb xauth; .ci/run installs it)";
  if (!isProsodyAvailable()) return "prosody is not installed (apt-get install prosody; .ci/run installs it)";
  return null;
}

export interface E2EOptions {
  users: Array<{ user: string; password: string }>;
  /** Which server (default "prosody"). */
  kind?: ServerKind;
  /** More of the server's options (users are set from `users`). */
  serverOptions?: Omit<ServerOptions, "users">;
  /** The account the add-on is configured with (managed storage: jid, password, websocketUrl). */
  as: string;
  /** Extra managed-storage values for the add-on. */
  managed?: Record<string, unknown>;
  /** Start the add-on unconfigured (no managed storage at all), as after a fresh install by a user. */
  unconfigured?: boolean;
  thunderbird?: Partial<Omit<LaunchOptions, "addonDir" | "addonXpi" | "smtpPort" | "managed">>;
}

export interface E2E {
  server: XmppServer;
  sink: SmtpSink;
  tb: TB;
  /** performance.now() just before Thunderbird was spawned (the server and the sink were already up). */
  launchedAt: number;
  jidOf(user: string): string;
  /** Quit Thunderbird (clean if possible), stop the sink and the server. Safe to call twice. */
  stop(): Promise<QuitResult | null>;
}

/**
 * The test users have no relation with each other (no roster, no address book), so the add-on's limits on unsolicited
 * mail (3 a hour per stranger by default) would refuse most of a suite's mails. Suites that are not about those
 * limits raise them through the managed policy; tests/e2e/block-sender.test.ts and tests/integration/unsolicited.test.ts
 * test the defaults.
 */
export const E2E_STRANGER_LIMITS = { strangerMailsPerHour: 100, strangerMailsPerDay: 1000, strangerMaxKiB: 25 * 1024 } as const;

export async function startE2E(opts: E2EOptions): Promise<E2E> {
  const me = opts.users.find((u) => u.user === opts.as);
  if (!me) throw new Error(`startE2E: ${opts.as} is not among the users`);
  const server = await startServer(opts.kind ?? "prosody", { ...opts.serverOptions, users: opts.users });
  let sink: SmtpSink | null = null;
  try {
    sink = await startSmtpSink();
    const launchedAt = performance.now();
    const tb = await launchThunderbird({
      ...opts.thunderbird,
      addonDir: DIST_DIR,
      smtpPort: sink.port,
      ...(opts.unconfigured
        ? {}
        : { managed: { jid: `${me.user}@${server.domain}`, password: me.password, websocketUrl: server.wsUrl, ...E2E_STRANGER_LIMITS, ...opts.managed } }),
    });
    let stopped: Promise<QuitResult | null> | null = null;
    const s = sink;
    return {
      server,
      sink: s,
      tb,
      launchedAt,
      jidOf: (user) => `${user}@${server.domain}`,
      stop() {
        stopped ??= (async () => {
          try {
            return await tb.quit();
          } finally {
            await s.stop();
            await server.cleanup();
          }
        })();
        return stopped;
      },
    };
  } catch (err) {
    await sink?.stop();
    await server.cleanup();
    throw err;
  }
}
