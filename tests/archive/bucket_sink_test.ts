/**
 * The archive in an Object Storage bucket through the real OCI SDK against the emulated cloud (which verifies
 * every request signature): the same names, manifests and invariants as the directory; conditional commits;
 * verify and export on the bucket; a retention-locked bucket; WORM reported by status.
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { generateEvents } from "../emulators/idcs.ts";
import { duplicates, recentEvents, runCli, startDomain, truthBefore } from "../harness.ts";
import { BUCKET, cloudArgs, readBucketArchive, startCloud } from "../oci_harness.ts";

Deno.test("a pass that finds its chain's newest window whole downloads no data object: it asks whether it exists", async () => {
  const domain = await startDomain({ events: recentEvents(93, 600) });
  const fetched: string[] = [];
  let asked = 0;
  const cloud = await startCloud(domain.dir, {
    onRequest: (request) => {
      if (!request.objectName?.endsWith(".ndjson.gz")) return;
      if (request.method === "GET") fetched.push(request.objectName);
      if (request.method === "HEAD") asked++;
    },
  });
  try {
    assert.equal(await main(["once", ...cloudArgs(domain, cloud), "--max-events-per-object", "200"]), 0);
    fetched.length = asked = 0;
    assert.equal(await main(["once", ...cloudArgs(domain, cloud)]), 0);
    assert.deepEqual(fetched, [], "the second pass downloaded data objects");
    assert.ok(asked >= 1, "the second pass never checked its newest window's data object");
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("a pass archives every event once into the bucket, and verify proves it there", async () => {
  const domain = await startDomain({ events: recentEvents(91, 1500), faults: { shuffleTies: true } });
  const cloud = await startCloud(domain.dir);
  try {
    assert.equal(await main(["once", ...cloudArgs(domain, cloud), "--max-events-per-object", "200"]), 0);
    const archive = await readBucketArchive(cloud.oci);
    assert.deepEqual(duplicates(archive.ids), []);
    assert.deepEqual([...archive.ids].sort(), truthBefore(domain.emulator, archive.frontier!));
    assert.equal(archive.ids.length, 1500);
    assert.ok(archive.objects >= 8);
    assert.equal(cloud.oci.stats.rejectedSignatures, 0);
    assert.ok((cloud.oci.stats.byOperation.PutObject ?? 0) >= 2 * archive.objects);
    const verify = await runCli(["verify"], { env: { ...domain.env, ...cloud.env } });
    assert.equal(verify.code, 0, verify.stderr);
    assert.deepEqual(JSON.parse(verify.stdout).problems, []);
    assert.equal(JSON.parse(verify.stdout).chains[0].events, 1500);
    assert.equal(await main(["once", ...cloudArgs(domain, cloud)]), 0);
    assert.deepEqual(
      (await readBucketArchive(cloud.oci)).ids.sort(),
      archive.ids.sort(),
      "a second pass adds nothing",
    );
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("verify on the bucket catches a changed and a deleted object", async () => {
  const domain = await startDomain({ events: recentEvents(92, 300) });
  const cloud = await startCloud(domain.dir);
  try {
    assert.equal(await main(["once", ...cloudArgs(domain, cloud), "--max-events-per-object", "50"]), 0);
    const data = cloud.oci.objects(BUCKET).filter((o) => o.name.endsWith(".ndjson.gz"));
    const changed = new Uint8Array(data[1].bytes);
    changed[changed.length - 9] ^= 1;
    cloud.oci.putObjectDirect(BUCKET, data[1].name, changed);
    cloud.oci.deleteObjectDirect(BUCKET, data[2].name);
    const verify = await runCli(["verify"], { env: { ...domain.env, ...cloud.env } });
    assert.equal(verify.code, 1);
    const problems: string[] = JSON.parse(verify.stdout).problems;
    assert.ok(
      problems.some((p) => p.includes(data[1].name) && /does not match/.test(p)),
      problems.join("\n"),
    );
    assert.ok(problems.some((p) => p.includes(data[2].name) && /is missing/.test(p)), problems.join("\n"));
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("concurrent passes on one bucket commit each window once: the losers of each 412 continue after the winner", async () => {
  const domain = await startDomain({ events: recentEvents(93, 1200), faults: { latencyMs: 2 } });
  const cloud = await startCloud(domain.dir, { seed: 7 });
  try {
    const args = cloudArgs(domain, cloud);
    const codes = await Promise.all([
      main(["once", ...args, "--max-events-per-object", "60"]),
      main(["once", ...args, "--max-events-per-object", "170"]),
      runCli(["once", "--max-events-per-object", "90"], { env: { ...domain.env, ...cloud.env } }).then((r) =>
        r.code
      ),
    ]);
    assert.deepEqual(codes, [0, 0, 0]);
    const archive = await readBucketArchive(cloud.oci);
    assert.deepEqual(duplicates(archive.ids), []);
    assert.deepEqual([...archive.ids].sort(), truthBefore(domain.emulator, archive.frontier!));
    assert.ok(cloud.oci.stats.conditionalPutConflicts >= 1, "the racing instances must have met a 412");
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("a bucket whose retention rule forbids overwrite and delete works unchanged; status reports WORM", async () => {
  const domain = await startDomain({ events: recentEvents(94, 400) });
  const cloud = await startCloud(domain.dir, {
    buckets: [{
      name: BUCKET,
      retentionRules: [{
        id: "r1",
        displayName: "seven years",
        duration: { timeAmount: 7, timeUnit: "YEARS" },
      }],
    }],
  });
  try {
    assert.equal(await main(["once", ...cloudArgs(domain, cloud), "--max-events-per-object", "70"]), 0);
    assert.equal(await main(["once", ...cloudArgs(domain, cloud)]), 0);
    const archive = await readBucketArchive(cloud.oci);
    assert.deepEqual([...archive.ids].sort(), truthBefore(domain.emulator, archive.frontier!));
    const status = await runCli(["status"], { env: { ...domain.env, ...cloud.env } });
    assert.equal(status.code, 0, status.stderr);
    assert.match(JSON.parse(status.stdout).protection, /WORM: seven years: 7 years/);
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("status reads every page of the retention rules and tells a rule locked from one that locks later", async () => {
  // ListRetentionRules is paged (opc-next-page); timeRuleLocked is the time after which a rule is locked, so a
  // future one means "will lock then" (docs/oracle/oci-apis.md, "Object Storage").
  const domain = await startDomain({ events: recentEvents(95, 50) });
  const past = new Date(Date.now() - 30 * 86_400_000).toISOString();
  const future = new Date(Date.now() + 14 * 86_400_000).toISOString();
  const cloud = await startCloud(domain.dir, {
    buckets: [{
      name: BUCKET,
      retentionRulesPageSize: 1,
      retentionRules: [
        {
          id: "r1",
          displayName: "seven years",
          duration: { timeAmount: 7, timeUnit: "YEARS" },
          timeRuleLocked: past,
        },
        {
          id: "r2",
          displayName: "ninety days",
          duration: { timeAmount: 90, timeUnit: "DAYS" },
          timeRuleLocked: future,
        },
        { id: "r3", displayName: "forever" },
      ],
    }],
  });
  try {
    assert.equal(await main(["once", ...cloudArgs(domain, cloud)]), 0);
    const status = await runCli(["status"], { env: { ...domain.env, ...cloud.env } });
    assert.equal(status.code, 0, status.stderr);
    const { protection } = JSON.parse(status.stdout);
    assert.match(protection, /seven years: 7 years, locked\b/, protection);
    assert.match(
      protection,
      new RegExp(`ninety days: 90 days, locks at ${future.replace(/\./g, "\\.")}`),
      protection,
    );
    assert.doesNotMatch(protection, /ninety days: 90 days, locked/, protection);
    assert.match(protection, /forever: indefinite(;|$)/, protection);
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("an object another writer put at a window's name is never overwritten: the pass stops and says so", async () => {
  const domain = await startDomain({ events: recentEvents(95, 100) });
  const cloud = await startCloud(domain.dir, { faults: { rate412: 1 } });
  try {
    const result = await runCli(["once"], { env: { ...domain.env, ...cloud.env } });
    assert.equal(result.code, 1);
    // The other writer's object holds no seal of this archiver's key: nothing is built on it.
    assert.match(result.stderr, /is not vouched for by the archiver's key/);
    const objects = cloud.oci.objects(BUCKET);
    assert.equal(objects.length, 1, "only the other writer's object is there");
    assert.equal(
      objects.filter((o) => o.name.endsWith(".ndjson.gz")).length,
      0,
      "no data object may be written",
    );
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("a day folder of more than one listing page is listed page by page (nextStartWith); export reads the bucket", async () => {
  // One day two days back, so every object of the run lands in the same day folder, whatever the time now.
  const day = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000;
  const events = generateEvents({
    seed: 96,
    count: 60,
    from: day + 3_600_000,
    to: day + 6 * 3_600_000,
    tieRate: 0,
  });
  const domain = await startDomain({ events });
  // Pages of 25 names (the service may truncate a page below `limit`): the folder's 120 objects take five.
  const cloud = await startCloud(domain.dir, { listObjectsPageSize: 25 });
  try {
    assert.equal(
      await main([
        "once",
        ...cloudArgs(domain, cloud),
        "--max-events-per-object",
        "1",
        "--log-level",
        "error",
      ]),
      0,
    );
    const folders = new Map<string, number>();
    for (const object of cloud.oci.objects(BUCKET)) {
      const folder = object.name.slice(0, object.name.lastIndexOf("/"));
      folders.set(folder, (folders.get(folder) ?? 0) + 1);
    }
    assert.ok(Math.max(...folders.values()) > 100, "one day folder must hold several listing pages");
    assert.equal(await main(["once", ...cloudArgs(domain, cloud), "--log-level", "error"]), 0);
    const archive = await readBucketArchive(cloud.oci);
    assert.deepEqual(duplicates(archive.ids), []);
    assert.deepEqual([...archive.ids].sort(), truthBefore(domain.emulator, archive.frontier!));
    const out = `${domain.dir}/export.ndjson`;
    const exported = await runCli(
      ["export", "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", "--out", out],
      { env: { ...domain.env, ...cloud.env } },
    );
    assert.equal(exported.code, 0, exported.stderr);
    const lines = (await Deno.readTextFile(out)).split("\n").filter(Boolean);
    assert.deepEqual(lines.map((l) => JSON.parse(l).id).sort(), [...archive.ids].sort());
  } finally {
    await cloud.close();
    await domain.close();
  }
});
