// Split from core-session-logic.test.ts (one test file per module), assertions unchanged.
import { describe, expect, it } from "vitest";
import { classifyConnectFailure } from "../../src/core/diagnose.js";

describe("classifyConnectFailure", () => {
  it.each([
    [{ dnsResolved: false, websocketOpened: false }, "dns"],
    [{ dnsResolved: true, websocketOpened: false, plainHttpOnTlsPort: true, httpAnswered: false }, "tls"],
    [{ websocketOpened: false, tlsHandshakeFailed: true, httpAnswered: false, plainHttpOnTlsPort: false }, "tls"],
    [{ dnsResolved: true, websocketOpened: false, httpAnswered: true }, "not-websocket"],
    [{ websocketOpened: false, httpAnswered: false }, "refused"],
    [{ websocketOpened: false, timedOut: true }, "timeout"],
    [{ websocketOpened: true, xmppFailure: { kind: "auth" as const, detail: "not-authorized" } }, "auth"],
    [{ websocketOpened: true }, "other"],
  ])("%j → %s", (probes, kind) => {
    expect(classifyConnectFailure(probes).kind).toBe(kind);
  });

  it("says what a failed TLS handshake can mean, and keeps the more precise no-TLS answer", () => {
    expect(classifyConnectFailure({ websocketOpened: false, tlsHandshakeFailed: true, httpAnswered: false }).detail).toMatch(/^TLS failed: the server's certificate is not trusted/);
    expect(classifyConnectFailure({ websocketOpened: false, tlsHandshakeFailed: true, plainHttpOnTlsPort: true }).detail).toMatch(/without TLS/);
  });
});
