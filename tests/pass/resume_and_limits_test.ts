/**
 * Passes that stop early (MAX_EVENTS, DEADLINE, MIN_INTERVAL) and passes that start late (an outage of days)
 * leave no gap: the next pass resumes from the frontier the archive itself records.
 */

import assert from "node:assert/strict";
import { generateEvents } from "../emulators/idcs.ts";
import { assertCompleteArchive, DAY, readArchive, recentEvents, runMain, startDomain } from "../harness.ts";

Deno.test("MAX_EVENTS ends a pass early and the following passes complete the archive with no gap", async () => {
  const domain = await startDomain({ events: recentEvents(11, 3000) });
  try {
    const frontiers: number[] = [];
    for (let pass = 0; pass < 40; pass++) {
      assert.equal(await runMain("once", domain, "--max-events", "400", "--max-events-per-object", "150"), 0);
      const archive = await readArchive(domain.archiveDir);
      frontiers.push(archive.frontier!);
      assert.ok(
        archive.ids.length <= (pass + 1) * 400 + 150,
        `pass ${pass} archived more than MAX_EVENTS allows`,
      );
      if (archive.ids.length === 3000) break;
    }
    assert.ok(frontiers.length >= 8, `3000 events at 400 per pass need ≥ 8 passes, took ${frontiers.length}`);
    assert.equal((await assertCompleteArchive(domain)).ids.length, 3000);
  } finally {
    await domain.close();
  }
});

Deno.test("after an outage of nine days the next pass resumes at the frontier, not at yesterday", async () => {
  const now = Date.now();
  const events = generateEvents({
    seed: 12,
    count: 2000,
    from: now - 12 * DAY,
    to: now - 60_000,
    tieRate: 0.2,
  });
  const domain = await startDomain({ events, since: "13d" });
  try {
    // The first pass stops after two days' worth, as if the archiver then stood still for nine days.
    assert.equal(await runMain("once", domain, "--max-events", "300"), 0);
    const stalled = await readArchive(domain.archiveDir);
    assert.ok(stalled.frontier! < now - 9 * DAY, "the first pass must stop days in the past for this test");
    assert.equal(await runMain("once", domain), 0);
    const archive = await readArchive(domain.archiveDir);
    assert.equal(archive.ids.length, 2000);
    await assertCompleteArchive(domain);
  } finally {
    await domain.close();
  }
});

Deno.test("events indexed late, but within SETTLE, are archived; the window waits for them", async () => {
  const now = Date.now();
  const domain = await startDomain({
    events: recentEvents(13, 500, 1, 30_000),
    extraArgs: ["--settle", "20s"],
  });
  try {
    // Three events 5 s ago that become visible only in 2 s: inside SETTLE, so no window may have closed over them.
    const late = generateEvents({ seed: 14, count: 3, from: now - 5_000, to: now - 4_000 });
    domain.emulator.addEvents(late, now + 2_000);
    assert.equal(await runMain("once", domain), 0);
    const first = await readArchive(domain.archiveDir);
    assert.ok(first.frontier! <= Date.now() - 20_000, "the frontier must stay SETTLE behind now");
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    assert.equal(await runMain("once", domain, "--settle", "0s"), 0);
    const archive = await readArchive(domain.archiveDir);
    for (const event of late) assert.ok(archive.ids.includes(event.id), `late event ${event.id} was lost`);
    await assertCompleteArchive(domain);
  } finally {
    await domain.close();
  }
});

Deno.test("MIN_INTERVAL skips a pass whose frontier is recent; DEADLINE stops starting windows", async () => {
  const domain = await startDomain({ events: recentEvents(15, 600) });
  try {
    assert.equal(await runMain("once", domain), 0);
    const first = await readArchive(domain.archiveDir);
    domain.emulator.addEvents(recentEvents(16, 5, 0.001, 1_000));
    assert.equal(await runMain("once", domain, "--min-interval", "1h"), 0);
    assert.equal(
      (await readArchive(domain.archiveDir)).frontier,
      first.frontier,
      "MIN_INTERVAL must skip the pass",
    );
  } finally {
    await domain.close();
  }
  const slow = await startDomain({ events: recentEvents(17, 600), faults: { latencyMs: 150 } });
  try {
    assert.equal(await runMain("once", slow, "--deadline", "1s", "--max-events-per-object", "20"), 0);
    const partial = await readArchive(slow.archiveDir);
    assert.ok(
      partial.ids.length < 600,
      `a 1 s deadline at 150 ms per request must stop early (${partial.ids.length})`,
    );
    assert.equal(await runMain("once", slow), 0);
    await assertCompleteArchive(slow);
  } finally {
    await slow.close();
  }
});

Deno.test("export returns exactly the archived events in [from, to), in archive order", async () => {
  const domain = await startDomain({ events: recentEvents(18, 1500) });
  try {
    assert.equal(await runMain("once", domain, "--max-events-per-object", "200"), 0);
    const now = Date.now();
    const from = new Date(now - 2 * DAY + 12_345).toISOString();
    const to = new Date(now - DAY + 678).toISOString();
    const out = `${domain.dir}/export.ndjson`;
    assert.equal(await runMain("export", domain, "--from", from, "--to", to, "--out", out), 0);
    const exported = (await Deno.readTextFile(out)).split("\n").filter(Boolean).map((line) =>
      JSON.parse(line)
    );
    const expected = domain.emulator.visibleEvents().filter((e) => e.timestamp >= from && e.timestamp < to);
    assert.deepEqual(exported.map((e) => e.id).sort(), expected.map((e) => e.id).sort());
    assert.deepEqual(
      exported,
      [...exported].sort((a, b) =>
        a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.id < b.id ? -1 : 1
      ),
    );
    assert.equal(
      await runMain("export", domain, "--from", from, "--to", to, "--out", out),
      2,
      "export never overwrites",
    );
    const byId = new Map(expected.map((e) => [e.id, e]));
    for (const event of exported) {
      assert.deepEqual(event, byId.get(event.id), "events are archived exactly as returned");
    }
  } finally {
    await domain.close();
  }
});

Deno.test("a PKCS#1 key and a client secret both authenticate", async () => {
  const pkcs1 = await startDomain({ events: recentEvents(19, 50), pkcs1: true });
  try {
    assert.equal(await runMain("once", pkcs1), 0);
    assert.equal((await readArchive(pkcs1.archiveDir)).ids.length, 50);
  } finally {
    await pkcs1.close();
  }
  const secret = await startDomain({
    events: recentEvents(20, 50),
    clientSecret: "s3cret-client-secret-value",
  });
  try {
    assert.equal(await runMain("once", secret), 0);
    assert.equal((await readArchive(secret.archiveDir)).ids.length, 50);
    assert.equal(secret.emulator.stats.rejectedAssertions, 0);
  } finally {
    await secret.close();
  }
});
