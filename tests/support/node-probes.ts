// The connection-test probes implemented with Node's own means, so the diagnosis runs against real sockets in tests.
import { lookup } from "node:dns/promises";
import { WebSocket } from "ws";
import type { ConnectionProbes } from "../../src/xmpp/connection-test.js";

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
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.on("error", () => {});
        socket.terminate();
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      socket.on("open", () => finish(true));
      socket.on("error", () => finish(false));
      socket.on("unexpected-response", () => finish(false));
    });
  },
};
