// A real Thunderbird behind a link shaped like a home connection (issue 13 item 2; docs/performance.md, "Slow links"):
// one paced uplink (tests/support/shaped-relay.ts) carries everything the sender's Thunderbird sends — its XMPP
// WebSocket, its uploads' HTTP PUT (the server hands out upload URLs on the relay's port) and its SMTP to the sink.
// The recipient (bob) is the add-on's receiving engine in Node on its own, unshaped connection.
//
//   const stage = await startShapedStage("prosody");
//   const tb = await stage.launchSender({ addon: true });
//   const wait = await stage.sendAndWait(tb, { to: stage.jidOf("bob"), subject, attachmentBytes: 10_000_000 });
//   await stage.stop();
import { DIST_DIR, E2E_STRANGER_LIMITS } from "./e2e-env.js";
import { startMailPeer, type MailPeer } from "./mail-peer.js";
import { startServer, type ServerKind, type XmppServer } from "./servers.js";
import { ShapedLink, startShapedHttpRelay, startShapedTcpRelay, startShapedWsRelay, type HttpRelay, type Relay, type WsRelay } from "./shaped-relay.js";
import { startSmtpSink, type SmtpSink } from "./smtp.js";
import { launchThunderbird, type TB } from "./thunderbird.js";

/** 10 Mbit/s up, 25 ms each way (50 ms round trip). */
export const HOME_LINK = { upBytesPerSecond: 1_250_000, oneWayDelayMs: 25 } as const;

export interface ShapedStage {
  readonly server: XmppServer;
  readonly link: ShapedLink;
  /** The relay in front of the server's HTTP port: every upload PUT and download GET goes through it. */
  readonly http: HttpRelay;
  readonly ws: WsRelay;
  readonly smtpRelay: Relay;
  readonly sink: SmtpSink;
  readonly bob: MailPeer;
  jidOf(user: string): string;
  /** A sender's Thunderbird (alice) whose SMTP and (with the add-on) XMPP and uploads go through the shaped link. */
  launchSender(opts: { addon: boolean }): Promise<TB>;
  /** Sends a mail with an attachment of `attachmentBytes` and returns the user's wait, Send → compose window closed. */
  sendAndWait(tb: TB, mail: { to: string; subject: string; attachmentBytes: number }): Promise<SendWait>;
  stop(): Promise<void>;
}

export interface SendWait {
  /** Send (compose.sendMessage called) → the compose window closed, in ms. */
  ms: number;
  /** How the mail left: "xmpp" (the add-on delivered it and closed the window) or "smtp" (Thunderbird sent it). */
  route: "xmpp" | "smtp";
  /** How long the add-on held Thunderbird's Send (its `send-held` line), when it logged one. */
  heldMs?: number;
}

/** Random bytes (incompressible, like a photo or a PDF). */
export function attachmentOf(bytes: number): { name: string; type: string; base64: string } {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < data.length; i += 65_536) crypto.getRandomValues(data.subarray(i, Math.min(data.length, i + 65_536)));
  return { name: "large.bin", type: "application/octet-stream", base64: Buffer.from(data).toString("base64") };
}

export async function startShapedStage(kind: ServerKind): Promise<ShapedStage> {
  const link = new ShapedLink(HOME_LINK);
  const http = await startShapedHttpRelay(link);
  const started: Array<{ close(): Promise<void> }> = [http];
  let server: XmppServer | null = null;
  try {
    server = await startServer(kind, {
      users: ["alice", "bob"].map((user) => ({ user, password: `pw-${user}` })),
      upload: true,
      uploadSizeLimit: 64 * 1024 * 1024,
      uploadUrl: `http://127.0.0.1:${http.port}`,
    });
    http.setTarget(server.httpUrl);
    const ws = await startShapedWsRelay(server.wsUrl, link);
    started.push(ws);
    const sink = await startSmtpSink();
    started.push({ close: () => sink.stop() });
    const smtpRelay = await startShapedTcpRelay("127.0.0.1", sink.port, link);
    started.push(smtpRelay);
    const bob = await startMailPeer(server, "bob", "pw-bob");
    started.push({ close: () => bob.stop() });
    const srv = server;
    const tbs: TB[] = [];
    return {
      server: srv,
      link,
      http,
      ws,
      smtpRelay,
      sink,
      bob,
      jidOf: (user) => `${user}@${srv.domain}`,
      async launchSender({ addon }) {
        const tb = await launchThunderbird({
          smtpPort: smtpRelay.port,
          // Thunderbird asks "send this large message?" above 20 MB (mailnews.message_warning_size): a user clicks it,
          // the helper cannot — off, so that 25 MB mail can be measured (the same for both Thunderbirds).
          extraPrefs: { "mailnews.message_warning_size": 0 },
          ...(addon ? { addonDir: DIST_DIR, managed: { jid: `alice@${srv.domain}`, password: "pw-alice", websocketUrl: ws.url, ...E2E_STRANGER_LIMITS } } : {}),
        });
        tbs.push(tb);
        if (addon) await tb.waitForEvent((e) => e.event === "status" && e.state === "online", 60_000);
        return tb;
      },
      async sendAndWait(tb, mail) {
        const attachment = attachmentOf(mail.attachmentBytes);
        const started = tb.helper.events.length;
        const seen = new Set(tb.events());
        const held = () => {
          const e = tb.events().find((x) => x.event === "send-held" && !seen.has(x));
          return e ? { heldMs: Number(e["ms"]) } : {};
        };
        try {
          const sent = await tb.helper.send({ to: mail.to, subject: mail.subject, body: "A large mail.", attachments: [attachment] }, 240_000);
          return { ms: sent.sendMs, route: "smtp", ...held() };
        } catch (error) {
          // The add-on cancelled Thunderbird's send (delivered over XMPP) and closes the window when it is done.
          if (!/aborted/i.test(String(error))) throw error;
          const closed = await tb.waitForEvent((e) => e.event === "compose-closed" && !seen.has(e), 30_000).catch(() => null);
          const start = tb.helper.events.slice(started).find((e) => e.type === "send-started" && e["subject"] === mail.subject);
          const closedAt = closed ? tb.timeOf(closed) : undefined;
          if (!start || closedAt === undefined) throw new Error(`no send-started event or compose-closed line for "${mail.subject}"`);
          // Both wall clocks of this machine: Thunderbird's Date.now() and Node's timeOrigin + performance.now().
          return { ms: performance.timeOrigin + closedAt - Number(start["at"]), route: "xmpp", ...held() };
        }
      },
      async stop() {
        for (const tb of tbs.splice(0)) await tb.quit().catch(() => {});
        for (const s of started.reverse()) await s.close().catch(() => {});
        await srv.cleanup();
      },
    };
  } catch (error) {
    for (const s of started.reverse()) await s.close().catch(() => {});
    await server?.cleanup();
    throw error;
  }
}
