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
import { fileURLToPath } from "node:url";
import { findOnPath } from "./bin.js";
import { freePort } from "./ports.js";
import { logTail, sleep } from "./server-process.js";

export interface DovecotOptions {
  /** user → password */
  readonly users: Record<string, string>;
  readonly readyTimeoutMs?: number;
  /**
   * Also accept mail by LMTP on a free loopback port (Debian's dovecot-lmtpd), as an MTA delivers it
   * (tests/support/postfix.ts); recipients "user@any.domain" go to the user's INBOX.
   */
  readonly lmtp?: boolean;
}

export interface Dovecot {
  readonly port: number;
  /** The LMTP port on 127.0.0.1 (only with `lmtp: true`, else null). */
  readonly lmtpPort: number | null;
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

/** Debian's dovecot-lmtpd (for `lmtp: true`). */
export function isDovecotLmtpAvailable(): boolean {
  return isDovecotAvailable() && existsSync("/usr/lib/dovecot/lmtp");
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
  const lmtpPort = options.lmtp ? await freePort() : null;
  const logFile = join(dir, "dovecot.log");
  const config = `
base_dir = ${dir}/run
state_dir = ${dir}/state
log_path = ${logFile}
info_log_path = ${logFile}
protocols = imap${lmtpPort !== null ? " lmtp" : ""}
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
  args = ${lmtpPort !== null ? "username_format=%n " : ""}${dir}/passwd
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
${
  lmtpPort !== null
    ? `service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
}
`
    : ""
}service stats {
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
    lmtpPort,
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

// ---------------------------------------------------------------------------------------------
// An IMAP account on this Dovecot in a test Thunderbird (tests/support/thunderbird.ts launchThunderbird):
//   launchThunderbird({ ..., ...thunderbirdImapAccount(imap, { user: "bob", password, email }) })
// Thunderbird 153 keeps passwords only in its login manager (no pref): a test-only extension with an experiment API
// (tests/e2e/fixtures/imap-login-ext) adds the login at startup, before anything opens the account (it does not log in
// at startup and does not check for new mail on its own).

export const IMAP_LOGIN_EXT_ID = "mox-test-imap-login@mailoverxmpp.net";
export const IMAP_LOGIN_EXT_DIR = fileURLToPath(new URL("../e2e/fixtures/imap-login-ext/", import.meta.url));
/** The account key the IMAP account gets (after the POP account1 and Local Folders account2 of launchThunderbird). */
export const IMAP_ACCOUNT_ID = "account3";

export interface ImapAccountSpec {
  readonly user: string;
  readonly password: string;
  /** The identity of the IMAP account. */
  readonly email: string;
  /** The account's name (default: the e-mail address, as Thunderbird's account setup names it). */
  readonly name?: string;
}

/** The Thunderbird folder id of a folder of that IMAP account ("INBOX" → "account3://INBOX"). */
export function imapFolderId(path = "INBOX"): string {
  return `${IMAP_ACCOUNT_ID}://${path}`;
}

export function thunderbirdImapAccount(
  imap: Pick<Dovecot, "host" | "port">,
  spec: ImapAccountSpec,
): { extraPrefs: Record<string, string | number | boolean>; prepareProfile: (profileDir: string) => void } {
  const extraPrefs: Record<string, string | number | boolean> = {
    "mail.accountmanager.accounts": "account1,account2,account3",
    "mail.account.lastKey": 3,
    "mail.account.account3.server": "server3",
    "mail.account.account3.identities": "id9",
    "mail.server.server3.type": "imap",
    "mail.server.server3.hostname": imap.host,
    "mail.server.server3.port": imap.port,
    "mail.server.server3.userName": spec.user,
    "mail.server.server3.name": spec.name ?? spec.email,
    "mail.server.server3.socketType": 0,
    "mail.server.server3.authMethod": 3,
    "mail.server.server3.login_at_startup": false,
    "mail.server.server3.check_new_mail": false,
    "mail.server.server3.download_on_biff": false,
    "mail.identity.id9.fullName": spec.user,
    "mail.identity.id9.useremail": spec.email,
    "mail.identity.id9.smtpServer": "smtp1",
    "mail.identity.id9.valid": true,
    "mail.identity.id9.fcc": false,
    "mail.identity.id9.compose_html": false,
    // Experiments (the login extension) in a sideloaded, unsigned add-on.
    "extensions.experiments.enabled": true,
  };
  const prepareProfile = (profileDir: string) => {
    const extDir = join(profileDir, "extensions");
    mkdirSync(extDir, { recursive: true });
    writeFileSync(join(extDir, IMAP_LOGIN_EXT_ID), `${IMAP_LOGIN_EXT_DIR.replace(/\/$/, "")}\n`);
    // launchThunderbird's HOME is the profile's sibling directory "home".
    const managedDir = join(profileDir, "..", "home", ".mozilla", "managed-storage");
    mkdirSync(managedDir, { recursive: true });
    const origins = [`imap://${imap.host}`, `imap://${imap.host}:${imap.port}`];
    writeFileSync(
      join(managedDir, `${IMAP_LOGIN_EXT_ID}.json`),
      JSON.stringify({
        name: IMAP_LOGIN_EXT_ID,
        description: "written by the mox test harness",
        type: "storage",
        data: { logins: origins.map((origin) => ({ origin, username: spec.user, password: spec.password })) },
      }),
    );
  };
  return { extraPrefs, prepareProfile };
}
