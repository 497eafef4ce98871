// The receiving engine against a real Prosody (with MAM): file, then receipt; duplicates once; sender check;
// malformed payloads rejected without a receipt; failing storage leaves the mail unacknowledged; offline + MAM catch-up.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client as stockClient, xml, type StockClient } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { createLogger } from "../../src/core/log.js";
import { buildMessage, newMessageId } from "../../src/core/mime/build.js";
import { encodeBase64 } from "../../src/core/base64.js";
import { sha256Base64 } from "../../src/core/payload-crypto.js";
import { NS_MAIL } from "../../src/core/protocol.js";
import { MailSender } from "../../src/xmpp/mail-sender.js";
import { buildMailStanza } from "../../src/xmpp/mail-stanza.js";
import { MailReceiver, type FiledMail, type ReceiveOutcome } from "../../src/xmpp/receiver.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { ourSession, whenOnline } from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

const log = createLogger(() => {}, () => "debug");
const enc = new TextEncoder();

function mail(from: string, subject: string, messageId: string, body = "Hello over XMPP.\r\n"): Uint8Array {
  return enc.encode(`From: ${from}\r\nTo: alice@localhost\r\nSubject: ${subject}\r\nMessage-ID: <${messageId}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}`);
}



interface Alice {
  session: XmppSession;
  receiver: MailReceiver;
  filed: FiledMail[];
  outcomes: ReceiveOutcome[];
  sinkFails: boolean;
  addressBook: Map<string, string[]>;
  store: Map<string, unknown>;
}

function makeAlice(server: XmppServer, store = new Map<string, unknown>()): Alice {
  const s = ourSession(server, "alice", "pw-a", "tb");
  const a: Alice = { session: s, filed: [], outcomes: [], sinkFails: false, addressBook: new Map(), store, receiver: null as unknown as MailReceiver };
  a.receiver = new MailReceiver({
    session: s,
    log,
    sink: {
      async file(m) {
        await new Promise((r) => setTimeout(r, 150)); // durable storage takes a while; the receipt must wait for it
        if (a.sinkFails) throw new Error("disk full");
        a.filed.push(m);
      },
    },
    directory: {
      confirmedJids: async () => [],
      addressBookJids: async (address) => a.addressBook.get(address) ?? [],
      isKnown: async () => false,
    },
    store: { get: async (k) => store.get(k), set: async (k, v) => void store.set(k, v) },
  });
  const handle = a.receiver.handle.bind(a.receiver);
  a.receiver.handle = async (stanza, via) => {
    const outcome = await handle(stanza, via);
    if (outcome.status !== "ignored") a.outcomes.push(outcome);
    return outcome;
  };
  return a;
}

async function stock(server: XmppServer, user: string, password: string, resource = "stock"): Promise<{ xmpp: StockClient; inbox: Element[] }> {
  const xmpp = stockClient({ service: server.wsUrl, domain: server.domain, username: user, password, resource });
  xmpp.on("error", () => {});
  const inbox: Element[] = [];
  xmpp.on("stanza", (s: Element) => void (s.is("message") && inbox.push(s)));
  await xmpp.start();
  await xmpp.send(xml("presence"));
  return { xmpp, inbox };
}

async function startStockAs(user: string) {
  await serverRef.register(user, `pw-${user}`);
  return stock(serverRef, user, `pw-${user}`);
}
let serverRef: XmppServer;

async function until(pred: () => boolean, ms = 8_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stanzaFor(raw: Uint8Array, id: string, over: Partial<{ inline: string; size: number; sha256: string }> = {}) {
  return buildMailStanza({
    to: "alice@localhost",
    id,
    subject: "s",
    fallbackBody: "fallback",
    size: over.size ?? raw.length,
    sha256: over.sha256 ?? (await sha256Base64(raw)),
    payload: { inline: over.inline ?? encodeBase64(raw) },
  });
}

const filedReceipts = (inbox: Element[], id: string) => inbox.filter((m) => m.getChild("filed", NS_MAIL)?.attrs.id === id).length;
const rejection = (inbox: Element[], id: string) => inbox.find((m) => m.getChild("rejected", NS_MAIL)?.attrs.id === id)?.getChild("rejected", NS_MAIL)?.attrs.reason;

describe.each(testServers())("MailReceiver on %s", (kind) => {
  let server: XmppServer;
  let alice: Alice;
  let bob: Awaited<ReturnType<typeof stock>>;

  beforeAll(async () => {
    server = await startServer(kind, {
      users: [
        { user: "alice", password: "pw-a" },
        { user: "bob", password: "pw-b" },
      ],
      mam: true,
      upload: true,
    });
    serverRef = server;
    alice = makeAlice(server);
    alice.receiver.start();
    alice.session.start();
    await whenOnline(alice.session);
    bob = await stock(server, "bob", "pw-b");
  });
  afterAll(async () => {
    await bob?.xmpp.stop().catch(() => {});
    await alice?.session.stop();
    await server?.cleanup();
  });

  it("files byte-exact with a trace header, and sends the filed receipt only after storage finished", async () => {
    const raw = mail("Bob <bob@localhost>", "hello", "m1@localhost");
    await bob.xmpp.send(await stanzaFor(raw, "id-1"));
    await until(() => filedReceipts(bob.inbox, "id-1") === 1);
    expect(alice.filed).toHaveLength(1);
    const filed = alice.filed[0]!;
    const text = new TextDecoder().decode(filed.raw);
    expect(text).toMatch(/^X-Mail-Over-XMPP: from=bob@localhost; verified=yes; how=same-address; origin-id=id-1; received=\S+; e2e=no\r\n/);
    expect(filed.raw.slice(filed.raw.length - raw.length)).toEqual(raw);
    expect(filed).toMatchObject({ verified: true, fromJid: "bob@localhost", messageId: "<m1@localhost>" });
  });

  it("files a retransmission and a second copy of the same Message-ID once, acknowledging each", async () => {
    const raw = mail("bob@localhost", "dup", "m2@localhost");
    const before = alice.filed.length;
    const stanza = await stanzaFor(raw, "id-2");
    await bob.xmpp.send(stanza);
    await bob.xmpp.send(await stanzaFor(raw, "id-2"));
    await bob.xmpp.send(await stanzaFor(raw, "id-2b")); // same mail, new origin-id (e.g. resent by another path)
    await until(() => filedReceipts(bob.inbox, "id-2") === 2 && filedReceipts(bob.inbox, "id-2b") === 1);
    expect(alice.filed.length - before).toBe(1);
  });

  it("files a mail whose From is not the sending JID as unverified, unless the address book binds them", async () => {
    await bob.xmpp.send(await stanzaFor(mail("Carol <carol@example.org>", "spoof", "m3@localhost"), "id-3"));
    await until(() => filedReceipts(bob.inbox, "id-3") === 1);
    expect(alice.filed.at(-1)).toMatchObject({ verified: false, messageId: "<m3@localhost>" });
    expect(new TextDecoder().decode(alice.filed.at(-1)!.raw)).toContain("verified=no; how=mismatch");

    alice.addressBook.set("bob@work.example", ["bob@localhost"]);
    await bob.xmpp.send(await stanzaFor(mail("Bob at work <bob@work.example>", "work", "m4@localhost"), "id-4"));
    await until(() => filedReceipts(bob.inbox, "id-4") === 1);
    expect(alice.filed.at(-1)).toMatchObject({ verified: true, messageId: "<m4@localhost>" });
  });

  it.each([
    ["bad base64", { inline: "!!!!" }, "malformed"],
    ["a size that does not match", { size: 10 }, "malformed"],
    ["a wrong SHA-256", { sha256: "A".repeat(43) + "=" }, "hash-mismatch"],
    ["an oversize claim", { size: 26 * 1024 * 1024 }, "too-large"],
  ])("rejects %s with a reason, no receipt, nothing filed", async (_label, over, reason) => {
    const raw = mail("bob@localhost", "bad", `bad-${reason}@localhost`);
    const id = `bad-${Math.random().toString(36).slice(2)}`;
    const before = alice.filed.length;
    await bob.xmpp.send(await stanzaFor(raw, id, over));
    await until(() => rejection(bob.inbox, id) !== undefined);
    expect(rejection(bob.inbox, id)).toBe(reason);
    expect(filedReceipts(bob.inbox, id)).toBe(0);
    expect(alice.filed.length).toBe(before);
  });

  it("rejects a payload that is not a mail (no headers) as not-mime", async () => {
    const raw = enc.encode("just some bytes without any header structure at all");
    await bob.xmpp.send(await stanzaFor(raw, "id-nm"));
    await until(() => rejection(bob.inbox, "id-nm") !== undefined);
    expect(rejection(bob.inbox, "id-nm")).toBe("not-mime");
  });

  it("leaves a mail unacknowledged when storing fails, and files it when it comes again", async () => {
    const raw = mail("bob@localhost", "retry", "m5@localhost");
    alice.sinkFails = true;
    await bob.xmpp.send(await stanzaFor(raw, "id-5"));
    await until(() => alice.outcomes.some((o) => o.status === "failed"));
    await new Promise((r) => setTimeout(r, 200));
    expect(filedReceipts(bob.inbox, "id-5")).toBe(0);
    alice.sinkFails = false;
    await bob.xmpp.send(await stanzaFor(raw, "id-5"));
    await until(() => filedReceipts(bob.inbox, "id-5") === 1);
    expect(alice.filed.at(-1)?.messageId).toBe("<m5@localhost>");
  });

  it("files a large mail sent by our own sender through the encrypted upload", async () => {
    const bobSession = ourSession(server, "bob", "pw-b", "engine");
    bobSession.start();
    await whenOnline(bobSession);
    const sender = new MailSender({ session: bobSession, log, scheduler: realScheduler });
    sender.start();
    const raw = mail("bob@localhost", "big", "m6@localhost", "x".repeat(300_000) + "\r\n");
    const outcome = await sender.deliver({ to: "alice@localhost", raw, subject: "big", fallbackBody: "big" }, 20_000);
    expect(outcome).toMatchObject({ status: "filed", route: "external" });
    expect(alice.filed.at(-1)!.raw.slice(-raw.length)).toEqual(raw);
    await bobSession.stop();
  });

  it("carries a rich mail (HTML + text, Unicode, three attachments incl. binary) byte for byte", async () => {
    const bobSession = ourSession(server, "bob", "pw-b", "rich");
    bobSession.start();
    await whenOnline(bobSession);
    const sender = new MailSender({ session: bobSession, log, scheduler: realScheduler });
    sender.start();
    const raw = buildMessage(
      {
        from: "Bob Größ <bob@localhost>",
        to: ["Alice <alice@localhost>"],
        cc: [],
        bcc: [],
        replyTo: [],
        subject: "Grüße 日本語 😀",
        text: "Hallo Alice – the files.",
        html: "<p>Hallo Alice &ndash; <b>the files</b>.</p>",
        isPlainText: false,
        attachments: [
          { name: "bytes.bin", contentType: "application/octet-stream", data: Uint8Array.from({ length: 4096 }, (_, i) => i % 256) },
          { name: "Überweisung €.pdf", contentType: "application/pdf", data: enc.encode("%PDF-1.4 fake") },
          { name: "notes.txt", contentType: "text/plain", data: enc.encode("plain notes\n") },
        ],
      },
      { date: new Date(), messageId: newMessageId("localhost") },
    );
    const outcome = await sender.deliver({ to: "alice@localhost", raw, subject: "rich", fallbackBody: "rich" }, 20_000);
    expect(outcome.status).toBe("filed");
    const filed = alice.filed.at(-1)!;
    expect(filed.raw.slice(filed.raw.length - raw.length)).toEqual(raw);
    expect(filed).toMatchObject({ verified: true, subject: "Grüße 日本語 😀" });
    await bobSession.stop();
  });

  it("rejects a truncated MIME body as not-mime", async () => {
    const raw = enc.encode("From: bob@localhost\r\nMessage-ID: <t@localhost>\r\nContent-Type: multipart/mixed; boundary=XYZ\r\n\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\ncut off her");
    await bob.xmpp.send(await stanzaFor(raw, "id-trunc"));
    await until(() => rejection(bob.inbox, "id-trunc") !== undefined);
    expect(rejection(bob.inbox, "id-trunc")).toBe("not-mime");
  });

  it("does not let another account's mail with a borrowed Message-ID suppress (and falsely confirm) the real one", async () => {
    const mallory = await startStockAs("mallory");
    await mallory.xmpp.send(await stanzaFor(mail("mallory@localhost", "decoy", "victim@localhost"), "id-decoy"));
    await until(() => filedReceipts(mallory.inbox, "id-decoy") === 1);
    const before = alice.filed.length;
    await bob.xmpp.send(await stanzaFor(mail("bob@localhost", "genuine", "victim@localhost"), "id-genuine"));
    await until(() => filedReceipts(bob.inbox, "id-genuine") === 1);
    expect(alice.filed.length).toBe(before + 1);
    expect(alice.filed.at(-1)).toMatchObject({ fromJid: "bob@localhost", subject: "genuine" });
    await mallory.xmpp.stop();
  });

  it("drops a forged MAM result from another account", async () => {
    const before = alice.filed.length;
    const inner = await stanzaFor(mail("bob@localhost", "forged", "m7@localhost"), "id-7");
    inner.attrs.from = "bob@localhost/stock";
    await bob.xmpp.send(
      xml("message", { to: "alice@localhost/tb" }, xml("result", { xmlns: "urn:xmpp:mam:2", queryid: "anything", id: "x" }, xml("forwarded", { xmlns: "urn:xmpp:forward:0" }, inner))),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(alice.filed.length).toBe(before);
  });

  it("keeps the MAM position before a mail it could not store, and files it at the next catch-up", async () => {
    await alice.session.stop();
    const phone = await stock(server, "alice", "pw-a", "phone2");
    await bob.xmpp.send(await stanzaFor(mail("bob@localhost", "stuck", "m10@localhost"), "id-10"));
    await until(() => phone.inbox.some((m) => m.attrs.id === "id-10"));
    await phone.xmpp.stop();
    const broken = makeAlice(server, alice.store);
    broken.sinkFails = true;
    broken.receiver.start();
    broken.session.start();
    await whenOnline(broken.session);
    await until(() => broken.outcomes.some((o) => o.status === "failed"), 10_000);
    await broken.session.stop();
    const healthy = makeAlice(server, alice.store);
    healthy.receiver.start();
    healthy.session.start();
    await whenOnline(healthy.session);
    await until(() => healthy.filed.some((m) => m.messageId === "<m10@localhost>"), 10_000);
    await healthy.session.stop();
    alice.session.start();
    await whenOnline(alice.session);
  });

  it("files once what arrived while offline, and catches up from MAM what another client took", async () => {
    await alice.session.stop();
    // Offline: the server stores it and delivers it at the next login.
    await bob.xmpp.send(await stanzaFor(mail("bob@localhost", "offline", "m8@localhost"), "id-8"));
    await new Promise((r) => setTimeout(r, 300));
    const later = makeAlice(server, alice.store);
    later.receiver.start();
    later.session.start();
    await whenOnline(later.session);
    await until(() => filedReceipts(bob.inbox, "id-8") >= 1);
    expect(later.filed.filter((m) => m.messageId === "<m8@localhost>")).toHaveLength(1);
    await later.session.stop();

    // Another client of alice's is online and takes the next mail; our receiver is not running.
    const phone = await stock(server, "alice", "pw-a", "phone");
    await bob.xmpp.send(await stanzaFor(mail("bob@localhost", "taken", "m9@localhost"), "id-9"));
    await until(() => phone.inbox.some((m) => m.attrs.id === "id-9"));
    const third = makeAlice(server, alice.store);
    third.receiver.start();
    third.session.start();
    await whenOnline(third.session);
    await until(() => third.filed.some((m) => m.messageId === "<m9@localhost>"), 10_000);
    expect(third.filed.filter((m) => m.messageId === "<m8@localhost>")).toHaveLength(0); // not again
    await phone.xmpp.stop();
    await third.session.stop();
  });
});
