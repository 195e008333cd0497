/**
 * Both sources against emulators that send what Oracle does not promise not to: pretty-printed pages (LF and
 * CRLF), an id sent with different bodies, and (identity domain) a `totalResults` no domain could mean. The
 * real program archives and verifies; nothing is stubbed.
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { metrics } from "../../src/metrics.ts";
import { type AuditCloudEvent, generateAuditEvents } from "../emulators/oci.ts";
import { DAY, readArchive, recentEvents, runCli, startDomain, verifyDir } from "../harness.ts";
import { auditSettings, startCloud, TENANCY } from "../oci_harness.ts";

const asArgs = (env: Record<string, string>) =>
  Object.entries(env).flatMap(([name, value]) => [`--${name.toLowerCase().replaceAll("_", "-")}`, value]);

const conflictCount = (source: string) =>
  metrics.render().split("\n").filter((line) =>
    line.startsWith(`audit_archiver_conflicting_event_ids_total{source="${source}"`)
  ).reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);

Deno.test("a pretty-printed identity-domain page (CRLF) is archived one event per line, each equal to the event, and verifies", async () => {
  const domain = await startDomain({
    events: recentEvents(81, 120, 1),
    since: "1d",
    emulator: { prettyPages: "\r\n" },
  });
  try {
    assert.equal(await main(["once", ...domain.args]), 0);
    const archive = await readArchive(domain.archiveDir);
    assert.deepEqual([...archive.ids].sort(), domain.truth(archive.frontier!));
    for (const line of archive.lines) {
      assert.ok(!line.includes("\r"), "no CR in a line");
      const event = JSON.parse(line);
      assert.deepEqual(event, JSON.parse(domain.emulator.wireText(event.id)));
    }
    assert.deepEqual(await domain.verify(), []);
  } finally {
    await domain.close();
  }
});

Deno.test("a pretty-printed OCI Audit page (LF) is archived one event per line, each equal to the event, and verifies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-pretty-" });
  const events = generateAuditEvents({
    seed: 82,
    count: 120,
    from: Date.now() - DAY,
    to: Date.now() - 120_000,
    compartmentIds: [TENANCY],
  });
  const cloud = await startCloud(dir, { auditEvents: events, auditPageSize: 30, auditPrettyPages: "\n" });
  try {
    const env = auditSettings(cloud, `${dir}/archive`, "1d");
    assert.equal(await main(["once", ...asArgs(env)]), 0);
    const archive = await readArchive(`${dir}/archive`);
    assert.ok(archive.lines.length > 0);
    for (const line of archive.lines) {
      const event = JSON.parse(line);
      assert.deepEqual(event, JSON.parse(cloud.oci.auditWireText(event.eventId)));
    }
    assert.deepEqual((await verifyDir(`${dir}/archive`)).problems, []);
  } finally {
    await cloud.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an identity-domain id sent with two bodies does not stall the chain: one body is kept, the anomaly reported", async () => {
  const events = recentEvents(83, 60, 1);
  // The emulator keeps (timestamp, id) unique; 1 ms later, the twin is in the same window.
  const twin = {
    ...events[10],
    timestamp: new Date(Date.parse(events[10].timestamp) + 1).toISOString(),
    actorName: "someone else",
  };
  const domain = await startDomain({ events: [...events, twin], since: "1d" });
  const before = conflictCount("idcs");
  try {
    assert.equal(await main(["once", ...domain.args]), 0);
    const archive = await readArchive(domain.archiveDir);
    const kept = archive.lines.filter((line) => JSON.parse(line).id === twin.id);
    assert.equal(kept.length, 1, "one line for the id");
    const bodies = [JSON.stringify(events[10]), JSON.stringify(twin)].sort();
    assert.equal(kept[0], bodies[0], "the body that sorts first");
    assert.equal(archive.ids.length, 60);
    assert.deepEqual(await domain.verify(), []);
    assert.ok(conflictCount("idcs") > before, "counted in audit_archiver_conflicting_event_ids_total");
  } finally {
    await domain.close();
  }
});

Deno.test("an OCI Audit id sent with two bodies (in two compartments) keeps one body, the same every time, and is reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-twin-" });
  const team = "ocid1.compartment.oc1..aaaatwin";
  const events = generateAuditEvents({
    seed: 84,
    count: 40,
    from: Date.now() - DAY,
    to: Date.now() - 120_000,
    compartmentIds: [TENANCY],
  });
  const twin: AuditCloudEvent = { ...events[5], data: { ...events[5].data, compartmentId: team } };
  const cloud = await startCloud(dir, {
    compartments: [{ id: team, parentId: TENANCY, name: "twin" }],
    auditEvents: [...events, twin],
    auditPageSize: 7,
    auditRepeatedIds: true,
  });
  const before = conflictCount("oci-audit");
  try {
    const env = auditSettings(cloud, `${dir}/archive`, "1d");
    assert.equal(await main(["once", ...asArgs(env)]), 0);
    const archive = await readArchive(`${dir}/archive`);
    const kept = archive.lines.filter((line) => JSON.parse(line).eventId === twin.eventId);
    assert.equal(kept.length, 1);
    assert.equal(kept[0], [JSON.stringify(events[5]), JSON.stringify(twin)].sort()[0]);
    assert.deepEqual((await verifyDir(`${dir}/archive`)).problems, []);
    assert.ok(conflictCount("oci-audit") > before, "counted in audit_archiver_conflicting_event_ids_total");
  } finally {
    await cloud.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a totalResults no identity domain could mean fails the read clearly instead of planning its pages", async () => {
  const domain = await startDomain({
    events: recentEvents(85, 20, 1),
    since: "1d",
    emulator: { claimedTotalResults: 100_000_000_000 },
  });
  try {
    const result = await runCli(["once"], {
      env: { ...domain.env, MAX_EVENTS_PER_OBJECT: "1000000000000" },
      killAfterMs: 60_000,
    });
    assert.equal(result.killed, false, "the pass ended by itself");
    assert.equal(result.code, 1, result.stderr);
    // A window holds what fits its share of memory (a few thousand events), so the count is more than fits and
    // the event that would cut the window is asked for: there is none, read after read, and the read fails.
    assert.match(
      result.stderr,
      /reports totalResults 100000000000 but sends no event at position \d+: not read/,
    );
    // Bounded, not a hundred million pages: each window read (two read side by side) asks six times at most.
    assert.ok(
      domain.emulator.stats.auditRequests <= 30,
      `${domain.emulator.stats.auditRequests} page requests`,
    );
  } finally {
    await domain.close();
  }
});
