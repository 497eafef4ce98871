// Split from core-session-logic.test.ts (one test file per module), assertions unchanged.
import { describe, expect, it } from "vitest";
import { chooseMechanism } from "../../src/core/auth.js";

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
