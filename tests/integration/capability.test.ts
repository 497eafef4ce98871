// Capability discovery on a real Prosody and a real ejabberd: our PEP item is readable by non-contacts, also while we are offline.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publishCapability, queryCapability, retractCapability, CAPABILITY_MAX_AGE_MS } from "../../src/xmpp/capability.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { ourSession, whenOnline } from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";



const start = (s: XmppSession) => {
  s.start();
  return whenOnline(s);
};

describe.each(testServers())("capability discovery (PEP, open access) on %s", (kind) => {
  let server: XmppServer;
  let bob: XmppSession;

  beforeAll(async () => {
    server = await startServer(kind, {
      users: [
        { user: "alice", password: "pw-a" },
        { user: "bob", password: "pw-b" },
        { user: "carol", password: "pw-c" },
      ],
    });
    bob = ourSession(server, "bob", "pw-b", "cap");
    await start(bob);
  });
  afterAll(async () => {
    await bob?.stop();
    await server?.cleanup();
  });

  it("is visible to a non-contact, also after the publisher went offline, and gone after retraction", async () => {
    const alice = ourSession(server, "alice", "pw-a", "cap");
    await start(alice);
    await publishCapability(alice, new Date());
    await alice.stop();

    const t0 = performance.now();
    expect(await queryCapability(bob, "alice@localhost", new Date(), 5_000)).toBe(true);
    console.log(`[measure] capability query round trip: ${(performance.now() - t0).toFixed(1)} ms`);

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
    const carol = ourSession(server, "carol", "pw-c", "cap");
    await start(carol);
    await publishCapability(carol, new Date(Date.now() - CAPABILITY_MAX_AGE_MS - 60_000));
    expect(await queryCapability(bob, "carol@localhost", new Date(), 5_000)).toBe(false);
    await publishCapability(carol, new Date());
    expect(await queryCapability(bob, "carol@localhost", new Date(), 5_000)).toBe(true);
    await carol.stop();
  });

  it("rejects (unknown, not no) when the asking session is offline", async () => {
    const dave = ourSession(server, "bob", "pw-b", "cap");
    await expect(queryCapability(dave, "alice@localhost", new Date(), 1_000)).rejects.toThrow(/not online/);
  });
});
