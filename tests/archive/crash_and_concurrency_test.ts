/**
 * Crash safety and concurrent instances on one directory (docs/design.md §6.1–6.3): a process killed at any moment
 * leaves no data object that is not a committed window, a half-committed window is completed by the next pass,
 * and passes racing on the same configuration commit each window once.
 */

import assert from "node:assert/strict";
import {
  assertCompleteArchive,
  listFiles,
  recentEvents,
  runCli,
  runMain,
  startDomain,
  verifyDir,
} from "../harness.ts";

Deno.test("a process killed at twenty different moments never leaves an uncommitted .ndjson.gz behind", async () => {
  const domain = await startDomain({ events: recentEvents(51, 1500), faults: { latencyMs: 5 } });
  try {
    for (let i = 0; i < 20; i++) {
      await runCli(["once", "--max-events-per-object", "25", "--page-size", "10"], {
        env: domain.env,
        killAfterMs: 60 + i * 37,
      });
      const files = await listFiles(domain.archiveDir);
      const manifests = new Set(
        files.filter((n) => n.endsWith(".manifest.json")).map((n) => n.split("/").pop()!.slice(0, 20)),
      );
      for (const data of files.filter((n) => n.endsWith(".ndjson.gz"))) {
        assert.ok(
          manifests.has(data.split("/").pop()!.slice(0, 20)),
          `${data} has no manifest: an uncommitted object`,
        );
      }
    }
    assert.equal(await runMain("once", domain), 0);
    await assertCompleteArchive(domain);
  } finally {
    await domain.close();
  }
});

Deno.test("a crash between manifest and data is completed by the next pass with the identical object", async () => {
  const domain = await startDomain({ events: recentEvents(52, 300) });
  try {
    assert.equal(await runMain("once", domain, "--max-events-per-object", "40"), 0);
    const files = await listFiles(domain.archiveDir);
    const last = files.filter((n) => n.endsWith(".ndjson.gz")).at(-1)!;
    const original = await Deno.readFile(`${domain.archiveDir}/${last}`);
    // The state a crash right after the manifest's creation leaves: the claim exists, the data does not.
    await Deno.remove(`${domain.archiveDir}/${last}`);
    assert.match((await verifyDir(domain.archiveDir)).problems.join("\n"), /is missing/);
    assert.equal(await runMain("once", domain), 0);
    assert.deepEqual(await Deno.readFile(`${domain.archiveDir}/${last}`), original);
    assert.deepEqual((await verifyDir(domain.archiveDir)).problems, []);
  } finally {
    await domain.close();
  }
});

Deno.test("eight passes started together on one directory commit each window once", async () => {
  const domain = await startDomain({
    events: recentEvents(53, 2000),
    faults: { shuffleTies: true, latencyMs: 2 },
  });
  try {
    const inProcess = Array.from(
      { length: 4 },
      () => runMain("once", domain, "--max-events-per-object", "100"),
    );
    const processes = Array.from(
      { length: 4 },
      () => runCli(["once", "--max-events-per-object", "100"], { env: domain.env }).then((r) => r.code),
    );
    assert.deepEqual(await Promise.all([...inProcess, ...processes]), [0, 0, 0, 0, 0, 0, 0, 0]);
    await assertCompleteArchive(domain);
  } finally {
    await domain.close();
  }
});

Deno.test("two instances with different window limits racing from one frontier cannot overlap", async () => {
  const domain = await startDomain({ events: recentEvents(54, 1200), faults: { latencyMs: 3 } });
  try {
    const codes = await Promise.all([
      runMain("once", domain, "--max-events-per-object", "37"),
      runMain("once", domain, "--max-events-per-object", "211"),
      runCli(["once", "--max-events-per-object", "90"], { env: domain.env }).then((r) => r.code),
    ]);
    assert.deepEqual(codes, [0, 0, 0]);
    await assertCompleteArchive(domain);
  } finally {
    await domain.close();
  }
});
