/**
 * Cron expressions: parsing `SCHEDULE`, and when it next fires.
 *
 * @module
 */

import { DAY_MS } from "./time.ts";

/** A five-field cron expression as the sets of minutes, hours, days, months and weekdays it matches. */
interface CronSchedule {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  anyDay: boolean;
  anyWeekday: boolean;
}

/** Parses `*`, `*\/n`, `a`, `a-b`, `a-b/n` and lists of them per field; undefined when malformed. */
export function parseCron(expression: string): CronSchedule | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const ranges: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
  const sets: Set<number>[] = [];
  for (const [i, field] of fields.entries()) {
    const [low, high] = ranges[i];
    const set = new Set<number>();
    for (const part of field.split(",")) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      if (!m) return undefined;
      const from = m[1] === "*" ? low : Number(m[2]);
      const to = m[1] === "*" ? high : m[3] !== undefined ? Number(m[3]) : m[4] ? high : from;
      const step = m[4] ? Number(m[4]) : 1;
      if (from < low || to > high || from > to || step < 1) return undefined;
      for (let v = from; v <= to; v += step) set.add(i === 4 && v === 7 ? 0 : v);
    }
    sets.push(set);
  }
  return {
    minutes: sets[0],
    hours: sets[1],
    days: sets[2],
    months: sets[3],
    weekdays: sets[4],
    anyDay: fields[2] === "*",
    anyWeekday: fields[4] === "*",
  };
}

/**
 * The first minute after `after` that the schedule matches (UTC; day-of-month OR weekday as in cron).
 * Searches day by day for eight years, so a 29 February schedule is found too; NaN when nothing matches.
 */
export function nextCronTime(schedule: CronSchedule, after: number): number {
  const first = Math.floor(after / 60_000) * 60_000 + 60_000;
  const minutes = [...schedule.minutes].sort((a, b) => a - b);
  const hours = [...schedule.hours].sort((a, b) => a - b);
  for (let day = Math.floor(first / DAY_MS) * DAY_MS; day < first + 8 * 366 * DAY_MS; day += DAY_MS) {
    const d = new Date(day);
    const byDay = schedule.days.has(d.getUTCDate()), byWeekday = schedule.weekdays.has(d.getUTCDay());
    const dayMatches = schedule.anyDay && schedule.anyWeekday
      ? true
      : schedule.anyDay
      ? byWeekday
      : schedule.anyWeekday
      ? byDay
      : byDay || byWeekday;
    if (!dayMatches || !schedule.months.has(d.getUTCMonth() + 1)) continue;
    for (const hour of hours) {
      for (const minute of minutes) {
        const t = day + hour * 3_600_000 + minute * 60_000;
        if (t >= first) return t;
      }
    }
  }
  return NaN;
}

/** The longest gap between two consecutive runs of a schedule, over the runs of the week after `now`. Pure. */
export function scheduleInterval(schedule: CronSchedule, now: number): number {
  let at = nextCronTime(schedule, now);
  let longest = 0;
  for (let i = 0; i < 64 && (i === 0 || at < now + 7 * DAY_MS); i++) {
    const next = nextCronTime(schedule, at);
    longest = Math.max(longest, next - at);
    at = next;
  }
  return longest;
}
