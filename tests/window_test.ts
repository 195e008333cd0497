/**
 * Window planning, pure: where a window ends (horizon, midnight, stride, granule) and where a full one is cut. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cutWindow, nextStride, planWindow } from "../src/window.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);

Deno.test("planWindow ends exactly at the horizon when the granularity is 1 ms", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  const horizon = at("2026-11-27T10:07:30.517Z");
  assert.deepEqual(planWindow(frontier, horizon, 1), { start: frontier, end: horizon });
});

Deno.test("planWindow floors the end to the minute with a 60000 ms granularity", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  const horizon = at("2026-11-27T10:07:30.517Z");
  assert.deepEqual(planWindow(frontier, horizon, MINUTE), {
    start: frontier,
    end: at("2026-11-27T10:07:00.000Z"),
  });
});

Deno.test("planWindow never ends past the next UTC midnight after the frontier", () => {
  const frontier = at("2026-11-27T23:50:00.000Z");
  const horizon = at("2026-11-28T05:00:00.000Z");
  assert.deepEqual(planWindow(frontier, horizon, 1), {
    start: frontier,
    end: at("2026-11-28T00:00:00.000Z"),
  });
});

Deno.test("planWindow from a midnight frontier ends at the following midnight, not later", () => {
  const frontier = at("2026-11-27T00:00:00.000Z");
  const horizon = at("2026-11-30T12:00:00.000Z");
  assert.deepEqual(planWindow(frontier, horizon, MINUTE), {
    start: frontier,
    end: at("2026-11-28T00:00:00.000Z"),
  });
});

Deno.test("planWindow returns undefined when the horizon equals the frontier", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  assert.equal(planWindow(frontier, frontier, 1), undefined);
});

Deno.test("planWindow returns undefined when the horizon is before the frontier", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  assert.equal(planWindow(frontier, frontier - 1, 1), undefined);
});

Deno.test("planWindow returns undefined when the horizon floored to the granularity equals the frontier", () => {
  const frontier = at("2026-11-27T10:07:00.000Z");
  assert.equal(planWindow(frontier, at("2026-11-27T10:07:59.999Z"), MINUTE), undefined);
});

Deno.test("planWindow ends a stride after the frontier when the stride is shorter than the horizon", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  assert.deepEqual(planWindow(frontier, at("2026-11-27T20:00:00.000Z"), MINUTE, 90 * MINUTE), {
    start: frontier,
    end: at("2026-11-27T11:30:00.000Z"),
  });
});

Deno.test("planWindow keeps the horizon and midnight when the stride reaches past them", () => {
  const frontier = at("2026-11-27T22:00:00.000Z");
  assert.deepEqual(planWindow(frontier, at("2026-11-27T23:00:30.000Z"), MINUTE, 5 * HOUR), {
    start: frontier,
    end: at("2026-11-27T23:00:00.000Z"),
  });
  assert.deepEqual(planWindow(frontier, at("2026-11-28T05:00:00.000Z"), MINUTE, 5 * HOUR), {
    start: frontier,
    end: at("2026-11-28T00:00:00.000Z"),
  });
});

Deno.test("planWindow spans at least one granule however short the stride", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  assert.deepEqual(planWindow(frontier, at("2026-11-27T20:00:00.000Z"), MINUTE, 1), {
    start: frontier,
    end: frontier + MINUTE,
  });
});

Deno.test("nextStride sizes the next window for 80% of the limit at the last window's density", () => {
  const window = { start: at("2026-11-27T10:00:00.000Z"), end: at("2026-11-27T10:10:00.000Z") };
  assert.equal(nextStride(window, 1000, 1000), 8 * MINUTE, "a full window: the next is shorter");
  assert.equal(nextStride(window, 100, 1000), 80 * MINUTE, "a sparse window: the next is longer");
  assert.equal(nextStride(window, 0, 1000), Infinity, "an empty window says nothing: no bound");
});

const HOUR_WINDOW = { start: at("2026-11-27T10:00:00.000Z"), end: at("2026-11-27T11:00:00.000Z") };

Deno.test("cutWindow ends the window at cutAt, so events at cutAt fall in the next window", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, at("2026-11-27T10:20:00.123Z"), 1), {
    start: HOUR_WINDOW.start,
    end: at("2026-11-27T10:20:00.123Z"),
  });
});

Deno.test("cutWindow with a minute granularity floors the cut to the minute", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, at("2026-11-27T10:20:30.000Z"), MINUTE), {
    start: HOUR_WINDOW.start,
    end: at("2026-11-27T10:20:00.000Z"),
  });
});

Deno.test("cutWindow at the window start keeps exactly one millisecond (the whole tie group)", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, HOUR_WINDOW.start, 1), {
    start: HOUR_WINDOW.start,
    end: HOUR_WINDOW.start + 1,
  });
});

Deno.test("cutWindow at the window start keeps exactly one minute granule", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, at("2026-11-27T10:00:45.000Z"), MINUTE), {
    start: HOUR_WINDOW.start,
    end: at("2026-11-27T10:01:00.000Z"),
  });
});

Deno.test("cutWindow never extends past window.end when cutAt is beyond it", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, at("2026-11-27T11:30:00.000Z"), 1), HOUR_WINDOW);
});

Deno.test({
  name: "cutWindow never extends past window.end when the window is shorter than one granule",
  // Regression: cutWindow({start: 10:00:30, end: 10:01:00}, cutAt 10:00:30, 60000) returns end 10:01:30, past
  // window.end; it should be 10:01:00 (start + granularity is not clamped to window.end). Latent: only a
  // source with granularity > 1 ms and a frontier off the granularity (SINCE with seconds) reaches it.

  fn: () => {
    const window = { start: at("2026-11-27T10:00:30.000Z"), end: at("2026-11-27T10:01:00.000Z") };
    assert.deepEqual(cutWindow(window, window.start, MINUTE), window);
  },
});
