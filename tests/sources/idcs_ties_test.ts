/**
 * An identity domain whose order among equal timestamps changes from request to request (Oracle promises no
 * order among them: docs/oracle/identity-domains.md): `once` archives each event exactly once, and a read whose
 * pages overlapped inside milliseconds pays for those milliseconds, read together as pages of their own or in
 * the room its last page has to spare, not for the whole window again.
 *
 * @module
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { type AuditEvent, generateEvents } from "../emulators/idcs.ts";
import { assertCompleteArchive, startDomain } from "../harness.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/**
 * `perMillisecond` events in each of `milliseconds` milliseconds, all within yesterday (UTC), so that whatever
 * the time of day they are one window of their own, paged from its first event.
 */
function tiedBacklog(milliseconds: number, perMillisecond: number): AuditEvent[] {
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  return generateEvents({
    seed: 71,
    count: milliseconds,
    from: today - DAY_MS + HOUR_MS,
    to: today - HOUR_MS,
  })
    .flatMap((event) =>
      Array.from({ length: perMillisecond }, (_, k) => ({ ...event, id: `${event.id}-${k}` }))
    );
}

/** Archives the backlog with `once`, checks the archive is exactly the source's events, and counts requests. */
async function archiveCountingRequests(events: AuditEvent[], pageSize: number, shuffleTies: boolean) {
  const domain = await startDomain({
    events,
    since: "2d",
    faults: { shuffleTies },
    // One request at a time: the emulator draws each order from its seeded PRNG as requests arrive, so the
    // orders, and the count, are the same on every run.
    extraArgs: ["--page-size", String(pageSize), "--concurrency", "1"],
  });
  try {
    assert.equal(await main(["once", ...domain.args]), 0);
    const archive = await assertCompleteArchive(domain);
    assert.equal(archive.ids.length, events.length);
    return domain.emulator.stats.auditRequests;
  } finally {
    await domain.close();
  }
}

Deno.test("ties reordered between requests: every event archived once, the split ties read again a page of them per request", async () => {
  // 25 milliseconds of 4 events each: with pages of 10, the page edges at 10, 30, 50, 70 and 90 fall inside a
  // millisecond (5 ties split by a page edge), those at 20, 40, 60 and 80 between two. The last page is full,
  // so there is no room in it to carry a tie.
  const [pageSize, perMillisecond, splitTies] = [10, 4, 5];
  const backlog = tiedBacklog(25, perMillisecond);
  const stable = await archiveCountingRequests(backlog, pageSize, false);
  const reordered = await archiveCountingRequests(backlog, pageSize, true);
  // More than the stable order's count: the reordering did make pages overlap (else this test proves nothing).
  assert.ok(reordered > stable, `reordered ${reordered} requests, stable ${stable}`);
  const tieRequests = Math.ceil(splitTies / Math.floor(pageSize / perMillisecond));
  assert.ok(
    reordered <= stable + tieRequests,
    `reordered ${reordered} requests, stable ${stable}: more than ${tieRequests} for ${splitTies} split ties`,
  );
});

Deno.test("ties reordered between requests: a last page with room to spare carries the split ties, for no request more", async () => {
  // 30 milliseconds of 3 events each, in pages of 20: the edges at 20, 40 and 80 fall inside a millisecond. The
  // last page, read by time from the millisecond the edge at 80 splits, holds 12 events: room for the ties
  // split at 20 and 40.
  const backlog = tiedBacklog(30, 3);
  const stable = await archiveCountingRequests(backlog, 20, false);
  const reordered = await archiveCountingRequests(backlog, 20, true);
  assert.ok(reordered <= stable, `reordered ${reordered} requests, stable ${stable}`);
});
