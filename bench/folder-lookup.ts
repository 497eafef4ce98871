// Cost of the receive path's folder lookup (src/platform/mail-folder.ts: before each import, messages.query by
// folderId + headerMessageId, to file a mail once even across a crash) as the add-on's folder grows, in a real
// Thunderbird 153. Fills one Local Folders folder in steps and times the query for a present and an absent Message-ID.
//   npm run build && node scripts/run-ts.mjs bench/folder-lookup.ts [sizes…]      (default 500 2000 5000)
import { e2eSkipReason } from "../tests/support/e2e-env.js";
import { startSmtpSink } from "../tests/support/smtp.js";
import { launchThunderbird } from "../tests/support/thunderbird.js";

const sizes = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
if (sizes.length === 0) sizes.push(500, 2_000, 5_000);
const why = e2eSkipReason();
if (why) {
  console.error(`bench cannot run: ${why}`);
  process.exit(2);
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

const sink = await startSmtpSink();
const tb = await launchThunderbird({ smtpPort: sink.port });
try {
  let filled = 0;
  for (const size of sizes) {
    const r = (await tb.helper.command("bulkImport", { folder: "Mail over XMPP", from: filled, count: size - filled }, 600_000)) as { folderId: string; ms: number };
    console.log(`filled ${filled} → ${size} mails in ${r.ms} ms`);
    filled = size;
    for (const [label, ids] of [
      ["present", [`bulk-${Math.floor(size / 2)}@bench.invalid`, `bulk-${size - 1}@bench.invalid`]],
      ["absent", ["not-there@bench.invalid"]],
    ] as const) {
      const t = (await tb.helper.command("timeLookup", { folderId: r.folderId, ids, n: 20 }, 120_000)) as { times: number[]; hits: number };
      console.log(`[measure] folder of ${size} mails, lookup ${label}: p50 ${pct(t.times, 0.5).toFixed(1)} ms, p95 ${pct(t.times, 0.95).toFixed(1)} ms (hits ${t.hits}/20)`);
    }
  }
} finally {
  await tb.quit();
  await sink.stop();
}
