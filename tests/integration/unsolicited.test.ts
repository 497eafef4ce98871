// Unsolicited mail (issue 12, "also build") on real Prosody and ejabberd: alice runs our session with the MailReceiver,
// the StrangerGate (3/h per stranger), the XEP-0191 BlockList and the Roster, as main.ts wires them; bob, a stranger,
// sends with our real MailSender and its 4th mail within the hour is answered "policy" (the sender's outcome is a
// failure, which the send flow turns into SMTP); carol, in alice's roster, is not limited; dave, blocked through the
// block list, never gets a mail in (the server drops it); frank's mail, archived while alice was away and blocked before
// she comes back, is not filed from the MAM catch-up.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import xml from "@xmpp/xml";
import { DEFAULT_STRANGER_LIMITS } from "../../src/core/stranger-policy.js";
import { BlockList } from "../../src/xmpp/blocklist.js";
import { DEFAULT_SIZE_POLICY, MailSender } from "../../src/xmpp/mail-sender.js";
import { MailReceiver, type FiledMail, type ReceiveOutcome, type Via } from "../../src/xmpp/receiver.js";
import { Roster } from "../../src/xmpp/roster.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { StrangerGate } from "../../src/xmpp/stranger-gate.js";
import { downloadBytes } from "../../src/xmpp/upload.js";
import { filler, ourSession, quietLog, rfc5322, sleep, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

interface Alice {
  session: XmppSession;
  blocklist: BlockList;
  roster: Roster;
  receiver: MailReceiver;
  filed: FiledMail[];
  outcomes: Array<{ from: string; via: Via; outcome: ReceiveOutcome }>;
  /** URLs of the external payloads the receiver downloaded. */
  downloads: string[];
}

function memoryStore(data: Map<string, unknown>) {
  return { get: async (k: string) => structuredClone(data.get(k)), set: async (k: string, v: unknown) => void data.set(k, structuredClone(v)) };
}

/** Alice as main.ts wires her: block list and roster started before the receiver, the gate as its admit(). */
function makeAlice(server: XmppServer, data: Map<string, unknown>, resource: string): Alice {
  const session = ourSession(server, "alice", "pw-alice", resource);
  const store = memoryStore(data);
  const blocklist = new BlockList({ session, store, log: quietLog });
  const roster = new Roster({ session, log: quietLog });
  blocklist.start();
  roster.start();
  const gate = new StrangerGate({
    store,
    log: quietLog,
    limits: () => DEFAULT_STRANGER_LIMITS,
    isBlocked: async (jid) => {
      await blocklist.settled();
      return blocklist.isBlocked(jid);
    },
    inRoster: (jid) => roster.has(jid),
  });
  const filed: FiledMail[] = [];
  const outcomes: Alice["outcomes"] = [];
  const downloads: string[] = [];
  const receiver = new MailReceiver({
    download: (url, size, timeoutMs) => {
      downloads.push(url);
      return downloadBytes(url, size, timeoutMs);
    },
    session,
    log: quietLog,
    sink: { file: async (mail) => void filed.push(mail) },
    directory: { confirmedJids: async () => [], addressBookJids: async () => [], isKnown: async () => false },
    store,
    admit: gate.admit,
  });
  const handle = receiver.handle.bind(receiver);
  receiver.handle = async (stanza, via = "live") => {
    const outcome = await handle(stanza, via);
    if (outcome.status !== "ignored") outcomes.push({ from: String(stanza.attrs.from ?? ""), via, outcome });
    return outcome;
  };
  receiver.start();
  return { session, blocklist, roster, receiver, filed, outcomes, downloads };
}

async function senderOf(server: XmppServer, user: string): Promise<{ session: XmppSession; sender: MailSender }> {
  const session = ourSession(server, user, `pw-${user}`, "send");
  session.start();
  await whenOnline(session);
  const sender = new MailSender({ session, log: quietLog, scheduler: realScheduler, filedGraceMs: 3_000, sizePolicy: { ...DEFAULT_SIZE_POLICY, inlineBudget: null } });
  sender.start();
  return { session, sender };
}

const copy = (from: string, subject: string, bodyBytes = 0) => ({
  to: "alice@localhost",
  raw: rfc5322({ from: `${from}@localhost`, subject, ...(bodyBytes > 0 ? { body: filler(bodyBytes) } : {}) }),
  subject,
  fallbackBody: "fallback",
});

describe.each(testServers())("unsolicited mail on a real %s", (kind) => {
  let server: XmppServer;
  const data = new Map<string, unknown>();
  let alice: Alice;
  const peers: XmppSession[] = [];

  beforeAll(async () => {
    server = await startServer(kind, {
      users: ["alice", "bob", "carol", "dave", "erin", "frank"].map((user) => ({ user, password: `pw-${user}` })),
      mam: true,
      upload: true,
    });
    alice = makeAlice(server, data, "tb");
    alice.session.start();
    await whenOnline(alice.session);
    // carol is a contact: in alice's roster (RFC 6121 roster set, as any XMPP client adds one).
    await alice.session.request(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" }, xml("item", { jid: "carol@localhost", name: "Carol" }))), 10_000);
    await waitFor(() => alice.roster.has("carol@localhost"), 5_000, `roster push (${alice.roster.size})`);
    await waitFor(() => alice.blocklist.mode !== "unknown", 10_000, "block list read");
  }, 60_000);

  afterAll(async () => {
    for (const p of peers) await p.stop().catch(() => {});
    await alice?.session.stop();
    await server?.cleanup();
  });

  it("finds the server's XEP-0191 block list", () => {
    expect(alice.blocklist.mode).toBe("server");
  });

  it("answers a stranger's 4th mail within an hour 'policy': the real sender reports the rejection (and falls back to SMTP)", async () => {
    const bob = await senderOf(server, "bob");
    peers.push(bob.session);
    const results = [];
    for (let i = 1; i <= 4; i++) results.push(await bob.sender.deliver(copy("bob", `stranger ${i}`), 10_000));
    expect(results.slice(0, 3), JSON.stringify(results)).toMatchObject([{ status: "filed" }, { status: "filed" }, { status: "filed" }]);
    expect(results[3]).toEqual({ status: "failed", reason: "rejected: policy" });
    expect(alice.filed.filter((m) => m.fromJid === "bob@localhost").map((m) => m.subject)).toEqual(["stranger 1", "stranger 2", "stranger 3"]);
    expect(alice.outcomes.filter((o) => o.from.startsWith("bob@")).at(-1)?.outcome).toEqual({ status: "rejected", reason: "policy" });
    // The counters are in the store (they survive a restart).
    expect((data.get("strangers") as unknown[]).length).toBe(3);
  }, 60_000);

  it("does not limit a contact in the roster", async () => {
    const carol = await senderOf(server, "carol");
    peers.push(carol.session);
    const results = [];
    for (let i = 1; i <= 5; i++) results.push((await carol.sender.deliver(copy("carol", `contact ${i}`), 10_000)).status);
    expect(results).toEqual(["filed", "filed", "filed", "filed", "filed"]);
    expect(alice.filed.filter((m) => m.fromJid === "carol@localhost")).toHaveLength(5);
  }, 60_000);

  it("refuses a stranger's mail above 1 MiB before downloading it, and files a contact's", async () => {
    const erin = await senderOf(server, "erin");
    peers.push(erin.session);
    const before = alice.downloads.length;
    const big = await erin.sender.deliver(copy("erin", "large from a stranger", 1_200_000), 30_000);
    expect(big).toEqual({ status: "failed", reason: "rejected: policy" });
    expect(alice.downloads.length).toBe(before); // refused on the stanza's stated size: nothing fetched
    // Below the limit the same stranger gets through (the size refusal counted nothing).
    expect((await erin.sender.deliver(copy("erin", "small from a stranger"), 10_000)).status).toBe("filed");
    const carol = await senderOf(server, "carol");
    peers.push(carol.session);
    const fromContact = await carol.sender.deliver(copy("carol", "large from a contact", 1_200_000), 30_000);
    expect(fromContact).toMatchObject({ status: "filed", route: "external" });
    expect(alice.downloads.length).toBe(before + 1);
  }, 90_000);

  it("never lets a blocked JID's mail in: the server drops it and the sender gets an error (and falls back)", async () => {
    expect(await alice.blocklist.block("Dave@localhost")).toBe("server");
    const list = await alice.session.request(xml("iq", { type: "get" }, xml("blocklist", { xmlns: "urn:xmpp:blocking" })), 10_000);
    expect(list.getChild("blocklist", "urn:xmpp:blocking")?.getChildren("item").map((i) => i.attrs.jid)).toContain("dave@localhost");
    const dave = await senderOf(server, "dave");
    peers.push(dave.session);
    const outcome = await dave.sender.deliver(copy("dave", "blocked"), 10_000);
    expect(outcome.status).toBe("failed");
    await sleep(500);
    expect(alice.filed.some((m) => m.fromJid === "dave@localhost")).toBe(false);
    expect(alice.outcomes.some((o) => o.from.startsWith("dave@"))).toBe(false); // it never reached the receiver
  }, 60_000);

  it("follows block pushes from the account's other clients, and does not file a MAM copy from a JID blocked meanwhile", async () => {
    // alice goes away; frank's mail is archived (and kept offline); alice's phone blocks frank; alice comes back.
    await alice.session.stop();
    const frank = await senderOf(server, "frank");
    peers.push(frank.session);
    const outcome = await frank.sender.deliver(copy("frank", "while away"), 2_000);
    expect(outcome.status).not.toBe("filed");
    const phone = ourSession(server, "alice", "pw-alice", "phone");
    peers.push(phone);
    phone.start();
    await whenOnline(phone);
    const phoneList = new BlockList({ session: phone, store: memoryStore(new Map()), log: quietLog });
    expect(await phoneList.sync()).toBe("server");
    await phoneList.block("frank@localhost");
    await phone.stop();

    alice = makeAlice(server, data, "tb");
    alice.session.start();
    await whenOnline(alice.session);
    await waitFor(() => alice.outcomes.some((o) => o.via === "mam" && o.from.startsWith("frank@")), 15_000, "frank's mail handled");
    await sleep(1_000);
    expect(alice.filed.some((m) => m.fromJid === "frank@localhost")).toBe(false);
    const mam = alice.outcomes.filter((o) => o.via === "mam" && o.from.startsWith("frank@"));
    expect(mam.length).toBeGreaterThan(0);
    expect(mam.every((o) => o.outcome.status === "rejected" && o.outcome.reason === "policy")).toBe(true);
    expect(alice.blocklist.isBlocked("frank@localhost")).toBe(true);

    // A push while online: the phone unblocks dave, and the receiving session's list follows.
    const phone2 = ourSession(server, "alice", "pw-alice", "phone2");
    peers.push(phone2);
    phone2.start();
    await whenOnline(phone2);
    await phone2.request(xml("iq", { type: "set" }, xml("unblock", { xmlns: "urn:xmpp:blocking" }, xml("item", { jid: "dave@localhost" }))), 10_000);
    await waitFor(() => !alice.blocklist.isBlocked("dave@localhost"), 5_000, "unblock push");
  }, 90_000);
});
