// Turns what the connection probes observed into one precise, user-facing failure kind. Pure.
import type { ConnectFailureKind } from "./messages.js";

export interface ProbeResults {
  /** Host name resolution: true/false, or undefined when not checked (IP literal, or no DNS API). */
  readonly dnsResolved?: boolean;
  /** Did the WebSocket handshake succeed? */
  readonly websocketOpened: boolean;
  /** Did anything answer plain HTTP(S) at the same URL (any status)? undefined = not probed. */
  readonly httpAnswered?: boolean;
  /** For wss:// URLs: did a plain-HTTP request to the same host and port get an answer (a server without TLS)? */
  readonly plainHttpOnTlsPort?: boolean;
  /**
   * The WebSocket failed in its TLS handshake (Thunderbird closes it with code 1015; the page learns nothing more:
   * not whether the certificate's issuer is unknown, the name does not match, or it expired).
   */
  readonly tlsHandshakeFailed?: boolean;
  /** Set when the XMPP layer failed after the socket opened. */
  readonly xmppFailure?: { readonly kind: "auth" | "timeout" | "other"; readonly detail: string };
  /** The whole attempt ran out of time before the socket opened. */
  readonly timedOut?: boolean;
}

export function classifyConnectFailure(p: ProbeResults): { kind: ConnectFailureKind; detail: string } {
  if (p.dnsResolved === false) return { kind: "dns", detail: "the server name does not resolve" };
  if (p.websocketOpened) {
    if (p.xmppFailure) return { kind: p.xmppFailure.kind, detail: p.xmppFailure.detail };
    return { kind: "other", detail: "the connection opened but the XMPP session did not start" };
  }
  if (p.plainHttpOnTlsPort) return { kind: "tls", detail: "the server answers without TLS on a wss:// address" };
  if (p.tlsHandshakeFailed) {
    return {
      kind: "tls",
      detail:
        "TLS failed: the server's certificate is not trusted (self-signed, or issued by an authority Thunderbird does not know), is not valid for this host name, or has expired — or the server offers no TLS version Thunderbird accepts",
    };
  }
  if (p.httpAnswered) return { kind: "not-websocket", detail: "a web server answered, but not as an XMPP WebSocket endpoint" };
  if (p.timedOut) return { kind: "timeout", detail: "no answer from the server in time" };
  return { kind: "refused", detail: "could not connect: nothing is listening there, or the TLS handshake failed" };
}
