// A plain SMTP sink for end-to-end tests: loopback, free port, no auth, no TLS; keeps every message it is given.
//
//   const sink = await startSmtpSink();
//   ... point Thunderbird's SMTP server at 127.0.0.1:sink.port ...
//   const msg = await sink.waitFor((m) => m.envelope.to.includes("carol@nowhere.test"), 20_000);
//   await sink.stop();

import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface SinkMessage {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  receivedAt: number; // Date.now() when the DATA phase finished
}

export interface SmtpSink {
  readonly port: number;
  readonly messages: SinkMessage[];
  /** Resolves with the first message (already received or arriving later) for which `pred` is true. */
  waitFor(pred: (msg: SinkMessage) => boolean, timeoutMs: number): Promise<SinkMessage>;
  stop(): Promise<void>;
}

const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const waiters = new Set<(msg: SinkMessage) => void>();

  const server = new SMTPServer({
    name: "sink.test",
    banner: "mox test sink",
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    size: MAX_MESSAGE_BYTES,
    logger: false,
    closeTimeout: 1_000, // stop(): drop lingering client connections after 1 s instead of 30 s
    // Thunderbird says EHLO with its own name; accept anything.
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", (err) => callback(err));
      stream.on("end", () => {
        const env = session.envelope;
        const msg: SinkMessage = {
          envelope: {
            from: env.mailFrom ? env.mailFrom.address : "",
            to: env.rcptTo.map((r) => r.address),
          },
          raw: Buffer.concat(chunks),
          receivedAt: Date.now(),
        };
        messages.push(msg);
        for (const w of [...waiters]) w(msg);
        callback(null, "Queued by the mox test sink");
      });
    },
  });
  server.on("error", () => {
    // client-side socket errors (e.g. Thunderbird quitting mid-session) must not crash the test process
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.server.once("error", onError);
    server.listen(0, "127.0.0.1", () => {
      server.server.off("error", onError);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;

  let stopped: Promise<void> | null = null;
  return {
    port,
    messages,
    waitFor(pred, timeoutMs) {
      const found = messages.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = (msg: SinkMessage) => {
          if (!pred(msg)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(msg);
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          const seen = messages.map((m) => `${m.envelope.from} -> ${m.envelope.to.join(",")}`);
          reject(new Error(`SMTP sink: no matching message within ${timeoutMs} ms (received ${messages.length}: ${seen.join("; ") || "none"})`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => server.close(() => resolve()));
      return stopped;
    },
  };
}
