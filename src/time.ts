/**
 * Durations and times as settings and flags give them (`15m`, ISO-8601 UTC).
 *
 * @module
 */

export const DAY_MS = 86_400_000;

export const floorTo = (ms: number, step: number) => Math.floor(ms / step) * step;

/** Parses `90s`, `15m`, `24h`, `14d` into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "ms"];
  return Number(match[1]) * unit;
}

/** Parses an ISO-8601 UTC time (`Z` or an offset required, so no local-time surprises). */
export function parseTime(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text.trim())) {
    return undefined;
  }
  const ms = Date.parse(text.trim());
  const [year, month, day] = text.trim().slice(0, 10).split("-").map(Number);
  // Date.parse rolls 2026-02-30 over to March; a mistyped day must be an error, not a shifted range.
  const valid = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
  return Number.isNaN(ms) || !valid ? undefined : ms;
}
