// What the private test servers (Prosody, ejabberd) share: reading their logs, probing their HTTP port, and making
// sure no server of ours outlives the test process.
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Up to `maxBytes` of `file` from `offset` (the last `maxBytes` when more was written); "" when missing. */
export function readFrom(file: string, offset: number, maxBytes = 1 << 20): string {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return "";
  }
  try {
    const size = statSync(file).size;
    const start = Math.max(offset, size - maxBytes);
    const len = Math.max(0, size - start);
    const buf = Buffer.alloc(len);
    const n = len > 0 ? readSync(fd, buf, 0, len, start) : 0;
    return buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export function logTail(file: string, bytes = 6_000): string {
  const tail = readFrom(file, 0, bytes).trimEnd();
  return tail ? `--- tail of ${file} ---\n${tail}` : `(log file ${file} is empty or missing)`;
}

/** One HTTP request; resolves with status and body, or null on any network error / timeout. */
export function httpRequest(
  url: string,
  timeoutMs: number,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> } | null> {
  return new Promise((resolve) => {
    const req = request(
      url,
      { method: init.method ?? "GET", agent: false, headers: { connection: "close", ...(init.headers ?? {}) }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
        res.on("error", () => resolve(null));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve(null));
    req.end(init.body);
  });
}

/** GET url once; resolves with status and body, or null on any network error / timeout. */
export function httpGet(url: string, timeoutMs: number): Promise<{ status: number; body: string } | null> {
  return httpRequest(url, timeoutMs);
}

// Leftover protection: on a normal exit (or an uncaught error) every server child still running is SIGKILLed and its
// temp dir removed (unless MOX_<NAME>_KEEP=1). Each server also has its own watchdog for a test process killed outright.
const liveChildren = new Set<ChildProcess>();
const liveDirs = new Map<string, string>(); // dir → keep-env variable
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of liveChildren) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const [dir, keepVar] of liveDirs) {
      if (process.env[keepVar] === "1") continue;
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
}

export function trackChild(child: ChildProcess): void {
  installExitHook();
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  child.once("error", () => liveChildren.delete(child));
}

export function untrackChild(child: ChildProcess): void {
  liveChildren.delete(child);
}

export function trackDir(dir: string, keepVar: string): void {
  installExitHook();
  liveDirs.set(dir, keepVar);
}

export function releaseDir(dir: string): void {
  const keepVar = liveDirs.get(dir);
  liveDirs.delete(dir);
  if (keepVar && process.env[keepVar] === "1") return;
  rmSync(dir, { recursive: true, force: true });
}

export class PortInUseError extends Error {}

/**
 * The life of one private server process: start (once at a time), stop (SIGTERM, SIGKILL after a grace), kill,
 * restart on the same ports and data, cleanup (stop + remove the temp dir). Subclasses spawn the process in `launch()`
 * and hand it to `adopt()`.
 */
export abstract class ServerProcess {
  protected child: ChildProcess | null = null;
  protected exited: Promise<void> | null = null;
  protected cleanedUp = false;
  #stopping: Promise<void> | null = null;
  #starting: Promise<void> | null = null;

  protected abstract readonly label: string;
  abstract readonly dir: string;
  /** Spawns the process (through `adopt`) and resolves when it is ready; rejects (after stopping it) when not. */
  protected abstract launch(): Promise<void>;
  /** Extra teardown once the process is gone (e.g. a watchdog). */
  protected afterExit(): void {}

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Tracks a freshly spawned child; the returned function tells how it ended, or null while it runs. */
  protected adopt(child: ChildProcess): () => string | null {
    this.child = child;
    trackChild(child);
    let exitInfo: string | null = null;
    this.exited = new Promise<void>((resolve) => {
      const done = (info: string) => {
        exitInfo ??= info;
        if (this.child === child) this.child = null;
        resolve();
      };
      child.once("exit", (code, signal) => done(signal ? `killed by ${signal}` : `exited with code ${code}`));
      child.once("error", (err) => done(`failed to spawn: ${err.message}`));
    });
    return () => exitInfo;
  }

  start(): Promise<void> {
    if (this.cleanedUp) return Promise.reject(new Error(`${this.label}: start() after cleanup()`));
    if (this.#starting) return this.#starting;
    this.#starting = (async () => {
      if (this.#stopping) await this.#stopping; // start() right after a stop() we did not await
      if (this.child) return; // already running: no second process
      await this.launch();
    })().finally(() => {
      this.#starting = null;
    });
    return this.#starting;
  }

  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const child = this.child;
    if (!child) return Promise.resolve();
    this.#stopping = (async () => {
      const exited = this.exited!;
      child.kill("SIGTERM");
      const inTime = await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
      if (!inTime) {
        child.kill("SIGKILL");
        await exited;
      }
      this.afterExit();
    })().finally(() => {
      this.#stopping = null;
    });
    return this.#stopping;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGKILL");
    await this.exited;
    this.afterExit();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async cleanup(): Promise<void> {
    if (this.#starting) await this.#starting.catch(() => undefined);
    await this.stop();
    if (this.cleanedUp) return;
    this.cleanedUp = true;
    releaseDir(this.dir);
  }
}

const STOP_GRACE_MS = 5_000;
