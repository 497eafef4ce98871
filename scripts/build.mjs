// Bundles the add-on into dist/ as readable, unminified code with source maps (store reviewers read it).
// Usage: node scripts/build.mjs [--watch]
import { build, context } from "esbuild";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

/**
 * @xmpp/resolve 0.14.0 imports node:dns and its browser map does not cover it, so a browser bundle fails.
 * We never resolve through it (the session always connects to an explicit wss:// URL), so any import of
 * node:dns resolves to an empty module that throws if it is ever used.
 */
const stubNodeDns = {
  name: "stub-node-dns",
  setup(b) {
    b.onResolve({ filter: /^(node:)?dns$/ }, () => ({ path: "node-dns-stub", namespace: "stub" }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
      contents:
        "const unavailable = () => { throw new Error('DNS lookups are not available in the add-on'); };\n" +
        "export const lookup = unavailable; export const resolveSrv = unavailable; export default { lookup, resolveSrv };\n",
      loader: "js",
    }));
  },
};

/** @type {import("esbuild").BuildOptions} */
export const options = {
  entryPoints: {
    background: join(root, "src/background/main.ts"),
    options: join(root, "src/ui/options/options.ts"),
    compose: join(root, "src/ui/compose/compose.ts"),
    log: join(root, "src/ui/log/log.ts"),
    status: join(root, "src/ui/status/status.ts"),
  },
  outdir: dist,
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["firefox128"],
  // Minifying would save 0.6–2.5 MB of Thunderbird's resident memory (bench/tb-idle.ts, 2026-12-03): the bundle stays
  // readable for review instead. charset "ascii" (every non-ASCII character escaped) saved nothing.
  minify: false,
  // Paths in the source maps stay the same when node_modules is a link (as in the source-archive rebuild test).
  preserveSymlinks: true,
  sourcemap: "linked",
  sourcesContent: true,
  legalComments: "inline",
  charset: "utf8",
  logLevel: "warning",
  plugins: [stubNodeDns],
  define: { "process.env.NODE_ENV": '"production"' },
};

function copyStatic() {
  cpSync(join(root, "_locales"), join(dist, "_locales"), { recursive: true });
  for (const f of ["options.html", "options.css"]) {
    cpSync(join(root, "src/ui/options", f), join(dist, f));
  }
  for (const page of ["compose", "log", "status"]) {
    for (const ext of ["html", "css"]) cpSync(join(root, `src/ui/${page}`, `${page}.${ext}`), join(dist, `${page}.${ext}`));
  }
  cpSync(join(root, "src/ui/icons"), join(dist, "icons"), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(root, "manifest.json"), "utf8"));
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  if (manifest.version !== pkg.version) {
    throw new Error(`manifest.json version ${manifest.version} differs from package.json ${pkg.version}`);
  }
  writeFileSync(join(dist, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  rmSync(dist, { recursive: true, force: true });
  mkdirSync(dist, { recursive: true });
}
if (!isMain) {
  // Imported (e.g. by the bundle-size test): only the options are wanted.
} else if (process.argv.includes("--watch")) {
  const ctx = await context(options);
  copyStatic();
  await ctx.watch();
  console.log("watching src/ …");
} else {
  const started = performance.now();
  await build(options);
  copyStatic();
  console.log(`built dist/ in ${Math.round(performance.now() - started)} ms`);
}
