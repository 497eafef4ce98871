// A real, private ejabberd (Debian 12's 23.01) for tests, with the same surface as tests/support/prosody.ts.
//
// Each server gets its own temp dir (ejabberd.yml written from the options, Mnesia spool, log, upload docroot) and its
// own loopback ports, and runs as a child process: the Erlang VM started directly (`erl -noinput -s ejabberd`, no
// distribution, no epmd, no switch to the "ejabberd" user that the packaged ejabberdctl insists on). Accounts are made
// through mod_http_api on loopback (~25 ms each; `ejabberdctl register` boots a VM per call).
//
//   const server = await startEjabberd({ users: [{ user: "alice", password: "pw" }] });
//   ... client({ service: server.wsUrl, domain: server.domain, username: "alice", password: "pw" })
//   await server.cleanup();
//
// MOX_EJABBERD_DEBUG=1 for debug logging, MOX_EJABBERD_KEEP=1 to keep the temp dir (config, log) after cleanup().

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findOnPath } from "./bin.js";
import { freePorts } from "./ports.js";
import type { ProsodyServer, TlsFiles } from "./prosody.js";
import { fileSize, httpRequest, logTail, PortInUseError, readFrom, ServerProcess, sleep, trackDir } from "./server-process.js";

/** Where Debian's ejabberd package puts its Erlang applications. */
const EJABBERD_LIBS = "/usr/lib/x86_64-linux-gnu";

export interface EjabberdOptions {
  domain?: string; // default "localhost"
  users?: Array<{ user: string; password: string }>;
  smResumeTimeout?: number; // mod_stream_mgmt resume_timeout in seconds, default 20
  mam?: boolean; // mod_mam (archive everything by default, in-memory db), default false
  httpFileShare?: boolean; // mod_http_upload under /upload, default false
  uploadSizeLimit?: number; // max_size in bytes (ejabberd's default: 100 MiB)
  /** The base URL upload slots point at (put_url is this + "/upload"), e.g. a relay in front of the HTTP port. */
  uploadUrl?: string;
  /** Add CORS headers to the upload service (ejabberd sends none unless its admin adds them). Default false. */
  uploadCors?: boolean;
  /** The c2s shaper: false (default) = none; "shipped" = ejabberd's `normal` (3,000 B/s, burst 20,000). */
  shaper?: false | "shipped";
  /** mod_offline's limit per user (ejabberd ships 100); default 100. */
  maxOfflineMessages?: number;
  /** Modules of the default set to leave out, e.g. ["mod_carboncopy", "mod_pubsub", "mod_stream_mgmt", "mod_offline"]. */
  withoutModules?: string[];
  /**
   * A second ejabberd_http listener with `tls: true` and this certificate (tests/support/test-ca.ts), on a third port:
   * then `wsUrl` is wss://…/ws and put_url https://…/upload; `httpUrl` stays the plain listener (registration API).
   */
  tls?: TlsFiles;
}

export type EjabberdServer = ProsodyServer;

export function isEjabberdAvailable(): boolean {
  return findOnPath("erl") !== null && findEjabberdLib() !== null;
}

function findEjabberdLib(): string | null {
  for (const name of ["ejabberd-23.01", "ejabberd-23.01-1"]) if (existsSync(join(EJABBERD_LIBS, name, "ebin"))) return name;
  return null;
}

const READY_DEADLINE_MS = 20_000;
const PORT_ATTEMPTS = 3;

interface Settings {
  domain: string;
  smResumeTimeout: number;
  mam: boolean;
  upload: boolean;
  uploadSizeLimit: number | null;
  uploadUrl: string | null;
  uploadCors: boolean;
  shaper: false | "shipped";
  maxOfflineMessages: number;
  without: Set<string>;
  tls: TlsFiles | null;
}

function yamlString(s: string): string {
  return JSON.stringify(s); // a JSON string is a valid YAML double-quoted scalar
}

class Ejabberd extends ServerProcess implements EjabberdServer {
  protected readonly label = "ejabberd";
  readonly kind = "ejabberd" as const;
  readonly domain: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly dir: string;
  private httpPort: number;
  private c2s: number;
  private tlsPort: number | null;
  private watchdog: ChildProcess | null = null;

  constructor(
    private readonly settings: Settings,
    ports: number[],
  ) {
    super();
    this.domain = settings.domain;
    [this.httpPort, this.c2s] = ports as [number, number];
    this.tlsPort = settings.tls ? ports[2]! : null;
    this.dir = mkdtempSync(join(tmpdir(), "mox-ejabberd-"));
    trackDir(this.dir, "MOX_EJABBERD_KEEP");
    this.dataDir = join(this.dir, "spool");
    this.logFile = join(this.dir, "ejabberd.log");
    mkdirSync(this.dataDir, { recursive: true });
    mkdirSync(join(this.dir, "upload"), { recursive: true });
  }

  get port(): number {
    return this.httpPort;
  }
  get c2sPort(): number {
    return this.c2s;
  }
  get wsUrl(): string {
    return this.tlsPort === null ? `ws://127.0.0.1:${this.httpPort}/ws` : `wss://127.0.0.1:${this.tlsPort}/ws`;
  }
  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  get httpsUrl(): string | null {
    return this.tlsPort === null ? null : `https://127.0.0.1:${this.tlsPort}`;
  }
  setPorts(ports: number[]): void {
    [this.httpPort, this.c2s] = ports as [number, number];
    if (this.tlsPort !== null) this.tlsPort = ports[2]!;
  }

  private config(): string {
    const s = this.settings;
    const has = (m: string) => !s.without.has(m);
    const modules: string[] = [
      "  mod_disco: {}",
      "  mod_caps: {}",
      "  mod_ping: {}",
      "  mod_roster: {}",
      "  mod_blocking: {}",
      "  mod_privacy: {}",
      "  mod_private: {}",
      "  mod_vcard: {}",
      "  mod_version: {}",
      "  mod_http_api: {}",
    ];
    if (has("mod_carboncopy")) modules.push("  mod_carboncopy: {}");
    if (has("mod_pubsub")) {
      modules.push(
        "  mod_pubsub:",
        "    access_createnode: pubsub_createnode",
        "    plugins:",
        "      - flat",
        "      - pep",
      );
    }
    if (has("mod_stream_mgmt")) modules.push("  mod_stream_mgmt:", `    resume_timeout: ${s.smResumeTimeout}`, "    resend_on_timeout: if_offline");
    if (has("mod_offline")) modules.push("  mod_offline:", "    access_max_user_messages: max_user_offline_messages");
    if (s.mam) modules.push("  mod_mam:", "    db_type: mnesia", "    default: always");
    if (s.upload) {
      modules.push(
        "  mod_http_upload:",
        `    put_url: ${yamlString(`${s.uploadUrl?.replace(/\/$/, "") ?? this.httpsUrl ?? this.httpUrl}/upload`)}`,
        `    docroot: ${yamlString(join(this.dir, "upload"))}`,
        ...(s.uploadSizeLimit !== null ? [`    max_size: ${s.uploadSizeLimit}`] : []),
        ...(s.uploadCors
          ? [
              "    custom_headers:",
              '      "Access-Control-Allow-Origin": "*"',
              '      "Access-Control-Allow-Methods": "GET, HEAD, PUT, OPTIONS"',
              '      "Access-Control-Allow-Headers": "Content-Type"',
            ]
          : []),
      );
    }
    return [
      "# Generated by tests/support/ejabberd.ts: a private test server on loopback. Not for production.",
      "hosts:",
      `  - ${yamlString(s.domain)}`,
      `loglevel: ${process.env.MOX_EJABBERD_DEBUG === "1" ? "debug" : "info"}`,
      "log_rotate_count: 0",
      ...(s.tls ? ["certfiles:", `  - ${yamlString(s.tls.certFile)}`, `  - ${yamlString(s.tls.keyFile)}`] : ["certfiles: []"]),
      "listen:",
      "  -",
      `    port: ${this.c2s}`,
      '    ip: "127.0.0.1"',
      "    module: ejabberd_c2s",
      "    max_stanza_size: 262144",
      "    shaper: c2s_shaper",
      "    access: c2s",
      "  -",
      `    port: ${this.httpPort}`,
      '    ip: "127.0.0.1"',
      "    module: ejabberd_http",
      "    request_handlers:",
      "      /ws: ejabberd_http_ws",
      "      /api: mod_http_api",
      ...(s.upload ? ["      /upload: mod_http_upload"] : []),
      ...(this.tlsPort === null
        ? []
        : [
            "  -",
            `    port: ${this.tlsPort}`,
            '    ip: "127.0.0.1"',
            "    module: ejabberd_http",
            "    tls: true",
            "    request_handlers:",
            "      /ws: ejabberd_http_ws",
            ...(s.upload ? ["      /upload: mod_http_upload"] : []),
          ]),
      "disable_sasl_mechanisms:",
      '  - "digest-md5"',
      '  - "X-OAUTH2"',
      "auth_method: internal",
      "auth_password_format: scram",
      "s2s_access: none",
      "acl:",
      "  loopback:",
      "    ip:",
      "      - 127.0.0.0/8",
      "  local:",
      '    user_regexp: ""',
      "access_rules:",
      "  local:",
      "    allow: local",
      "  c2s:",
      "    allow: all",
      "  pubsub_createnode:",
      "    allow: local",
      "api_permissions:",
      '  "harness on loopback":',
      "    from:",
      "      - mod_http_api",
      "    who:",
      "      ip: 127.0.0.0/8",
      '    what: "*"',
      "shaper:",
      "  normal:",
      "    rate: 3000",
      "    burst_size: 20000",
      "  fast: 200000",
      "shaper_rules:",
      "  max_user_sessions: 10",
      `  max_user_offline_messages: ${s.maxOfflineMessages}`,
      `  c2s_shaper: ${s.shaper === "shipped" ? "normal" : "none"}`,
      "modules:",
      ...modules,
      "",
    ].join("\n");
  }

  protected async launch(): Promise<void> {
    const erl = findOnPath("erl");
    if (!erl || !findEjabberdLib()) throw new Error('ejabberd not installed (install the Debian package "ejabberd")');
    const configFile = join(this.dir, "ejabberd.yml");
    writeFileSync(configFile, this.config());
    const logOffset = fileSize(this.logFile);
    const outFile = join(this.dir, "stdout.log");
    const outFd = openSync(outFile, "a");
    let child: ChildProcess;
    try {
      writeSync(outFd, `\n=== mox harness: starting ejabberd (http ${this.httpPort}, c2s ${this.c2s}) at ${new Date().toISOString()} ===\n`);
      child = spawn(erl, ["-noinput", "-noshell", "-mnesia", "dir", JSON.stringify(this.dataDir), "-s", "ejabberd"], {
        cwd: this.dir,
        env: {
          ...process.env,
          HOME: this.dir,
          EJABBERD_CONFIG_PATH: configFile,
          EJABBERD_LOG_PATH: this.logFile,
          ERL_LIBS: EJABBERD_LIBS,
          ERL_CRASH_DUMP_BYTES: "0",
        },
        stdio: ["ignore", outFd, outFd],
      });
    } finally {
      closeSync(outFd);
    }
    const exitInfoOf = this.adopt(child);
    // A test process killed outright cannot kill its children: this watchdog stops the VM once the test process is gone.
    if (child.pid) {
      const dog = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${child.pid} 2>/dev/null; do sleep 1; done; kill -TERM ${child.pid} 2>/dev/null`], {
        detached: true,
        stdio: "ignore",
      });
      dog.unref();
      this.watchdog = dog;
    }
    const deadline = Date.now() + READY_DEADLINE_MS;
    const listening = `Start accepting TCP connections at 127.0.0.1:${this.httpPort} for ejabberd_http`;
    for (;;) {
      const exitInfo = exitInfoOf();
      if (exitInfo !== null) {
        this.afterExit();
        throw new Error(`ejabberd ${exitInfo} before it was ready (${this.wsUrl})\n${logTail(this.logFile)}\n${logTail(outFile)}`);
      }
      const fresh = readFrom(this.logFile, logOffset);
      if (/eaddrinuse/i.test(fresh)) {
        await this.stop();
        throw new PortInUseError(`ejabberd could not bind its ports (http ${this.httpPort}, c2s ${this.c2s})`);
      }
      const tlsListening = this.tlsPort === null || fresh.includes(`Start accepting TLS connections at 127.0.0.1:${this.tlsPort} for ejabberd_http`);
      if (fresh.includes(listening) && tlsListening && fresh.includes(`127.0.0.1:${this.c2s} for ejabberd_c2s`)) {
        const res = await httpRequest(`${this.httpUrl}/ws`, 1_000);
        if (res && res.status === 200) return;
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`ejabberd not ready after ${READY_DEADLINE_MS} ms\n${logTail(this.logFile)}\n${logTail(outFile)}`);
      }
      await sleep(50);
    }
  }

  protected override afterExit(): void {
    this.watchdog?.kill("SIGKILL");
    this.watchdog = null;
  }

  async register(user: string, password: string): Promise<void> {
    if (this.cleanedUp) throw new Error("ejabberd: register() after cleanup()");
    if (!user) throw new Error("ejabberd: register() needs a non-empty username");
    const body = JSON.stringify({ user, host: this.domain, password });
    const res = await httpRequest(`${this.httpUrl}/api/register`, 10_000, { method: "POST", body, headers: { "content-type": "application/json" } });
    if (res?.status === 200) return;
    // An existing account gets its password replaced, as prosodyctl does.
    if (res && res.status === 409) {
      const change = await httpRequest(`${this.httpUrl}/api/change_password`, 10_000, {
        method: "POST",
        body: JSON.stringify({ user, host: this.domain, newpass: password }),
        headers: { "content-type": "application/json" },
      });
      if (change?.status === 200) return;
      throw new Error(`ejabberd change_password ${user}@${this.domain} failed: ${change ? `HTTP ${change.status} ${change.body}` : "no answer"}`);
    }
    throw new Error(`ejabberd register ${user}@${this.domain} failed: ${res ? `HTTP ${res.status} ${res.body}` : "no answer"}`);
  }
}

/** Start a private ejabberd on free loopback ports; resolves once its WebSocket endpoint answers. */
export async function startEjabberd(opts: EjabberdOptions = {}): Promise<EjabberdServer> {
  const settings: Settings = {
    domain: opts.domain ?? "localhost",
    smResumeTimeout: opts.smResumeTimeout ?? 20,
    mam: opts.mam ?? false,
    upload: opts.httpFileShare ?? false,
    uploadSizeLimit: opts.uploadSizeLimit ?? null,
    uploadUrl: opts.uploadUrl ?? null,
    uploadCors: opts.uploadCors ?? false,
    shaper: opts.shaper ?? false,
    maxOfflineMessages: opts.maxOfflineMessages ?? 100,
    without: new Set(opts.withoutModules ?? []),
    tls: opts.tls ?? null,
  };
  const portCount = settings.tls ? 3 : 2;
  const server = new Ejabberd(settings, await freePorts(portCount));
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await server.start();
        break;
      } catch (err) {
        if (!(err instanceof PortInUseError) || attempt >= PORT_ATTEMPTS) throw err;
        server.setPorts(await freePorts(portCount));
      }
    }
    for (const { user, password } of opts.users ?? []) await server.register(user, password);
  } catch (err) {
    await server.cleanup();
    throw err;
  }
  return server;
}
