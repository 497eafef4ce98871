// xmpp.js 0.14 needs a global WebSocket; Node 20 has none without a flag.
import { WebSocket } from "ws";

if (typeof globalThis.WebSocket === "undefined") {
  (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
}
