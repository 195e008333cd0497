/**
 * The archiver end to end against the emulated identity domain: every event archived exactly once, windows
 * cut only between distinct timestamps, passes that resume from the archive, and export of what was kept.
 */

import assert from "node:assert/strict";
import { generateEvents } from "../emulators/idcs.ts";
import {
  assertCompleteArchive,
  duplicates,
  HOUR,
  readArchive,
  recentEvents,
  runMain,
  startDomain,
  verifyDir,
} from "../harness.ts";

Deno.test("every event is archived exactly once across many pages, cuts and shuffled ties", async () => {
  const domain = await startDomain({
    events: recentEvents(1, 5000),
    faults: { shuffleTies: true, latencyMs: 5 },
  });
  try {
    const code = await runMain(
      "once",
      domain,
      "--page-size",
      "100",
      "--max-events-per-object",
      "700",
      "--concurrency",
      "3",
    );
    assert.equal(code, 0);
    const { stats } = domain.emulator;
    assert.equal(stats.tokensIssued, 1, "one access token serves the whole pass");
    assert.ok(
      stats.maxInFlight >= 2 && stats.maxInFlight <= 3,
      `pages in flight: ${stats.maxInFlight}, CONCURRENCY 3`,
    );
    const archive = await assertCompleteArchive(domain);
    assert.equal(archive.ids.length, 5000);
    assert.ok(
      archive.objects >= 8,
      `5000 events at ≤ 700 per object need ≥ 8 objects, got ${archive.objects}`,
    );
    const report = await verifyDir(domain.archiveDir);
    assert.deepEqual(report.problems, []);
    assert.equal(report.chains[0].events, 5000);
  } finally {
    await domain.close();
  }
});

Deno.test("a second pass right after the first commits nothing twice", async () => {
  const domain = await startDomain({ events: recentEvents(2, 800) });
  try {
    assert.equal(await runMain("once", domain), 0);
    const first = await readArchive(domain.archiveDir);
    assert.equal(await runMain("once", domain), 0);
    const second = await readArchive(domain.archiveDir);
    assert.deepEqual(duplicates(second.ids), []);
    assert.deepEqual([...second.ids].sort(), [...first.ids].sort());
    assert.deepEqual((await verifyDir(domain.archiveDir)).problems, []);
  } finally {
    await domain.close();
  }
});

Deno.test("a millisecond shared by more events than MAX_EVENTS_PER_OBJECT stays whole in one window", async () => {
  const now = Date.now();
  const tie = new Date(now - 2 * HOUR).toISOString();
  const before = generateEvents({
    seed: 3,
    count: 30,
    from: now - 3 * HOUR,
    to: now - 2 * HOUR - 1000,
    tieRate: 0,
  });
  const group = generateEvents({ seed: 4, count: 45, from: now - HOUR, to: now - HOUR + 1, tieRate: 0 })
    .map((event) => ({ ...event, timestamp: tie }));
  const after = generateEvents({
    seed: 5,
    count: 30,
    from: now - 2 * HOUR + 1000,
    to: now - HOUR,
    tieRate: 0,
  });
  const domain = await startDomain({
    events: [...before, ...group, ...after],
    faults: { shuffleTies: true },
    since: "1d",
  });
  try {
    assert.equal(await runMain("once", domain, "--max-events-per-object", "10", "--page-size", "7"), 0);
    const archive = await assertCompleteArchive(domain);
    const tied = group.map((event) => archive.objectOf.get(event.id));
    assert.equal(
      new Set(tied).size,
      1,
      `the 45 events of one millisecond are split over ${new Set(tied).size} objects`,
    );
    assert.ok(
      tied[0]!.includes(`${tie.replace(/[-:]/g, "")}--`),
      `${tied[0]} should be the window starting at the tie`,
    );
    assert.ok(archive.objects >= 8, `105 events at ≤ 10 per object (one group of 45) need ≥ 8 objects`);
  } finally {
    await domain.close();
  }
});
