// The background's logger: "[mox] …" lines on the console, at the level the settings ask for (set at every
// applySettings; "info" until the first).
import { createLogger, type Logger, type LogLevel } from "../core/log.js";

export function createConsoleLog(): { readonly log: Logger; setLevel(level: LogLevel): void } {
  let level: LogLevel = "info";
  const log = createLogger(
    (at, line) => {
      const out = at === "error" ? console.error : at === "warn" ? console.warn : console.log;
      out(`[mox] ${line}`);
    },
    () => level,
  );
  return {
    log,
    setLevel(next) {
      level = next;
    },
  };
}
