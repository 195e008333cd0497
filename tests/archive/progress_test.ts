/**
 * backfill's progress line. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { progressLine } from "../../src/archive/progress.ts";

Deno.test("progressLine says events, windows, rate, share done and the time left at that rate", () => {
  assert.equal(
    progressLine({ events: 12_345, windows: 17, elapsedMs: 6_000, fraction: 0.25 }),
    "12,345 events, 17 windows, 2,058 events/s, 25% — about 18 s left",
  );
  assert.equal(
    progressLine({ events: 1_000_000, windows: 50, elapsedMs: 600_000, fraction: 0.1 }),
    "1,000,000 events, 50 windows, 1,667 events/s, 10% — about 90 min left",
  );
  assert.match(progressLine({ events: 0, windows: 0, elapsedMs: 0, fraction: 0 }), /time left unknown$/);
});
