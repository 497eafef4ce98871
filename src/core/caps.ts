// XEP-0115 Entity Capabilities: the verification string (§5.1) and our own disco#info description.
import { CLIENT_NAME, NS_MAIL } from "./protocol.js";
import { encodeBase64 } from "./base64.js";

export interface DiscoIdentity {
  readonly category: string;
  readonly type: string;
  readonly lang?: string;
  readonly name?: string;
}

export interface DiscoInfo {
  readonly identities: readonly DiscoIdentity[];
  readonly features: readonly string[];
}

export const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
export const NS_CAPS = "http://jabber.org/protocol/caps";
export const NS_PING = "urn:xmpp:ping";
export const NS_RECEIPTS = "urn:xmpp:receipts";

/** What this client says about itself in disco#info and, hashed, in its presence. */
export const OWN_DISCO_INFO: DiscoInfo = {
  identities: [{ category: "client", type: "pc", name: CLIENT_NAME }],
  features: [NS_CAPS, NS_DISCO_INFO, NS_MAIL, NS_PING, NS_RECEIPTS],
};

const byteCompare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The string that is hashed into the `ver` attribute (XEP-0115 §5.1, without extended forms):
 * identities sorted by category/type/lang, each "category/type/lang/name<", then sorted features each "feature<".
 */
export function capsVerificationString(info: DiscoInfo): string {
  const identities = info.identities
    .map((i) => `${i.category}/${i.type}/${i.lang ?? ""}/${i.name ?? ""}`)
    .sort(byteCompare);
  for (let i = 1; i < identities.length; i++) {
    if (identities[i] === identities[i - 1]) throw new Error(`duplicate disco identity ${identities[i]}`);
  }
  const features = [...info.features].sort(byteCompare);
  for (let i = 1; i < features.length; i++) {
    if (features[i] === features[i - 1]) throw new Error(`duplicate disco feature ${features[i]}`);
  }
  return identities.map((s) => `${s}<`).join("") + features.map((s) => `${s}<`).join("");
}

/** `ver` = base64(SHA-1(verification string)); the digest is injected so the core stays host-free. */
export async function capsVer(info: DiscoInfo, sha1: (data: Uint8Array) => Promise<Uint8Array>): Promise<string> {
  const digest = await sha1(new TextEncoder().encode(capsVerificationString(info)));
  return encodeBase64(digest);
}
