// End-to-end encryption (docs/protocol.md §10) on a real Prosody and a real ejabberd, our own sessions on both sides:
// the devices published with the capability item (two devices of one account share it), a version 1 mail that the
// servers store for an offline recipient without its text, subject or key (a server-side observer reads the servers'
// own storage files: Prosody's data directory, ejabberd's Mnesia spool), opened and filed with `e2e=yes` once the
// recipient logs in; a version 0 peer; a key change; and hostile envelopes (tampered, replayed to another recipient,
// signed by an unknown device).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { client as stockClient, xml } from "@xmpp/client";
import { CapabilityCache } from "../../src/core/capability-cache.js";
import { generateDeviceKeys, parseDevicePublicKeys } from "../../src/core/e2e/keys.js";
import { sealEnvelope } from "../../src/core/e2e/envelope.js";
import { emptyTrust } from "../../src/core/e2e/trust.js";
import { createLogger } from "../../src/core/log.js";
import { publishCapability, announcedDevicesFrom, queryCapabilityInfo, withdrawCapability } from "../../src/xmpp/capability.js";
import { Keyring, memoryDeviceKeyStore, memoryTrustStore } from "../../src/xmpp/e2e-keyring.js";
import { DEFAULT_SIZE_POLICY, MailSender } from "../../src/xmpp/mail-sender.js";
import { buildMailStanzaV1, envelopeToWire, NEUTRAL_BODY } from "../../src/xmpp/mail-stanza-v1.js";
import { MailReceiver, type FiledMail, type ReceiveOutcome } from "../../src/xmpp/receiver.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import type { XmppSession } from "../../src/xmpp/session.js";
import { ourSession, rfc5322, waitFor, whenOnline } from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

const log = createLogger(() => {}, () => "debug");
const td = new TextDecoder();

const start = async (s: XmppSession) => {
  s.start();
  await whenOnline(s);
};

/** Every file under `dir`, concatenated as latin1 text (the servers' stores keep stanza text as it came). */
function storedText(dir: string): string {
  const parts: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path);
      else if (st.size < 64 * 1024 * 1024) parts.push(readFileSync(path).toString("latin1"));
    }
  };
  walk(dir);
  return parts.join("\n");
}

/** One installation: a keyring with in-memory stores, the capability answers it learned, a sender and a receiver. */
interface Device {
  readonly session: XmppSession;
  readonly keyring: Keyring;
  readonly caps: CapabilityCache;
  readonly sender: MailSender;
  readonly filed: FiledMail[];
  readonly outcomes: ReceiveOutcome[];
  receiver: MailReceiver | null;
  /** Publishes this device's keys with the capability item (`e2e` false: a version 0 add-on). */
  publish(e2e?: boolean): Promise<void>;
  learn(jid: string): Promise<void>;
}

async function device(server: XmppServer, user: string, resource: string, opts: { receive?: boolean } = {}): Promise<Device> {
  const session = ourSession(server, user, `pw-${user}`, resource, log);
  const caps = new CapabilityCache(() => Date.now());
  const keyring = new Keyring({
    keys: memoryDeviceKeyStore(),
    trust: memoryTrustStore(emptyTrust()),
    announced: announcedDevicesFrom(caps, () => session),
    log,
  });
  const sender = new MailSender({ session, log, scheduler: realScheduler, filedGraceMs: 1_000, sizePolicy: { ...DEFAULT_SIZE_POLICY, inlineBudget: null } });
  sender.start();
  const filed: FiledMail[] = [];
  const outcomes: ReceiveOutcome[] = [];
  const d: Device = {
    session,
    keyring,
    caps,
    sender,
    filed,
    outcomes,
    receiver: null,
    async publish(e2e = true) {
      const report = await publishCapability(session, new Date(), e2e ? { device: (await keyring.device()).public } : {});
      if (report.devices) keyring.setOwnDevices(report.devices);
    },
    async learn(jid) {
      const info = await queryCapabilityInfo(session, jid, new Date(), 5_000);
      caps.set(jid, info.capable, info.devices);
    },
  };
  if (opts.receive !== false) {
    const store = new Map<string, unknown>();
    d.receiver = new MailReceiver({
      session,
      log,
      sink: { file: async (m) => void filed.push(m) },
      directory: { confirmedJids: async () => [], addressBookJids: async () => [], isKnown: async () => true },
      store: { get: async (k) => store.get(k), set: async (k, v) => void store.set(k, v) },
      e2e: keyring,
    });
    const original = d.receiver.handle.bind(d.receiver);
    d.receiver.handle = async (...args) => {
      const outcome = await original(...args);
      outcomes.push(outcome);
      return outcome;
    };
    d.receiver.start();
  }
  await start(session);
  return d;
}

const mail = (from: string, to: string, subject: string, body: string) =>
  rfc5322({ from, to, subject, body, messageId: `<${Math.random().toString(36).slice(2)}@e2e.test>` });

describe.each(testServers())("end-to-end encryption on %s", (kind) => {
  let server: XmppServer;
  const others: XmppSession[] = [];

  beforeAll(async () => {
    server = await startServer(kind, {
      users: ["alice", "bob", "carol", "dave", "mallory", "erin"].map((user) => ({ user, password: `pw-${user}` })),
      upload: true,
      mam: true,
    });
  });
  afterAll(async () => {
    for (const s of others) await s.stop().catch(() => {});
    await server?.cleanup();
  });
  const track = (d: Device) => {
    others.push(d.session);
    return d;
  };

  it("publishes one item for the account's devices; both devices are announced and the keys check", async () => {
    const dave1 = track(await device(server, "dave", "one", { receive: false }));
    const dave2 = track(await device(server, "dave", "two", { receive: false }));
    await dave1.publish();
    await dave2.publish();
    const probe = track(await device(server, "alice", "probe", { receive: false }));
    const info = await queryCapabilityInfo(probe.session, `dave@${server.domain}`, new Date(), 5_000);
    expect(info.capable).toBe(true);
    expect(info.devices.map((d) => d.id).sort()).toEqual([(await dave1.keyring.device()).public.id, (await dave2.keyring.device()).public.id].sort());
    // A re-publish of the first keeps the second.
    await dave1.publish();
    const again = await queryCapabilityInfo(probe.session, `dave@${server.domain}`, new Date(), 5_000);
    expect(again.devices).toHaveLength(2);
    // One Thunderbird switched off: the other stays reachable; the last one switched off: the item is gone.
    const id1 = (await dave1.keyring.device()).public.id;
    const id2 = (await dave2.keyring.device()).public.id;
    expect(await withdrawCapability(dave1.session, new Date(), id1)).toBe("others-kept");
    const left = await queryCapabilityInfo(probe.session, `dave@${server.domain}`, new Date(), 5_000);
    expect(left).toMatchObject({ capable: true });
    expect(left.devices.map((d) => d.id)).toEqual([id2]);
    expect(await withdrawCapability(dave2.session, new Date(), id2)).toBe("retracted");
    expect(await queryCapabilityInfo(probe.session, `dave@${server.domain}`, new Date(), 5_000)).toEqual({ capable: false, devices: [] });
    await probe.session.stop();
  });

  it("stores a version 1 mail for an offline recipient without its text, subject or key; files it with e2e=yes at login", async () => {
    const domain = server.domain;
    const bob = await device(server, "bob", "tb");
    await bob.publish();
    const bobDevice = (await bob.keyring.device()).public.id;
    await bob.session.stop(); // offline: the servers keep the stanzas in their offline store
    const carol = await device(server, "carol", "tb", { receive: false });
    await carol.publish(false); // a version 0 add-on
    await carol.session.stop();

    const alice = track(await device(server, "alice", "tb", { receive: false }));
    await alice.learn(`bob@${domain}`);
    await alice.learn(`carol@${domain}`);
    // Until her own keys are published, bob could not verify her signature: version 0.
    expect(await alice.keyring.sealingFor(`bob@${domain}`)).toEqual({ v1: false, reason: "own-keys-unpublished" });
    await alice.publish();
    const toBob = await alice.keyring.sealingFor(`bob@${domain}`);
    const toCarol = await alice.keyring.sealingFor(`carol@${domain}`);
    expect(toBob).toMatchObject({ v1: true, check: "first-use" });
    expect(toCarol).toEqual({ v1: false, reason: "peer-without-e2e" });
    if (!("v1" in toBob) || !toBob.v1) throw new Error("unreachable");
    expect(toBob.devices.map((d) => d.public.id)).toEqual([bobDevice]);

    const secretV1 = `Sekret-${kind}-v1-${Math.random().toString(36).slice(2)}`;
    const secretV0 = `Sekret-${kind}-v0-${Math.random().toString(36).slice(2)}`;
    const smallV1 = mail(`alice@${domain}`, `bob@${domain}`, `Subject ${secretV1}`, `Body ${secretV1}`);
    const largeV1 = mail(`alice@${domain}`, `bob@${domain}`, `Large ${secretV1}`, `Attachment ${secretV1}\r\n${"x".repeat(60_000)}`);
    const smallV0 = mail(`alice@${domain}`, `carol@${domain}`, `Subject ${secretV0}`, `Body ${secretV0}`);
    const e2e = { me: toBob.me, devices: toBob.devices };
    const outcomes = [
      await alice.sender.deliver({ to: `bob@${domain}`, raw: smallV1, subject: `Subject ${secretV1}`, fallbackBody: `Body ${secretV1}`, e2e }, 10_000),
      await alice.sender.deliver({ to: `bob@${domain}`, raw: largeV1, subject: `Large ${secretV1}`, fallbackBody: `Attachment ${secretV1}`, e2e }, 10_000),
      await alice.sender.deliver({ to: `carol@${domain}`, raw: smallV0, subject: `Subject ${secretV0}`, fallbackBody: `Body ${secretV0}` }, 10_000),
    ];
    expect(outcomes.map((o) => o.status)).toEqual(["accepted", "accepted", "accepted"]);
    expect(outcomes.map((o) => ("route" in o ? o.route : null))).toEqual(["inline", "external", "inline"]);
    expect(outcomes.map((o) => ("e2e" in o ? o.e2e : null))).toEqual([true, true, false]);

    // The observer: the servers' own storage. The version 0 mail is there in clear (so the observer can see), the
    // version 1 mails are not; the neutral body is.
    await waitFor(() => storedText(server.dataDir).includes(secretV0), 10_000, "the v0 mail in the server's store");
    const stored = storedText(server.dataDir);
    expect(stored).toContain(secretV0);
    expect(stored).toContain("An encrypted e-mail for you");
    expect(stored).not.toContain(secretV1);
    expect(stored).not.toContain("Large ");
    // No readable key of an uploaded mail (version 0's `<external key=…>`) for bob.
    expect(stored).not.toMatch(/mail\/1[^]{0,4000}key="/);

    // Bob logs in: the offline copies arrive, are opened and filed with e2e=yes.
    await start(bob.session);
    track(bob);
    await waitFor(() => bob.filed.length >= 2, 15_000, "bob filed both");
    const texts = bob.filed.map((m) => td.decode(m.raw));
    expect(texts.some((t) => t.includes(`Body ${secretV1}`))).toBe(true);
    expect(texts.some((t) => t.includes(`Attachment ${secretV1}`))).toBe(true);
    for (const t of texts) expect(t).toMatch(/^X-Mail-Over-XMPP: from=alice@[^;]+; verified=yes; how=same-address; [^\r]*; e2e=yes\r\n/);
    expect(bob.filed.every((m) => m.verified && !m.keyChanged)).toBe(true);
    // Bob pinned alice on first use (her signature verified against her published item).
    expect((await bob.keyring.peerView(`alice@${domain}`)).state).not.toBe("changed");
  }, 90_000);

  it("sends a version 0 mail to a version 0 peer, and the version 1 receiver still files version 0", async () => {
    const domain = server.domain;
    const erin = track(await device(server, "carol", "v1tb")); // carol's account, now with a v1 receiver (no device published)
    const alice = track(await device(server, "alice", "v0", { receive: false }));
    const raw = mail(`alice@${domain}`, `carol@${domain}`, "plain", "version 0 body");
    const outcome = await alice.sender.deliver({ to: `carol@${domain}`, raw, subject: "plain", fallbackBody: "version 0 body" }, 10_000);
    expect(outcome).toMatchObject({ status: "filed", e2e: false });
    await waitFor(() => erin.filed.some((m) => td.decode(m.raw).includes("version 0 body")), 10_000, "filed");
    const m = erin.filed.find((f) => td.decode(f.raw).includes("version 0 body"))!;
    expect(td.decode(m.raw)).toMatch(/; e2e=no\r\n/);
  }, 60_000);

  it("refuses a tampered envelope and one replayed to another recipient; files a mail signed by an unknown device as unverified", async () => {
    const domain = server.domain;
    const bob = track(await device(server, "bob", "hostile-target"));
    await bob.publish();
    const mallory = track(await device(server, "mallory", "tb", { receive: false }));
    await mallory.learn(`bob@${domain}`);
    const bobKeys = await parseDevicePublicKeys((await bob.keyring.device()).public);
    const malloryKeys = await mallory.keyring.device(); // never published: unknown to bob
    const send = async (id: string, change: (s: ReturnType<typeof buildMailStanzaV1>) => void, to = `bob@${domain}`, sealTo = `bob@${domain}`) => {
      const raw = mail(`mallory@${domain}`, `bob@${domain}`, `hostile ${id}`, `hostile body ${id}`);
      const envelope = await sealEnvelope({ payload: raw, kind: "inline", from: `mallory@${domain}`, to: sealTo, originId: id, now: Date.now(), sender: malloryKeys, recipientDevices: [bobKeys], senderDevices: [] });
      const stanza = buildMailStanzaV1({ to, id, body: NEUTRAL_BODY, mail: { size: raw.length, envelope: envelopeToWire(envelope) } });
      change(stanza);
      await mallory.session.send(stanza, 5_000);
    };
    const before = bob.outcomes.length;
    // 1. Ciphertext changed in one character.
    await send("tampered-1", (s) => {
      const c = s.getChild("mail")!.getChild("envelope")!.getChild("ciphertext")!;
      const text = c.text();
      c.children = [text.slice(0, 10) + (text[10] === "A" ? "B" : "A") + text.slice(11)];
    });
    // 2. Sealed for dave, sent to bob.
    await send("replayed-1", () => {}, `bob@${domain}`, `dave@${domain}`);
    // 3. Intact, but signed by a device mallory never published.
    await send("unknown-device-1", () => {});
    await waitFor(() => bob.outcomes.length >= before + 3, 10_000, "three outcomes");
    const recent = bob.outcomes.slice(before);
    expect(recent).toContainEqual({ status: "rejected", reason: "e2e-failed" });
    expect(recent.filter((o) => o.status === "rejected")).toHaveLength(2);
    expect(recent).toContainEqual({ status: "filed", verified: false });
    const unverified = bob.filed.find((m) => td.decode(m.raw).includes("hostile body unknown-device-1"))!;
    expect(unverified.verified).toBe(false);
    expect(td.decode(unverified.raw)).toMatch(/verified=no; how=unknown-sender-device;[^\r]*e2e=no/);
  }, 60_000);

  it("does not accept a changed key silently: the sender refuses, the user accepts, then it goes", async () => {
    const domain = server.domain;
    const frank = track(await device(server, "dave", "frank-old", { receive: false }));
    const alice = track(await device(server, "alice", "keychange", { receive: false }));
    await alice.publish();
    await frank.publish();
    await alice.learn(`dave@${domain}`);
    const first = await alice.keyring.sealingFor(`dave@${domain}`);
    expect(first).toMatchObject({ v1: true });
    // Dave's account now announces only a new device (the old one replaced, or a device a server made up).
    const replaced = await generateDeviceKeys();
    await publishCapability(frank.session, new Date(), { device: replaced.public });
    // Drop the other devices from the item so that only the new key is announced.
    const only = await queryCapabilityInfo(alice.session, `dave@${domain}`, new Date(), 5_000);
    alice.caps.set(`dave@${domain}`, true, only.devices.filter((d) => d.id === replaced.public.id));
    const changed = await alice.keyring.sealingFor(`dave@${domain}`);
    expect(changed).toHaveProperty("refuse");
    expect((changed as { refuse: string }).refuse).toMatch(/key changed/);
    expect((await alice.keyring.peerView(`dave@${domain}`)).state).toBe("changed");
    await alice.keyring.accept(`dave@${domain}`);
    const after = await alice.keyring.sealingFor(`dave@${domain}`);
    expect(after).toMatchObject({ v1: true, check: "unchanged" });
    if (!("v1" in after) || !after.v1) throw new Error("not version 1");
    expect(after.devices.map((d) => d.public.id)).toEqual([replaced.public.id]);
  }, 60_000);

  it("files a version 1 mail once from a phone's carbon, once from the archive (MAM catch-up), and a repeat as duplicate", async () => {
    const domain = server.domain;
    // erin: our receiver (a Thunderbird) and a phone at a higher priority, which the servers give the mail to.
    const erin = await device(server, "erin", "tb");
    await erin.publish();
    const phone = stockClient({ service: server.wsUrl, domain, username: "erin", password: "pw-erin", resource: "phone" });
    phone.on("error", () => {});
    await phone.start();
    await waitFor(() => phone.streamManagement.enabled, 5_000, "stream management on the phone");
    await phone.send(xml("presence", {}, xml("priority", {}, "10")));
    const alice = track(await device(server, "alice", "carbons", { receive: false }));
    await alice.publish();
    await alice.learn(`erin@${domain}`);
    const sealing = await alice.keyring.sealingFor(`erin@${domain}`);
    if (!("v1" in sealing) || !sealing.v1) throw new Error(`no version 1: ${JSON.stringify(sealing)}`);
    const e2e = { me: sealing.me, devices: sealing.devices };
    try {
      // 1. Live, to the phone; our receiver files it from the carbon and answers: alice sees "filed".
      const viaCarbon = mail(`alice@${domain}`, `erin@${domain}`, "via carbon", "carbon body");
      expect(await alice.sender.deliver({ to: `erin@${domain}`, raw: viaCarbon, subject: "via carbon", fallbackBody: "x", e2e }, 10_000)).toMatchObject({ status: "filed", e2e: true });
      await waitFor(() => erin.filed.some((m) => td.decode(m.raw).includes("carbon body")), 5_000, "filed from the carbon");
      // 2. Our receiver offline: the phone takes it, the server archives it; at login the catch-up files it.
      await erin.session.stop();
      const viaArchive = mail(`alice@${domain}`, `erin@${domain}`, "via archive", "archive body");
      const outcome = await alice.sender.deliver({ to: `erin@${domain}`, raw: viaArchive, subject: "via archive", fallbackBody: "x", e2e }, 3_000);
      expect(outcome.status).not.toBe("filed"); // nobody who can file it is online: the sender's deadline sends it by SMTP
      await start(erin.session);
      track(erin);
      await waitFor(() => erin.filed.some((m) => td.decode(m.raw).includes("archive body")), 10_000, "filed from the archive");
      const fromArchive = erin.filed.find((m) => td.decode(m.raw).includes("archive body"))!;
      expect(td.decode(fromArchive.raw)).toMatch(/; e2e=yes\r\n/);
      // 3. The same sealed stanza twice (a retransmission, or a replay by a server): filed once.
      const raw = mail(`alice@${domain}`, `erin@${domain}`, "twice", "twice body");
      const envelope = await sealEnvelope({ payload: raw, kind: "inline", from: `alice@${domain}`, to: `erin@${domain}`, originId: "twice-1", now: Date.now(), sender: sealing.me, recipientDevices: sealing.devices, senderDevices: [] });
      const stanza = () => buildMailStanzaV1({ to: `erin@${domain}/tb`, id: "twice-1", body: NEUTRAL_BODY, mail: { size: raw.length, envelope: envelopeToWire(envelope) } });
      const before = erin.outcomes.length;
      await alice.session.send(stanza(), 5_000);
      await alice.session.send(stanza(), 5_000);
      await waitFor(() => erin.outcomes.length >= before + 2, 5_000, "both copies handled");
      expect(erin.outcomes.slice(before)).toEqual([{ status: "filed", verified: true }, { status: "duplicate" }]);
      expect(erin.filed.filter((m) => td.decode(m.raw).includes("twice body"))).toHaveLength(1);
      expect(erin.filed.filter((m) => td.decode(m.raw).includes("carbon body"))).toHaveLength(1);
    } finally {
      await phone.stop().catch(() => {});
    }
  }, 60_000);
});
