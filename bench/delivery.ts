// Delivery benchmarks against the physical limit of the same server, side by side in one run (real Prosody on
// loopback, the add-on's own engines at both ends):
//   1. a 10 KB mail, send → "filed" receipt, vs. an XMPP ping round trip (XEP-0199) to the recipient's client; the
//      same mail also sent inline (what it would cost on a server without Prosody's default c2s rate limit, which is
//      why the add-on sends stanzas over 12 KiB through the upload service instead);
//   2. 1 MB and 10 MB mails over the upload path (encrypt, XEP-0363 slot, PUT, stanza, recipient downloads, decrypts,
//      files, receipt) vs. a raw HTTP upload of the same bytes (slot + PUT), and vs. the least any store-and-forward
//      transfer needs (slot + PUT + the recipient's GET of the same bytes);
//   3. throughput: N mails from one session to two recipients (mails/s, memory before/after).
//   npm run build is not needed.  node scripts/run-ts.mjs bench/delivery.ts [rounds] [throughputMails]
// MOX_BENCH_LINK=home: the sender (alice) on a link shaped like a home connection (10 Mbit/s up, 50 ms round trip;
// tests/support/shaped-relay.ts): her WebSocket through a shaped relay, and every upload URL the server hands out on a
// relay in front of its HTTP port (her PUT paced up, the recipients' GET delayed). The recipients stay on loopback.
import { xml } from "@xmpp/client";
import { buildMessage, newMessageId } from "../src/core/mime/build.js";
import type { OutgoingMail } from "../src/core/mime/compose-input.js";
import { createLogger } from "../src/core/log.js";
import { MailSender } from "../src/xmpp/mail-sender.js";
import { fallbackBody } from "../src/xmpp/mail-stanza.js";
import { realScheduler } from "../src/xmpp/runtime.js";
import { discoverUploadService, requestSlot, uploadBytes } from "../src/xmpp/upload.js";
import { ourSession, quietLog, whenOnline } from "../tests/support/mail-fixtures.js";
import { startMailPeer } from "../tests/support/mail-peer.js";
import { startProsody } from "../tests/support/prosody.js";
import { ShapedLink, startShapedHttpRelay, startShapedWsRelay } from "../tests/support/shaped-relay.js";
import { HOME_LINK } from "../tests/support/shaped-stage.js";
import "../tests/support/websocket-global.js";

const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const rounds = numbers[0] ?? 30;
const throughputMails = numbers[1] ?? 1000;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const p50 = (xs: number[]) => quantile(xs, 0.5);
const fmt = (xs: number[]) => `p50 ${p50(xs).toFixed(1)} ms, p99 ${quantile(xs, 0.99).toFixed(1)} ms (n=${xs.length})`;
const filler = (bytes: number) => {
  const line = "The quick brown fox jumps over the lazy dog 0123456789.\r\n";
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
};

// mod_limits off: this measures the engine against the server's own speed (Prosody's default 10 kB/s c2s limit is
// measured separately by bench/inline-threshold.ts).
const shaped = process.env.MOX_BENCH_LINK === "home" ? new ShapedLink(HOME_LINK) : null;
const uploadRelay = shaped ? await startShapedHttpRelay(shaped) : null;
const server = await startProsody({
  users: ["alice", "bob", "carol"].map((u) => ({ user: u, password: `pw-${u}` })),
  httpFileShare: true,
  mam: false,
  ...(uploadRelay ? { uploadUrl: `http://127.0.0.1:${uploadRelay.port}/` } : {}),
});
uploadRelay?.setTarget(server.httpUrl);
const wsRelay = shaped ? await startShapedWsRelay(server.wsUrl, shaped) : null;
if (shaped) console.log(`link: alice on a shaped home link, ${(HOME_LINK.upBytesPerSecond * 8) / 1e6} Mbit/s up, RTT ${2 * HOME_LINK.oneWayDelayMs} ms`);
try {
  const alice = ourSession(server, "alice", "pw-alice", "bench", quietLog, wsRelay ? { websocketUrl: wsRelay.url } : {});
  alice.start();
  await whenOnline(alice);
  // MOX_BENCH_LOG=1: the recipients' warnings and errors (why a download failed) on stderr.
  const peerLog = process.env.MOX_BENCH_LOG ? createLogger((level, line) => console.error(`[${level}] ${line}`), () => "warn") : undefined;
  const bob = await startMailPeer(server, "bob", "pw-bob", peerLog ? { log: peerLog } : {});
  const carol = await startMailPeer(server, "carol", "pw-carol");
  const sender = new MailSender({ session: alice, log: quietLog, scheduler: realScheduler });
  sender.start();
  // The same engine with inline stanzas up to 64 KiB (for comparison only; the add-on's limit is 12 KiB).
  const inlineSender = new MailSender({ session: alice, log: quietLog, scheduler: realScheduler, sizePolicy: { inlineMaxBytes: 64 * 1024, inlineFallbackMaxBytes: 64 * 1024 } });
  inlineSender.start();

  const mail = (to: string, subject: string, text: string): OutgoingMail => ({
    from: "Alice <alice@localhost>",
    to: [to],
    cc: [],
    bcc: [],
    replyTo: [],
    subject,
    text,
    isPlainText: true,
    attachments: [],
  });
  const deliver = async (to: string, text: string, tag: string, via: MailSender = sender) => {
    const m = mail(`${to}@localhost`, tag, text);
    const t0 = performance.now();
    const raw = buildMessage(m, { date: new Date(), messageId: newMessageId("localhost") });
    const built = performance.now() - t0;
    const outcome = await via.deliver({ to: `${to}@localhost`, raw, subject: tag, fallbackBody: fallbackBody({ from: m.from, to: m.to, subject: tag, text: text.slice(0, 200), attachmentNames: [] }) }, 120_000);
    if (outcome.status !== "filed") throw new Error(`${tag}: ${JSON.stringify(outcome)}`);
    return { total: performance.now() - t0, built, route: outcome.route, size: raw.length };
  };

  // 1. 10 KB mail vs ping, interleaved; plus an echo of a message as large as the mail's stanza (the cost of carrying
  // those bytes through this server and both XML parsers, without any mail processing).
  const echoReplies = new Map<string, () => void>();
  bob.session.onStanza((st) => {
    if (st.is("message") && st.attrs.type === "headline" && st.getChild("echo", "urn:mox:bench")) {
      void bob.session.send(xml("message", { to: st.attrs.from, type: "headline", id: `${st.attrs.id}-r` }, xml("echoed", { xmlns: "urn:mox:bench" })), 5_000);
    }
  });
  alice.onStanza((st) => {
    if (st.is("message") && st.getChild("echoed", "urn:mox:bench")) echoReplies.get(String(st.attrs.id).replace(/-r$/, ""))?.();
  });
  const echo = async (bytes: number) => {
    const id = `e${Math.random().toString(36).slice(2)}`;
    const t0 = performance.now();
    const back = new Promise<void>((resolve) => echoReplies.set(id, resolve));
    void alice.send(xml("message", { to: bob.session.jid!, type: "headline", id }, xml("echo", { xmlns: "urn:mox:bench" }, "A".repeat(bytes))), 5_000);
    await back;
    echoReplies.delete(id);
    return performance.now() - t0;
  };
  const ping = async () => {
    const t0 = performance.now();
    await alice.request(xml("iq", { type: "get", to: bob.session.jid! }, xml("ping", { xmlns: "urn:xmpp:ping" })), 10_000);
    return performance.now() - t0;
  };
  for (let i = 0; i < 5; i++) {
    await ping();
    await deliver("bob", filler(10_000), `warm ${i}`);
  }
  const pings: number[] = [];
  const mails: number[] = [];
  const inlineMails: number[] = [];
  const echoes: number[] = [];
  const builds: number[] = [];
  let route10 = "";
  for (let i = 0; i < rounds; i++) {
    pings.push(await ping());
    const r = await deliver("bob", filler(10_000), `10k ${i}`);
    mails.push(r.total);
    builds.push(r.built);
    route10 = `${r.route}, ${r.size} bytes`;
    const inline = await deliver("bob", filler(10_000), `10k inline ${i}`, inlineSender);
    if (inline.route !== "inline") throw new Error("the comparison mail did not go inline");
    inlineMails.push(inline.total);
    echoes.push(await echo(Math.ceil(inline.size / 3) * 4));
  }
  console.log(`machine: ${process.platform} ${process.arch}, node ${process.version}, ${new Date().toISOString()}`);
  console.log(`XMPP ping round trip (alice → bob's client):   ${fmt(pings)}`);
  console.log(`10 KB mail send → filed receipt (${route10}):  ${fmt(mails)}; MIME build p50 ${p50(builds).toFixed(2)} ms`);
  console.log(`ratio mail/ping (p50): ${(p50(mails) / p50(pings)).toFixed(2)}x; (mail - build)/ping: ${((p50(mails) - p50(builds)) / p50(pings)).toFixed(2)}x`);
  console.log(`the same 10 KB mail inline (no rate limit): ${fmt(inlineMails)}; ratio inline/ping ${(p50(inlineMails) / p50(pings)).toFixed(2)}x, (inline - build)/ping ${((p50(inlineMails) - p50(builds)) / p50(pings)).toFixed(2)}x`);
  console.log(`echo of a stanza as large as that mail's (${Math.ceil(10_263 / 3) * 4} bytes of text) and a tiny reply: ${fmt(echoes)}; inline mail / echo ${(p50(inlineMails) / p50(echoes)).toFixed(2)}x, upload-path mail / echo ${(p50(mails) / p50(echoes)).toFixed(2)}x`);

  // 2. 1 MB and 10 MB over the upload path vs a raw upload of the same bytes.
  const service = await discoverUploadService(alice, "localhost", 5_000);
  if (!service) throw new Error("no upload service");
  for (const mb of [1, 10]) {
    const n = mb === 1 ? Math.min(rounds, 10) : Math.min(rounds, 4);
    const text = filler(mb * 1_000_000);
    const viaMail: number[] = [];
    const raw: number[] = [];
    const rawRoundTrip: number[] = [];
    const bigBuilds: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = await deliver("bob", text, `${mb}MB ${i}`);
      viaMail.push(r.total);
      bigBuilds.push(r.built);
      const bytes = new TextEncoder().encode(text);
      const t0 = performance.now();
      const slot = await requestSlot(alice, service, { filename: "raw.bin", size: bytes.length, contentType: "application/octet-stream" }, 30_000);
      await uploadBytes(slot, bytes, 120_000);
      raw.push(performance.now() - t0);
      const got = await (await fetch(slot.getUrl)).arrayBuffer();
      if (got.byteLength !== bytes.length) throw new Error("raw download: wrong size");
      rawRoundTrip.push(performance.now() - t0);
    }
    console.log(
      `${mb} MB mail send → filed (upload path): ${fmt(viaMail)}; raw slot+PUT of the same bytes: ${fmt(raw)}; raw slot+PUT+GET: ${fmt(rawRoundTrip)}; ` +
        `ratio vs PUT ${(p50(viaMail) / p50(raw)).toFixed(2)}x, vs PUT+GET ${(p50(viaMail) / p50(rawRoundTrip)).toFixed(2)}x; ` +
        `MIME build p50 ${p50(bigBuilds).toFixed(1)} ms, without it: vs PUT ${((p50(viaMail) - p50(bigBuilds)) / p50(raw)).toFixed(2)}x, vs PUT+GET ${((p50(viaMail) - p50(bigBuilds)) / p50(rawRoundTrip)).toFixed(2)}x`,
    );
  }

  // 3. Throughput: N mails to two recipients, as fast as the engine takes them (20 in flight: 10 per recipient, each worker to one). A
  // receiver downloads at most 2 external payloads of one sender at once and lets 8 more wait (issue 12, finding 5:
  // src/core/download-slots.ts); more from one sender at once are refused and go by SMTP. 64 in flight, as before that
  // limit, measured the refusals instead of the delivery.
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  const worker = async (to: "bob" | "carol") => {
    while (next < throughputMails) {
      const i = next++;
      await deliver(to, `Mail number ${i}.\r\n`, `tp ${i}`);
      done++;
    }
  };
  await Promise.all(Array.from({ length: 20 }, (_, k) => worker(k % 2 ? "bob" : "carol")));
  const seconds = (performance.now() - t0) / 1000;
  globalThis.gc?.();
  const after = process.memoryUsage().heapUsed;
  console.log(`throughput: ${done} mails to 2 recipients in ${seconds.toFixed(1)} s = ${(done / seconds).toFixed(0)} mails/s; heap ${(before / 1e6).toFixed(1)} → ${(after / 1e6).toFixed(1)} MB; filed: bob ${bob.filed.length}, carol ${carol.filed.length}`);

  await bob.stop();
  await carol.stop();
  await alice.stop();
} finally {
  await wsRelay?.close();
  await uploadRelay?.close();
  await server.cleanup();
}
