// Where an XMPP server's WebSocket usually is when the domain publishes no XEP-0156 host-meta (issue 13 point 4).
// Users know their JID and password, not a URL; the servers they are on mostly run Prosody or ejabberd as shipped.
// This module is the pure half: which URLs to try, in which fixed order, and which of the answers to take. The
// probing (open the WebSocket, wait for the <open/>) is src/xmpp/endpoint-probe.ts.
//
// The defaults, checked against the packages (Debian 12: Prosody 0.12.3, ejabberd 23.01) and their docs:
// - Prosody mod_websocket: `default_path = "xmpp-websocket"` on mod_http's ports, http_ports 5280 (plain, so never
//   usable here: ws:// is loopback-only) and https_ports 5281. Behind a reverse proxy on 443 the same path is the norm.
// - ejabberd's shipped ejabberd.yml: listener 5443, `tls: true`, `request_handlers: /ws: ejabberd_http_ws`; its 5280
//   listener serves only /admin and ACME, so it is not tried.
// - Many providers serve XMPP on a separate `xmpp.<domain>` host (the SRV target), so every shape is tried there too.
import { isLoopbackHost } from "./host.js";

/** One place a server's WebSocket is commonly found: port and path, on the domain or on xmpp.<domain>. */
export interface EndpointShape {
  readonly port: number;
  readonly path: string;
}

/**
 * In preference order, which is also the order they are tried on one host (one at a time: see endpoint-probe.ts).
 * Port 443 first: it passes hotel and office firewalls that block 5281 and 5443.
 */
const DEFAULT_ENDPOINT_SHAPES: readonly EndpointShape[] = [
  { port: 443, path: "/xmpp-websocket" }, // Prosody behind an HTTPS proxy (or https_ports = { 443 })
  { port: 443, path: "/ws" }, // ejabberd behind an HTTPS proxy
  { port: 5281, path: "/xmpp-websocket" }, // Prosody as shipped: mod_websocket on https_ports 5281
  { port: 5443, path: "/ws" }, // ejabberd as shipped: ejabberd_http listener 5443, tls: true, /ws
];

export interface Candidate {
  /** The URL to open (and to store in the settings when chosen). */
  readonly url: string;
  /** The host name the URL is for (the domain or xmpp.<domain>), as a user would read it. */
  readonly host: string;
  /** The shape's default port (443, 5281, …), before any test mapping. */
  readonly port: number;
  readonly path: string;
}

export interface CandidateOptions {
  /** Where each default port really listens. Production: the port itself; tests map 5281 etc. to loopback ports. */
  readonly ports?: Readonly<Record<number, number>>;
  /** The address to connect to for a host name. Production: the name itself; tests map names to 127.0.0.x. */
  readonly address?: (host: string) => string;
  /** "ws" only for tests on loopback (a ws:// candidate whose address is not loopback is dropped). Default "wss". */
  readonly scheme?: "wss" | "ws";
  readonly shapes?: readonly EndpointShape[];
}

const HOST_NAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$/i;

/** Whether this is a DNS host name (letters, digits, hyphens, dots; no IP literal needed here). */
export function isHostName(value: string): boolean {
  return HOST_NAME.test(value);
}

/**
 * The WebSocket URLs to try for an XMPP domain, in preference order: every shape on the domain, then on
 * xmpp.<domain> (unless the domain already is an xmpp. host). Empty for something that is not a host name.
 * Duplicate URLs (possible only with test mappings) are kept once, at their first place.
 */
export function candidatesFor(domain: string, options: CandidateOptions = {}): Candidate[] {
  const name = domain.trim().toLowerCase().replace(/\.$/, "");
  if (!isHostName(name)) return [];
  const scheme = options.scheme ?? "wss";
  const hosts = name.startsWith("xmpp.") ? [name] : [name, `xmpp.${name}`];
  const seen = new Set<string>();
  const out: Candidate[] = [];
  for (const host of hosts) {
    for (const shape of options.shapes ?? DEFAULT_ENDPOINT_SHAPES) {
      const address = options.address ? options.address(host) : host;
      if (scheme === "ws" && !isLoopbackHost(address)) continue;
      const port = options.ports?.[shape.port] ?? shape.port;
      const defaultPort = scheme === "wss" ? 443 : 80;
      const url = `${scheme}://${address}${port === defaultPort ? "" : `:${port}`}${shape.path}`;
      if (seen.has(url)) continue;
      seen.add(url);
      out.push({ url, host, port: shape.port, path: shape.path });
    }
  }
  return out;
}

/** Why a candidate was not taken. */
export type ProbeFailure =
  | "unreachable" // nothing answered (refused, DNS, TLS, or the handshake failed: e.g. an HTTP page, 404, no upgrade)
  | "not-xmpp" // a WebSocket opened but did not speak RFC 7395 (no "xmpp" subprotocol, or no <open/> as first frame)
  | "other-domain" // an XMPP WebSocket, but it answered for another domain (or refused ours)
  | "timeout"; // no answer within the probe's deadline

export type ProbeOutcome = { readonly ok: true } | { readonly ok: false; readonly failure: ProbeFailure; readonly detail?: string };

export type Choice =
  | { readonly kind: "chosen"; readonly index: number }
  | { readonly kind: "waiting" } // a more preferred candidate has not answered yet
  | { readonly kind: "none" }; // every candidate failed: the server offers no (usable) WebSocket

/**
 * The first candidate, in preference order, that answered. `outcomes[i]` belongs to candidate i; undefined means
 * still pending. A later candidate's success is taken only once every earlier one has failed, so the answer never
 * depends on which probe happened to be faster.
 */
export function chooseEndpoint(outcomes: readonly (ProbeOutcome | undefined)[]): Choice {
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = outcomes[i];
    if (outcome === undefined) return { kind: "waiting" };
    if (outcome.ok) return { kind: "chosen", index: i };
  }
  return { kind: "none" };
}

/** One line for the user and the log: what was tried and why each failed ("wss://x/ws: timeout; …"), bounded. */
export function summarizeProbes(candidates: readonly Candidate[], outcomes: readonly (ProbeOutcome | undefined)[], maxLength = 600): string {
  const parts = candidates.map((c, i) => {
    const o = outcomes[i];
    return `${c.url}: ${o === undefined ? "timeout" : o.ok ? "ok" : o.failure}`;
  });
  const text = parts.join("; ");
  return text.length <= maxLength ? text : `${text.slice(0, maxLength - 1)}…`;
}
