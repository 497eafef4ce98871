// The connection-test probes implemented with Node's own means, so the diagnosis runs against real sockets in tests.
import { lookup } from "node:dns/promises";
import { WebSocket } from "ws";
import type { ConnectionProbes } from "../../src/xmpp/connection-test.js";

const CERT_ERRORS = /^(UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_SELF_SIGNED_|CERT_|ERR_TLS_CERT_ALTNAME_INVALID$|ERR_SSL_|EPROTO$)/;
const isTlsError = (error: { code?: string }) => CERT_ERRORS.test(error.code ?? "");

export const nodeProbes: ConnectionProbes = {
  async resolveHost(host) {
    try {
      await lookup(host);
      return true;
    } catch {
      return false;
    }
  },
  async httpAnswers(url, timeoutMs) {
    try {
      await fetch(url, { redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
      return true;
    } catch {
      return false;
    }
  },
  websocketOpens(url, timeoutMs) {
    return new Promise((resolve) => {
      const socket = new WebSocket(url, "xmpp");
      const finish = (ok: boolean | "tls") => {
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.on("error", () => {});
        socket.terminate();
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      socket.on("open", () => finish(true));
      // What Thunderbird reports as close code 1015: a certificate Node does not accept, or a TLS protocol error.
      socket.on("error", (error: Error & { code?: string }) => finish(isTlsError(error) ? "tls" : false));
      socket.on("unexpected-response", () => finish(false));
    });
  },
};
