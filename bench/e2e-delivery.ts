// The cost of end-to-end encryption (issue 15 item 5): send → "filed" receipt for 10 KB and 10 MB mails, protocol
// version 1 (sealed for the recipient's devices, signed) against version 0, side by side in one run and interleaved
// round by round (v0, v1, v0, v1 …), so that the machine's load falls on both alike. The add-on's own engines at both
// ends (MailSender → real server → MailReceiver with its keyring and an in-memory sink), on loopback, no rate limits.
//   node --expose-gc scripts/run-ts.mjs bench/e2e-delivery.ts [rounds10k] [rounds10M]
//   MOX_BENCH_SERVER=ejabberd for ejabberd (default prosody). The goal: v1 within 1.1× of v0 (p50).
import { buildMessage, newMessageId } from "../src/core/mime/build.js";
import { CapabilityCache } from "../src/core/capability-cache.js";
import { emptyTrust } from "../src/core/e2e/trust.js";
import { createLogger } from "../src/core/log.js";
import { publishCapability, announcedDevicesFrom, queryCapabilityInfo } from "../src/xmpp/capability.js";
import { Keyring, memoryDeviceKeyStore, memoryTrustStore } from "../src/xmpp/e2e-keyring.js";
import { DEFAULT_SIZE_POLICY, MailSender } from "../src/xmpp/mail-sender.js";
import { MailReceiver, type FiledMail } from "../src/xmpp/receiver.js";
import { realScheduler } from "../src/xmpp/runtime.js";
import type { XmppSession } from "../src/xmpp/session.js";
import { ourSession, whenOnline } from "../tests/support/mail-fixtures.js";
import { startServer, type ServerKind } from "../tests/support/servers.js";
import "../tests/support/websocket-global.js";

const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const rounds10k = numbers[0] ?? 40;
const rounds10M = numbers[1] ?? 6;
const kind = (process.env.MOX_BENCH_SERVER ?? "prosody") as ServerKind;
const log = createLogger(() => {}, () => "error");

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const p50 = (xs: number[]) => quantile(xs, 0.5);
const filler = (bytes: number) => {
  const line = "The quick brown fox jumps over the lazy dog 0123456789.\r\n";
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
};

function keyringFor(session: XmppSession, caps: CapabilityCache): Keyring {
  return new Keyring({
    keys: memoryDeviceKeyStore(),
    trust: memoryTrustStore(emptyTrust()),
    announced: announcedDevicesFrom(caps, () => session),
    log,
  });
}

const server = await startServer(kind, { users: ["alice", "bob"].map((u) => ({ user: u, password: `pw-${u}` })), upload: true, uploadSizeLimit: 64 * 1024 * 1024 });
try {
  const alice = ourSession(server, "alice", "pw-alice", "bench", log);
  const bob = ourSession(server, "bob", "pw-bob", "bench", log);
  const aliceCaps = new CapabilityCache(() => Date.now());
  const bobCaps = new CapabilityCache(() => Date.now());
  const aliceKeys = keyringFor(alice, aliceCaps);
  const bobKeys = keyringFor(bob, bobCaps);
  const filed: FiledMail[] = [];
  const store = new Map<string, unknown>();
  new MailReceiver({
    session: bob,
    log,
    sink: {
      file: async (m) => {
        filed.push(m);
        if (filed.length > 4) filed.shift();
      },
    },
    directory: { confirmedJids: async () => [], addressBookJids: async () => [], isKnown: async () => true },
    store: { get: async (k) => store.get(k), set: async (k, v) => void store.set(k, v) },
    e2e: bobKeys,
  }).start();
  alice.start();
  bob.start();
  await Promise.all([whenOnline(alice), whenOnline(bob)]);
  for (const [session, keys] of [[alice, aliceKeys], [bob, bobKeys]] as const) {
    const report = await publishCapability(session, new Date(), { device: (await keys.device()).public });
    if (report.devices) keys.setOwnDevices(report.devices);
  }
  const info = await queryCapabilityInfo(alice, `bob@${server.domain}`, new Date(), 5_000);
  aliceCaps.set(`bob@${server.domain}`, info.capable, info.devices);
  const bobInfo = await queryCapabilityInfo(bob, `alice@${server.domain}`, new Date(), 5_000);
  bobCaps.set(`alice@${server.domain}`, bobInfo.capable, bobInfo.devices);
  const sealing = await aliceKeys.sealingFor(`bob@${server.domain}`);
  if (!("v1" in sealing) || !sealing.v1) throw new Error(`no version 1 to bob: ${JSON.stringify(sealing)}`);
  const sender = new MailSender({ session: alice, log, scheduler: realScheduler, filedGraceMs: 30_000, sizePolicy: { ...DEFAULT_SIZE_POLICY, inlineBudget: null } });
  sender.start();

  const mailOf = (bytes: number) =>
    buildMessage(
      { from: `Alice <alice@${server.domain}>`, to: [`bob@${server.domain}`], cc: [], bcc: [], replyTo: [], subject: "bench", text: filler(bytes), isPlainText: true, attachments: [] },
      { date: new Date(), messageId: newMessageId(server.domain) },
    );

  console.log(`server: ${kind}; version 1 to bob's ${sealing.devices.length} device(s)`);
  const rows: string[] = [];
  const sizes: ReadonlyArray<readonly [string, number, number]> = [
    ["4 KB (inline)", 4_000, rounds10k],
    ["10 KB", 10_000, rounds10k],
    ["10 MB", 10_000_000, rounds10M],
  ];
  for (const [label, bytes, rounds] of sizes) {
    const times: Record<"v0" | "v1", number[]> = { v0: [], v1: [] };
    const routes = new Set<string>();
    for (let i = 0; i < rounds + 1; i++) {
      const order: ReadonlyArray<"v0" | "v1"> = i % 2 === 0 ? ["v0", "v1"] : ["v1", "v0"];
      for (const version of order) {
        const raw = mailOf(bytes);
        (globalThis as { gc?: () => void }).gc?.();
        const t0 = performance.now();
        const outcome = await sender.deliver(
          { to: `bob@${server.domain}`, raw, subject: "bench", fallbackBody: "bench", ...(version === "v1" ? { e2e: { me: sealing.me, devices: sealing.devices } } : {}) },
          60_000,
        );
        const ms = performance.now() - t0;
        if (outcome.status !== "filed") throw new Error(`${label} ${version}: ${JSON.stringify(outcome)}`);
        if ((outcome.e2e === true) !== (version === "v1")) throw new Error(`${label} ${version}: e2e=${String(outcome.e2e)}`);
        routes.add(`${version} ${outcome.route}`);
        if (i > 0) times[version].push(ms); // round 0 warms both paths up
      }
    }
    const ratio = p50(times.v1) / p50(times.v0);
    rows.push(
      `${label}: v0 p50 ${p50(times.v0).toFixed(1)} ms (p90 ${quantile(times.v0, 0.9).toFixed(1)}), v1 p50 ${p50(times.v1).toFixed(1)} ms (p90 ${quantile(times.v1, 0.9).toFixed(1)}), v1/v0 ${ratio.toFixed(2)}× (n=${rounds} each; routes ${[...routes].join(", ")})`,
    );
    console.log(rows.at(-1));
  }
  console.log(`[measure] ${kind}: send → filed, version 1 vs version 0: ${rows.join("; ")}`);
  await Promise.all([alice.stop(), bob.stop()]);
} finally {
  await server.cleanup();
}
