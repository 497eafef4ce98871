// The user's wait, Send → compose window closed, in real Thunderbirds on a link shaped like a home connection
// (10 Mbit/s up, 25 ms each way; tests/support/shaped-stage.ts), for 10 KB, 1 MB, 10 MB and 25 MB attachments:
//   with the add-on     alice's Thunderbird with the add-on, online, to bob who takes mail over XMPP (a Node engine);
//   without the add-on  a second Thunderbird, no add-on, the same mail to the same address by SMTP.
// Both send through the same shaped uplink (WebSocket, upload PUT and SMTP), in turn, never at the same time.
// (bench/slow-link.ts measures the Node engine alone, including the add-on as it was before the upload estimate.)
//   npm run build && node scripts/run-ts.mjs bench/slow-link-tb.ts [repetitions] [largest size in bytes]
import { e2eSkipReason } from "../tests/support/e2e-env.js";
import { waitFor } from "../tests/support/mail-fixtures.js";
import { HOME_LINK, startShapedStage } from "../tests/support/shaped-stage.js";
import "../tests/support/websocket-global.js";

const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const reps = numbers[0] ?? 2;
const SIZES: Array<[string, number]> = (
  [
    ["10 KB", 10_000],
    ["1 MB", 1_000_000],
    ["10 MB", 10_000_000],
    ["25 MB", 25_000_000],
  ] as Array<[string, number]>
).filter(([, size]) => size <= (numbers[1] ?? Number.POSITIVE_INFINITY));

const why = e2eSkipReason();
if (why) {
  console.error(`bench cannot run: ${why}`);
  process.exit(2);
}

const stage = await startShapedStage("prosody");
try {
  const withAddon = await stage.launchSender({ addon: true });
  const without = await stage.launchSender({ addon: false });
  const bob = stage.jidOf("bob");
  const results = new Map<string, number[]>();
  const routes = new Map<string, Set<string>>();
  const note = (key: string, ms: number, route: string) => {
    results.set(key, [...(results.get(key) ?? []), ms]);
    routes.set(key, (routes.get(key) ?? new Set()).add(route));
  };
  for (let r = 0; r < reps; r++) {
    for (const [label, size] of SIZES) {
      const plain = await stage.sendAndWait(without, { to: bob, subject: `without ${label} ${r}`, attachmentBytes: size });
      note(`${label}|without`, plain.ms, plain.route === "smtp" ? "SMTP" : "XMPP");
      const subject = `with ${label} ${r}`;
      const sent = await stage.sendAndWait(withAddon, { to: bob, subject, attachmentBytes: size });
      if (sent.route === "xmpp") await waitFor(() => stage.bob.filed.some((m) => m.subject === subject), 30_000, "filed at bob");
      note(`${label}|with`, sent.ms, sent.route === "xmpp" ? "XMPP" : "SMTP");
      console.log(`${label} run ${r + 1}: without ${(plain.ms / 1000).toFixed(2)} s, with ${(sent.ms / 1000).toFixed(2)} s (${sent.route}; Send held ${Math.round(sent.heldMs ?? 0)} ms)`);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const s = (x: number) => (x / 1000).toFixed(2);
  console.log(`shaped link: ${(HOME_LINK.upBytesPerSecond * 8) / 1e6} Mbit/s up, RTT ${2 * HOME_LINK.oneWayDelayMs} ms; Prosody; Thunderbird 153; ${reps} repetition(s); Send → window closed, median (min–max) in s`);
  console.log("| attachment | without the add-on (SMTP) | with the add-on | with / without |");
  console.log("|---|---|---|---|");
  for (const [label] of SIZES) {
    const a = results.get(`${label}|without`) ?? [];
    const b = results.get(`${label}|with`) ?? [];
    const cell = (xs: number[], k: string) => `${s(med(xs))} (${s(Math.min(...xs))}–${s(Math.max(...xs))}) ${[...(routes.get(`${label}|${k}`) ?? [])].join(", ")}`;
    console.log(`| ${label} | ${cell(a, "without")} | ${cell(b, "with")} | ${(med(b) / med(a)).toFixed(2)} |`);
  }
} finally {
  await stage.stop();
}
