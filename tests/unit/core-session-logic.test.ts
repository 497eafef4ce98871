import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/core/backoff.js";
import { capsVer, capsVerificationString, OWN_DISCO_INFO } from "../../src/core/caps.js";
import { chooseMechanism } from "../../src/core/auth.js";
import { classifyConnectFailure } from "../../src/core/diagnose.js";
import { createLogger } from "../../src/core/log.js";
import { NS_MAIL } from "../../src/core/protocol.js";
import { webCryptoSha1 } from "../../src/xmpp/runtime.js";

describe("backoffDelay", () => {
  it.each([
    // attempt, random, expected
    [1, 0, 500],
    [1, 1, 1_000],
    [2, 0.5, 1_500],
    [3, 0, 2_000],
    [6, 1, 32_000],
    [7, 0, 30_000], // ceiling 60 s (capped), lower half bound
    [7, 1, 60_000],
    [50, 1, 60_000], // never above the cap, no overflow
  ])("attempt %i with random %f waits %i ms", (attempt, random, expected) => {
    expect(backoffDelay(attempt, () => random)).toBe(expected);
  });
  it("clamps a random source outside [0,1]", () => {
    expect(backoffDelay(1, () => 7)).toBe(1_000);
    expect(backoffDelay(1, () => -3)).toBe(500);
  });
  it("rejects a non-positive attempt", () => {
    expect(() => backoffDelay(0, () => 0)).toThrow(RangeError);
  });
});

describe("XEP-0115 caps", () => {
  // XEP-0115 §5.2 simple generation example.
  const exodus = {
    identities: [{ category: "client", type: "pc", name: "Exodus 0.9.1" }],
    features: [
      "http://jabber.org/protocol/disco#info",
      "http://jabber.org/protocol/disco#items",
      "http://jabber.org/protocol/muc",
      "http://jabber.org/protocol/caps",
    ],
  };
  it("builds the verification string of the XEP example", () => {
    expect(capsVerificationString(exodus)).toBe(
      "client/pc//Exodus 0.9.1<http://jabber.org/protocol/caps<http://jabber.org/protocol/disco#info<" +
        "http://jabber.org/protocol/disco#items<http://jabber.org/protocol/muc<",
    );
  });
  it("hashes it to the XEP's ver", async () => {
    expect(await capsVer(exodus, webCryptoSha1)).toBe("QgayPKawpkPSDYmwT/WM94uAlu0=");
  });
  it("rejects duplicate features", () => {
    expect(() => capsVerificationString({ identities: [], features: ["a", "a"] })).toThrow(/duplicate/);
  });
  it("advertises the mail feature", () => {
    expect(OWN_DISCO_INFO.features).toContain(NS_MAIL);
    expect(NS_MAIL.startsWith("urn:xmpp:")).toBe(false);
  });
});

describe("chooseMechanism", () => {
  const all = ["SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"];
  it.each([
    // offered, held, secure, expected
    [all, { hasPassword: true }, true, "SCRAM-SHA-256"],
    [["SCRAM-SHA-1", "PLAIN"], { hasPassword: true }, true, "SCRAM-SHA-1"],
    [all, { hasPassword: false, keysFor: "SCRAM-SHA-1" as const }, true, "SCRAM-SHA-1"],
    [["PLAIN"], { hasPassword: true }, true, "PLAIN"],
    [["PLAIN"], { hasPassword: true }, false, "plain-needs-secure-channel"],
    [["PLAIN"], { hasPassword: false, keysFor: "SCRAM-SHA-1" as const }, true, "password-needed"],
    [["SCRAM-SHA-256"], { hasPassword: false, keysFor: "SCRAM-SHA-1" as const }, true, "password-needed"],
    [["X-OAUTH2"], { hasPassword: true }, true, "no-common-mechanism"],
    [[], { hasPassword: true }, true, "no-common-mechanism"],
  ])("offered %j, held %j, secure %s → %s", (offered, held, secure, expected) => {
    const choice = chooseMechanism(offered, held, secure);
    expect(choice.ok ? choice.mechanism : choice.reason).toBe(expected);
  });
});

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

describe("logger", () => {
  it("writes one JSON object per event, filtered by level, with secrets redacted", () => {
    const lines: string[] = [];
    let level: "info" | "debug" = "info";
    const log = createLogger((_lvl, line) => lines.push(line), () => level);
    log.debug("hidden");
    log.info("status", { state: "online", password: "hunter2", clientKey: "abc" });
    level = "debug";
    log.debug("shown", { error: new Error("boom") });
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual({ event: "status", level: "info", state: "online", password: "[redacted]", clientKey: "[redacted]" });
    expect(lines.join("\n")).not.toContain("hunter2");
    expect(JSON.parse(lines[1]!).error).toBe("Error: boom");
  });
});
