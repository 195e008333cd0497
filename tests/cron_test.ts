/**
 * SCHEDULE: which cron expressions are taken (exactly those `Deno.cron` takes and that fire), the next time
 * they fire as `Deno.cron` fires them (UTC, weekdays 1-7 Sunday-Saturday), and the longest gap between runs.
 * No network, no files; one test waits for `Deno.cron` itself to fire.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cronProblem, nextCronTime, parseCron, scheduleInterval } from "../src/cron.ts";

const NOW = Date.UTC(2026, 10, 27, 10, 15, 42, 123);

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);

/** Whether `Deno.cron` itself takes the expression (it throws synchronously on one it refuses). */
function denoCronTakes(expression: string): boolean {
  const controller = new AbortController();
  try {
    Deno.cron("cron test probe", expression, { signal: controller.signal }, () => {});
    return true;
  } catch (error) {
    assert.equal((error as Error).message, "Invalid cron schedule");
    return false;
  } finally {
    controller.abort();
  }
}

/**
 * The corpus: [expression, Deno.cron takes it, the program takes it]. The program refuses all that Deno.cron
 * refuses; it refuses a few that Deno.cron takes, each for the reason given beside it.
 */
const CORPUS: [string, boolean, boolean, string?][] = [
  ["*/15 * * * *", true, true],
  ["* * * * *", true, true],
  ["0,30 * * * *", true, true],
  ["0-30/10 * * * *", true, true],
  ["10-40/10,5 9-17 1,15 1-3,12 2-6", true, true],
  ["5/20 * * * *", true, true],
  ["59/3 * * * *", true, true],
  ["*/59 * * * *", true, true],
  ["0 */23 * * *", true, true],
  ["0 0 */30 * *", true, true],
  ["0 0 * */11 *", true, true],
  ["0 0 * * */6", true, true],
  ["00 00 * * *", true, true],
  ["0\t0 * * *", true, true],
  // Names, in any case.
  ["0 0 * * MON", true, true],
  ["0 0 * * mon", true, true],
  ["0 0 * * MON-FRI", true, true],
  ["0 0 * * MON,WED", true, true],
  ["0 0 * * MON/2", true, true],
  ["0 0 * * SUN-SAT", true, true],
  ["0 0 * JAN *", true, true],
  ["0 0 * jan *", true, true],
  ["0 0 * JAN-MAR *", true, true],
  ["0 0 * JAN/2 *", true, true],
  ["0 0 * 1/3 *", true, true],
  // Weekdays are 1-7, Sunday to Saturday: 0 is out of range.
  ["0 0 * * 1-7", true, true],
  ["0 0 * * 7", true, true],
  ["0 0 * * 1,7", true, true],
  ["0 0 * * 1/2", true, true],
  ["0 0 * * 0", false, false],
  ["0 0 * * 0-5", false, false],
  ["0 0 * * 0-6/2", false, false],
  ["0 0 * * 8", false, false],
  // L, W and #.
  ["0 0 L * *", true, true],
  ["0 0 L 2 *", true, true],
  ["0 0 LW * *", true, true],
  ["0 0 15W * *", true, true],
  ["0 0 * * 5L", true, true],
  ["0 0 * * 1L", true, true],
  ["0 0 * * 1#2", true, true],
  ["0 0 * * 2#5", true, true],
  ["0 0 * * MON#1", true, true],
  ["0 0 L * MON", true, true],
  ["0 0 15W * MON", true, true],
  ["0 0 1,15 * 1", true, true],
  ["0 0 29 2 *", true, true],
  ["0 0 * * 2#6", false, false],
  ["0 0 * * 2#1,3", false, false],
  ["0 0 W * *", false, false],
  ["0 0 L/2 * *", false, false],
  ["0 0 ? * *", false, false],
  ["0 0 ? * MON", false, false],
  ["0 0 * * ?", false, false],
  // Steps as large as the field's span, and other malformed steps.
  ["*/90 * * * *", false, false],
  ["*/60 * * * *", false, false],
  ["0 */24 * * *", false, false],
  ["0 */25 * * *", false, false],
  ["0 0 */31 * *", false, false],
  ["0 0 */40 * *", false, false],
  ["0 0 * */12 *", false, false],
  ["0 0 * * */7", false, false],
  ["*/0 * * * *", false, false],
  ["1-5/0 * * * *", false, false],
  // Out of range, wrong field count, not cron at all.
  ["60 * * * *", false, false],
  ["0 24 * * *", false, false],
  ["0 0 0 * *", false, false],
  ["0 0 32 * *", false, false],
  ["0 0 * 0 *", false, false],
  ["0 0 * 13 *", false, false],
  ["* * * * * *", false, false],
  ["* * * *", false, false],
  ["", false, false],
  ["@daily", false, false],
  ["every minute", false, false],
  ["a * * * *", false, false],
  ["+1 * * * *", false, false],
  ["1,,2 * * * *", false, false],
  [" 0 0 * * *", false, false],
  ["0 0 * * * ", false, false],
  // Taken by Deno.cron, refused here.
  ["0 0 31 2 *", true, false, "never fires: Deno.cron panics computing its next time"],
  ["0 0 30 2 *", true, false, "never fires: Deno.cron panics computing its next time"],
  ["5-1 * * * *", true, false, "a backwards range: saffron also sets minute 4 (lib.rs, start - 1)"],
  ["0 22-2 * * *", true, false, "a backwards range"],
  ["0 0 * DEC-JAN *", true, false, "a backwards range"],
  ["0 0 * * 7-1", true, false, "a backwards range"],
  ["0 0 * * FRI-MON", true, false, "a backwards range"],
  ["0 0 * * L", true, false, "L alone as weekday: saffron reads it as Saturday"],
  ["0 0 L-3 * *", true, false, "L-3: croner cannot compute it"],
];

Deno.test("SCHEDULE is taken exactly when Deno.cron takes it, less the listed exceptions", () => {
  const wrong = CORPUS.flatMap(([expression, deno, program]) => {
    const actual = { deno: denoCronTakes(expression), program: cronProblem(expression) === undefined };
    return actual.deno === deno && actual.program === program &&
        (parseCron(expression) !== undefined) === program
      ? []
      : [{ expression, expected: { deno, program }, actual }];
  });
  assert.deepEqual(wrong, []);
});

Deno.test("every expression the program takes, Deno.cron takes", () => {
  const takenOnlyHere = CORPUS.filter(([expression]) => cronProblem(expression) === undefined)
    .map(([expression]) => expression).filter((expression) => !denoCronTakes(expression));
  assert.deepEqual(takenOnlyHere, []);
});

Deno.test("cronProblem says what to do", () => {
  assert.match(
    cronProblem("*/90 * * * *")!,
    /^must be a five-field cron expression that Deno.cron accepts.*1-7/,
  );
  assert.match(cronProblem("0 0 30 2 *")!, /^must fire at least once/);
  assert.match(cronProblem("0 22-2 * * *")!, /^must use ranges from low to high \(write 22-2 as 22-23,0-2\)/);
  assert.equal(cronProblem("*/15 * * * *"), undefined);
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

Deno.test("nextCronTime of 0 3 * * MON is the next Monday 03:00", () => {
  const schedule = parseCron("0 3 * * MON")!;
  // 2026-11-27 is a Friday.
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:00:00.000Z")), at("2026-11-30T03:00:00.000Z"));
  assert.equal(nextCronTime(schedule, at("2026-11-30T03:00:00.000Z")), at("2026-12-07T03:00:00.000Z"));
});

Deno.test("nextCronTime reads weekday 1 as Sunday and 7 as Saturday, as Deno.cron does", () => {
  assert.equal(nextCronTime(parseCron("0 3 * * 1")!, NOW), at("2026-11-29T03:00:00.000Z"));
  assert.equal(nextCronTime(parseCron("0 3 * * 7")!, NOW), at("2026-11-28T03:00:00.000Z"));
  assert.equal(nextCronTime(parseCron("0 3 * * 2-6")!, NOW), at("2026-11-30T03:00:00.000Z"));
});

Deno.test("nextCronTime reads L, W and # as Deno.cron does", () => {
  assert.equal(nextCronTime(parseCron("0 0 L 2 *")!, NOW), at("2027-02-28T00:00:00.000Z"));
  // 15 December 2026 is a Tuesday; 15 August 2027 a Sunday, so 15W is Monday the 16th.
  assert.equal(nextCronTime(parseCron("0 0 15W 12 *")!, NOW), at("2026-12-15T00:00:00.000Z"));
  assert.equal(nextCronTime(parseCron("0 0 15W 8 *")!, NOW), at("2027-08-16T00:00:00.000Z"));
  // 6L: the last Friday; 1#2: the second Sunday.
  assert.equal(nextCronTime(parseCron("0 0 * 12 6L")!, NOW), at("2026-12-25T00:00:00.000Z"));
  assert.equal(nextCronTime(parseCron("0 0 * 12 1#2")!, NOW), at("2026-12-13T00:00:00.000Z"));
});

Deno.test("nextCronTime matches day-of-month OR weekday when both are restricted", () => {
  const schedule = parseCron("0 0 1 * MON")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:00:00.000Z")), at("2026-11-30T00:00:00.000Z"));
  assert.equal(nextCronTime(schedule, at("2026-11-30T00:00:00.000Z")), at("2026-12-01T00:00:00.000Z"));
});

Deno.test("nextCronTime respects the month field", () => {
  const schedule = parseCron("30 12 * 2 *")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:00:00.000Z")), at("2027-02-01T12:30:00.000Z"));
});

Deno.test("nextCronTime finds a 29 February more than a year away", () => {
  assert.equal(
    nextCronTime(parseCron("0 0 29 2 *")!, at("2026-03-01T00:00:00.000Z")),
    at("2028-02-29T00:00:00.000Z"),
  );
});

Deno.test("scheduleInterval is the longest gap between runs, also for schedules rarer than a week", () => {
  assert.equal(scheduleInterval(parseCron("*/15 * * * *")!, NOW), 15 * MINUTE);
  assert.equal(scheduleInterval(parseCron("0 9,17 * * *")!, NOW), 16 * HOUR);
  assert.equal(scheduleInterval(parseCron("0 3 1 * *")!, NOW) >= 28 * DAY, true);
});

Deno.test({
  name: "Deno.cron fires on the weekday nextCronTime gives, not on the one cron elsewhere numbers the same",
  // Waits for the next minute boundary (up to a minute): the one check of fire times against Deno.cron itself.
  fn: async () => {
    const now = Date.now();
    // Today as Deno.cron numbers weekdays (1 Sunday … 7 Saturday), and the number Vixie cron gives today.
    const today = new Date(now + MINUTE).getUTCDay();
    const schedules = { saffron: `* * * * ${today + 1}`, vixie: `* * * * ${today === 0 ? 7 : today}` };
    const expected = nextCronTime(parseCron(schedules.saffron)!, now);
    assert.ok(nextCronTime(parseCron(schedules.vixie)!, now) > now + 20 * HOUR);
    const fired: Record<string, number> = {};
    const controller = new AbortController();
    const crons = Object.entries(schedules).map(([name, schedule]) =>
      Deno.cron(`cron test ${name}`, schedule, { signal: controller.signal }, () => {
        fired[name] ??= Date.now();
      })
    );
    await new Promise((resolve) => setTimeout(resolve, expected - Date.now() + 3_000));
    controller.abort();
    await Promise.all(crons);
    assert.deepEqual(Object.keys(fired), ["saffron"]);
    assert.ok(
      fired.saffron >= expected && fired.saffron < expected + 3_000,
      `fired ${fired.saffron}, expected ${expected}`,
    );
  },
});
