// A private Postfix MTA for benchmarks and tests: Debian's postfix package, a config directory of its own written
// into a fresh temp dir (main.cf, master.cf), its own queue and data directories there, smtpd on a free loopback port,
// mail for `domain` handed to an LMTP server (a private Dovecot: tests/support/dovecot.ts with `lmtp: true`).
// Nothing of the system's Postfix is used or touched (the package is installed with "No configuration").
//
//   const imap = await startDovecot({ users: { bob: "pw" }, lmtp: true });
//   const mta = await startPostfix({ domain: "localhost", lmtpPort: imap.lmtpPort! });
//   mta.port;            // SMTP on 127.0.0.1, no auth; accepts mail for @localhost from loopback
//   await mta.stop();
//
// What Postfix insists on (found on Debian 12, Postfix 3.7): the `postfix` command and its master run as root (they
// drop to the mail_owner "postfix" for every daemon); queue_directory must exist and be root-owned (postfix creates
// its subdirectories, owned by postfix); data_directory must be owned by postfix; every directory above them must be
// traversable by postfix (mkdtemp makes 0700: chmod 755); maillog_file must start with one of
// maillog_file_prefixes; fatal start-up errors go to syslog or a terminal only — postfix-script's own lines are in the
// log file, so a failed start reports that file's tail. Without root this module refuses with a clear message.
import { execFile } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { logTail, sleep } from "./server-process.js";

const POSTFIX = "/usr/sbin/postfix";
const DAEMON_DIR = "/usr/lib/postfix/sbin";

export interface PostfixOptions {
  /** The mail domain delivered locally (mydestination), e.g. "localhost". */
  readonly domain: string;
  /** Where local mail goes: an LMTP server on 127.0.0.1 at this port. */
  readonly lmtpPort: number;
  /** Largest accepted message (default 50 MB). */
  readonly messageSizeLimit?: number;
  readonly readyTimeoutMs?: number;
}

export interface Postfix {
  readonly port: number;
  readonly host: "127.0.0.1";
  readonly dir: string;
  /** Postfix's own log (maillog_file). */
  log(): string;
  stop(): Promise<void>;
}

/** null when a private Postfix can run here, else why not. */
export function postfixSkipReason(): string | null {
  if (!existsSync(POSTFIX) || !existsSync(join(DAEMON_DIR, "master"))) return "postfix not installed (apt-get install postfix, debconf: No configuration)";
  if (process.getuid?.() !== 0) return "a private Postfix needs root (its master starts as root and drops to the postfix user)";
  return null;
}

function userIds(name: string): { uid: number; gid: number } | null {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return null;
  const f = line.split(":");
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

function run(args: string[], timeoutMs = 30_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(POSTFIX, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

/** Resolves true when the server sends an SMTP "220" greeting. */
function greeting(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.once("data", (data: Buffer) => {
      clearTimeout(timer);
      socket.end("QUIT\r\n");
      resolve(data.toString("latin1").startsWith("220"));
    });
    socket.once("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

function masterPid(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, "queue", "pid", "master.pid"), "utf8").trim());
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0: look at its state.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

export async function startPostfix(options: PostfixOptions): Promise<Postfix> {
  const why = postfixSkipReason();
  if (why) throw new Error(`cannot start a private Postfix: ${why}`);
  const owner = userIds("postfix");
  if (!owner) throw new Error("cannot start a private Postfix: no user 'postfix' (the postfix package creates it)");
  const dir = mkdtempSync(join(tmpdir(), "mox-postfix-"));
  chmodSync(dir, 0o755);
  const conf = join(dir, "conf");
  const queue = join(dir, "queue");
  const data = join(dir, "data");
  mkdirSync(conf, { mode: 0o755 });
  mkdirSync(queue, { mode: 0o755 });
  mkdirSync(data, { mode: 0o700 });
  chownSync(data, owner.uid, owner.gid);
  const port = await freePort();
  const logFile = join(dir, "postfix.log");
  const mainCf = `# written by tests/support/postfix.ts
compatibility_level = 3.6
queue_directory = ${queue}
data_directory = ${data}
command_directory = /usr/sbin
daemon_directory = ${DAEMON_DIR}
shlib_directory = /usr/lib/postfix
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-mox
maillog_file_prefixes = ${dir}
maillog_file = ${logFile}
myhostname = mail.${options.domain}
mydomain = ${options.domain}
myorigin = ${options.domain}
mydestination = ${options.domain}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
local_transport = lmtp:inet:127.0.0.1:${options.lmtpPort}
local_recipient_maps =
alias_maps =
alias_database =
smtputf8_enable = no
biff = no
message_size_limit = ${options.messageSizeLimit ?? 50 * 1024 * 1024}
mailbox_size_limit = 0
smtpd_banner = $myhostname ESMTP
`;
  // chroot "n" everywhere: the daemons would otherwise need copies of /etc files inside the queue directory.
  const masterCf = `# written by tests/support/postfix.ts
127.0.0.1:${port} inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
local     unix - n n - - local
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`;
  writeFileSync(join(conf, "main.cf"), mainCf);
  writeFileSync(join(conf, "master.cf"), masterCf);

  const started = await run(["-c", conf, "start"]);
  const stopAll = async () => {
    const pid = masterPid(dir);
    await run(["-c", conf, "stop"], 15_000);
    if (pid !== null) {
      const until = Date.now() + 5_000;
      while (alive(pid) && Date.now() < until) await sleep(50);
      if (alive(pid)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  };
  const onExit = () => {
    const pid = masterPid(dir);
    if (pid !== null) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // gone
      }
    }
  };
  process.on("exit", onExit);
  const fail = async (what: string): Promise<never> => {
    await stopAll();
    process.off("exit", onExit);
    const tail = logTail(logFile);
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`postfix did not start on port ${port}: ${what}\n${started.output}\n${tail}`);
  };
  if (started.code !== 0) await fail(`postfix start exited with ${started.code}`);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  while (!(await greeting(port, 1_000))) {
    if (Date.now() > deadline) await fail("no SMTP greeting");
    await sleep(100);
  }
  let stopped: Promise<void> | null = null;
  return {
    port,
    host: "127.0.0.1",
    dir,
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    stop() {
      stopped ??= (async () => {
        process.off("exit", onExit);
        await stopAll();
        if (process.env.MOX_POSTFIX_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
