// The headline number, as a user feels it: Send in alice's Thunderbird → the mail is in bob's Thunderbird, two real
// Thunderbirds 153 side by side in one run, both ways interleaved (XMPP, SMTP, XMPP, SMTP, …) so that load affects both
// alike. Everything is private and on loopback, started here:
//   XMPP:  alice's add-on → Prosody (as shipped: mod_limits on; mails over 12 KiB by its upload service) → bob's add-on
//          files the mail into his Thunderbird ("mail-filed").
//   SMTP:  alice's Thunderbird SMTP → Postfix (tests/support/postfix.ts) → LMTP → Dovecot (tests/support/dovecot.ts) →
//          bob's Thunderbird, watching its IMAP INBOX with IDLE, lists the mail (found by the helper extension's
//          messages.query, polled back to back).
// Both start at the moment Send was pressed: alice's add-on logs how long it held the Send ("send-held"), for both
// paths (an SMTP-bound Send is held too, for the decision). alice sends the SMTP mails from a second identity that is
// not bound to her JID, so her add-on sends them by SMTP at once, as Thunderbird without the add-on would.
//   npm run build && node --expose-gc scripts/run-ts.mjs bench/headline.ts [n10k] [n1m]     (default 20 and n10k/2)
//   MOX_HEADLINE_LIMITS=off: without the server's shipped rate limit; MOX_HEADLINE_SERVER=ejabberd; MOX_BENCH_VERBOSE=1.
// Needs root (the private Postfix), postfix and dovecot-lmtpd (scripts/setup.sh). Not part of bench:quick or CI.
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import { imapFolderId, IMAP_ACCOUNT_ID, isDovecotLmtpAvailable, startDovecot, thunderbirdImapAccount, type Dovecot } from "../tests/support/dovecot.js";
import { DIST_DIR, e2eSkipReason, E2E_STRANGER_LIMITS } from "../tests/support/e2e-env.js";
import { postfixSkipReason, startPostfix, type Postfix } from "../tests/support/postfix.js";
import { startServer, type ServerKind, type XmppServer } from "../tests/support/servers.js";
import { launchThunderbird, type MoxEvent, type SendArgs, type TB } from "../tests/support/thunderbird.js";

const numbers = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const n10k = numbers[0] ?? 20;
const n1m = numbers[1] ?? Math.max(1, Math.ceil(n10k / 2));
const kind = (process.env.MOX_HEADLINE_SERVER ?? "prosody") as ServerKind;
/** MOX_HEADLINE_LIMITS=off: the XMPP server without its shipped c2s rate limit (Prosody mod_limits, 10 kB/s). */
const shippedLimits = process.env.MOX_HEADLINE_LIMITS !== "off";
const why = e2eSkipReason() ?? postfixSkipReason() ?? (isDovecotLmtpAvailable() ? null : "dovecot-lmtpd not installed (scripts/setup.sh)");
if (why) {
  console.error(`bench cannot run: ${why}`);
  process.exit(2);
}

const DOMAIN = "localhost";
const ALICE = `alice@${DOMAIN}`;
/** alice's second address, not bound to her JID: her add-on sends its mail by SMTP without looking at recipients. */
const ALICE_PLAIN = "alice@mail.test";
const BOB = `bob@${DOMAIN}`;
const IMAP_PASSWORD = "imap-bob";
/** How long one mail may take on either path before the run counts as failed. */
const MAIL_TIMEOUT_MS = 120_000;

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};
const fmt = (xs: number[]) => `p50 ${quantile(xs, 0.5).toFixed(0)} ms, p99 ${quantile(xs, 0.99).toFixed(0)} ms (n=${xs.length})`;
const bare = (id: string) => id.replace(/^<|>$/g, "");
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Found {
  folder: string | null;
  folderAccount: string | null;
}

interface Size {
  readonly label: string;
  readonly n: number;
  readonly content: () => Pick<SendArgs, "body" | "attachments">;
}
const textOf = (bytes: number) => {
  const line = "The quick brown fox jumps over the lazy dog, 0123456789 times.\n";
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
};
const SIZES: Size[] = [
  { label: "10 KB", n: n10k, content: () => ({ body: textOf(10_000) }) },
  // ≈ 1 MB on the wire: 768 KiB of random bytes, base64 in the mail.
  {
    label: "1 MB",
    n: n1m,
    content: () => ({ body: "A file for you.\n", attachments: [{ name: "data.bin", type: "application/octet-stream", base64: randomBytes(768 * 1024).toString("base64") }] }),
  },
];

let imap: Dovecot | null = null;
let mta: Postfix | null = null;
let server: XmppServer | null = null;
const tbs: TB[] = [];
try {
  imap = await startDovecot({ users: { bob: IMAP_PASSWORD }, lmtp: true });
  mta = await startPostfix({ domain: DOMAIN, lmtpPort: imap.lmtpPort! });
  server = await startServer(kind, {
    domain: DOMAIN,
    users: [
      { user: "alice", password: "pw-alice" },
      { user: "bob", password: "pw-bob" },
    ],
    upload: true,
    uploadSizeLimit: 50 * 1024 * 1024,
    shippedLimits,
  });
  const alice = await launchThunderbird({
    addonDir: DIST_DIR,
    smtpPort: mta.port,
    managed: { jid: ALICE, password: "pw-alice", websocketUrl: server.wsUrl, xmppIdentities: ALICE, ...E2E_STRANGER_LIMITS },
    identities: [
      { email: ALICE, fullName: "Alice" },
      { email: ALICE_PLAIN, fullName: "Alice" },
    ],
  });
  tbs.push(alice);
  const imapAccount = thunderbirdImapAccount(imap, { user: "bob", password: IMAP_PASSWORD, email: BOB });
  const bob = await launchThunderbird({
    addonDir: DIST_DIR,
    smtpPort: mta.port,
    managed: { jid: BOB, password: "pw-bob", websocketUrl: server.wsUrl, ...E2E_STRANGER_LIMITS },
    identities: [{ email: BOB, fullName: "Bob" }],
    prepareProfile: imapAccount.prepareProfile,
    extraPrefs: {
      ...imapAccount.extraPrefs,
      // As a user's IMAP account is: logged in at start-up, checking for new mail, IMAP IDLE on (Thunderbird's default).
      "mail.server.server3.login_at_startup": true,
      "mail.server.server3.check_new_mail": true,
      "mail.server.server3.check_time": 10,
      "mail.server.server3.use_idle": true,
    },
  });
  tbs.push(bob);
  await Promise.all(
    [alice, bob].map((tb) => tb.waitForEvent((e) => e.event === "status" && e.state === "online", 60_000)),
  );
  console.log(`both Thunderbirds online; ${kind}, Postfix on :${mta.port}, Dovecot IMAP :${imap.port} LMTP :${imap.lmtpPort}`);

  const eventsOf = (tb: TB, name: string) => tb.events().filter((e) => e.event === name);
  async function nth(tb: TB, name: string, n: number): Promise<MoxEvent> {
    const until = performance.now() + MAIL_TIMEOUT_MS;
    while (eventsOf(tb, name).length < n) {
      if (performance.now() > until) throw new Error(`no ${n}. ${name} event`);
      await sleep(10);
    }
    return eventsOf(tb, name)[n - 1]!;
  }
  /** When Send was pressed in alice's Thunderbird (performance.now() here), from the add-on's send-held event. */
  async function sendPressed(heldBefore: number, wantCancel: boolean): Promise<number> {
    const held = await nth(alice, "send-held", heldBefore + 1);
    if ((held.cancel === true) !== wantCancel) throw new Error(`alice's add-on ${wantCancel ? "did not take" : "took"} the mail: ${JSON.stringify(held)}`);
    return alice.timeOf(held)! - Number(held.ms);
  }

  const pollMs: number[] = [];
  const smtpSubjects: string[] = [];
  const xmppSubjects: string[] = [];

  async function viaXmpp(size: Size, i: number): Promise<number> {
    const heldBefore = eventsOf(alice, "send-held").length;
    const copiesBefore = eventsOf(alice, "sent-copy-filed").length;
    const subject = `headline XMPP ${size.label} ${i} ${Date.now()}`;
    xmppSubjects.push(subject);
    const sent = await alice.helper.send({ to: `Bob <${BOB}>`, from: ALICE, subject, ...size.content() }, MAIL_TIMEOUT_MS).then(
      () => "smtp",
      (error: unknown) => (/aborted/i.test(String(error)) ? "xmpp" : String(error)),
    );
    if (sent !== "xmpp") throw new Error(`"${subject}" did not go over XMPP: ${sent}`);
    const pressed = await sendPressed(heldBefore, true);
    const messageId = bare(String((await nth(alice, "sent-copy-filed", copiesBefore + 1)).messageId));
    const filed = await bob.waitForEvent((e) => e.event === "mail-filed" && bare(String(e.messageId)) === messageId, MAIL_TIMEOUT_MS);
    return bob.timeOf(filed)! - pressed;
  }

  async function viaSmtp(size: Size, i: number): Promise<number> {
    const heldBefore = eventsOf(alice, "send-held").length;
    const subject = `headline SMTP ${size.label} ${i} ${Date.now()}`;
    smtpSubjects.push(subject);
    const r = await alice.helper.send({ to: `Bob <${BOB}>`, from: ALICE_PLAIN, subject, ...size.content() }, MAIL_TIMEOUT_MS);
    const pressed = await sendPressed(heldBefore, false);
    const messageId = bare(r.result?.headerMessageId ?? "");
    if (!messageId) throw new Error(`no Message-ID for "${subject}"`);
    // Back to back: each query is one round trip to bob's helper extension (its time is the resolution).
    for (;;) {
      const t = performance.now();
      const found = await bob.helper.command<Found[]>("findMessages", { headerMessageId: messageId }, 10_000);
      const now = performance.now();
      pollMs.push(now - t);
      if (found.some((f) => f.folderAccount === IMAP_ACCOUNT_ID)) return now - pressed;
      if (now - pressed > MAIL_TIMEOUT_MS) throw new Error(`"${subject}" not in bob's IMAP INBOX after ${MAIL_TIMEOUT_MS} ms (on the server: ${imap!.countMessages("bob")})`);
    }
  }

  // Warm-up, not counted: the first capability lookup, the first upload slot, IMAP's first IDLE.
  const warm = [await viaXmpp(SIZES[0]!, -1), await viaSmtp(SIZES[0]!, -1), await viaXmpp(SIZES[1]!, -1), await viaSmtp(SIZES[1]!, -1)];
  console.log(`warm-up (not counted): ${warm.map((ms) => ms.toFixed(0)).join(", ")} ms`);

  const results: string[] = [];
  for (const size of SIZES) {
    const xmpp: number[] = [];
    const smtp: number[] = [];
    for (let i = 0; i < size.n; i++) {
      xmpp.push(await viaXmpp(size, i));
      smtp.push(await viaSmtp(size, i));
      if (process.env.MOX_BENCH_VERBOSE) console.log(`${size.label} #${i}: XMPP ${xmpp.at(-1)!.toFixed(0)} ms, SMTP ${smtp.at(-1)!.toFixed(0)} ms`);
    }
    const ratio = quantile(smtp, 0.5) / quantile(xmpp, 0.5);
    results.push(`${size.label}: XMPP ${fmt(xmpp)}; SMTP+IMAP ${fmt(smtp)}; p50 ratio SMTP/XMPP ${ratio.toFixed(1)}×`);
    console.log(results.at(-1));
  }

  // Each XMPP mail went over XMPP only: nothing of it reached the IMAP server; each SMTP mail is there once.
  const onServer = imap.messages("bob").map((m) => /^Subject: (.*)$/im.exec(m.text)?.[1]?.trim() ?? "");
  const leaked = xmppSubjects.filter((s) => onServer.includes(s));
  const missing = smtpSubjects.filter((s) => onServer.filter((x) => x === s).length !== 1);
  if (leaked.length > 0 || missing.length > 0) throw new Error(`IMAP server: ${leaked.length} XMPP mails there too, ${missing.length} SMTP mails not there once`);

  console.log("--- headline: Send → in the recipient's Thunderbird");
  console.log(`machine: ${process.platform} ${process.arch}, ${cpus().length} CPUs, node ${process.version}, ${new Date().toISOString()}; XMPP server ${kind} (${shippedLimits ? "shipped rate limits" : "no rate limit"})`);
  for (const r of results) console.log(r);
  console.log(`resolution of the SMTP path: one findMessages round trip, ${fmt(pollMs)}; the XMPP path ends at bob's add-on's "mail-filed" line`);
  console.log(`IMAP folder watched: ${imapFolderId("INBOX")}`);
} finally {
  for (const tb of tbs) await tb.quit().catch(() => {});
  await server?.cleanup();
  await mta?.stop();
  await imap?.stop();
}
