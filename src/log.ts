/**
 * Log lines (JSON or text) on stderr, scrubbed of every registered secret.
 *
 * @module
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Values that must never leave memory; every log line is scrubbed of them (defence in depth). */
const secrets = new Set<string>();
/**
 * Values a run replaces as they expire (access tokens, client assertions, session tokens), by kind: the newest
 * SLOT_KEEPS of each are scrubbed. Kept for ever, a daemon's hourly tokens would make a set of some 17,500
 * strings a year that every log line is checked against; one long expired is no longer a key to anything.
 */
const slots = new Map<string, string[]>();
const SLOT_KEEPS = 4;

/** Scrubs `value` from every log line; with a `slot`, until SLOT_KEEPS newer values took that slot. */
export function registerSecret(value: string | undefined, slot?: string) {
  if (!value || value.length < 6) return;
  if (slot === undefined) return void secrets.add(value);
  const kept = slots.get(slot) ?? [];
  if (!kept.includes(value)) slots.set(slot, [...kept, value].slice(-SLOT_KEEPS));
}

export function scrub(text: string): string {
  for (const secret of secrets) text = text.replaceAll(secret, "[redacted]");
  for (const kept of slots.values()) for (const secret of kept) text = text.replaceAll(secret, "[redacted]");
  return text;
}

const logSettings = { level: "info" as LogLevel, format: "json" as "json" | "text" };

/** Sets the process's log level and format: `main()` does, once a command's settings are valid. */
export function configureLog(level: LogLevel, format: "json" | "text") {
  logSettings.level = level;
  logSettings.format = format;
}

/** C0 and C1 control characters (ESC, CR, LF, CSI, …) and the Unicode line and paragraph separators. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED_ESCAPES: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * A log line with every control character escaped (`\n`, `\r`, `\t`, else `\u001b`): text that came from a server
 * or a setting can neither start a forged log line nor send a terminal escape. The escapes are JSON's, so a JSON
 * line stays valid JSON (JSON.stringify leaves DEL, C1 and U+2028/9 as they are). Pure.
 */
export function escapeControls(line: string): string {
  return line.replace(
    CONTROL,
    (c) => NAMED_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The status line shown below the log on a terminal (backfill's progress), or "" when none is shown. */
let statusLine = "";
const CLEAR_LINE = "\r\x1b[2K";

function writeStderr(text: string) {
  let bytes = new TextEncoder().encode(text);
  while (bytes.length) bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
}

/** Draws (or redraws) the one status line at the bottom of a terminal, in place, without a newline. */
export function drawStatusLine(text: string) {
  statusLine = text;
  writeStderr(`${CLEAR_LINE}${text}`);
}

/** Leaves the status line on screen as it is and moves below it: nothing redraws it after this. */
export function endStatusLine() {
  if (statusLine) writeStderr("\n");
  statusLine = "";
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
  // A log line never runs into the status line: that is cleared first and drawn again below the log line.
  writeStderr(`${statusLine ? CLEAR_LINE : ""}${escapeControls(scrub(line))}\n${statusLine}`);
}
