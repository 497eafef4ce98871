// The keyring's decisions (src/xmpp/e2e-keyring.ts): which devices a mail is sealed for (first use pins, a change or a
// withdrawal never goes silently, an unpublished own device sends version 0), and what an opened envelope's sender is
// (pinned, changed, unverified). Real WebCrypto keys; the capability answers and stores are in memory.
import { describe, expect, it } from "vitest";
import { generateDeviceKeys, parseDevicePublicKeys, type DeviceKeyPair, type DevicePublicKeys } from "../../src/core/e2e/keys.js";
import { sealEnvelope } from "../../src/core/e2e/envelope.js";
import { E2eError } from "../../src/core/e2e/primitives.js";
import { emptyTrust } from "../../src/core/e2e/trust.js";
import { createLogger } from "../../src/core/log.js";
import { Keyring, memoryDeviceKeyStore, memoryTrustStore, type DeviceKeyStore } from "../../src/xmpp/e2e-keyring.js";

const log = createLogger(() => {}, () => "error");

function setup(opts: { keys?: DeviceKeyStore } = {}) {
  const announced = new Map<string, DevicePublicKeys[]>();
  const lookups: string[] = [];
  const trust = memoryTrustStore(emptyTrust());
  let now = Date.parse("2026-12-03T10:00:00.000Z");
  const keyring = new Keyring({
    keys: opts.keys ?? memoryDeviceKeyStore(),
    trust,
    announced: {
      cached: (jid) => announced.get(jid) ?? null,
      lookup: async (jid) => {
        lookups.push(jid);
        return announced.get(jid) ?? [];
      },
    },
    log,
    now: () => now,
  });
  return { keyring, announced, lookups, trust, setNow: (t: number) => (now = t), now: () => now };
}

async function published(k: Keyring): Promise<DeviceKeyPair> {
  const me = await k.device();
  k.setOwnDevices([me.public]);
  return me;
}

describe("Keyring.sealingFor", () => {
  it("sends version 0 to a peer without devices, and until this device's keys are published", async () => {
    const { keyring, announced } = setup();
    const bob = await generateDeviceKeys();
    announced.set("carol@x", []);
    announced.set("bob@x", [bob.public]);
    expect(await keyring.sealingFor("carol@x")).toEqual({ v1: false, reason: "peer-without-e2e" });
    expect(await keyring.sealingFor("bob@x")).toEqual({ v1: false, reason: "own-keys-unpublished" });
    await published(keyring);
    expect(await keyring.sealingFor("bob@x")).toMatchObject({ v1: true, check: "first-use" });
  });

  it("pins on first use; the same devices later are unchanged", async () => {
    const { keyring, announced, trust } = setup();
    await published(keyring);
    const [b1, b2] = await Promise.all([generateDeviceKeys(), generateDeviceKeys()]);
    announced.set("bob@x", [b1.public, b2.public]);
    const first = await keyring.sealingFor("bob@x");
    expect(first).toMatchObject({ v1: true, check: "first-use" });
    expect(trust.state().peers["bob@x"]?.map((p) => p.id).sort()).toEqual([b1.public.id, b2.public.id].sort());
    const again = await keyring.sealingFor("bob@x");
    expect(again).toMatchObject({ v1: true, check: "unchanged" });
    if (!("v1" in again) || !again.v1) throw new Error("not v1");
    expect(again.devices.map((d) => d.public.id).sort()).toEqual([b1.public.id, b2.public.id].sort());
  });

  it("a new device next to pinned ones: sealed only for the pinned; a replaced device: refused until accepted", async () => {
    const { keyring, announced } = setup();
    await published(keyring);
    const [old, added, replacement] = await Promise.all([generateDeviceKeys(), generateDeviceKeys(), generateDeviceKeys()]);
    announced.set("bob@x", [old.public]);
    await keyring.sealingFor("bob@x");
    announced.set("bob@x", [old.public, added.public]);
    const partly = await keyring.sealingFor("bob@x");
    expect(partly).toMatchObject({ v1: true, check: "changed" });
    if (!("v1" in partly) || !partly.v1) throw new Error("not v1");
    expect(partly.devices.map((d) => d.public.id)).toEqual([old.public.id]);
    expect(keyring.blocked("bob@x")).toBe(false); // a new device next to a pinned one: still goes (to the pinned)
    announced.set("bob@x", [replacement.public]);
    const refused = await keyring.sealingFor("bob@x");
    expect(refused).toEqual({ refuse: expect.stringMatching(/key changed/) });
    expect(keyring.blocked("bob@x")).toBe(true);
    expect(keyring.blocked("nobody@x")).toBe(false);
    const view = await keyring.peerView("bob@x");
    expect(view.state).toBe("changed");
    expect(view.devices.find((d) => d.id === replacement.public.id)).toMatchObject({ pinned: false, announced: true, fingerprint: expect.stringMatching(/^(\d{5} ){7}\d{5}$/) });
    expect((await keyring.changedPeers()).map((p) => p.jid)).toEqual(["bob@x"]);
    await keyring.accept("bob@x");
    expect(keyring.blocked("bob@x")).toBe(false);
    const accepted = await keyring.sealingFor("bob@x");
    expect(accepted).toMatchObject({ v1: true, check: "unchanged" });
    expect((await keyring.peerView("bob@x")).devices.map((d) => d.id)).toEqual([replacement.public.id]);
    expect(await keyring.changedPeers()).toEqual([]);
  });

  it("a pinned peer whose devices vanished (a downgrade, or the add-on removed) is refused, and accepting allows version 0", async () => {
    const { keyring, announced } = setup();
    await published(keyring);
    const bob = await generateDeviceKeys();
    announced.set("bob@x", [bob.public]);
    await keyring.sealingFor("bob@x");
    announced.set("bob@x", []);
    expect(await keyring.sealingFor("bob@x")).toEqual({ refuse: expect.stringMatching(/no longer announces/) });
    expect((await keyring.peerView("bob@x")).state).toBe("withdrawn");
    await keyring.accept("bob@x");
    expect(await keyring.sealingFor("bob@x")).toEqual({ v1: false, reason: "peer-without-e2e" });
  });

  it("makes this device's keys once and keeps them; a store that cannot be read is an error, not a new device", async () => {
    const store = memoryDeviceKeyStore();
    const a = setup({ keys: store });
    const made = await a.keyring.device();
    const b = setup({ keys: store });
    expect((await b.keyring.device()).public.id).toBe(made.public.id);
    const broken = setup({ keys: { load: () => Promise.reject(new Error("IndexedDB gone")), save: () => Promise.resolve() } });
    await expect(broken.keyring.device()).rejects.toThrow(/IndexedDB gone/);
    await expect(broken.keyring.sealingFor("bob@x")).resolves.toEqual({ v1: false, reason: "peer-without-e2e" });
    broken.announced.set("bob@x", [(await generateDeviceKeys()).public]);
    await expect(broken.keyring.sealingFor("bob@x")).rejects.toThrow(/IndexedDB gone/);
  });
});

describe("Keyring.open", () => {
  async function sealFrom(sender: DeviceKeyPair, recipient: DeviceKeyPair, originId: string, now: number, to = "bob@x") {
    return sealEnvelope({
      payload: new TextEncoder().encode("From: alice@x\r\n\r\nhi\r\n"),
      kind: "inline",
      from: "alice@x",
      to,
      originId,
      now,
      sender,
      recipientDevices: [await parseDevicePublicKeys(recipient.public)],
      senderDevices: [],
    });
  }

  it("first mail from a peer pins it; a later mail from another of its devices is 'key changed'; an unknown signer is unverified", async () => {
    const bob = setup();
    const me = await bob.keyring.device();
    const [alice1, alice2, stranger] = await Promise.all([generateDeviceKeys(), generateDeviceKeys(), generateDeviceKeys()]);
    bob.announced.set("alice@x", [alice1.public]);
    const stanza = (originId: string) => ({ from: "alice@x", to: "bob@x", originId });
    const first = await bob.keyring.open(await sealFrom(alice1, me, "o1", bob.now()), stanza("o1"), 1_000_000);
    expect(first).toMatchObject({ verified: true, keyChanged: false });
    expect(bob.trust.state().peers["alice@x"]?.map((p) => p.id)).toEqual([alice1.public.id]);
    // alice2 is not known yet: the keyring reads alice's item once and finds it.
    bob.announced.set("alice@x", [alice1.public, alice2.public]);
    bob.lookups.length = 0;
    const second = await bob.keyring.open(await sealFrom(alice2, me, "o2", bob.now()), stanza("o2"), 1_000_000);
    expect(second).toMatchObject({ verified: true, keyChanged: true });
    // A device nobody announces: opened, but unverified (filed as from an unverified sender).
    const third = await bob.keyring.open(await sealFrom(stranger, me, "o3", bob.now()), stanza("o3"), 1_000_000);
    expect(third).toMatchObject({ verified: false, keyChanged: false, unverifiedReason: "unknown-sender-device" });
    expect(bob.lookups).toEqual(["alice@x"]);
    expect(new TextDecoder().decode(third.opened.payload)).toContain("hi");
  });

  it("refuses with typed errors: another recipient's envelope, a replayed origin-id, one too old", async () => {
    const bob = setup();
    const me = await bob.keyring.device();
    const alice = await generateDeviceKeys();
    bob.announced.set("alice@x", [alice.public]);
    const code = async (p: Promise<unknown>) => p.then(() => "opened", (e: unknown) => (e instanceof E2eError ? e.code : `other: ${String(e)}`));
    expect(await code(bob.keyring.open(await sealFrom(alice, me, "o1", bob.now(), "dave@x"), { from: "alice@x", to: "bob@x", originId: "o1" }, 1_000))).toBe("misdirected");
    expect(await code(bob.keyring.open(await sealFrom(alice, me, "o1", bob.now()), { from: "alice@x", to: "bob@x", originId: "o2" }, 1_000))).toBe("replay");
    expect(await code(bob.keyring.open(await sealFrom(alice, me, "o3", bob.now() - 15 * 24 * 3600_000), { from: "alice@x", to: "bob@x", originId: "o3" }, 1_000))).toBe("replay-window");
    const other = await generateDeviceKeys();
    expect(await code(bob.keyring.open(await sealFrom(alice, other, "o4", bob.now()), { from: "alice@x", to: "bob@x", originId: "o4" }, 1_000))).toBe("not-for-this-device");
  });

  it("reads a sender's item for unknown devices at most 3 times in ten minutes, never twice for one device (a stream of made-up devices cannot stall receiving)", async () => {
    const bob = setup();
    const me = await bob.keyring.device();
    const strangers = await Promise.all(Array.from({ length: 5 }, () => generateDeviceKeys()));
    bob.announced.set("mallory@x", []);
    const seal = async (sender: DeviceKeyPair, id: string) =>
      sealEnvelope({ payload: new Uint8Array([1]), kind: "inline", from: "mallory@x", to: "bob@x", originId: id, now: bob.now(), sender, recipientDevices: [await parseDevicePublicKeys(me.public)], senderDevices: [] });
    const open = async (s: DeviceKeyPair, id: string) => bob.keyring.open(await seal(s, id), { from: "mallory@x", to: "bob@x", originId: id }, 100);
    for (const [i, s] of strangers.entries()) {
      expect(await open(s, `m${i}`)).toMatchObject({ verified: false, unverifiedReason: "unknown-sender-device" });
    }
    expect(await open(strangers[0]!, "again")).toMatchObject({ verified: false });
    expect(bob.lookups).toEqual(["mallory@x", "mallory@x", "mallory@x"]);
    bob.setNow(bob.now() + 10 * 60_000);
    await open(strangers[0]!, "later");
    expect(bob.lookups).toHaveLength(4);
  });

  it("a peer's new device is found at once, even right after a read of its item for another device", async () => {
    const me = await generateDeviceKeys();
    const [first, stranger, added] = await Promise.all([generateDeviceKeys(), generateDeviceKeys(), generateDeviceKeys()]);
    let item: DevicePublicKeys[] = [first.public];
    const lookups: string[] = [];
    const keyring = new Keyring({
      keys: { load: async () => me, save: async () => {} },
      trust: memoryTrustStore(emptyTrust()),
      // The capability cache knows only alice's first device; her item (the lookup) tells what she announces now.
      announced: { cached: () => [first.public], lookup: async (jid) => (lookups.push(jid), item) },
      log,
    });
    const open = async (sender: DeviceKeyPair, id: string) =>
      keyring.open(await sealFrom(sender, me, id, Date.now()), { from: "alice@x", to: "bob@x", originId: id }, 1_000);
    expect(await open(first, "f1")).toMatchObject({ verified: true, keyChanged: false });
    expect(await open(stranger, "s1")).toMatchObject({ verified: false, unverifiedReason: "unknown-sender-device" });
    item = [first.public, added.public];
    expect(await open(added, "n1")).toMatchObject({ verified: true, keyChanged: true });
    expect(lookups).toEqual(["alice@x", "alice@x"]);
  });

  it("two mails at once from a device not known yet share one read of the sender's item, and both verify", async () => {
    const bob = setup();
    const me = await bob.keyring.device();
    const alice = await generateDeviceKeys();
    // Not cached: only the lookup finds alice's device (the capability cache had no answer for her).
    const lookups: string[] = [];
    bob.announced.set("alice@x", []);
    const keyring = new Keyring({
      keys: { load: async () => me, save: async () => {} },
      trust: memoryTrustStore(emptyTrust()),
      announced: {
        cached: () => null,
        lookup: async (jid) => {
          lookups.push(jid);
          await new Promise((r) => setTimeout(r, 20));
          return [alice.public];
        },
      },
      log,
    });
    const stanza = (originId: string) => ({ from: "alice@x", to: "bob@x", originId });
    const [a, b] = await Promise.all([
      keyring.open(await sealFrom(alice, me, "c1", Date.now()), stanza("c1"), 1_000),
      keyring.open(await sealFrom(alice, me, "c2", Date.now()), stanza("c2"), 1_000),
    ]);
    expect([a.verified, b.verified]).toEqual([true, true]);
    expect(lookups).toEqual(["alice@x"]);
  });

  it("a pin that cannot be stored costs no mail: sealed and opened all the same", async () => {
    const bob = setup();
    const me = await bob.keyring.device();
    bob.keyring.setOwnDevices([me.public]);
    bob.trust.save = () => Promise.reject(new Error("storage full"));
    const alice = await generateDeviceKeys();
    bob.announced.set("alice@x", [alice.public]);
    expect(await bob.keyring.sealingFor("alice@x")).toMatchObject({ v1: true, check: "first-use" });
    const verdict = await bob.keyring.open(await sealFrom(alice, me, "p1", bob.now()), { from: "alice@x", to: "bob@x", originId: "p1" }, 1_000);
    expect(verdict).toMatchObject({ verified: true, keyChanged: false });
  });
});
