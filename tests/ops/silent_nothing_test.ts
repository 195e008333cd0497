/**
 * Nothing is silent: export and status on an archive that is not there, and export over a range the archive
 * does not cover, each say so with a non-zero exit; every command logs the sink and sources it uses. Run the
 * way a user runs the program (`deno run -P=local main.ts …`).
 */

import assert from "node:assert/strict";
import { DAY, listFiles, permissionFlags, recentEvents, runCli, runMain, startDomain } from "../harness.ts";
import { BUCKET, startCloud } from "../oci_harness.ts";

const iso = (ms: number) => new Date(ms).toISOString();

Deno.test("export and status on a missing ARCHIVE_DIR exit 2 naming it; nothing is exported or created", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const env = { ARCHIVE_DIR: `${dir}/no-such-archive` };
    const range = ["--from", iso(Date.now() - DAY), "--to", iso(Date.now())];
    for (const args of [["export", ...range], ["status"]]) {
      const result = await runCli(args, { env });
      assert.equal(result.code, 2, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, /ARCHIVE_DIR .*no-such-archive.* does not exist/, args[0]);
      assert.equal(result.stdout, "", args[0]);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing may be created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export and status on an archive folder holding no archive exit 2 saying where they looked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const range = ["--from", iso(Date.now() - DAY), "--to", iso(Date.now())];
    for (const args of [["export", ...range], ["status"]]) {
      const result = await runCli(args, { env: { ARCHIVE_DIR: dir } });
      assert.equal(result.code, 2, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, /holds no archive under ARCHIVE_PREFIX/, args[0]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export and status on an empty bucket exit 2 naming OCI_BUCKET", async () => {
  const dir = await Deno.makeTempDir();
  const cloud = await startCloud(dir);
  try {
    const range = ["--from", iso(Date.now() - DAY), "--to", iso(Date.now())];
    for (const args of [["export", ...range], ["status"]]) {
      const result = await runCli(args, { env: cloud.env });
      assert.equal(result.code, 2, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`OCI_BUCKET ${BUCKET} holds no archive`), args[0]);
    }
  } finally {
    await cloud.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("export over a range the archive does not cover exits 2 saying what it covers; partly covered exports what is there and names the rest", async () => {
  const domain = await startDomain({ events: recentEvents(62, 300, 2), since: "2d" });
  try {
    assert.equal(await runMain("once", domain), 0);
    const before = await runCli(
      ["export", "--from", "2020-01-01T00:00:00Z", "--to", "2020-02-01T00:00:00Z"],
      { env: domain.env },
    );
    assert.equal(before.code, 2, before.stderr);
    assert.match(before.stderr, /none of \[2020-01-01T00:00:00.000Z, 2020-02-01T00:00:00.000Z\) is archived/);
    assert.match(before.stderr, /the archive covers \[\d{4}-/);
    assert.equal(before.stdout, "");

    const partly = await runCli(
      ["export", "--from", iso(Date.now() - 10 * DAY), "--to", iso(Date.now() - DAY)],
      { env: { ...domain.env, LOG_LEVEL: "warn" } },
    );
    assert.equal(partly.code, 0, partly.stderr);
    assert.ok(partly.stdout.split("\n").filter(Boolean).length > 0, "the covered part is exported");
    assert.match(partly.stderr, /not archived: \[/);
  } finally {
    await domain.close();
  }
});

Deno.test("every command logs one info line naming its sink and sources", async () => {
  const domain = await startDomain({ events: recentEvents(63, 20, 1), since: "1d" });
  try {
    const env = { ...domain.env, LOG_LEVEL: "info", LOG_FORMAT: "json" };
    const line = (stderr: string) =>
      stderr.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) =>
        l.msg === "sink and sources"
      );
    const once = line((await runCli(["once"], { env })).stderr);
    assert.equal(once.length, 1);
    assert.equal(once[0].sink, `directory ${domain.archiveDir}`);
    assert.deepEqual(once[0].sources, [`idcs ${domain.emulator.url.slice(7).replace(":", "-")}`]);
    const status = line((await runCli(["status"], { env: { ARCHIVE_DIR: domain.archiveDir } })).stderr);
    assert.deepEqual(status.map((l) => [l.sink, l.sources]), [[`directory ${domain.archiveDir}`, []]]);
  } finally {
    await domain.close();
  }
});

Deno.test("export --out: a folder the permission set does not grant is refused before anything is read, with advice that works", async () => {
  const domain = await startDomain({ events: recentEvents(64, 50, 1), since: "1d" });
  try {
    const env = { ...domain.env, ARCHIVE_DIR: "./archive" };
    assert.equal((await runCli(["once"], { env, cwd: domain.dir })).code, 0);
    // The production set as flags (its relative paths then resolve against cwd), an auditor's settings only.
    const production = await permissionFlags("default");
    const auditor = { env: { ARCHIVE_DIR: "./archive" }, cwd: domain.dir, permissionFlags: production };
    const range = ["--from", iso(Date.now() - 2 * DAY), "--to", iso(Date.now())];
    const refused = await runCli(["export", ...range, "--out", "day.ndjson"], auditor);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /the permission set does not let the program read and write its folder \./);
    assert.match(refused.stderr, /redirect stdout/);
    assert.equal(await Deno.stat(`${domain.dir}/day.ndjson`).then(() => true, () => false), false);
    // The advice: stdout, redirected by the shell; or the folder added to the set's read and write lists.
    const stdout = await runCli(["export", ...range], auditor);
    assert.equal(stdout.code, 0, stdout.stderr);
    assert.ok(stdout.stdout.length > 0);
    const granted = await runCli(["export", ...range, "--out", "day.ndjson"], {
      ...auditor,
      permissionFlags: production.map((flag) => /^--allow-(read|write)=/.test(flag) ? `${flag},.` : flag),
    });
    assert.equal(granted.code, 0, granted.stderr);
    assert.equal(await Deno.readTextFile(`${domain.dir}/day.ndjson`), stdout.stdout);
  } finally {
    await domain.close();
  }
});

Deno.test("export --out into a folder that does not exist exits 2 naming the folder before the archive is read", async () => {
  const domain = await startDomain({ events: recentEvents(65, 20, 1), since: "1d" });
  try {
    assert.equal(await runMain("once", domain), 0);
    // A damaged object: reading the archive first would fail on it (exit 1) instead.
    const data = (await listFiles(domain.archiveDir)).find((name) => name.endsWith(".ndjson.gz"))!;
    const bytes = await Deno.readFile(`${domain.archiveDir}/${data}`);
    bytes[bytes.length - 9] ^= 1;
    await Deno.writeFile(`${domain.archiveDir}/${data}`, bytes);
    const out = `${domain.dir}/reports/day.ndjson`;
    const range = ["--from", iso(Date.now() - 2 * DAY), "--to", iso(Date.now())];
    const result = await runCli(["export", ...range, "--out", out], { env: domain.env });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /its folder .*\/reports does not exist: create it/);
    assert.equal(await Deno.stat(`${domain.dir}/reports`).then(() => true, () => false), false);
  } finally {
    await domain.close();
  }
});
