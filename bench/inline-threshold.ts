// How big may an inline mail stanza be? Measures send → server ack and send → peer receipt for growing stanza sizes
// on a Prosody with its default c2s rate limit (mod_limits 10 kB/s, 2 s burst) and without it.
//   node scripts/run-ts.mjs bench/inline-threshold.ts
import { client as stockClient, xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { silentLogger } from "../src/core/log.js";
import type { SessionStatus } from "../src/core/status.js";
import { realScheduler, webCryptoSha1 } from "../src/xmpp/runtime.js";
import { XmppSession } from "../src/xmpp/session.js";
import { startProsody } from "../tests/support/prosody.js";
import "../tests/support/websocket-global.js";

const SIZES_KIB = [4, 8, 16, 24, 32, 48, 64, 128, 200];

async function measure(rateLimit: string | false) {
  const server = await startProsody({
    users: [
      { user: "alice", password: "pw-a" },
      { user: "bob", password: "pw-b" },
    ],
    rateLimit,
  });
  const rows: string[] = [];
  try {
    const bob = stockClient({ service: server.wsUrl, domain: server.domain, username: "bob", password: "pw-b", resource: "r" });
    bob.on("error", () => {});
    const arrivals = new Map<string, number>();
    bob.on("stanza", (s: Element) => {
      if (s.is("message") && s.attrs.id) arrivals.set(s.attrs.id, performance.now());
    });
    await bob.start();
    await bob.send(xml("presence"));
    for (const kib of SIZES_KIB) {
      // Fresh sender per size: each starts with a full rate-limit burst allowance, as a new mail would after idle.
      const alice = new XmppSession(
        { jid: "alice@localhost", websocketUrl: server.wsUrl, resource: `b${kib}` },
        {
          scheduler: realScheduler,
          random: Math.random,
          sha1: webCryptoSha1,
          log: silentLogger,
          credentials: { load: async () => ({ password: "pw-a" }), saveKeys: async () => {} },
        },
      );
      alice.start();
      await new Promise<void>((resolve) => {
        const off = alice.onStatus((s: SessionStatus) => {
          if (s.state === "online") {
            off();
            resolve();
          }
        });
      });
      await new Promise((r) => setTimeout(r, 2_500)); // let the login's traffic drain from the bucket
      const id = `m${kib}`;
      const payload = "A".repeat(kib * 1024);
      const t0 = performance.now();
      const outcome = await alice.send(xml("message", { to: "bob@localhost/r", id, type: "normal" }, xml("body", {}, payload)), 60_000);
      const acked = performance.now() - t0;
      while (!arrivals.has(id) && performance.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 5));
      const arrived = (arrivals.get(id) ?? Number.NaN) - t0;
      rows.push(`${String(kib).padStart(4)} KiB  ack ${acked.toFixed(0).padStart(6)} ms  at peer ${arrived.toFixed(0).padStart(6)} ms  (${outcome.status})`);
      await alice.stop();
    }
    await bob.stop();
  } finally {
    await server.cleanup();
  }
  console.log(`\nProsody c2s rate limit: ${rateLimit || "off"}`);
  for (const r of rows) console.log(r);
}

await measure("10kb/s");
await measure(false);
