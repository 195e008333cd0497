/**
 * `deno task demo` keeps out of production's way: run as a user runs it (in a copy of the project), it writes
 * only under ./demo — never ./archive or ./keys, which `deno task run` uses — the commands it prints work as
 * printed, and `deno fmt` leaves every archive inside the project alone.
 */

import assert from "node:assert/strict";
import { listFiles, REPO } from "../harness.ts";

/** The files a user has after cloning: what the demo task needs. */
const PROJECT_FILES = [".gitignore", "deno.json", "deno.lock", "main.ts", "src", "tools", "tests/emulators"];

async function copyProject(): Promise<string> {
  const copy = await Deno.makeTempDir({ prefix: "audit-archiver-demo-" });
  await Deno.mkdir(`${copy}/tests`);
  for (const path of PROJECT_FILES) {
    const { code } = await new Deno.Command("cp", { args: ["-r", `${REPO}/${path}`, `${copy}/${path}`] })
      .output();
    assert.equal(code, 0, `cp ${path}`);
  }
  return copy;
}

async function deno(args: string[], cwd: string) {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    clearEnv: true,
    env: Object.fromEntries(
      ["PATH", "HOME", "DENO_DIR"].flatMap((name) => Deno.env.get(name) ? [[name, Deno.env.get(name)!]] : []),
    ),
  }).output();
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/** Every file below `root` with its bytes, to see that nothing changed. */
async function snapshot(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of await listFiles(root)) files.set(name, await Deno.readTextFile(`${root}/${name}`));
  return files;
}

Deno.test("the demo writes only under ./demo, its printed commands work, and deno fmt leaves archives alone", async () => {
  const copy = await copyProject();
  try {
    const demo = await deno(["task", "demo"], copy);
    assert.equal(demo.code, 0, demo.stderr.slice(-2000));
    for (const production of ["archive", "keys"]) {
      assert.equal(await Deno.stat(`${copy}/${production}`).then(() => true, () => false), false, production);
    }
    assert.ok((await listFiles(`${copy}/demo/archive`)).some((name) => name.endsWith(".manifest.json")));

    const printed = demo.stdout.split("\n").filter((line) => line.startsWith("  deno run ")).map((line) =>
      line.trim().split(" ").slice(1)
    );
    assert.deepEqual(printed.map((args) => args[args.indexOf("main.ts") + 1]), [
      "status",
      "verify",
      "export",
    ]);
    for (const args of printed) {
      const result = await deno(args, copy);
      assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    }
    assert.ok((await listFiles(`${copy}/demo`)).some((name) => /^export-\d+\.ndjson$/.test(name)));

    // A production archive inside the project, as `deno task run` keeps it by default.
    await Deno.mkdir(`${copy}/archive`);
    await Deno.writeTextFile(`${copy}/archive/a.manifest.json`, '{"events":1,"sha256":"00"}');
    const before = [await snapshot(`${copy}/demo`), await snapshot(`${copy}/archive`)];
    assert.equal((await deno(["fmt"], copy)).code, 0);
    assert.deepEqual([await snapshot(`${copy}/demo`), await snapshot(`${copy}/archive`)], before);
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});
