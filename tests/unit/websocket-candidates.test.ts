// The WebSocket endpoints tried when a domain publishes no host-meta, and which answer is taken (issue 13 point 4).
import { describe, expect, it } from "vitest";
import { candidatesFor, chooseEndpoint, isHostName, summarizeProbes, type ProbeOutcome } from "../../src/core/websocket-candidates.js";

const ok: ProbeOutcome = { ok: true };
const refused: ProbeOutcome = { ok: false, failure: "unreachable" };

describe("candidatesFor", () => {
  it("tries the shipped Prosody and ejabberd endpoints on the domain, then on xmpp.<domain>, in a fixed order", () => {
    expect(candidatesFor("example.org").map((c) => c.url)).toEqual([
      "wss://example.org/xmpp-websocket",
      "wss://example.org/ws",
      "wss://example.org:5281/xmpp-websocket",
      "wss://example.org:5443/ws",
      "wss://xmpp.example.org/xmpp-websocket",
      "wss://xmpp.example.org/ws",
      "wss://xmpp.example.org:5281/xmpp-websocket",
      "wss://xmpp.example.org:5443/ws",
    ]);
  });
  it("never offers plain ws:// or a non-TLS port for a real host", () => {
    for (const c of candidatesFor("example.org")) expect(c.url.startsWith("wss://")).toBe(true);
    expect(candidatesFor("example.org", { scheme: "ws" })).toEqual([]);
  });
  it("does not add xmpp.xmpp.<domain>, and normalises case and a trailing dot", () => {
    const urls = candidatesFor("XMPP.Example.org.").map((c) => c.url);
    expect(urls).toHaveLength(4);
    expect(urls[0]).toBe("wss://xmpp.example.org/xmpp-websocket");
  });
  it("returns nothing for what is not a host name (no URL injection)", () => {
    for (const bad of ["", "evil.org/../x", "a b", "ex ample.org", "x@y", "host:443", "-a.org", "a..org", "a".repeat(64) + ".org", `${"a.".repeat(127)}org`]) {
      expect(candidatesFor(bad)).toEqual([]);
    }
    expect(isHostName("chat.example-1.org")).toBe(true);
  });
  it("lets a test map the default ports and host names onto loopback (ws:// allowed there only)", () => {
    const list = candidatesFor("example.test", {
      scheme: "ws",
      ports: { 443: 40001, 5281: 40002, 5443: 40003 },
      address: (host) => (host === "example.test" ? "127.0.0.2" : "127.0.0.1"),
    });
    expect(list.map((c) => c.url)).toEqual([
      "ws://127.0.0.2:40001/xmpp-websocket",
      "ws://127.0.0.2:40001/ws",
      "ws://127.0.0.2:40002/xmpp-websocket",
      "ws://127.0.0.2:40003/ws",
      "ws://127.0.0.1:40001/xmpp-websocket",
      "ws://127.0.0.1:40001/ws",
      "ws://127.0.0.1:40002/xmpp-websocket",
      "ws://127.0.0.1:40003/ws",
    ]);
    expect(list[4]).toMatchObject({ host: "xmpp.example.test", port: 443, path: "/xmpp-websocket" });
  });
  it("keeps a URL once when a mapping makes two candidates the same", () => {
    const list = candidatesFor("example.test", { scheme: "ws", address: () => "127.0.0.1", ports: { 443: 1, 5281: 2, 5443: 3 } });
    expect(list).toHaveLength(4);
    expect(list.every((c) => c.host === "example.test")).toBe(true);
  });
});

describe("chooseEndpoint", () => {
  it("takes the first candidate in preference order that answered", () => {
    expect(chooseEndpoint([refused, ok, ok])).toEqual({ kind: "chosen", index: 1 });
    expect(chooseEndpoint([ok, refused])).toEqual({ kind: "chosen", index: 0 });
  });
  it("waits while a more preferred candidate is pending, even if a later one already answered", () => {
    expect(chooseEndpoint([refused, undefined, ok])).toEqual({ kind: "waiting" });
    expect(chooseEndpoint([ok, undefined])).toEqual({ kind: "chosen", index: 0 });
  });
  it("says none when every candidate failed, whatever the reason", () => {
    expect(
      chooseEndpoint([refused, { ok: false, failure: "not-xmpp" }, { ok: false, failure: "other-domain" }, { ok: false, failure: "timeout" }]),
    ).toEqual({ kind: "none" });
    expect(chooseEndpoint([])).toEqual({ kind: "none" });
  });
});

describe("summarizeProbes", () => {
  it("names each URL with its outcome, pending as timeout, bounded", () => {
    const list = candidatesFor("example.org").slice(0, 3);
    expect(summarizeProbes(list, [refused, { ok: false, failure: "not-xmpp" }, undefined])).toBe(
      "wss://example.org/xmpp-websocket: unreachable; wss://example.org/ws: not-xmpp; wss://example.org:5281/xmpp-websocket: timeout",
    );
    expect(summarizeProbes(candidatesFor("example.org"), [], 50)).toHaveLength(50);
  });
});
