/**
 * The cadence a writer declares in each checkpoint (docs/design.md §8): `verify` bounds the newest checkpoint's
 * age by it — not by the verifier's own SCHEDULE — and tells "passes stopped" from "checkpoints removed" as
 * far as the evidence allows. Verified in-process with a clock hours later (the `now` verify takes).
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { DirectorySink } from "../../src/archive/directory_sink.ts";
import { encodeRecord } from "../../src/archive/format.ts";
import { signedBytes } from "../../src/archive/seal.ts";
import { encodeBase64 } from "../../src/bytes.ts";
import { loadCheckpointKey } from "../../src/proof/checkpoint_key.ts";
import { verifyArchive } from "../../src/proof/verify.ts";
import { HOUR, listFiles, recentEvents, runMain, startDomain, waitFor } from "../harness.ts";

const PREFIX = "audit-archive";

const checkpointsOf = (files: string[]) => files.filter((n) => n.endsWith(".checkpoint.json")).sort();

/** The program's own verify of `archiveDir`, with a clock `laterMs` ahead (and the mirror's checkpoints). */
const verifyLater = (archiveDir: string, laterMs: number, mirror?: string, scheduleIntervalMs?: number) =>
  verifyArchive(new DirectorySink(archiveDir), PREFIX, -Infinity, Infinity, {
    now: Date.now() + laterMs,
    mirror: mirror === undefined ? undefined : new DirectorySink(mirror),
    scheduleIntervalMs,
  });

/** `run` until its pass at start has signed a checkpoint, then stopped as SIGTERM would. */
async function runUntilCheckpoint(domain: { args: string[]; archiveDir: string }, ...extra: string[]) {
  const stop = new AbortController();
  const running = main(["run", ...domain.args, ...extra], stop.signal);
  await waitFor("the checkpoint of the pass at start", async () => {
    const files = checkpointsOf(await listFiles(domain.archiveDir));
    return files.length ? files : undefined;
  });
  stop.abort();
  assert.equal(await running, 0);
}

Deno.test("an archive written by `once` (on demand, like the demo) verifies hours later, its age stated", async () => {
  const domain = await startDomain({ events: recentEvents(401, 80) });
  try {
    assert.equal(await runMain("once", domain, "--checkpoint-key-file", `${domain.dir}/checkpoint.pem`), 0);
    const report = await verifyLater(domain.archiveDir, 2 * HOUR);
    assert.deepEqual(report.problems, []);
    assert.equal(report.newestCheckpoint?.cadence, "on-demand");
    assert.equal(report.newestCheckpoint?.verdict, "on demand");
    assert.ok(report.newestCheckpoint!.ageMinutes >= 119, `${report.newestCheckpoint!.ageMinutes} min`);
  } finally {
    await domain.close();
  }
});

Deno.test("a `run`-written archive whose newest checkpoint is older than its schedule allows: passes stopped", async () => {
  const domain = await startDomain({ events: recentEvents(402, 80) });
  try {
    await runUntilCheckpoint(
      domain,
      "--checkpoint-key-file",
      `${domain.dir}/checkpoint.pem`,
      "--schedule",
      "0 * * * *",
    );
    const recent = await verifyLater(domain.archiveDir, 30 * 60_000);
    assert.deepEqual(recent.problems, [], "within two hourly passes and 15 min");
    assert.deepEqual(recent.newestCheckpoint?.cadence, { schedule: "0 * * * *", intervalSeconds: 3600 });
    const stale = await verifyLater(domain.archiveDir, 3 * HOUR);
    assert.equal(stale.newestCheckpoint?.verdict, "passes stopped or checkpoints removed");
    assert.match(
      stale.problems.join("\n"),
      /the newest checkpoint \(1, .*\) is 1\d\d min old, more than its writer's schedule 0 \* \* \* \* allows \(135 min\): passes stopped/,
    );
  } finally {
    await domain.close();
  }
});

Deno.test("newest checkpoints removed from the archive while the mirror holds them: checkpoints removed", async () => {
  const domain = await startDomain({ events: recentEvents(403, 80) });
  const mirror = `${domain.dir}/mirror`;
  const flags = [
    "--checkpoint-key-file",
    `${domain.dir}/checkpoint.pem`,
    "--checkpoint-mirror",
    mirror,
    // A timer runs `once` every 15 minutes: it declares that cadence.
    "--schedule",
    "*/15 * * * *",
  ];
  try {
    for (let pass = 0; pass < 3; pass++) assert.equal(await runMain("once", domain, ...flags), 0);
    const files = await listFiles(domain.archiveDir);
    for (
      const name of [
        ...checkpointsOf(files).slice(1),
        ...files.filter((n) => n.includes("/_checkpoints/claims/") && !n.endsWith("/first.json")),
      ]
    ) {
      await Deno.remove(`${domain.archiveDir}/${name}`);
    }
    const mirrored = await verifyLater(domain.archiveDir, 0, mirror);
    assert.equal(mirrored.newestCheckpoint?.verdict, "checkpoints removed");
    assert.match(mirrored.problems.join("\n"), /is in the checkpoint mirror but not in the archive/);
    // The archive alone, an hour later: its newest checkpoint is stale, and nothing in it shows why.
    const alone = await verifyLater(domain.archiveDir, HOUR);
    assert.equal(alone.newestCheckpoint?.sequence, 1);
    assert.equal(alone.newestCheckpoint?.verdict, "passes stopped or checkpoints removed");
    assert.match(
      alone.problems.join("\n"),
      /only the checkpoint mirror \(verify --mirror\) tells them apart/,
    );
  } finally {
    await domain.close();
  }
});

Deno.test("a checkpoint removed with its claim left behind: checkpoints removed", async () => {
  const domain = await startDomain({ events: recentEvents(404, 80) });
  const flags = ["--checkpoint-key-file", `${domain.dir}/checkpoint.pem`, "--schedule", "*/15 * * * *"];
  try {
    for (let pass = 0; pass < 2; pass++) assert.equal(await runMain("once", domain, ...flags), 0);
    await Deno.remove(`${domain.archiveDir}/${checkpointsOf(await listFiles(domain.archiveDir)).at(-1)}`);
    const report = await verifyLater(domain.archiveDir, HOUR);
    assert.equal(report.newestCheckpoint?.verdict, "checkpoints removed");
    assert.match(report.problems.join("\n"), /checkpoints were removed: a claim holds checkpoint 2/);
  } finally {
    await domain.close();
  }
});

Deno.test("a forged cadence (an edited checkpoint) is not trusted: the last authentic one's cadence bounds the age", async () => {
  const domain = await startDomain({ events: recentEvents(405, 80) });
  const flags = ["--checkpoint-key-file", `${domain.dir}/checkpoint.pem`, "--schedule", "*/15 * * * *"];
  try {
    for (let pass = 0; pass < 2; pass++) assert.equal(await runMain("once", domain, ...flags), 0);
    const newest = `${domain.archiveDir}/${checkpointsOf(await listFiles(domain.archiveDir)).at(-1)}`;
    const checkpoint = JSON.parse(await Deno.readTextFile(newest));
    await Deno.writeTextFile(newest, JSON.stringify({ ...checkpoint, cadence: "on-demand" }) + "\n");
    const report = await verifyLater(domain.archiveDir, 2 * HOUR);
    const problems = report.problems.join("\n");
    assert.match(problems, /checkpoint\.json: the signature does not verify/);
    assert.equal(report.newestCheckpoint?.sequence, 1, "the newest authentic checkpoint");
    assert.deepEqual(report.newestCheckpoint?.cadence, { schedule: "*/15 * * * *", intervalSeconds: 900 });
    assert.match(problems, /more than its writer's schedule \*\/15 \* \* \* \* allows \(45 min\)/);
  } finally {
    await domain.close();
  }
});

Deno.test("a checkpoint from before cadences were declared is bounded by the verifier's SCHEDULE, as before", async () => {
  const domain = await startDomain({ events: recentEvents(406, 80) });
  const keyFile = `${domain.dir}/checkpoint.pem`;
  try {
    assert.equal(await runMain("once", domain, "--checkpoint-key-file", keyFile), 0);
    // What an older writer signed: the same checkpoint without the field, signed with the same key.
    const name = `${domain.archiveDir}/${checkpointsOf(await listFiles(domain.archiveDir))[0]}`;
    const { cadence: _, signature: __, ...older } = JSON.parse(await Deno.readTextFile(name));
    const key = await loadCheckpointKey(keyFile);
    const signature = encodeBase64(await key.sign(signedBytes(older)));
    await Deno.writeFile(name, encodeRecord({ ...older, signature }));
    const stale = await verifyLater(domain.archiveDir, 2 * HOUR, undefined, 15 * 60_000);
    assert.equal(stale.newestCheckpoint?.cadence, "undeclared");
    assert.equal(stale.newestCheckpoint?.boundBy, "the verifier's SCHEDULE");
    assert.match(stale.problems.join("\n"), /more than the verifier's SCHEDULE .* allows \(45 min\)/);
    assert.deepEqual((await verifyLater(domain.archiveDir, 2 * HOUR, undefined, HOUR)).problems, []);
  } finally {
    await domain.close();
  }
});

Deno.test("reconcile between scheduled passes carries their cadence; once by hand declares on demand", async () => {
  const domain = await startDomain({ events: recentEvents(407, 80) });
  const keyFlags = ["--checkpoint-key-file", `${domain.dir}/checkpoint.pem`];
  const hourly = { schedule: "0 * * * *", intervalSeconds: 3600 };
  const newestCadence = async () => (await verifyLater(domain.archiveDir, 0)).newestCheckpoint?.cadence;
  try {
    assert.equal(await runMain("once", domain, ...keyFlags, "--schedule", hourly.schedule), 0);
    assert.deepEqual(await newestCadence(), hourly);
    assert.equal(await runMain("reconcile", domain, ...keyFlags), 0);
    assert.deepEqual(await newestCadence(), hourly, "reconcile is not a pass: it lifts no bound");
    assert.equal(await runMain("once", domain, ...keyFlags), 0);
    assert.equal(await newestCadence(), "on-demand");
    assert.equal(await runMain("reconcile", domain, ...keyFlags, "--schedule", "*/30 * * * *"), 0);
    assert.deepEqual(await newestCadence(), { schedule: "*/30 * * * *", intervalSeconds: 1800 });
  } finally {
    await domain.close();
  }
});
