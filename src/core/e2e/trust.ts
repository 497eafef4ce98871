// Trust on first use (docs/protocol.md §10.6): the devices first seen for a JID are pinned; later, a device that is not
// pinned is never accepted silently — the caller shows "key changed" until the user accepts the new device(s) or
// compares fingerprints. Pure data and functions: the state is a plain, JSON-serialisable value (the storage adapter
// that keeps it in the extension's storage is later work, src/platform).

import { decodeBase64Strict } from "../base64.js";
import { isDeviceId, type DevicePublicKeys } from "./keys.js";
import { E2eError } from "./primitives.js";

export interface PinnedDevice extends DevicePublicKeys {
  /** When it was pinned, ms since the epoch. */
  readonly pinnedAt: number;
  /** "first-use": pinned because it was among the first devices seen; "accepted": the user accepted it. */
  readonly how: "first-use" | "accepted";
}

export interface TrustState {
  readonly version: 1;
  /** Bare JID → its pinned devices. */
  readonly peers: Readonly<Record<string, readonly PinnedDevice[]>>;
}

/** Bounds of a stored state (a parsed state over them is refused). */
export const MAX_PEERS = 10_000;
export const MAX_DEVICES_PER_PEER = 32;

export const emptyTrust = (): TrustState => ({ version: 1, peers: {} });

/** How the devices a JID announces now compare with what is pinned for it. */
export type TrustCheck =
  /** Nothing pinned yet: pin them (pinFirstUse) and go on. */
  | { readonly kind: "first-use"; readonly devices: readonly DevicePublicKeys[] }
  /** Every announced device is pinned (with the same keys); `gone`: pinned devices no longer announced. */
  | { readonly kind: "unchanged"; readonly gone: readonly PinnedDevice[] }
  /**
   * Devices are pinned but none is announced any more: the peer removed the add-on — or a server hides its devices to
   * force version 0 (a downgrade). Shown like a change; the caller asks before sending without encryption.
   */
  | { readonly kind: "withdrawn"; readonly gone: readonly PinnedDevice[] }
  /**
   * At least one announced device is not pinned: a second installation of the peer — or a device a server made up.
   * Never accepted silently: `unpinned` waits for the user (acceptDevices). `pinned`: the announced devices that are.
   */
  | {
      readonly kind: "changed";
      readonly pinned: readonly PinnedDevice[];
      readonly unpinned: readonly DevicePublicKeys[];
      readonly gone: readonly PinnedDevice[];
    };

function samePublic(a: DevicePublicKeys, b: DevicePublicKeys): boolean {
  return a.id === b.id && a.agree === b.agree && a.sign === b.sign;
}

/**
 * Compares the devices `jid` announces (already checked by parseDevicePublicKeys; none when its item has no valid fresh
 * device or does not list version 1) with its pinned ones.
 */
export function checkDevices(state: TrustState, jid: string, announced: readonly DevicePublicKeys[]): TrustCheck {
  const pinnedList = Object.hasOwn(state.peers, jid) ? state.peers[jid]! : [];
  if (pinnedList.length === 0) return { kind: "first-use", devices: announced };
  if (announced.length === 0) return { kind: "withdrawn", gone: pinnedList };
  const pinned: PinnedDevice[] = [];
  const unpinned: DevicePublicKeys[] = [];
  for (const device of announced) {
    const match = pinnedList.find((p) => samePublic(p, device));
    if (match) pinned.push(match);
    else unpinned.push(device);
  }
  const gone = pinnedList.filter((p) => !announced.some((a) => samePublic(p, a)));
  return unpinned.length === 0 ? { kind: "unchanged", gone } : { kind: "changed", pinned, unpinned, gone };
}

/** Whether this exact device (id and keys) is pinned for `jid`: a mail it signed is from a trusted device. */
export function isPinned(state: TrustState, jid: string, device: DevicePublicKeys): boolean {
  return Object.hasOwn(state.peers, jid) && state.peers[jid]!.some((p) => samePublic(p, device));
}

/** Pins the first devices seen for a JID. Refused (returns the state unchanged) when the JID already has pins. */
export function pinFirstUse(state: TrustState, jid: string, devices: readonly DevicePublicKeys[], now: number): TrustState {
  if (Object.hasOwn(state.peers, jid) && state.peers[jid]!.length > 0) return state;
  return withPeer(state, jid, devices.map((d) => pin(d, now, "first-use")));
}

/**
 * The user accepted new device(s) of a JID (after comparing fingerprints, or by choice). `forgetGone`: pinned devices
 * not in `keep` are dropped (the peer replaced its installation); otherwise they stay pinned.
 */
export function acceptDevices(
  state: TrustState,
  jid: string,
  accepted: readonly DevicePublicKeys[],
  now: number,
  options: { readonly forget?: readonly string[] } = {},
): TrustState {
  const current = (Object.hasOwn(state.peers, jid) ? state.peers[jid]! : []).filter((p) => !options.forget?.includes(p.id));
  const next = [...current.filter((p) => !accepted.some((a) => a.id === p.id)), ...accepted.map((a) => pin(a, now, "accepted"))];
  return withPeer(state, jid, next);
}

/** Forgets everything pinned for a JID (its next devices are a first use again). */
export function forgetPeer(state: TrustState, jid: string): TrustState {
  if (!Object.hasOwn(state.peers, jid)) return state;
  const peers = { ...state.peers };
  delete peers[jid];
  return { version: 1, peers };
}

function pin(d: DevicePublicKeys, now: number, how: PinnedDevice["how"]): PinnedDevice {
  return { id: d.id, agree: d.agree, sign: d.sign, pinnedAt: now, how };
}

function withPeer(state: TrustState, jid: string, devices: readonly PinnedDevice[]): TrustState {
  if (devices.length > MAX_DEVICES_PER_PEER) throw new E2eError("malformed", `more than ${MAX_DEVICES_PER_PEER} devices for ${jid}`);
  const peers: Record<string, readonly PinnedDevice[]> = { ...state.peers, [jid]: devices };
  if (Object.keys(peers).length > MAX_PEERS) throw new E2eError("malformed", `more than ${MAX_PEERS} peers`);
  return { version: 1, peers };
}

export function serializeTrust(state: TrustState): string {
  return JSON.stringify(state);
}

/** A stored key: strict base64 of a 65-octet uncompressed point (it was checked by parseDevicePublicKeys when pinned). */
function isKeyText(text: unknown): text is string {
  if (typeof text !== "string" || text.length !== 88) return false;
  try {
    const bytes = decodeBase64Strict(text, 65);
    return bytes.length === 65 && bytes[0] === 0x04;
  } catch {
    return false;
  }
}

/**
 * Reads a stored state strictly: version 1, bounded counts, every device with a device id, two 65-octet keys in base64
 * and a pin time and kind. Anything else is E2eError("malformed") (the caller keeps the old state, never an empty one,
 * which would re-pin every peer on first use).
 */
export function parseTrust(text: string): TrustState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new E2eError("malformed", "the trust state is not JSON");
  }
  if (typeof value !== "object" || value === null || (value as { version?: unknown }).version !== 1) {
    throw new E2eError("malformed", "the trust state is not version 1");
  }
  const rawPeers = (value as { peers?: unknown }).peers;
  if (typeof rawPeers !== "object" || rawPeers === null || Array.isArray(rawPeers)) throw new E2eError("malformed", "peers must be an object");
  const entries = Object.entries(rawPeers);
  if (entries.length > MAX_PEERS) throw new E2eError("malformed", `more than ${MAX_PEERS} peers`);
  const parsed = entries.map(([jid, list]): [string, readonly PinnedDevice[]] => {
    if (!Array.isArray(list) || list.length > MAX_DEVICES_PER_PEER) throw new E2eError("malformed", `the devices of ${jid} are not a list of at most ${MAX_DEVICES_PER_PEER}`);
    return [jid, list.map((d: unknown) => {
      const p = d as Record<string, unknown>;
      if (
        typeof p !== "object" ||
        p === null ||
        !isDeviceId(p.id) ||
        !isKeyText(p.agree) ||
        !isKeyText(p.sign) ||
        typeof p.pinnedAt !== "number" ||
        !Number.isFinite(p.pinnedAt) ||
        (p.how !== "first-use" && p.how !== "accepted")
      ) {
        throw new E2eError("malformed", `a pinned device of ${jid} is malformed`);
      }
      return { id: p.id, agree: p.agree, sign: p.sign, pinnedAt: p.pinnedAt, how: p.how };
    })];
  });
  // fromEntries defines own properties, so a JID named "__proto__" stays data.
  return { version: 1, peers: Object.fromEntries(parsed) };
}
