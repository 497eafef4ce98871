// Receiving mail over XMPP (docs/protocol.md §5–§6) against a real Prosody with MAM and file upload: alice runs our
// XmppSession with the MailReceiver, an in-memory sink (resolves after storing), directory and store; bob sends with
// our own session, carol with a stock @xmpp/client. Covers byte-exactness, "receipt only after the sink resolved",
// bursts of duplicates, the sender check over the wire, every rejection reason, forged carbons/MAM results, a failing
// sink, restarts, offline delivery and MAM catch-up; and measures send → filed-receipt latency.
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { encodeBase64 } from "../../src/core/base64.js";
import { sha256Base64 } from "../../src/core/payload-crypto.js";
import { NS_MAIL } from "../../src/core/protocol.js";
import { traceHeader } from "../../src/core/receive-rules.js";
import { MailReceiver, type FiledMail, type ReceiveOutcome } from "../../src/xmpp/receiver.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { downloadBytes } from "../../src/xmpp/upload.js";
import {
  externalStanza,
  filedReceipts,
  filler,
  inlineStanza,
  ourSession,
  rejections,
  rfc5322,
  sleep,
  stockPeer,
  uploadSealed,
  waitFor,
  whenOnline,
  type StockPeer,
} from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";


const RECEIVED_AT = new Date("2026-11-23T21:00:00.000Z");
const td = new TextDecoder();

/** Alice's side: a session, the receiver and in-memory host stand-ins whose behaviour each test can change. */
interface Alice {
  readonly session: XmppSession;
  receiver: MailReceiver;
  readonly filed: FiledMail[];
  /** performance.now() when sink.file() resolved, per origin-id. */
  readonly sinkResolvedAt: Map<string, number>;
  readonly outcomes: Array<{ id: string; outcome: ReceiveOutcome }>;
  sinkCalls: number;
  sinkDelayMs: number;
  sinkFails: boolean;
  /** When set, sink.file() never settles (as a Thunderbird import into a stale folder did). */
  sinkHangs: boolean;
  /** The rules of a deployed account (WebSocket off loopback): no loopback downloads. Default: the harness's own. */
  deployedRules: boolean;
  /** What the injected DNS answers, per host name; a name not in it does not resolve. */
  readonly dns: Map<string, string[]>;
  readonly lookups: string[];
  /** Every URL handed to the download (after the URL policy allowed it). */
  readonly downloads: string[];
}

interface Shared {
  readonly store: Map<string, unknown>;
  readonly confirmed: Map<string, string[]>;
  readonly addressBook: Map<string, string[]>;
  readonly known: Set<string>;
}

function makeAlice(server: XmppServer, shared: Shared, resource = "tb"): Alice {
  const session = ourSession(server, "alice", "pw-a", resource);
  const alice: Alice = {
    session,
    receiver: null as unknown as MailReceiver,
    filed: [],
    sinkResolvedAt: new Map(),
    outcomes: [],
    sinkCalls: 0,
    sinkDelayMs: 0,
    sinkFails: false,
    sinkHangs: false,
    deployedRules: false,
    dns: new Map(),
    lookups: [],
    downloads: [],
  };
  const receiver = new MailReceiver({
    session,
    log: { error() {}, warn() {}, info() {}, debug() {} },
    now: () => RECEIVED_AT,
    fileTimeoutMs: 1_500,
    get allowLoopbackDownloads() {
      return !alice.deployedRules;
    },
    resolveHost: async (host) => {
      alice.lookups.push(host);
      const addresses = alice.dns.get(host);
      if (!addresses) throw new Error(`${host} does not resolve`);
      return addresses;
    },
    download: (url, maxBytes, timeoutMs) => {
      alice.downloads.push(url);
      return downloadBytes(url, maxBytes, timeoutMs);
    },
    sink: {
      async file(mail) {
        alice.sinkCalls += 1;
        if (alice.sinkHangs) return new Promise<void>(() => {});
        if (alice.sinkDelayMs > 0) await sleep(alice.sinkDelayMs);
        if (alice.sinkFails) throw new Error("mail store unavailable");
        alice.filed.push(mail);
        alice.sinkResolvedAt.set(mail.originId, performance.now());
      },
    },
    directory: {
      confirmedJids: async (address) => shared.confirmed.get(address) ?? [],
      addressBookJids: async (address) => shared.addressBook.get(address) ?? [],
      isKnown: async (jid) => shared.known.has(jid),
    },
    store: {
      get: async (key) => structuredClone(shared.store.get(key)),
      set: async (key, value) => void shared.store.set(key, structuredClone(value)),
    },
  });
  // Record every outcome the pipeline reports (live and MAM alike).
  const handle = receiver.handle.bind(receiver);
  receiver.handle = async (stanza, via) => {
    const outcome = await handle(stanza, via);
    const inner = stanza.attrs.id ?? "";
    if (outcome.status !== "ignored") alice.outcomes.push({ id: inner, outcome });
    return outcome;
  };
  alice.receiver = receiver as MailReceiver;
  return alice;
}

/** Bob: our own session, with every message it receives and its arrival time. */
interface Bob {
  readonly session: XmppSession;
  readonly inbox: Element[];
  readonly arrivals: Map<Element, number>;
  send(stanza: Element): Promise<number>;
}

async function makeBob(server: XmppServer): Promise<Bob> {
  const session = ourSession(server, "bob", "pw-b", "engine");
  const inbox: Element[] = [];
  const arrivals = new Map<Element, number>();
  session.onStanza((s) => {
    if (!s.is("message")) return;
    arrivals.set(s, performance.now());
    inbox.push(s);
  });
  session.start();
  await whenOnline(session);
  return {
    session,
    inbox,
    arrivals,
    async send(stanza) {
      const t0 = performance.now();
      const outcome = await session.send(stanza, 10_000);
      if (outcome.status !== "acked") throw new Error(`bob could not send: ${JSON.stringify(outcome)}`);
      return t0;
    },
  };
}

const uid = (prefix: string) => `${prefix}-${crypto.randomUUID()}`;

describe.each(testServers())("receiving mail over XMPP (MailReceiver on a real %s)", (kind) => {
  let server: XmppServer;
  const shared: Shared = { store: new Map(), confirmed: new Map(), addressBook: new Map(), known: new Set() };
  let alice: Alice;
  let bob: Bob;
  let carol: StockPeer;

  beforeAll(async () => {
    server = await startServer(kind, {
      users: [
        { user: "alice", password: "pw-a" },
        { user: "bob", password: "pw-b" },
        { user: "carol", password: "pw-c" },
        { user: "mallory", password: "pw-m" },
      ],
      mam: true,
      upload: true,
    });
    alice = makeAlice(server, shared);
    alice.receiver.start();
    alice.session.start();
    await whenOnline(alice.session);
    bob = await makeBob(server);
    carol = await stockPeer(server, "carol", "pw-c");
  });

  afterAll(async () => {
    await carol?.xmpp.stop().catch(() => {});
    await bob?.session.stop();
    await alice?.session.stop();
    await server?.cleanup();
  });

  it("files an inline mail byte-exact behind exactly one trace header, and the filed receipt reaches the sender only after the sink resolved", async () => {
    alice.sinkDelayMs = 300;
    try {
      // 8-bit text, a folded header, a bare LF in the body and trailing whitespace: nothing may be normalised.
      const raw = rfc5322({
        from: "Bob Example <bob@localhost>",
        subject: "=?utf-8?q?Gr=C3=BC=C3=9Fe?=",
        headers: ["X-Folded: one,", "\ttwo", "Content-Transfer-Encoding: 8bit"],
        body: "Grüße aus Köln \r\nbare\nLF  \r\n",
      });
      const id = uid("exact");
      const sentAt = await bob.send(await inlineStanza(raw, id));
      await waitFor(() => filedReceipts(bob.inbox, id).length === 1, 8_000, "filed receipt");
      const receipt = filedReceipts(bob.inbox, id)[0]!;
      const receiptAt = bob.arrivals.get(receipt)!;
      const resolvedAt = alice.sinkResolvedAt.get(id)!;
      expect(resolvedAt).toBeDefined();
      expect(receiptAt).toBeGreaterThan(resolvedAt);
      expect(receiptAt - sentAt).toBeGreaterThanOrEqual(300);
      // XEP-0184 and our marker, addressed to the sending resource.
      expect(receipt.getChild("received", "urn:xmpp:receipts")?.attrs.id).toBe(id);
      expect(receipt.attrs.from).toMatch(/^alice@localhost\//);

      const filed = alice.filed.find((m) => m.originId === id)!;
      const header = traceHeader({ fromJid: "bob@localhost", verified: true, how: "same-address", originId: id, receivedAt: RECEIVED_AT, e2e: false });
      const expected = new Uint8Array([...new TextEncoder().encode(header), ...raw]);
      expect(filed.raw).toEqual(expected);
      expect(td.decode(filed.raw).match(/^X-Mail-Over-XMPP:/gm)).toHaveLength(1);
      expect(filed).toMatchObject({ verified: true, fromJid: "bob@localhost", originId: id, subject: "Grüße" });
      expect(filed.messageId).toMatch(/^<.+@test\.invalid>$/);
    } finally {
      alice.sinkDelayMs = 0;
    }
  });

  it("files a burst of the same stanza once (processing is serialized) and acknowledges every copy", async () => {
    alice.sinkDelayMs = 200; // the copies arrive while the first one is still being stored
    try {
      const raw = rfc5322({ from: "bob@localhost", subject: "burst" });
      const id = uid("burst");
      const copies = await Promise.all([inlineStanza(raw, id), inlineStanza(raw, id), inlineStanza(raw, id)]);
      await Promise.all(copies.map((c) => bob.send(c)));
      await waitFor(() => filedReceipts(bob.inbox, id).length === 3, 8_000, "three receipts");
      expect(alice.filed.filter((m) => m.originId === id)).toHaveLength(1);
      await waitFor(() => alice.outcomes.filter((o) => o.id === id).length === 3);
      expect(alice.outcomes.filter((o) => o.id === id).map((o) => o.outcome.status).sort()).toEqual(["duplicate", "duplicate", "filed"]);
    } finally {
      alice.sinkDelayMs = 0;
    }
  });

  it("files the same Message-ID under a new origin-id once, acknowledging both", async () => {
    const raw = rfc5322({ from: "bob@localhost", subject: "again", messageId: `${uid("mid")}@localhost` });
    const first = uid("mid-a");
    const second = uid("mid-b");
    await bob.send(await inlineStanza(raw, first));
    await waitFor(() => filedReceipts(bob.inbox, first).length === 1);
    // The Message-ID matches case-insensitively, so a re-encoded copy counts as the same mail.
    const shouted = new TextEncoder().encode(td.decode(raw).replace(/Message-ID: <([^>]+)>/, (_m, v: string) => `Message-ID: <${v.toUpperCase()}>`));
    await bob.send(await inlineStanza(shouted, second));
    await waitFor(() => filedReceipts(bob.inbox, second).length === 1);
    expect(alice.filed.filter((m) => m.originId === first || m.originId === second)).toHaveLength(1);
    await waitFor(() => alice.outcomes.some((o) => o.id === second));
    expect(alice.outcomes.find((o) => o.id === second)?.outcome).toEqual({ status: "duplicate" });
  });

  it.each([
    ["another account's address (spoofed From)", "Carol <carol@localhost>", {}, { verified: false, how: "mismatch" }],
    ["a display name that looks like the JID", '"bob@localhost" <carol@evil.example>', {}, { verified: false, how: "mismatch" }],
    ["two From addresses", "bob@localhost, carol@localhost", {}, { verified: false, how: "multiple-from" }],
    // Thunderbird shows this as "<bob@localhost>" <ceo@bank.example>: before, the tolerant parser read bob@localhost.
    ["the JID in a display-name-like angle-addr, then the real one", "<bob@localhost> <ceo@bank.example>", {}, { verified: false, how: "unclear-from" }],
    ["a mailbox with text after it", "Bob <bob@localhost> (really ceo@bank.example)", {}, { verified: false, how: "unclear-from" }],
    ["an address the user confirmed for bob's JID", "Bob <bob@work.example>", { confirmed: true }, { verified: true, how: "confirmed-mapping" }],
    ["an address whose address-book contact holds bob's JID", "Bob <bob@home.example>", { addressBook: true }, { verified: true, how: "address-book" }],
    ["bob's own address, in other case", "BOB@LOCALHOST", {}, { verified: true, how: "same-address" }],
  ])("checks the sender over the wire: %s", async (_label, from, bind: { confirmed?: boolean; addressBook?: boolean }, want) => {
    shared.confirmed.set("bob@work.example", bind.confirmed ? ["bob@localhost"] : []);
    shared.addressBook.set("bob@home.example", bind.addressBook ? ["bob@localhost"] : []);
    const id = uid("sender");
    await bob.send(await inlineStanza(rfc5322({ from }), id));
    await waitFor(() => filedReceipts(bob.inbox, id).length === 1);
    const filed = alice.filed.find((m) => m.originId === id)!;
    expect(filed.verified).toBe(want.verified);
    expect(td.decode(filed.raw)).toMatch(new RegExp(`^X-Mail-Over-XMPP: from=bob@localhost; verified=${want.verified ? "yes" : "no"}; how=${want.how};`));
    if (want.how === "address-book") expect(filed.known).toBe(true);
  });

  it("marks a verified sender as known when the directory knows the JID", async () => {
    shared.known.add("bob@localhost");
    try {
      const id = uid("known");
      await bob.send(await inlineStanza(rfc5322({ from: "bob@localhost" }), id));
      await waitFor(() => filedReceipts(bob.inbox, id).length === 1);
      expect(alice.filed.find((m) => m.originId === id)).toMatchObject({ verified: true, known: true });
    } finally {
      shared.known.delete("bob@localhost");
    }
  });

  describe("rejects what it cannot accept, with the reason, no receipt, without calling the sink", () => {
    const expectRejected = async (id: string, reason: string) => {
      await waitFor(() => rejections(bob.inbox, id).length > 0, 8_000, `rejection of ${id}`);
      expect(rejections(bob.inbox, id)[0]).toBe(reason);
      await sleep(100);
      expect(filedReceipts(bob.inbox, id)).toHaveLength(0);
      expect(alice.filed.some((m) => m.originId === id)).toBe(false);
      expect(alice.session.status.state).toBe("online");
    };

    it.each([
      ["bad base64 (a character outside the alphabet)", (b64: string) => ({ inline: `${b64.slice(0, -4)}A!A=` }), "malformed"],
      ["base64 with a line break", (b64: string) => ({ inline: `${b64.slice(0, 8)}\n${b64.slice(9)}` }), "malformed"],
      ["a size that does not match the bytes", (_b64: string, n: number) => ({ size: n - 1 }), "malformed"],
      ["a wrong SHA-256", () => ({ sha256: `${"A".repeat(43)}=` }), "hash-mismatch"],
      ["a size above the limit (26 MiB)", () => ({ size: 26 * 1024 * 1024 }), "too-large"],
    ])("inline: %s", async (_label, breakIt, reason) => {
      const raw = rfc5322({ from: "bob@localhost" });
      const id = uid("bad");
      const calls = alice.sinkCalls;
      await bob.send(await inlineStanza(raw, id, breakIt(encodeBase64(raw), raw.length)));
      await expectRejected(id, reason);
      expect(alice.sinkCalls).toBe(calls);
    });

    it.each([
      ["a multipart mail cut off before its closing boundary", rfc5322({ from: "bob@localhost", headers: ['Content-Type: multipart/mixed; boundary="b1"'], body: "--b1\r\nContent-Type: text/plain\r\n\r\nhalf a mail" })],
      ["bytes without any header", new TextEncoder().encode("no headers here, just text\r\n")],
      ["a header line without a colon", new TextEncoder().encode("From bob@localhost\r\nSubject: x\r\n\r\nbody")],
      ["MIME nested 25 deep", nested(25)],
      ["a mail without a From header", new TextEncoder().encode("To: alice@localhost\r\nSubject: x\r\nMessage-ID: <nf@x>\r\n\r\nbody\r\n")],
      // Thunderbird reads the author as ceo@bank.example in both (NUL ends its value; a bare CR starts a new line).
      ["a NUL in the From header", new TextEncoder().encode("From: ceo@bank.example\u0000 <bob@localhost>\r\nSubject: x\r\n\r\nbody\r\n")],
      ["a bare CR hiding a second From", new TextEncoder().encode("X-A: b\rFrom: ceo@bank.example\r\nFrom: bob@localhost\r\nSubject: x\r\n\r\nbody\r\n")],
    ])("not-mime: %s", async (_label, raw) => {
      const id = uid("nm");
      const calls = alice.sinkCalls;
      await bob.send(await inlineStanza(raw, id));
      await expectRejected(id, "not-mime");
      expect(alice.sinkCalls).toBe(calls);
    });

    it("accepts MIME nested 19 deep (the bound is 20)", async () => {
      const id = uid("deep-ok");
      await bob.send(await inlineStanza(nested(19), id));
      await waitFor(() => filedReceipts(bob.inbox, id).length === 1);
    });

    it("external: the download fails (404)", async () => {
      const raw = rfc5322({ from: "bob@localhost" });
      const id = uid("dl");
      const ref = { url: `${server.httpUrl}/file_share/${crypto.randomUUID()}/mail.bin`, size: raw.length + 16, cipher: "aes-256-gcm" as const, key: encodeBase64(new Uint8Array(32)), iv: encodeBase64(new Uint8Array(12)) };
      await bob.send(externalStanza(id, raw.length, await sha256Base64(raw), ref));
      await expectRejected(id, "download-failed");
    });

    // One reason for every failure of an external payload (issue 12 finding 3): the answer must not tell a sender
    // what a URL returned. Before, these were decrypt-failed, hash-mismatch and policy.
    it("external: a wrong key (really uploaded ciphertext) answers download-failed", async () => {
      const raw = rfc5322({ from: "bob@localhost", body: filler(2_000) });
      const { ref, sha256 } = await uploadSealed(bob.session, server.domain, raw);
      const id = uid("key");
      await bob.send(externalStanza(id, raw.length, sha256, { ...ref, key: encodeBase64(crypto.getRandomValues(new Uint8Array(32))) }));
      await expectRejected(id, "download-failed");
    });

    it("external: the decrypted mail does not match its SHA-256 answers download-failed", async () => {
      const raw = rfc5322({ from: "bob@localhost", body: filler(2_000) });
      const { ref } = await uploadSealed(bob.session, server.domain, raw);
      const id = uid("xhash");
      await bob.send(externalStanza(id, raw.length, await sha256Base64(new TextEncoder().encode("something else")), ref));
      await expectRejected(id, "download-failed");
    });

    it("external: a plain-http URL off loopback answers download-failed, without a download", async () => {
      const raw = rfc5322({ from: "bob@localhost" });
      const id = uid("http");
      const downloads = alice.downloads.length;
      const ref = { url: "http://upload.example.org/mail.bin", size: raw.length + 16, cipher: "aes-256-gcm" as const, key: encodeBase64(new Uint8Array(32)), iv: encodeBase64(new Uint8Array(12)) };
      await bob.send(externalStanza(id, raw.length, await sha256Base64(raw), ref));
      await expectRejected(id, "download-failed");
      expect(alice.downloads.length).toBe(downloads);
    });

    it("external: a key or IV that is not base64 of 32 / 12 octets is malformed, without a download", async () => {
      const raw = rfc5322({ from: "bob@localhost" });
      const downloads = alice.downloads.length;
      for (const bad of [{ key: "c2hvcnQ=" }, { iv: encodeBase64(new Uint8Array(16)) }]) {
        const id = uid("keyiv");
        const ref = { url: `${server.httpUrl}/file_share/x/mail.bin`, size: raw.length + 16, cipher: "aes-256-gcm" as const, key: encodeBase64(new Uint8Array(32)), iv: encodeBase64(new Uint8Array(12)), ...bad };
        await bob.send(externalStanza(id, raw.length, await sha256Base64(raw), ref));
        await expectRejected(id, "malformed");
      }
      expect(alice.downloads.length).toBe(downloads);
    });

    it("external, the happy path: a really uploaded mail is filed byte-exact", async () => {
      const raw = rfc5322({ from: "bob@localhost", body: filler(40_000) });
      const { ref, sha256 } = await uploadSealed(bob.session, server.domain, raw);
      const id = uid("ext");
      await bob.send(externalStanza(id, raw.length, sha256, ref));
      await waitFor(() => filedReceipts(bob.inbox, id).length === 1);
      expect(alice.filed.find((m) => m.originId === id)!.raw.slice(-raw.length)).toEqual(raw);
    });
  });

  it("files a burst of copies of one external mail once, downloading it once, while downloads run in parallel", async () => {
    alice.sinkDelayMs = 200;
    try {
      const raw = rfc5322({ from: "bob@localhost", subject: "burst by upload", body: filler(20_000) });
      const { ref, sha256 } = await uploadSealed(bob.session, server.domain, raw);
      const id = uid("xburst");
      await Promise.all([0, 1, 2].map(() => bob.send(externalStanza(id, raw.length, sha256, ref))));
      await waitFor(() => filedReceipts(bob.inbox, id).length === 3, 8_000, "three receipts");
      expect(alice.filed.filter((m) => m.originId === id)).toHaveLength(1);
      expect(alice.downloads.filter((url) => url === ref.url)).toHaveLength(1);
      await waitFor(() => alice.outcomes.filter((o) => o.id === id).length === 3);
      expect(alice.outcomes.filter((o) => o.id === id).map((o) => o.outcome.status).sort()).toEqual(["duplicate", "duplicate", "filed"]);
      // Later copies (a MAM copy after the filing) are not downloaded again either.
      const archived = externalStanza(id, raw.length, sha256, ref);
      archived.attrs.from = "bob@localhost/engine";
      expect(await alice.receiver.handle(archived, "mam")).toEqual({ status: "duplicate" });
      expect(alice.downloads.filter((url) => url === ref.url)).toHaveLength(1);
    } finally {
      alice.sinkDelayMs = 0;
    }
  });

  describe("external payloads from a hostile sender (issue 12 findings 3 and 5)", () => {
    /** A small HTTP server on 127.0.0.2 (all of 127/8 is loopback on Linux): a service in the user's own network. */
    interface Lan {
      readonly server: Server;
      readonly port: number;
      readonly requests: string[];
      readonly hanging: ServerResponse[];
      readonly bodies: Map<string, Uint8Array>;
      readonly redirects: Map<string, string>;
      hang: boolean;
    }
    let lan: Lan;
    /** The hostile sender: an ordinary account. */
    let mallory: StockPeer;

    beforeAll(async () => {
      mallory = await stockPeer(server, "mallory", "pw-m");
      const requests: string[] = [];
      const hanging: ServerResponse[] = [];
      const bodies = new Map<string, Uint8Array>();
      const redirects = new Map<string, string>();
      const http = createServer((req, res) => {
        const path = req.url ?? "/";
        requests.push(path);
        const cors = { "Access-Control-Allow-Origin": "*" };
        if (path.startsWith("/hang/") && lan.hang) hanging.push(res); // accepted, never answered
        else if (redirects.has(path)) res.writeHead(302, { ...cors, Location: redirects.get(path)! }).end();
        else if (bodies.has(path)) res.writeHead(200, { ...cors, "Content-Type": "application/octet-stream" }).end(bodies.get(path));
        else res.writeHead(404, cors).end();
      });
      await new Promise<void>((resolve, reject) => {
        http.once("error", reject);
        http.listen(0, "127.0.0.2", () => resolve());
      });
      lan = { server: http, port: (http.address() as AddressInfo).port, requests, hanging, bodies, redirects, hang: true };
    });

    afterAll(async () => {
      await mallory?.xmpp.stop().catch(() => {});
      if (!lan) return;
      lan.hang = false;
      for (const res of lan.hanging) res.destroy();
      lan.server.closeAllConnections();
      await new Promise((r) => lan.server.close(r));
    });

    const zeroRef = (url: string, mailSize: number) => ({
      url,
      size: mailSize + 16,
      cipher: "aes-256-gcm" as const,
      key: encodeBase64(new Uint8Array(32)),
      iv: encodeBase64(new Uint8Array(12)),
    });
    const waitRejected = async (inbox: Element[], id: string) => {
      await waitFor(() => rejections(inbox, id).length > 0, 8_000, `answer to ${id}`);
      return rejections(inbox, id)[0];
    };

    it("a deployed account fetches nothing from loopback, LAN, link-local or unique-local hosts, by literal or by name", async () => {
      alice.deployedRules = true;
      const names: Record<string, string[]> = {
        "files.lan-of-alice.example.net": ["192.168.1.20"],
        "metadata.cloud-of-alice.net": ["169.254.169.254"],
        "mixed.example.net": ["93.184.216.34", "10.1.2.3"], // one private address is enough
        "v6.example.net": ["2a00:1450:4001:80b::200e", "fd00::1"],
        "mapped.example.net": ["::ffff:127.0.0.2"],
        "cgnat.example.net": ["100.64.0.7"],
        "to-the-lan-server.example.net": ["127.0.0.2"],
      };
      for (const [name, addresses] of Object.entries(names)) alice.dns.set(name, addresses);
      const p = lan.port;
      const urls = [
        `http://127.0.0.2:${p}/a`,
        `http://127.2:${p}/b`,
        `http://0x7f.0.0.2:${p}/c`,
        `http://2130706434:${p}/d`,
        `https://127.0.0.2:${p}/e`,
        `http://localhost:${p}/f`,
        `http://[::1]:${p}/g`,
        `https://[fd00::1]/h`,
        "https://10.0.0.1/i",
        "https://169.254.169.254/latest/meta-data/",
        "https://intranet/j",
        "https://printer.local/k",
        ...Object.keys(names).map((name) => `https://${name}/mail.bin`),
      ];
      const downloads = alice.downloads.length;
      try {
        const raw = rfc5322({ from: "mallory@localhost" });
        const sha256 = await sha256Base64(raw);
        const ids = urls.map(() => uid("lan"));
        for (const [i, url] of urls.entries()) await mallory.xmpp.send(externalStanza(ids[i]!, raw.length, sha256, zeroRef(url, raw.length)));
        for (const id of ids) expect(await waitRejected(mallory.inbox, id)).toBe("download-failed");
        expect(lan.requests, "no request reached the LAN server").toEqual([]);
        expect(alice.downloads.length, "nothing handed to the download").toBe(downloads);
        expect(new Set(alice.lookups)).toEqual(new Set(Object.keys(names))); // names resolved; literals never were
        expect(alice.filed.some((m) => ids.includes(m.originId))).toBe(false);
      } finally {
        alice.deployedRules = false;
      }
    });

    it("a redirect is not followed, even from one loopback server to the real upload", async () => {
      const raw = rfc5322({ from: "bob@localhost", body: filler(2_000) });
      const { ref, sha256 } = await uploadSealed(bob.session, server.domain, raw);
      lan.redirects.set("/redirect-to-upload", ref.url);
      const id = uid("redirect");
      const before = lan.requests.length;
      await bob.send(externalStanza(id, raw.length, sha256, { ...ref, url: `http://127.0.0.2:${lan.port}/redirect-to-upload` }));
      expect(await waitRejected(bob.inbox, id)).toBe("download-failed");
      expect(lan.requests.slice(before)).toEqual(["/redirect-to-upload"]);
      expect(alice.filed.some((m) => m.originId === id)).toBe(false);
    });

    it("the answer does not tell how many bytes a URL returned (size N and N-1 alike)", async () => {
      // 100 bytes that are not ciphertext of anything: a resource the sender wants to measure.
      lan.bodies.set("/secret", crypto.getRandomValues(new Uint8Array(100)));
      const url = `http://127.0.0.2:${lan.port}/secret`;
      const answers: Record<string, string | undefined> = {};
      for (const [label, ciphertextSize] of [["N", 100], ["N-1", 99], ["N+1", 101]] as const) {
        const mailSize = ciphertextSize - 16;
        const id = uid(`probe-${label}`);
        await mallory.xmpp.send(externalStanza(id, mailSize, `${"A".repeat(43)}=`, zeroRef(url, mailSize)));
        answers[label] = await waitRejected(mallory.inbox, id);
      }
      const missing = uid("probe-404");
      await mallory.xmpp.send(externalStanza(missing, 84, `${"A".repeat(43)}=`, zeroRef(`http://127.0.0.2:${lan.port}/nothing-here`, 84)));
      answers["404"] = await waitRejected(mallory.inbox, missing);
      expect(answers).toEqual({ N: "download-failed", "N-1": "download-failed", "N+1": "download-failed", 404: "download-failed" });
    });

    it("a sender whose downloads hang holds two slots at most, and another sender's mail is filed meanwhile", async () => {
      const raw = rfc5322({ from: "mallory@localhost" });
      const sha256 = await sha256Base64(raw);
      const hostile = Array.from({ length: 12 }, () => uid("hang"));
      const hangingBefore = lan.hanging.length;
      try {
        for (const [i, id] of hostile.entries()) {
          await mallory.xmpp.send(externalStanza(id, raw.length, sha256, zeroRef(`http://127.0.0.2:${lan.port}/hang/${i}`, raw.length)));
        }
        await waitFor(() => lan.hanging.length - hangingBefore === 2, 5_000, "two hanging downloads");
        // 2 running, 8 waiting, the last 2 refused at once: that sender falls back to SMTP for them.
        await waitFor(() => hostile.filter((id) => rejections(mallory.inbox, id).length > 0).length === 2, 5_000, "two refusals");
        expect(hostile.slice(10).map((id) => rejections(mallory.inbox, id)[0])).toEqual(["download-failed", "download-failed"]);

        // bob's mail, inline and by upload, while mallory's downloads hang.
        const t0 = performance.now();
        const inline = uid("meanwhile-inline");
        await bob.send(await inlineStanza(rfc5322({ from: "bob@localhost", subject: "meanwhile" }), inline));
        const big = rfc5322({ from: "bob@localhost", subject: "meanwhile, by upload", body: filler(20_000) });
        const sealed = await uploadSealed(bob.session, server.domain, big);
        const external = uid("meanwhile-external");
        await bob.send(externalStanza(external, big.length, sealed.sha256, sealed.ref));
        await waitFor(() => filedReceipts(bob.inbox, inline).length === 1 && filedReceipts(bob.inbox, external).length === 1, 5_000, "bob's mail filed");
        console.log(`[measure] ${kind}: another sender's inline + external mail filed ${(performance.now() - t0).toFixed(0)} ms after sending, while 2 downloads hang and 8 wait`);
        expect(lan.hanging.length - hangingBefore, "still two: the per-sender limit").toBe(2);
      } finally {
        // The hanging server gives up: every download of mallory's ends, each answered (nothing silently dropped).
        lan.hang = false;
        for (const res of lan.hanging.splice(0)) res.destroy();
      }
      await waitFor(() => hostile.every((id) => rejections(mallory.inbox, id).length === 1), 10_000, "every hostile stanza answered");
      expect(hostile.every((id) => rejections(mallory.inbox, id)[0] === "download-failed")).toBe(true);
    });
  });

  it("ignores non-mail messages and survives garbage without replying or going offline", async () => {
    const before = bob.inbox.length;
    const calls = alice.sinkCalls;
    const to = "alice@localhost";
    await bob.send(xml("message", { to, type: "chat", id: uid("chat") }, xml("body", {}, "hi")));
    await bob.send(xml("message", { to, type: "headline" }, xml("mail", { xmlns: NS_MAIL, size: "1", sha256: "x" })));
    await bob.send(xml("message", { to }, xml("mail", { xmlns: NS_MAIL }))); // no id, no size: nobody to answer
    await bob.send(xml("message", { to, id: uid("nested") }, xml("x", { xmlns: "urn:example" }, xml("mail", { xmlns: NS_MAIL }, xml("inline", {}, "AAAA")))));
    await sleep(300);
    expect(bob.inbox.slice(before).filter((m) => m.getChild("filed", NS_MAIL) || m.getChild("rejected", NS_MAIL))).toHaveLength(0);
    expect(alice.sinkCalls).toBe(calls);
    const id = uid("after-garbage");
    await bob.send(await inlineStanza(rfc5322({ from: "bob@localhost" }), id));
    await waitFor(() => filedReceipts(bob.inbox, id).length === 1);
    expect(alice.session.status.state).toBe("online");
  });

  it("drops forged carbons and forged MAM results from another account", async () => {
    const calls = alice.sinkCalls;
    const inner = async (id: string) => {
      const m = await inlineStanza(rfc5322({ from: "bob@localhost", subject: "forged" }), id);
      m.attrs.from = "bob@localhost/engine";
      return m;
    };
    const carbonId = uid("carbon");
    const mamId = uid("mam");
    await carol.xmpp.send(
      xml("message", { to: "alice@localhost/tb", id: uid("c") }, xml("received", { xmlns: "urn:xmpp:carbons:2" }, xml("forwarded", { xmlns: "urn:xmpp:forward:0" }, await inner(carbonId)))),
    );
    await carol.xmpp.send(
      xml(
        "message",
        { to: "alice@localhost/tb", id: uid("r") },
        xml("result", { xmlns: "urn:xmpp:mam:2", queryid: "guess", id: "1" }, xml("forwarded", { xmlns: "urn:xmpp:forward:0" }, xml("delay", { xmlns: "urn:xmpp:delay", stamp: "2026-11-23T20:00:00Z" }), await inner(mamId))),
      ),
    );
    await sleep(400);
    expect(alice.sinkCalls).toBe(calls);
    expect(alice.filed.some((m) => m.originId === carbonId || m.originId === mamId)).toBe(false);
    expect(filedReceipts(bob.inbox, carbonId)).toHaveLength(0);
    expect(carol.inbox.filter((m) => m.getChild("filed", NS_MAIL) || m.getChild("rejected", NS_MAIL))).toHaveLength(0);
  });

  it("leaves a mail unacknowledged and unremembered when the sink fails, and files it when it comes again", async () => {
    const raw = rfc5322({ from: "bob@localhost", subject: "retry" });
    const id = uid("sinkfail");
    alice.sinkFails = true;
    try {
      await bob.send(await inlineStanza(raw, id));
      await waitFor(() => alice.outcomes.some((o) => o.id === id));
      expect(alice.outcomes.find((o) => o.id === id)?.outcome).toMatchObject({ status: "failed", error: "mail store unavailable" });
      await sleep(200);
      expect(filedReceipts(bob.inbox, id)).toHaveLength(0);
      expect(rejections(bob.inbox, id)).toHaveLength(0);
      expect(JSON.stringify(shared.store.get("dedupe") ?? [])).not.toContain(id);
    } finally {
      alice.sinkFails = false;
    }
    await bob.send(await inlineStanza(raw, id));
    await waitFor(() => filedReceipts(bob.inbox, id).length === 1);
    expect(alice.filed.filter((m) => m.originId === id)).toHaveLength(1);
  });

  it("gives up on a sink that never settles (no receipt), and goes on receiving the next mail", async () => {
    const id = uid("hang");
    alice.sinkHangs = true;
    try {
      await bob.send(await inlineStanza(rfc5322({ from: "bob@localhost", subject: "hangs" }), id));
      await waitFor(() => alice.outcomes.some((o) => o.id === id), 5_000, "the hanging filing given up");
      expect(alice.outcomes.find((o) => o.id === id)?.outcome).toMatchObject({ status: "failed", error: expect.stringMatching(/longer than 1500 ms/) });
    } finally {
      alice.sinkHangs = false;
    }
    expect(filedReceipts(bob.inbox, id)).toHaveLength(0);
    const next = uid("after-hang");
    await bob.send(await inlineStanza(rfc5322({ from: "bob@localhost", subject: "next" }), next));
    await waitFor(() => filedReceipts(bob.inbox, next).length === 1, 5_000, "the next mail filed");
  });

  it("measures send → filed receipt for a 10 KB inline mail (median of 10)", async () => {
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const raw = rfc5322({ from: "bob@localhost", subject: `latency ${i}`, body: filler(10_000) });
      const id = uid("lat");
      const stanza = await inlineStanza(raw, id);
      const t0 = performance.now();
      void bob.session.send(stanza, 10_000);
      await waitFor(() => filedReceipts(bob.inbox, id).length === 1, 5_000);
      samples.push(bob.arrivals.get(filedReceipts(bob.inbox, id)[0]!)! - t0);
    }
    samples.sort((a, b) => a - b);
    const median = (samples[4]! + samples[5]!) / 2;
    console.log(`[measure] 10 KB inline mail, send → filed receipt: median ${median.toFixed(1)} ms (min ${samples[0]!.toFixed(1)}, max ${samples[9]!.toFixed(1)})`);
    expect(median).toBeLessThan(1_000);
  });

  describe("restarts, offline delivery and MAM catch-up", () => {
    it("remembers what it filed across a restart (persisted dedupe): the same stanza is acknowledged, not filed again", async () => {
      const raw = rfc5322({ from: "bob@localhost", subject: "persisted" });
      const id = uid("persist");
      await bob.send(await inlineStanza(raw, id));
      await waitFor(() => filedReceipts(bob.inbox, id).length === 1);
      // Bring alice's receiver up to date with her archive, so the next login starts here.
      await alice.receiver.catchUp();
      await alice.session.stop();
      const receiptsBefore = filedReceipts(bob.inbox, id).length;

      alice = makeAlice(server, shared);
      alice.receiver.start();
      alice.session.start();
      await whenOnline(alice.session);
      await bob.send(await inlineStanza(raw, id));
      await waitFor(() => alice.outcomes.some((o) => o.id === id), 8_000, "retransmission handled");
      await waitFor(() => filedReceipts(bob.inbox, id).length > receiptsBefore);
      expect(alice.filed).toHaveLength(0);
      // The live copy, and (when the login catch-up's query ran after it was archived) its MAM copy: both duplicates.
      expect(alice.outcomes.filter((o) => o.id === id).map((o) => o.outcome.status)).toContain("duplicate");
      expect(alice.outcomes.filter((o) => o.id === id).every((o) => o.outcome.status === "duplicate")).toBe(true);
    });

    it("files a mail that arrived while alice was offline once, and a later MAM catch-up does not file it again", async () => {
      await alice.receiver.catchUp(); // position = now
      await alice.session.stop();
      const id = uid("offline");
      await bob.send(await inlineStanza(rfc5322({ from: "bob@localhost", subject: "while you were away" }), id));
      await sleep(200);
      expect(filedReceipts(bob.inbox, id)).toHaveLength(0); // nobody filed it yet: "accepted for later"

      alice = makeAlice(server, shared);
      alice.receiver.start();
      alice.session.start();
      await whenOnline(alice.session);
      await waitFor(() => alice.filed.some((m) => m.originId === id), 8_000, "offline mail filed");
      // The login catch-up and one more both see it in the archive: acknowledged again at most, never filed twice.
      await alice.receiver.catchUp();
      await sleep(200);
      expect(alice.filed.filter((m) => m.originId === id)).toHaveLength(1);
      expect(filedReceipts(bob.inbox, id).length).toBeGreaterThanOrEqual(1);
    });

    it("files from MAM what another client of alice's took while the receiver was stopped", async () => {
      await alice.receiver.catchUp();
      await alice.session.stop();
      const phone = await stockPeer(server, "alice", "pw-a", "phone");
      try {
        const id = uid("taken");
        await bob.send(await inlineStanza(rfc5322({ from: "bob@localhost", subject: "taken by the phone" }), id));
        await waitFor(() => phone.inbox.some((m) => m.attrs.id === id), 5_000, "phone got it");
        expect(filedReceipts(bob.inbox, id)).toHaveLength(0); // a stock client does not file mail

        alice = makeAlice(server, shared);
        alice.receiver.start();
        alice.session.start();
        await whenOnline(alice.session);
        await waitFor(() => filedReceipts(bob.inbox, id).length === 1, 10_000, "filed receipt after catch-up");
        const filed = alice.filed.filter((m) => m.originId === id);
        expect(filed).toHaveLength(1);
        expect(filed[0]).toMatchObject({ verified: true, fromJid: "bob@localhost" });
        // (handle() resolves once the server acked the receipt, which may be after bob already has it)
        await waitFor(() => alice.outcomes.some((o) => o.id === id));
        expect(alice.outcomes.find((o) => o.id === id)?.outcome).toEqual({ status: "filed", verified: true });
      } finally {
        await phone.xmpp.stop();
      }
    });

    it("recovers when the archive no longer knows the saved position (server lost its archive): restarts from the end", async () => {
      // Prosody answers an unknown position with item-not-found: without recovery that happens at every login and no
      // later catch-up ever works. ejabberd's archive ids are timestamps (µs): a position the archive lost still
      // orders, so it pages from there (and files nothing twice); a non-numeric one would read as an empty archive.
      const lost = kind === "prosody" ? "no-such-archive-id" : "1";
      const filedBefore = alice.filed.length;
      shared.store.set("mamLast", lost);
      const handled = await alice.receiver.catchUp();
      if (kind === "prosody") expect(handled).toBe(0);
      expect(alice.filed.length, "nothing filed a second time").toBe(filedBefore);
      const reset = shared.store.get("mamLast");
      expect(typeof reset === "string" && reset !== lost).toBe(true);
      await alice.session.stop();
      const id = uid("after-reset");
      await bob.send(await inlineStanza(rfc5322({ from: "bob@localhost", subject: "after the reset" }), id));
      const phone = await stockPeer(server, "alice", "pw-a", "phone2");
      try {
        await waitFor(() => phone.inbox.some((m) => m.attrs.id === id), 5_000, "phone got it");
      } finally {
        await phone.xmpp.stop();
      }
      alice = makeAlice(server, shared);
      alice.receiver.start();
      alice.session.start();
      await whenOnline(alice.session);
      await waitFor(() => alice.filed.some((m) => m.originId === id), 10_000, "caught up from the reset position");
    });
  });
});

/** A mail whose MIME tree is `depth` multiparts deep (depth 0 = a single text part). */
function nested(depth: number): Uint8Array {
  let part = "Content-Type: text/plain\r\n\r\ninnermost\r\n";
  for (let d = depth; d > 0; d--) {
    const b = `=_part${d}_=`; // no boundary may be a prefix of another (RFC 2046 §5.1.1)
    part = `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n--${b}\r\n${part}\r\n--${b}--\r\n`;
  }
  return new TextEncoder().encode(`From: bob@localhost\r\nTo: alice@localhost\r\nSubject: nested\r\nMessage-ID: <${crypto.randomUUID()}@x>\r\nMIME-Version: 1.0\r\n${part}`);
}
