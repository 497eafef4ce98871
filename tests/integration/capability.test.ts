// Capability discovery on a real Prosody: our PEP item is readable by non-contacts, also while we are offline.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import type { SessionStatus } from "../../src/core/status.js";
import { publishCapability, queryCapability, retractCapability, CAPABILITY_MAX_AGE_MS } from "../../src/xmpp/capability.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import { XmppSession } from "../../src/xmpp/session.js";
import { isProsodyAvailable, startProsody, type ProsodyServer } from "../support/prosody.js";

function session(server: ProsodyServer, user: string, password: string) {
  return new XmppSession(
    { jid: `${user}@${server.domain}`, websocketUrl: server.wsUrl, resource: "cap" },
    {
      scheduler: realScheduler,
      random: Math.random,
      sha1: webCryptoSha1,
      log: silentLogger,
      credentials: { load: async () => ({ password }), saveKeys: async () => {} },
    },
  );
}

async function online(s: XmppSession): Promise<void> {
  s.start();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not online: ${JSON.stringify(s.status)}`)), 10_000);
    const check = (st: SessionStatus) => {
      if (st.state === "online") {
        clearTimeout(timer);
        resolve();
      }
    };
    s.onStatus(check);
    check(s.status);
  });
}

describe.skipIf(!isProsodyAvailable())("capability discovery (PEP, open access)", () => {
  let server: ProsodyServer;
  let bob: XmppSession;

  beforeAll(async () => {
    server = await startProsody({
      users: [
        { user: "alice", password: "pw-a" },
        { user: "bob", password: "pw-b" },
        { user: "carol", password: "pw-c" },
      ],
    });
    bob = session(server, "bob", "pw-b");
    await online(bob);
  });
  afterAll(async () => {
    await bob?.stop();
    await server?.cleanup();
  });

  it("is visible to a non-contact, also after the publisher went offline, and gone after retraction", async () => {
    const alice = session(server, "alice", "pw-a");
    await online(alice);
    await publishCapability(alice, new Date());
    await alice.stop();

    const t0 = performance.now();
    expect(await queryCapability(bob, "alice@localhost", new Date(), 5_000)).toBe(true);
    console.log(`[measure] capability query round trip: ${(performance.now() - t0).toFixed(1)} ms`);

    await online(alice);
    await retractCapability(alice);
    expect(await queryCapability(bob, "alice@localhost", new Date(), 5_000)).toBe(false);
    await alice.stop();
  });

  it("says no for an account without the item and for an account that does not exist", async () => {
    expect(await queryCapability(bob, "carol@localhost", new Date(), 5_000)).toBe(false);
    expect(await queryCapability(bob, "nobody@localhost", new Date(), 5_000)).toBe(false);
  });

  it("treats an item older than the maximum age as absent", async () => {
    const carol = session(server, "carol", "pw-c");
    await online(carol);
    await publishCapability(carol, new Date(Date.now() - CAPABILITY_MAX_AGE_MS - 60_000));
    expect(await queryCapability(bob, "carol@localhost", new Date(), 5_000)).toBe(false);
    await publishCapability(carol, new Date());
    expect(await queryCapability(bob, "carol@localhost", new Date(), 5_000)).toBe(true);
    await carol.stop();
  });

  it("rejects (unknown, not no) when the asking session is offline", async () => {
    const dave = session(server, "bob", "pw-b");
    await expect(queryCapability(dave, "alice@localhost", new Date(), 1_000)).rejects.toThrow(/not online/);
  });
});
