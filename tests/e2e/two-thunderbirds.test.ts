// Two Thunderbirds on one XMPP account (bob at home and at the office), both with the add-on, both filing into the
// same folder of an IMAP account (a private Dovecot on loopback, tests/support/dovecot.ts): a mail from alice's
// Thunderbird must end up on the IMAP server once, not twice (docs/protocol.md §6, "Several Thunderbirds on one
// account"); alice gets "filed". Then the filer is killed (its session still looks online to the server): the other
// Thunderbird files within the sender's hold, once. Counted on the server itself (the Maildir), not in Thunderbird.
//   MOX_SERVERS=prosody|ejabberd to run one server only; MOX_E2E_DUMP=1 prints the Thunderbirds' [mox] events;
//   MOX_E2E_BOB_ADDON=<dir> runs bob's Thunderbirds with another build (to check that the test fails without the rule).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST_DIR, e2eSkipReason, startE2E, type E2E, E2E_STRANGER_LIMITS } from "../support/e2e-env.js";
import { imapFolderId, isDovecotAvailable, startDovecot, thunderbirdImapAccount, type Dovecot } from "../support/dovecot.js";
import { ourSession, sleep, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { queryCapabilityInfo } from "../../src/xmpp/capability.js";
import { testServers } from "../support/servers.js";
import { launchThunderbird, type MoxEvent, type TB } from "../support/thunderbird.js";

const skipReason = e2eSkipReason() ?? (isDovecotAvailable() ? null : "dovecot is not installed (apt-get install dovecot-imapd)");
if (skipReason) console.warn(`skipping two-Thunderbirds e2e test: ${skipReason}`);

const DOMAIN = "localhost";
const USERS = [
  { user: "alice", password: "secret-alice" },
  { user: "bob", password: "secret-bob" },
];
const IMAP_PASSWORD = "imap-secret-bob";
/** After both Thunderbirds decided, how long a second copy would take to reach the IMAP server. */
const SETTLE_MS = 3_000;

async function online(tb: TB, whose: string): Promise<MoxEvent> {
  try {
    return await tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
  } catch (error) {
    throw new Error(`${whose} Thunderbird: add-on not online. ${error instanceof Error ? error.message : String(error)}\n${tb.outputTail(30)}`);
  }
}

// Both servers (MOX_SERVERS to choose): about 40 s and three Thunderbird starts each.
describe.skipIf(skipReason !== null).each(testServers())("two Thunderbirds on one account, one IMAP receive folder, on %s", (kind) => {
  let started = 0;
  let imap: Dovecot;
  let env: E2E;
  const bobs = new Map<string, TB>();
  /** Every bob Thunderbird ever started (for the dump), crashed ones included. */
  const allBobs = new Map<string, TB>();
  const figures: string[] = [];
  const alice = `alice@${DOMAIN}`;
  const bob = `bob@${DOMAIN}`;

  /** Every subject sent, to check at the end that each is on the server once. */
  const subjects: string[] = [];
  let crashed: { name: string; runDir: string } | null = null;
  const launchBob = (name: string, runDir?: string, receiveFolder = imapFolderId("INBOX")) =>
    launchThunderbird({
      ...(runDir ? { runDir } : {}),
      addonDir: process.env.MOX_E2E_BOB_ADDON || DIST_DIR,
      smtpPort: env.sink.port,
      managed: { jid: bob, password: "secret-bob", websocketUrl: env.server.wsUrl, receiveFolder, ...E2E_STRANGER_LIMITS },
      identities: [{ email: bob, fullName: `Bob (${name})` }],
      ...thunderbirdImapAccount(imap, { user: "bob", password: IMAP_PASSWORD, email: bob }),
    });

  beforeAll(async () => {
    started = performance.now();
    imap = await startDovecot({ users: { bob: IMAP_PASSWORD } });
    env = await startE2E({
      kind,
      users: USERS,
      as: "alice",
      serverOptions: { domain: DOMAIN, mam: true, smResumeTimeout: 60 },
      thunderbird: { identities: [{ email: alice, fullName: "Alice" }] },
    });
    const [home, office] = await Promise.all([launchBob("home"), launchBob("office")]);
    for (const [name, tb] of [["home", home], ["office", office]] as const) {
      bobs.set(name, tb);
      allBobs.set(name, tb);
    }
    await Promise.all([online(env.tb, "alice's"), online(home, "bob's home"), online(office, "bob's office")]);
    // Each add-on knows the other runs too (self-presence with the add-on's caps).
    await Promise.all([home, office].map((tb) => tb.waitForEvent((e) => e.event === "sibling-online", 10_000)));
    // Both of bob's Thunderbirds are in his capability item before alice first writes to him: she pins both devices
    // (docs/protocol.md §10.6). Two first publishes at the same moment settle within seconds (§10.3).
    const probe = ourSession(env.server, "alice", "secret-alice", "probe");
    probe.start();
    try {
      await whenOnline(probe);
      let devices = 0;
      const deadline = Date.now() + 20_000;
      while (devices < 2 && Date.now() < deadline) {
        devices = (await queryCapabilityInfo(probe, bob, new Date(), 5_000)).devices.length;
        if (devices < 2) await sleep(250);
      }
      expect(devices, "bob's item lists both Thunderbirds").toBe(2);
    } finally {
      await probe.stop();
    }
    figures.push(`three Thunderbirds online and siblings known after ${Math.round(performance.now() - started)} ms`);
  }, 150_000);

  afterAll(async () => {
    if (process.env.MOX_E2E_DUMP) {
      for (const [name, tb] of allBobs) console.log(`--- bob ${name} (${kind}) ---\n${tb.events().map((e) => JSON.stringify(e)).join("\n")}`);
      console.log(`--- alice (${kind}) ---\n${env?.tb.events().map((e) => JSON.stringify(e)).join("\n")}`);
    }
    await Promise.all([...bobs.values()].map((tb) => tb.quit().catch(() => undefined)));
    await env?.stop();
    await imap?.stop();
    figures.push(`whole file ${((performance.now() - started) / 1000).toFixed(1)} s`);
    console.log(`[measure] two Thunderbirds, ${kind}: ${figures.join("; ")}`);
  }, 60_000);

  const onServer = (subject: string) => imap.messages("bob", "INBOX").filter((m) => m.text.includes(`Subject: ${subject}`));
  const eventsOf = (tb: TB, name: string) => tb.events().filter((e) => e.event === name);
  const aliceDecided = () => eventsOf(env.tb, "send-decided");

  /** alice sends one mail to bob; returns what each running bob did and how long it took. */
  async function send(label: string, running: TB[]) {
    const subject = `${label} ${crypto.randomUUID()}`;
    subjects.push(subject);
    const filedBefore = running.map((tb) => eventsOf(tb, "mail-filed").length);
    const bySiblingBefore = running.map((tb) => eventsOf(tb, "mail-filed-by-sibling").length);
    const decidedBefore = aliceDecided().length;
    const t0 = performance.now();
    // Thunderbird's sendMessage rejects when the add-on cancels the SMTP send because XMPP delivered the mail.
    await expect(env.tb.helper.send({ to: bob, subject, body: `${label}: for bob's IMAP folder\n` }, 30_000), `${label}: Send went over XMPP`).rejects.toThrow(/aborted/i);
    // Every running bob has decided: filed it, or counted the sibling's copy.
    await waitFor(
      () => running.every((tb, i) => eventsOf(tb, "mail-filed").length > filedBefore[i]! || eventsOf(tb, "mail-filed-by-sibling").length > bySiblingBefore[i]!),
      20_000,
      `both bobs decided on ${label}`,
    );
    const decidedMs = performance.now() - t0;
    await waitFor(() => aliceDecided().length > decidedBefore, 20_000, "alice's send decided");
    const decided = aliceDecided()[decidedBefore]!;
    await waitFor(() => onServer(subject).length > 0, 10_000, `${label} on the IMAP server`);
    const onServerMs = performance.now() - t0;
    await sleep(SETTLE_MS);
    return {
      subject,
      decided,
      decidedMs,
      onServerMs,
      filers: running.filter((tb, i) => eventsOf(tb, "mail-filed").length > filedBefore[i]!),
      countedSibling: running.filter((tb, i) => eventsOf(tb, "mail-filed-by-sibling").length > bySiblingBefore[i]!),
    };
  }

  it("a mail to bob is on the IMAP server once: one Thunderbird files it, the other counts that copy", async () => {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await send(`both online ${i}`, [...bobs.values()]);
      expect(onServer(r.subject), "copies on the IMAP server").toHaveLength(1);
      expect(r.filers, "Thunderbirds that imported it").toHaveLength(1);
      expect(r.countedSibling, "Thunderbirds that counted the sibling's copy").toHaveLength(1);
      expect(r.decided.result, "alice's Send").toBe("cancel");
      expect(r.decided.filed).toBe(1);
      times.push(Math.round(r.onServerMs));
    }
    figures.push(`both online: send → on the IMAP server ${times.join(", ")} ms`);
  }, 120_000);

  it("the filer crashed (its session still looks online): the other files within the hold, once", async () => {
    // Which one files: the smallest resource name (the one that logged mail-filed above).
    const filerName = [...bobs].find(([, tb]) => eventsOf(tb, "mail-filed").length > 0)![0];
    const otherName = filerName === "home" ? "office" : "home";
    const filerTb = bobs.get(filerName)!;
    await filerTb.crash();
    crashed = { name: filerName, runDir: filerTb.runDir };
    bobs.delete(filerName);
    const other = bobs.get(otherName)!;
    const r = await send("filer crashed", [other]);
    expect(onServer(r.subject)).toHaveLength(1);
    expect(r.filers).toEqual([other]);
    const decision = eventsOf(other, "shared-folder-file").at(-1)!;
    expect(decision.why).toBe("filer-silent");
    expect(r.decided.result, "alice's Send").toBe("cancel");
    figures.push(`filer crashed: send → on the IMAP server ${Math.round(r.onServerMs)} ms (the survivor waited ${String(decision.ms)} ms for the dead filer)`);
  }, 120_000);

  it("the crashed Thunderbird starts again and catches up from the archive: it asks, counts the survivor's copy, still once", async () => {
    expect(crashed, "the previous test crashed the filer").not.toBeNull();
    const { name, runDir } = crashed!;
    const t0 = performance.now();
    const back = await launchBob(name, runDir);
    bobs.set(name, back);
    allBobs.set(`${name} (restarted)`, back);
    await online(back, `bob's ${name} (restarted)`);
    // The mail that arrived while it was dead comes from its MAM catch-up; the survivor filed it already.
    const decided = await back.waitForEvent((e) => e.event === "mail-filed-by-sibling" || e.event === "mail-filed", 30_000);
    expect(decided.event, JSON.stringify(decided)).toBe("mail-filed-by-sibling");
    figures.push(`restarted filer: online → caught-up mail counted as the sibling's ${Math.round(back.timeOf(decided)! - t0)} ms after launch`);
    await sleep(SETTLE_MS);
    expect(back.events().filter((e) => e.event === "mail-filed"), "imports by the restarted Thunderbird").toEqual([]);
    for (const subject of subjects) expect(onServer(subject), subject).toHaveLength(1);
  }, 120_000);

  it("a third Thunderbird, added after alice pinned bob's two: it cannot open her mail until she accepts its key; the IMAP folder still gets one copy, nobody waits", async () => {
    const laptop = await launchBob("laptop", undefined, "");
    bobs.set("laptop", laptop);
    allBobs.set("laptop", laptop);
    await online(laptop, "bob's laptop");
    await laptop.waitForEvent((e) => e.event === "sibling-online", 10_000);
    const running = [...bobs.values()];
    await waitFor(() => running.every((tb) => eventsOf(tb, "sibling-online").length >= 2 || tb === laptop), 10_000, "the IMAP Thunderbirds know the laptop");
    const r = await send("with a laptop on Local Folders", running.filter((tb) => tb !== laptop));
    expect(onServer(r.subject), "copies on the IMAP server").toHaveLength(1);
    // Strict trust on first use (docs/protocol.md §10.6.1): a device bob added after alice pinned his account is a
    // change she has not accepted; her mail is sealed for the two she knows. The laptop gets the stanza, holds no key
    // for it and stays silent; bob's IMAP Thunderbirds file it.
    const local = await laptop.helper.command<Array<{ subject: string }>>("folderMessages", { folder: "Mail over XMPP" }, 10_000);
    expect(local.filter((m) => m.subject === r.subject), "no copy in the laptop's Local Folders").toHaveLength(0);
    expect(eventsOf(laptop, "mail-not-for-this-device").length, "the laptop saw a copy sealed for the others").toBeGreaterThan(0);
    expect(r.decided, "alice's Send: encrypted, filed by an IMAP Thunderbird").toMatchObject({ result: "cancel", e2e: 1 });
    // No Thunderbird on the IMAP folder waited out the 5 s for a filer that files elsewhere.
    for (const tb of running.filter((t) => t !== laptop)) {
      const last = [...tb.events()].reverse().find((e) => e.event === "shared-folder-file" || e.event === "mail-filed-by-sibling")!;
      expect(Number(last.ms), JSON.stringify(last)).toBeLessThan(4_000);
    }
    figures.push(`with a laptop on Local Folders: send → on the IMAP server ${Math.round(r.onServerMs)} ms, all three decided after ${Math.round(r.decidedMs)} ms`);
  }, 120_000);
});
