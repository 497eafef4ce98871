// A real Thunderbird for end-to-end tests: fresh profile and HOME per launch, the add-on sideloaded, its
// configuration delivered through managed storage (the enterprise-policy channel), a test-only helper
// extension to drive compose/send/quit, and no process left behind.
//
//   const tb = await launchThunderbird({ addonDir: "dist", managed: { jid, password, websocketUrl }, smtpPort });
//   const online = await tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
//   await tb.helper.send({ to: "carol@nowhere.test", subject: "Hi", body: "Hello" });
//   await tb.quit();
//
// Environment switches:
//   MOX_TB_ECHO=1       echo Thunderbird's stdout/stderr to the test's stderr as it arrives
//   MOX_TB_KEEP=1       keep the run dir (profile, HOME) after quit
//   MOX_THUNDERBIRD=... the thunderbird executable (default: `thunderbird` on PATH)

import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startHarnessServer, type HarnessServer, type HelperEvent, type HelperIdentity, type HelperReady } from "./harness-http.js";
import { findOnPath } from "./bin.js";

export const ADDON_ID = "mail-over-xmpp@mailoverxmpp.net";
export const HELPER_ID = "mox-test-helper@mailoverxmpp.net";
export const HELPER_EXT_DIR = fileURLToPath(new URL("../e2e/fixtures/helper-ext/", import.meta.url));

const HELPER_READY_TIMEOUT_MS = 60_000;
const CLEAN_QUIT_TIMEOUT_MS = 10_000;
const TERM_GRACE_MS = 5_000;
const MOX_MARKER = "[mox] ";
const GTK_NOISE = /Gtk-CRITICAL|Gtk-WARNING|gtk_icon_theme|GDK_IS_SCREEN|GTK_IS_ICON_THEME/;

export interface IdentitySpec {
  email: string;
  fullName?: string;
  /** Keep a copy in the account's Sent folder (default false: fewer moving parts). */
  fcc?: boolean;
}

export interface LaunchOptions {
  /** Unpacked add-on directory, sideloaded through a proxy file (profile/extensions/<id> holding its path). */
  addonDir?: string;
  /** Packed add-on, copied to profile/extensions/<id>.xpi. */
  addonXpi?: string;
  /** The add-on's gecko id; read from addonDir's manifest.json when omitted, ADDON_ID for an XPI. */
  addonId?: string;
  /** Data for the add-on's storage.managed (written as a per-run native managed-storage manifest). */
  managed?: Record<string, unknown>;
  /** Port of the SMTP server (on 127.0.0.1) used by every identity. */
  smtpPort: number;
  /** Identities of the single POP account; default alice@example.test. The first one is the default. */
  identities?: IdentitySpec[];
  /** Install the helper extension and wait until it reports ready (default true). */
  helperExt?: boolean;
  /** Run on a private Xvfb display instead of --headless (needed for real keyboard input; see TB.display()). */
  xvfb?: boolean;
  extraPrefs?: Record<string, string | number | boolean>;
  /** Called with the fresh profile directory before Thunderbird starts (e.g. to put OpenPGP keyrings there). */
  prepareProfile?: (profileDir: string) => void;
  /** How long launchThunderbird waits for the helper (default 60 s). */
  readyTimeoutMs?: number;
  /** Start again in the run directory (profile, home) of an earlier Thunderbird that crashed (see TB.crash()). */
  runDir?: string;
  /**
   * A CA certificate (PEM file, e.g. tests/support/test-ca.ts) that the profile trusts for TLS servers, put into the
   * profile's NSS database with `certutil` (Debian's libnss3-tools) before Thunderbird first starts.
   */
  trustCa?: string;
}

export interface SendArgs {
  to: string | string[];
  cc?: string | string[];
  bcc?: string | string[];
  subject: string;
  body: string;
  /** Sender address (must be one of the identities); default the default identity. */
  from?: string;
  identityId?: string;
  attachments?: Array<{ name: string; type?: string; base64: string }>;
  /** compose details.selectedEncryptionTechnology (needs an identity with a key). */
  encryption?: { name: "OpenPGP"; encryptBody: boolean; encryptSubject: boolean; signMessage: boolean };
}

export interface SendResult {
  tabId: number;
  /** Date.now() inside Thunderbird just before compose.sendMessage (same clock as the SMTP sink's receivedAt). */
  sendStartedAt: number;
  openMs: number;
  sendMs: number;
  /** What compose.sendMessage resolved with ({mode, headerMessageId, messages}). */
  result: { mode?: string; headerMessageId?: string; messages?: unknown[] } | null;
}

export interface Helper {
  readonly info: HelperReady;
  readonly identities: HelperIdentity[];
  /** Compose and send now; resolves when Thunderbird reports the send done, rejects with HelperCommandError. */
  send(args: SendArgs, timeoutMs?: number): Promise<SendResult>;
  command<T = unknown>(type: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  readonly events: HelperEvent[];
  waitForEvent(pred: (e: HelperEvent) => boolean, timeoutMs: number): Promise<HelperEvent>;
}

export interface MoxEvent {
  event: string;
  [key: string]: unknown;
}

export interface QuitResult {
  /** "clean": exited after the helper closed every window; otherwise the signal we had to use. */
  how: "clean" | "exited" | "SIGTERM" | "SIGKILL";
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

export interface TB {
  readonly pid: number;
  readonly runDir: string;
  readonly profileDir: string;
  readonly homeDir: string;
  /** performance.now() at spawn. */
  readonly spawnedAt: number;
  /** ms from spawn until the helper reported ready (null without the helper). */
  readonly readyMs: number | null;
  /** Every stdout and stderr line, in arrival order. */
  readonly lines: string[];
  /** performance.now() for each entry of `lines`. */
  readonly lineTimes: number[];
  /** The `[mox] {...}` JSON lines parsed so far. */
  events(): MoxEvent[];
  /** performance.now() when the line carrying this event (an object from events()/waitForEvent) arrived. */
  timeOf(event: MoxEvent): number | undefined;
  waitForEvent(pred: (e: MoxEvent) => boolean, timeoutMs: number): Promise<MoxEvent>;
  waitForLine(re: RegExp, timeoutMs: number): Promise<string>;
  /** The last `n` output lines without the headless Gtk icon-theme noise, for failure reports. */
  outputTail(n?: number): string;
  readonly helper: Helper;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  /** The X display (":N") Thunderbird runs on under `xvfb: true`, else null. */
  display(): string | null;
  /** Resident memory (kB) summed over every process of Thunderbird's process group. */
  memoryKb(): number;
  /** CPU seconds (user + system) used by Thunderbird's live processes so far. */
  cpuSeconds(): number;
  /** keepRunDir: leave the profile for a later launch with `runDir`. */
  quit(options?: { keepRunDir?: boolean }): Promise<QuitResult>;
  /** SIGKILL the whole process group (a crash or power loss) and keep the run directory for a restart (runDir). */
  crash(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Binaries


export function thunderbirdBinary(): string | null {
  return findOnPath(process.env.MOX_THUNDERBIRD || "thunderbird");
}

export function isThunderbirdAvailable(): boolean {
  return thunderbirdBinary() !== null;
}

export function isXvfbAvailable(): boolean {
  return findOnPath("Xvfb") !== null;
}

// ---------------------------------------------------------------------------------------------
// Leftover protection. Every Thunderbird runs in its own process group (spawn detached) and only that group is
// ever signalled.
//  * normal exit of the test process: the "exit" hook SIGKILLs every group still alive and removes run dirs;
//  * the test process killed outright (SIGKILL, or a SIGTERM from the runner): a detached watchdog shell per
//    launch notices that its parent is gone, SIGKILLs the group and removes the run dir.

interface Live {
  pgid: number;
  runDir: string;
  watchdog: ChildProcess | null;
}
const live = new Set<Live>();
let exitHookInstalled = false;

function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const l of live) {
      killGroup(l.pgid, "SIGKILL");
      if (l.watchdog?.pid) killGroup(l.watchdog.pid, "SIGKILL");
      if (process.env.MOX_TB_KEEP !== "1") rmSync(l.runDir, { recursive: true, force: true });
    }
  });
}

// $1 display file, $2 Xvfb, then Thunderbird's command line. Exits with Thunderbird's exit code.
const XVFB_WRAPPER = `
file="$1"; xvfb="$2"; shift 2
"$xvfb" -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3>"$file" 2>/dev/null &
xpid=$!
i=0
while [ ! -s "$file" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
DISPLAY=":$(head -n1 "$file")"; export DISPLAY
"$@"
code=$?
kill "$xpid" 2>/dev/null
exit $code
`;

// POSIX sh (dash): its kill builtin takes `kill -9 -PGID` but rejects both `kill -KILL -- -PGID` and `kill -s KILL -PGID`.
const WATCHDOG_SCRIPT = `
parent="$1"; pgid="$2"; dir="$3"; keep="$4"
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
kill -9 "-$pgid" 2>/dev/null
sleep 1
kill -9 "-$pgid" 2>/dev/null
[ "$keep" = 1 ] || rm -rf "$dir"
`;

function startWatchdog(pgid: number, runDir: string): ChildProcess | null {
  try {
    const wd = spawn("sh", ["-c", WATCHDOG_SCRIPT, "mox-tb-watchdog", String(process.pid), String(pgid), runDir, process.env.MOX_TB_KEEP === "1" ? "1" : "0"], {
      detached: true,
      stdio: "ignore",
    });
    wd.on("error", () => {});
    wd.unref();
    return wd;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Profile

type PrefValue = string | number | boolean;

function prefLine(name: string, value: PrefValue): string {
  return `user_pref(${JSON.stringify(name)}, ${JSON.stringify(value)});`;
}

function basePrefs(smtpPort: number, identities: IdentitySpec[]): Record<string, PrefValue> {
  const prefs: Record<string, PrefValue> = {
    // Add-ons: sideloaded profile-scope add-ons must install enabled.
    "extensions.autoDisableScopes": 0,
    "extensions.enabledScopes": 15,
    "extensions.update.enabled": false,
    "extensions.update.autoUpdateDefault": false,
    "extensions.getAddons.cache.enabled": false,
    "xpinstall.signatures.required": false,
    // Console output of extensions (and chrome) to stdout, which is how the harness reads the add-on's log.
    "devtools.console.stdout.content": true,
    "devtools.console.stdout.chrome": true,
    "browser.dom.window.dump.enabled": true,
    // Quiet and offline-friendly.
    "toolkit.telemetry.enabled": false,
    "toolkit.telemetry.unified": false,
    "toolkit.telemetry.archive.enabled": false,
    "toolkit.telemetry.server": "http://127.0.0.1:9/",
    "datareporting.policy.dataSubmissionEnabled": false,
    "datareporting.healthreport.uploadEnabled": false,
    "datareporting.policy.dataSubmissionPolicyBypassNotification": true,
    "app.update.auto": false,
    "app.update.checkInstallTime": false,
    "app.update.disabledForTesting": true,
    "mailnews.start_page.enabled": false,
    "mail.shell.checkDefaultClient": false,
    "mail.provider.enabled": false,
    "mail.rights.version": 1,
    "mail.biff.play_sound": false,
    "mail.biff.show_alert": false,
    "mail.biff.show_tray_icon": false,
    "network.captive-portal-service.enabled": false,
    "network.connectivity-service.enabled": false,
    "network.dns.disablePrefetch": true,
    "network.prefetch-next": false,
    "network.http.speculative-parallel-limit": 0,
    "browser.safebrowsing.malware.enabled": false,
    "browser.safebrowsing.phishing.enabled": false,
    "browser.safebrowsing.downloads.enabled": false,
    "browser.safebrowsing.downloads.remote.enabled": false,
    "browser.safebrowsing.provider.google4.updateURL": "",
    "toolkit.startup.max_resumed_crashes": -1,
    "toolkit.cosmeticAnimations.enabled": false,
    // A dead proxy for anything that still tries the network; loopback stays direct.
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.share_proxy_settings": false,
    "network.proxy.no_proxies_on": "localhost, 127.0.0.1",
    // Sending without prompts.
    "mail.compose.attachment_reminder": false,
    "mail.SpellCheckBeforeSend": false,
    "mail.warn_on_send_accel_key": false,
    "mailnews.show_send_progress": false,
    "mail.e2ee.auto_enable": false,
    // Accounts: one POP account (never contacted) carrying the identities, plus Local Folders.
    "mail.accountmanager.accounts": "account1,account2",
    "mail.accountmanager.defaultaccount": "account1",
    "mail.accountmanager.localfoldersserver": "server2",
    "mail.account.lastKey": 2,
    "mail.account.account1.server": "server1",
    "mail.account.account1.identities": identities.map((_, i) => `id${i + 1}`).join(","),
    "mail.server.server1.type": "pop3",
    "mail.server.server1.hostname": "127.0.0.1",
    "mail.server.server1.port": 9,
    "mail.server.server1.userName": identities[0]!.email.split("@")[0]!,
    "mail.server.server1.name": identities[0]!.email,
    "mail.server.server1.login_at_startup": false,
    "mail.server.server1.check_new_mail": false,
    "mail.server.server1.download_on_biff": false,
    "mail.account.account2.server": "server2",
    "mail.server.server2.type": "none",
    "mail.server.server2.hostname": "Local Folders",
    "mail.server.server2.userName": "nobody",
    "mail.server.server2.name": "Local Folders",
    "mail.smtpservers": "smtp1",
    "mail.smtp.defaultserver": "smtp1",
    "mail.smtpserver.smtp1.type": "smtp",
    "mail.smtpserver.smtp1.hostname": "127.0.0.1",
    "mail.smtpserver.smtp1.port": smtpPort,
    "mail.smtpserver.smtp1.authMethod": 1,
    "mail.smtpserver.smtp1.try_ssl": 0,
    "mail.smtpserver.smtp1.username": "",
    "mail.smtpserver.smtp1.description": "test sink",
  };
  identities.forEach((identity, i) => {
    const p = `mail.identity.id${i + 1}`;
    prefs[`${p}.fullName`] = identity.fullName ?? identity.email.split("@")[0]!;
    prefs[`${p}.useremail`] = identity.email;
    prefs[`${p}.smtpServer`] = "smtp1";
    prefs[`${p}.valid`] = true;
    prefs[`${p}.fcc`] = identity.fcc ?? false;
    prefs[`${p}.compose_html`] = false;
  });
  return prefs;
}

function writeManagedStorage(homeDir: string, id: string, data: Record<string, unknown>): void {
  const dir = join(homeDir, ".mozilla", "managed-storage");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${id}.json`), JSON.stringify({ name: id, description: "written by the mox test harness", type: "storage", data }, null, 2));
}

function addonIdFromDir(dir: string): string {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as {
    browser_specific_settings?: { gecko?: { id?: string } };
    applications?: { gecko?: { id?: string } };
  };
  const id = manifest.browser_specific_settings?.gecko?.id ?? manifest.applications?.gecko?.id;
  if (!id) throw new Error(`${dir}/manifest.json has no gecko id: a sideloaded add-on needs one`);
  return id;
}

/**
 * Makes the profile trust `caFile` for web sites (TLS servers): a new NSS database (cert9.db, no password), then the
 * CA added with trust flags "C,," (a CA for TLS servers only). Thunderbird opens this database at start.
 */
export function trustCaInProfile(profileDir: string, caFile: string): void {
  const certutil = findOnPath("certutil");
  if (!certutil) throw new Error("certutil not found (apt-get install libnss3-tools)");
  const db = `sql:${profileDir}`;
  const run = (args: string[]) => {
    try {
      execFileSync(certutil, args, { stdio: ["ignore", "pipe", "pipe"], timeout: 15_000 });
    } catch (error) {
      const e = error as { stderr?: Buffer; message: string };
      throw new Error(`certutil ${args.join(" ")} failed: ${e.stderr?.toString().trim() || e.message}`);
    }
  };
  if (!existsSync(join(profileDir, "cert9.db"))) run(["-N", "-d", db, "--empty-password"]); // else: e.g. prepareProfile's
  run(["-A", "-d", db, "-n", "mox-test-ca", "-t", "C,,", "-i", caFile]);
}

// ---------------------------------------------------------------------------------------------
// [mox] lines

/**
 * Decodes the JavaScript string literal that starts with the quote at `open` (Gecko's console-to-stdout
 * serialization: `\"`, `\\`, `\n`, `\t`, `\xFC`, `\u2028`, `\uD83D\uDE00` … — not JSON, `\xHH` is not valid JSON).
 * Returns null when the literal is not closed on this line.
 */
export function decodeJsStringLiteral(text: string, open: number): string | null {
  const quote = text[open];
  if (quote !== '"' && quote !== "'") return null;
  let out = "";
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === quote) return out;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = text[++i];
    if (e === undefined) return null;
    switch (e) {
      case "n": out += "\n"; break;
      case "t": out += "\t"; break;
      case "r": out += "\r"; break;
      case "b": out += "\b"; break;
      case "f": out += "\f"; break;
      case "v": out += "\v"; break;
      case "0": out += "\0"; break;
      case "x": {
        const hex = text.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
        out += String.fromCharCode(parseInt(hex, 16));
        i += 2;
        break;
      }
      case "u": {
        if (text[i + 1] === "{") {
          const close = text.indexOf("}", i);
          const hex = text.slice(i + 2, close);
          if (close < 0 || !/^[0-9a-fA-F]{1,6}$/.test(hex)) return null;
          out += String.fromCodePoint(parseInt(hex, 16));
          i = close;
        } else {
          const hex = text.slice(i + 1, i + 5);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) return null;
          out += String.fromCharCode(parseInt(hex, 16));
          i += 4;
        }
        break;
      }
      default: out += e; // \" \' \\ and anything else stand for themselves
    }
  }
  return null;
}

/**
 * Parses the JSON object after the `[mox] ` marker.
 *
 * Thunderbird 153 prints an extension's `console.log("[mox] {...}")` to stdout as a quoted JS string literal,
 * followed by any further arguments:
 *   console.log: "[mox] {\"event\":\"status\",\"state\":\"online\"}"
 * (console.warn: / console.error: likewise; non-ASCII comes out as \xHH / \uHHHH escapes). The literal is
 * decoded first; a bare `[mox] {...}` (e.g. from dump()) is accepted too.
 */
export function parseMoxLine(line: string): MoxEvent | null {
  const at = line.indexOf(MOX_MARKER);
  if (at < 0) return null;
  let payload: string | null = null;
  if (at > 0 && (line[at - 1] === '"' || line[at - 1] === "'")) {
    const decoded = decodeJsStringLiteral(line, at - 1);
    if (decoded !== null) payload = decoded.slice(MOX_MARKER.length);
  }
  payload ??= line.slice(at + MOX_MARKER.length);
  const start = payload.indexOf("{");
  const end = payload.lastIndexOf("}");
  if (start < 0 || end < start) return null;
  try {
    const value: unknown = JSON.parse(payload.slice(start, end + 1));
    if (value && typeof value === "object" && typeof (value as MoxEvent).event === "string") return value as MoxEvent;
  } catch {
    // not ours
  }
  return null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Calls `visit` with the pid and the /proc stat fields (from field 3, the state, on) of each live process in the group. */
function forEachInGroup(pgid: number, visit: (pid: string, fields: string[]) => void): void {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) !== pgid) continue; // field 5 (pgrp), counted from state = field 3
      visit(entry, fields);
    } catch {
      // process gone meanwhile
    }
  }
}

/** CPU time (user + system, seconds) used so far by the processes of the group that are still alive. */
function groupCpuSeconds(pgid: number): number {
  let ticks = 0;
  forEachInGroup(pgid, (_pid, fields) => {
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  });
  return ticks / CLOCK_TICKS_PER_SECOND;
}

function groupRssKb(pgid: number): number {
  let total = 0;
  forEachInGroup(pgid, (pid) => {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    if (m) total += Number(m[1]);
  });
  return total;
}

// ---------------------------------------------------------------------------------------------

export async function launchThunderbird(opts: LaunchOptions): Promise<TB> {
  const bin = thunderbirdBinary();
  if (!bin) throw new Error("thunderbird not found on PATH (apt-get install thunderbird, or set MOX_THUNDERBIRD)");
  if (opts.xvfb && !isXvfbAvailable()) throw new Error("Xvfb not found (apt-get install xvfb)");
  if (opts.addonDir && opts.addonXpi) throw new Error("launchThunderbird: give addonDir or addonXpi, not both");
  installExitHook();

  const useHelper = opts.helperExt ?? true;
  const identities = opts.identities?.length ? opts.identities : [{ email: "alice@example.test", fullName: "Alice Example" }];
  // Most suites send from an identity that is not the JID (alice@example.test as alice@localhost). The add-on sends
  // only mail from identities bound to the account over XMPP (setting xmppIdentities, issue 13): bind the test
  // identities as a user would in the options, unless the suite sets the binding itself.
  const managed =
    opts.managed && typeof opts.managed["jid"] === "string" && !Object.hasOwn(opts.managed, "xmppIdentities")
      ? { ...opts.managed, xmppIdentities: identities.map((i) => i.email).join(", ") }
      : opts.managed;

  const runDir = opts.runDir ?? mkdtempSync(join(tmpdir(), "mox-tb-"));
  const homeDir = join(runDir, "home");
  const profileDir = join(runDir, "profile");
  const tmpDir = join(runDir, "tmp");
  for (const d of [homeDir, profileDir, tmpDir, join(homeDir, ".cache"), join(homeDir, ".config"), join(homeDir, ".local", "share"), join(runDir, "xdg-runtime")]) {
    mkdirSync(d, { recursive: true, mode: 0o700 });
  }
  const extDir = join(profileDir, "extensions");
  mkdirSync(extDir, { recursive: true });

  let harness: HarnessServer | null = null;
  try {
    // The add-on under test.
    if (opts.addonDir) {
      const dir = resolvePath(opts.addonDir);
      const id = opts.addonId ?? addonIdFromDir(dir);
      writeFileSync(join(extDir, id), `${dir}\n`);
      if (managed) writeManagedStorage(homeDir, id, managed);
    } else if (opts.addonXpi) {
      const id = opts.addonId ?? ADDON_ID;
      copyFileSync(resolvePath(opts.addonXpi), join(extDir, `${id}.xpi`));
      if (managed) writeManagedStorage(homeDir, id, managed);
    } else if (managed) {
      writeManagedStorage(homeDir, opts.addonId ?? ADDON_ID, managed);
    }

    // The helper, told where the harness listens through its own managed storage.
    if (useHelper) {
      harness = await startHarnessServer();
      writeFileSync(join(extDir, HELPER_ID), `${HELPER_EXT_DIR.replace(/\/$/, "")}\n`);
      writeManagedStorage(homeDir, HELPER_ID, { port: harness.port, token: harness.token });
    }

    const prefs = { ...basePrefs(opts.smtpPort, identities), ...(opts.extraPrefs ?? {}) };
    writeFileSync(join(profileDir, "user.js"), `${Object.entries(prefs).map(([k, v]) => prefLine(k, v)).join("\n")}\n`);
    if (!opts.runDir) opts.prepareProfile?.(profileDir);
    if (opts.trustCa && !opts.runDir) trustCaInProfile(profileDir, opts.trustCa);
  } catch (err) {
    await harness?.stop();
    rmSync(runDir, { recursive: true, force: true });
    throw err;
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: homeDir,
    XDG_CACHE_HOME: join(homeDir, ".cache"),
    XDG_CONFIG_HOME: join(homeDir, ".config"),
    XDG_DATA_HOME: join(homeDir, ".local", "share"),
    XDG_RUNTIME_DIR: join(runDir, "xdg-runtime"),
    TMPDIR: tmpDir,
    MESA_SHADER_CACHE_DISABLE: "true",
    MOZ_CRASHREPORTER_DISABLE: "1",
    MOZ_DISABLE_AUTO_SAFE_MODE: "1",
    MOZ_NO_REMOTE: "1",
    DBUS_SESSION_BUS_ADDRESS: "disabled:",
    LANG: "C.UTF-8",
  };
  delete env.MOZ_HEADLESS;
  const tbArgs = ["--profile", profileDir, "--no-remote"];
  let command: string;
  let args: string[];
  if (opts.xvfb) {
    // Our own Xvfb in Thunderbird's process group (so every stop path takes it down too), on a display number it
    // picks itself (-displayfd), written to <runDir>/display so that tests can drive the keyboard with xdotool.
    delete env.DISPLAY;
    command = "sh";
    args = ["-c", XVFB_WRAPPER, "mox-xvfb", join(runDir, "display"), findOnPath("Xvfb")!, bin, ...tbArgs];
  } else {
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    command = bin;
    args = ["--headless", ...tbArgs];
  }

  const spawnedAt = performance.now();
  const child = spawn(command, args, { cwd: runDir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const pid = child.pid;
  if (pid === undefined) {
    await harness?.stop();
    rmSync(runDir, { recursive: true, force: true });
    throw new Error(`could not spawn ${command}`);
  }
  const liveEntry: Live = { pgid: pid, runDir, watchdog: null };
  live.add(liveEntry);
  liveEntry.watchdog = startWatchdog(pid, runDir);

  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
    child.once("error", () => {
      running = false;
      resolve({ code: null, signal: null });
    });
  });

  // Output.
  const lines: string[] = [];
  const lineTimes: number[] = [];
  const moxEvents: MoxEvent[] = [];
  const eventTimes = new WeakMap<MoxEvent, number>();
  const lineWaiters = new Set<(line: string) => void>();
  const eventWaiters = new Set<(e: MoxEvent) => void>();
  const echo = process.env.MOX_TB_ECHO === "1";
  const onLine = (line: string) => {
    lines.push(line);
    lineTimes.push(performance.now());
    if (echo) process.stderr.write(`[tb ${pid}] ${line}\n`);
    for (const w of [...lineWaiters]) w(line);
    const ev = parseMoxLine(line);
    if (ev) {
      moxEvents.push(ev);
      eventTimes.set(ev, lineTimes[lineTimes.length - 1]!);
      for (const w of [...eventWaiters]) w(ev);
    }
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", onLine);
  }

  // Headless Gtk chatters about icon themes (hundreds of lines per run): leave that out of error reports.
  const tail = (n = 40) =>
    lines
      .filter((l) => l.trim() !== "" && !GTK_NOISE.test(l))
      .slice(-n)
      .join("\n");

  function waitForEvent(pred: (e: MoxEvent) => boolean, timeoutMs: number): Promise<MoxEvent> {
    const found = moxEvents.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = (e: MoxEvent) => {
        if (!pred(e)) return;
        done();
        resolve(e);
      };
      const timer = setTimeout(() => {
        done();
        const seen = moxEvents.map((e) => JSON.stringify(e)).slice(-15);
        reject(new Error(`no matching [mox] event within ${timeoutMs} ms${running ? "" : " (Thunderbird has exited)"}.\n[mox] events so far:\n${seen.join("\n") || "(none)"}\n--- last Thunderbird output ---\n${tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        eventWaiters.delete(waiter);
      };
      eventWaiters.add(waiter);
    });
  }

  function waitForLine(re: RegExp, timeoutMs: number): Promise<string> {
    const found = lines.find((l) => re.test(l));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = (line: string) => {
        if (!re.test(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no line matching ${re} within ${timeoutMs} ms\n--- last Thunderbird output ---\n${tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        lineWaiters.delete(waiter);
      };
      lineWaiters.add(waiter);
    });
  }

  /** After Thunderbird has exited: stop its watchdog and the harness, forget it (the run directory stays). */
  async function release(): Promise<void> {
    if (liveEntry.watchdog?.pid) killGroup(liveEntry.watchdog.pid, "SIGKILL");
    live.delete(liveEntry);
    await harness?.stop();
  }

  let quitting: Promise<QuitResult> | null = null;
  function quit(options: { keepRunDir?: boolean } = {}): Promise<QuitResult> {
    quitting ??= (async () => {
      const t0 = performance.now();
      let how: QuitResult["how"] = "exited";
      const exitedWithin = (ms: number) => Promise.race([exited.then(() => true), sleep(ms).then(() => false)]);
      if (running && harness?.readyInfo) {
        try {
          await harness.command("quit", {}, 5_000);
          if (await exitedWithin(CLEAN_QUIT_TIMEOUT_MS)) how = "clean";
        } catch {
          // helper gone or stuck: fall through to signals
        }
      }
      if (running) {
        how = "SIGTERM";
        killGroup(pid!, "SIGTERM");
        if (!(await exitedWithin(TERM_GRACE_MS))) {
          how = "SIGKILL";
          killGroup(pid!, "SIGKILL");
          await exited;
        }
      }
      const { code, signal } = await exited;
      killGroup(pid!, "SIGKILL"); // stragglers of our own group (child processes), if any
      await release();
      if (process.env.MOX_TB_KEEP !== "1" && !options.keepRunDir) rmSync(runDir, { recursive: true, force: true });
      return { how, code, signal, ms: Math.round(performance.now() - t0) };
    })();
    return quitting;
  }

  // Wait for the helper.
  let readyMs: number | null = null;
  if (harness) {
    const h = harness;
    const timeoutMs = opts.readyTimeoutMs ?? HELPER_READY_TIMEOUT_MS;
    const outcome = await Promise.race([
      h.ready.then(() => "ready" as const),
      exited.then(() => "exited" as const),
      sleep(timeoutMs).then(() => "timeout" as const),
    ]);
    if (outcome !== "ready") {
      const why = outcome === "exited" ? "Thunderbird exited" : `no helper report within ${timeoutMs} ms`;
      await quit();
      throw new Error(`Thunderbird did not come up (${why}).\n--- last Thunderbird output ---\n${tail(80)}`);
    }
    readyMs = Math.round(performance.now() - spawnedAt);
  }

  const helper: Helper = {
    get info() {
      if (!harness?.readyInfo) throw new Error("launched without the helper extension (helperExt: false)");
      return harness.readyInfo;
    },
    get identities() {
      return helper.info.identities;
    },
    send(sendArgs, timeoutMs = 60_000) {
      if (!harness) return Promise.reject(new Error("launched without the helper extension"));
      return harness.command<SendResult>("send", { ...sendArgs }, timeoutMs);
    },
    command(type, cmdArgs, timeoutMs) {
      if (!harness) return Promise.reject(new Error("launched without the helper extension"));
      return harness.command(type, cmdArgs, timeoutMs);
    },
    get events() {
      return harness?.events ?? [];
    },
    waitForEvent(pred, timeoutMs) {
      if (!harness) return Promise.reject(new Error("launched without the helper extension"));
      return harness.waitForEvent(pred, timeoutMs);
    },
  };

  return {
    pid,
    runDir,
    profileDir,
    homeDir,
    spawnedAt,
    readyMs,
    lines,
    lineTimes,
    events: () => [...moxEvents],
    timeOf: (event) => eventTimes.get(event),
    waitForEvent,
    waitForLine,
    outputTail: tail,
    display: () => {
      if (!opts.xvfb) return null;
      try {
        const n = readFileSync(join(runDir, "display"), "utf8").trim();
        return /^\d+$/.test(n) ? `:${n}` : null;
      } catch {
        return null;
      }
    },
    helper,
    exited,
    get running() {
      return running;
    },
    memoryKb: () => groupRssKb(pid),
    cpuSeconds: () => groupCpuSeconds(pid),
    quit,
    async crash() {
      if (quitting) return;
      const t0 = performance.now();
      quitting = (async () => {
        killGroup(pid!, "SIGKILL");
        const { code, signal } = await exited;
        // Child processes die a moment later; until the last one is gone the profile is still locked and a restart
        // would stop at "Thunderbird is already running".
        const end = performance.now() + 10_000;
        while (killGroup(pid!, "SIGKILL") && performance.now() < end) await sleep(20);
        await release();
        return { how: "SIGKILL" as const, code, signal, ms: Math.round(performance.now() - t0) };
      })();
      await quitting;
    },
  };
}
