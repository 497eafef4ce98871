// A recipient whose account has other XMPP clients online beside Thunderbird (a phone, a desktop chat client), on
// both servers. Servers route a message for the bare JID only to the resource(s) with the highest priority; the
// add-on's session enables carbons (XEP-0280) so that it gets a copy whenever another client is preferred. Each case:
// the mail is filed once by the recipient's engine, the sender gets "filed" in normal delivery time (not the hold
// deadline), and the other clients see only the readable fallback body.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, type StockClient, client as stockClient } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { NS_CARBONS, NS_FORWARD, NS_MAIL } from "../../src/core/protocol.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { inlineStanza, ourSession, quietLog, rfc5322, sleep, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

const FALLBACK = "An e-mail for you, sent over XMPP. Open it in Thunderbird.";

interface Phone {
  readonly xmpp: StockClient;
  readonly inbox: Element[];
}

async function phone(server: XmppServer, user: string, password: string, resource: string, priority: number, carbons = false): Promise<Phone> {
  const xmpp = stockClient({ service: server.wsUrl, domain: server.domain, username: user, password, resource });
  xmpp.on("error", () => {});
  const inbox: Element[] = [];
  const self = `${user}@${server.domain}/${resource}`;
  let echoed = false;
  xmpp.on("stanza", (s: Element) => {
    if (s.is("message")) inbox.push(s);
    if (s.is("presence") && s.attrs.from === self && s.attrs.type === undefined) echoed = true;
  });
  await xmpp.start();
  // Nothing before <enabled/>: a stock client that sends at once miscounts stanzas, and ejabberd then ends its session.
  await waitFor(() => xmpp.streamManagement.enabled, 5_000, `stream management on ${resource}`);
  if (carbons) await xmpp.iqCaller.request(xml("iq", { type: "set" }, xml("enable", { xmlns: NS_CARBONS })), 5_000);
  await xmpp.send(xml("presence", {}, xml("priority", {}, String(priority))));
  await waitFor(() => echoed, 5_000, `${resource}'s own presence back from the server`);
  return { xmpp, inbox };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe.each(testServers())("a recipient with other clients online, on %s", (kind) => {
  let server: XmppServer;
  let alice: XmppSession;
  let sender: MailSender;
  let bob: MailPeer;
  const phones: Phone[] = [];
  const figures: string[] = [];

  beforeAll(async () => {
    server = await startServer(kind, {
      users: [
        { user: "alice", password: "pw-a" },
        { user: "bob", password: "pw-b" },
        { user: "mallory", password: "pw-m" },
      ],
      mam: true,
    });
    alice = ourSession(server, "alice", "pw-a", "thunderbird");
    alice.start();
    await whenOnline(alice);
    sender = new MailSender({ session: alice, log: quietLog, scheduler: realScheduler, filedGraceMs: 1_000 });
    sender.start();
    bob = await startMailPeer(server, "bob", "pw-b");
  });
  afterAll(async () => {
    console.log(`[measure] ${kind}: send → filed receipt with other clients online: ${figures.join("; ")}`);
    for (const p of phones) await p.xmpp.stop().catch(() => undefined);
    await bob?.stop();
    await alice?.stop();
    await server?.cleanup();
  });

  it("enables carbons at login", () => {
    expect(bob.session.carbons).toBe("enabled");
  });

  /** Sends `n` mails to bob's bare JID; returns the send → filed times. */
  async function sendAndCheck(label: string, others: Phone[], n = 3): Promise<void> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const subject = `${label} ${i} ${crypto.randomUUID()}`;
      const raw = rfc5322({ from: `alice@${server.domain}`, to: `bob@${server.domain}`, subject, body: `secret text of ${subject}\r\n` });
      const before = bob.filed.length;
      const t0 = performance.now();
      const outcome = await sender.deliver({ to: `bob@${server.domain}`, raw, subject, fallbackBody: FALLBACK }, 8_000);
      const ms = performance.now() - t0;
      expect(outcome, label).toMatchObject({ status: "filed" });
      // Well inside normal delivery time (the hold deadline is 8 s by default): a carbon, not a timeout.
      expect(ms, label).toBeLessThan(2_000);
      times.push(ms);
      await sleep(150); // a second copy (direct + carbon) would arrive by now
      expect(bob.filed.length - before, `${label}: filed once`).toBe(1);
      expect(bob.filed.at(-1)!.subject).toBe(subject);
    }
    figures.push(`${label} p50 ${median(times).toFixed(0)} ms (n=${n})`);
    for (const p of others) {
      const seen = p.inbox.filter((m) => m.getChild("mail", NS_MAIL) || m.getChild("received", NS_CARBONS));
      for (const m of seen) {
        // What a chat client shows is the body: the readable note, never the mail's text.
        const body = m.getChildText("body") ?? m.getChild("received", NS_CARBONS)?.getChild("forwarded", NS_FORWARD)?.getChild("message")?.getChildText("body");
        expect(body).toBe(FALLBACK);
      }
    }
  }

  it("phone at a higher priority (10 vs 0): Thunderbird files it from the carbon copy", async () => {
    const p = await phone(server, "bob", "pw-b", "phone", 10);
    phones.push(p);
    await sleep(100);
    await sendAndCheck("phone higher", [p]);
    // The phone (which got the stanza itself) saw only the readable body.
    expect(p.inbox.filter((m) => m.getChild("mail", NS_MAIL)).length).toBeGreaterThan(0);
    await p.xmpp.stop();
    phones.pop();
  });

  it("phone at the same priority (0): filed once although the stanza reaches both", async () => {
    const p = await phone(server, "bob", "pw-b", "phone", 0);
    phones.push(p);
    await sleep(100);
    await sendAndCheck("phone equal", [p]);
    await p.xmpp.stop();
    phones.pop();
  });

  it("phone at a lower priority (-1): Thunderbird gets it directly", async () => {
    const p = await phone(server, "bob", "pw-b", "phone", -1);
    phones.push(p);
    await sleep(100);
    await sendAndCheck("phone lower", [p]);
    expect(p.inbox.filter((m) => m.getChild("mail", NS_MAIL)).length).toBe(0);
    await p.xmpp.stop();
    phones.pop();
  });

  it("several other clients (priorities 10 and 5, one with carbons): filed once", async () => {
    const a = await phone(server, "bob", "pw-b", "phone", 10, true);
    const b = await phone(server, "bob", "pw-b", "desktop", 5);
    phones.push(a, b);
    await sleep(100);
    await sendAndCheck("two others", [a, b]);
    await a.xmpp.stop();
    await b.xmpp.stop();
    phones.splice(0);
  });

  it("files nothing twice when the same mail arrives again from the archive (MAM catch-up after a restart)", async () => {
    const p = await phone(server, "bob", "pw-b", "phone", 10);
    await sleep(100);
    await sendAndCheck("before restart", [p], 1);
    await bob.stop();
    const position = bob.memory.get("mamLast");
    bob = await startMailPeer(server, "bob", "pw-b", { memory: bob.memory });
    await waitFor(() => bob.memory.get("mamLast") !== position, 5_000, "catch-up read the archive past the mails above");
    await sleep(300);
    expect(bob.filed.length, "the restarted engine filed nothing again").toBe(0);
    await p.xmpp.stop();
  });

  it("the sender's own other client sees its outgoing copy as a carbon with the readable body only", async () => {
    const alicePhone = await phone(server, "alice", "pw-a", "phone", 0, true);
    await sleep(100);
    await sendAndCheck("sender has a phone", []);
    const sent = alicePhone.inbox.filter((m) => m.getChild("sent", NS_CARBONS));
    expect(sent.length).toBeGreaterThan(0);
    for (const m of sent) expect(m.getChild("sent", NS_CARBONS)!.getChild("forwarded", NS_FORWARD)!.getChild("message")!.getChildText("body")).toBe(FALLBACK);
    await alicePhone.xmpp.stop();
  });

  it("files no forged carbon: a 'received' wrapper from anyone but the own account, or a 'sent' carbon", async () => {
    const mallory = stockClient({ service: server.wsUrl, domain: server.domain, username: "mallory", password: "pw-m", resource: "x" });
    mallory.on("error", () => {});
    await mallory.start();
    const before = bob.filed.length;
    const forgedInner = await inlineStanza(rfc5322({ from: `alice@${server.domain}`, to: `bob@${server.domain}` }), "forged-1", { to: `bob@${server.domain}` });
    forgedInner.attrs.from = `alice@${server.domain}/thunderbird`;
    await mallory.send(
      xml("message", { to: `bob@${server.domain}/engine` }, xml("received", { xmlns: NS_CARBONS }, xml("forwarded", { xmlns: NS_FORWARD }, forgedInner))),
    );
    await sleep(500);
    expect(bob.filed.length).toBe(before);
    await mallory.stop();
  });

  it("a mail stanza from the recipient's own other client is not mail for it (no loop)", async () => {
    const before = bob.filed.length;
    const own = await phone(server, "bob", "pw-b", "phone", 0);
    const stanza = await inlineStanza(rfc5322({ from: `bob@${server.domain}`, to: `bob@${server.domain}` }), "self-1", { to: `bob@${server.domain}/engine` });
    await own.xmpp.send(stanza);
    await waitFor(() => true);
    await sleep(300);
    expect(bob.filed.length).toBe(before);
    await own.xmpp.stop();
  });
});
