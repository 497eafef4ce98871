// Soak (issue 6): N mails through the real send flow to a recipient running the receiving engine, with the server
// restarted every R mails (the sender and the recipient reconnect by themselves). 0 lost; heap sampled to report its
// slope.   MOX_SOAK=1000 npm run test:faults   (CI: 200)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OutgoingMail } from "../../src/core/mime/compose-input.js";
import { SendFlow, type SendRequest } from "../../src/core/send-flow.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { ourSession, quietLog, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";
import { isProsodyAvailable, startProsody, type ProsodyServer } from "../support/prosody.js";

const MAILS = Number(process.env.MOX_SOAK ?? 4000);
const RESTART_EVERY = 100;
/** The receiver's dedupe memory (5,000 keys, two per mail) is full from this mail on. */
const DEDUPE_FULL_AT = 2_500;
/** Above this the heap grows per mail once every bounded memory is full: a leak (a kept raw mail is ~0.6 KiB+). */
const FLAT_BYTES_PER_MAIL = 400;

describe.skipIf(!isProsodyAvailable())(`soak: ${MAILS} mails with a server restart every ${RESTART_EVERY}`, () => {
  let server: ProsodyServer;
  let alice: XmppSession;
  let bob: MailPeer;
  let flow: SendFlow;

  beforeAll(async () => {
    server = await startProsody({ users: ["alice", "bob"].map((u) => ({ user: u, password: `pw-${u}` })), smResumeTimeout: 1 });
    alice = ourSession(server, "alice", "pw-alice", "soak");
    alice.start();
    await whenOnline(alice);
    bob = await startMailPeer(server, "bob", "pw-bob");
    const sender = new MailSender({ session: alice, log: quietLog, scheduler: realScheduler, filedGraceMs: 600 });
    sender.start();
    flow = new SendFlow({
      scheduler: realScheduler,
      log: quietLog,
      online: () => alice.status.state === "online",
      config: () => ({ policy: "whole-message", holdMs: 3_000, announceJid: null }),
      resolutionData: () => ({ explicit: new Map([["bob@mail.test", "bob@localhost"]]), addressBook: new Map(), xmppDomains: [], learned: new Map(), verifiedSenders: new Map() }),
      capability: { cached: () => true, lookup: async () => true },
      deliver: ({ jid, raw, mail }, deadlineMs) => sender.deliver({ to: jid, raw, subject: mail.subject, fallbackBody: mail.text }, deadlineMs),
      record: () => {},
    });
  });

  afterAll(async () => {
    await bob?.stop();
    await alice?.stop();
    await server?.cleanup();
  });

  it("loses nothing and keeps memory flat", async () => {
    const request = (subject: string): SendRequest => {
      const mail: OutgoingMail = { from: "Alice <alice@mail.test>", to: ["bob@mail.test"], cc: [], bcc: [], replyTo: [], subject, text: `Soak ${subject}.`, isPlainText: true, attachments: [] };
      return { to: mail.to, cc: [], bcc: [], hasNewsgroups: false, encryption: null, xmppSwitchedOff: false, customHeaders: [], mode: async () => "sendNow", readMail: async () => mail };
    };
    let xmpp = 0;
    let smtp = 0;
    const lost: string[] = [];
    const heap: Array<[number, number]> = [];
    const t0 = performance.now();
    for (let i = 0; i < MAILS; i++) {
      if (i > 0 && i % RESTART_EVERY === 0) {
        void server.restart();
      }
      const subject = `soak ${i}`;
      const result = await flow.handle(request(subject));
      if (result.kind === "cancel") xmpp++;
      else smtp++;
      if (result.kind === "cancel" && !bob.filed.some((m) => m.subject === subject)) lost.push(subject);
      bob.filed.length = 0; // checked: the test itself must not hold on to every mail
      if (i % 50 === 0) {
        globalThis.gc?.();
        heap.push([i, process.memoryUsage().heapUsed]);
        if (process.env.MOX_SOAK_TRACE) console.log(`heap ${i} ${(heap.at(-1)![1] / 1e6).toFixed(2)}`);
      }
      if (alice.status.state !== "online") await waitFor(() => alice.status.state === "online", 20_000, "alice back online");
    }
    const seconds = (performance.now() - t0) / 1000;
    // Least-squares slope of heap over mails, in bytes per mail. The receiver remembers the last 5,000 dedupe keys (two
    // per mail): the heap grows by design until mail 2,500, so the flatness check starts after that.
    const slopeOf = (pts: Array<[number, number]>) => {
      const n = pts.length;
      const mx = pts.reduce((s, [x]) => s + x, 0) / n;
      const my = pts.reduce((s, [, y]) => s + y, 0) / n;
      return pts.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / Math.max(1, pts.reduce((s, [x]) => s + (x - mx) ** 2, 0));
    };
    const all = slopeOf(heap.slice(1));
    const saturated = heap.filter(([i]) => i >= DEDUPE_FULL_AT + 250);
    const flat = saturated.length >= 10 ? slopeOf(saturated) : null;
    console.log(
      `[measure] soak: ${MAILS} mails in ${seconds.toFixed(1)} s, ${Math.floor((MAILS - 1) / RESTART_EVERY)} server restarts: ${xmpp} over XMPP, ${smtp} by SMTP, ${lost.length} lost; ` +
        `heap after GC ${(heap[0]![1] / 1e6).toFixed(1)} → ${(heap.at(-1)![1] / 1e6).toFixed(1)} MB, slope ${(all / 1024).toFixed(2)} KiB/mail overall` +
        (flat === null ? "" : `, ${(flat / 1024).toFixed(3)} KiB/mail from mail ${DEDUPE_FULL_AT + 250} on (dedupe memory full)`),
    );
    if (flat !== null && globalThis.gc) expect(flat).toBeLessThan(FLAT_BYTES_PER_MAIL);
    expect(lost).toEqual([]);
    expect(xmpp + smtp).toBe(MAILS);
  }, 30 * 60_000);
});
