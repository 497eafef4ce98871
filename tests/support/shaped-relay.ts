// A home connection in userspace: relays on 127.0.0.1 that add a one-way delay each way and pace what goes up to a
// fixed rate, shared by everything the "user" sends — the XMPP WebSocket, the upload's HTTP PUT and SMTP — as one
// uplink is. (`tc … tbf` would need privileges and netem does not work on these machines: ../shared/PLATFORM-FACTS.md.)
//
//   const link = new ShapedLink({ upBytesPerSecond: 1_250_000, oneWayDelayMs: 25 });   // 10 Mbit/s up, 50 ms RTT
//   const ws = await startShapedWsRelay(server.wsUrl, link);       // give ws.url to the session
//   const http = await startShapedHttpRelay(link);                  // give http.fetchFn to the MailSender
//   const smtp = await startShapedTcpRelay(127.0.0.1, sink.port, link);
//
// Pacing: a chunk leaves when the uplink is free and occupies it for bytes / rate (no burst: a tbf with a bucket of
// one chunk), then arrives `oneWayDelayMs` later; downstream only the delay applies (home downlinks are several times
// faster). Order is kept per direction and connection because departures are serialised and the delay is constant.
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer, type RawData } from "ws";

export interface ShapedLinkOptions {
  /** Upstream throughput in bytes per second (10 Mbit/s = 1,250,000). */
  readonly upBytesPerSecond: number;
  /** Added to each direction (RTT ≈ twice this). */
  readonly oneWayDelayMs: number;
}

export class ShapedLink {
  #busyUntil = 0;
  /** Bytes paced upstream so far (all relays on this link). */
  upBytes = 0;

  constructor(readonly options: ShapedLinkOptions) {
    if (!(options.upBytesPerSecond > 0) || !(options.oneWayDelayMs >= 0)) throw new Error("ShapedLink: bad options");
  }

  /** What went up and has not arrived yet, in the order it was sent (a link does not reorder bytes). */
  readonly #inFlight: Array<{ at: number; deliver: () => void }> = [];
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** Calls `deliver` when `bytes` sent upstream now would arrive; returns the ms until the uplink is free again. */
  up(bytes: number, deliver: () => void): number {
    const now = performance.now();
    const start = Math.max(now, this.#busyUntil);
    this.#busyUntil = start + (bytes * 1000) / this.options.upBytesPerSecond;
    this.upBytes += bytes;
    // One queue and one timer: a timer per piece can fire out of order when the event loop runs late (Node runs every
    // due timer of one duration before the next duration's), which reordered an upload's bytes under load.
    this.#inFlight.push({ at: this.#busyUntil + this.options.oneWayDelayMs, deliver });
    this.#arm();
    return this.#busyUntil - now;
  }

  #arm(): void {
    if (this.#timer !== null || this.#inFlight.length === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      const now = performance.now();
      while (this.#inFlight.length > 0 && this.#inFlight[0]!.at <= now + 0.5) this.#inFlight.shift()!.deliver();
      this.#arm();
    }, Math.max(0, this.#inFlight[0]!.at - performance.now()));
  }

  /** Calls `deliver` when something sent downstream now would arrive (delay only). */
  down(deliver: () => void): void {
    setTimeout(deliver, this.options.oneWayDelayMs);
  }
}

/** Largest chunk paced as one piece (keeps the pacing smooth for large writes). */
const CHUNK = 16 * 1024;

/**
 * Paces `data` upstream, and stops reading `from` until the uplink is free: the rest waits in the sender's socket
 * buffers as on a real link, so an aborted upload stops using the uplink (its queued bytes are not sent after it).
 */
function paceUp(link: ShapedLink, data: Buffer, from: { pause(): unknown; resume(): unknown }, deliver: (piece: Buffer) => void): void {
  let busy = 0;
  for (let i = 0; i < data.length; i += CHUNK) {
    const piece = data.subarray(i, Math.min(data.length, i + CHUNK));
    busy = link.up(piece.length, () => deliver(piece));
  }
  if (busy > 1) {
    from.pause();
    setTimeout(() => from.resume(), busy);
  }
}

export interface Relay {
  readonly port: number;
  close(): Promise<void>;
}

/** A TCP relay (for SMTP, or anything that does not care which host it was addressed as). */
export async function startShapedTcpRelay(targetHost: string, targetPort: number, link: ShapedLink): Promise<Relay> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((client) => {
    const upstream = connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      // Let what is still in flight arrive before closing.
      link.up(0, () => upstream.end());
      link.down(() => client.end());
    };
    client.on("data", (data: Buffer) => paceUp(link, data, client, (piece) => upstream.destroyed || upstream.write(piece)));
    upstream.on("data", (data: Buffer) => link.down(() => client.destroyed || client.write(data)));
    client.on("end", end).on("error", () => upstream.destroy()).on("close", () => sockets.delete(client));
    upstream.on("end", end).on("error", () => client.destroy()).on("close", () => sockets.delete(upstream));
  });
  await listen(server);
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface HttpRelay extends Relay {
  /** A fetch that sends every request through the relay to the URL's own host (the Host header is kept). */
  readonly fetchFn: typeof fetch;
  /** Request bodies relayed so far, in bytes. */
  readonly bodyBytes: () => number;
  /**
   * Where requests without the fetchFn's target header go (e.g. the server's HTTP origin, when the server hands out
   * upload URLs on this relay's port — what a real Thunderbird needs, since its fetch cannot be swapped).
   */
  setTarget(origin: string): void;
}

const TARGET_HEADER = "x-shaped-relay-target";

/**
 * An HTTP relay for the upload's PUT (and the download's GET): the request is re-issued to its original origin with
 * its original Host header, its body paced upstream. Giving the MailSender `fetchFn` has the same effect as starting
 * the server with its upload URL pointing at the relay, without touching the server's configuration.
 */
export async function startShapedHttpRelay(link: ShapedLink): Promise<HttpRelay> {
  let bodyBytes = 0;
  let fallbackTarget: string | null = null;
  const server: HttpServer = createHttpServer((req: IncomingMessage, res) => {
    const named = req.headers[TARGET_HEADER] ?? fallbackTarget;
    if (typeof named !== "string") {
      res.writeHead(502).end("shaped relay: no target");
      return;
    }
    const target = new URL(named);
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: target.host };
    delete headers[TARGET_HEADER];
    // A fresh connection per request: a pooled keep-alive connection the server closed meanwhile would fail the
    // request ("socket hang up"), a relay artefact the sender would see as an upload failure.
    const out = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: false }, (answer) => {
      link.down(() => {
        // One request per client connection: a kept-alive connection reused just as it closes fails a PUT ("other
        // side closed"), a relay artefact the sender would count as an upload failure.
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, connection: "close" });
        answer.on("data", (data: Buffer) => link.down(() => res.write(data)));
        answer.on("end", () => link.down(() => res.end()));
      });
    });
    out.on("error", () => res.destroy());
    // The request line and headers go up first (one small packet), then the body, paced.
    link.up(512, () => out.flushHeaders());
    req.on("data", (data: Buffer) => {
      bodyBytes += data.length;
      paceUp(link, data, req, (piece) => out.destroyed || out.write(piece));
    });
    req.on("end", () => link.up(0, () => out.end()));
    req.on("error", () => out.destroy());
    // The sender gave up (its deadline): what it had not yet put on the link is gone with its connection.
    res.on("close", () => {
      if (!res.writableFinished) out.destroy();
    });
  });
  await listen(server);
  const port = (server.address() as AddressInfo).port;
  const fetchFn: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers);
    headers.set(TARGET_HEADER, url.origin);
    return fetch(`http://127.0.0.1:${port}${url.pathname}${url.search}`, { ...init, headers });
  };
  return {
    port,
    fetchFn,
    bodyBytes: () => bodyBytes,
    setTarget: (origin) => void (fallbackTarget = new URL(origin).origin),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface WsRelay extends Relay {
  /** ws://127.0.0.1:<port>/xmpp-websocket — give this to the session instead of the server's URL. */
  readonly url: string;
}

/** A WebSocket relay (one XMPP stanza per frame, RFC 7395), frames paced upstream and delayed both ways. */
export async function startShapedWsRelay(targetUrl: string, link: ShapedLink): Promise<WsRelay> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => (protocols.has("xmpp") ? "xmpp" : false) });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  const sockets = new Set<WebSocket>();
  server.on("connection", (client) => {
    const upstream = new WebSocket(targetUrl, "xmpp");
    sockets.add(client).add(upstream);
    const early: Array<{ data: RawData; binary: boolean }> = [];
    const forwardUp = (data: RawData, binary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      link.up(buf.length, () => upstream.readyState === WebSocket.OPEN && upstream.send(buf, { binary }));
    };
    client.on("message", (data, binary) => (upstream.readyState === WebSocket.OPEN ? forwardUp(data, binary) : early.push({ data, binary })));
    upstream.on("open", () => {
      for (const m of early.splice(0)) forwardUp(m.data, m.binary);
    });
    upstream.on("message", (data, binary) => link.down(() => client.readyState === WebSocket.OPEN && client.send(data as Buffer, { binary })));
    const closeBoth = () => {
      link.down(() => {
        if (client.readyState === WebSocket.OPEN) client.close();
        if (upstream.readyState === WebSocket.OPEN || upstream.readyState === WebSocket.CONNECTING) upstream.terminate();
      });
    };
    client.on("close", closeBoth).on("error", closeBoth);
    upstream.on("close", closeBoth).on("error", closeBoth);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/xmpp-websocket`,
    close: () => {
      for (const s of sockets) s.terminate();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: TcpServer | HttpServer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
}
