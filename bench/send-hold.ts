// Send-path benchmark in a real Thunderbird 153 on a private Prosody and SMTP sink.
//   node scripts/run-ts.mjs bench/send-hold.ts [rounds]        (npm run build first)
// Measures, side by side in one run:
//   1. the add-on's onBeforeSend hold for mail without XMPP recipients (its own measurement, "send-held" log line);
//   2. the hold for mail delivered over XMPP to one recipient running the receiving engine (delivery + "filed" receipt);
//   3. Thunderbird's send → SMTP-server time with the add-on vs. a Thunderbird without it (same machine, same sink).
// Reports p50/p99 and ratios; single timings on a shared machine are noise.
import { e2eSkipReason, startE2E, DIST_DIR } from "../tests/support/e2e-env.js";
import { startMailPeer } from "../tests/support/mail-peer.js";
import { waitFor } from "../tests/support/mail-fixtures.js";
import { launchThunderbird, type TB } from "../tests/support/thunderbird.js";
import type { SmtpSink } from "../tests/support/smtp.js";
import "../tests/support/websocket-global.js";

const rounds = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 40);
const why = e2eSkipReason();
if (why) {
  console.error(`bench cannot run: ${why}`);
  process.exit(2);
}
void DIST_DIR;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const fmt = (xs: number[]) => `p50 ${quantile(xs, 0.5).toFixed(2)} ms, p99 ${quantile(xs, 0.99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms (n=${xs.length})`;

/** Per mail: compose.sendMessage called → the SMTP sink has the whole message, and → sendMessage resolved. */
async function smtpRound(tb: TB, sink: SmtpSink, n: number, tag: string): Promise<{ arrive: number[]; done: number[] }> {
  const arrive: number[] = [];
  const done: number[] = [];
  for (let i = 0; i < n; i++) {
    const subject = `bench ${tag} ${i} ${Date.now()}`;
    const sent = await tb.helper.send({ to: "carol@nowhere.test", subject, body: "Benchmark mail." });
    const msg = await sink.waitFor((m) => m.raw.includes(subject), 20_000);
    arrive.push(msg.receivedAt - sent.sendStartedAt);
    done.push(sent.sendMs);
  }
  return { arrive, done };
}

// --no-announce: no X-Jabber-ID, so onBeforeSend returns {} for SMTP mail (isolates the cost of a details rewrite).
const announce = !process.argv.includes("--no-announce");
const env = await startE2E({ users: [{ user: "alice", password: "a" }, { user: "bob", password: "b" }], as: "alice", managed: { announceJid: announce } });
let plain: TB | null = null;
try {
  await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
  const bob = await startMailPeer(env.prosody, "bob", "b");
  const held = () => env.tb.events().filter((e) => e.event === "send-held");

  // Warm-up (first compose windows are slower), then the no-XMPP hold.
  await smtpRound(env.tb, env.sink, 3, "warmup");
  const before = held().length;
  const withAddon = await smtpRound(env.tb, env.sink, rounds, "addon");
  await waitFor(() => held().length >= before + rounds, 10_000, "hold events");
  const noXmppHold = held().slice(before, before + rounds).map((e) => e.ms as number);

  // Over XMPP to bob.
  const xmppBefore = held().length;
  for (let i = 0; i < rounds; i++) {
    const subject = `bench xmpp ${i} ${Date.now()}`;
    await env.tb.helper.send({ to: "bob@localhost", subject, body: "Benchmark mail over XMPP." }).catch(() => undefined);
    await waitFor(() => bob.filed.some((m) => m.subject === subject), 10_000, "filed");
  }
  await waitFor(() => held().length >= xmppBefore + rounds, 10_000, "hold events");
  const xmppHeld = held().slice(xmppBefore, xmppBefore + rounds);
  const xmppHold = xmppHeld.map((e) => e.ms as number);
  const cancelled = xmppHeld.filter((e) => e.cancel === true).length;
  await bob.stop();

  // The same SMTP sends from a Thunderbird without the add-on.
  plain = await launchThunderbird({ smtpPort: env.sink.port });
  await smtpRound(plain, env.sink, 3, "warmup-plain");
  const withoutAddon = await smtpRound(plain, env.sink, rounds, "plain");

  const m = (xs: number[]) => quantile(xs, 0.5);
  console.log(`machine: ${process.platform} ${process.arch}, node ${process.version}, ${new Date().toISOString()}`);
  console.log(`onBeforeSend hold, no XMPP recipient:        ${fmt(noXmppHold)}  [${[...noXmppHold].sort((a, b) => a - b).join(" ")}]`);
  console.log(`onBeforeSend hold, 1 XMPP recipient (filed):  ${fmt(xmppHold)}; ${cancelled}/${rounds} delivered over XMPP`);
  console.log(`Send → SMTP server has it, with the add-on:    ${fmt(withAddon.arrive)}`);
  console.log(`Send → SMTP server has it, without add-on:    ${fmt(withoutAddon.arrive)}`);
  console.log(`Send → Thunderbird done, with the add-on:     ${fmt(withAddon.done)}`);
  console.log(`Send → Thunderbird done, without add-on:      ${fmt(withoutAddon.done)}`);
  console.log(`ratio with/without (p50): SMTP arrival ${(m(withAddon.arrive) / m(withoutAddon.arrive)).toFixed(3)}x, done ${(m(withAddon.done) / m(withoutAddon.done)).toFixed(3)}x`);
} finally {
  await plain?.quit();
  await env.stop();
}
