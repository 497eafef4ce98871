import { describe, expect, it } from "vitest";
import { discoverWebsocket, parseHostMeta } from "../../src/xmpp/discovery.js";

const XRD = `<?xml version='1.0' encoding='utf-8'?>
<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>
  <Link rel="urn:xmpp:alt-connections:xbosh" href="https://example.org/http-bind"/>
  <Link rel="urn:xmpp:alt-connections:websocket" href="wss://example.org/xmpp-websocket"/>
</XRD>`;

describe("parseHostMeta", () => {
  it("finds the WebSocket link in an XRD document", () => {
    expect(parseHostMeta(XRD)).toEqual(["wss://example.org/xmpp-websocket"]);
  });
  it("finds the WebSocket link in host-meta.json", () => {
    const json = JSON.stringify({
      links: [
        { rel: "urn:xmpp:alt-connections:websocket", href: "wss://chat.example.org:5281/ws" },
        { rel: "urn:xmpp:alt-connections:xbosh", href: "https://x/bosh" },
      ],
    });
    expect(parseHostMeta(json)).toEqual(["wss://chat.example.org:5281/ws"]);
  });
  it("drops insecure and malformed links", () => {
    const json = JSON.stringify({
      links: [
        { rel: "urn:xmpp:alt-connections:websocket", href: "ws://example.org/ws" },
        { rel: "urn:xmpp:alt-connections:websocket", href: "not a url" },
        { rel: "urn:xmpp:alt-connections:websocket", href: 42 },
      ],
    });
    expect(parseHostMeta(json)).toEqual([]);
  });
  it("rejects truncated XML", () => {
    expect(() => parseHostMeta("<XRD><Link rel='x'/>")).toThrow();
  });
});

describe("discoverWebsocket", () => {
  it("prefers host-meta.json and falls back to host-meta", async () => {
    const asked: string[] = [];
    const result = await discoverWebsocket("example.org", async (url) => {
      asked.push(url);
      return url.endsWith(".json") ? { ok: false, text: "" } : { ok: true, text: XRD };
    });
    expect(result).toEqual({ url: "wss://example.org/xmpp-websocket" });
    expect(asked).toEqual(["https://example.org/.well-known/host-meta.json", "https://example.org/.well-known/host-meta"]);
  });
  it("explains why nothing was found", async () => {
    const result = await discoverWebsocket("example.org", async () => {
      throw new Error("NetworkError");
    });
    expect(result).toMatchObject({ error: expect.stringContaining("NetworkError") });
  });
  it("refuses a domain that is not a host name", async () => {
    const result = await discoverWebsocket("evil.org/../x", async () => ({ ok: true, text: XRD }));
    expect(result).toMatchObject({ error: expect.stringContaining("not a valid domain") });
  });
});
