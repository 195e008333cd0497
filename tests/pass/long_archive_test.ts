/**
 * A daemon runs for years: an idle pass must cost the same on a long archive as on a short one. The pass finds
 * its chain's newest window by walking year/month/day folders from the newest (docs/design.md §5), never by
 * listing every day archived.
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { recentEvents, startDomain } from "../harness.ts";
import { cloudArgs, startCloud } from "../oci_harness.ts";

/** The requests of an idle pass (nothing new in the source) into a bucket archive of `days` sparse days. */
async function idlePassRequests(days: number) {
  // About one event every three days: most day folders hold one empty window.
  const domain = await startDomain({
    events: recentEvents(211, Math.ceil(days / 3), days),
    since: `${days}d`,
    // The domain serves every day (Oracle's keep 14), so one catch-up builds what months of passes would.
    emulator: { retentionDays: days + 1 },
  });
  const cloud = await startCloud(domain.dir);
  try {
    assert.equal(await main(["once", ...cloudArgs(domain, cloud)]), 0);
    const bucket = { ...cloud.oci.stats.byOperation };
    const source = domain.emulator.stats.auditRequests;
    assert.equal(await main(["once", ...cloudArgs(domain, cloud)]), 0);
    const byOperation = Object.fromEntries(
      Object.entries(cloud.oci.stats.byOperation).map((
        [operation, n],
      ) => [operation, n - (bucket[operation] ?? 0)]),
    );
    return { byOperation, source: domain.emulator.stats.auditRequests - source };
  } finally {
    await cloud.close();
    await domain.close();
  }
}

Deno.test("an idle pass sends the same requests to the bucket and the source on a 120-day archive as on a 7-day one", async () => {
  const week = await idlePassRequests(7);
  const months = await idlePassRequests(120);
  assert.deepEqual(months, week);
});
