/**
 * SCHEDULE: parsing cron expressions, the next time they fire, and the longest gap between runs. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { nextCronTime, parseCron, scheduleInterval } from "../src/cron.ts";

const NOW = Date.UTC(2026, 10, 27, 10, 15, 42, 123);

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);

const range = (from: number, to: number) =>
  new Set(Array.from({ length: to - from + 1 }, (_, i) => from + i));

Deno.test("parseCron reads */15 * * * *", () => {
  assert.deepEqual(parseCron("*/15 * * * *"), {
    minutes: new Set([0, 15, 30, 45]),
    hours: range(0, 23),
    days: range(1, 31),
    months: range(1, 12),
    weekdays: range(0, 6),
    anyDay: true,
    anyWeekday: true,
  });
});

Deno.test("parseCron reads 0 3 * * 1 as Mondays at 03:00", () => {
  assert.deepEqual(parseCron("0 3 * * 1"), {
    minutes: new Set([0]),
    hours: new Set([3]),
    days: range(1, 31),
    months: range(1, 12),
    weekdays: new Set([1]),
    anyDay: true,
    anyWeekday: false,
  });
});

Deno.test("parseCron reads ranges, stepped ranges and lists", () => {
  const schedule = parseCron("10-40/10,5 9-17 1,15 1-3,12 1-5")!;
  assert.deepEqual(schedule.minutes, new Set([5, 10, 20, 30, 40]));
  assert.deepEqual(schedule.hours, range(9, 17));
  assert.deepEqual(schedule.days, new Set([1, 15]));
  assert.deepEqual(schedule.months, new Set([1, 2, 3, 12]));
  assert.deepEqual(schedule.weekdays, range(1, 5));
  assert.equal(schedule.anyDay, false);
  assert.equal(schedule.anyWeekday, false);
});

Deno.test("parseCron reads a start with a step as running to the field's end", () => {
  assert.deepEqual(parseCron("5/20 * * * *")!.minutes, new Set([5, 25, 45]));
});

Deno.test("parseCron reads weekday 7 as Sunday (0)", () => {
  assert.deepEqual(parseCron("0 0 * * 7")!.weekdays, new Set([0]));
});

Deno.test("parseCron rejects six fields, out-of-range values, letters and malformed parts", () => {
  const bad = [
    "* * * * * *",
    "* * * *",
    "",
    "60 * * * *",
    "* 24 * * *",
    "* * 0 * *",
    "* * 32 * *",
    "* * * 13 *",
    "* * * * 8",
    "a * * * *",
    "0 3 * * MON",
    "*/0 * * * *",
    "5-1 * * * *",
    "1,,2 * * * *",
  ];
  assert.deepEqual(bad.map(parseCron), bad.map(() => undefined));
});

Deno.test("nextCronTime of */15 is the next quarter hour", () => {
  const schedule = parseCron("*/15 * * * *")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:07:12.000Z")), at("2026-11-27T10:15:00.000Z"));
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:59:59.999Z")), at("2026-11-27T11:00:00.000Z"));
});

Deno.test("nextCronTime is strictly after a time the schedule matches", () => {
  const schedule = parseCron("*/15 * * * *")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:15:00.000Z")), at("2026-11-27T10:30:00.000Z"));
});

Deno.test("nextCronTime of 0 3 * * 1 is the next Monday 03:00", () => {
  const schedule = parseCron("0 3 * * 1")!;
  // 2026-11-27 is a Friday.
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:00:00.000Z")), at("2026-11-30T03:00:00.000Z"));
  assert.equal(nextCronTime(schedule, at("2026-11-30T03:00:00.000Z")), at("2026-12-07T03:00:00.000Z"));
});

Deno.test("nextCronTime matches day-of-month OR weekday when both are restricted", () => {
  const schedule = parseCron("0 0 1 * 1")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:00:00.000Z")), at("2026-11-30T00:00:00.000Z"));
  assert.equal(nextCronTime(schedule, at("2026-11-30T00:00:00.000Z")), at("2026-12-01T00:00:00.000Z"));
});

Deno.test("nextCronTime respects the month field", () => {
  const schedule = parseCron("30 12 * 2 *")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:00:00.000Z")), at("2027-02-01T12:30:00.000Z"));
});

Deno.test({
  name: "nextCronTime finds a 29 February more than a year away",
  // Regression: nextCronTime(parseCron("0 0 29 2 *"), 2026-03-01T00:00Z) returns NaN (it searches only 366 days),
  // but the schedule is valid (validateConfig accepts it) and should give 2028-02-29T00:00Z; `status` then
  // throws RangeError on new Date(NaN).toISOString().

  fn: () => {
    assert.equal(
      nextCronTime(parseCron("0 0 29 2 *")!, at("2026-03-01T00:00:00.000Z")),
      at("2028-02-29T00:00:00.000Z"),
    );
  },
});

Deno.test("scheduleInterval is the longest gap between runs, also for schedules rarer than a week", () => {
  assert.equal(scheduleInterval(parseCron("*/15 * * * *")!, NOW), 15 * MINUTE);
  assert.equal(scheduleInterval(parseCron("0 9,17 * * *")!, NOW), 16 * HOUR);
  assert.equal(scheduleInterval(parseCron("0 3 1 * *")!, NOW) >= 28 * DAY, true);
});
