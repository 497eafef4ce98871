// A WebSocket relay on 127.0.0.1 between one of our sessions and the test Prosody, for faults a server cannot make by
// itself: a connection that goes silent without any close (a NAT or Wi-Fi drop: no FIN, no close frame), a client
// process that dies (its TCP connection ends without an XMPP or WebSocket close), and rewriting a client frame on
// its way to the server (so the real server answers it with a real error). RFC 7395 puts one stanza in each frame.
import { WebSocket, WebSocketServer, type RawData } from "ws";

export interface WsProxy {
  /** ws://127.0.0.1:<port>/xmpp-websocket — give this to the session instead of the server's URL. */
  readonly url: string;
  /** Frames relayed so far, client → server and server → client. */
  readonly frames: { up: number; down: number };
  /** Client → server frames pass through this first; return the frame to forward (possibly changed). */
  rewriteUp: ((frame: string) => string) | null;
  /** From now on, the current connections relay nothing in either direction and are never closed (a dead path). */
  silenceCurrent(): void;
  /** Ends every current connection abruptly: TCP torn down, no WebSocket or XMPP close (a process that died). */
  cutAll(): void;
  /** Ends the silenced connections abruptly (the dead path finally times out). */
  cutSilenced(): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: WebSocket;
  readonly upstream: WebSocket;
  silenced: boolean;
}

export async function startWsProxy(targetUrl: string): Promise<WsProxy> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => (protocols.has("xmpp") ? "xmpp" : false) });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const address = server.address();
  if (typeof address === "string" || !address) throw new Error("ws proxy: no address");
  const pairs = new Set<Pair>();

  const proxy: WsProxy = {
    url: `ws://127.0.0.1:${address.port}/xmpp-websocket`,
    frames: { up: 0, down: 0 },
    rewriteUp: null,
    silenceCurrent() {
      for (const p of pairs) p.silenced = true;
    },
    cutAll() {
      for (const p of [...pairs]) cut(p);
    },
    cutSilenced() {
      for (const p of [...pairs]) if (p.silenced) cut(p);
    },
    close: async () => {
      proxy.cutAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const cut = (p: Pair) => {
    pairs.delete(p);
    p.client.terminate();
    p.upstream.terminate();
  };

  server.on("connection", (client) => {
    const upstream = new WebSocket(targetUrl, "xmpp");
    const pair: Pair = { client, upstream, silenced: false };
    pairs.add(pair);
    const early: string[] = [];
    const text = (data: RawData) => (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString("utf8");
    client.on("message", (data) => {
      if (pair.silenced) return;
      let frame = text(data);
      if (proxy.rewriteUp) frame = proxy.rewriteUp(frame);
      proxy.frames.up++;
      if (upstream.readyState === WebSocket.OPEN) upstream.send(frame);
      else early.push(frame);
    });
    upstream.on("open", () => {
      for (const f of early.splice(0)) upstream.send(f);
    });
    upstream.on("message", (data) => {
      if (pair.silenced || client.readyState !== WebSocket.OPEN) return;
      proxy.frames.down++;
      client.send(text(data));
    });
    // A close on one side is passed on (unless the path is dead); errors end the pair.
    client.on("close", () => {
      pairs.delete(pair);
      if (!pair.silenced) upstream.close();
    });
    upstream.on("close", () => {
      pairs.delete(pair);
      if (!pair.silenced && client.readyState === WebSocket.OPEN) client.close();
    });
    client.on("error", () => cut(pair));
    upstream.on("error", () => cut(pair));
  });
  return proxy;
}
