// Fault injection (issue 6): the add-on's real send flow (SendFlow + MailSender + XmppSession) against a real Prosody,
// with a recipient running the receiving engine, under injected faults. Every mail must end filed at the recipient or
// handed to SMTP — a loss is a recipient with neither. Duplicates (both) are allowed and counted.
//   npm run test:faults                 (MOX_FAULTS=N injected faults; CI runs 40, by hand: MOX_FAULTS=240)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OutgoingMail } from "../../src/core/mime/compose-input.js";
import { SendFlow, type SendRequest, type SendResult } from "../../src/core/send-flow.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { fallbackBody } from "../../src/xmpp/mail-stanza.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { filler, ourSession, quietLog, sleep, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";
import { isProsodyAvailable, startProsody, type ProsodyServer } from "../support/prosody.js";

const FAULTS = Number(process.env.MOX_FAULTS ?? 40);
const HOLD_MS = 2_000;

type Fault =
  | "none"
  | "server-down-before-send"
  | "server-killed-after-ack"
  | "receiver-storage-fails"
  | "receipt-lost"
  | "recipient-offline"
  | "recipient-unregistered"
  | "too-large-without-upload"
  | "server-killed-mid-send";
const FAULT_KINDS: Fault[] = [
  "server-down-before-send",
  "server-killed-after-ack",
  "receiver-storage-fails",
  "receipt-lost",
  "recipient-offline",
  "recipient-unregistered",
  "too-large-without-upload",
  "server-killed-mid-send",
];

/** A seeded generator (mulberry32), so a failing sequence can be replayed with MOX_FAULT_SEED. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(!isProsodyAvailable())(`fault injection on the send path (${FAULTS} faults)`, () => {
  let server: ProsodyServer;
  let alice: XmppSession;
  let sender: MailSender;
  let bob: MailPeer | null = null;
  let flow: SendFlow;

  /** Every receiving engine started for bob's account: a mail filed by any of them reached bob. */
  const allPeers: MailPeer[] = [];
  const startBob = async () => {
    bob = await startMailPeer(server, "bob", "pw-bob");
    allPeers.push(bob);
  };

  beforeAll(async () => {
    server = await startProsody({ users: ["alice", "bob"].map((u) => ({ user: u, password: `pw-${u}` })), smResumeTimeout: 1 });
    alice = ourSession(server, "alice", "pw-alice", "faults");
    alice.start();
    await whenOnline(alice);
    await startBob();
    sender = new MailSender({ session: alice, log: quietLog, scheduler: realScheduler, filedGraceMs: 600 });
    sender.start();
    flow = new SendFlow({
      scheduler: realScheduler,
      log: quietLog,
      online: () => alice.status.state === "online",
      config: () => ({ policy: "whole-message", holdMs: HOLD_MS, announceJid: null }),
      resolutionData: () => ({ explicit: new Map([["bob@mail.test", "bob@localhost"]]), addressBook: new Map(), xmppDomains: [], learned: new Map(), verifiedSenders: new Map() }),
      capability: { cached: () => true, lookup: async () => true },
      deliver: ({ jid, raw, mail }, deadlineMs) =>
        sender.deliver({ to: jid, raw, subject: mail.subject, fallbackBody: fallbackBody({ from: mail.from, to: [...mail.to], subject: mail.subject, text: mail.text.slice(0, 100), attachmentNames: [] }) }, deadlineMs),
      record: () => {},
    });
  });

  afterAll(async () => {
    for (const p of allPeers) await p.stop().catch(() => {});
    await alice?.stop();
    await server?.cleanup();
  });

  const request = (subject: string, text: string): SendRequest => {
    const mail: OutgoingMail = { from: "Alice <alice@mail.test>", to: ["bob@mail.test"], cc: [], bcc: [], replyTo: [], subject, text, isPlainText: true, attachments: [] };
    return { to: mail.to, cc: [], bcc: [], hasNewsgroups: false, encryption: null, xmppSwitchedOff: false, customHeaders: [], subject, mode: async () => "sendNow", readMail: async () => mail };
  };

  const smtpRecipients = (r: SendResult): string[] => (r.kind === "cancel" ? [] : r.recipients ? [...r.recipients.to, ...r.recipients.cc, ...r.recipients.bcc] : ["bob@mail.test"]);

  /** Brings everything back to a working state after a fault. */
  const heal = async () => {
    if (bob) bob.beforeFile = null;
    if (!(await server.start().then(() => true, () => true))) return;
    await waitFor(() => alice.status.state === "online", 20_000, "alice online again");
    if (!bob || bob.session.status.state !== "online") {
      await bob?.stop().catch(() => {});
      await server.register("bob", "pw-bob").catch(() => {});
      await startBob();
    }
  };

  it("loses no mail: every recipient ends filed over XMPP or handed to SMTP", async () => {
    const seed = Number(process.env.MOX_FAULT_SEED ?? Date.now() % 1_000_000);
    const random = rng(seed);
    const counts = new Map<string, { runs: number; lost: number; duplicates: number; xmpp: number; smtp: number }>();
    const losses: string[] = [];
    for (let i = 0; i < FAULTS; i++) {
      const fault = FAULT_KINDS[Math.floor(random() * FAULT_KINDS.length)]!;
      const subject = `fault ${i} ${fault}`;
      const delay = Math.floor(random() * 40);
      let text = `Mail ${i}.`;
      const peer = bob!;
      switch (fault) {
        case "server-down-before-send":
          await server.kill();
          await waitFor(() => alice.status.state !== "online", 5_000, "alice noticed");
          break;
        case "server-killed-after-ack":
          peer.beforeFile = async () => {
            await sleep(delay);
            await server.kill();
          };
          break;
        case "receiver-storage-fails":
          peer.beforeFile = async () => {
            throw new Error("disk full (injected)");
          };
          break;
        case "receipt-lost":
          // Filing takes longer than the whole hold: the receipt comes too late for this Send.
          peer.beforeFile = () => sleep(HOLD_MS + 500);
          break;
        case "recipient-offline":
          await peer.stop();
          bob = null;
          break;
        case "recipient-unregistered":
          await peer.stop();
          bob = null;
          await server.kill();
          // Deleting the account while the server is down; the bounce is "service-unavailable".
          await import("node:fs/promises").then((fs) => fs.rm(`${server.dataDir}/localhost/accounts/bob.dat`, { force: true }));
          await server.start();
          await waitFor(() => alice.status.state === "online", 20_000, "alice online");
          break;
        case "too-large-without-upload":
          text = filler(200_000); // over the inline fallback limit, and this server has no upload service
          break;
        case "server-killed-mid-send":
          text = filler(40_000); // a large inline stanza; the server dies while it is being written
          setTimeout(() => void server.kill(), delay);
          break;
      }
      const result = await flow.handle(request(subject, text));
      await sleep(150);
      const filed = allPeers.some((p) => p.filed.some((m) => m.subject === subject));
      const bySmtp = smtpRecipients(result).includes("bob@mail.test");
      const c = counts.get(fault) ?? { runs: 0, lost: 0, duplicates: 0, xmpp: 0, smtp: 0 };
      c.runs++;
      if (!filed && !bySmtp) {
        c.lost++;
        losses.push(`${subject}: ${JSON.stringify(result)}`);
      }
      if (filed && bySmtp) c.duplicates++;
      if (filed && !bySmtp) c.xmpp++;
      if (bySmtp) c.smtp++;
      counts.set(fault, c);
      if (result.kind === "cancel" && !filed) losses.push(`${subject}: cancelled (XMPP) but not filed at the recipient`);
      await heal();
    }
    const lost = [...counts.values()].reduce((n, c) => n + c.lost, 0);
    const dups = [...counts.values()].reduce((n, c) => n + c.duplicates, 0);
    console.log(
      `[measure] faults (seed ${seed}): ${FAULTS} runs, ${FAULTS} faults injected, ${lost} lost, ${dups} duplicates seen within 150 ms; by kind: ` +
        [...counts].map(([k, c]) => `${k} ${c.runs} (smtp ${c.smtp}, xmpp ${c.xmpp}, dup ${c.duplicates}, lost ${c.lost})`).join("; "),
    );
    // Control: once everything has recovered, a mail without a fault goes over XMPP again.
    await sleep(HOLD_MS + 600);
    await waitFor(() => alice.status.state === "online" && bob?.session.status.state === "online", 20_000, "both online");
    const control = await flow.handle(request("control", "No fault."));
    expect(control.kind).toBe("cancel");
    expect(losses).toEqual([]);
  }, 30 * 60_000);
});
