// docs/protocol.md §5: a receiver's "filed" receipt and <rejected/> carry a XEP-0334 <store/> hint, so that a sender
// that went offline gets them when it logs in again (offline storage of its own server). Real servers: the sender is
// offline while the recipient answers; at its next login the answers arrive. A bodyless answer without the hint (as
// the receiver sent before this revision) is the control, printed per server: both servers as shipped keep it too
// (measured), but a server may drop bodyless messages (ejabberd with `store_empty_body: false`) unless they carry the hint.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client as stockClient, xml, type StockClient } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { NS_MAIL } from "../../src/core/protocol.js";
import { buildFiledReceipt, buildRejection, parseDeliveryReport } from "../../src/xmpp/mail-stanza.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

async function connect(server: XmppServer, user: string, inbox: Element[] = []): Promise<StockClient> {
  const xmpp: StockClient = stockClient({ service: server.wsUrl, domain: server.domain, username: user, password: `secret-${user}`, resource: "tb" });
  xmpp.on("error", () => {});
  xmpp.on("stanza", (s: Element) => {
    if (s.is("message")) inbox.push(s);
  });
  await xmpp.start();
  await xmpp.send(xml("presence"));
  return xmpp;
}

describe.each(testServers())("answers to an offline sender on %s", (kind) => {
  let server: XmppServer;

  beforeAll(async () => {
    server = await startServer(kind, { users: ["alice", "bob"].map((user) => ({ user, password: `secret-${user}` })) });
  }, 60_000);

  afterAll(async () => {
    await server?.cleanup();
  });

  it("delivers the stored <rejected/> and <filed/> receipt at the sender's next login", async () => {
    const alice = await connect(server, "alice");
    const aliceFull = `alice@${server.domain}/tb`;
    await alice.stop(); // the sender's Thunderbird goes away (quit, sleep, lost network) before the answers come
    await new Promise((r) => setTimeout(r, 300));

    const bob = await connect(server, "bob");
    await bob.send(buildRejection(aliceFull, "mail-rejected", "download-failed"));
    await bob.send(buildFiledReceipt(aliceFull, "mail-filed"));
    // Control: the rejection as it was sent before this revision (no store hint).
    await bob.send(xml("message", { to: aliceFull, id: "x-control" }, xml("rejected", { xmlns: NS_MAIL, id: "mail-control", reason: "policy" })));
    await new Promise((r) => setTimeout(r, 500));
    await bob.stop();

    const inbox: Element[] = [];
    const again = await connect(server, "alice", inbox);
    const reports = () => inbox.map(parseDeliveryReport).filter((r) => r !== null);
    const deadline = Date.now() + 5_000;
    while (reports().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500)); // the control, if the server kept it
    await again.stop();

    const got = reports();
    const bobBare = `bob@${server.domain}`;
    expect(got).toContainEqual({ kind: "rejected", id: "mail-rejected", from: bobBare, reason: "download-failed" });
    expect(got).toContainEqual({ kind: "filed", id: "mail-filed", from: bobBare });
    const control = got.some((r) => r.id === "mail-control");
    console.log(`[integration] ${kind}: bodyless <rejected/> without a store hint ${control ? "was kept" : "was DROPPED"} for the offline sender`);
  }, 60_000);
});
