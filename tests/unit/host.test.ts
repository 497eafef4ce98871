import { describe, expect, it } from "vitest";
import { isLocalhostName, isLoopbackHost, isLoopbackUrl } from "../../src/core/host.js";

// Moved from settings.test.ts (isLoopbackHost) and url-policy.test.ts (isLoopbackUrl) when the four loopback rules
// became core/host.ts; the extra cases are those the removed copies (upload.ts, session.ts, url-policy.ts) decided.
describe("isLoopbackHost", () => {
  it.each([
    ["localhost", true],
    ["LOCALHOST", true],
    ["127.0.0.1", true],
    ["127.255.255.254", true],
    ["127.1", true], // the URL parser (and so the WebSocket) reads this as 127.0.0.1
    ["::1", true],
    ["[::1]", true],
    ["0:0:0:0:0:0:0:1", true],
    ["", false],
    ["localhost.", false],
    ["foo.localhost", false],
    ["localhost:5280", false],
    ["127.0.0.1:80", false],
    ["127.0.0.1.nip.io", false],
    ["128.0.0.1", false],
    ["126.255.255.255", false],
    ["::2", false],
    ["::ffff:127.0.0.1", false],
    ["example.org", false],
    ["user@localhost", false],
    ["localhost/ws", false],
  ])("%s → %s", (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe("isLoopbackUrl", () => {
  it.each([
    ["ws://127.0.0.1:5280/xmpp-websocket", true],
    ["wss://127.0.0.1:5281/ws", true],
    ["ws://localhost:5280/", true],
    ["ws://[::1]:5280/", true],
    ["ws://127.1:5280/", true],
    ["wss://xmpp.example.org/ws", false],
    ["wss://10.0.0.1/ws", false],
    ["wss://localhost.example.org/ws", false],
    ["garbage", false],
  ])("%s → %s", (url, expected) => {
    expect(isLoopbackUrl(url)).toBe(expected);
  });
});

describe("the cases the removed copies decided (one rule now)", () => {
  it.each([
    ["[::1]", true], // upload.ts: bracketed only
    ["::1", true], // session.ts: brackets stripped first
    ["[0:0:0:0:0:0:0:1]", true],
    ["127.0.0.1", true],
    ["[::ffff:127.0.0.1]", false], // url-policy.ts classified the IPv4-mapped form as loopback
    ["[::ffff:7f00:1]", false],
    ["127.999.0.1", false], // upload.ts's \d{1,3} pattern took it; no URL parser does
    ["127.0.0.1.", true], // the URL parser drops the trailing dot of an IPv4 address (localhost. stays a name)
  ])("isLoopbackHost(%s) → %s", (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });

  it.each([
    ["ws://[::ffff:127.0.0.1]:5280/", false],
    ["http://[0:0::1]:5280/x", true],
    ["wss://LOCALHOST/ws", true],
    ["ws://0x7f.1/", true], // the URL parser reads it as 127.0.0.1
    ["ws://foo.localhost/", false],
  ])("isLoopbackUrl(%s) → %s", (url, expected) => {
    expect(isLoopbackUrl(url)).toBe(expected);
  });
});

describe("isLocalhostName", () => {
  it.each([
    ["localhost", true],
    ["LocalHost", true],
    ["foo.localhost", true],
    ["localhost.example.org", false],
    ["127.0.0.1", false],
    ["example.org", false],
    ["notlocalhost", false],
  ])("%s → %s", (name, expected) => {
    expect(isLocalhostName(name)).toBe(expected);
  });
});
