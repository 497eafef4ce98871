// Test mails and the peers that send them: minimal hand-made RFC 5322 texts, mail stanzas built with the real
// builder (or deliberately broken), a stock @xmpp/client peer, and one of our own sessions.
import { client as stockClient, xml, type StockClient } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { createLogger, type Logger } from "../../src/core/log.js";
import { encodeBase64 } from "../../src/core/base64.js";
import { sealPayload, sha256Base64 } from "../../src/core/payload-crypto.js";
import { NS_MAIL } from "../../src/core/protocol.js";
import type { SessionStatus } from "../../src/core/status.js";
import { buildMailStanza, type ExternalRef } from "../../src/xmpp/mail-stanza.js";
import { realScheduler, webCryptoSha1 } from "../../src/xmpp/runtime.js";
import { XmppSession } from "../../src/xmpp/session.js";
import { discoverUploadService, requestSlot, uploadBytes } from "../../src/xmpp/upload.js";
import type { ProsodyServer } from "./prosody.js";

export const quietLog: Logger = createLogger(() => {}, () => "debug");

export interface MailText {
  readonly from: string;
  readonly to?: string;
  readonly subject?: string;
  /** Without angle brackets; omitted header when null. */
  readonly messageId?: string | null;
  readonly body?: string;
  /** Extra header lines, without CRLF. */
  readonly headers?: readonly string[];
}

/** A minimal RFC 5322 message with CRLF line ends. */
export function rfc5322(m: MailText): Uint8Array {
  const lines = [
    `From: ${m.from}`,
    `To: ${m.to ?? "alice@localhost"}`,
    `Subject: ${m.subject ?? "test"}`,
    ...(m.messageId === null ? [] : [`Message-ID: <${m.messageId ?? `${crypto.randomUUID()}@test.invalid`}>`]),
    "Date: Mon, 23 Nov 2026 21:00:00 +0000",
    "MIME-Version: 1.0",
    ...(m.headers ?? []),
    ...(m.headers?.some((h) => /^content-type:/i.test(h)) ? [] : ["Content-Type: text/plain; charset=utf-8"]),
  ];
  return new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n${m.body ?? "Hello over XMPP.\r\n"}`);
}

/** A body of roughly `bytes` octets of printable text in 76-character lines. */
export function filler(bytes: number): string {
  const line = `${"0123456789abcdefghijklmnopqrstuvwxyz".repeat(3).slice(0, 74)}\r\n`;
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
}

export interface StanzaOverrides {
  readonly to?: string;
  readonly inline?: string;
  readonly size?: number;
  readonly sha256?: string;
}

/** An inline mail stanza for `raw`, as our sender would build it; overrides break it on purpose. */
export async function inlineStanza(raw: Uint8Array, id: string, over: StanzaOverrides = {}): Promise<Element> {
  return buildMailStanza({
    to: over.to ?? "alice@localhost",
    id,
    subject: "test",
    fallbackBody: "An e-mail sent over XMPP.",
    size: over.size ?? raw.length,
    sha256: over.sha256 ?? (await sha256Base64(raw)),
    payload: { inline: over.inline ?? encodeBase64(raw) },
  });
}

/** Encrypts `raw`, uploads the ciphertext through `session`'s XEP-0363 service and returns the reference. */
export async function uploadSealed(session: XmppSession, domain: string, raw: Uint8Array): Promise<{ ref: ExternalRef; sha256: string }> {
  const service = await discoverUploadService(session, domain, 5_000);
  if (!service) throw new Error("no upload service");
  const sealed = await sealPayload(raw);
  const slot = await requestSlot(session, service, { filename: "mail.bin", size: sealed.ciphertext.length, contentType: "application/octet-stream" }, 5_000);
  await uploadBytes(slot, sealed.ciphertext, 5_000);
  return { ref: { url: slot.getUrl, size: sealed.ciphertext.length, cipher: "aes-256-gcm", key: sealed.key, iv: sealed.iv }, sha256: sealed.sha256 };
}

export function externalStanza(id: string, size: number, sha256: string, ref: ExternalRef, to = "alice@localhost"): Element {
  return buildMailStanza({ to, id, subject: "test", fallbackBody: "An e-mail sent over XMPP.", size, sha256, payload: { external: ref } });
}

export interface StockPeer {
  readonly xmpp: StockClient;
  /** Every message received, with the time (performance.now) it arrived. */
  readonly inbox: Element[];
  readonly arrivals: Map<Element, number>;
}

/** An independent client (stock @xmpp/client), online with presence. */
export async function stockPeer(server: ProsodyServer, user: string, password: string, resource = "stock"): Promise<StockPeer> {
  const xmpp = stockClient({ service: server.wsUrl, domain: server.domain, username: user, password, resource });
  xmpp.on("error", () => {});
  const inbox: Element[] = [];
  const arrivals = new Map<Element, number>();
  xmpp.on("stanza", (s: Element) => {
    if (!s.is("message")) return;
    arrivals.set(s, performance.now());
    inbox.push(s);
  });
  await xmpp.start();
  await xmpp.send(xml("presence"));
  return { xmpp, inbox, arrivals };
}

/** One of our own sessions (not started). */
export function ourSession(
  server: ProsodyServer,
  user: string,
  password: string,
  resource: string,
  log: Logger = quietLog,
  options: { websocketUrl?: string; keepAliveMs?: number; pingTimeoutMs?: number } = {},
): XmppSession {
  return new XmppSession(
    { jid: `${user}@${server.domain}`, websocketUrl: options.websocketUrl ?? server.wsUrl, resource },
    {
      ...(options.keepAliveMs === undefined ? {} : { keepAliveMs: options.keepAliveMs }),
      ...(options.pingTimeoutMs === undefined ? {} : { pingTimeoutMs: options.pingTimeoutMs }),
      scheduler: realScheduler,
      random: Math.random,
      sha1: webCryptoSha1,
      log,
      backoff: { baseMs: 200, capMs: 1_000, factor: 2 },
      credentials: { load: async () => ({ password }), saveKeys: async () => {} },
    },
  );
}

export function whenOnline(session: XmppSession, timeoutMs = 10_000): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (session.status.state === "online") return resolve();
    const timer = setTimeout(() => {
      off();
      reject(new Error(`not online within ${timeoutMs} ms: ${JSON.stringify(session.status)}`));
    }, timeoutMs);
    const off = session.onStatus((s: SessionStatus) => {
      if (s.state !== "online") return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

export async function waitFor(pred: () => boolean, timeoutMs = 8_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The "filed" receipts for `id` in an inbox. */
export function filedReceipts(inbox: readonly Element[], id: string): Element[] {
  return inbox.filter((m) => m.getChild("filed", NS_MAIL)?.attrs.id === id);
}

/** The reasons of the rejections of `id` in an inbox. */
export function rejections(inbox: readonly Element[], id: string): string[] {
  return inbox.flatMap((m) => {
    const r = m.getChild("rejected", NS_MAIL);
    return r?.attrs.id === id ? [r.attrs.reason ?? ""] : [];
  });
}
