// The userspace link shaper the slow-link test and bench rely on (tests/support/shaped-relay.ts): it must really pace
// an upload to the set rate, add the delay, keep the request's Host, and stop using the uplink when a sender aborts.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ShapedLink, startShapedHttpRelay, type HttpRelay } from "../support/shaped-relay.js";

describe("shaped HTTP relay", () => {
  const seen: Array<{ host: string | undefined; bytes: number }> = [];
  const server = createServer((req: IncomingMessage, res) => {
    let bytes = 0;
    req.on("data", (d: Buffer) => (bytes += d.length));
    req.on("end", () => {
      seen.push({ host: req.headers.host, bytes });
      res.writeHead(201).end("ok");
    });
  });
  let port = 0;
  let link: ShapedLink;
  let relay: HttpRelay;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
    link = new ShapedLink({ upBytesPerSecond: 1_000_000, oneWayDelayMs: 25 });
    relay = await startShapedHttpRelay(link);
  });
  afterAll(async () => {
    await relay.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("paces a PUT body to the link's rate, adds the delay, keeps Host", async () => {
    const body = new Uint8Array(500_000);
    const t0 = performance.now();
    const res = await relay.fetchFn(`http://localhost:${port}/put/x?y=1`, { method: "PUT", body });
    const ms = performance.now() - t0;
    expect(res.status).toBe(201);
    expect(await res.text()).toBe("ok");
    expect(seen.at(-1)).toEqual({ host: `localhost:${port}`, bytes: 500_000 });
    expect(ms).toBeGreaterThan(500 + 50 - 10);
    expect(ms).toBeLessThan(5_000);
    expect(relay.bodyBytes()).toBe(500_000);
  });

  it("an aborted upload stops using the uplink", async () => {
    const controller = new AbortController();
    const before = link.upBytes;
    setTimeout(() => controller.abort(), 200);
    await expect(relay.fetchFn(`http://127.0.0.1:${port}/put/z`, { method: "PUT", body: new Uint8Array(5_000_000), signal: controller.signal })).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 300));
    // ~0.2 s at 1 MB/s went up, plus what sat in socket buffers — far from the 5 MB a queue-everything relay would pace.
    expect(link.upBytes - before).toBeLessThan(2_500_000);
  });
});

describe("ShapedLink", () => {
  it("delivers upstream pieces in the order they were sent, even when the event loop runs late", async () => {
    const link = new ShapedLink({ upBytesPerSecond: 1_000_000, oneWayDelayMs: 5 });
    const got: number[] = [];
    let sent = 0;
    // Bursts sent from different ticks (so the per-piece delays differ), with the loop blocked between them: before
    // the single queue, pieces of one burst could fire ahead of an earlier burst's later ones.
    for (let burst = 0; burst < 20; burst++) {
      for (let i = 0; i < 5; i++) {
        const n = sent++;
        link.up(1_000 + ((burst * 7 + i * 3) % 11) * 100, () => got.push(n));
      }
      const until = performance.now() + 3 + (burst % 4) * 4;
      while (performance.now() < until) {
        // busy: the event loop runs late
      }
      await new Promise((r) => setTimeout(r, burst % 3));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([...Array(sent).keys()]);
  });
});
