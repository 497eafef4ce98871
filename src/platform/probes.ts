// The connection-diagnosis probes, over what a Thunderbird background page has: messenger.dns, fetch, WebSocket.
import type { ConnectionProbes } from "../xmpp/connection-test.js";
import type { FetchText } from "../xmpp/discovery.js";

/** WebSocket close code 1015 (RFC 6455 §7.4.1): the connection was closed because the TLS handshake failed. */
const TLS_HANDSHAKE_FAILED = 1015;

export const browserProbes: ConnectionProbes = {
  async resolveHost(host) {
    try {
      const record = await messenger.dns.resolve(host);
      return record.addresses.length > 0;
    } catch {
      return false;
    }
  },
  async httpAnswers(url, timeoutMs) {
    try {
      // An opaque (no-cors) response is enough: we only ask whether an HTTP server answered at all.
      await fetch(url, { mode: "no-cors", cache: "no-store", credentials: "omit", redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
      return true;
    } catch {
      return false;
    }
  },
  websocketOpens(url, timeoutMs) {
    return new Promise<boolean | "tls">((resolve) => {
      let socket: WebSocket;
      try {
        socket = new WebSocket(url, "xmpp");
      } catch {
        resolve(false);
        return;
      }
      const finish = (opened: boolean | "tls") => {
        clearTimeout(timer);
        socket.onopen = socket.onerror = socket.onclose = null;
        try {
          socket.close();
        } catch {
          // Closing a socket that never opened.
        }
        resolve(opened);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      socket.onopen = () => finish(true);
      // The error event carries nothing; the close event that follows says 1015 when the TLS handshake failed
      // (Thunderbird 153: untrusted issuer, wrong host name; a refused connection closes with 1006).
      socket.onerror = null;
      socket.onclose = (event) => finish(event.code === TLS_HANDSHAKE_FAILED ? "tls" : false);
    });
  },
};

export const fetchText: FetchText = async (url, timeoutMs) => {
  const res = await fetch(url, { cache: "no-store", credentials: "omit", redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
  const length = Number(res.headers.get("content-length") ?? "0");
  if (length > 64 * 1024) throw new Error("document too large");
  return { ok: res.ok, text: res.ok ? await res.text() : "" };
};
