// The control channel between a test and the helper extension (tests/e2e/fixtures/helper-ext) running inside
// Thunderbird. A small HTTP server on 127.0.0.1 that the helper long-polls for commands; the helper finds the
// port and a per-run token in its own managed storage, which tests/support/thunderbird.ts writes.
//
//   GET  /poll?token=T    held up to POLL_HOLD_MS; 200 {id, type, args} or 204
//   POST /result?token=T  {id, ok, value | error}
//   POST /ready?token=T   {identities, windows, browser}
//   POST /event?token=T   {type, ...}

import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const POLL_HOLD_MS = 20_000;
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface HelperIdentity {
  id: string;
  email: string;
  name: string;
  accountId: string;
  accountType: string;
}

export interface HelperReady {
  identities: HelperIdentity[];
  windows: Array<{ id: number; type: string; state: string; focused: boolean }>;
  browser: { name: string; vendor: string; version: string; buildID: string };
}

export interface HelperEvent {
  type: string;
  receivedAt: number;
  [key: string]: unknown;
}

export class HelperCommandError extends Error {
  constructor(
    readonly command: string,
    readonly helperError: string,
    readonly tabId?: number,
  ) {
    super(`helper command ${command} failed: ${helperError}`);
  }
}

export interface HarnessServer {
  readonly port: number;
  readonly token: string;
  /** Resolves when the helper has reported itself ready (never rejects; race it with a timeout). */
  readonly ready: Promise<HelperReady>;
  readonly readyInfo: HelperReady | null;
  readonly events: HelperEvent[];
  /** Queue a command for the helper; resolves with its value, rejects with HelperCommandError or on timeout. */
  command<T = unknown>(type: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  waitForEvent(pred: (e: HelperEvent) => boolean, timeoutMs: number): Promise<HelperEvent>;
  stop(): Promise<void>;
}

interface Pending {
  type: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export async function startHarnessServer(): Promise<HarnessServer> {
  const token = randomBytes(16).toString("hex");
  const queue: Array<{ id: number; type: string; args: Record<string, unknown> }> = [];
  const pollers: ServerResponse[] = [];
  const pending = new Map<number, Pending>();
  const events: HelperEvent[] = [];
  const eventWaiters = new Set<(e: HelperEvent) => void>();
  let nextId = 1;
  let readyInfo: HelperReady | null = null;
  let resolveReady!: (info: HelperReady) => void;
  const ready = new Promise<HelperReady>((resolve) => (resolveReady = resolve));

  function dispatch(): void {
    while (queue.length > 0) {
      const res = pollers.shift();
      if (!res) return;
      if (res.destroyed || res.writableEnded) continue;
      const cmd = queue.shift()!;
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(cmd));
    }
  }

  function send(res: ServerResponse, status: number, body?: unknown): void {
    if (body === undefined) {
      res.writeHead(status, { "cache-control": "no-store" });
      res.end();
    } else {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(body));
    }
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (url.searchParams.get("token") !== token) return send(res, 403, { error: "bad token" });
      if (req.method === "GET" && url.pathname === "/poll") {
        pollers.push(res);
        const timer = setTimeout(() => {
          const i = pollers.indexOf(res);
          if (i >= 0) pollers.splice(i, 1);
          if (!res.writableEnded) send(res, 204);
        }, POLL_HOLD_MS);
        res.on("close", () => {
          clearTimeout(timer);
          const i = pollers.indexOf(res);
          if (i >= 0) pollers.splice(i, 1);
        });
        dispatch();
        return;
      }
      if (req.method !== "POST") return send(res, 405);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      } catch {
        return send(res, 400, { error: "bad json" });
      }
      switch (url.pathname) {
        case "/ready":
          readyInfo = body as unknown as HelperReady;
          resolveReady(readyInfo);
          return send(res, 204);
        case "/result": {
          const p = pending.get(Number(body.id));
          if (p) {
            pending.delete(Number(body.id));
            clearTimeout(p.timer);
            if (body.ok === true) p.resolve(body.value);
            else p.reject(new HelperCommandError(p.type, String(body.error), typeof body.tabId === "number" ? body.tabId : undefined));
          }
          return send(res, 204);
        }
        case "/event": {
          const event = { ...body, type: String(body.type), receivedAt: Date.now() } as HelperEvent;
          events.push(event);
          for (const w of [...eventWaiters]) w(event);
          return send(res, 204);
        }
        default:
          return send(res, 404);
      }
    })().catch(() => {
      if (!res.headersSent) send(res, 500);
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | null = null;

  return {
    port,
    token,
    ready,
    get readyInfo() {
      return readyInfo;
    },
    events,
    command<T>(type: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
      if (stopped) return Promise.reject(new Error("harness server stopped"));
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          const i = queue.findIndex((c) => c.id === id);
          const where = i >= 0 ? "never picked up by the helper" : "picked up but not answered";
          if (i >= 0) queue.splice(i, 1);
          reject(new Error(`helper command ${type} timed out after ${timeoutMs} ms (${where})`));
        }, timeoutMs);
        pending.set(id, { type, resolve: resolve as (v: unknown) => void, reject, timer });
        queue.push({ id, type, args });
        dispatch();
      });
    },
    waitForEvent(pred, timeoutMs) {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = (e: HelperEvent) => {
          if (!pred(e)) return;
          clearTimeout(timer);
          eventWaiters.delete(waiter);
          resolve(e);
        };
        const timer = setTimeout(() => {
          eventWaiters.delete(waiter);
          reject(new Error(`no matching helper event within ${timeoutMs} ms (got: ${events.map((e) => e.type).join(", ") || "none"})`));
        }, timeoutMs);
        eventWaiters.add(waiter);
      });
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        for (const [, p] of pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`harness server stopped before the helper answered ${p.type}`));
        }
        pending.clear();
        for (const res of pollers.splice(0)) if (!res.writableEnded) send(res, 204);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
