// A private Dovecot IMAP server for tests: Debian's dovecot-imapd, started from a config written into a fresh temp
// dir, listening on a free loopback port, plain-text login allowed (loopback only), users from a passwd-file, mail in
// Maildir under the temp dir (so a test can count what really is on the server).
//
//   const imap = await startDovecot({ users: { bob: "secret" } });
//   imap.port; imap.countMessages("bob");   // INBOX, from the Maildir itself
//   await imap.stop();
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { findOnPath } from "./bin.js";
import { freePort } from "./ports.js";
import { logTail, sleep } from "./server-process.js";

export interface DovecotOptions {
  /** user → password */
  readonly users: Record<string, string>;
  readonly readyTimeoutMs?: number;
}

export interface Dovecot {
  readonly port: number;
  readonly host: "127.0.0.1";
  readonly dir: string;
  /** The messages of a user's mailbox ("INBOX" or a folder name), read from the Maildir (new/ and cur/). */
  messages(user: string, folder?: string): Array<{ file: string; text: string }>;
  countMessages(user: string, folder?: string): number;
  stop(): Promise<void>;
}

export function isDovecotAvailable(): boolean {
  return findOnPath("dovecot") !== null || existsSync("/usr/sbin/dovecot");
}

function dovecotBinary(): string {
  return findOnPath("dovecot") ?? "/usr/sbin/dovecot";
}

/** Resolves when the server sends its IMAP greeting. */
function greeting(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(false);
    }, timeoutMs);
    socket.once("data", (data: Buffer) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(data.toString("latin1").startsWith("* OK"));
    });
    socket.once("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

export async function startDovecot(options: DovecotOptions): Promise<Dovecot> {
  const dir = mkdtempSync(join(tmpdir(), "mox-dovecot-"));
  // Dovecot's mail processes run as the mail user: let it traverse into its home.
  chmodSync(dir, 0o755);
  // Dovecot refuses to store mail as root: as root, the mail user is "nobody" (and owns the homes); else ourselves.
  const self = process.getuid?.() ?? 0;
  const uid = self === 0 ? 65534 : self;
  const gid = self === 0 ? 65534 : (process.getgid?.() ?? 0);
  const user = userInfo().username;
  for (const d of ["run", "state", "home"]) mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  for (const name of Object.keys(options.users)) {
    mkdirSync(join(dir, "home", name), { recursive: true, mode: 0o700 });
    if (self === 0) chownSync(join(dir, "home", name), uid, gid);
  }
  writeFileSync(
    join(dir, "passwd"),
    Object.entries(options.users)
      .map(([name, password]) => `${name}:{PLAIN}${password}:${uid}:${gid}::${join(dir, "home", name)}::`)
      .join("\n") + "\n",
  );
  const port = await freePort();
  const logFile = join(dir, "dovecot.log");
  const config = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${logFile}
info_log_path = ${logFile}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = ${Math.min(uid, 500)}
first_valid_gid = 0
default_login_user = ${self === 0 ? "dovenull" : user}
default_internal_user = ${self === 0 ? "dovecot" : user}
mail_location = maildir:~/Maildir
mail_uid = ${uid}
mail_gid = ${gid}
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${dir}/passwd
}
userdb {
  driver = passwd-file
  args = ${dir}/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${port}
  }
  inet_listener imaps {
    port = 0
  }
}
service stats {
  unix_listener stats-reader {
    mode = 0666
  }
  unix_listener stats-writer {
    mode = 0666
  }
}
`;
  const configFile = join(dir, "dovecot.conf");
  writeFileSync(configFile, config);
  const child: ChildProcess = spawn(dovecotBinary(), ["-F", "-c", configFile], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  let exited = false;
  child.once("exit", () => (exited = true));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // gone
    }
  };
  const onExit = () => killGroup("SIGKILL");
  process.on("exit", onExit);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  while (!(await greeting(port, 1_000))) {
    if (exited || Date.now() > deadline) {
      killGroup("SIGKILL");
      process.off("exit", onExit);
      const tail = logTail(logFile);
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`dovecot did not start on port ${port}: ${output.trim()}\n${tail}`);
    }
    await sleep(100);
  }

  const maildir = (name: string, folder: string) => join(dir, "home", name, "Maildir", folder === "INBOX" ? "" : `.${folder}`);
  const messages = (name: string, folder = "INBOX") => {
    const out: Array<{ file: string; text: string }> = [];
    for (const sub of ["new", "cur"]) {
      const d = join(maildir(name, folder), sub);
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) out.push({ file: join(d, f), text: readFileSync(join(d, f), "latin1") });
    }
    return out;
  };
  return {
    port,
    host: "127.0.0.1",
    dir,
    messages,
    countMessages: (name, folder) => messages(name, folder).length,
    async stop() {
      process.off("exit", onExit);
      if (!exited) {
        killGroup("SIGTERM");
        const until = Date.now() + 5_000;
        while (!exited && Date.now() < until) await sleep(50);
        if (!exited) killGroup("SIGKILL");
      }
      if (process.env.MOX_DOVECOT_KEEP !== "1") rmSync(dir, { recursive: true, force: true });
    },
  };
}
