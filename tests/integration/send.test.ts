// The sending side against a real Prosody, with the recipient played by an independent stock xmpp.js client that
// implements docs/protocol.md by hand: inline and external (encrypted upload) copies, filed / accepted / failed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client as stockClient, xml, type StockClient } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { createLogger } from "../../src/core/log.js";
import { decodeBase64Strict } from "../../src/core/base64.js";
import { openPayload, sha256Base64 } from "../../src/core/payload-crypto.js";
import { NS_MAIL } from "../../src/core/protocol.js";
import { DEFAULT_SIZE_POLICY, MailSender } from "../../src/xmpp/mail-sender.js";
import { buildFiledReceipt, buildRejection, fallbackBody } from "../../src/xmpp/mail-stanza.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { ourSession, whenOnline } from "../support/mail-fixtures.js";
import { downloadBytes } from "../../src/xmpp/upload.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

const log = createLogger(() => {}, () => "debug");



type Behaviour = "file" | "reject" | "plain-receipt" | "ignore";

/** A recipient written against the spec with a stock client: fetches, checks, "files" in memory, then receipts. */
async function recipient(server: XmppServer, user: string, password: string) {
  const xmpp: StockClient = stockClient({ service: server.wsUrl, domain: server.domain, username: user, password, resource: "tb" });
  xmpp.on("error", () => {});
  const filed: Uint8Array[] = [];
  let behaviour: Behaviour = "file";
  xmpp.on("stanza", (stanza: Element) => {
    void (async () => {
      const mail = stanza.getChild("mail", NS_MAIL);
      if (!stanza.is("message") || !mail) return;
      const from = stanza.attrs.from!;
      const id = stanza.attrs.id!;
      if (behaviour === "ignore") return;
      if (behaviour === "reject") return xmpp.send(buildRejection(from, id, "policy"));
      if (behaviour === "plain-receipt") return xmpp.send(xml("message", { to: from }, xml("received", { xmlns: "urn:xmpp:receipts", id })));
      const size = Number(mail.attrs.size);
      const inline = mail.getChild("inline");
      const external = mail.getChild("external");
      let raw: Uint8Array;
      if (inline) raw = decodeBase64Strict(inline.text(), size);
      else {
        const ciphertext = await downloadBytes(external!.attrs.url!, Number(external!.attrs.size), 20_000);
        raw = await openPayload(ciphertext, { key: external!.attrs.key!, iv: external!.attrs.iv!, sha256: mail.attrs.sha256! }, size);
      }
      if ((await sha256Base64(raw)) !== mail.attrs.sha256) return xmpp.send(buildRejection(from, id, "hash-mismatch"));
      filed.push(raw);
      await xmpp.send(buildFiledReceipt(from, id));
    })();
  });
  await xmpp.start();
  await xmpp.send(xml("presence"));
  return {
    xmpp,
    filed,
    set behaviour(b: Behaviour) {
      behaviour = b;
    },
  };
}

function mailOfSize(bytes: number): Uint8Array {
  const head = new TextEncoder().encode("From: bob@localhost\r\nTo: alice@localhost\r\nSubject: size test\r\nMessage-ID: <t@localhost>\r\n\r\n");
  const out = new Uint8Array(bytes);
  out.set(head);
  for (let i = head.length; i < bytes; i++) out[i] = 0x41 + (i % 26);
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const start = (s: XmppSession) => {
  s.start();
  return whenOnline(s);
};

describe.each(testServers())("MailSender on %s", (kind) => {
  let server: XmppServer;
  let bob: XmppSession;
  let sender: MailSender;
  let alice: Awaited<ReturnType<typeof recipient>>;

  beforeAll(async () => {
    server = await startServer(kind, {
      users: [
        { user: "alice", password: "pw-a" },
        { user: "bob", password: "pw-b" },
        { user: "carol", password: "pw-c" },
      ],
      upload: true,
    });
    bob = ourSession(server, "bob", "pw-b", "send");
    await start(bob);
    // No inline budget: these servers run without rate limits (tests/integration/shipped-limits.test.ts has them).
    sender = new MailSender({ session: bob, log, scheduler: realScheduler, filedGraceMs: 1_000, sizePolicy: { ...DEFAULT_SIZE_POLICY, inlineBudget: null } });
    sender.start();
    alice = await recipient(server, "alice", "pw-a");
  });
  afterAll(async () => {
    await alice?.xmpp.stop().catch(() => {});
    await bob?.stop();
    await server?.cleanup();
  });

  const copy = (raw: Uint8Array, to = "alice@localhost") => ({ to, raw, subject: "size test", fallbackBody: "readable fallback" });

  it("delivers 4 KB inline, 10 KB / 200 KB / 5 MB through an encrypted upload, each byte-exact and filed", async () => {
    const rows: string[] = [];
    for (const [label, size, route] of [
      ["4 KB", 4_000, "inline"],
      ["10 KB", 10_000, "external"],
      ["200 KB", 200_000, "external"],
      ["5 MB", 5_000_000, "external"],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const raw = mailOfSize(size);
        const before = alice.filed.length;
        const t0 = performance.now();
        const outcome = await sender.deliver(copy(raw), 30_000);
        times.push(performance.now() - t0);
        expect(outcome).toMatchObject({ status: "filed", route });
        expect(alice.filed.length).toBe(before + 1);
        // (Buffer.equals: vitest's deep equality walks 5 MB element by element and takes minutes on a loaded machine)
        expect(Buffer.from(alice.filed.at(-1)!).equals(Buffer.from(raw))).toBe(true);
      }
      rows.push(`${label} ${route}: send → filed receipt median ${median(times).toFixed(0)} ms (n=3)`);
    }
    console.log(`[measure] ${rows.join("; ")}`);
  }, 120_000);

  it("gives an ordinary XMPP client a readable message: subject and a body with who, what and the attachment note", async () => {
    const peek = await stockClient({ service: server.wsUrl, domain: server.domain, username: "carol", password: "pw-c", resource: "chat" });
    peek.on("error", () => {});
    const seen: Element[] = [];
    peek.on("stanza", (s: Element) => void (s.is("message") && s.getChild("body") && seen.push(s)));
    await peek.start();
    await peek.send(xml("presence"));
    const body = fallbackBody({ from: "Bob <bob@localhost>", to: ["carol@localhost"], subject: "Lunch?", text: "Shall we meet at noon?", attachmentNames: ["menu.pdf"] });
    await sender.deliver({ to: "carol@localhost", raw: mailOfSize(1_000), subject: "Lunch?", fallbackBody: body }, 3_000);
    const deadline = Date.now() + 5_000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const m = seen[0]!;
    expect(m.getChildText("subject")).toBe("Lunch?");
    const text = m.getChildText("body")!;
    expect(text).toContain("E-mail from Bob <bob@localhost>");
    expect(text).toContain("Subject: Lunch?");
    expect(text).toContain("Shall we meet at noon?");
    expect(text).toMatch(/1 attachment \(menu\.pdf\) is only in the e-mail/);
    expect(text).not.toMatch(/[A-Za-z0-9+/]{200}/); // no base64 blob in what a person reads
    await peek.stop();
  });

  it("answers failed at once when the recipient rejects, and when the account does not exist", async () => {
    alice.behaviour = "reject";
    await expect(sender.deliver(copy(mailOfSize(2_000)), 10_000)).resolves.toEqual({ status: "failed", reason: "rejected: policy" });
    alice.behaviour = "file";
    const t0 = performance.now();
    const bounced = await sender.deliver(copy(mailOfSize(2_000), "nobody@localhost"), 10_000);
    expect(bounced).toMatchObject({ status: "failed", reason: expect.stringMatching(/^bounced: (service-unavailable|item-not-found)/) });
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it("does not count a plain XEP-0184 receipt as filed: the server's ack makes it 'accepted'", async () => {
    alice.behaviour = "plain-receipt";
    await expect(sender.deliver(copy(mailOfSize(2_000)), 10_000)).resolves.toMatchObject({ status: "accepted" });
    alice.behaviour = "file";
  });

  it("reports accepted for an offline but existing recipient (offline storage), like an SMTP relay", async () => {
    const outcome = await sender.deliver(copy(mailOfSize(2_000), "carol@localhost"), 10_000);
    expect(outcome).toMatchObject({ status: "accepted" });
  });

  it("reports a bounce that comes after 'accepted' as a late failure, so the caller can still fall back", async () => {
    const late: Array<[string, string, string]> = [];
    const off = sender.onLateFailure((id, to, reason) => void late.push([id, to, reason]));
    await server.register("frank", "pw-f"); // a fresh account: nothing else waits in its offline store
    const outcome = await sender.deliver(copy(mailOfSize(1_500), "frank@localhost"), 10_000);
    expect(outcome).toMatchObject({ status: "accepted" });
    // Frank's client comes online, gets the stored mail and refuses it with a stanza error (as a server would bounce).
    const carol = stockClient({ service: server.wsUrl, domain: server.domain, username: "frank", password: "pw-f", resource: "late" });
    carol.on("error", () => {});
    carol.on("stanza", (s: Element) => {
      if (s.is("message") && s.getChild("mail", NS_MAIL)) {
        void carol.send(
          xml("message", { to: s.attrs.from!, id: s.attrs.id!, type: "error" }, xml("error", { type: "cancel" }, xml("service-unavailable", { xmlns: "urn:ietf:params:xml:ns:xmpp-stanzas" }))),
        );
      }
    });
    await carol.start();
    await carol.send(xml("presence"));
    const deadline = Date.now() + 5_000;
    while (late.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    off();
    await carol.stop();
    expect(late).toEqual([[expect.any(String), "frank@localhost", "bounced: service-unavailable"]]);
  });

  it("says 'not deliverable over XMPP' for a mail too big for inline when no upload service exists", async () => {
    const plain = await startServer(kind, { users: [{ user: "dave", password: "pw-d" }, { user: "erin", password: "pw-e" }] });
    const dave = ourSession(plain, "dave", "pw-d", "send");
    try {
      await start(dave);
      const s = new MailSender({ session: dave, log, scheduler: realScheduler });
      s.start();
      const outcome = await s.deliver(copy(mailOfSize(100_000), "erin@localhost"), 10_000);
      expect(outcome).toEqual({ status: "failed", reason: expect.stringContaining("not deliverable over XMPP") });
    } finally {
      await dave.stop();
      await plain.cleanup();
    }
  });

  it("fails (does not hang) when the server dies in the middle of an upload", async () => {
    const raw = mailOfSize(5_000_000);
    // Kill the server as the PUT starts (ejabberd takes a 5 MB upload in ~50 ms: a fixed delay would miss it).
    let putStarted!: () => void;
    const started = new Promise<void>((r) => (putStarted = r));
    const killing = new MailSender({
      session: bob,
      log,
      scheduler: realScheduler,
      fetchFn: (input, init) => {
        if (init?.method !== "PUT" || !(init.body instanceof Uint8Array)) return fetch(input, init);
        // Trickle the body (64 KiB every 5 ms) so that the kill lands in the middle of the PUT on either server.
        const data = init.body;
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            await new Promise((r) => setTimeout(r, 5));
            if (sent >= data.length) return controller.close();
            controller.enqueue(data.subarray(sent, sent + 64 * 1024));
            sent += 64 * 1024;
            if (sent >= 256 * 1024) putStarted();
          },
        });
        const headers = { ...(init.headers as Record<string, string>), "Content-Length": String(data.length) };
        return fetch(input, { ...init, headers, body, duplex: "half" } as RequestInit);
      },
    });
    killing.start();
    const pending = killing.deliver(copy(raw), 15_000);
    await started;
    await server.kill();
    const t0 = performance.now();
    const outcome = await pending;
    expect(["failed", "timeout"]).toContain(outcome.status);
    expect(performance.now() - t0).toBeLessThan(15_000);
    killing.stop();
    await server.start();
  }, 30_000);
});
