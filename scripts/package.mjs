// Produces the store upload and its review companion:
//   web-ext-artifacts/mail-over-xmpp-<version>.xpi         (web-ext build of dist/)
//   web-ext-artifacts/mail-over-xmpp-<version>-source.zip  (git archive of HEAD; `npm ci && npm run build` rebuilds dist/)
// web-ext builds (and validates) the XPI; its zip carries the build time and a racy entry order, so we then re-pack the
// same files deterministically (sorted entries, fixed time) and the source archive rebuilds a byte-identical XPI.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import JSZip from "jszip";
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

function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

async function deterministicZip(fromDir, file) {
  const zip = new JSZip();
  const paths = listFiles(fromDir)
    .map((p) => relative(fromDir, p).split(sep).join("/"))
    .sort();
  for (const path of paths) {
    zip.file(path, readFileSync(join(fromDir, path)), { date: FIXED_TIME, createFolders: false });
  }
  const buffer = await zip.generateAsync({ type: "nodebuffer", compression: "DEFLATE", compressionOptions: { level: 9 }, platform: "UNIX" });
  writeFileSync(file, buffer);
}

const sha256 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex");

if (!existsSync(join(dist, "manifest.json"))) run("node", ["scripts/build.mjs"], { stdio: "inherit" });
const webExt = join(root, "node_modules", ".bin", "web-ext");
run(webExt, ["build", "--source-dir", dist, "--artifacts-dir", out, "--filename", `${name}.xpi`, "--overwrite-dest"], {
  stdio: "inherit",
});
const xpi = join(out, `${name}.xpi`);
await deterministicZip(dist, xpi);

console.log(`${xpi}\n  ${statSync(xpi).size} bytes, sha256 ${sha256(xpi)}`);

const source = join(out, `${name}-source.zip`);
let inGit = false;
try {
  inGit = run("git", ["rev-parse", "--is-inside-work-tree"], { stdio: ["ignore", "pipe", "ignore"] }).toString().trim() === "true";
} catch {
  inGit = false;
}
if (inGit) {
  const dirty = run("git", ["status", "--porcelain"]).toString().trim();
  if (dirty) console.warn("warning: uncommitted changes are not in the source archive (it is made from HEAD)");
  run("git", ["archive", "--format=zip", `--prefix=${name}-source/`, "-o", source, "HEAD"]);
  console.log(`${source}\n  ${statSync(source).size} bytes (rebuild: npm ci && npm run build && npm run package)`);
} else {
  console.log("not a git checkout: no source archive made (it is made from the repository's HEAD)");
}
