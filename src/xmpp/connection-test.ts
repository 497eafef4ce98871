// "Test connection": a throw-away session with the entered credentials, then, only if it failed before the XMPP
// layer, probes that tell DNS, refused/TLS and not-a-WebSocket apart. Never touches the running session. On success
// it also asks what the server lacks (PEP, carbons, MAM, upload, stream management) and reports each with its cost,
// as the status does once the account is in use.
import jidParse from "@xmpp/jid";
import { classifyConnectFailure, type ProbeResults } from "../core/diagnose.js";
import type { Logger } from "../core/log.js";
import type { ConnectTestResult } from "../core/messages.js";
import type { Scheduler } from "../core/scheduler.js";
import { validateWebsocketUrl } from "../core/settings.js";
import type { SessionStatus } from "../core/status.js";
import { createXmppClient } from "./client.js";
import { detectServerFeatures, observeStreamManagement, serverLimitations } from "./server-features.js";
import type { ScramKeys } from "./scram.js";
import { XmppSession } from "./session.js";

export interface ConnectionProbes {
  /** Does the host name resolve? Omit where no resolver is available. */
  resolveHost?(host: string): Promise<boolean>;
  /** Does anything answer an HTTP(S) request to this URL (any status)? */
  httpAnswers(url: string, timeoutMs: number): Promise<boolean>;
  /** Does a WebSocket (subprotocol "xmpp") to this URL open? "tls" when it failed in the TLS handshake. */
  websocketOpens(url: string, timeoutMs: number): Promise<boolean | "tls">;
}

export interface ConnectionTestInput {
  readonly jid: string;
  readonly websocketUrl: string;
  readonly password?: string;
  readonly keys?: ScramKeys;
}

export interface ConnectionTestDeps {
  readonly probes: ConnectionProbes;
  readonly scheduler: Scheduler;
  readonly random: () => number;
  readonly sha1: (data: Uint8Array) => Promise<Uint8Array>;
  readonly log: Logger;
  readonly timeoutMs?: number;
  readonly createClient?: typeof createXmppClient;
}

export async function testConnection(input: ConnectionTestInput, deps: ConnectionTestDeps): Promise<ConnectTestResult> {
  let bare: string;
  try {
    const parsed = jidParse(input.jid.trim());
    if (!parsed.local || !parsed.domain) throw new Error("missing local part or domain");
    bare = parsed.bare().toString();
  } catch (error) {
    return { ok: false, kind: "invalid-input", detail: `not a valid JID (${error instanceof Error ? error.message : "?"})` };
  }
  const url = validateWebsocketUrl(input.websocketUrl.trim());
  if (!url.ok) {
    return url.error === "url-insecure"
      ? { ok: false, kind: "insecure", detail: "ws:// is only allowed for this computer (loopback); use wss://" }
      : { ok: false, kind: "invalid-input", detail: `not a usable WebSocket URL (${url.error})` };
  }
  if (!input.password && !input.keys) return { ok: false, kind: "invalid-input", detail: "enter the password" };

  const timeoutMs = deps.timeoutMs ?? 10_000;
  const started = deps.scheduler.now();
  const sm = observeStreamManagement(deps.createClient ?? createXmppClient);
  const session = new XmppSession(
    { jid: bare, websocketUrl: url.href, resource: `test-${Math.floor(deps.random() * 1e9).toString(36)}` },
    {
      scheduler: deps.scheduler,
      random: deps.random,
      sha1: deps.sha1,
      log: deps.log,
      connectTimeoutMs: timeoutMs,
      credentials: {
        load: async () => ({ ...(input.password ? { password: input.password } : {}), ...(input.keys ? { keys: input.keys } : {}) }),
        saveKeys: async () => {},
      },
      createClient: sm.createClient,
    },
  );
  const final = await new Promise<SessionStatus>((resolve) => {
    const timer = deps.scheduler.setTimeout(() => resolve({ state: "error", reason: "timeout" }), timeoutMs + 1_000);
    session.onStatus((status) => {
      if (status.state === "online" || status.state === "auth-failed" || status.state === "error") {
        deps.scheduler.clearTimeout(timer);
        resolve(status);
      }
    });
    session.start();
  });
  const millis = Math.round(deps.scheduler.now() - started);
  const mechanism = session.mechanism;
  const limitations =
    final.state === "online"
      ? serverLimitations(await detectServerFeatures(session, { timeoutMs: Math.min(5_000, timeoutMs), streamManagement: sm.enabled }))
      : [];
  await session.stop();

  if (final.state === "online") return { ok: true, jid: final.jid, mechanism, millis, ...(limitations.length ? { limitations } : {}) };
  if (final.state === "auth-failed") return { ok: false, kind: "auth", detail: final.reason };

  const reason = final.state === "error" ? final.reason : "failed";
  const probes = await probe(url.href, deps.probes, Math.min(5_000, timeoutMs));
  const results: ProbeResults = probes.websocketOpened
    ? { ...probes, xmppFailure: { kind: /timed out|timeout/.test(reason) ? "timeout" : "other", detail: reason } }
    : { ...probes, timedOut: /timed out|timeout/.test(reason) };
  const { kind, detail } = classifyConnectFailure(results);
  return { ok: false, kind, detail };
}

async function probe(url: string, probes: ConnectionProbes, timeoutMs: number): Promise<ProbeResults> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, "");
  const isIpLiteral = /^[\d.]+$/.test(host) || host.includes(":");
  let dnsResolved: boolean | undefined;
  if (!isIpLiteral && probes.resolveHost) {
    dnsResolved = await probes.resolveHost(host).catch(() => false);
    if (!dnsResolved) return { dnsResolved, websocketOpened: false };
  }
  const opened = await probes.websocketOpens(url, timeoutMs).catch(() => false);
  const websocketOpened = opened === true;
  if (websocketOpened) return { ...(dnsResolved === undefined ? {} : { dnsResolved }), websocketOpened };
  const tlsHandshakeFailed = opened === "tls" ? { tlsHandshakeFailed: true } : {};
  const httpUrl = new URL(url);
  httpUrl.protocol = target.protocol === "wss:" ? "https:" : "http:";
  const httpAnswered = await probes.httpAnswers(httpUrl.toString(), timeoutMs).catch(() => false);
  let plainHttpOnTlsPort: boolean | undefined;
  if (target.protocol === "wss:" && !httpAnswered) {
    const plain = new URL(httpUrl.toString());
    plain.protocol = "http:";
    plain.port = target.port || "443";
    plainHttpOnTlsPort = await probes.httpAnswers(plain.toString(), timeoutMs).catch(() => false);
  }
  return {
    ...(dnsResolved === undefined ? {} : { dnsResolved }),
    websocketOpened,
    httpAnswered,
    ...(plainHttpOnTlsPort === undefined ? {} : { plainHttpOnTlsPort }),
    ...tlsHandshakeFailed,
  };
}
