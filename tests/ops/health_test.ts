/**
 * /healthz's verdict from a source's standing. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assessHealth } from "../../src/ops/daemon.ts";

const NOW = Date.UTC(2026, 10, 27, 10, 15, 42, 123);

const MINUTE = 60_000;
const DAY = 86_400_000;

const STANDING = { source: "idcs", scope: "idcs-1", catchingUp: false, maxLagMs: 40 * MINUTE };

Deno.test("assessHealth: healthy while the first pass runs, and when the last pass succeeded within the lag bound", () => {
  assert.deepEqual(assessHealth(STANDING, NOW), { ok: true, reason: "the first pass is running" });
  assert.deepEqual(assessHealth({ ...STANDING, lastResult: "ok", frontierMs: NOW - 39 * MINUTE }, NOW), {
    ok: true,
  });
});

Deno.test("assessHealth: unhealthy when the last pass failed, or the lag is past the bound without catching up", () => {
  assert.deepEqual(assessHealth({ ...STANDING, lastResult: "AUTH", frontierMs: NOW }, NOW), {
    ok: false,
    reason: "the last pass failed (AUTH)",
  });
  assert.deepEqual(assessHealth({ ...STANDING, lastResult: "ok", frontierMs: NOW - 41 * MINUTE }, NOW), {
    ok: false,
    reason: "lag 2460 s is over 2400 s",
  });
  assert.deepEqual(
    assessHealth({ ...STANDING, lastResult: "ok", frontierMs: NOW - 9 * DAY, catchingUp: true }, NOW),
    { ok: true, reason: "catching up a backlog" },
  );
});

Deno.test("assessHealth: unhealthy when the frontier lies ahead of the clock (a negative lag)", () => {
  assert.deepEqual(
    assessHealth({ ...STANDING, lastResult: "ok", frontierMs: NOW + 10 * MINUTE }, NOW),
    { ok: false, reason: "the frontier is 600 s ahead of this clock" },
  );
  assert.equal(assessHealth({ ...STANDING, lastResult: "ok", frontierMs: NOW + MINUTE }, NOW).ok, true);
});
