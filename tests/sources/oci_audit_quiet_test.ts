/**
 * Quiet compartments (issue 21): a pass of several windows asks each compartment once for its whole span and
 * skips the quiet ones in every window. What that must never cost: an event that becomes listable after the
 * probe, and a compartment whose probe failed. The emulator lists on processing time and indexes late as
 * docs/oracle/oci-apis.md ("OCI Audit") says; the program runs `once` for real against it.
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { type AuditCloudEvent, generateAuditEvents, type RequestSeen } from "../emulators/oci.ts";
import { DAY, duplicates, readArchive, runCli } from "../harness.ts";
import { auditSettings, startCloud, TENANCY } from "../oci_harness.ts";

const COMPARTMENTS = Array.from({ length: 6 }, (_, i) => ({
  id: `ocid1.compartment.oc1..aaaaquiet${i}`,
  parentId: TENANCY,
  name: `quiet${i}`,
}));
const [BUSY, OTHER, , , , QUIET] = COMPARTMENTS.map((c) => c.id);

/** The compartment and range (ms) a ListEvents request asks for. */
function listEventsQuery(request: RequestSeen) {
  const query = new URLSearchParams(request.query);
  return {
    compartmentId: query.get("compartmentId"),
    span: Date.parse(query.get("endTime") ?? "") - Date.parse(query.get("startTime") ?? ""),
  };
}

/** Two days of events in the two busy compartments, archived by one `once` in windows of at most 40. */
async function archiveOnce(
  onRequest: (request: RequestSeen, cloud: Awaited<ReturnType<typeof startCloud>>) => "drop" | void,
  extra: string[] = [],
  options: { auditPrettyPages?: "\n" | "\r\n"; auditEmptyFirstPage?: boolean } = {},
) {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-oci-quiet-" });
  const events = generateAuditEvents({
    seed: 141,
    count: 300,
    from: Date.now() - 2 * DAY,
    to: Date.now() - 120_000,
    compartmentIds: [BUSY, OTHER],
  });
  const cloud: Awaited<ReturnType<typeof startCloud>> = await startCloud(dir, {
    compartments: COMPARTMENTS,
    auditEvents: events,
    auditPageSize: 40,
    ...options,
    onRequest: (request) => request.operation === "ListEvents" ? onRequest(request, cloud) : undefined,
  });
  const env = auditSettings(cloud, `${dir}/archive`);
  const args = Object.entries(env).flatMap((
    [name, value],
  ) => [`--${name.toLowerCase().replaceAll("_", "-")}`, value]);
  try {
    const code = await main(["once", ...args, "--max-events-per-object", "40", ...extra]);
    const archive = await readArchive(env.ARCHIVE_DIR);
    const verify = await runCli(["verify"], { env });
    return { code, archive, verify, events, processedAt: cloud.oci.auditProcessedAt };
  } finally {
    await cloud.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an event listed in a quiet compartment only after the probe is archived by the same pass's reconcile", async () => {
  const late: AuditCloudEvent[] = [];
  let asked = 0;
  const run = await archiveOnce((request, cloud) => {
    const { compartmentId } = listEventsQuery(request);
    if (compartmentId !== QUIET || asked++) return;
    // Processed two days ago (inside the pass's first window), listable a moment after this first request: as
    // Oracle may index an event late ("processing time can vary", docs/oracle/oci-apis.md).
    const [event] = generateAuditEvents({
      seed: 142,
      count: 1,
      from: Date.now() - 2 * DAY + 3_600_000,
      to: Date.now() - 2 * DAY + 3_660_000,
      compartmentIds: [QUIET],
    });
    late.push(event);
    cloud.oci.addLateAuditEvents([event], {
      processedAt: Date.parse(event.eventTime),
      listableAt: Date.now() + 20,
    });
  }, ["--reconcile-after", "0s"]);
  assert.equal(run.code, 0);
  assert.equal(late.length, 1, "the quiet compartment was asked");
  assert.ok(run.archive.objects >= 5, `${run.archive.objects} windows: the pass must read several`);
  assert.ok(run.archive.ids.includes(late[0].eventId), "the late event of the quiet compartment was lost");
  assert.deepEqual(duplicates(run.archive.ids), []);
  const truth = [...run.events, ...late].filter((e) => run.processedAt(e.eventId) < run.archive.frontier!)
    .map((e) => e.eventId).sort();
  assert.deepEqual([...run.archive.ids].sort(), truth);
  assert.equal(run.verify.code, 0, run.verify.stdout + run.verify.stderr);
});

Deno.test("a compartment whose probe fails is read window by window: its events are archived", async () => {
  let dropped = 0;
  const run = await archiveOnce((request) => {
    const { compartmentId, span } = listEventsQuery(request);
    // A window never crosses midnight: a range longer than a day is the probe. Every attempt of it is cut.
    if (compartmentId !== BUSY || span <= DAY) return;
    dropped++;
    return "drop";
  });
  assert.equal(run.code, 0);
  assert.ok(dropped >= 2, `the busy compartment's probe was asked and retried (${dropped} attempts)`);
  assert.deepEqual(duplicates(run.archive.ids), []);
  const truth = run.events.filter((e) => run.processedAt(e.eventId) < run.archive.frontier!).map((e) =>
    e.eventId
  )
    .sort();
  assert.deepEqual([...run.archive.ids].sort(), truth);
  assert.ok(run.archive.ids.length >= 290, `${run.archive.ids.length} of 300 archived`);
});

Deno.test("each quiet compartment is asked once per pass, also when Audit pretty-prints its empty page", async () => {
  const asked = new Map<string, number>();
  const run = await archiveOnce(
    (request) => {
      const { compartmentId } = listEventsQuery(request);
      asked.set(compartmentId!, (asked.get(compartmentId!) ?? 0) + 1);
    },
    [],
    { auditPrettyPages: "\r\n" },
  );
  assert.equal(run.code, 0);
  assert.ok(run.archive.objects >= 5, `${run.archive.objects} windows: the pass must read several`);
  for (const quiet of COMPARTMENTS.slice(2)) {
    assert.equal(asked.get(quiet.id), 1, `${quiet.id}: the probe alone`);
  }
  // The tenancy is the scope: `check` reads its first minute, and the probe asks it once more.
  assert.equal(asked.get(TENANCY), 2);
  assert.ok(asked.get(BUSY)! > run.archive.objects, "a busy compartment is read in every window");
  const truth = run.events.filter((e) => run.processedAt(e.eventId) < run.archive.frontier!).map((e) =>
    e.eventId
  )
    .sort();
  assert.deepEqual([...run.archive.ids].sort(), truth);
});

Deno.test("a compartment whose first page is empty but names a next page is busy, not quiet: its events are archived", async () => {
  const run = await archiveOnce(() => {}, [], { auditEmptyFirstPage: true });
  assert.equal(run.code, 0);
  assert.ok(run.archive.objects >= 5, `${run.archive.objects} windows: the pass must read several`);
  assert.deepEqual(duplicates(run.archive.ids), []);
  const truth = run.events.filter((e) => run.processedAt(e.eventId) < run.archive.frontier!).map((e) =>
    e.eventId
  ).sort();
  assert.deepEqual([...run.archive.ids].sort(), truth);
  assert.ok(run.archive.ids.length >= 290, `${run.archive.ids.length} of 300 archived`);
  assert.equal(run.verify.code, 0, run.verify.stdout + run.verify.stderr);
});
