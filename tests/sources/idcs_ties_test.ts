/**
 * An identity domain whose order among equal timestamps changes from request to request (Oracle promises no
 * order among them: docs/oracle/identity-domains.md): `once` archives each event exactly once, and a read whose
 * pages overlapped inside milliseconds pays for those milliseconds, read together as pages of their own, not
 * for the whole window again.
 *
 * @module
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import type { AuditEvent } from "../emulators/idcs.ts";
import { assertCompleteArchive, recentEvents, startDomain } from "../harness.ts";

const PAGE_SIZE = 10;
const PER_MILLISECOND = 4;

/**
 * 25 milliseconds of 4 events each: with pages of 10, the page edges at 10, 30, 50, 70 and 90 fall inside a
 * millisecond (5 ties split by a page edge), those at 20, 40, 60 and 80 between two.
 */
function tiedBacklog(): AuditEvent[] {
  return recentEvents(71, 25, 1, 60_000, 0).flatMap((event) =>
    Array.from({ length: PER_MILLISECOND }, (_, k) => ({ ...event, id: `${event.id}-${k}` }))
  );
}

const SPLIT_TIES = 5;
/** Ties read again together in one request: as many whole ties as one page holds. */
const TIES_PER_PAGE = Math.floor(PAGE_SIZE / PER_MILLISECOND);

/** Archives the backlog with `once`, checks the archive is exactly the source's events, and counts requests. */
async function archiveCountingRequests(shuffleTies: boolean): Promise<number> {
  const domain = await startDomain({
    events: tiedBacklog(),
    since: "1d",
    faults: { shuffleTies },
    // One request at a time: the emulator draws each order from its seeded PRNG as requests arrive, so the
    // orders, and the count, are the same on every run.
    extraArgs: ["--page-size", String(PAGE_SIZE), "--concurrency", "1"],
  });
  try {
    assert.equal(await main(["once", ...domain.args]), 0);
    const archive = await assertCompleteArchive(domain);
    assert.equal(archive.ids.length, 25 * PER_MILLISECOND);
    return domain.emulator.stats.auditRequests;
  } finally {
    await domain.close();
  }
}

Deno.test("ties reordered between requests: every event archived once, the split ties read again a page of them per request", async () => {
  const stable = await archiveCountingRequests(false);
  const reordered = await archiveCountingRequests(true);
  // More than the stable order's count: the reordering did make pages overlap (else this test proves nothing).
  assert.ok(reordered > stable, `reordered ${reordered} requests, stable ${stable}`);
  const tieRequests = Math.ceil(SPLIT_TIES / TIES_PER_PAGE);
  assert.ok(
    reordered <= stable + tieRequests,
    `reordered ${reordered} requests, stable ${stable}: more than ${tieRequests} for ${SPLIT_TIES} split ties`,
  );
});
