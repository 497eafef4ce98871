// Capability discovery on a real Prosody and a real ejabberd: our PEP item is readable by non-contacts, also while we
// are offline, whatever publish options the server takes (docs/protocol.md §2); and a server without PEP says so.
import xml from "@xmpp/xml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NS_MAIL } from "../../src/core/protocol.js";
import {
  CapabilityUnavailableError,
  pepSupport,
  publishCapability,
  queryCapability,
  retractCapability,
  CAPABILITY_MAX_AGE_MS,
  NS_PUBSUB,
} from "../../src/xmpp/capability.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { ourSession, whenOnline } from "../support/mail-fixtures.js";
import { startServer, testServers, type ServerKind, type XmppServer } from "../support/servers.js";

const start = (s: XmppSession) => {
  s.start();
  return whenOnline(s);
};

/** The rung each server takes, as measured (a change here is a change in the server, worth knowing). */
const EXPECTED_STEP: Record<ServerKind, string> = { prosody: "all-options", ejabberd: "without-max-items" };

describe.each(testServers())("capability discovery (PEP, open access) on %s", (kind) => {
  let server: XmppServer;
  let bob: XmppSession;
  const users = ["alice", "carol", "dave", "erin", "frank"];

  beforeAll(async () => {
    server = await startServer(kind, { users: [...users, "bob"].map((user) => ({ user, password: `pw-${user}` })) });
    bob = ourSession(server, "bob", "pw-bob", "cap");
    await start(bob);
  });
  afterAll(async () => {
    await bob?.stop();
    await server?.cleanup();
  });

  it("is visible to a non-contact, also after the publisher went offline, and gone after retraction", async () => {
    const alice = ourSession(server, "alice", "pw-alice", "cap");
    await start(alice);
    const t0 = performance.now();
    const report = await publishCapability(alice, new Date());
    console.log(`[measure] ${kind}: capability publish ${(performance.now() - t0).toFixed(1)} ms, step ${report.step}, ${report.requests} requests; rejected: ${report.rejected.join(" | ") || "none"}`);
    expect(report.step).toBe(EXPECTED_STEP[kind]);
    await alice.stop();

    const t1 = performance.now();
    expect(await queryCapability(bob, "alice@localhost", new Date(), 5_000)).toBe(true);
    console.log(`[measure] ${kind}: capability query round trip: ${(performance.now() - t1).toFixed(1)} ms`);

    await start(alice);
    await retractCapability(alice);
    expect(await queryCapability(bob, "alice@localhost", new Date(), 5_000)).toBe(false);
    await alice.stop();
  });

  it("says no for an account without the item and for an account that does not exist", async () => {
    expect(await queryCapability(bob, "carol@localhost", new Date(), 5_000)).toBe(false);
    expect(await queryCapability(bob, "nobody@localhost", new Date(), 5_000)).toBe(false);
  });

  it("treats an item older than the maximum age as absent", async () => {
    const carol = ourSession(server, "carol", "pw-carol", "cap");
    await start(carol);
    await publishCapability(carol, new Date(Date.now() - CAPABILITY_MAX_AGE_MS - 60_000));
    expect(await queryCapability(bob, "carol@localhost", new Date(), 5_000)).toBe(false);
    await publishCapability(carol, new Date());
    expect(await queryCapability(bob, "carol@localhost", new Date(), 5_000)).toBe(true);
    await carol.stop();
  });

  it("ends readable when two clients of the account publish the first item at the same time", async () => {
    const one = ourSession(server, "dave", "pw-dave", "one");
    const two = ourSession(server, "dave", "pw-dave", "two");
    await Promise.all([start(one), start(two)]);
    const reports = await Promise.all([publishCapability(one, new Date()), publishCapability(two, new Date())]);
    console.log(`[measure] ${kind}: simultaneous first publishes: ${reports.map((r) => `${r.step} (${r.rejected.join(" | ") || "no rejection"})`).join("; ")}`);
    await Promise.all([one.stop(), two.stop()]);
    expect(await queryCapability(bob, "dave@localhost", new Date(), 5_000)).toBe(true);
  });

  it("opens a node that exists already with the default (contacts-only) access model", async () => {
    const erin = ourSession(server, "erin", "pw-erin", "cap");
    await start(erin);
    // A plain publish creates the node with the server's PEP defaults (access model "presence").
    await erin.request(
      xml("iq", { type: "set" }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("publish", { node: NS_MAIL }, xml("item", { id: "current" }, xml("accepts", { xmlns: NS_MAIL, version: "0", updated: new Date().toISOString() }))))),
      5_000,
    );
    expect(await queryCapability(bob, "erin@localhost", new Date(), 5_000)).toBe(false);
    const report = await publishCapability(erin, new Date());
    console.log(`[measure] ${kind}: publish over a contacts-only node: step ${report.step}; rejected: ${report.rejected.join(" | ") || "none"}`);
    await erin.stop();
    expect(await queryCapability(bob, "erin@localhost", new Date(), 5_000)).toBe(true);
  });

  it("without publish-options (as a server that lacks them would be used), configures the node as its owner", async () => {
    const frank = ourSession(server, "frank", "pw-frank", "cap");
    await start(frank);
    const support = await pepSupport(frank, 5_000);
    expect(support).toMatchObject({ pep: true, publishOptions: true, configNode: true });
    // Take the path a server without publish-options makes us take, on this real server: first for a new node, then
    // again for the existing one.
    const first = await publishCapability(frank, new Date(), { support: { ...support!, publishOptions: false } });
    expect(first.step).toBe("configured-node");
    await frank.stop();
    expect(await queryCapability(bob, "frank@localhost", new Date(), 5_000)).toBe(true);
    await start(frank);
    const again = await publishCapability(frank, new Date(), { support: { ...support!, publishOptions: false } });
    expect(again).toMatchObject({ step: "configured-node", rejected: [] });
    await frank.stop();
    expect(await queryCapability(bob, "frank@localhost", new Date(), 5_000)).toBe(true);
  });

  it("rejects (unknown, not no) when the asking session is offline", async () => {
    const dave = ourSession(server, "bob", "pw-bob", "cap");
    await expect(queryCapability(dave, "alice@localhost", new Date(), 1_000)).rejects.toThrow(/not online/);
  });
});

describe.each(testServers())("capability on %s without PEP", (kind) => {
  let server: XmppServer;
  let alice: XmppSession;

  beforeAll(async () => {
    server = await startServer(kind, { users: [{ user: "alice", password: "pw-a" }, { user: "bob", password: "pw-b" }], without: ["pep"] });
    alice = ourSession(server, "alice", "pw-a", "cap");
    await start(alice);
  });
  afterAll(async () => {
    await alice?.stop();
    await server?.cleanup();
  });

  it("says the account has no PEP instead of pretending to publish", async () => {
    const error = await publishCapability(alice, new Date()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CapabilityUnavailableError);
    expect(error).toMatchObject({ code: "no-pep" });
  });

  it("answers no (not unknown) when asked about an account there", async () => {
    expect(await queryCapability(alice, "bob@localhost", new Date(), 5_000)).toBe(false);
  });
});
