/**
 * Durations and times as settings and flags give them. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseDuration, parseTime } from "../src/time.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

Deno.test("parseDuration reads ms, s, m, h and d", () => {
  assert.deepEqual(
    ["250ms", "90s", "15m", "24h", "14d", "0s", " 2m "].map(parseDuration),
    [250, 90_000, 15 * MINUTE, 24 * HOUR, 14 * DAY, 0, 2 * MINUTE],
  );
});

Deno.test("parseDuration rejects a missing unit, fractions, signs, spaces and unknown units", () => {
  assert.deepEqual(
    ["15", "1.5h", "-5m", "15 m", "15M", "1w", "", "m"].map(parseDuration),
    [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined],
  );
});

Deno.test("parseTime accepts UTC times with Z, with and without seconds and milliseconds", () => {
  assert.deepEqual(
    ["2026-11-27T10:15:42.123Z", "2026-11-27T10:15:42Z", "2026-11-27T10:15Z", "2026-11-27T10:15:42.5Z"].map(
      parseTime,
    ),
    [
      Date.UTC(2026, 10, 27, 10, 15, 42, 123),
      Date.UTC(2026, 10, 27, 10, 15, 42),
      Date.UTC(2026, 10, 27, 10, 15),
      Date.UTC(2026, 10, 27, 10, 15, 42, 500),
    ],
  );
});

Deno.test("parseTime applies a numeric offset", () => {
  assert.equal(parseTime("2026-11-27T10:15:00+02:00"), Date.UTC(2026, 10, 27, 8, 15));
  assert.equal(parseTime("2026-11-27T10:15:00-05:30"), Date.UTC(2026, 10, 27, 15, 45));
});

Deno.test("parseTime reads a bare date as UTC midnight", () => {
  assert.equal(parseTime("2026-11-27"), Date.UTC(2026, 10, 27));
});

Deno.test("parseTime rejects a local time without a zone", () => {
  assert.equal(parseTime("2026-11-27T10:15:00"), undefined);
  assert.equal(parseTime("2026-11-27T10:15:00.000"), undefined);
});

Deno.test("parseTime rejects garbage and non-ISO forms", () => {
  assert.deepEqual(
    [
      "yesterday",
      "",
      "2026-11-27 10:15:00Z",
      "27/11/2026",
      "2026-11-27T10:15:00+0200",
      "2026-13-01T00:00:00Z",
    ]
      .map(parseTime),
    [undefined, undefined, undefined, undefined, undefined, undefined],
  );
});

Deno.test({
  name: "parseTime rejects a calendar date that does not exist",
  // Regression: parseTime("2026-02-30T00:00:00Z") returns 1772409600000 (2026-03-02T00:00:00Z): V8's Date.parse
  // rolls day 30 of February over. It should return undefined, like any other malformed time (a
  // mistyped --from/--to or SINCE silently moves by days).

  fn: () => {
    assert.equal(parseTime("2026-02-30T00:00:00Z"), undefined);
  },
});
