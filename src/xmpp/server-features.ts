// What the account's server offers, found at login (issue 11 point 8): PEP and MAM from disco#info on the own bare
// JID, carbons from disco#info on the server domain (and the session's own carbons request), XEP-0363 upload from
// the domain and its disco#items, stream management from the client's stream features. Every question that gets no
// answer (timeout) stays unknown and is never reported as missing: a limitation shown to the user is a fact.
import xml, { type Element } from "@xmpp/xml";
import { NS_DISCO_INFO } from "../core/caps.js";
import { limitationsFromFeatures, type Limitation, type ServerFeatures } from "../core/limitations.js";
import { NS_CARBONS } from "../core/protocol.js";
import { pepSupportFrom } from "./capability.js";
import { createXmppClient } from "./client.js";
import { DEFAULT_SIZE_POLICY, type SizePolicy } from "./mail-sender.js";
import type { XmppSession } from "./session.js";
import { discoverUploadService } from "./upload.js";
import { bareJid, jidDomain } from "../core/jid.js";

export const NS_MAM = "urn:xmpp:mam:2";

export interface DetectOptions {
  readonly timeoutMs?: number;
  /** Is stream management on for this connection? undefined = not known. */
  readonly streamManagement?: () => boolean | undefined;
}

/** Asks the server (three questions in parallel, plus the upload service's disco#items). Never rejects. */
export async function detectServerFeatures(session: XmppSession, opts: DetectOptions = {}): Promise<ServerFeatures> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const full = session.jid;
  if (!full) return {};
  const bare = bareJid(full);
  const domain = jidDomain(full);
  const [account, server, upload] = await Promise.all([
    discoInfo(session, bare, timeoutMs),
    discoInfo(session, domain, timeoutMs),
    discoverUploadService(session, domain, timeoutMs).then(
      (service) => service !== null,
      () => undefined,
    ),
  ]);
  const accountFeatures = account === undefined ? undefined : features(account);
  const serverFeatures = server === undefined ? undefined : features(server);
  const carbonsState = session.carbons;
  const carbons =
    carbonsState === "enabled" ? true : carbonsState === "unsupported" ? false : serverFeatures === undefined ? undefined : serverFeatures.has(NS_CARBONS);
  const sm = opts.streamManagement?.();
  return {
    ...(account === undefined ? {} : { pep: account === null ? false : pepSupportFrom(account).pep }),
    ...(carbons === undefined ? {} : { carbons }),
    ...(accountFeatures === undefined ? {} : { mam: accountFeatures.has(NS_MAM) }),
    ...(upload === undefined ? {} : { upload }),
    ...(sm === undefined ? {} : { streamManagement: sm }),
  };
}

/** The limitations of this server for the user, with the inline limit the sender really applies without upload. */
export function serverLimitations(features: ServerFeatures, sizePolicy: SizePolicy = DEFAULT_SIZE_POLICY): Limitation[] {
  return limitationsFromFeatures(features, inlineLimitWithoutUpload(sizePolicy));
}

/**
 * The largest mail (bytes of RFC 5322 text) that still goes inline when there is no upload service: the sender
 * allows a stanza of inlineFallbackMaxBytes, of which ~1 KiB is envelope and a short readable body, the rest base64.
 */
export function inlineLimitWithoutUpload(sizePolicy: SizePolicy = DEFAULT_SIZE_POLICY): number {
  return Math.floor(((sizePolicy.inlineFallbackMaxBytes - 2048) * 3) / 4);
}

/**
 * The session does not expose whether stream management is on; the client it creates does. Pass `createClient` to
 * the session and ask `enabled()` once it is online (the session waits for <enabled/> before going online).
 */
export function observeStreamManagement(create: typeof createXmppClient = createXmppClient): {
  readonly createClient: typeof createXmppClient;
  enabled(): boolean | undefined;
} {
  let parts: ReturnType<typeof createXmppClient> | null = null;
  return {
    createClient: (options) => {
      parts = create(options);
      return parts;
    },
    enabled: () => (parts ? Boolean(parts.streamManagement.enabled) : undefined),
  };
}

/** disco#info reply; null when answered with an error (the entity has nothing to say), undefined when unanswered. */
async function discoInfo(session: XmppSession, jid: string, timeoutMs: number): Promise<Element | null | undefined> {
  try {
    return await session.request(xml("iq", { type: "get", to: jid }, xml("query", { xmlns: NS_DISCO_INFO })), timeoutMs);
  } catch (error) {
    return error instanceof Error && error.name === "StanzaError" ? null : undefined;
  }
}

function features(reply: Element | null): Set<string> {
  const query = reply?.getChild("query", NS_DISCO_INFO);
  return new Set((query?.getChildren("feature") ?? []).map((f) => String(f.attrs.var)));
}
