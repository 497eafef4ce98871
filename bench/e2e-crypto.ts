// The CPU cost of end-to-end encryption (issue 15 step 1, src/core/e2e), in Node, no servers:
//   node --expose-gc scripts/run-ts.mjs bench/e2e-crypto.ts [--quick]
// For a 10 KB and a 10 MB mail, seal and open timed apart, N rounds (10 KB: 200, 10 MB: 30; --quick: 50 and 3),
// every variant once per round in rotated order (so a shared machine's load falls on all alike), medians (10 MB runs
// start with a forced collection; 10 KB runs do not):
//   v0 inline    what version 0 does for an inline mail: SHA-256 at the sender, SHA-256 at the receiver
//   v0 upload    payload-crypto sealPayload + openPayload (AES-256-GCM + SHA-256), as an uploaded mail today
//   v1 inline    sealEnvelope + openEnvelope over the whole mail, for 1 and for 3 recipient devices
//   v1 upload    v0 upload + an envelope over the 76-octet key block, for 1 and 3 recipient devices
// base64, the network and the upload are the same for v0 and v1 and are left out. Also: making a device's keys and
// checking a peer's published keys.
import { sha256Base64, openPayload, sealPayload, type SealedPayload } from "../src/core/payload-crypto.js";
import { decodeExternalKeys, encodeExternalKeys, openEnvelope, sealEnvelope, type Envelope } from "../src/core/e2e/envelope.js";
import { generateDeviceKeys, parseDevicePublicKeys, type DeviceKeyPair, type DeviceKeys } from "../src/core/e2e/keys.js";

const quick = process.argv.includes("--quick");
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One way of sealing at the sender and opening at the receiver; what seal returns is what open gets. */
interface Variant {
  readonly name: string;
  readonly seal: () => Promise<unknown>;
  readonly open: (sealed: never) => Promise<unknown>;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Runs every variant once per round, the order rotated from round to round, so that the load of a shared machine
 * falls on all of them alike. Seal and open are timed apart with a macrotask between them (in reality a network is
 * between them; opening right after sealing, with the data still in the CPU's caches, measured up to 8× faster for
 * 10 MB and favoured whichever variant did nothing in between). Returns each variant's median seal, open and total.
 */
async function compare(runs: number, variants: readonly Variant[], collect = false): Promise<{ name: string; seal: number; open: number; total: number; best: number }[]> {
  for (const v of variants) await v.open((await v.seal()) as never); // warm-up
  const samples = variants.map(() => ({ seal: [] as number[], open: [] as number[], total: [] as number[] }));
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (round + k) % variants.length;
      if (collect) gc();
      await tick();
      const t0 = performance.now();
      const sealed = await variants[i]!.seal();
      const t1 = performance.now();
      await tick();
      const t2 = performance.now();
      await variants[i]!.open(sealed as never);
      const t3 = performance.now();
      samples[i]!.seal.push(t1 - t0);
      samples[i]!.open.push(t3 - t2);
      samples[i]!.total.push(t1 - t0 + t3 - t2);
    }
  }
  return variants.map((v, i) => ({
    name: v.name,
    seal: median(samples[i]!.seal),
    open: median(samples[i]!.open),
    total: median(samples[i]!.total),
    best: Math.min(...samples[i]!.total),
  }));
}

const sender = await generateDeviceKeys();
const senderKeys = await parseDevicePublicKeys(sender.public);
const receivers: { pair: DeviceKeyPair; keys: DeviceKeys }[] = [];
for (let i = 0; i < 3; i++) {
  const pair = await generateDeviceKeys();
  receivers.push({ pair, keys: await parseDevicePublicKeys(pair.public) });
}
const NOW = Date.now();
const stanza = { from: "alice@example.org", to: "bob@example.org", originId: "bench-1" };

const sealV1 = (payload: Uint8Array, devices: number, kind: "inline" | "external") =>
  sealEnvelope({ payload, kind, ...stanza, now: NOW, sender, recipientDevices: receivers.slice(0, devices).map((r) => r.keys), senderDevices: [] });
const openV1 = (e: Envelope) =>
  openEnvelope(e, { me: receivers[0]!.pair, myJid: stanza.to, stanza, senderDevices: [senderKeys], now: NOW, maxPlainBytes: 32 << 20 });

const keyRows = await compare(quick ? 10 : 50, [
  { name: "keygen", seal: generateDeviceKeys, open: async () => undefined },
  { name: "parse", seal: () => parseDevicePublicKeys(sender.public), open: async () => undefined },
]);
const [keygen, parse] = keyRows.map((row) => row.seal) as [number, number];
console.log(`key generation (one device, 2 key pairs): ${keygen.toFixed(2)} ms; parse + import a peer's published keys: ${parse.toFixed(2)} ms (medians)`);

for (const [label, size, runs] of [["10 KB", 10_000, quick ? 50 : 200], ["10 MB", 10_000_000, quick ? 3 : 30]] as const) {
  const chunk = globalThis.crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
  const mail = new Uint8Array(size);
  for (let o = 0; o < size; o += chunk.length) mail.set(chunk.subarray(0, Math.min(chunk.length, size - o)), o);
  const variants: Variant[] = [
    {
      name: "v0 inline (SHA-256 ×2)",
      seal: () => sha256Base64(mail),
      open: async (h: string) => {
        if ((await sha256Base64(mail)) !== h) throw new Error("hash");
      },
    },
    { name: "v0 upload (payload-crypto)", seal: () => sealPayload(mail), open: (s: SealedPayload) => openPayload(s.ciphertext, s, 32 << 20) },
    ...[1, 3].map((devices): Variant => ({
      name: `v1 inline, ${devices} device${devices > 1 ? "s" : ""}`,
      seal: () => sealV1(mail, devices, "inline"),
      open: openV1,
    })),
    ...[1, 3].map((devices): Variant => ({
      name: `v1 upload, ${devices} device${devices > 1 ? "s" : ""}`,
      seal: async () => {
        const s = await sealPayload(mail);
        return { ciphertext: s.ciphertext, envelope: await sealV1(encodeExternalKeys(s), devices, "external") };
      },
      open: async (x: { ciphertext: Uint8Array; envelope: Envelope }) => {
        const opened = await openV1(x.envelope);
        await openPayload(x.ciphertext, decodeExternalKeys(opened.payload), 32 << 20);
      },
    })),
  ];
  // A full collection before each run only for 10 MB (so earlier runs' buffers do not pile up): forced before a
  // 10 KB run it doubled the seal time, which a real send never pays.
  const rows = await compare(runs, variants, size > 1_000_000);
  console.log(`\n${label} mail, ${runs} rounds, medians (best total):`);
  console.log(`  ${"".padEnd(28)} ${"seal".padStart(9)} ${"open".padStart(9)} ${"total".padStart(9)}   best`);
  for (const r of rows) {
    console.log(`  ${r.name.padEnd(28)} ${r.seal.toFixed(2).padStart(9)} ${r.open.toFixed(2).padStart(9)} ${r.total.toFixed(2).padStart(9)}   ${r.best.toFixed(2)} ms`);
  }
}
