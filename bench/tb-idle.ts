// Idle footprint of the add-on inside a real Thunderbird 153: two Thunderbirds side by side on the same machine,
// A with the add-on online (its WebSocket runs through a counting relay), B without it; both carry the test helper
// extension, so the difference A − B is the add-on. Over the idle period: resident memory of each process group,
// CPU seconds used, and the WebSocket frames the add-on sent and received (every frame is a network wake-up).
//   npm run build && node scripts/run-ts.mjs bench/tb-idle.ts [minutes]      (default 10; the issue asks for 60)
import { DIST_DIR, e2eSkipReason } from "../tests/support/e2e-env.js";
import { startProsody } from "../tests/support/prosody.js";
import { startSmtpSink } from "../tests/support/smtp.js";
import { launchThunderbird, type TB } from "../tests/support/thunderbird.js";
import { startWsProxy } from "../tests/support/ws-proxy.js";

const minutes = Number(process.argv.slice(2).find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 10);
const why = e2eSkipReason();
if (why) {
  console.error(`bench cannot run: ${why}`);
  process.exit(2);
}
const SETTLE_MS = 60_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mb = (kb: number) => (kb / 1024).toFixed(1);

const prosody = await startProsody({ users: [{ user: "alice", password: "pw-alice" }] });
const sink = await startSmtpSink();
const relay = await startWsProxy(prosody.wsUrl);
const tbs: TB[] = [];
try {
  const a = await launchThunderbird({ addonDir: DIST_DIR, smtpPort: sink.port, managed: { jid: "alice@localhost", password: "pw-alice", websocketUrl: relay.url } });
  tbs.push(a);
  const b = await launchThunderbird({ smtpPort: sink.port });
  tbs.push(b);
  await a.waitForEvent((e) => e.event === "status" && e.state === "online", 60_000);
  console.log(`both up; settling ${SETTLE_MS / 1000} s (start-up work, first keep-alive) before measuring ${minutes} min of idle`);
  await sleep(SETTLE_MS);

  const start = { t: performance.now(), rssA: a.memoryKb(), rssB: b.memoryKb(), cpuA: a.cpuSeconds(), cpuB: b.cpuSeconds(), up: relay.frames.up, down: relay.frames.down };
  const samples: string[] = [];
  const sampleEvery = Math.max(1, Math.round(minutes / 10)) * 60_000;
  for (let elapsed = 0; elapsed < minutes * 60_000; ) {
    const step = Math.min(sampleEvery, minutes * 60_000 - elapsed);
    await sleep(step);
    elapsed += step;
    samples.push(`${(elapsed / 60_000).toFixed(0)} min: A ${mb(a.memoryKb())} MB, B ${mb(b.memoryKb())} MB, frames ↑${relay.frames.up - start.up} ↓${relay.frames.down - start.down}`);
    console.log(samples.at(-1));
  }
  const idleMin = (performance.now() - start.t) / 60_000;
  const end = { rssA: a.memoryKb(), rssB: b.memoryKb(), cpuA: a.cpuSeconds(), cpuB: b.cpuSeconds(), up: relay.frames.up, down: relay.frames.down };
  const events = a.events().filter((e) => e.level === "warn" || e.level === "error" || e.event === "status");
  console.log(`machine: ${process.platform} ${process.arch}, node ${process.version}, ${new Date().toISOString()}; idle ${idleMin.toFixed(1)} min`);
  console.log(`RSS A (add-on) ${mb(start.rssA)} → ${mb(end.rssA)} MB (${end.rssA >= start.rssA ? "+" : ""}${mb(end.rssA - start.rssA)}); B (none) ${mb(start.rssB)} → ${mb(end.rssB)} MB (${end.rssB >= start.rssB ? "+" : ""}${mb(end.rssB - start.rssB)}); A − B at the end ${mb(end.rssA - end.rssB)} MB`);
  console.log(`CPU while idle: A ${(end.cpuA - start.cpuA).toFixed(2)} s, B ${(end.cpuB - start.cpuB).toFixed(2)} s → the add-on ≈ ${(((end.cpuA - start.cpuA) - (end.cpuB - start.cpuB)) / idleMin).toFixed(3)} CPU s per minute`);
  console.log(`WebSocket frames while idle: ↑${end.up - start.up} ↓${end.down - start.down} = ${((end.up - start.up) / idleMin).toFixed(2)} sent per minute (one keep-alive per minute = the ping and its ack request: 2 frames each way)`);
  console.log(`status changes / warnings in A while idle: ${events.filter((e) => (a.timeOf(e) ?? 0) > start.t).length}`);
} finally {
  for (const tb of tbs) await tb.quit().catch(() => {});
  await relay.close();
  await sink.stop();
  await prosody.cleanup();
}
