// The account's other Thunderbirds (src/xmpp/siblings.ts) on real servers: two add-on sessions of one account see
// each other through self-presence (our caps node), a chat client of the same account does not count, a query is
// answered from the ledger, a notice reaches the waiting sibling, the sibling disappears when it goes offline, and a
// stranger cannot speak for the account.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { xml, client as stockClient } from "@xmpp/client";
import { NS_SIBLING } from "../../src/core/protocol.js";
import { siblingMailKey } from "../../src/core/shared-folder.js";
import { SiblingTracker } from "../../src/xmpp/siblings.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { ourSession, quietLog, sleep, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

const HOME = "thunderbird-0000000a";
const OFFICE = "thunderbird-0000000b";

describe.each(testServers())("the account's other Thunderbirds, on %s", (kind) => {
  let server: XmppServer;
  let home: XmppSession;
  let office: XmppSession;
  let homeTracker: SiblingTracker;
  let officeTracker: SiblingTracker;
  const homeLedger = new Map<string, string>();

  beforeAll(async () => {
    server = await startServer(kind, {
      users: [
        { user: "bob", password: "pw-b" },
        { user: "mallory", password: "pw-m" },
      ],
    });
    home = ourSession(server, "bob", "pw-b", HOME);
    office = ourSession(server, "bob", "pw-b", OFFICE);
    homeTracker = new SiblingTracker({ session: home, log: quietLog, filedInto: (k) => homeLedger.get(k), ownFolderKey: async () => "imap|k|/INBOX" });
    officeTracker = new SiblingTracker({ session: office, log: quietLog, filedInto: () => undefined });
    homeTracker.start();
    officeTracker.start();
    home.start();
    await whenOnline(home);
    office.start();
    await whenOnline(office);
  });
  afterAll(async () => {
    homeTracker?.stop();
    officeTracker?.stop();
    await home?.stop();
    await office?.stop();
    await server?.cleanup();
  });

  it("each sees the other through self-presence; a chat client of the account does not count", async () => {
    const chat = stockClient({ service: server.wsUrl, domain: server.domain, username: "bob", password: "pw-b", resource: "phone" });
    chat.on("error", () => {});
    await chat.start();
    await chat.send(xml("presence", {}, xml("priority", {}, "10")));
    try {
      await waitFor(() => homeTracker.siblings().includes(OFFICE) && officeTracker.siblings().includes(HOME), 5_000, "siblings");
      await sleep(300);
      expect(homeTracker.siblings()).toEqual([OFFICE]);
      expect(officeTracker.siblings()).toEqual([HOME]);
      expect(homeTracker.self).toBe(HOME);
    } finally {
      await chat.stop();
    }
  });

  it("a query is answered from the sibling's ledger: filed (with its folder) or not yet (with the folder it files into)", async () => {
    homeLedger.set(siblingMailKey(`alice@${server.domain}`, "o-filed"), "imap|k|/INBOX");
    const t0 = performance.now();
    const filed = await officeTracker.ask(`alice@${server.domain}`, "o-filed", 2_000);
    const ms = performance.now() - t0;
    expect(filed.get(HOME)).toEqual({ state: "filed", folder: "imap|k|/INBOX" });
    expect(ms).toBeLessThan(1_000); // answered, not timed out
    const unknown = await officeTracker.ask(`alice@${server.domain}`, "o-new", 2_000);
    expect(unknown.get(HOME)).toEqual({ state: "not-yet", folder: "imap|k|/INBOX" });
    // A Thunderbird whose receive folder is local says so with its own key; one that cannot tell sends no folder.
    const local = await homeTracker.ask(`alice@${server.domain}`, "o-new", 2_000);
    expect(local.get(OFFICE)).toEqual({ state: "not-yet" });
  });

  it("the filer's notice wakes the waiting sibling; 'failed' too", async () => {
    const waiting = officeTracker.waitFor(HOME, `alice@${server.domain}`, "o-live", 5_000);
    await sleep(50);
    homeTracker.announce(`alice@${server.domain}`, "o-live", { state: "filed", folder: "imap|k|/INBOX" });
    expect((await waiting).get(HOME)).toEqual({ state: "filed", folder: "imap|k|/INBOX" });
    const failing = officeTracker.waitFor(HOME, `alice@${server.domain}`, "o-fail", 5_000);
    homeTracker.announce(`alice@${server.domain}`, "o-fail", { state: "failed" });
    expect((await failing).get(HOME)).toEqual({ state: "failed" });
  });

  it("'filing' keeps the sibling waiting; 'filed' ends the wait and is not taken back by a late 'filing'", async () => {
    const waiting = officeTracker.waitFor(HOME, `alice@${server.domain}`, "o-slow", 5_000);
    homeTracker.announce(`alice@${server.domain}`, "o-slow", { state: "filing", folder: "imap|k|/INBOX" });
    await sleep(300);
    expect(officeTracker.words(`alice@${server.domain}`, "o-slow").get(HOME)).toEqual({ state: "filing", folder: "imap|k|/INBOX" });
    const t0 = performance.now();
    homeTracker.announce(`alice@${server.domain}`, "o-slow", { state: "filed", folder: "imap|k|/INBOX" });
    expect((await waiting).get(HOME)).toEqual({ state: "filed", folder: "imap|k|/INBOX" });
    expect(performance.now() - t0).toBeLessThan(1_000);
    homeTracker.announce(`alice@${server.domain}`, "o-slow", { state: "filing", folder: "imap|k|/INBOX" });
    await sleep(300);
    expect(officeTracker.words(`alice@${server.domain}`, "o-slow").get(HOME)).toEqual({ state: "filed", folder: "imap|k|/INBOX" });
  });

  it("a notice that arrives before the mail is kept for it", async () => {
    homeTracker.announce(`alice@${server.domain}`, "o-early", { state: "filed", folder: "imap|k|/INBOX" });
    await waitFor(() => officeTracker.words(`alice@${server.domain}`, "o-early").size > 0, 3_000, "early notice");
    const t0 = performance.now();
    await officeTracker.waitFor(HOME, `alice@${server.domain}`, "o-early", 5_000);
    expect(performance.now() - t0).toBeLessThan(50);
  });

  it("another account cannot speak for the account's Thunderbirds", async () => {
    const mallory = stockClient({ service: server.wsUrl, domain: server.domain, username: "mallory", password: "pw-m", resource: HOME });
    mallory.on("error", () => {});
    await mallory.start();
    try {
      await mallory.send(
        xml("message", { to: `bob@${server.domain}/${OFFICE}`, type: "normal" }, xml("filing", { xmlns: NS_SIBLING, state: "filed", sender: `alice@${server.domain}`, "origin-id": "o-forged", folder: "imap|k|/INBOX" })),
      );
      await sleep(500);
      expect(officeTracker.words(`alice@${server.domain}`, "o-forged").size).toBe(0);
      expect(officeTracker.siblings()).toEqual([HOME]);
    } finally {
      await mallory.stop();
    }
  });

  it("a sibling that goes offline is no longer counted, and one that comes back is", async () => {
    await home.stop();
    await waitFor(() => officeTracker.siblings().length === 0, 5_000, "home gone");
    home.start();
    await whenOnline(home);
    await waitFor(() => officeTracker.siblings().includes(HOME) && homeTracker.siblings().includes(OFFICE), 5_000, "home back");
  });
});
