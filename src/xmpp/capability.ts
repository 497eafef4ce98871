// Capability discovery (docs/protocol.md §2): our PEP item says "this account accepts mail over XMPP", readable by
// anyone (open access model), so senders can check non-contacts and offline recipients too.
//
// Servers differ in what they take (measured: Prosody 0.12 accepts every publish option; ejabberd 23.01 rejects the
// whole publish when one option is unknown to it, e.g. pubsub#max_items, and aborts two simultaneous first publishes
// with item-not-found). publishCapability() therefore asks the account what it supports (disco#info) and walks a short
// ladder: all options → without max_items → access_model only → configure the node as its owner and publish without
// options. It ends with an item that non-contacts can read, or with a CapabilityUnavailableError that says why not.
import xml, { type Element } from "@xmpp/xml";
import { NS_DISCO_INFO } from "../core/caps.js";
import { NS_MAIL } from "../core/protocol.js";
import type { XmppSession } from "./session.js";
import { bareJid } from "../core/jid.js";
import { isDeviceId, parseDevicePublicKeys, type DevicePublicKeys } from "../core/e2e/keys.js";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner";
const NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors";
const NS_DATA = "jabber:x:data";
const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";
const FEATURE_PUBLISH_OPTIONS = `${NS_PUBSUB}#publish-options`;
const FEATURE_CONFIG_NODE = `${NS_PUBSUB}#config-node`;
const FEATURE_ACCESS_OPEN = `${NS_PUBSUB}#access-open`;
/** A capability item older than this is treated as absent (the add-on may have been removed). */
export const CAPABILITY_MAX_AGE_MS = 30 * 24 * 3600_000;

type Option = readonly [name: string, value: string];
const ACCESS_OPEN: Option = ["pubsub#access_model", "open"];
const PERSIST: Option = ["pubsub#persist_items", "true"];
const MAX_ITEMS_1: Option = ["pubsub#max_items", "1"];

/** How the item got published: which rung of the ladder the server took. */
export type PublishStep = "all-options" | "without-max-items" | "access-only" | "configured-node";
const LADDER: ReadonlyArray<{ readonly step: PublishStep; readonly options: readonly Option[] }> = [
  { step: "all-options", options: [ACCESS_OPEN, PERSIST, MAX_ITEMS_1] },
  { step: "without-max-items", options: [ACCESS_OPEN, PERSIST] },
  { step: "access-only", options: [ACCESS_OPEN] },
];

export interface PublishReport {
  readonly step: PublishStep;
  /** The devices the published item lists (with `device`): this one and the account's other fresh ones. */
  readonly devices?: readonly DevicePublicKeys[];
  /** IQs sent (disco, publishes, configures). */
  readonly requests: number;
  /** The errors met on the way, one line each (for the log). */
  readonly rejected: readonly string[];
}

/** Why the capability cannot be made readable by others. */
export type CapabilityUnavailableCode =
  /** The account has no PEP service (XEP-0163). */
  | "no-pep"
  /** The item exists, but the server would not make it readable by everyone (only contacts may see it). */
  | "no-open-access"
  /** The server refused the publish itself. */
  | "refused";

export class CapabilityUnavailableError extends Error {
  override readonly name = "CapabilityUnavailableError";
  constructor(
    readonly code: CapabilityUnavailableCode,
    /** The server's words (condition and text), for the status and the log. */
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
  }
}

/** What the account's disco#info says about PEP; null fields mean the server did not answer the question. */
export interface PepSupport {
  readonly pep: boolean;
  readonly publishOptions: boolean;
  readonly configNode: boolean;
  readonly accessOpen: boolean;
}

/** disco#info on the own bare JID → PEP support. Null when it was answered with an error; rejects on timeout/offline. */
export async function pepSupport(session: XmppSession, timeoutMs: number): Promise<PepSupport | null> {
  const bare = ownBareJid(session);
  let reply: Element;
  try {
    reply = await session.request(xml("iq", { type: "get", to: bare }, xml("query", { xmlns: NS_DISCO_INFO })), timeoutMs);
  } catch (error) {
    if (isStanzaError(error)) return null;
    throw error;
  }
  return pepSupportFrom(reply);
}

/** Pure: PEP support from a disco#info reply of the own bare JID. */
export function pepSupportFrom(reply: Element): PepSupport {
  const query = reply.getChild("query", NS_DISCO_INFO);
  const features = new Set((query?.getChildren("feature") ?? []).map((f) => f.attrs.var as string));
  const pepIdentity = (query?.getChildren("identity") ?? []).some((i) => i.attrs.category === "pubsub" && i.attrs.type === "pep");
  return {
    pep: pepIdentity || features.has(NS_PUBSUB),
    publishOptions: features.has(FEATURE_PUBLISH_OPTIONS),
    configNode: features.has(FEATURE_CONFIG_NODE),
    accessOpen: features.has(FEATURE_ACCESS_OPEN),
  };
}

export interface PublishOptions {
  readonly timeoutMs?: number;
  /** Waits before retrying a race (item-not-found/conflict on a first publish); injected for tests. */
  readonly wait?: (ms: number) => Promise<void>;
  /** Known support (skips the disco#info request). */
  readonly support?: PepSupport | null;
  /** Start at this rung (the one that worked last time on this server): saves the rejected requests at each login. */
  readonly startAt?: PublishStep;
  /**
   * This device's public keys (docs/protocol.md §10.3): the item then says versions="0 1" and lists this device with
   * the account's other fresh devices, read from the current item first.
   */
  readonly device?: DevicePublicKeys;
}

/**
 * Publishes (or refreshes) our capability item so that anyone can read it, with whatever the server accepts.
 * Resolves with how it was done; rejects with CapabilityUnavailableError when the server cannot or will not, and
 * with any other error when it did not answer (timeout, offline): then it is worth trying again later.
 */
export async function publishCapability(session: XmppSession, now: Date, opts: PublishOptions | number = {}): Promise<PublishReport> {
  const o: PublishOptions = typeof opts === "number" ? { timeoutMs: opts } : opts;
  const own = o.device;
  if (!own) return publishItem(session, now, o, null);
  const timeoutMs = o.timeoutMs ?? 10_000;
  const wait = o.wait ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // Devices of one account share the item (docs/protocol.md §10.3): read it, replace this device's entry, keep the
  // others that are fresh, publish; read again, and when another device published at the same moment and this one is
  // missing, publish once more after a random pause.
  let report: PublishReport | null = null;
  let requests = 0;
  for (let round = 0; round < 2; round++) {
    if (round > 0) await wait(1_000 + Math.floor(Math.random() * 4_000));
    const others = await ownItemDevices(session, now, timeoutMs).catch(() => []);
    requests += 1;
    const devices = [{ ...own, seen: now.toISOString() }, ...others.filter((d) => d.id !== own.id).slice(0, MAX_DEVICES - 1)];
    const published = await publishItem(session, now, { ...o, ...(report ? { startAt: report.step, support: null } : {}) }, devices);
    requests += published.requests;
    report = { ...published, requests, devices: devices.map(({ id, agree, sign }) => ({ id, agree, sign })) };
    const after = await ownItemDevices(session, now, timeoutMs).catch(() => null);
    requests += 1;
    if (after === null || after.some((d) => d.id === own.id)) {
      return { ...report, requests, ...(after ? { devices: after.map(({ id, agree, sign }) => ({ id, agree, sign })) } : {}) };
    }
  }
  return { ...report!, requests };
}

/** The device ids the account's own item lists now (fresh entries only); rejects on timeout or when offline. */
export async function ownListedDeviceIds(session: XmppSession, now: Date, timeoutMs: number): Promise<string[]> {
  return (await ownItemDevices(session, now, timeoutMs)).map((d) => d.id);
}

/** A device entry as it is published: its keys and when it last published. */
interface ListedDevice extends DevicePublicKeys {
  readonly seen: string;
}

/** At most this many devices per item (docs/protocol.md §10.3). */
const MAX_DEVICES = 16;
/** A device that has not published for this long is dropped (and ignored by readers). */
const DEVICE_MAX_AGE_MS = 30 * 24 * 3600_000;

/** The fresh, well-formed device entries of the own item, newest first (their keys are checked by whoever uses them). */
async function ownItemDevices(session: XmppSession, now: Date, timeoutMs: number): Promise<ListedDevice[]> {
  const reply = await session.request(
    xml("iq", { type: "get", to: ownBareJid(session) }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("items", { node: NS_MAIL, max_items: "1" }))),
    timeoutMs,
  );
  const accepts = reply.getChild("pubsub", NS_PUBSUB)?.getChild("items")?.getChildren("item")[0]?.getChild("accepts", NS_MAIL);
  return accepts ? listedDevices(accepts, now) : [];
}

/** The `<device/>` entries of an `<accepts/>` that have the right shape and a fresh `seen`; none when there are too many. */
function listedDevices(accepts: Element, now: Date): ListedDevice[] {
  const entries = accepts.getChildren("device", NS_MAIL);
  if (entries.length > MAX_DEVICES) return [];
  const out: ListedDevice[] = [];
  for (const d of entries) {
    const { id, agree, sign, seen } = d.attrs as Record<string, string | undefined>;
    if (!isDeviceId(id) || typeof agree !== "string" || agree.length !== 88 || typeof sign !== "string" || sign.length !== 88) continue;
    if (typeof seen !== "string" || seen.length > 40) continue;
    const at = Date.parse(seen);
    if (!Number.isFinite(at) || now.getTime() - at > DEVICE_MAX_AGE_MS || at - now.getTime() > 24 * 3600_000) continue;
    if (out.some((o) => o.id === id)) continue;
    out.push({ id, agree, sign, seen });
  }
  return out.sort((a, b) => Date.parse(b.seen) - Date.parse(a.seen));
}

async function publishItem(session: XmppSession, now: Date, o: PublishOptions, devices: readonly ListedDevice[] | null): Promise<PublishReport> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const wait = o.wait ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const publishIq = (at: Date, options: readonly Option[]) => buildPublishIq(at, options, devices);
  let requests = 0;
  const rejected: string[] = [];
  const send = (iq: Element) => {
    requests += 1;
    return session.request(iq, timeoutMs);
  };
  /** One request, retried once after a short pause when the error looks like a race between two publishers. */
  const once = async (iq: () => Element): Promise<void> => {
    try {
      await send(iq());
    } catch (error) {
      if (!isStanzaError(error) || classify(error) !== "race") throw error;
      rejected.push(describeError(error));
      await wait(150 + Math.floor(Math.random() * 250));
      await send(iq());
    }
  };

  let support = o.support;
  if (support === undefined) {
    requests += 1;
    support = await pepSupport(session, timeoutMs);
  }
  if (support && !support.pep) throw new CapabilityUnavailableError("no-pep", "the account has no PEP service (XEP-0163)");

  // Publish options, unless the server says it has none.
  const first = o.startAt === undefined ? 0 : o.startAt === "configured-node" ? LADDER.length : LADDER.findIndex((r) => r.step === o.startAt);
  if (!support || support.publishOptions) {
    for (const rung of LADDER.slice(Math.max(0, first))) {
      try {
        await once(() => publishIq(now, rung.options));
        return { step: rung.step, requests, rejected };
      } catch (error) {
        if (!isStanzaError(error)) throw error;
        rejected.push(`${rung.step}: ${describeError(error)}`);
        const kind = classify(error);
        if (kind === "no-publish-options") break;
        if (kind === "option-rejected" || kind === "race") continue;
        const noService = ["service-unavailable", "feature-not-implemented"].some((c) => hasCondition(error, c));
        throw new CapabilityUnavailableError(noService && !support ? "no-pep" : "refused", describeError(error));
      }
    }
  }

  // As the node's owner: make it open and publish without options. A node that does not exist yet cannot be
  // configured: the plain publish creates it (readable by contacts only, the PEP default), then it is opened.
  const configure = async (): Promise<StanzaErrorLike | null> => {
    try {
      await send(configureOpenIq());
      return null;
    } catch (error) {
      if (!isStanzaError(error)) throw error;
      rejected.push(`configure: ${describeError(error)}`);
      return error;
    }
  };
  const publishPlain = async (): Promise<void> => {
    try {
      await once(() => publishIq(now, []));
    } catch (error) {
      if (!isStanzaError(error)) throw error;
      rejected.push(`plain publish: ${describeError(error)}`);
      const noService = ["service-unavailable", "feature-not-implemented"].some((c) => hasCondition(error, c));
      throw new CapabilityUnavailableError(noService && !support ? "no-pep" : "refused", describeError(error));
    }
  };
  let refusal = await configure();
  if (refusal && hasCondition(refusal, "item-not-found")) {
    await publishPlain();
    refusal = await configure();
    if (!refusal) return { step: "configured-node", requests, rejected };
  } else {
    await publishPlain();
    if (!refusal) return { step: "configured-node", requests, rejected };
  }
  throw new CapabilityUnavailableError("no-open-access", describeError(refusal));
}

function buildPublishIq(now: Date, options: readonly Option[], devices: readonly ListedDevice[] | null): Element {
  const accepts = devices
    ? xml(
        "accepts",
        { xmlns: NS_MAIL, version: "0", versions: "0 1", updated: now.toISOString() },
        ...devices.map((d) => xml("device", { id: d.id, seen: d.seen, agree: d.agree, sign: d.sign })),
      )
    : xml("accepts", { xmlns: NS_MAIL, version: "0", updated: now.toISOString() });
  const item = xml("item", { id: "current" }, accepts);
  return xml(
    "iq",
    { type: "set" },
    xml(
      "pubsub",
      { xmlns: NS_PUBSUB },
      xml("publish", { node: NS_MAIL }, item),
      ...(options.length
        ? [xml("publish-options", {}, form(`${NS_PUBSUB}#publish-options`, options))]
        : []),
    ),
  );
}

function configureOpenIq(): Element {
  return xml(
    "iq",
    { type: "set" },
    xml("pubsub", { xmlns: NS_PUBSUB_OWNER }, xml("configure", { node: NS_MAIL }, form(`${NS_PUBSUB}#node_config`, [ACCESS_OPEN]))),
  );
}

function form(formType: string, options: readonly Option[]): Element {
  return xml(
    "x",
    { xmlns: NS_DATA, type: "submit" },
    field("FORM_TYPE", formType, "hidden"),
    ...options.map(([name, value]) => field(name, value)),
  );
}

function field(name: string, value: string, type?: string): Element {
  return xml("field", { var: name, ...(type ? { type } : {}) }, xml("value", {}, value));
}

/**
 * This device stops accepting mail (switched off). When other devices of the account are still listed (and fresh), the
 * item is published again without this one, so that they keep receiving (docs/protocol.md §10.3); otherwise the item
 * is retracted and senders stop routing to the account.
 */
export async function withdrawCapability(session: XmppSession, now: Date, ownDeviceId: string | null, timeoutMs = 10_000): Promise<"retracted" | "others-kept"> {
  const others = ownDeviceId === null ? [] : (await ownItemDevices(session, now, timeoutMs).catch(() => [])).filter((d) => d.id !== ownDeviceId);
  if (others.length === 0) {
    await retractCapability(session, timeoutMs);
    return "retracted";
  }
  await publishItem(session, now, { timeoutMs }, others.slice(0, MAX_DEVICES));
  return "others-kept";
}

/** Removes our capability item (switched off): senders stop routing to us. */
export async function retractCapability(session: XmppSession, timeoutMs = 10_000): Promise<void> {
  await session.request(
    xml("iq", { type: "set" }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("retract", { node: NS_MAIL, notify: "true" }, xml("item", { id: "current" })))),
    timeoutMs,
  );
}

/**
 * Does `jid` (bare) accept mail over XMPP? Reads its PEP item; any error (no node, forbidden, no such user) and any
 * stale or malformed item mean no. Rejects only on timeout or when offline, so the caller can tell "no" from "unknown".
 */
export async function queryCapability(session: XmppSession, jid: string, now: Date, timeoutMs: number): Promise<boolean> {
  return (await queryCapabilityInfo(session, jid, now, timeoutMs)).capable;
}

/** What a JID's capability item says: whether it takes mail over XMPP, and its version-1 devices (keys checked). */
export interface PeerCapability {
  readonly capable: boolean;
  /** Empty: the item lists no version 1, or no valid fresh device (then version 0 is sent). */
  readonly devices: readonly DevicePublicKeys[];
}

/** Like queryCapability, with the devices (docs/protocol.md §10.3: each id recomputed, each key a point of P-256). */
export async function queryCapabilityInfo(session: XmppSession, jid: string, now: Date, timeoutMs: number): Promise<PeerCapability> {
  let reply: Element;
  try {
    reply = await session.request(
      xml("iq", { type: "get", to: jid }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("items", { node: NS_MAIL, max_items: "1" }))),
      timeoutMs,
    );
  } catch (error) {
    if (isStanzaError(error)) return { capable: false, devices: [] };
    throw error;
  }
  // Servers differ in whether they honour max_items; any fresh, well-formed item of ours counts.
  const items = (reply.getChild("pubsub", NS_PUBSUB)?.getChild("items")?.getChildren("item") ?? []).slice(0, 8);
  const accepts = items.map((item) => item.getChild("accepts", NS_MAIL)).find((a) => isFreshAccepts(a, now));
  if (!accepts) return { capable: false, devices: [] };
  return { capable: true, devices: await announcedDevices(accepts, now) };
}

/**
 * Where a keyring learns the devices peers announce (src/xmpp/e2e-keyring.ts AnnouncedDevices): what `cache` holds,
 * and a read of the peer's item over the current session that also updates the cache.
 */
export function announcedDevicesFrom(
  cache: { devices(jid: string): readonly DevicePublicKeys[] | null; set(jid: string, capable: boolean, devices: readonly DevicePublicKeys[]): void },
  session: () => XmppSession | null,
  timeoutMs = 5_000,
): { cached(jid: string): readonly DevicePublicKeys[] | null; lookup(jid: string): Promise<readonly DevicePublicKeys[]> } {
  return {
    cached: (jid) => cache.devices(jid),
    lookup: async (jid) => {
      const current = session();
      if (!current || current.status.state !== "online") throw new Error("offline");
      const info = await queryCapabilityInfo(current, jid, new Date(), timeoutMs);
      cache.set(jid, info.capable, info.devices);
      return info.devices;
    },
  };
}

/** The version-1 devices of a fresh `<accepts/>`: only when `versions` lists 1; each entry checked, bad ones dropped. */
export async function announcedDevices(accepts: Element, now: Date): Promise<DevicePublicKeys[]> {
  const versions = (accepts.attrs.versions ?? "0").slice(0, 64).split(" ");
  if (!versions.includes("1")) return [];
  const checked = await Promise.all(
    listedDevices(accepts, now).map((d) => parseDevicePublicKeys(d).then((k) => k.public, () => null)),
  );
  return checked.filter((d): d is DevicePublicKeys => d !== null);
}

function isFreshAccepts(accepts: Element | undefined, now: Date): boolean {
  if (!accepts || accepts.attrs.version !== "0") return false;
  const updated = Date.parse(accepts.attrs.updated ?? "");
  if (!Number.isFinite(updated)) return false;
  const age = now.getTime() - updated;
  return age <= CAPABILITY_MAX_AGE_MS && age > -24 * 3600_000;
}

// ---- errors -----------------------------------------------------------------------------------------------

type ErrorKind = "option-rejected" | "no-publish-options" | "race" | "other";

interface StanzaErrorLike extends Error {
  readonly condition?: string;
  readonly text?: string;
  readonly element?: Element;
}

/** Every condition named in the error: the defined condition and any application condition (ejabberd puts the
 * pubsub one first). */
function conditions(error: StanzaErrorLike): Element[] {
  const children = error.element?.getChildElements?.() ?? [];
  return children.filter((c) => c.name !== "text");
}

function hasCondition(error: unknown, name: string): boolean {
  const e = error as StanzaErrorLike;
  return e.condition === name || conditions(e).some((c) => c.name === name);
}

/**
 * How a publish error is read (XEP-0060 §7.1.3, §7.1.5): a rejected option (precondition-not-met, or a
 * resource-constraint/not-acceptable/bad-request/policy-violation naming an option, as ejabberd does) means try with
 * fewer; publish-options not implemented means configure the node instead; item-not-found or a bare conflict on a
 * publish is the race of two first publishes; everything else is a refusal.
 */
function classify(error: StanzaErrorLike): ErrorKind {
  const parts = conditions(error);
  const unsupported = parts.find((c) => c.name === "unsupported" && c.attrs.xmlns === NS_PUBSUB_ERRORS);
  if (unsupported?.attrs.feature === "publish-options") return "no-publish-options";
  if (hasCondition(error, "feature-not-implemented") && !unsupported) return "no-publish-options";
  if (hasCondition(error, "precondition-not-met")) return "option-rejected";
  if (hasCondition(error, "item-not-found")) return "race";
  if (hasCondition(error, "conflict")) return "race";
  if (["resource-constraint", "not-acceptable", "bad-request", "policy-violation", "invalid-options"].some((c) => hasCondition(error, c))) {
    return "option-rejected";
  }
  return "other";
}

/** "condition - text", bounded, no markup. */
export function describeError(error: unknown): string {
  const e = error as StanzaErrorLike;
  const text = (e.text ?? "").replace(/\s+/g, " ").trim();
  const condition = e.condition ?? (error instanceof Error ? error.message : String(error));
  const extra = conditions(e)
    .filter((c) => c.name !== condition && c.attrs.xmlns !== NS_STANZAS)
    .map((c) => c.name);
  return `${condition}${extra.length ? ` (${extra.join(", ")})` : ""}${text ? ` - ${text}` : ""}`.slice(0, 300);
}

function ownBareJid(session: XmppSession): string {
  const jid = session.jid;
  if (!jid) throw new Error("not online");
  return bareJid(jid);
}

function isStanzaError(error: unknown): error is StanzaErrorLike {
  return error instanceof Error && error.name === "StanzaError";
}
