// End-to-end encryption on the pages (issue 15, docs/protocol.md §10.3 and §6): checks of the background's e2e replies
// and the words both pages use for a correspondent's keys. Pure: keys and substitutions only, table-tested.
import type { E2eOwnView, E2ePeerState, E2ePeerView } from "../../core/messages.js";
import type { MessageKey } from "../../platform/i18n.js";
import { isObject } from "./checks.js";
import type { Text } from "./text.js";

/** 8 groups of 5 digits (keys.ts fingerprint); "?" for a device whose keys could not be read. */
const FINGERPRINT = /^\d{5}(?: \d{5}){7}$/;
const DEVICE_ID = /^[0-9a-f]{32}$/;
const PEER_STATES: readonly E2ePeerState[] = ["none", "first-use", "unchanged", "changed", "withdrawn"];
/** More than a peer can have pinned and announced (32 + 16): anything longer is not a view of ours. */
const MAX_DEVICES = 64;
const MAX_PEERS = 50;
const MAX_JID = 3071;

const isFingerprint = (v: unknown): v is string => typeof v === "string" && (v === "?" || FINGERPRINT.test(v));
const isDeviceId = (v: unknown): v is string => typeof v === "string" && DEVICE_ID.test(v);

export function parseE2ePeerView(reply: unknown): E2ePeerView | null {
  if (!isObject(reply) || typeof reply.jid !== "string" || reply.jid.length > MAX_JID) return null;
  const state = PEER_STATES.find((s) => s === reply.state);
  if (state === undefined || !Array.isArray(reply.devices) || reply.devices.length > MAX_DEVICES) return null;
  const devices: Array<E2ePeerView["devices"][number]> = [];
  for (const d of reply.devices as unknown[]) {
    if (!isObject(d) || !isDeviceId(d.id) || !isFingerprint(d.fingerprint) || typeof d.pinned !== "boolean" || typeof d.announced !== "boolean") return null;
    devices.push({ id: d.id, fingerprint: d.fingerprint, pinned: d.pinned, announced: d.announced });
  }
  return { jid: reply.jid, state, devices };
}

export function parseE2eOwnView(reply: unknown): E2eOwnView | null {
  if (!isObject(reply) || !Array.isArray(reply.devices) || reply.devices.length > MAX_DEVICES) return null;
  const devices: Array<E2eOwnView["devices"][number]> = [];
  for (const d of reply.devices as unknown[]) {
    if (!isObject(d) || !isDeviceId(d.id) || !isFingerprint(d.fingerprint) || typeof d.thisDevice !== "boolean") return null;
    devices.push({ id: d.id, fingerprint: d.fingerprint, thisDevice: d.thisDevice });
  }
  return { devices };
}

/** The peers of an e2eChangedPeers reply; null when the reply is an error or not of that shape. */
export function parseChangedPeers(reply: unknown): E2ePeerView[] | null {
  if (!isObject(reply) || !Array.isArray(reply.peers) || reply.peers.length > MAX_PEERS) return null;
  const peers: E2ePeerView[] = [];
  for (const p of reply.peers as unknown[]) {
    const view = parseE2ePeerView(p);
    if (view === null) return null;
    peers.push(view);
  }
  return peers;
}

/** One line of a fingerprint list: the digits (shown in monospace) and what they are. */
export interface FingerprintLine {
  readonly fingerprint: string;
  readonly label: Text;
}

/** This account's devices, this computer first. */
export function ownFingerprintLines(view: E2eOwnView): FingerprintLine[] {
  return [...view.devices]
    .sort((a, b) => Number(b.thisDevice) - Number(a.thisDevice))
    .map((d) => ({ fingerprint: d.fingerprint, label: { key: d.thisDevice ? "e2eThisComputer" : "e2eOtherDevice" } }));
}

/**
 * A correspondent's devices for comparing: the ones announced now first (new ones, then accepted ones), then the
 * accepted ones no longer announced.
 */
export function peerFingerprintLines(view: E2ePeerView): FingerprintLine[] {
  const label = (d: E2ePeerView["devices"][number]): MessageKey => {
    if (!d.pinned) return view.state === "first-use" ? "e2eDevice_firstUse" : "e2eDevice_new";
    return d.announced ? "e2eDevice_accepted" : "e2eDevice_gone";
  };
  const order: Record<string, number> = { e2eDevice_new: 0, e2eDevice_firstUse: 1, e2eDevice_accepted: 2, e2eDevice_gone: 3 };
  return view.devices
    .map((d) => ({ fingerprint: d.fingerprint, label: { key: label(d) } }))
    .sort((a, b) => (order[a.label.key] ?? 0) - (order[b.label.key] ?? 0));
}

/** What the user is told about a correspondent's keys, whether it is a warning, and what may be done about it. */
export interface PeerSummary {
  readonly text: Text;
  readonly tone: "ok" | "warning" | "plain";
  /** The label of the button that accepts what the peer announces now (e2eAccept); absent: nothing to accept. */
  readonly accept?: Text;
  /** The label of the disclosure with the fingerprints; absent: no fingerprint to show. */
  readonly disclosure?: Text;
}

export function peerSummary(view: E2ePeerView): PeerSummary {
  switch (view.state) {
    case "changed":
      return { text: { key: "e2ePeer_changed", subs: [view.jid] }, tone: "warning", accept: { key: "e2eAcceptNewKey" }, disclosure: { key: "e2eCompareKeys" } };
    case "withdrawn":
      return { text: { key: "e2ePeer_withdrawn", subs: [view.jid] }, tone: "warning", accept: { key: "e2eAcceptWithdrawn" }, disclosure: { key: "e2eCompareKeys" } };
    case "first-use":
    case "unchanged":
      return { text: { key: "e2ePeer_encrypted" }, tone: "ok", ...(view.devices.length > 0 ? { disclosure: { key: "e2eShowFingerprint" } } : {}) };
    case "none":
      return { text: { key: "e2ePeer_none" }, tone: "plain" };
  }
}
