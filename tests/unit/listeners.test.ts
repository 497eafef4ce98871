import { describe, expect, it } from "vitest";
import { notifyAll } from "../../src/core/listeners.js";
import { createLogger } from "../../src/core/log.js";

describe("notifyAll", () => {
  it("calls every listener with the value; one that throws is logged and does not stop the others", () => {
    const lines: string[] = [];
    const log = createLogger((_level, line) => lines.push(line), () => "debug");
    const seen: string[] = [];
    const listeners = new Set<(v: string) => void>([
      (v) => seen.push(`a:${v}`),
      () => {
        throw new Error("boom");
      },
      (v) => seen.push(`c:${v}`),
    ]);
    notifyAll(listeners, "x", log, "test-listener-failed");
    expect(seen).toEqual(["a:x", "c:x"]);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: "test-listener-failed", level: "error", error: "Error: boom" });
  });
});
