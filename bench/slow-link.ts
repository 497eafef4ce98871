// The user's wait, Send → done, over a link shaped like a home connection (10 Mbit/s up, 25 ms each way: 50 ms RTT;
// tests/support/shaped-relay.ts), for 10 KB, 1 MB, 10 MB and 25 MB mails, with and without the add-on. Node engine,
// not a real Thunderbird: the add-on's own MailSender over a real Prosody (the sender's WebSocket and its upload's PUT
// both through the shaped uplink; the recipient, a filing client, on its own unshaped link), and SMTP by a minimal
// client through the same uplink to the test sink, as Thunderbird sends after the hold. Rows:
//   smtp       without the add-on: SMTP only (until the sink's 250 after DATA)
//   before     the add-on as it was: the upload is always tried; when it does not end in the hold, SMTP after it
//   hold 8 s   the add-on now, default hold, upload rate learned (a 1 MB upload first)
//   hold 20 s  the same with the longest hold the options allow
// With the add-on the wait is deliver() (send-flow gives it the hold less 100 ms) plus SMTP when it did not prove
// delivery ("filed"); building the MIME (the same with and without the add-on) is not counted.
//   node --expose-gc scripts/run-ts.mjs bench/slow-link.ts [repetitions] [largest size in bytes]
import { connect } from "node:net";
import { DEFAULT_UPLOAD_RATE_POLICY, UploadEstimator } from "../src/core/upload-estimate.js";
import { MailSender } from "../src/xmpp/mail-sender.js";
import { realScheduler } from "../src/xmpp/runtime.js";
import { mailOfSize, startFilingPeer } from "../tests/support/filing-peer.js";
import { ourSession, quietLog, whenOnline } from "../tests/support/mail-fixtures.js";
import { startServer } from "../tests/support/servers.js";
import { ShapedLink, startShapedHttpRelay, startShapedTcpRelay, startShapedWsRelay } from "../tests/support/shaped-relay.js";
import { startSmtpSink } from "../tests/support/smtp.js";
import "../tests/support/websocket-global.js";

const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const reps = numbers[0] ?? 2;
/** Second argument: the largest size to run, in bytes (default all). */
const SIZES: Array<[string, number]> = (
  [
    ["10 KB", 10_000],
    ["1 MB", 1_000_000],
    ["10 MB", 10_000_000],
    ["25 MB", 25_000_000],
  ] as Array<[string, number]>
).filter(([, size]) => size <= (numbers[1] ?? Number.POSITIVE_INFINITY));
const UP = 1_250_000;
const link = new ShapedLink({ upBytesPerSecond: UP, oneWayDelayMs: 25 });

/** One SMTP transaction through `port`; resolves with the ms until the server's answer to the end of DATA. */
async function smtpSend(port: number, raw: Uint8Array): Promise<number> {
  const t0 = performance.now();
  const socket = connect(port, "127.0.0.1");
  let buffer = "";
  const waiters: Array<(line: string) => void> = [];
  const lines: string[] = [];
  socket.on("data", (d: Buffer) => {
    buffer += d.toString("latin1");
    let i: number;
    while ((i = buffer.indexOf("\r\n")) >= 0) {
      const line = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      if (/^\d{3} /.test(line)) (waiters.shift() ?? ((l: string) => lines.push(l)))(line);
    }
  });
  const reply = (): Promise<string> => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiters.push(r)));
  const expectCode = async (code: string) => {
    const line = await reply();
    if (!line.startsWith(code)) throw new Error(`SMTP: expected ${code}, got ${line}`);
  };
  await expectCode("220");
  for (const [cmd, code] of [["EHLO bench.test", "250"], ["MAIL FROM:<bob@localhost>", "250"], ["RCPT TO:<alice@localhost>", "250"], ["DATA", "354"]] as const) {
    socket.write(`${cmd}\r\n`);
    await expectCode(code);
  }
  // Dot-stuffing (the bench's mails have no line starting with "."; kept for correctness).
  const text = Buffer.from(raw).toString("latin1").replace(/\r\n\./g, "\r\n..");
  socket.write(Buffer.from(text, "latin1"));
  socket.write("\r\n.\r\n");
  await expectCode("250");
  const ms = performance.now() - t0;
  socket.end("QUIT\r\n");
  return ms;
}

const server = await startServer("prosody", { users: [{ user: "alice", password: "pw-a" }, { user: "bob", password: "pw-b" }], upload: true, uploadSizeLimit: 64 * 1024 * 1024 });
const sink = await startSmtpSink();
const ws = await startShapedWsRelay(server.wsUrl, link);
const http = await startShapedHttpRelay(link);
const smtp = await startShapedTcpRelay("127.0.0.1", sink.port, link);
try {
  const bob = ourSession(server, "bob", "pw-b", "send", quietLog, { websocketUrl: ws.url });
  bob.start();
  await whenOnline(bob);
  const alice = await startFilingPeer(server, "alice", "pw-a");
  const make = (estimator: UploadEstimator) => {
    const s = new MailSender({ session: bob, log: quietLog, scheduler: realScheduler, fetchFn: http.fetchFn, uploadEstimator: estimator });
    s.start();
    return s;
  };
  // "before": an estimator that never learns and always says the upload fits (the old behaviour).
  const before = make(new UploadEstimator({ ...DEFAULT_UPLOAD_RATE_POLICY, defaultBytesPerSecond: 1e12, maxBytesPerSecond: 1e12, minSampleBytes: Number.POSITIVE_INFINITY }));
  const cold = new UploadEstimator();
  const coldDecisions = SIZES.map(([label, size]) => `${label}: ${UploadEstimator.fits(cold.estimateMs(size, performance.now()), 7_900) ? "upload" : "SMTP"} at 8 s, ${UploadEstimator.fits(cold.estimateMs(size, performance.now()), 19_900) ? "upload" : "SMTP"} at 20 s`);
  const estimator8 = new UploadEstimator();
  const estimator20 = new UploadEstimator();
  const now = make(estimator8);
  const now20 = make(estimator20);
  for (const s of [now, now20]) {
    const warm = await s.deliver({ to: "alice@localhost", raw: mailOfSize(1_000_000), subject: "warm-up", fallbackBody: "x" }, 19_900);
    if (warm.status !== "filed") throw new Error(`warm-up upload: ${JSON.stringify(warm)}`);
  }

  const results = new Map<string, number[]>();
  const routes = new Map<string, Set<string>>();
  const note = (key: string, ms: number, route: string) => {
    results.set(key, [...(results.get(key) ?? []), ms]);
    routes.set(key, (routes.get(key) ?? new Set()).add(route));
  };
  const withAddon = async (sender: MailSender, raw: Uint8Array, holdMs: number): Promise<[number, string]> => {
    const t0 = performance.now();
    const outcome = await sender.deliver({ to: "alice@localhost", raw, subject: "bench", fallbackBody: "x" }, holdMs - 100);
    const held = performance.now() - t0;
    if (outcome.status === "filed") return [held, `XMPP (${outcome.route})`];
    const route =
      outcome.status === "failed" && /in time/.test(outcome.reason) ? "SMTP at once" : `SMTP after ${outcome.status}${outcome.status === "failed" ? ` (${outcome.reason.slice(0, 80)})` : ""}`;
    return [held + (await smtpSend(smtp.port, raw)), route];
  };
  for (let r = 0; r < reps; r++) {
    for (const [label, size] of SIZES) {
      const raw = mailOfSize(size);
      note(`${label}|smtp`, await smtpSend(smtp.port, raw), "SMTP");
      const rows: Array<[string, MailSender, number]> = [["before", before, 8_000], ["hold 8 s", now, 8_000], ["hold 20 s", now20, 20_000]];
      for (const [name, sender, hold] of rows) {
        const [ms, route] = await withAddon(sender, raw, hold);
        note(`${label}|${name}`, ms, route);
      }
      (globalThis as { gc?: () => void }).gc?.();
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`shaped link: ${(UP * 8) / 1e6} Mbit/s up, RTT ${2 * link.options.oneWayDelayMs} ms (userspace relays); Prosody; ${reps} repetition(s), median (min–max) in s`);
  console.log(`cold estimator (nothing learned, ${DEFAULT_UPLOAD_RATE_POLICY.defaultBytesPerSecond / 1000} kB/s assumed): ${coldDecisions.join("; ")}`);
  const kbps = (e: UploadEstimator) => Math.round(e.rate(performance.now()).bytesPerSecond / 1000);
  console.log(`rates learned by the end: hold 8 s ${kbps(estimator8)} kB/s, hold 20 s ${kbps(estimator20)} kB/s (link: ${UP / 1000} kB/s)`);
  console.log("| mail | without add-on (SMTP) | add-on before (upload always tried) | add-on, hold 8 s | add-on, hold 20 s |");
  console.log("|---|---|---|---|---|");
  for (const [label] of SIZES) {
    const cell = (k: string) => {
      const xs = results.get(`${label}|${k}`) ?? [];
      const s = (x: number) => (x / 1000).toFixed(2);
      return `${s(med(xs))} (${s(Math.min(...xs))}–${s(Math.max(...xs))}) ${[...(routes.get(`${label}|${k}`) ?? [])].join("/")}`;
    };
    console.log(`| ${label} | ${cell("smtp")} | ${cell("before")} | ${cell("hold 8 s")} | ${cell("hold 20 s")} |`);
  }
  await alice.stop();
  await bob.stop();
} finally {
  await ws.close();
  await http.close();
  await smtp.close();
  await sink.stop();
  await server.cleanup();
}
