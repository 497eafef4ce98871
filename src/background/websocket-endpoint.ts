// Where the account's XMPP WebSocket is when no URL is entered: host-meta, then the usual Prosody/ejabberd endpoints
// (src/xmpp/endpoint-probe.ts, ≤ 10 s). Login, "Test connection" and "Discover" all look here, for the domain of the
// bare JID (core/jid.ts), so a JID with a resource finds the same endpoint in all three.
import { bareJid, jidDomain } from "../core/jid.js";
import type { Logger } from "../core/log.js";
import type { EndpointProblem } from "../core/status.js";
import type { Settings } from "../core/settings.js";
import type { FindResult } from "../xmpp/endpoint-probe.js";

/** The domain to look in: that of the bare JID; "" (not a valid domain, nothing looked up) when it has no "@". */
export function discoveryDomain(jid: string): string {
  const bare = bareJid(jid.trim());
  return bare.includes("@") ? jidDomain(bare) : "";
}

export interface WebsocketEndpoint {
  /** Discovery for the JID typed on the options page (Test connection, Discover). */
  find(jid: string): Promise<FindResult>;
  /** The URL a login uses: the one entered, else the one discovered; else why there is none, for the status. */
  forLogin(settings: Settings): Promise<{ url: string } | { reason: string; code: EndpointProblem }>;
}

export function createWebsocketEndpoint(log: Logger, findWebsocket: (domain: string) => Promise<FindResult>): WebsocketEndpoint {
  const find = (jid: string) => findWebsocket(discoveryDomain(jid));
  return {
    find,
    async forLogin(settings) {
      if (settings.websocketUrl) return { url: settings.websocketUrl };
      const found = await find(settings.jid);
      if ("url" in found) {
        log.info("websocket-found", { url: found.url, via: found.via });
        return { url: found.url };
      }
      log.warn("discovery-failed", { error: found.error });
      return found.noWebsocket
        ? { reason: "this server offers no XMPP WebSocket, so Mail over XMPP cannot use this account (or enter the WebSocket URL in the options)", code: "no-websocket" }
        : { reason: "no WebSocket URL: enter it in the options", code: "no-url" };
    },
  };
}
