import { createServer } from "node:net";

/**
 * Ask the kernel for a currently free TCP port on 127.0.0.1.
 *
 * The port is released again before this resolves, so there is a short window in
 * which another process could take it; callers that bind later should be ready
 * to retry with a fresh port (startProsody does).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") {
        srv.close();
        reject(new Error("freePort: could not determine the bound port"));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** `count` distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  let attempts = 0;
  while (ports.size < count) {
    if (++attempts > count * 20) throw new Error(`freePorts: could not find ${count} distinct free ports`);
    ports.add(await freePort());
  }
  return [...ports];
}
