// The servers with the limits they ship with: Prosody's mod_limits (c2s 10 kB/s, 2 s burst — Debian's prosody.cfg.lua
// enables it) and ejabberd's c2s shaper `normal` (3,000 B/s, burst 20,000) with max_user_offline_messages 100.
// What a user of such a server gets: how inline mail is paced, what a full offline store does, and a catch-up after a
// long absence.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, client as stockClient } from "@xmpp/client";
import { DEFAULT_SIZE_POLICY, MailSender } from "../../src/xmpp/mail-sender.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { filler, inlineStanza, ourSession, quietLog, rfc5322, sleep, stockPeer, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe.each(testServers())("servers with their shipped limits: %s", (kind) => {
  let server: XmppServer;
  let alice: XmppSession;
  let sender: MailSender;
  let bob: MailPeer;
  const figures: string[] = [];

  beforeAll(async () => {
    server = await startServer(kind, {
      users: [
        { user: "alice", password: "pw-a" },
        { user: "bob", password: "pw-b" },
        { user: "carol", password: "pw-c" },
        { user: "dave", password: "pw-d" },
      ],
      shippedLimits: true,
      mam: true,
      upload: true,
    });
    alice = ourSession(server, "alice", "pw-a", "thunderbird");
    alice.start();
    await whenOnline(alice);
    sender = new MailSender({ session: alice, log: quietLog, scheduler: realScheduler, filedGraceMs: 1_000 });
    sender.start();
    bob = await startMailPeer(server, "bob", "pw-b");
  });
  afterAll(async () => {
    console.log(`[measure] ${kind} with shipped limits: ${figures.join("; ")}`);
    await bob?.stop();
    await alice?.stop();
    await server?.cleanup();
  });

  it("a Send to five recipients of a 10 KB mail is filed at each well within the hold deadline", async () => {
    // Five copies at once is the shaper's worst everyday case: each inline copy is ~14 KB on the wire.
    const extra = await Promise.all(["carol", "dave"].map((u) => startMailPeer(server, u, `pw-${u[0]}`)));
    try {
      const times: number[] = [];
      const to = [bob.jid, extra[0]!.jid, extra[1]!.jid, bob.jid, extra[0]!.jid];
      const t0 = performance.now();
      const outcomes = await Promise.all(
        to.map(async (jid, i) => {
          const raw = rfc5322({ from: `alice@${server.domain}`, to: jid, subject: `five ${i}`, body: filler(10_000) });
          const o = await sender.deliver({ to: jid, raw, subject: `five ${i}`, fallbackBody: "An e-mail." }, 8_000);
          times.push(performance.now() - t0);
          return o;
        }),
      );
      figures.push(`5 × 10 KB at once: last filed after ${Math.max(...times).toFixed(0)} ms (routes ${outcomes.map((o) => ("route" in o ? o.route : o.status)).join(",")})`);
      for (const o of outcomes) expect(o).toMatchObject({ status: "filed" });
      expect(Math.max(...times)).toBeLessThan(4_000);
    } finally {
      for (const p of extra) await p.stop();
    }
  }, 30_000);

  it("eight 4 KB mails in a row: the inline budget sends what the shaper would hold up by upload instead", async () => {
    // Side by side on the same server: the default policy (inline budget modelled on the shipped limits) and the same
    // policy without the budget (everything under 12 KiB inline, as before).
    const unbudgeted = new MailSender({
      session: alice,
      log: quietLog,
      scheduler: realScheduler,
      filedGraceMs: 1_000,
      sizePolicy: { ...DEFAULT_SIZE_POLICY, inlineBudget: null },
    });
    unbudgeted.start();
    const run = async (s: MailSender, label: string) => {
      await sleep(8_000); // both start with a full burst
      const t0 = performance.now();
      const routes: string[] = [];
      for (let i = 0; i < 8; i++) {
        const raw = rfc5322({ from: `alice@${server.domain}`, to: bob.jid, subject: `${label} ${i}`, body: filler(4_000) });
        const o = await s.deliver({ to: bob.jid, raw, subject: `${label} ${i}`, fallbackBody: "An e-mail." }, 8_000);
        expect(o).toMatchObject({ status: "filed" });
        routes.push("route" in o ? o.route[0]! : "?");
      }
      const ms = performance.now() - t0;
      figures.push(`8 × 4 KB ${label}: ${ms.toFixed(0)} ms (routes ${routes.join("")})`);
      return ms;
    };
    const without = await run(unbudgeted, "without budget");
    unbudgeted.stop();
    const withBudget = await run(sender, "with budget");
    expect(withBudget).toBeLessThan(without * 0.8);
  }, 60_000);

  it("single mails of 1, 4 and 10 KB, one after another, as a user sends them", async () => {
    for (const size of [1_000, 4_000, 10_000]) {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const raw = rfc5322({ from: `alice@${server.domain}`, to: bob.jid, subject: `size ${size}`, body: filler(size) });
        const t0 = performance.now();
        const o = await sender.deliver({ to: bob.jid, raw, subject: `size ${size}`, fallbackBody: "An e-mail." }, 8_000);
        times.push(performance.now() - t0);
        expect(o).toMatchObject({ status: "filed" });
      }
      figures.push(`${size / 1000} KB: p50 ${median(times).toFixed(0)} ms`);
    }
  }, 60_000);

  it.runIf(kind === "ejabberd")("a full offline store (100 messages) bounces the mail, and the bounce is reported so the mail goes by SMTP", async () => {
    // dave is offline; strangers fill his offline store to ejabberd's shipped limit of 100.
    const filler_ = await stockClient({ service: server.wsUrl, domain: server.domain, username: "carol", password: "pw-c", resource: "fill" });
    filler_.on("error", () => {});
    await filler_.start();
    for (let i = 0; i < 100; i++) await filler_.send(xml("message", { to: `dave@${server.domain}`, id: `fill-${i}` }, xml("body", {}, `chat ${i}`)));
    await sleep(500);
    await filler_.stop();
    const late: string[] = [];
    const off = sender.onLateFailure((_id, _to, reason) => late.push(reason));
    const raw = rfc5322({ from: `alice@${server.domain}`, to: `dave@${server.domain}`, subject: "to a full store" });
    const o = await sender.deliver({ to: `dave@${server.domain}`, raw, subject: "full", fallbackBody: "An e-mail." }, 8_000);
    // Either the bounce arrives before the answer (failed) or after "accepted" (a late failure): both mean SMTP.
    if (o.status !== "failed") await waitFor(() => late.length > 0, 5_000, "the bounce reported as a late failure");
    figures.push(`full offline store: ${o.status}${"reason" in o ? ` (${o.reason})` : ""}${late.length ? `, late: ${late.join(",")}` : ""}`);
    expect(o.status === "failed" || late.length > 0).toBe(true);
    off();
  });

  it("catches up 60 mails that arrived while Thunderbird was away (another client of the account took them)", async () => {
    await bob.stop();
    const phone = await stockPeer(server, "bob", "pw-b", "phone");
    const ids: string[] = [];
    const carol = await stockClient({ service: server.wsUrl, domain: server.domain, username: "carol", password: "pw-c", resource: "x" });
    carol.on("error", () => {});
    await carol.start();
    for (let i = 0; i < 60; i++) {
      const id = `away-${i}-${crypto.randomUUID()}`;
      ids.push(id);
      await carol.send(await inlineStanza(rfc5322({ from: `carol@${server.domain}`, to: bob.jid, subject: `away ${i}`, body: "short\r\n" }), id, { to: bob.jid }));
    }
    await waitFor(() => phone.inbox.length >= 60, 60_000, "the phone got all 60 (the shaper paces carol)");
    await carol.stop();
    await phone.xmpp.stop();
    const t0 = performance.now();
    bob = await startMailPeer(server, "bob", "pw-b", { memory: bob.memory });
    await waitFor(() => bob.filed.length >= 60, 60_000, "60 filed from the archive");
    figures.push(`catch-up of 60 mails after an absence: ${(performance.now() - t0).toFixed(0)} ms`);
    expect(new Set(bob.filed.map((m) => m.originId)).size).toBe(60);
  }, 150_000);
});
