/** Structured JSON logs, one line per event, with secrets scrubbed before anything is written. */
import { redactText, redactValue } from "../domain/redact.ts";

export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line (e.g. a request id). */
  child(fields: Record<string, unknown>): Logger;
  /** Registers a secret value to scrub from every line from now on (tokens, passwords in flight). */
  addSecret(value: string): void;
}

export interface LoggerOptions {
  level?: Level;
  /** Where lines go; tests capture them. */
  write?: (line: string) => void;
}

/** Creates the root logger. Keys named like secrets are always replaced by `***`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const write = options.write ?? ((line: string) => console.log(line));
  const secrets = new Set<string>();

  function make(base: Record<string, unknown>): Logger {
    const log = (level: Level, msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < min) return;
      const list = [...secrets];
      // Errors become plain objects first so their message is kept (and redacted like the rest).
      const plain = JSON.parse(
        JSON.stringify(
          { time: new Date().toISOString(), level, msg, ...base, ...fields },
          errorReplacer,
        ),
      );
      // Values first (short secrets too, as whole tokens), then the line itself for any form that
      // survived inside a nested JSON string; short ones are skipped there to keep the line JSON.
      write(redactText(JSON.stringify(redactValue(plain, list)), list, { short: false }));
    };
    return {
      debug: (m, f) => log("debug", m, f),
      info: (m, f) => log("info", m, f),
      warn: (m, f) => log("warn", m, f),
      error: (m, f) => log("error", m, f),
      child: (fields) => make({ ...base, ...fields }),
      addSecret: (v) => {
        if (v) secrets.add(v);
      },
    };
  }
  return make({});
}

function errorReplacer(_key: string, value: unknown) {
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...("status" in value ? { status: value.status } : {}),
    };
  }
  return value;
}

/**
 * One JSON log line as a short line for a person at a terminal (the demo):
 * `23:27:04 WARN  kea is not configured: its step will be skipped  integration=kea`.
 */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json);
  } catch {
    return json;
  }
  const { time, level, msg, ...rest } = entry;
  const clock = typeof time === "string" ? time.slice(11, 19) : "";
  const fields = Object.entries(rest).map(([k, v]) =>
    `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`
  );
  const head = `${clock} ${String(level ?? "").toUpperCase().padEnd(5)} ${msg}`;
  return fields.length ? `${head}  ${fields.join("  ")}` : head;
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = createLogger({ write: () => {} });
