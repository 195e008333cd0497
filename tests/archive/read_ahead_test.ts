/**
 * What a pass's windows hold is bounded by bytes (issue 21, target 4), not by a count of windows or events:
 * a window holds at most WINDOW_BYTES of events whatever MAX_EVENTS_PER_OBJECT allows, and windows of small
 * events are still read side by side.
 */

import assert from "node:assert/strict";
import { WINDOW_BYTES } from "../../src/archive/window_loop.ts";
import { assertCompleteArchive, recentEvents, runMain, startDomain } from "../harness.ts";

Deno.test("no window holds more than its share of the in-flight bytes, however many events MAX_EVENTS_PER_OBJECT allows", async () => {
  // Two days of 12,000 events of about 1 KB each: a day's window would hold 12 MB of events.
  const domain = await startDomain({ events: recentEvents(43, 24_000, 2, 60_000, 0), since: "3d" });
  try {
    assert.equal(await runMain("once", domain, "--max-events-per-object", "100000"), 0);
    // Counted here: assertCompleteArchive compares ids in quadratic time, minutes for 24,000.
    const archive = await domain.read();
    assert.equal(new Set(archive.ids).size, 24_000);
    assert.equal(archive.ids.length, 24_000);
    assert.deepEqual(await domain.verify(), []);
    const bytes = new Map<string, number>();
    const encoder = new TextEncoder();
    archive.ids.forEach((id, i) => {
      const object = archive.objectOf.get(id)!;
      bytes.set(object, (bytes.get(object) ?? 0) + encoder.encode(archive.lines[i]).length);
    });
    const largest = Math.max(...bytes.values());
    assert.ok(
      largest <= WINDOW_BYTES,
      `a window holds ${largest} bytes of events, more than ${WINDOW_BYTES}`,
    );
  } finally {
    await domain.close();
  }
});

Deno.test("windows of small events are read side by side", async () => {
  // Six days of a few events each: every day is one window of one page (windows end at midnight), so the
  // AuditEvents requests in flight at once are the windows being read at once; the latency keeps each
  // page in flight long enough for the windows read beside it to overlap it.
  const domain = await startDomain({
    events: recentEvents(41, 240, 6, 60_000, 0),
    since: "7d",
    faults: { latencyMs: 150 },
  });
  try {
    assert.equal(await runMain("once", domain), 0);
    await assertCompleteArchive(domain);
    assert.ok(domain.emulator.stats.maxInFlight > 1, "the windows were read one at a time");
  } finally {
    await domain.close();
  }
});
