// Idle footprint of the add-on inside a real Thunderbird 153. Each run starts Thunderbirds side by side on the same
// machine, all with the test helper extension and the bench's memory probe (bench/fixtures/memory-probe-ext):
//   none   no other extension;
//   floor  an extension whose only code is an empty compose.onBeforeSend listener (tests/e2e/fixtures/min-listener-ext,
//          the same floor as bench/send-hold.ts): what any add-on that routes at Send costs Thunderbird;
//   add-on the built add-on (dist/), online on a private Prosody through a counting WebSocket relay.
// 90 s after the add-on is online (SETTLE) it takes the resident memory of every Thunderbird: the sum over its whole
// process tree (main, extension and other content processes), also split by process type (from the probe's
// ChromeUtils.requestProcInfo). The add-on's cost is add-on − floor. In the first run it then stays idle for `minutes`
// more: resident memory growth, CPU seconds and the WebSocket frames the add-on sent and received (network wake-ups).
//
//   npm run build && node scripts/run-ts.mjs bench/tb-idle.ts [minutes] [--runs N] [--addon LABEL=DIR]... [--reports DIR]
//     minutes       idle period after the footprint, first run only (default 10; 0 = footprint only)
//     --runs N      footprint runs (default 2)
//     --addon L=DIR instead of dist/: one or more add-on builds side by side (e.g. an experiment against dist/)
//     --reports DIR also write each Thunderbird's memory reports (about:memory's "Measure and save" file) to DIR
//     --settle S    seconds after online before measuring (default 90)
//     --close-settings  close the add-on's settings tab (opened on first install) once it is online, as a user would
// Hold /tmp/mox-e2e.lock while it runs (it starts Thunderbirds): flock /tmp/mox-e2e.lock node scripts/run-ts.mjs …
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DIST_DIR, e2eSkipReason } from "../tests/support/e2e-env.js";
import { startProsody } from "../tests/support/prosody.js";
import { startSmtpSink } from "../tests/support/smtp.js";
import { launchThunderbird, type TB } from "../tests/support/thunderbird.js";
import { startWsProxy, type WsProxy } from "../tests/support/ws-proxy.js";

const FLOOR_DIR = fileURLToPath(new URL("../tests/e2e/fixtures/min-listener-ext/", import.meta.url));
const PROBE_DIR = fileURLToPath(new URL("./fixtures/memory-probe-ext/", import.meta.url));
const PROBE_ID = "mox-memory-probe@mailoverxmpp.net";

const argv = process.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const VALUE_FLAGS = new Set(["--runs", "--addon", "--reports", "--settle"]);
const minutes = Number(argv.find((a, i) => /^\d+(\.\d+)?$/.test(a) && !VALUE_FLAGS.has(argv[i - 1] ?? "")) ?? 10);
const runs = Number(flag("--runs") ?? 2);
const settleMs = Number(flag("--settle") ?? 90) * 1000;
const reportsDir = flag("--reports");
const closeSettings = argv.includes("--close-settings");
const addons = argv.flatMap((a, i) => (argv[i - 1] === "--addon" ? [a] : [])).map((spec) => {
  const eq = spec.indexOf("=");
  return eq > 0 ? { label: spec.slice(0, eq), dir: resolve(spec.slice(eq + 1)) } : { label: "add-on", dir: resolve(spec) };
});
if (addons.length === 0) addons.push({ label: "add-on", dir: DIST_DIR });

const why = e2eSkipReason();
if (why) {
  console.error(`bench cannot run: ${why}`);
  process.exit(2);
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mb = (kb: number) => (kb / 1024).toFixed(1);
const signed = (kb: number) => `${kb >= 0 ? "+" : "−"}${mb(Math.abs(kb))}`;

// ---------------------------------------------------------------------------------------------
// The probe: requests are files in the profile (see bench/fixtures/memory-probe-ext/implementation.js).

let requestId = 0;
async function probe<T>(tb: TB, type: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
  const id = ++requestId;
  const answerFile = join(tb.profileDir, "mox-probe-answer.json");
  rmSync(answerFile, { force: true });
  writeFileSync(join(tb.profileDir, "mox-probe-request.json.part"), JSON.stringify({ id, type, args }));
  renameSync(join(tb.profileDir, "mox-probe-request.json.part"), join(tb.profileDir, "mox-probe-request.json"));
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    await sleep(200);
    if (!existsSync(answerFile)) continue;
    const reply = JSON.parse(readFileSync(answerFile, "utf8")) as { id: number; ok: boolean; value?: T; error?: string };
    if (reply.id !== id) continue;
    if (!reply.ok) throw new Error(`probe ${type}: ${reply.error}`);
    return reply.value as T;
  }
  throw new Error(`probe ${type}: no answer within ${timeoutMs} ms`);
}

interface ProcInfo {
  pid: number;
  type: string;
  windows: string[];
}

function vmRssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0; // gone meanwhile
  }
}

/** Resident memory (kB) of Thunderbird's whole process tree, and split by the probe's process type (browser = main). */
function rssByType(tb: TB, procs: ProcInfo[]): { totalKb: number; byType: Map<string, number> } {
  const totalKb = tb.memoryKb();
  const byType = new Map<string, number>();
  for (const p of procs) byType.set(p.type, (byType.get(p.type) ?? 0) + vmRssKb(p.pid));
  const rest = totalKb - [...byType.values()].reduce((a, b) => a + b, 0);
  if (Math.abs(rest) >= 1024) byType.set("other", rest);
  return { totalKb, byType };
}

// ---------------------------------------------------------------------------------------------

interface Stage {
  label: string;
  tb: TB;
  relay?: WsProxy;
}

interface Snapshot {
  label: string;
  rssKb: number;
  byType: Map<string, number>;
}

const users = addons.map((_, i) => ({ user: `idle${i + 1}`, password: `pw-idle${i + 1}` }));
const prosody = await startProsody({ users });
const sink = await startSmtpSink();
const installProbe = (profileDir: string) => writeFileSync(join(profileDir, "extensions", PROBE_ID), `${PROBE_DIR.replace(/\/$/, "")}\n`);
const allRuns: Snapshot[][] = [];
try {
  if (reportsDir) mkdirSync(reportsDir, { recursive: true });
  for (let run = 1; run <= runs; run++) {
    const stages: Stage[] = [];
    try {
      stages.push({ label: "none", tb: await launchThunderbird({ smtpPort: sink.port, prepareProfile: installProbe }) });
      stages.push({ label: "floor", tb: await launchThunderbird({ addonDir: FLOOR_DIR, smtpPort: sink.port, prepareProfile: installProbe }) });
      for (const [i, addon] of addons.entries()) {
        const relay = await startWsProxy(prosody.wsUrl);
        const managed = { jid: `${users[i]!.user}@localhost`, password: users[i]!.password, websocketUrl: relay.url };
        const tb = await launchThunderbird({ addonDir: addon.dir, smtpPort: sink.port, managed, prepareProfile: installProbe });
        stages.push({ label: addon.label, tb, relay });
      }
      for (const s of stages) if (s.relay) await s.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 60_000);
      if (closeSettings) {
        for (const s of stages.filter((x) => x.relay)) {
          // The tab opens a moment after the main window (onboarding's retry loop): wait for it, then close it.
          const opened = await s.tb.waitForEvent((e) => e.event === "onboarding-opened", 20_000).then(() => true, () => false);
          const closed = opened ? await probe<number>(s.tb, "closeTabs", { suffix: "/options.html" }) : 0;
          console.log(`run ${run}: ${s.label}: settings tab ${opened ? `opened, ${closed} closed` : "not opened"}`);
        }
      }
      console.log(`run ${run}: ${stages.map((s) => s.label).join(", ")} up, add-on online; measuring ${settleMs / 1000} s later`);
      await sleep(settleMs);

      const snaps: Snapshot[] = [];
      for (const s of stages) {
        const procs = await probe<ProcInfo[]>(s.tb, "processes");
        const { totalKb, byType } = rssByType(s.tb, procs);
        snaps.push({ label: s.label, rssKb: totalKb, byType });
      }
      allRuns.push(snaps);
      const floor = snaps.find((x) => x.label === "floor")!;
      for (const x of snaps) {
        const parts = [...x.byType].sort(([a], [b]) => a.localeCompare(b)).map(([t, kb]) => `${t} ${mb(kb)}`).join(", ");
        const over = x.label === "none" || x.label === "floor" ? "" : `; over the floor ${signed(x.rssKb - floor.rssKb)} MB`;
        console.log(`  ${x.label.padEnd(8)} RSS ${mb(x.rssKb)} MB (${parts})${over}`);
      }
      if (reportsDir) {
        for (const s of stages) {
          const file = join(resolve(reportsDir), `run${run}-${s.label}.json.gz`);
          await probe(s.tb, "dumpReports", { file, minimize: false }, 120_000);
          console.log(`  memory reports: ${file}`);
        }
      }

      if (run === 1 && minutes > 0) await idlePeriod(stages);
    } finally {
      for (const s of stages) {
        await s.tb.quit().catch(() => {});
        await s.relay?.close();
      }
    }
  }

  console.log(`\nmachine: ${process.platform} ${process.arch}, node ${process.version}, ${new Date().toISOString()}; ${runs} runs, ${settleMs / 1000} s after online`);
  console.log("| | " + allRuns.map((_, i) => `run ${i + 1}`).join(" | ") + " |");
  console.log("|---|" + allRuns.map(() => "---|").join(""));
  const labels = allRuns[0]!.map((x) => x.label);
  const rss = (r: Snapshot[], label: string) => r.find((x) => x.label === label)!.rssKb;
  for (const label of labels) console.log(`| ${label} RSS (all processes) | ${allRuns.map((r) => `${mb(rss(r, label))} MB`).join(" | ")} |`);
  console.log(`| floor − none | ${allRuns.map((r) => `${signed(rss(r, "floor") - rss(r, "none"))} MB`).join(" | ")} |`);
  for (const label of labels.filter((l) => l !== "none" && l !== "floor")) {
    console.log(`| **${label} − floor** | ${allRuns.map((r) => `**${signed(rss(r, label) - rss(r, "floor"))} MB**`).join(" | ")} |`);
  }
} finally {
  await sink.stop();
  await prosody.cleanup();
}

/** The first run goes on idle for `minutes`: memory growth, CPU and WebSocket frames of each add-on against the floor. */
async function idlePeriod(stages: Stage[]): Promise<void> {
  const floor = stages.find((s) => s.label === "floor")!;
  const start = new Map(stages.map((s) => [s, { rss: s.tb.memoryKb(), cpu: s.tb.cpuSeconds(), up: s.relay?.frames.up ?? 0, down: s.relay?.frames.down ?? 0 }]));
  const t0 = performance.now();
  console.log(`  idle for ${minutes} min`);
  const sampleEvery = Math.max(1, Math.round(minutes / 10)) * 60_000;
  for (let elapsed = 0; elapsed < minutes * 60_000; ) {
    const step = Math.min(sampleEvery, minutes * 60_000 - elapsed);
    await sleep(step);
    elapsed += step;
    console.log(`  ${(elapsed / 60_000).toFixed(0)} min: ${stages.map((s) => `${s.label} ${mb(s.tb.memoryKb())} MB`).join(", ")}`);
  }
  const idleMin = (performance.now() - t0) / 60_000;
  const cpu = (s: Stage) => s.tb.cpuSeconds() - start.get(s)!.cpu;
  const floorCpu = cpu(floor);
  for (const s of stages) {
    const b = start.get(s)!;
    const end = s.tb.memoryKb();
    let line = `  ${s.label}: RSS ${mb(b.rss)} → ${mb(end)} MB (${signed(end - b.rss)}), CPU ${cpu(s).toFixed(2)} s`;
    if (s.relay) {
      const up = s.relay.frames.up - b.up;
      const down = s.relay.frames.down - b.down;
      const events = s.tb.events().filter((e) => (e.level === "warn" || e.level === "error" || e.event === "status") && (s.tb.timeOf(e) ?? 0) > t0);
      line += ` → over the floor ≈ ${((cpu(s) - floorCpu) / idleMin).toFixed(3)} CPU s per minute; WebSocket frames ↑${up} ↓${down} = ${(up / idleMin).toFixed(2)} sent per minute; status changes / warnings: ${events.length}`;
    }
    console.log(line);
  }
  console.log(`  (idle ${idleMin.toFixed(1)} min; one keep-alive per minute = the ping and its ack request: 2 frames each way)`);
}
