/**
 * Cron expressions: `SCHEDULE` as `Deno.cron` reads it, and when it next fires.
 *
 * `run` schedules with `Deno.cron`, so `Deno.cron` itself decides which expressions are valid (it throws
 * synchronously on one it refuses), and croner computes the fire times with the options that match how
 * `Deno.cron`'s parser (Cloudflare's saffron crate) reads an expression: UTC; weekdays 1-7 are Sunday to
 * Saturday (saffron `parse.rs`, `DayOfWeek`: "A day of the week, 1-7 (Sun-Sat)"); day-of-month OR weekday when
 * both are restricted (saffron `lib.rs`, `Cron::contains`); `5/20` steps from 5 to the field's end.
 *
 * @module
 */

import { Cron } from "croner";
import { DAY_MS } from "./time.ts";

/** A schedule `Deno.cron` accepts and that fires, read by croner. */
export type CronSchedule = Cron;

/** The name under which `Deno.cron` is asked about an expression (its names allow letters, digits, - and _). */
const PROBE_NAME = "audit-archiver schedule check";

/**
 * What is wrong with `expression` as SCHEDULE, said as the rule it breaks ("must …"); undefined when it is fine.
 * `Deno.cron` must accept it (else `run` would throw at startup), it must fire at least once (else `Deno.cron`
 * panics when it computes the next time), and croner must read it (else no next run or interval can be given).
 */
export function cronProblem(expression: string): string | undefined {
  return readCron(expression).problem;
}

/** The schedule, or undefined when `cronProblem` names a problem. */
export function parseCron(expression: string): CronSchedule | undefined {
  return readCron(expression).schedule;
}

function readCron(expression: string): { schedule?: CronSchedule; problem?: string } {
  if (!denoCronAccepts(expression)) {
    return {
      problem:
        'must be a five-field cron expression that Deno.cron accepts, like "*/15 * * * *" (minute hour day-of-month month weekday, single spaces; weekdays are 1-7 for Sunday-Saturday, or SUN-SAT; a step must be smaller than its field\'s span, so */59 minutes at most; no ?, no @daily)',
    };
  }
  let schedule: CronSchedule;
  try {
    schedule = new Cron(expression, {
      mode: "5-part",
      alternativeWeekdays: true,
      sloppyRanges: true,
      timezone: "Etc/UTC",
      paused: true,
    });
  } catch (error) {
    // Deno.cron also takes backwards ranges (22-2), L alone as weekday and L-3 as day: not read here.
    return {
      problem:
        `must use ranges from low to high (write 22-2 as 22-23,0-2), and L in the day-of-month field alone or as 5L in the weekday field (${
          (error as Error).message
        })`,
    };
  }
  if (!schedule.nextRun(new Date(0))) {
    return { problem: "must fire at least once: no month has that day (like 30 2 for 30 February)" };
  }
  return { schedule };
}

/** Whether `Deno.cron` takes the expression: it throws synchronously on one it refuses; accepted, it is closed at once. */
function denoCronAccepts(expression: string): boolean {
  const controller = new AbortController();
  try {
    Deno.cron(PROBE_NAME, expression, { signal: controller.signal }, () => {});
    return true;
  } catch {
    return false;
  } finally {
    controller.abort();
  }
}

/** The first time after `after` that the schedule fires (UTC, whole minutes); NaN when it never fires again. */
export function nextCronTime(schedule: CronSchedule, after: number): number {
  return schedule.nextRun(new Date(after))?.getTime() ?? NaN;
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
