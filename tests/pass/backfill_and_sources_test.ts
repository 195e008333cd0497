/**
 * backfill archives an older stretch as a segment that ends exactly where the archive begins, so the whole
 * still tiles; a --config file archives several identity domains from one process, each its own chain.
 */

import assert from "node:assert/strict";
import { generateEvents } from "../emulators/idcs.ts";
import {
  assertCompleteArchive,
  DAY,
  readArchive,
  runCli,
  runMain,
  startDomain,
  TEST_RETRY_WAIT,
} from "../harness.ts";

const midnight = (ms: number) => Math.floor(ms / DAY) * DAY;
const iso = (ms: number) => new Date(ms).toISOString();

Deno.test("backfill before the archive's start fills exactly up to it, and verify proves the whole", async () => {
  const now = Date.now();
  const events = generateEvents({
    seed: 81,
    count: 3000,
    from: now - 5 * DAY,
    to: now - 60_000,
    tieRate: 0.3,
  });
  const domain = await startDomain({ events, since: "1d" });
  try {
    assert.equal(await runMain("once", domain), 0);
    const recent = await readArchive(domain.archiveDir);
    const archiveStart = midnight(now - DAY);
    assert.ok(recent.ids.length < 3000, "the first pass archives only from SINCE on");
    const from = midnight(now - 5 * DAY);
    // Interrupted by MAX_EVENTS, then completed by running the same backfill again.
    assert.equal(await runMain("backfill", domain, "--from", iso(from), "--max-events", "500"), 0);
    assert.equal(await runMain("backfill", domain, "--from", iso(from)), 0);
    const archive = await assertCompleteArchive(domain);
    assert.equal(archive.ids.length, 3000);
    const genesis = await Deno.readTextFile(
      `${domain.archiveDir}/audit-archive/idcs/${
        domain.emulator.url.slice(7).replace(":", "-")
      }/genesis-until-${iso(archiveStart).replace(/[-:]/g, "")}.json`,
    );
    assert.equal(JSON.parse(genesis).start, iso(from));
    assert.equal(await runMain("once", domain), 0, "the main chain goes on after a backfill");
    await assertCompleteArchive(domain);
  } finally {
    await domain.close();
  }
});

Deno.test("backfill --to before the archive's start is refused: it would leave a gap", async () => {
  const domain = await startDomain({
    events: generateEvents({ seed: 82, count: 10, from: Date.now() - DAY, to: Date.now() }),
    since: "1d",
  });
  try {
    assert.equal(await runMain("once", domain), 0);
    const result = await runCli(
      ["backfill", "--from", iso(Date.now() - 6 * DAY), "--to", iso(Date.now() - 4 * DAY)],
      { env: domain.env },
    );
    assert.equal(result.code, 2);
    assert.match(result.stderr, /would leave a gap before the archive's start/);
  } finally {
    await domain.close();
  }
});

Deno.test("backfill --from at or after the archive's start exits 2 saying where the archive starts; nothing written", async () => {
  const domain = await startDomain({
    events: generateEvents({ seed: 84, count: 10, from: Date.now() - 2 * DAY, to: Date.now() }),
    since: "2d",
  });
  try {
    assert.equal(await runMain("once", domain), 0);
    const before = await domain.files();
    const start = iso(midnight(Date.now() - 2 * DAY));
    const result = await runCli(["backfill", "--from", iso(Date.now() - DAY)], { env: domain.env });
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      new RegExp(`already starts at ${start.replaceAll(".", "\\.")}: backfill only fills before the start`),
    );
    assert.deepEqual(await domain.files(), before, "nothing may be written");
  } finally {
    await domain.close();
  }
});

Deno.test("backfill on an empty archive starts the chain at --from and stops at --to; once goes on from there", async () => {
  const now = Date.now();
  const events = generateEvents({ seed: 83, count: 1000, from: now - 3 * DAY, to: now - 60_000 });
  const domain = await startDomain({ events });
  try {
    const to = midnight(now - DAY) + 12_345;
    assert.equal(await runMain("backfill", domain, "--from", iso(now - 3 * DAY), "--to", iso(to)), 0);
    assert.equal((await readArchive(domain.archiveDir)).frontier, to);
    assert.equal(await runMain("once", domain), 0);
    const archive = await assertCompleteArchive(domain);
    assert.equal(archive.ids.length, events.filter((e) => Date.parse(e.timestamp) >= now - 3 * DAY).length);
  } finally {
    await domain.close();
  }
});

Deno.test("a --config file with two identity domains archives both, each in its own chain", async () => {
  const first = await startDomain({
    events: generateEvents({ seed: 84, count: 300, from: Date.now() - DAY, to: Date.now() - 60_000 }),
  });
  const second = await startDomain({
    events: generateEvents({ seed: 85, count: 200, from: Date.now() - DAY, to: Date.now() - 60_000 }),
  });
  try {
    const config = `${first.dir}/config.json`;
    const entry = (d: typeof first) => ({
      IDCS_URL: d.env.IDCS_URL,
      IDCS_CLIENT_ID: d.env.IDCS_CLIENT_ID,
      IDCS_KEY_ID: d.env.IDCS_KEY_ID,
      IDCS_PRIVATE_KEY_FILE: d.env.IDCS_PRIVATE_KEY_FILE,
    });
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        ARCHIVE_DIR: first.archiveDir,
        SINCE: "2d",
        SETTLE: "0s",
        MIN_INTERVAL: "0s",
        MAX_RETRY_WAIT: TEST_RETRY_WAIT,
        sources: [entry(first), entry(second)],
      }),
    );
    const result = await runCli(["once", "--config", config], { env: { LOG_LEVEL: "error" } });
    assert.equal(result.code, 0, result.stderr);
    const archive = await readArchive(first.archiveDir);
    assert.equal(archive.ids.length, 500);
    const report = JSON.parse((await runCli(["verify"], { env: { ARCHIVE_DIR: first.archiveDir } })).stdout);
    assert.equal(report.chains.length, 2);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.chains.map((c: { events: number }) => c.events).sort(), [200, 300]);
  } finally {
    await first.close();
    await second.close();
  }
});

Deno.test("backfill stopped by SIGINT after a window exits 0, and run again resumes where it stopped", async () => {
  const now = Date.now();
  const events = generateEvents({
    seed: 84,
    count: 1500,
    from: now - 4 * DAY,
    to: now - 60_000,
    tieRate: 0.1,
  });
  const domain = await startDomain({ events, since: "1d", faults: { latencyMs: 30 } });
  try {
    assert.equal(await runMain("once", domain), 0);
    const from = iso(midnight(now - 4 * DAY));
    let child: Deno.ChildProcess | undefined;
    const before = (await readArchive(domain.archiveDir)).objects;
    const interrupted = runCli(["backfill", "--from", from, "--max-events-per-object", "50"], {
      env: { ...domain.env, LOG_LEVEL: "info" },
      onSpawn: (spawned) => child = spawned,
    });
    // SIGINT once the backfill has committed a window of its own.
    for (let i = 0; i < 300 && (await readArchive(domain.archiveDir)).objects === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child!.kill("SIGINT");
    const first = await interrupted;
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /backfill interrupted: run it again to resume/);
    assert.ok(
      (await readArchive(domain.archiveDir)).ids.length < 1500,
      "the backfill stopped before the end",
    );
    assert.equal(await runMain("backfill", domain, "--from", from), 0);
    const archive = await assertCompleteArchive(domain);
    assert.equal(archive.ids.length, 1500);
  } finally {
    await domain.close();
  }
});
