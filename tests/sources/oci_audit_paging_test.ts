/**
 * OCI Audit pages whose `opc-next-page` is an offset, with events processed at the same time ordered anew from
 * request to request (Oracle documents neither a cursor nor an order among them: docs/oracle/oci-apis.md, "OCI
 * Audit"): a page edge inside such a group sends some events twice and skips as many, and ListEvents gives no
 * total to notice it by. The program runs `once` for real, through the OCI SDK's signer, against the emulator.
 *
 * @module
 */

import { main } from "../../main.ts";
import { type AuditCloudEvent, generateAuditEvents } from "../emulators/oci.ts";
import {
  asFlags,
  assertCompleteArchive,
  duplicates,
  HOUR,
  readArchive,
  runCli,
  verifyDir,
} from "../harness.ts";
import { auditSettings, startCloud, TENANCY } from "../oci_harness.ts";
import assert from "node:assert/strict";

const MINUTE = 60_000;
const TEAM = "ocid1.compartment.oc1..aaaapagingteam";
const PER_GROUP = 4;
const GROUPS = 40;

/**
 * 40 groups of 4 events of `compartmentId` processed in the same millisecond (a hand-built event is processed
 * at its eventTime), 15 s apart from `from`: many edges of pages of 10 fall inside a group.
 */
function tiedEvents(seed: number, compartmentId: string, from: number): AuditCloudEvent[] {
  return generateAuditEvents({
    seed,
    count: GROUPS * PER_GROUP,
    from,
    to: from + HOUR,
    compartmentIds: [compartmentId],
  })
    .map((event, i) => ({
      ...event,
      eventTime: new Date(from + 15_000 * Math.floor(i / PER_GROUP)).toISOString(),
    }));
}

/** Archives the events with `once` under `paging`, checks the archive is exactly the source's, counts ListEvents. */
async function archiveCountingRequests(paging: "cursor" | "offset"): Promise<number> {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-oci-paging-" });
  // On a whole minute, so the windows and the page edges fall the same way on every run.
  const from = Math.floor(Date.now() / MINUTE) * MINUTE - 6 * HOUR + 7_250;
  const events = [...tiedEvents(151, TENANCY, from), ...tiedEvents(152, TEAM, from + 5_000)];
  const cloud = await startCloud(dir, {
    seed: 15,
    compartments: [{ id: TEAM, parentId: TENANCY, name: "team" }],
    auditEvents: events,
    auditPaging: paging,
    auditPageSize: 10,
  });
  const env = auditSettings(cloud, `${dir}/archive`, "1d");
  try {
    // One request at a time: the emulator draws each order as requests arrive, so the run is the same each time.
    const code = await main(["once", ...asFlags(env), "--concurrency", "1", "--max-events-per-object", "60"]);
    assert.equal(code, 0);
    const archive = await assertCompleteArchive({
      read: () => readArchive(env.ARCHIVE_DIR),
      verify: async () => (await verifyDir(env.ARCHIVE_DIR)).problems,
      truth: (frontier) =>
        events.filter((event) => cloud.oci.auditProcessedAt(event.eventId) < frontier).map((event) =>
          event.eventId
        ).sort(),
    });
    assert.equal(archive.ids.length, events.length);
    return cloud.oci.stats.byOperation.ListEvents;
  } finally {
    await cloud.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("offset pages with equal processing times reordered between requests: every event archived once", async () => {
  // Side by side: windows are planned from the clock, so runs a minute apart would cut them differently.
  const [cursor, offset] = await Promise.all([
    archiveCountingRequests("cursor"),
    archiveCountingRequests("offset"),
  ]);
  // More than under a cursor: the pages did split groups differently (else this test proves nothing).
  assert.ok(offset > cursor, `offset ${offset} ListEvents, cursor ${cursor}`);
  assert.ok(offset <= 3 * cursor, `offset ${offset} ListEvents, cursor ${cursor}: reads again without bound`);
});

Deno.test("a compartment whose every read sends one event twice is archived once, after a bounded number of reads, never wedged", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-oci-paging-" });
  const events = generateAuditEvents({
    seed: 153,
    count: 30,
    from: Date.now() - 6 * HOUR,
    to: Date.now() - HOUR,
    compartmentIds: [TENANCY],
  });
  // The same event stored twice: every listing sends it twice, so no read shows the listing complete by count;
  // reads that stop bringing new events show it is the listing, not a shifting page edge (invariant 9: never wedged).
  const cloud = await startCloud(dir, {
    auditEvents: [...events, events[20]],
    auditRepeatedIds: true,
    auditPaging: "offset",
    auditPageSize: 10,
  });
  try {
    const env = auditSettings(cloud, `${dir}/archive`, "1d");
    const result = await runCli(["once", "--log-level", "warn"], { env, killAfterMs: 60_000 });
    assert.equal(result.killed, false, "the pass ended by itself");
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /10 reads of compartment ocid1\.tenancy\.oc1\.\.aaaatesttenancy in \[.*sends some events twice/,
    );
    const archive = await readArchive(env.ARCHIVE_DIR);
    assert.deepEqual(duplicates(archive.ids), []);
    assert.deepEqual([...archive.ids].sort(), events.map((event) => event.eventId).sort());
    // `check`'s minute, then the window's 10 reads of at most 4 pages (and the windows before it).
    assert.ok(
      cloud.oci.stats.byOperation.ListEvents <= 60,
      `${cloud.oci.stats.byOperation.ListEvents} ListEvents`,
    );
  } finally {
    await cloud.close();
    await Deno.remove(dir, { recursive: true });
  }
});
