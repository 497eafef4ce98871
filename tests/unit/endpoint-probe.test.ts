// Probing WebSocket candidates against scripted sockets: what counts as an XMPP server for the domain, and that the
// search ends within its deadline whatever the sockets do. (Against real Prosody and ejabberd:
// tests/integration/endpoint-probe.test.ts.)
import { afterEach, describe, expect, it, vi } from "vitest";
import { realScheduler } from "../../src/xmpp/runtime.js";
import {
  findWebsocket,
  parseOpenFrame,
  probeEndpoint,
  streamFrameKind,
  type ProbeSocket,
  type ProbeSocketFactory,
} from "../../src/xmpp/endpoint-probe.js";

const OPEN = (from: string) => `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" xml:lang="en" version="1.0" id="abc" from="${from}"/>`;

type Script = (socket: FakeSocket) => void;
class FakeSocket implements ProbeSocket {
  protocol = "";
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  onclose: ((event: unknown) => void) | null = null;
  sent: string[] = [];
  closed = false;
  constructor(readonly url: string) {}
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.closed = true;
  }
  open(protocol = "xmpp"): void {
    this.protocol = protocol;
    this.onopen?.({});
  }
  reply(data: unknown): void {
    this.onmessage?.({ data });
  }
}

/** Sockets that behave per URL: `server(url)` returns what to do once the socket exists. */
function sockets(server: (url: string) => Script | undefined): { factory: ProbeSocketFactory; made: FakeSocket[] } {
  const made: FakeSocket[] = [];
  const factory: ProbeSocketFactory = (url, protocol) => {
    expect(protocol).toBe("xmpp");
    const s = new FakeSocket(url);
    made.push(s);
    const script = server(url);
    if (script) queueMicrotask(() => script(s));
    return s;
  };
  return { factory, made };
}

const FEATURES = `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>`;
const xmppServer = (from: string): Script => (s) => {
  s.open();
  s.reply(OPEN(from));
  s.reply(FEATURES);
};
const refuse: Script = (s) => {
  s.onerror?.({});
  s.onclose?.({});
};
const noHostMeta = async () => ({ ok: false, text: "" });

afterEach(() => {
  vi.useRealTimers();
});

describe("parseOpenFrame", () => {
  it("accepts the RFC 7395 <open/> and nothing else", () => {
    expect(parseOpenFrame(OPEN("example.org"))?.attrs.from).toBe("example.org");
    expect(parseOpenFrame(`<?xml version='1.0'?>${OPEN("example.org")}`)?.attrs.from).toBe("example.org");
    expect(parseOpenFrame("<open/>")).toBeNull(); // no framing namespace
    expect(parseOpenFrame(`<stream:stream xmlns:stream="http://etherx.jabber.org/streams" from="example.org">`)).toBeNull();
    expect(parseOpenFrame("HTTP/1.1 200 OK")).toBeNull();
    expect(parseOpenFrame("{\"hello\":1}")).toBeNull();
    expect(parseOpenFrame(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="x"`)).toBeNull(); // truncated
    expect(parseOpenFrame(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="${"x".repeat(5000)}"/>`)).toBeNull(); // oversized
  });
});

describe("streamFrameKind", () => {
  it("tells stream features from a stream error and from anything else", () => {
    expect(streamFrameKind(FEATURES)).toBe("features");
    expect(streamFrameKind(`<features xmlns="http://etherx.jabber.org/streams"/>`)).toBe("features");
    expect(
      streamFrameKind(`<stream:error xmlns:stream="http://etherx.jabber.org/streams"><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`),
    ).toBe("error");
    expect(streamFrameKind(`<stream:features xmlns:stream="urn:other"/>`)).toBeNull();
    expect(streamFrameKind(`<message/>`)).toBeNull();
    expect(streamFrameKind(`<stream:features xmlns:stream="http://etherx.jabber.org/streams">`)).toBeNull(); // unfinished
    expect(streamFrameKind(`<stream:features xmlns:stream="http://etherx.jabber.org/streams">${"<x/>".repeat(9000)}</stream:features>`)).toBeNull();
  });
});

describe("probeEndpoint", () => {
  it("succeeds when the server selects xmpp and answers <open/> for the domain, and then says goodbye", async () => {
    const { factory, made } = sockets(() => xmppServer("example.org"));
    const outcome = await probeEndpoint("wss://example.org/xmpp-websocket", "example.org", 1000, { scheduler: realScheduler, openSocket: factory });
    expect(outcome).toEqual({ ok: true });
    expect(made[0]!.sent[0]).toBe(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.org" version="1.0"/>`);
    expect(made[0]!.sent[1]).toBe(`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`);
    expect(made[0]!.closed).toBe(true);
  });
  it("rejects a WebSocket that does not select the xmpp subprotocol", async () => {
    const { factory, made } = sockets(() => (s) => s.open(""));
    const outcome = await probeEndpoint("wss://x/ws", "example.org", 1000, { scheduler: realScheduler, openSocket: factory });
    expect(outcome).toMatchObject({ ok: false, failure: "not-xmpp" });
    expect(made[0]!.closed).toBe(true);
  });
  it("rejects a WebSocket whose first frame is not <open/> (an echo or chat service)", async () => {
    for (const frame of ["hello", "<message/>", new Uint8Array([1, 2, 3])]) {
      const { factory } = sockets(() => (s) => {
        s.open();
        s.reply(frame);
      });
      expect(await probeEndpoint("wss://x/ws", "example.org", 1000, { scheduler: realScheduler, openSocket: factory })).toMatchObject({
        ok: false,
        failure: "not-xmpp",
      });
    }
  });
  it("rejects a server that opens the stream for our domain only to refuse it (host-unknown)", async () => {
    const { factory } = sockets(() => (s) => {
      s.open();
      s.reply(OPEN("example.org"));
      s.reply(`<stream:error xmlns:stream="http://etherx.jabber.org/streams"><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`);
    });
    expect(await probeEndpoint("wss://x/ws", "example.org", 1000, { scheduler: realScheduler, openSocket: factory })).toMatchObject({
      ok: false,
      failure: "other-domain",
    });
  });
  it("rejects a server that answers for another domain", async () => {
    const { factory } = sockets(() => xmppServer("other.example"));
    expect(await probeEndpoint("wss://x/ws", "example.org", 1000, { scheduler: realScheduler, openSocket: factory })).toMatchObject({
      ok: false,
      failure: "other-domain",
    });
  });
  it("reports a refused connection and a silent one (timeout), closing the socket", async () => {
    const refused = sockets(() => refuse);
    expect(await probeEndpoint("wss://x/ws", "example.org", 1000, { scheduler: realScheduler, openSocket: refused.factory })).toMatchObject({
      ok: false,
      failure: "unreachable",
    });
    const silent = sockets(() => (s) => s.open());
    expect(await probeEndpoint("wss://x/ws", "example.org", 30, { scheduler: realScheduler, openSocket: silent.factory })).toMatchObject({
      ok: false,
      failure: "timeout",
    });
    expect(silent.made[0]!.closed).toBe(true);
  });
  it("copes with a factory that throws (no WebSocket, bad URL)", async () => {
    const outcome = await probeEndpoint("wss://x/ws", "example.org", 1000, {
      scheduler: realScheduler,
      openSocket: () => {
        throw new Error("SyntaxError");
      },
    });
    expect(outcome).toMatchObject({ ok: false, failure: "unreachable", detail: "SyntaxError" });
  });
});

describe("findWebsocket", () => {
  it("uses host-meta when it names an endpoint, without probing", async () => {
    const { factory, made } = sockets(() => xmppServer("example.org"));
    const xrd = `<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'><Link rel="urn:xmpp:alt-connections:websocket" href="wss://chat.example.org/ws"/></XRD>`;
    const result = await findWebsocket("example.org", {
      scheduler: realScheduler,
      openSocket: factory,
      fetchText: async (url) => (url.endsWith("host-meta") ? { ok: true, text: xrd } : { ok: false, text: "" }),
    });
    expect(result).toEqual({ url: "wss://chat.example.org/ws", via: "host-meta" });
    expect(made).toHaveLength(0);
  });
  it("without host-meta, takes the most preferred candidate that answered, not the fastest", async () => {
    // The domain's chain: a web server's WebSocket (not XMPP), nothing on 443/ws, Prosody on 5281 answering late.
    // xmpp.<domain>'s chain answers at once, but ranks below the domain's own endpoints.
    const { factory, made } = sockets((url) => {
      if (url === "wss://example.org/xmpp-websocket") return (s) => s.open("");
      if (url === "wss://example.org:5281/xmpp-websocket") return (s) => setTimeout(() => xmppServer("example.org")(s), 40);
      if (url === "wss://xmpp.example.org/xmpp-websocket") return xmppServer("example.org");
      return refuse;
    });
    const result = await findWebsocket("example.org", { scheduler: realScheduler, openSocket: factory, fetchText: noHostMeta });
    expect(result).toEqual({ url: "wss://example.org:5281/xmpp-websocket", via: "probe" });
    // Each host's list stops at its first success; everything opened was closed.
    expect(made.map((s) => s.url)).toEqual([
      "wss://example.org/xmpp-websocket",
      "wss://xmpp.example.org/xmpp-websocket",
      "wss://example.org/ws",
      "wss://example.org:5281/xmpp-websocket",
    ]);
    expect(made.every((s) => s.closed)).toBe(true);
  });
  it("probes one candidate at a time per host (Gecko queues WebSocket connects per IP), hosts side by side", async () => {
    const open = new Map<string, number>();
    let most = 0;
    const made: FakeSocket[] = [];
    const factory: ProbeSocketFactory = (url) => {
      const host = new URL(url).hostname;
      open.set(host, (open.get(host) ?? 0) + 1);
      most = Math.max(most, open.get(host)!);
      const s = new FakeSocket(url);
      const close = s.close.bind(s);
      s.close = () => {
        if (!s.closed) open.set(host, open.get(host)! - 1);
        close();
      };
      made.push(s);
      setTimeout(() => refuse(s), 5);
      return s;
    };
    const result = await findWebsocket("example.org", { scheduler: realScheduler, openSocket: factory, fetchText: noHostMeta });
    expect(result).toMatchObject({ noWebsocket: true });
    expect(made).toHaveLength(8);
    expect(most).toBe(1);
  });
  it("finds a server on xmpp.<domain> only", async () => {
    const { factory } = sockets((url) => (url === "wss://xmpp.example.org:5443/ws" ? xmppServer("example.org") : refuse));
    expect(await findWebsocket("example.org", { scheduler: realScheduler, openSocket: factory, fetchText: noHostMeta })).toEqual({
      url: "wss://xmpp.example.org:5443/ws",
      via: "probe",
    });
  });
  it("says plainly that the domain offers no WebSocket, listing what was tried", async () => {
    const { factory } = sockets(() => refuse);
    const result = await findWebsocket("example.org", { scheduler: realScheduler, openSocket: factory, fetchText: noHostMeta });
    expect(result).toMatchObject({ noWebsocket: true, tried: expect.arrayContaining(["wss://example.org:5281/xmpp-websocket", "wss://xmpp.example.org:5443/ws"]) });
    expect("tried" in result && result.tried).toHaveLength(8);
    expect("error" in result && result.error).toContain("wss://example.org:5443/ws: unreachable");
  });
  it("ends within the overall deadline when host-meta and every probe hang", async () => {
    vi.useFakeTimers();
    const { factory } = sockets(() => undefined); // sockets that never open, never fail
    const hang = (_url: string, timeoutMs: number) =>
      new Promise<{ ok: boolean; text: string }>((_, reject) => setTimeout(() => reject(new Error("timed out")), timeoutMs));
    const scheduler = { now: () => Date.now(), setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as never) };
    const started = Date.now();
    let result: unknown = null;
    void findWebsocket("example.org", { scheduler, openSocket: factory, fetchText: hang }).then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(result).toMatchObject({ noWebsocket: true });
    expect(Date.now() - started).toBeLessThanOrEqual(10_000);
  });
  it("refuses a domain that is not a host name without probing", async () => {
    const { factory, made } = sockets(() => xmppServer("x"));
    expect(await findWebsocket("evil.org/../x", { scheduler: realScheduler, openSocket: factory, fetchText: noHostMeta })).toMatchObject({
      noWebsocket: false,
    });
    expect(made).toHaveLength(0);
  });
});
