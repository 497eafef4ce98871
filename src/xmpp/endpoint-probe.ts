// Finding a server's XMPP WebSocket without a URL (issue 13 point 4): XEP-0156 host-meta first (discovery.ts), and
// when that finds nothing, the endpoints Prosody and ejabberd serve by default (src/core/websocket-candidates.ts).
// A probe opens the WebSocket with subprotocol "xmpp", sends the RFC 7395 <open/> for the domain and waits for the
// server's <open/> from that domain, then closes: nothing is authenticated, no account is touched. Runs wherever a
// WebSocket global exists (Thunderbird; Node with tests/support/websocket-global.ts).
//
// One probe at a time per host name, the hosts (domain, xmpp.<domain>) side by side. Gecko lets only one WebSocket
// per IP address be in CONNECTING state (RFC 6455 §4.1; nsWSAdmissionManager queues the rest), so probes started all
// at once would wait in that queue behind a port a firewall drops while their own timers run out; one at a time per
// host, each probe's timer measures its own connection, in Thunderbird and in Node alike.
//
// Deadlines: host-meta gets HOST_META_TIMEOUT_MS (both documents at once), each probe PROBE_TIMEOUT_MS, and the whole
// search is cut at the overall deadline (10 s), whatever the network does. What comes back from a probe is bounded
// before it is parsed: the first frame only, at most MAX_OPEN_FRAME characters.
import { Parser, type Element } from "@xmpp/xml";
import type { Scheduler } from "../core/scheduler.js";
import {
  candidatesFor,
  chooseEndpoint,
  isHostName,
  summarizeProbes,
  type Candidate,
  type CandidateOptions,
  type ProbeOutcome,
} from "../core/websocket-candidates.js";
import { discoverWebsocket, type FetchText } from "./discovery.js";

const FRAMING_NS = "urn:ietf:params:xml:ns:xmpp-framing";
const HOST_META_TIMEOUT_MS = 3_000;
const PROBE_TIMEOUT_MS = 3_000;
const FIND_DEADLINE_MS = 10_000;
const STREAMS_NS = "http://etherx.jabber.org/streams";
/** A server's <open/> is ~200 characters; anything far larger is not one. */
const MAX_OPEN_FRAME = 4_096;
/** Stream features (SASL mechanisms, a few more) are ~0.5–2 KB on Prosody and ejabberd. */
const MAX_FEATURES_FRAME = 32_768;

/** The part of the WebSocket API a probe uses (the browser's, or the `ws` package's in Node tests). */
export interface ProbeSocket {
  readonly protocol: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number): void;
}
export type ProbeSocketFactory = (url: string, protocol: string) => ProbeSocket;

const globalSocket: ProbeSocketFactory = (url, protocol) => {
  const Ctor = (globalThis as { WebSocket?: new (url: string, protocol: string) => ProbeSocket }).WebSocket;
  if (!Ctor) throw new Error("no WebSocket in this environment");
  return new Ctor(url, protocol);
};

export interface ProbeDeps {
  readonly scheduler: Scheduler;
  readonly openSocket?: ProbeSocketFactory;
}

/** Lets the search stop a probe it no longer needs (its socket is closed at once). */
export interface ProbeCancel {
  cancelled: boolean;
  onCancel: (() => void) | null;
}

/** Parses one RFC 7395 frame (one complete element) of at most `max` characters; null for anything else. */
function parseFrame(frame: string, max: number): Element | null {
  if (frame.length > max) return null;
  const parser = new Parser();
  let root: Element | null = null;
  let closed = false;
  let failed = false;
  parser.on("start", (el: Element) => {
    root = el;
  });
  parser.on("end", () => {
    closed = true;
  });
  parser.on("error", () => {
    failed = true;
  });
  try {
    parser.write(frame.trim());
  } catch {
    return null;
  }
  const el = root as Element | null;
  return failed || !closed ? null : el;
}

/** Reads a server's first frame: the RFC 7395 <open/> element, or null when it is anything else. */
export function parseOpenFrame(frame: string): Element | null {
  const el = parseFrame(frame, MAX_OPEN_FRAME);
  return el !== null && el.name === "open" && el.attrs.xmlns === FRAMING_NS ? el : null;
}

/**
 * Reads the frame after <open/>: "features" when the server offers the stream (RFC 6120 §4.3.2), "error" for a
 * stream error (e.g. host-unknown: the server opened the stream only to refuse our domain), null for anything else.
 */
export function streamFrameKind(frame: string): "features" | "error" | null {
  const el = parseFrame(frame, MAX_FEATURES_FRAME);
  if (el === null) return null;
  const [prefix, local] = el.name.includes(":") ? el.name.split(":", 2) : [null, el.name];
  const ns = prefix === null ? el.attrs.xmlns : el.attrs[`xmlns:${prefix}`];
  if (ns !== STREAMS_NS) return null;
  return local === "features" ? "features" : local === "error" ? "error" : null;
}

/** Opens `url`, asks for `domain`'s stream and reports whether an XMPP server answered for that domain. */
export function probeEndpoint(url: string, domain: string, timeoutMs: number, deps: ProbeDeps, cancel?: ProbeCancel): Promise<ProbeOutcome> {
  if (!isHostName(domain)) return Promise.resolve({ ok: false, failure: "other-domain", detail: "not a host name" });
  return new Promise<ProbeOutcome>((resolve) => {
    let socket: ProbeSocket | null = null;
    let settled = false;
    const finish = (outcome: ProbeOutcome, closeFirst: boolean): void => {
      if (settled) return;
      settled = true;
      deps.scheduler.clearTimeout(timer);
      if (socket) {
        // No-ops rather than null: closing a socket that is still connecting reports an error event, and some
        // implementations (Node's ws) throw on an error nobody listens to.
        const ignore = (): void => undefined;
        socket.onopen = socket.onmessage = socket.onerror = socket.onclose = ignore;
        try {
          if (closeFirst) socket.send(`<close xmlns="${FRAMING_NS}"/>`);
        } catch {
          // already closing: nothing to say goodbye on
        }
        try {
          socket.close(1000);
        } catch {
          // a socket still connecting may refuse close codes in some engines; it is dropped either way
        }
      }
      resolve(outcome);
    };
    const timer = deps.scheduler.setTimeout(() => finish({ ok: false, failure: "timeout" }, false), timeoutMs);
    if (cancel) {
      if (cancel.cancelled) return finish({ ok: false, failure: "timeout", detail: "not needed" }, false);
      cancel.onCancel = () => finish({ ok: false, failure: "timeout", detail: "not needed" }, false);
    }
    try {
      socket = (deps.openSocket ?? globalSocket)(url, "xmpp");
    } catch (error) {
      finish({ ok: false, failure: "unreachable", detail: error instanceof Error ? error.message : String(error) }, false);
      return;
    }
    socket.onopen = () => {
      // RFC 7395 §3.1: the server must select "xmpp"; a WebSocket that ignores it is some other service.
      if (socket?.protocol !== "xmpp") return finish({ ok: false, failure: "not-xmpp", detail: "no xmpp subprotocol" }, false);
      socket.send(`<open xmlns="${FRAMING_NS}" to="${domain}" version="1.0"/>`);
    };
    // The server's answer is two frames: <open/> from our domain, then <stream:features/> (a server that does not
    // serve the domain may open the stream and then send a host-unknown stream error instead).
    let opened = false;
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") return finish({ ok: false, failure: "not-xmpp", detail: "binary frame" }, false);
      if (!opened) {
        const open = parseOpenFrame(event.data);
        if (!open) return finish({ ok: false, failure: "not-xmpp", detail: "first frame is not <open/>" }, false);
        const from = String(open.attrs.from ?? "").toLowerCase();
        if (from !== domain.toLowerCase()) return finish({ ok: false, failure: "other-domain", detail: `answered for ${from.slice(0, 100) || "no domain"}` }, true);
        opened = true;
        return;
      }
      const kind = streamFrameKind(event.data);
      if (kind === "features") return finish({ ok: true }, true);
      if (kind === "error") return finish({ ok: false, failure: "other-domain", detail: "stream error after <open/>" }, false);
      finish({ ok: false, failure: "not-xmpp", detail: "no stream features after <open/>" }, false);
    };
    socket.onerror = () => finish({ ok: false, failure: "unreachable" }, false);
    socket.onclose = () => finish({ ok: false, failure: "unreachable", detail: "closed before <open/>" }, false);
  });
}

export interface FindDeps extends ProbeDeps {
  readonly fetchText: FetchText;
  /** Tests point the candidates at loopback; production leaves this out. */
  readonly candidates?: CandidateOptions;
  readonly deadlineMs?: number;
  readonly probeTimeoutMs?: number;
  readonly hostMetaTimeoutMs?: number;
}

export type FindResult =
  | { readonly url: string; readonly via: "host-meta" | "probe" }
  | {
      readonly error: string;
      /** True when the domain is fine but nothing there speaks XMPP over WebSocket: the add-on cannot use it. */
      readonly noWebsocket: boolean;
      /** The URLs probed (empty when the domain itself was unusable). */
      readonly tried: readonly string[];
    };

/**
 * Probes the candidates, one at a time per host in preference order, the hosts side by side, and resolves with the
 * most preferred one that answered (chooseEndpoint) as soon as that is certain, or when `budgetMs` is spent.
 */
function probeCandidates(
  candidates: readonly Candidate[],
  domain: string,
  probeTimeoutMs: number,
  budgetMs: number,
  deps: ProbeDeps,
): Promise<{ readonly chosen: Candidate | null; readonly outcomes: readonly (ProbeOutcome | undefined)[] }> {
  const outcomes: (ProbeOutcome | undefined)[] = candidates.map(() => undefined);
  if (candidates.length === 0) return Promise.resolve({ chosen: null, outcomes });
  const started = deps.scheduler.now();
  const cancels = new Set<ProbeCancel>();
  return new Promise((resolve) => {
    let done = false;
    const decide = (force: boolean): void => {
      if (done) return;
      let choice = chooseEndpoint(outcomes);
      if (choice.kind === "waiting") {
        if (!force) return;
        // Out of time: a probe not finished (or not started) counts as failed; the first success in order wins.
        choice = chooseEndpoint(outcomes.map((o) => o ?? { ok: false, failure: "timeout" }));
      }
      done = true;
      deps.scheduler.clearTimeout(guard);
      for (const c of cancels) {
        c.cancelled = true;
        c.onCancel?.();
      }
      resolve({ chosen: choice.kind === "chosen" ? candidates[choice.index]! : null, outcomes: [...outcomes] });
    };
    const guard = deps.scheduler.setTimeout(() => decide(true), budgetMs);
    const hosts = [...new Set(candidates.map((c) => c.host))];
    for (const host of hosts) {
      const chain = candidates.map((c, i) => ({ c, i })).filter(({ c }) => c.host === host);
      void (async () => {
        for (const { c, i } of chain) {
          if (done) return;
          const left = budgetMs - (deps.scheduler.now() - started);
          if (left <= 0) return;
          const cancel: ProbeCancel = { cancelled: false, onCancel: null };
          cancels.add(cancel);
          const outcome = await probeEndpoint(c.url, domain, Math.min(probeTimeoutMs, left), deps, cancel);
          cancels.delete(cancel);
          if (done) return;
          outcomes[i] = outcome;
          decide(false);
          if (outcome.ok) return; // the rest of this host's list ranks below this success
        }
      })();
    }
  });
}

/**
 * Finds the WebSocket URL for an XMPP domain: host-meta, then the default endpoints. Resolves within the overall
 * deadline (plus the scheduler's slack), never rejects.
 */
export async function findWebsocket(domain: string, deps: FindDeps): Promise<FindResult> {
  const name = domain.trim().toLowerCase();
  if (!isHostName(name)) return { error: `not a valid domain: ${domain.slice(0, 100)}`, noWebsocket: false, tried: [] };
  const started = deps.scheduler.now();
  const deadline = deps.deadlineMs ?? FIND_DEADLINE_MS;
  const hostMetaTimeout = deps.hostMetaTimeoutMs ?? HOST_META_TIMEOUT_MS;

  const announced = await discoverWebsocket(name, deps.fetchText, hostMetaTimeout);
  if ("url" in announced) return { url: announced.url, via: "host-meta" };

  const candidates = candidatesFor(name, deps.candidates);
  // 250 ms kept back for closing sockets and answering the page before the deadline.
  const left = Math.max(0, deadline - (deps.scheduler.now() - started) - 250);
  const { chosen, outcomes } = await probeCandidates(candidates, name, deps.probeTimeoutMs ?? PROBE_TIMEOUT_MS, left, deps);
  if (chosen) return { url: chosen.url, via: "probe" };
  return {
    error: `${announced.error}; none of the usual WebSocket addresses answered either (${summarizeProbes(candidates, outcomes)})`,
    noWebsocket: true,
    tried: candidates.map((c) => c.url),
  };
}
