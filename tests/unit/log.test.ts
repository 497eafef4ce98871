// Split from core-session-logic.test.ts (one test file per module), assertions unchanged.
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.js";

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
