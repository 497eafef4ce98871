// Login and reconnect benchmark on a private loopback Prosody.
//   node scripts/run-ts.mjs bench/login.ts [rounds]
// Compares our session's SCRAM login (password → one-call PBKDF2; stored keys → no PBKDF2) with the stock
// xmpp.js client (its Node build's SCRAM-SHA-1, one WebCrypto call per PBKDF2 round), and measures reconnect
// after a server restart. Reports medians and ratios.
import { client as stockClient } from "@xmpp/client";
import { silentLogger } from "../src/core/log.js";
import type { SessionStatus } from "../src/core/status.js";
import { realScheduler, webCryptoSha1 } from "../src/xmpp/runtime.js";
import { deriveKeys, type ScramKeys } from "../src/xmpp/scram.js";
import { XmppSession, type StoredCredentials } from "../src/xmpp/session.js";
import { startProsody, type ProsodyServer } from "../tests/support/prosody.js";
import "../tests/support/websocket-global.js";

const rounds = Number(process.argv[2] ?? 15);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

function session(server: ProsodyServer, creds: StoredCredentials, saved: ScramKeys[] = [], productionBackoff = false) {
  return new XmppSession(
    { jid: `alice@${server.domain}`, websocketUrl: server.wsUrl, resource: "bench" },
    {
      scheduler: realScheduler,
      random: Math.random,
      sha1: webCryptoSha1,
      log: silentLogger,
      ...(productionBackoff ? {} : { backoff: { baseMs: 200, capMs: 2_000, factor: 2 } }),
      credentials: { load: async () => creds, saveKeys: async (k) => void saved.push(k) },
    },
  );
}

function until(s: XmppSession, pred: (st: SessionStatus) => boolean, ms = 20_000): Promise<void> {
  if (pred(s.status)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timeout; status ${JSON.stringify(s.status)}`)), ms);
    const off = s.onStatus((st) => {
      if (pred(st)) {
        clearTimeout(t);
        off();
        resolve();
      }
    });
  });
}
const online = (st: SessionStatus) => st.state === "online";

async function timeLogin(make: () => XmppSession): Promise<number> {
  const s = make();
  const t0 = performance.now();
  s.start();
  await until(s, online);
  const ms = performance.now() - t0;
  await s.stop();
  return ms;
}

const server = await startProsody({ users: [{ user: "alice", password: "bench-pw" }] });
try {
  const saved: ScramKeys[] = [];
  await timeLogin(() => session(server, { password: "bench-pw" }, saved)); // warm-up; yields the keys
  const keys = saved[0]!;

  const withPassword: number[] = [];
  const withKeys: number[] = [];
  const stock: number[] = [];
  const pbkdf2: number[] = [];
  for (let i = 0; i < rounds; i++) {
    withPassword.push(await timeLogin(() => session(server, { password: "bench-pw" })));
    withKeys.push(await timeLogin(() => session(server, { keys })));
    const t = performance.now();
    await deriveKeys(keys.mechanism, "bench-pw", keys.salt, keys.iterations);
    pbkdf2.push(performance.now() - t);
  }
  for (let i = 0; i < Math.min(rounds, 5); i++) {
    const xmpp = stockClient({ service: server.wsUrl, domain: server.domain, username: "alice", password: "bench-pw", resource: "stock" });
    xmpp.on("error", () => {});
    const t0 = performance.now();
    await xmpp.start();
    stock.push(performance.now() - t0);
    await xmpp.stop();
  }

  // Reconnect after a server restart, with the add-on's real backoff (first retry after 0.5–1 s, jittered):
  // from "server accepting again" to "online" (stream management enabled).
  const reconnect: number[] = [];
  const s = session(server, { keys }, [], true);
  s.start();
  await until(s, online);
  for (let i = 0; i < Math.min(rounds, 5); i++) {
    await server.restart();
    const back = performance.now();
    await until(s, (st) => st.state !== "online", 5_000).catch(() => {});
    await until(s, online);
    reconnect.push(performance.now() - back);
  }
  await s.stop();

  const row = (label: string, xs: number[]) =>
    console.log(`${label.padEnd(58)} median ${median(xs).toFixed(1).padStart(7)} ms  (n=${xs.length}, min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`);
  console.log(`Prosody on loopback, ${keys.mechanism}, ${keys.iterations} PBKDF2 iterations`);
  row("PBKDF2 alone, one deriveBits call", pbkdf2);
  row("our login, password (derive once)  → online", withPassword);
  row("our login, stored salted keys      → online", withKeys);
  row("stock xmpp.js client (round-by-round PBKDF2) → online", stock);
  row("reconnect after server restart (server back → online)", reconnect);
  console.log(`ratio stock / ours(password): ${(median(stock) / median(withPassword)).toFixed(1)}x`);
  console.log(`ratio stock / ours(keys):     ${(median(stock) / median(withKeys)).toFixed(1)}x`);
} finally {
  await server.cleanup();
}
