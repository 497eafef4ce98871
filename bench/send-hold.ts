// Send-path benchmark in real Thunderbird 153s on a private Prosody and SMTP sink.
//   npm run build && node scripts/run-ts.mjs bench/send-hold.ts [rounds]
// Three Thunderbirds side by side, sends interleaved round-robin so that machine drift hits all alike:
//   A  the add-on, online, defaults (X-Jabber-ID announced: onBeforeSend returns a details rewrite);
//   B  the add-on, online, announceJid off (onBeforeSend returns {} for mail without XMPP recipients);
//   C  no add-on;
//   D  a minimal extension whose onBeforeSend listener returns {} (tests/e2e/fixtures/min-listener-ext): the floor any
//      add-on that routes at Send costs Thunderbird, so A / D is the add-on's own share.
// Measures the add-on's own onBeforeSend hold ("send-held" log line) for mail without XMPP recipients and for mail
// delivered over XMPP (A → bob, who runs the receiving engine), and for every Thunderbird the time from
// compose.sendMessage to the SMTP server having the whole message, and to sendMessage resolving.
// Reports p50/p99 and ratios; single timings on a shared machine are noise.
import { e2eSkipReason, startE2E, DIST_DIR } from "../tests/support/e2e-env.js";
import { startMailPeer } from "../tests/support/mail-peer.js";
import { waitFor } from "../tests/support/mail-fixtures.js";
import { launchThunderbird, type TB } from "../tests/support/thunderbird.js";
import "../tests/support/websocket-global.js";
import { fileURLToPath } from "node:url";

const rounds = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 40);
const why = e2eSkipReason();
if (why) {
  console.error(`bench cannot run: ${why}`);
  process.exit(2);
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const p50 = (xs: number[]) => quantile(xs, 0.5);
const fmt = (xs: number[]) => `p50 ${p50(xs).toFixed(1)} ms, p99 ${quantile(xs, 0.99).toFixed(1)} ms (n=${xs.length})`;

const users = ["alice", "bob", "carl"].map((user) => ({ user, password: `pw-${user}` }));
const env = await startE2E({ users, as: "alice" });
const others: TB[] = [];
try {
  const b = await launchThunderbird({
    smtpPort: env.sink.port,
    addonDir: DIST_DIR,
    managed: { jid: "carl@localhost", password: "pw-carl", websocketUrl: env.server.wsUrl, announceJid: false },
  });
  others.push(b);
  const c = await launchThunderbird({ smtpPort: env.sink.port });
  others.push(c);
  const d = await launchThunderbird({ smtpPort: env.sink.port, addonDir: fileURLToPath(new URL("../tests/e2e/fixtures/min-listener-ext/", import.meta.url)) });
  others.push(d);
  const a = env.tb;
  for (const tb of [a, b]) await tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
  const bob = await startMailPeer(env.server, "bob", "pw-bob");

  const tbs = { A: a, B: b, C: c, D: d } as const;
  const NAMES = ["A", "B", "C", "D"] as const;
  const arrive: Record<string, number[]> = { A: [], B: [], C: [], D: [] };
  const done: Record<string, number[]> = { A: [], B: [], C: [], D: [] };
  const sendOne = async (name: keyof typeof tbs, i: number, record: boolean) => {
    const subject = `bench ${name} ${i} ${Date.now()}`;
    const sent = await tbs[name].helper.send({ to: "carol@nowhere.test", subject, body: "Benchmark mail." });
    const msg = await env.sink.waitFor((m) => m.raw.includes(subject), 20_000);
    if (record) {
      arrive[name]!.push(msg.receivedAt - sent.sendStartedAt);
      done[name]!.push(sent.sendMs);
    }
  };
  for (let i = 0; i < 3; i++) for (const name of NAMES) await sendOne(name, i, false);
  const heldA = () => a.events().filter((e) => e.event === "send-held");
  const heldB = () => b.events().filter((e) => e.event === "send-held");
  const [a0, b0] = [heldA().length, heldB().length];
  for (let i = 0; i < rounds; i++) for (const name of NAMES) await sendOne(name, i, true);
  await waitFor(() => heldA().length >= a0 + rounds && heldB().length >= b0 + rounds, 10_000, "hold events");
  const holdA = heldA().slice(a0, a0 + rounds).map((e) => e.ms as number);
  const holdB = heldB().slice(b0, b0 + rounds).map((e) => e.ms as number);

  const x0 = heldA().length;
  for (let i = 0; i < rounds; i++) {
    const subject = `bench xmpp ${i} ${Date.now()}`;
    await a.helper.send({ to: "bob@localhost", subject, body: "Benchmark mail over XMPP." }).catch(() => undefined);
    await waitFor(() => bob.filed.some((m) => m.subject === subject), 10_000, "filed");
  }
  await waitFor(() => heldA().length >= x0 + rounds, 10_000, "hold events");
  const xmppHeld = heldA().slice(x0, x0 + rounds);
  await bob.stop();

  console.log(`machine: ${process.platform} ${process.arch}, node ${process.version}, ${new Date().toISOString()}; rounds ${rounds}`);
  console.log(`hold, no XMPP recipient, A (X-Jabber-ID added): ${fmt(holdA)}`);
  console.log(`hold, no XMPP recipient, B (nothing changed):   ${fmt(holdB)}`);
  console.log(`hold, 1 XMPP recipient, filed (A):             ${fmt(xmppHeld.map((e) => e.ms as number))}; ${xmppHeld.filter((e) => e.cancel === true).length}/${rounds} over XMPP`);
  for (const name of NAMES) console.log(`${name}: Send → SMTP server has it ${fmt(arrive[name]!)}; Send → done ${fmt(done[name]!)}`);
  const ratio = (x: number[], y: number[]) => (p50(x) / p50(y)).toFixed(3);
  console.log(`ratios vs no add-on (p50): A arrival ${ratio(arrive.A!, arrive.C!)}x, done ${ratio(done.A!, done.C!)}x; B arrival ${ratio(arrive.B!, arrive.C!)}x, done ${ratio(done.B!, done.C!)}x; D (empty listener) arrival ${ratio(arrive.D!, arrive.C!)}x, done ${ratio(done.D!, done.C!)}x`);
  console.log(`ratios vs the empty-listener floor D (p50): A arrival ${ratio(arrive.A!, arrive.D!)}x, done ${ratio(done.A!, done.D!)}x; B arrival ${ratio(arrive.B!, arrive.D!)}x, done ${ratio(done.B!, done.D!)}x`);
} finally {
  for (const tb of others) await tb.quit();
  await env.stop();
}
