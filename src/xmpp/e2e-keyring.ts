// End-to-end encryption for one installation (docs/protocol.md §10): this device's keys (made once, kept by the
// platform's key store), the devices peers announce (read with their capability item), and trust on first use (§6).
// The sender asks `sealingFor` which devices of a recipient it may encrypt for; the receiver asks `open` to open an
// envelope and to say whether its sender is a pinned device, a changed one, or cannot be verified. Everything that
// talks to a host (IndexedDB, storage) or to the network (the capability query) is injected.
import { E2eError } from "../core/e2e/primitives.js";
import { fingerprint, generateDeviceKeys, parseDevicePublicKeys, type DeviceKeyPair, type DeviceKeys, type DevicePublicKeys } from "../core/e2e/keys.js";
import { openEnvelope, type Envelope, type Opened } from "../core/e2e/envelope.js";
import { acceptDevices, checkDevices, emptyTrust, isPinned, pinFirstUse, type TrustCheck, type TrustState } from "../core/e2e/trust.js";
import type { Logger } from "../core/log.js";
import type { E2eOwnView, E2ePeerState, E2ePeerView } from "../core/messages.js";

/** Keeps this installation's device keys (non-extractable CryptoKeys): IndexedDB in Thunderbird, memory in tests. */
export interface DeviceKeyStore {
  /** The stored keys, or null when none were made yet. Rejects when the store cannot be read. */
  load(): Promise<DeviceKeyPair | null>;
  save(keys: DeviceKeyPair): Promise<void>;
}

/** Keeps the trust state (pinned devices per peer). load() rejects when the stored state cannot be read — never "empty". */
export interface TrustStore {
  load(): Promise<TrustState>;
  save(state: TrustState): Promise<void>;
}

export function memoryDeviceKeyStore(): DeviceKeyStore {
  let keys: DeviceKeyPair | null = null;
  return {
    load: () => Promise.resolve(keys),
    save: (k) => {
      keys = k;
      return Promise.resolve();
    },
  };
}

export function memoryTrustStore(initial: TrustState = emptyTrust()): TrustStore & { readonly state: () => TrustState } {
  let state = initial;
  return {
    load: () => Promise.resolve(state),
    save: (s) => {
      state = s;
      return Promise.resolve();
    },
    state: () => state,
  };
}

/** The devices a peer's capability item announces: `null` = not known here (never read, or expired). */
export interface AnnouncedDevices {
  /** What the capability cache holds for the JID (no network). */
  cached(jid: string): readonly DevicePublicKeys[] | null;
  /** Reads the JID's capability item now (network, bounded by the caller's deadline). */
  lookup(jid: string): Promise<readonly DevicePublicKeys[]>;
}

export interface KeyringDeps {
  readonly keys: DeviceKeyStore;
  readonly trust: TrustStore;
  readonly announced: AnnouncedDevices;
  readonly log: Logger;
  readonly now?: () => number;
}

/** What the sender may do for one recipient. */
export type SealingDecision =
  /** Version 1, for these devices (trusted: pinned, or pinned just now on first use). */
  | { readonly v1: true; readonly me: DeviceKeyPair; readonly devices: readonly DeviceKeys[]; readonly check: TrustCheck["kind"] }
  /**
   * Version 0: the recipient announces no version-1 device and none is pinned (an add-on without encryption); or this
   * device's keys are not in the account's published item yet, so the recipient could not verify its signature.
   */
  | { readonly v1: false; readonly reason: "peer-without-e2e" | "own-keys-unpublished" }
  /** Not over XMPP: a pinned peer whose devices are gone or all changed (a downgrade or a new key, not accepted yet). */
  | { readonly refuse: string };

/** What the receiver learns from an opened envelope. */
export interface OpenVerdict {
  readonly opened: Opened;
  /** Signed by a device of the sender that verifies. */
  readonly verified: boolean;
  /** Verified, but by a device not pinned for the sender while others are: shown as "key changed". */
  readonly keyChanged: boolean;
  readonly unverifiedReason?: "unknown-sender-device" | "bad-signature";
}

/** What the pages are shown (the contract's types, src/core/messages.ts). */
export type { E2eOwnView, E2ePeerView } from "../core/messages.js";
type PeerState = E2ePeerState;

/** Largest number of imported peer device keys kept in memory (each import costs ~0.5 ms; a Send should not pay it). */
const IMPORT_CACHE_MAX = 512;
/**
 * A sender's capability item is read at most this often for mail signed by a device not known yet: the read happens
 * while mail is received one stanza at a time, and a hostile sender (or its server, which may never answer) must not
 * hold up everyone else's mail with a stream of unknown devices.
 */
const SENDER_LOOKUP_INTERVAL_MS = 10 * 60_000;
/** Reads per sender in that interval (a peer's genuinely new device is found at once; a stream of made-up ones is not). */
const SENDER_LOOKUPS_PER_INTERVAL = 3;
/** How many senders' last lookups are remembered for that (oldest forgotten first). */
const SENDER_LOOKUP_MEMORY = 1_000;

export class Keyring {
  readonly #deps: KeyringDeps;
  #device: Promise<DeviceKeyPair> | null = null;
  #trust: Promise<TrustState> | null = null;
  /** The trust state once loaded (for the synchronous `blocked`). */
  #trustNow: TrustState | null = null;
  /** Serialises trust updates: read, change, save. */
  #trustQueue: Promise<unknown> = Promise.resolve();
  readonly #imported = new Map<string, Promise<DeviceKeys>>();
  /** This account's devices as last read from its own item (this device included once published). */
  #ownDevices: readonly DevicePublicKeys[] = [];
  /** Sender JID → when its item was last read for an unknown signing device, and that read (shared while it runs). */
  readonly #senderLookups = new Map<string, SenderLookups>();

  constructor(deps: KeyringDeps) {
    this.#deps = deps;
  }

  /** This device's keys: loaded, or made and stored on first use. Rejects when the store fails (then no v1 at all). */
  device(): Promise<DeviceKeyPair> {
    this.#device ??= (async () => {
      const stored = await this.#deps.keys.load();
      if (stored) return stored;
      const made = await generateDeviceKeys();
      await this.#deps.keys.save(made);
      this.#deps.log.info("e2e-device-created", { device: made.public.id });
      return made;
    })();
    const loading = this.#device;
    loading.catch((error: unknown) => {
      this.#deps.log.warn("e2e-device-unavailable", { error });
      if (this.#device === loading) this.#device = null;
    });
    return loading;
  }

  /** The account's devices as its own item lists them (set by the capability publisher). */
  setOwnDevices(devices: readonly DevicePublicKeys[]): void {
    this.#ownDevices = devices.slice(0, 16);
  }

  #trustState(): Promise<TrustState> {
    this.#trust ??= this.#deps.trust.load().then((state) => (this.#trustNow = state));
    const loading = this.#trust;
    loading.catch(() => {
      if (this.#trust === loading) this.#trust = null;
    });
    return loading;
  }

  /** Applies `change` to the trust state and saves it, one change at a time. */
  #updateTrust(change: (state: TrustState) => TrustState): Promise<TrustState> {
    const run = this.#trustQueue.then(async () => {
      const before = await this.#trustState();
      const after = change(before);
      if (after !== before) {
        await this.#deps.trust.save(after);
        this.#trust = Promise.resolve(after);
        this.#trustNow = after;
      }
      return after;
    });
    this.#trustQueue = run.catch(() => undefined);
    return run;
  }

  #import(device: DevicePublicKeys): Promise<DeviceKeys> {
    const key = `${device.id} ${device.agree} ${device.sign}`;
    let found = this.#imported.get(key);
    if (!found) {
      found = parseDevicePublicKeys(device);
      found.catch(() => this.#imported.delete(key));
      this.#imported.set(key, found);
      while (this.#imported.size > IMPORT_CACHE_MAX) {
        const oldest = this.#imported.keys().next().value;
        if (oldest === undefined) break;
        this.#imported.delete(oldest);
      }
    }
    return found;
  }

  /**
   * Which devices of `jid` a mail may be sealed for, from what the capability cache holds (no network: the lookup
   * before the Send filled it). First use pins; a change is never accepted silently: only pinned devices still
   * announced are used, and when none is left the mail does not go over XMPP (SMTP instead), with the reason.
   */
  async sealingFor(jid: string): Promise<SealingDecision> {
    const announced = this.#deps.announced.cached(jid) ?? [];
    const trust = await this.#trustState();
    const check = checkDevices(trust, jid, announced);
    if (check.kind === "first-use" && announced.length === 0) return { v1: false, reason: "peer-without-e2e" };
    // A mail signed by a device the recipient cannot find would be filed as from an unverified sender: version 0 (its
    // sender check by JID) until this device's keys are published.
    const own = await this.device();
    if (!this.#ownDevices.some((d) => d.id === own.public.id)) {
      if (check.kind === "first-use" || check.kind === "unchanged") return { v1: false, reason: "own-keys-unpublished" };
    }
    if (check.kind === "first-use") {
      const me = own;
      const devices = await Promise.all(announced.map((d) => this.#import(d)));
      // A pin that cannot be kept (the trust store is full or failed) does not stop the mail: sealed all the same.
      await this.#updateTrust((s) => pinFirstUse(s, jid, announced, this.#now())).then(
        () => this.#deps.log.info("e2e-pinned-first-use", { jid, devices: announced.length }),
        (error: unknown) => this.#deps.log.warn("e2e-pin-failed", { jid, error }),
      );
      return { v1: true, me, devices, check: check.kind };
    }
    if (check.kind === "withdrawn") {
      return { refuse: `the recipient's add-on no longer announces its encryption keys (${jid}): not sent over XMPP without encryption; accept or compare keys in the options` };
    }
    const usable = check.kind === "unchanged" ? announced : check.pinned;
    if (usable.length === 0) {
      return { refuse: `the recipient's key changed (${jid}): not sent over XMPP until you accept the new key in the compose window or the options` };
    }
    const [me, devices] = await Promise.all([this.device(), Promise.all(usable.map((d) => this.#import(d)))]);
    return { v1: true, me, devices, check: check.kind };
  }

  /**
   * Without waiting: whether a mail to `jid` would be refused now (a pinned peer whose announced devices changed
   * completely or vanished), from the trust state once loaded and the cached announcements — for the route preview
   * and decision, so that the compose window says "by mail" before the Send. Loads the trust state on first call.
   */
  blocked(jid: string): boolean {
    if (this.#trustNow === null) {
      void this.#trustState().catch(() => undefined);
      return false;
    }
    const announced = this.#deps.announced.cached(jid);
    if (announced === null) return false;
    const check = checkDevices(this.#trustNow, jid, announced);
    return check.kind === "withdrawn" || (check.kind === "changed" && check.pinned.length === 0);
  }

  /**
   * Opens an envelope received from `stanza.from`. The sender's devices: the pinned ones and the announced ones (read
   * again once when the signing device is among neither). A signature that does not verify still opens the mail
   * (filed as from an unverified sender); every other failure rejects with its E2eError.
   */
  async open(envelope: Envelope, stanza: { readonly from: string; readonly to: string; readonly originId: string }, maxPlainBytes: number): Promise<OpenVerdict> {
    const me = await this.device();
    const trust = await this.#trustState();
    const from = stanza.from;
    const pinned = Object.hasOwn(trust.peers, from) ? trust.peers[from]! : [];
    let announced = this.#deps.announced.cached(from) ?? [];
    const known = (list: readonly DevicePublicKeys[]) => list.some((d) => d.id === envelope.senderDevice);
    if (!known(pinned) && !known(announced)) announced = (await this.#lookUpSender(from, envelope.senderDevice)) ?? announced;
    const candidates = dedupeDevices([...pinned, ...announced]);
    const imported = (await Promise.all(candidates.map((d) => this.#import(d).catch(() => null)))).filter((d): d is DeviceKeys => d !== null);
    const opened = await openEnvelope(envelope, {
      me,
      myJid: stanza.to,
      stanza,
      senderDevices: imported,
      now: this.#now(),
      maxPlainBytes,
      unverified: "open-unverified",
    });
    if (!opened.verified || !opened.senderDevice) {
      return { opened, verified: false, keyChanged: false, ...(opened.unverifiedReason ? { unverifiedReason: opened.unverifiedReason } : {}) };
    }
    const signer = opened.senderDevice.public;
    if (opened.copy === "sender") return { opened, verified: true, keyChanged: false };
    if (isPinned(trust, from, signer)) return { opened, verified: true, keyChanged: false };
    if (pinned.length === 0) {
      // First mail from this peer: pin what it announces (and the signer, which verified), as a sender would. A pin
      // that cannot be kept (the trust store is full or failed) does not cost the mail: it is filed verified, unpinned.
      const first = dedupeDevices([signer, ...announced]).slice(0, 16);
      await this.#updateTrust((s) => pinFirstUse(s, from, first, this.#now())).then(
        () => this.#deps.log.info("e2e-pinned-first-use", { jid: from, devices: first.length }),
        (error: unknown) => this.#deps.log.warn("e2e-pin-failed", { jid: from, error }),
      );
      return { opened, verified: true, keyChanged: false };
    }
    this.#deps.log.warn("e2e-key-changed", { from, device: signer.id });
    return { opened, verified: true, keyChanged: true };
  }

  /**
   * The sender's announced devices read again for a signing device not known yet: a read running now is shared; a
   * device already looked for in this interval is not looked for again; at most SENDER_LOOKUPS_PER_INTERVAL reads per
   * sender per interval. Null: not read (throttled or failed) — the mail is then filed as from an unverified sender.
   */
  async #lookUpSender(jid: string, device: string): Promise<readonly DevicePublicKeys[] | null> {
    const now = this.#now();
    let entry = this.#senderLookups.get(jid);
    if (!entry || now - entry.since >= SENDER_LOOKUP_INTERVAL_MS) {
      entry = { since: now, reads: 0, running: null, sought: new Set() };
      this.#senderLookups.delete(jid);
      this.#senderLookups.set(jid, entry);
      while (this.#senderLookups.size > SENDER_LOOKUP_MEMORY) {
        const oldest = this.#senderLookups.keys().next().value;
        if (oldest === undefined) break;
        this.#senderLookups.delete(oldest);
      }
    }
    if (entry.running) return entry.running;
    if (entry.sought.has(device) || entry.reads >= SENDER_LOOKUPS_PER_INTERVAL || entry.sought.size >= 16) return null;
    entry.sought.add(device);
    entry.reads += 1;
    const current = entry;
    const running = this.#deps.announced
      .lookup(jid)
      .catch((error: unknown) => {
        this.#deps.log.info("e2e-sender-devices-unavailable", { from: jid, error });
        return null;
      })
      .finally(() => {
        current.running = null;
      });
    current.running = running;
    return running;
  }

  // ---- for the pages ----------------------------------------------------------------------------------------

  async ownView(): Promise<E2eOwnView> {
    const me = await this.device();
    const list = dedupeDevices([me.public, ...this.#ownDevices]);
    return {
      devices: await Promise.all(list.map(async (d) => ({ id: d.id, fingerprint: await fingerprint(d), thisDevice: d.id === me.public.id }))),
    };
  }

  async peerView(jid: string): Promise<E2ePeerView> {
    const trust = await this.#trustState();
    const announced = this.#deps.announced.cached(jid) ?? [];
    const pinned = Object.hasOwn(trust.peers, jid) ? trust.peers[jid]! : [];
    const check = checkDevices(trust, jid, announced);
    const state: PeerState = pinned.length === 0 && announced.length === 0 ? "none" : check.kind;
    const all = dedupeDevices([...pinned, ...announced]);
    const devices = await Promise.all(
      all.map(async (d) => ({
        id: d.id,
        fingerprint: await fingerprint(d).catch(() => "?"),
        pinned: pinned.some((p) => p.id === d.id && p.agree === d.agree && p.sign === d.sign),
        announced: announced.some((a) => a.id === d.id && a.agree === d.agree && a.sign === d.sign),
      })),
    );
    return { jid, state, devices };
  }

  /** Peers whose announced devices differ from the pinned ones (changed or withdrawn), for the options page. */
  async changedPeers(): Promise<E2ePeerView[]> {
    const trust = await this.#trustState();
    const views: E2ePeerView[] = [];
    for (const jid of Object.keys(trust.peers)) {
      const announced = this.#deps.announced.cached(jid);
      if (announced === null) continue;
      const kind = checkDevices(trust, jid, announced).kind;
      if (kind === "changed" || kind === "withdrawn") views.push(await this.peerView(jid));
      if (views.length >= 50) break;
    }
    return views;
  }

  /** The user accepts what `jid` announces now: its devices are pinned, pinned devices it no longer announces are dropped. */
  async accept(jid: string): Promise<void> {
    const announced = this.#deps.announced.cached(jid) ?? [];
    if (announced.length === 0) {
      // Withdrawn: accepting means "send without encryption is fine", i.e. forget the pins.
      await this.#updateTrust((s) => {
        if (!Object.hasOwn(s.peers, jid)) return s;
        const peers = { ...s.peers };
        delete peers[jid];
        return { version: 1, peers };
      });
    } else {
      await Promise.all(announced.map((d) => this.#import(d))); // only keys that parse are pinned
      await this.#updateTrust((s) => {
        const current = Object.hasOwn(s.peers, jid) ? s.peers[jid]! : [];
        const forget = current.filter((p) => !announced.some((a) => a.id === p.id)).map((p) => p.id);
        return acceptDevices(s, jid, announced, this.#now(), { forget });
      });
    }
    this.#deps.log.info("e2e-devices-accepted", { jid, devices: announced.length });
  }

  #now(): number {
    return (this.#deps.now ?? Date.now)();
  }
}

/** The reads of one sender's item for unknown signing devices within the current interval. */
interface SenderLookups {
  readonly since: number;
  reads: number;
  running: Promise<readonly DevicePublicKeys[] | null> | null;
  /** Device ids looked for in this interval. */
  readonly sought: Set<string>;
}

function dedupeDevices(list: readonly DevicePublicKeys[]): DevicePublicKeys[] {
  const seen = new Set<string>();
  const out: DevicePublicKeys[] = [];
  for (const d of list) {
    const key = `${d.id} ${d.agree} ${d.sign}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ id: d.id, agree: d.agree, sign: d.sign });
  }
  return out;
}

export { E2eError };
