// What the options page says when the Discover button (or Test connection without a URL) finds no WebSocket
// (issue 13 point 4): a plain "this server offers no WebSocket" when the domain has none, the old text otherwise.
import { describe, expect, it } from "vitest";
import { discoverFailureText, parseDiscoverReply, parseTestResult, testResultText } from "../../src/ui/options/present.js";

describe("discover failure text", () => {
  it("says plainly that the server offers no WebSocket, with the domain and the probes as detail", () => {
    const reply = parseDiscoverReply({ error: "example.org publishes no …; none of the usual WebSocket addresses answered either (…)", noWebsocket: true });
    expect(reply).toEqual({ error: expect.any(String), noWebsocket: true });
    const shown = discoverFailureText(reply as { error: string }, "example.org");
    expect(shown.text).toEqual({ key: "discoverNoWebsocket", subs: ["example.org"] });
    expect(shown.detail?.key).toBe("resultDetail");
  });
  it("keeps the generic text for other failures (a malformed domain), and treats a missing flag as false", () => {
    const reply = parseDiscoverReply({ error: "not a valid domain: x y" });
    expect(reply).toEqual({ error: "not a valid domain: x y" });
    expect(discoverFailureText(reply as { error: string }, "x y").text.key).toBe("discoverFailed");
    expect(parseDiscoverReply({ error: "e", noWebsocket: "yes" })).toEqual({ error: "e" });
  });
  it("shows Test connection's no-websocket result with its own message", () => {
    const result = parseTestResult({ ok: false, kind: "no-websocket", detail: "tried wss://example.org:5281/xmpp-websocket: unreachable" });
    expect(result).not.toBeNull();
    expect(testResultText(result!).text.key).toBe("testFail_noWebsocket");
  });
});
