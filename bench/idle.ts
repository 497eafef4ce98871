// Idle footprint of the engine the background page runs (session with stream management, receiver, sender,
// capability published) on a real Prosody: timer wake-ups and stanzas per minute while nothing happens, and heap.
//   node --expose-gc scripts/run-ts.mjs bench/idle.ts [seconds]      (default 150; the issue asks for 1 h: 3600)
import { publishCapability } from "../src/xmpp/capability.js";
import { MailReceiver } from "../src/xmpp/receiver.js";
import { MailSender } from "../src/xmpp/mail-sender.js";
import { realScheduler } from "../src/xmpp/runtime.js";
import { ourSession, quietLog, whenOnline } from "../tests/support/mail-fixtures.js";
import { startProsody } from "../tests/support/prosody.js";
import "../tests/support/websocket-global.js";

const seconds = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 150);
const gc = (globalThis as { gc?: () => void }).gc;

const server = await startProsody({ users: [{ user: "alice", password: "pw" }] });
try {
  const alice = ourSession(server, "alice", "pw", "idle");
  const memory = new Map<string, unknown>();
  new MailReceiver({
    session: alice,
    sink: { file: async () => {} },
    directory: { confirmedJids: async () => [], addressBookJids: async () => [], isKnown: async () => false },
    store: { get: async (k) => memory.get(k), set: async (k, v) => void memory.set(k, v) },
    log: quietLog,
  }).start();
  new MailSender({ session: alice, log: quietLog, scheduler: realScheduler }).start();
  alice.start();
  await whenOnline(alice);
  await publishCapability(alice, new Date());
  await new Promise((r) => setTimeout(r, 2_000)); // let the login's follow-ups settle

  // Count every timer callback that fires from now on (the engine's and the client library's), and stanzas sent.
  // A wake-up is the process leaving idle: timer callbacks within 10 ms of the previous one are the same wake-up
  // (the keep-alive ping's timer, then the stream-management ack request it triggers with a 0 ms timer).
  let callbacks = 0;
  let wakeups = 0;
  let last = -Infinity;
  const fired = () => {
    callbacks++;
    const now = performance.now();
    if (now - last > 10) wakeups++;
    last = now;
  };
  const realSetTimeout = globalThis.setTimeout;
  const realSetInterval = globalThis.setInterval;
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) =>
    realSetTimeout((...a: unknown[]) => {
      fired();
      fn(...a);
    }, ms, ...args)) as typeof setTimeout;
  globalThis.setInterval = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) =>
    realSetInterval((...a: unknown[]) => {
      fired();
      fn(...a);
    }, ms, ...args)) as typeof setInterval;
  let outgoing = 0;
  alice.onStanza(() => {});
  const send = alice.send.bind(alice);
  alice.send = ((...a: Parameters<typeof send>) => {
    outgoing++;
    return send(...a);
  }) as typeof alice.send;

  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  await new Promise<void>((resolve) => realSetTimeout(resolve, seconds * 1000));
  const minutes = (performance.now() - t0) / 60_000;
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  globalThis.setTimeout = realSetTimeout;
  globalThis.setInterval = realSetInterval;
  console.log(`machine: ${process.platform} ${process.arch}, node ${process.version}, ${new Date().toISOString()}; idle ${seconds} s${gc ? "" : " (run with --expose-gc for exact heap)"}`);
  console.log(`wake-ups while idle: ${wakeups} = ${(wakeups / minutes).toFixed(2)} per minute (${callbacks} timer callbacks); stanzas sent through the session API: ${outgoing}`);
  console.log(`heap: ${(heapBefore / 1e6).toFixed(2)} → ${(heapAfter / 1e6).toFixed(2)} MB; session state at the end: ${alice.status.state}`);
  await alice.stop();
} finally {
  await server.cleanup();
}
