// Before `npm test` and `npm run demo` (npm's pretest/predemo): are the system packages scripts/setup.sh installs and
// the npm packages of the lockfile there? If not, names what is missing and the one command that installs it, and
// stops (exit 1). Never installs anything itself (CI runs setup first: .ci/run). Fast: no process is started.
//   node scripts/preflight.mjs                      check (what npm runs)
//   node scripts/preflight.mjs --missing-packages   print the Debian packages to install, one a line (setup.sh)
import { accessSync, constants, existsSync, readdirSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

export const SETUP_COMMAND = "bash scripts/setup.sh";
const MIN_NODE = [20, 19];

/**
 * The Debian 12 packages the tests and the demo use, each with how to tell it is installed: a command on the PATH
 * (`cmd`), a file (`file`), or a directory name starting so in a directory (`dirPrefix`).
 */
export const SYSTEM_PACKAGES = [
  { pkg: "prosody", cmd: "prosody" },
  { pkg: "ejabberd", cmd: "erl", dirPrefix: ["/usr/lib/x86_64-linux-gnu", "ejabberd-23.01"] },
  { pkg: "dovecot-imapd", file: "/usr/sbin/dovecot" },
  { pkg: "dovecot-lmtpd", file: "/usr/lib/dovecot/lmtp" },
  { pkg: "postfix", file: "/usr/sbin/postfix" },
  { pkg: "libnss3-tools", cmd: "certutil" },
  { pkg: "openssl", cmd: "openssl" },
  { pkg: "thunderbird", cmd: "thunderbird" },
  { pkg: "xvfb", cmd: "Xvfb" },
  { pkg: "xauth", cmd: "xauth" },
  { pkg: "xdotool", cmd: "xdotool" },
  { pkg: "x11-apps", cmd: "xwd" },
  { pkg: "gnupg", cmd: "gpg" },
  { pkg: "sqlite3", cmd: "sqlite3" },
  { pkg: "git", cmd: "git" },
  { pkg: "unzip", cmd: "unzip" },
];

/** Looks at this machine: `path` is the PATH to search; absolute file names are taken under `fileRoot`. */
export function createProbe({ path = process.env.PATH ?? "", fileRoot = "/" } = {}) {
  const under = (file) => join(fileRoot, file);
  return {
    command(name) {
      return path.split(delimiter).some((dir) => {
        if (!dir) return false;
        try {
          accessSync(join(dir, name), constants.X_OK);
          return statSync(join(dir, name)).isFile();
        } catch {
          return false;
        }
      });
    },
    file: (file) => existsSync(under(file)),
    dirWithPrefix(dir, prefix) {
      try {
        return readdirSync(under(dir)).some((name) => name.startsWith(prefix));
      } catch {
        return false;
      }
    },
    mtime(file) {
      try {
        return statSync(file).mtimeMs;
      } catch {
        return null;
      }
    },
  };
}

/** The packages of SYSTEM_PACKAGES that are not installed, in order. */
export function missingPackages(probe) {
  return SYSTEM_PACKAGES.filter((p) => {
    if (p.cmd && !probe.command(p.cmd)) return true;
    if (p.file && !probe.file(p.file)) return true;
    if (p.dirPrefix && !probe.dirWithPrefix(p.dirPrefix[0], p.dirPrefix[1])) return true;
    return false;
  }).map((p) => p.pkg);
}

/** node_modules as `npm ci` leaves it: "ok", "missing", or "stale" (the lockfile changed since; as setup.sh decides). */
export function npmPackagesState(probe, root) {
  const installed = probe.mtime(join(root, "node_modules", ".package-lock.json"));
  if (installed === null) return probe.mtime(join(root, "node_modules")) === null ? "missing" : "stale";
  const lock = probe.mtime(join(root, "package-lock.json"));
  return lock !== null && lock > installed ? "stale" : "ok";
}

/** What is missing for `what` ("npm test", …): null when nothing, else the message to print. */
export function preflight({ probe, root, what = "this command", nodeVersion = process.versions.node }) {
  const problems = [];
  const [major = 0, minor = 0] = nodeVersion.split(".").map(Number);
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    problems.push(`Node.js ${nodeVersion} is too old: ${MIN_NODE.join(".")} or later is needed (https://nodejs.org/).`);
  }
  const missing = missingPackages(probe);
  if (missing.length > 0) problems.push(`System packages not installed: ${missing.join(", ")}.`);
  const npm = npmPackagesState(probe, root);
  if (npm === "missing") problems.push("The npm packages are not installed (no node_modules).");
  if (npm === "stale") problems.push("The npm packages are older than package-lock.json.");
  if (problems.length === 0) return null;
  return [`${what} cannot run yet.`, ...problems.map((p) => `  - ${p}`), "", "Install what is missing (Debian 12, uses sudo apt-get) with:", "", `    ${SETUP_COMMAND}`, ""].join("\n");
}

const NAMES = { pretest: "npm test", predemo: "npm run demo" };

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const probe = createProbe();
  if (process.argv[2] === "--missing-packages") {
    for (const pkg of missingPackages(probe)) console.log(pkg);
  } else {
    const event = process.env.npm_lifecycle_event ?? "";
    const message = preflight({ probe, root: fileURLToPath(new URL("..", import.meta.url)), what: NAMES[event] ?? "This command" });
    if (message !== null) {
      console.error(message);
      process.exitCode = 1;
    }
  }
}
