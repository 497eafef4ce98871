// Produces the store upload and its review companion:
//   web-ext-artifacts/mail-over-xmpp-<version>.xpi         (web-ext build of dist/)
//   web-ext-artifacts/mail-over-xmpp-<version>-source.zip  (git archive of HEAD; `npm ci && npm run build` rebuilds dist/)
// File times in dist/ are pinned so the same source gives a byte-identical XPI.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const dist = join(root, "dist");
const out = join(root, "web-ext-artifacts");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const name = `mail-over-xmpp-${version}`;
const FIXED_TIME = new Date("2024-01-01T00:00:00Z");

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"], ...opts });
}

function pinTimes(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) pinTimes(path);
    utimesSync(path, FIXED_TIME, FIXED_TIME);
  }
}

const sha256 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex");

if (!existsSync(join(dist, "manifest.json"))) run("node", ["scripts/build.mjs"], { stdio: "inherit" });
pinTimes(dist);
const webExt = join(root, "node_modules", ".bin", "web-ext");
run(webExt, ["build", "--source-dir", dist, "--artifacts-dir", out, "--filename", `${name}.xpi`, "--overwrite-dest"], {
  stdio: "inherit",
});
const xpi = join(out, `${name}.xpi`);

const source = join(out, `${name}-source.zip`);
const dirty = run("git", ["status", "--porcelain"]).toString().trim();
if (dirty) console.warn("warning: uncommitted changes are not in the source archive (it is made from HEAD)");
run("git", ["archive", "--format=zip", `--prefix=${name}-source/`, "-o", source, "HEAD"]);

console.log(`${xpi}\n  ${statSync(xpi).size} bytes, sha256 ${sha256(xpi)}`);
console.log(`${source}\n  ${statSync(source).size} bytes (rebuild: npm ci && npm run build && npm run package)`);
