// The status in the user's words and the checks of a pushed status (ui/shared/status.ts, ui/shared/text.ts clip),
// split from options-ui.test.ts, assertions unchanged.
import { describe, expect, it } from "vitest";
import { parseSessionStatus, parseStatusPush, statusText } from "../../src/ui/shared/status.js";
import { clip } from "../../src/ui/shared/text.js";

describe("status text", () => {
  const time = (ms: number) => `T${ms}`;
  it.each([
    [{ state: "disconnected" }, { key: "statusDisconnected" }],
    [{ state: "disconnected", reason: "switched off" }, { key: "statusDisconnectedReason", subs: ["switched off"] }],
    [{ state: "connecting", attempt: 1 }, { key: "statusConnecting" }],
    [{ state: "connecting", attempt: 4 }, { key: "statusConnectingAttempt", subs: ["4"] }],
    [{ state: "online", jid: "a@b.example/r", since: 1 }, { key: "statusOnline", subs: ["a@b.example/r"] }],
    [{ state: "auth-failed", reason: "not-authorized" }, { key: "statusAuthFailed", subs: ["not-authorized"] }],
    [{ state: "error", reason: "lost" }, { key: "statusError", subs: ["lost"] }],
    [{ state: "error", reason: "lost", retryAt: 5 }, { key: "statusErrorRetry", subs: ["lost", "T5"] }],
    // No WebSocket for the account: in the user's language, not the background's English reason (issue 13 item 4).
    [{ state: "error", reason: "this server offers no XMPP WebSocket…", code: "no-websocket", retryAt: 7 }, { key: "statusNoWebsocketRetry", subs: ["T7"] }],
    [{ state: "error", reason: "this server offers no XMPP WebSocket…", code: "no-websocket" }, { key: "statusNoWebsocket" }],
    [{ state: "error", reason: "no WebSocket URL…", code: "no-url", retryAt: 8 }, { key: "statusNoUrlRetry", subs: ["T8"] }],
  ] as const)("%j", (status, expected) => {
    expect(statusText(status, time)).toEqual(expected);
  });

  it("bounds text from the background", () => {
    expect(clip("x".repeat(1000))).toHaveLength(300);
    expect(statusText({ state: "error", reason: "y".repeat(5000) }, time).subs?.[0]?.length).toBe(300);
  });
});

describe("checks of what the background sends", () => {
  it.each([
    [{ type: "status", status: { state: "online", jid: "a@b.example", since: 3 } }, { state: "online", jid: "a@b.example", since: 3 }],
    [{ type: "status", status: { state: "error", reason: "x", retryAt: 9 } }, { state: "error", reason: "x", retryAt: 9 }],
    [{ type: "status", status: { state: "error", reason: "x", code: "no-websocket", retryAt: 9 } }, { state: "error", reason: "x", code: "no-websocket", retryAt: 9 }],
    [{ type: "status", status: { state: "error", reason: "x", code: "no-such-code" } }, null],
    [{ type: "status", status: { state: "connecting", attempt: "2" } }, null],
    [{ type: "status", status: { state: "online", jid: 5, since: 3 } }, null],
    [{ type: "status", status: { state: "sleeping" } }, null],
    [{ type: "other", status: { state: "disconnected" } }, null],
    [null, null],
    ["status", null],
  ])("push %j", (message, expected) => {
    expect(parseStatusPush(message)).toEqual(expected);
  });

  it("drops unknown fields from a status", () => {
    expect(parseSessionStatus({ state: "auth-failed", reason: "r", password: "leak" })).toEqual({ state: "auth-failed", reason: "r" });
  });
});
