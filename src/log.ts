/**
 * Log lines (JSON or text) on stderr, scrubbed of every registered secret.
 *
 * @module
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Values that must never leave memory; every log line is scrubbed of them (defence in depth). */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined) {
  if (value && value.length >= 6) secrets.add(value);
}

export function scrub(text: string): string {
  for (const secret of secrets) text = text.replaceAll(secret, "[redacted]");
  return text;
}

const logSettings = { level: "info" as LogLevel, format: "json" as "json" | "text" };

/** Sets the process's log level and format: `main()` does, once a command's settings are valid. */
export function configureLog(level: LogLevel, format: "json" | "text") {
  logSettings.level = level;
  logSettings.format = format;
}

export function log(level: LogLevel, message: string, fields: Record<string, unknown> = {}) {
  if (LEVELS[level] < LEVELS[logSettings.level]) return;
  const time = new Date().toISOString();
  const line = logSettings.format === "json"
    ? JSON.stringify({ time, level, msg: message, ...fields })
    : `${time} ${level.toUpperCase().padEnd(5)} ${message}${
      Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(
        "",
      )
    }`;
  console.error(scrub(line));
}
