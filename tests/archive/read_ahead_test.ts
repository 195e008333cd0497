/**
 * Windows read ahead are bounded by the bytes they may hold (issue 21, target 4), not by a count of windows:
 * a window that may hold a large share of the budget is read alone, small ones side by side.
 */

import assert from "node:assert/strict";
import { assertCompleteArchive, recentEvents, runMain, startDomain } from "../harness.ts";

/**
 * Six days of a few events each: every day is one window of one page (windows end at midnight), so the
 * AuditEvents requests the emulator has in flight at once are the windows being read at once. The latency
 * keeps each page in flight long enough for the windows read beside it to overlap it.
 */
async function maxWindowsInFlight(maxEventsPerObject: string): Promise<number> {
  const domain = await startDomain({
    events: recentEvents(41, 240, 6, 60_000, 0),
    since: "7d",
    faults: { latencyMs: 150 },
  });
  try {
    assert.equal(await runMain("once", domain, "--max-events-per-object", maxEventsPerObject), 0);
    await assertCompleteArchive(domain);
    return domain.emulator.stats.maxInFlight;
  } finally {
    await domain.close();
  }
}

Deno.test("a window that could hold more than half the in-flight byte budget is read alone", async () => {
  // 200,000 events of about 1 KB may be 200 MB of pages: no window is read beside it.
  assert.equal(await maxWindowsInFlight("200000"), 1);
});

Deno.test("small windows are read ahead, side by side", async () => {
  // 500 events of about 1 KB: the windows after it are read while it is committed.
  assert.ok(await maxWindowsInFlight("500") > 1);
});
