// The front door's check (scripts/preflight.mjs, run by `npm test` and `npm run demo` first): on a machine where
// something is missing it names it and the one command that installs it; it never installs anything itself.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createProbe, missingPackages, npmPackagesState, preflight, SETUP_COMMAND, SYSTEM_PACKAGES } from "../../scripts/preflight.mjs";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fake machine: a bin directory with the commands, a file tree with the files, a project with node_modules. */
function machine({ without = [] as string[], npm = "ok" as "ok" | "missing" | "stale" } = {}) {
  const root = mkdtempSync(join(tmpdir(), "mox-preflight-"));
  dirs.push(root);
  const bin = join(root, "bin");
  const files = join(root, "fs");
  const project = join(root, "project");
  mkdirSync(bin);
  mkdirSync(project);
  for (const p of SYSTEM_PACKAGES) {
    if (without.includes(p.pkg)) continue;
    if (p.cmd) {
      writeFileSync(join(bin, p.cmd), "#!/bin/sh\n");
      chmodSync(join(bin, p.cmd), 0o755);
    }
    if (p.file) {
      mkdirSync(dirname(join(files, p.file)), { recursive: true });
      writeFileSync(join(files, p.file), "");
    }
    if (p.dirPrefix) mkdirSync(join(files, p.dirPrefix[0], `${p.dirPrefix[1]}-1`), { recursive: true });
  }
  writeFileSync(join(project, "package-lock.json"), "{}");
  if (npm !== "missing") {
    mkdirSync(join(project, "node_modules"));
    writeFileSync(join(project, "node_modules", ".package-lock.json"), "{}");
    const [lock, installed] = npm === "stale" ? [2_000, 1_000] : [1_000, 2_000];
    utimesSync(join(project, "package-lock.json"), lock, lock);
    utimesSync(join(project, "node_modules", ".package-lock.json"), installed, installed);
  }
  return { bin, files, project, probe: createProbe({ path: bin, fileRoot: files }) };
}

describe("preflight", () => {
  it("passes when every package and node_modules are there", () => {
    const { probe, project } = machine();
    expect(missingPackages(probe)).toEqual([]);
    expect(preflight({ probe, root: project, what: "npm test", nodeVersion: "20.19.0" })).toBeNull();
  });

  it("names a command missing from the PATH, and the one command that installs it", () => {
    const { probe, project } = machine({ without: ["prosody"] });
    const message = preflight({ probe, root: project, what: "npm test", nodeVersion: "22.1.0" });
    expect(message).toContain("npm test cannot run yet");
    expect(message).toContain("System packages not installed: prosody.");
    expect(message).toContain(SETUP_COMMAND);
    expect(SETUP_COMMAND).toBe("bash scripts/setup.sh");
  });

  it("tells packages found by file and by directory apart from commands", () => {
    const { probe } = machine({ without: ["postfix", "ejabberd", "xvfb"] });
    expect(missingPackages(probe)).toEqual(["ejabberd", "postfix", "xvfb"]);
  });

  it("wants node_modules installed and not older than the lockfile", () => {
    for (const npm of ["missing", "stale"] as const) {
      const { probe, project } = machine({ npm });
      expect(npmPackagesState(probe, project)).toBe(npm);
      expect(preflight({ probe, root: project, nodeVersion: "20.19.0" })).toContain(SETUP_COMMAND);
    }
  });

  it("wants Node.js 20.19 or later", () => {
    const { probe, project } = machine();
    expect(preflight({ probe, root: project, nodeVersion: "20.18.3" })).toContain("Node.js 20.18.3 is too old");
    expect(preflight({ probe, root: project, nodeVersion: "21.0.0" })).toBeNull();
  });

  it("as a script: exits 1 with the message on stderr; --missing-packages lists them for setup.sh", () => {
    const { bin } = machine({ without: ["prosody", "thunderbird"] });
    const script = join(process.cwd(), "scripts/preflight.mjs");
    const run = spawnSync(process.execPath, [script], { env: { PATH: bin, npm_lifecycle_event: "predemo" }, encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("npm run demo cannot run yet");
    expect(run.stderr).toContain("prosody, thunderbird");
    expect(run.stderr).toContain("bash scripts/setup.sh");
    const listed = execFileSync(process.execPath, [script, "--missing-packages"], { env: { PATH: bin }, encoding: "utf8" });
    expect(listed.split("\n")).toEqual(expect.arrayContaining(["prosody", "thunderbird"]));
  });
});
