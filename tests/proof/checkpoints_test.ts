/**
 * Signed checkpoints (docs/design.md §8, invariant 8): every pass signs every chain's head, so removing the newest
 * windows, a whole chain or recent checkpoints, or rewriting the chain without the signing key, makes `verify`
 * fail — and with `--public-key` (the auditor's own copy) nothing stored in the archive is trusted.
 */

import assert from "node:assert/strict";
import { generateEvents } from "../emulators/idcs.ts";
import { listFiles, publicKeyOf, recentEvents, runCli, runMain, startDomain } from "../harness.ts";

const PREFIX = "audit-archive";

/** An archive of several passes (several checkpoints), its own checkpoint key, and the auditor's public key. */
async function checkpointed(seed: number) {
  const domain = await startDomain({ events: recentEvents(seed, 200, 2, 120_000) });
  const keyFile = `${domain.dir}/checkpoint.pem`;
  const flags = ["--checkpoint-key-file", keyFile, "--max-events-per-object", "40"];
  assert.equal(await runMain("once", domain, ...flags), 0);
  // Later passes with new events: each commits windows and signs a new checkpoint.
  for (const [i, offset] of [90_000, 60_000].entries()) {
    const now = Date.now();
    domain.emulator.addEvents(
      generateEvents({ seed: seed * 10 + i, count: 30, from: now - offset - 20_000, to: now - offset }),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(await runMain("once", domain, ...flags), 0);
  assert.equal(await runMain("once", domain, ...flags), 0, "a pass that finds nothing new also checkpoints");
  const publicKeyFile = `${domain.dir}/auditor-public.pem`;
  await Deno.writeTextFile(publicKeyFile, await publicKeyOf(keyFile));
  const verify = async (...extra: string[]) => {
    const result = await runCli(["verify", ...extra], { env: { ARCHIVE_DIR: domain.archiveDir } });
    return {
      code: result.code,
      problems: JSON.parse(result.stdout).problems as string[],
      report: JSON.parse(result.stdout),
    };
  };
  const files = async () => await listFiles(domain.archiveDir);
  const remove = async (name: string) => await Deno.remove(`${domain.archiveDir}/${name}`);
  return { domain, keyFile, flags, publicKeyFile, verify, files, remove };
}

const isWindowFile = (n: string) => n.endsWith(".manifest.json") || n.endsWith(".ndjson.gz");
const checkpointsOf = (files: string[]) => files.filter((n) => n.endsWith(".checkpoint.json")).sort();

Deno.test("an untouched archive verifies with its checkpoints, and with the auditor's own public key", async () => {
  const archive = await checkpointed(301);
  try {
    const plain = await archive.verify();
    assert.deepEqual(plain.problems, []);
    assert.ok(plain.report.checkpoints >= 3, `${plain.report.checkpoints} checkpoints`);
    assert.deepEqual((await archive.verify("--public-key", archive.publicKeyFile)).problems, []);
    const files = await archive.files();
    assert.ok(files.some((n) => n.startsWith(`${PREFIX}/_checkpoints/keys/`)), "the public key is published");
    assert.ok(!files.some((n) => n.endsWith(".pem")), "no key file in the archive");
    // status shows the newest checkpoint its key vouches for: with the key, or with the pinned public key.
    for (
      const env of [
        { CHECKPOINT_KEY_FILE: archive.keyFile },
        { CHECKPOINT_PUBLIC_KEYS: archive.publicKeyFile },
      ] as Record<string, string>[]
    ) {
      const status = JSON.parse(
        (await runCli(["status"], { env: { ARCHIVE_DIR: archive.domain.archiveDir, ...env } })).stdout,
      );
      assert.equal(
        status.checkpoint.sequence,
        plain.report.checkpoints,
        "status shows the newest checkpoint",
      );
      assert.ok(status.checkpoint.ageSeconds >= 0 && status.checkpoint.ageSeconds < 600);
    }
    const unkeyed = JSON.parse(
      (await runCli(["status"], { env: { ARCHIVE_DIR: archive.domain.archiveDir } })).stdout,
    );
    assert.match(
      unkeyed.checkpoint.problem,
      /not vouched for by the archiver's key/,
      "no key: no checkpoint vouched",
    );
  } finally {
    await archive.domain.close();
  }
});

Deno.test("removing the newest window, or the newest two, makes verify fail: the checkpoint recorded a later head", async () => {
  for (const count of [1, 2]) {
    const archive = await checkpointed(302 + count);
    try {
      const windows = (await archive.files()).filter(isWindowFile).sort();
      const starts = [...new Set(windows.map((n) => n.split("/").pop()!.slice(0, 20)))].slice(-count);
      for (const name of windows.filter((n) => starts.some((s) => n.includes(`/${s}`)))) {
        await archive.remove(name);
      }
      const { code, problems } = await archive.verify();
      assert.equal(code, 1);
      assert.match(problems.join("\n"), /no longer holds the head checkpoint \d+ recorded/);
    } finally {
      await archive.domain.close();
    }
  }
});

Deno.test("removing a whole chain makes verify fail: a chain a checkpoint names is missing", async () => {
  const archive = await checkpointed(305);
  try {
    const chain = (await archive.files()).find((n) => n.endsWith("genesis.json"))!.replace(
      /\/genesis\.json$/,
      "",
    );
    await Deno.remove(`${archive.domain.archiveDir}/${chain}`, { recursive: true });
    const { code, problems } = await archive.verify();
    assert.equal(code, 1);
    assert.match(problems.join("\n"), /which checkpoint \d+ names, is missing/);
  } finally {
    await archive.domain.close();
  }
});

Deno.test("removing a checkpoint from the middle makes verify fail: the sequence has a gap", async () => {
  const archive = await checkpointed(306);
  try {
    const checkpoints = checkpointsOf(await archive.files());
    await archive.remove(checkpoints[1]);
    const { code, problems } = await archive.verify();
    assert.equal(code, 1);
    assert.match(problems.join("\n"), /checkpoint 2 is missing/);
  } finally {
    await archive.domain.close();
  }
});

Deno.test("removing the newest window and every checkpoint after it is caught by staleness", async () => {
  const archive = await checkpointed(307);
  try {
    const files = await archive.files();
    const checkpoints = checkpointsOf(files);
    const keep = checkpoints[0];
    for (const name of checkpoints.slice(1)) await archive.remove(name);
    for (const name of files.filter((n) => n.includes("/_checkpoints/claims/"))) await archive.remove(name);
    // Every window committed after the first checkpoint goes too: what that checkpoint recorded still stands,
    // and only its age gives the removal away.
    const first = JSON.parse(await Deno.readTextFile(`${archive.domain.archiveDir}/${keep}`));
    const frontier = first.chains[0].frontier.replace(/[-:]/g, "");
    const later = files.filter(isWindowFile).filter((n) => n.split("/").pop()!.slice(0, 20) >= frontier);
    assert.ok(later.length > 0, "later passes committed windows");
    for (const name of later) await archive.remove(name);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.deepEqual(
      (await archive.verify()).problems,
      [],
      "without a staleness bound nothing else shows it",
    );
    const { code, problems } = await archive.verify("--max-staleness", "1s");
    assert.equal(code, 1);
    assert.match(problems.join("\n"), /the newest checkpoint .* more than --max-staleness allows/);
  } finally {
    await archive.domain.close();
  }
});

Deno.test("a chain tail rewritten with another key: the program refuses to build on it, and --public-key fails it", async () => {
  const archive = await checkpointed(308);
  try {
    const files = await archive.files();
    // The attacker drops the newest window and every checkpoint and key record, then runs the program with a
    // key of their own to rebuild and re-sign the tail: it refuses to build on windows that key never signed.
    const windows = files.filter(isWindowFile).sort();
    const newest = windows.at(-1)!.split("/").pop()!.slice(0, 20);
    for (const name of windows.filter((n) => n.includes(`/${newest}`))) await archive.remove(name);
    await Deno.remove(`${archive.domain.archiveDir}/${PREFIX}/_checkpoints`, { recursive: true });
    const attackerKey = `${archive.domain.dir}/attacker.pem`;
    assert.equal(await runMain("once", archive.domain, "--checkpoint-key-file", attackerKey), 1);
    assert.ok(!(await archive.files()).some((n) => n.endsWith(".checkpoint.json")), "nothing signed");
    const { code, problems } = await archive.verify("--public-key", archive.publicKeyFile);
    assert.equal(code, 1);
    assert.match(problems.join("\n"), /no checkpoint found/);
  } finally {
    await archive.domain.close();
  }
});

Deno.test("four instances checkpointing at once never fork the sequence", async () => {
  const domain = await startDomain({ events: recentEvents(309, 400) });
  try {
    const keyFile = `${domain.dir}/checkpoint.pem`;
    const codes = await Promise.all(
      [1, 2, 3, 4].map(() =>
        runMain("once", domain, "--checkpoint-key-file", keyFile, "--max-events-per-object", "50")
      ),
    );
    assert.deepEqual(codes, [0, 0, 0, 0]);
    const result = await runCli(["verify"], { env: { ARCHIVE_DIR: domain.archiveDir } });
    assert.equal(result.code, 0, result.stdout);
    const checkpoints = checkpointsOf(await listFiles(domain.archiveDir));
    assert.equal(checkpoints.length, 4, "one checkpoint per pass, numbered 1 to 4");
  } finally {
    await domain.close();
  }
});

Deno.test("with a mirror, removing the newest windows and their checkpoints from the archive is caught by verify --mirror", async () => {
  const domain = await startDomain({ events: recentEvents(310, 160, 2, 120_000) });
  const mirror = `${domain.dir}/mirror`;
  const flags = ["--checkpoint-key-file", `${domain.dir}/checkpoint.pem`, "--checkpoint-mirror", mirror];
  try {
    assert.equal(await runMain("once", domain, ...flags, "--max-events-per-object", "40"), 0);
    const now = Date.now();
    domain.emulator.addEvents(
      generateEvents({ seed: 3101, count: 30, from: now - 50_000, to: now - 30_000 }),
    );
    assert.equal(await runMain("once", domain, ...flags), 0);
    const files = await listFiles(domain.archiveDir);
    assert.deepEqual(
      checkpointsOf(await listFiles(mirror)).map((n) => n.split("/").pop()),
      checkpointsOf(files).map((n) => n.split("/").pop()),
      "every checkpoint is in the mirror too",
    );
    // Remove the second pass's windows and every checkpoint after the first, from the archive only.
    const checkpoints = checkpointsOf(files);
    const first = JSON.parse(await Deno.readTextFile(`${domain.archiveDir}/${checkpoints[0]}`));
    const frontier = first.chains[0].frontier.replace(/[-:]/g, "");
    for (
      const name of files.filter(isWindowFile).filter((n) => n.split("/").pop()!.slice(0, 20) >= frontier)
    ) {
      await Deno.remove(`${domain.archiveDir}/${name}`);
    }
    for (
      const name of [
        ...checkpoints.slice(1),
        ...files.filter((n) => n.includes("/_checkpoints/claims/")),
      ]
    ) {
      await Deno.remove(`${domain.archiveDir}/${name}`);
    }
    const env = { ARCHIVE_DIR: domain.archiveDir, CHECKPOINT_MIRROR: mirror };
    const plain = await runCli(["verify"], { env });
    assert.equal(plain.code, 0, "the archive alone looks whole (within the staleness bound)");
    const mirrored = await runCli(["verify", "--mirror"], { env });
    assert.equal(mirrored.code, 1);
    const problems = JSON.parse(mirrored.stdout).problems.join("\n");
    assert.match(problems, /is in the checkpoint mirror but not in the archive/);
    assert.match(problems, /no longer holds the head checkpoint 2 recorded/);
    const unset = await runCli(["verify", "--mirror"], { env: { ARCHIVE_DIR: domain.archiveDir } });
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /--mirror reads CHECKPOINT_MIRROR/);
  } finally {
    await domain.close();
  }
});

Deno.test("a writer killed between its claim and its dated checkpoint is completed by the next pass", async () => {
  const domain = await startDomain({ events: recentEvents(311, 60) });
  const flags = ["--checkpoint-key-file", `${domain.dir}/checkpoint.pem`];
  try {
    assert.equal(await runMain("once", domain, ...flags), 0);
    // The state a kill right after the claim leaves: the claim holds checkpoint 1, its dated copy is missing.
    const first = checkpointsOf(await listFiles(domain.archiveDir))[0];
    const bytes = await Deno.readFile(`${domain.archiveDir}/${first}`);
    await Deno.remove(`${domain.archiveDir}/${first}`);
    const claim = `${domain.archiveDir}/${PREFIX}/_checkpoints/claims/first.json`;
    assert.deepEqual(await Deno.readFile(claim), bytes, "the claim holds the checkpoint's bytes");
    assert.equal(await runMain("once", domain, ...flags), 0);
    assert.deepEqual(await Deno.readFile(`${domain.archiveDir}/${first}`), bytes, "checkpoint 1 completed");
    const result = await runCli(["verify"], { env: { ARCHIVE_DIR: domain.archiveDir } });
    assert.equal(result.code, 0, result.stdout);
    assert.equal(JSON.parse(result.stdout).checkpoints, 2);
  } finally {
    await domain.close();
  }
});
