// Store-review guarantee: the source archive rebuilds a byte-identical XPI (`npm run build && npm run package`).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const name = `mail-over-xmpp-${version}`;
const sha256 = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");
const run = (cwd: string, cmd: string, args: string[]) => execFileSync(cmd, args, { cwd, stdio: "pipe" }).toString();
const isGit = (() => {
  try {
    return run(root, "git", ["rev-parse", "--is-inside-work-tree"]).trim() === "true";
  } catch {
    return false;
  }
})();

describe.skipIf(!isGit)("npm run package", () => {
  it("writes an XPI and a source archive that rebuilds the same XPI byte for byte", () => {
    const clean = run(root, "git", ["status", "--porcelain", "--", ".", ":!web-ext-artifacts", ":!dist"]).trim() === "";
    const work = mkdtempSync(join(tmpdir(), "mox-package-"));
    try {
      // From the repository: build + package.
      run(root, "node", ["scripts/build.mjs"]);
      run(root, "node", ["scripts/package.mjs"]);
      const xpi = join(root, "web-ext-artifacts", `${name}.xpi`);
      const source = join(root, "web-ext-artifacts", `${name}-source.zip`);
      expect(existsSync(xpi)).toBe(true);
      const entries = run(root, "unzip", ["-Z1", xpi]).split("\n").filter(Boolean).sort();
      expect(entries).toEqual(expect.arrayContaining(["manifest.json", "background.js", "options.html", "options.js", "_locales/en/messages.json"]));

      // From the source archive alone (dependencies as `npm ci` would install them: linked from this checkout).
      run(work, "unzip", ["-q", source]);
      const src = join(work, `${name}-source`);
      expect(existsSync(join(src, "package-lock.json"))).toBe(true);
      symlinkSync(join(root, "node_modules"), join(src, "node_modules"), "dir");
      run(src, "node", ["scripts/build.mjs"]);
      run(src, "node", ["scripts/package.mjs"]);
      const rebuilt = join(src, "web-ext-artifacts", `${name}.xpi`);
      if (clean) {
        expect(sha256(rebuilt)).toBe(sha256(xpi));
      } else {
        // Uncommitted changes are in the working tree's XPI but not in HEAD's archive: compare the file lists only.
        console.warn("working tree has uncommitted changes: byte-for-byte comparison skipped (CI runs it on a clean clone)");
        expect(run(src, "unzip", ["-Z1", rebuilt]).split("\n").filter(Boolean).sort()).toEqual(entries);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 120_000);
});
