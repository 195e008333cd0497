/**
 * verify proves an archive untouched, and catches each way it can be touched: a changed byte, a deleted
 * object, an added one, a renamed one, an edited manifest. export refuses to hand out tampered data.
 */

import assert from "node:assert/strict";
import { gunzip } from "../../src/archive/format.ts";
import { gzip, listFiles, recentEvents, runCli, runMain, startDomain } from "../harness.ts";

/** Archives a few windows once, then gives each test its own copy to tamper with. */
async function archived() {
  const domain = await startDomain({ events: recentEvents(31, 400) });
  assert.equal(await runMain("once", domain, "--max-events-per-object", "60"), 0);
  const files = await listFiles(domain.archiveDir);
  const data = files.filter((n) => n.endsWith(".ndjson.gz"));
  const manifests = files.filter((n) => n.endsWith(".manifest.json"));
  assert.ok(data.length >= 6);
  return { domain, data, manifests, path: (name: string) => `${domain.archiveDir}/${name}` };
}

async function verifyExit(archiveDir: string) {
  return await runCli(["verify"], { env: { ARCHIVE_DIR: archiveDir, LOG_LEVEL: "error" } });
}

Deno.test("verify passes on an untouched archive and exits 0", async () => {
  const { domain } = await archived();
  try {
    const result = await verifyExit(domain.archiveDir);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.deepEqual(JSON.parse(result.stdout).problems, []);
  } finally {
    await domain.close();
  }
});

const tamperings: [string, (a: Awaited<ReturnType<typeof archived>>) => Promise<void>, RegExp][] = [
  ["one byte changed in a data object", async ({ data, path }) => {
    const bytes = await Deno.readFile(path(data[2]));
    bytes[bytes.length - 9] ^= 0x01;
    await Deno.writeFile(path(data[2]), bytes);
  }, /does not match its manifest's SHA-256/],
  ["a data object deleted", async ({ data, path }) => await Deno.remove(path(data[3])), /is missing/],
  ["a data object added", async ({ data, path }) => {
    const name = data[1].replace(/\d{3}Z--/, "999Z--");
    await Deno.writeFile(path(name), await gzip(new TextEncoder().encode('{"id":"forged"}\n')));
  }, /not claimed by any manifest/],
  ["a data object renamed", async ({ data, path }) => {
    await Deno.rename(path(data[2]), path(data[2].replace(".ndjson.gz", "-x.ndjson.gz")));
  }, /is missing|not claimed/],
  ["an event removed and the data recompressed", async ({ data, path }) => {
    const lines = new TextDecoder().decode(await gunzip(await Deno.readFile(path(data[1])))).split("\n");
    lines.splice(0, 1);
    await Deno.writeFile(path(data[1]), await gzip(new TextEncoder().encode(lines.join("\n"))));
  }, /does not match/],
  ["a manifest deleted with its data", async ({ data, manifests, path }) => {
    await Deno.remove(path(manifests[2]));
    await Deno.remove(path(data[2]));
  }, /gap|hash chain is broken/],
  ["a manifest's event count edited", async ({ manifests, path }) => {
    const text = await Deno.readTextFile(path(manifests[1]));
    await Deno.writeTextFile(
      path(manifests[1]),
      text.replace(/"events":(\d+)/, (_, n) => `"events":${Number(n) + 1}`),
    );
  }, /hash chain is broken/],
];

for (const [what, tamper, expected] of tamperings) {
  Deno.test(`verify exits 1 and names the problem when ${what}`, async () => {
    const archive = await archived();
    try {
      await tamper(archive);
      const result = await verifyExit(archive.domain.archiveDir);
      assert.equal(result.code, 1, result.stdout);
      const problems: string[] = JSON.parse(result.stdout).problems;
      assert.ok(
        problems.some((p) => expected.test(p)),
        `expected ${expected} in ${JSON.stringify(problems)}`,
      );
    } finally {
      await archive.domain.close();
    }
  });
}

Deno.test("export refuses a tampered object instead of handing it out", async () => {
  const archive = await archived();
  try {
    const bytes = await Deno.readFile(archive.path(archive.data[0]));
    bytes[bytes.length - 9] ^= 0x01;
    await Deno.writeFile(archive.path(archive.data[0]), bytes);
    const result = await runCli(
      ["export", "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z"],
      { env: { ARCHIVE_DIR: archive.domain.archiveDir } },
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /not exported/);
  } finally {
    await archive.domain.close();
  }
});

Deno.test("verify of a folder that holds no archive fails instead of reporting success", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await runCli(["verify"], { env: { ARCHIVE_DIR: `${dir}/typo` } });
    assert.equal(result.code, 1);
    assert.match(JSON.parse(result.stdout).problems[0], /no archive found/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
