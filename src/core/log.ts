// Structured, redacting logger. One JSON object per line so tests and bug reports can parse it.
// Never pass secrets: fields whose names look secret are replaced anyway, as a second line of defence.

export type LogLevel = "error" | "warn" | "info" | "debug";
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  error(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  debug(event: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const SECRET_FIELD = /pass|secret|token|key|proof|credential/i;

function redact(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (SECRET_FIELD.test(name)) out[name] = "[redacted]";
    else if (value instanceof Error) out[name] = `${value.name}: ${value.message}`;
    else out[name] = value;
  }
  return out;
}

/** `sink` receives the level and one serialized line. `level` may be a getter so settings changes apply at once. */
export function createLogger(sink: (level: LogLevel, line: string) => void, level: () => LogLevel): Logger {
  const emit = (lvl: LogLevel) => (event: string, fields: LogFields = {}) => {
    if (RANK[lvl] > RANK[level()]) return;
    let line: string;
    try {
      line = JSON.stringify({ event, level: lvl, ...redact(fields) });
    } catch {
      line = JSON.stringify({ event, level: lvl, note: "fields not serializable" });
    }
    sink(lvl, line);
  };
  return { error: emit("error"), warn: emit("warn"), info: emit("info"), debug: emit("debug") };
}

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
