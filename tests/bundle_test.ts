/**
 * The single-file form of the program: `deno task bundle` writes one self-contained script that archives and
 * verifies under the same permission sets as main.ts, from a folder that holds nothing but it and deno.json.
 *
 * @module
 */

import assert from "node:assert/strict";
import { recentEvents, REPO, startDomain } from "./harness.ts";

const decoder = new TextDecoder();

/** `deno run -P[=set] audit-archiver.js …` in `folder`, where the set's relative paths resolve. */
async function runBundle(folder: string, set: string, args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", set, "--no-npm", "--no-remote", "--quiet", "audit-archiver.js", ...args],
    cwd: folder,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

Deno.test("deno task bundle gives one script that archives under -P=local and verifies under the default set", async () => {
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["task", "bundle"],
    cwd: REPO,
    stderr: "piped",
  })
    .output();
  assert.equal(built.code, 0, decoder.decode(built.stderr));
  const domain = await startDomain({ events: recentEvents(61, 600) });
  const folder = await Deno.makeTempDir({ prefix: "audit-archiver-bundle-" });
  try {
    await Deno.copyFile(`${REPO}/dist/audit-archiver.js`, `${folder}/audit-archiver.js`);
    await Deno.copyFile(`${REPO}/deno.json`, `${folder}/deno.json`);
    const settings = {
      ...domain.env,
      ARCHIVE_DIR: "./archive",
      CHECKPOINT_KEY_FILE: "./keys/checkpoint.pem",
    };
    const once = await runBundle(folder, "-P=local", ["once"], settings);
    assert.equal(once.code, 0, once.stderr);

    const verify = await runBundle(folder, "-P", ["verify"]);
    assert.equal(verify.code, 0, verify.stderr);
    const report = JSON.parse(verify.stdout);
    assert.deepEqual(report.problems, []);
    assert.equal(report.chains.length, 1);
    assert.equal(report.chains[0].events, domain.truth(Date.now()).length);
  } finally {
    await domain.close();
    await Deno.remove(folder, { recursive: true });
  }
});
