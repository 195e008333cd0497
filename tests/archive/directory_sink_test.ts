/**
 * The directory sink's writes stay inside ARCHIVE_DIR and keep their modes: a symbolic link planted in the
 * archive (a folder or an object's name) is refused, naming it, and nothing is written where it points; files
 * are 0640 and folders 0750 also under `umask 000`.
 */

import assert from "node:assert/strict";
import { DirectorySink } from "../../src/archive/directory_sink.ts";
import { listFiles, recentEvents, REPO, runCli, startDomain } from "../harness.ts";

Deno.test("a symbolic link planted inside the archive never redirects a write outside it", async () => {
  const domain = await startDomain({ events: recentEvents(81, 40) });
  const outside = `${domain.dir}/outside`;
  await Deno.mkdir(outside);
  const env = { ...domain.env, CHECKPOINT_KEY_FILE: `${domain.dir}/checkpoint.pem` };
  try {
    // A folder of the archive is a link to a folder outside it.
    await Deno.mkdir(`${domain.archiveDir}/audit-archive`, { recursive: true });
    await Deno.symlink(outside, `${domain.archiveDir}/audit-archive/idcs`);
    const folder = await runCli(["once"], { env });
    assert.notEqual(folder.code, 0, "the pass must fail");
    assert.match(folder.stderr, /symbolic link/);
    assert.ok(
      folder.stderr.includes(`${domain.archiveDir}/audit-archive/idcs`),
      `the error names the link: ${folder.stderr}`,
    );
    assert.deepEqual(await listFiles(outside), [], "written through the link");
  } finally {
    await domain.close();
  }
});

Deno.test("an object name that is a symbolic link is refused, naming it, not taken for an existing object", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-test-" });
  try {
    await Deno.mkdir(`${dir}/archive/a`, { recursive: true });
    await Deno.mkdir(`${dir}/outside`);
    await Deno.symlink(`${dir}/outside/b.json`, `${dir}/archive/a/b.json`);
    const sink = new DirectorySink(`${dir}/archive`);
    await assert.rejects(
      sink.createExclusive("a/b.json", new TextEncoder().encode("{}\n")),
      (error: Error) =>
        /symbolic link/.test(error.message) && error.message.includes(`${dir}/archive/a/b.json`),
    );
    assert.deepEqual(await listFiles(`${dir}/outside`), [], "written through the link");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("archive files are 0640 and folders 0750 under umask 000", async () => {
  const domain = await startDomain({ events: recentEvents(82, 60) });
  try {
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        'umask 000 && exec "$0" "$@"',
        Deno.execPath(),
        "run",
        `--config=${REPO}/deno.json`,
        "-P=local",
        "--quiet",
        `${REPO}/main.ts`,
        "once",
      ],
      cwd: REPO,
      env: { ...domain.env, CHECKPOINT_KEY_FILE: `${domain.dir}/checkpoint.pem` },
      stdout: "piped",
      stderr: "piped",
    });
    const output = await child.output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const wrong: string[] = [];
    const walk = async (path: string, name: string) => {
      const info = await Deno.lstat(path);
      const mode = info.mode! & 0o777;
      const expected = info.isDirectory ? 0o750 : 0o640;
      if (mode !== expected) wrong.push(`${name || "."}: ${mode.toString(8)}`);
      if (info.isDirectory) {
        for await (const entry of Deno.readDir(path)) {
          await walk(`${path}/${entry.name}`, name ? `${name}/${entry.name}` : entry.name);
        }
      }
    };
    await walk(domain.archiveDir, "");
    const files = await listFiles(domain.archiveDir);
    assert.ok(files.some((name) => name.endsWith(".ndjson.gz")), "a window was committed");
    assert.deepEqual(wrong, [], "modes other than 0640 (files) and 0750 (folders)");
  } finally {
    await domain.close();
  }
});
