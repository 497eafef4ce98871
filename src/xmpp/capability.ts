// Capability discovery (docs/protocol.md §2): our PEP item says "this account accepts mail over XMPP", readable by
// anyone (open access model), so senders can check non-contacts and offline recipients too.
import xml, { type Element } from "@xmpp/xml";
import { NS_MAIL } from "../core/protocol.js";
import type { XmppSession } from "./session.js";

export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";
const NS_DATA = "jabber:x:data";
/** A capability item older than this is treated as absent (the add-on may have been removed). */
export const CAPABILITY_MAX_AGE_MS = 30 * 24 * 3600_000;

function field(name: string, value: string, type?: string): Element {
  return xml("field", { var: name, ...(type ? { type } : {}) }, xml("value", {}, value));
}

/** Publishes (or refreshes) our capability item on the own PEP node. */
export async function publishCapability(session: XmppSession, now: Date, timeoutMs = 10_000): Promise<void> {
  await session.request(
    xml(
      "iq",
      { type: "set" },
      xml(
        "pubsub",
        { xmlns: NS_PUBSUB },
        xml("publish", { node: NS_MAIL }, xml("item", { id: "current" }, xml("accepts", { xmlns: NS_MAIL, version: "0", updated: now.toISOString() }))),
        xml(
          "publish-options",
          {},
          xml(
            "x",
            { xmlns: NS_DATA, type: "submit" },
            field("FORM_TYPE", "http://jabber.org/protocol/pubsub#publish-options", "hidden"),
            field("pubsub#access_model", "open"),
            field("pubsub#persist_items", "true"),
            field("pubsub#max_items", "1"),
          ),
        ),
      ),
    ),
    timeoutMs,
  );
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
  let reply: Element;
  try {
    reply = await session.request(
      xml("iq", { type: "get", to: jid }, xml("pubsub", { xmlns: NS_PUBSUB }, xml("items", { node: NS_MAIL, max_items: "1" }))),
      timeoutMs,
    );
  } catch (error) {
    if (isStanzaError(error)) return false;
    throw error;
  }
  const item = reply.getChild("pubsub", NS_PUBSUB)?.getChild("items")?.getChild("item");
  const accepts = item?.getChild("accepts", NS_MAIL);
  if (!accepts || accepts.attrs.version !== "0") return false;
  const updated = Date.parse(accepts.attrs.updated ?? "");
  if (!Number.isFinite(updated)) return false;
  const age = now.getTime() - updated;
  return age <= CAPABILITY_MAX_AGE_MS && age > -24 * 3600_000;
}

function isStanzaError(error: unknown): boolean {
  return error instanceof Error && error.name === "StanzaError";
}
