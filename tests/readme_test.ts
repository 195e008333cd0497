/**
 * The README says what the program does: its settings table is the SETTINGS table, its commands are the
 * commands `help` lists, its `policies` example is what `policies` prints, and the test command it gives is the
 * one deno.json defines.
 */

import assert from "node:assert/strict";
import { helpText } from "../src/config/cli.ts";
import { defaultText, SETTINGS } from "../src/config/settings.ts";
import { validateConfig } from "../src/config/validate.ts";
import { policyStatements } from "../src/ops/policies.ts";

const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));

Deno.test("the README's settings table is SETTINGS, row for row", () => {
  const table = readme.split("<!-- settings-table")[1].split("<!-- /settings-table")[0];
  const cells = (line: string) => line.split("|").slice(1, -1).map((cell) => cell.trim());
  const rows = table.split("\n").filter((line) => line.startsWith("| `")).map(cells);
  assert.deepEqual(
    rows,
    SETTINGS.map((s) => [
      `\`${s.env}\``,
      `\`--${s.env.toLowerCase().replaceAll("_", "-")}\``,
      defaultText(s) ? `\`${defaultText(s)}\`` : "",
      s.help,
    ]),
  );
});

Deno.test("the README documents every command help lists", () => {
  const commands = [...helpText().split("Commands:")[1].split("Settings")[0].matchAll(/^ {2}([a-z]+)/gm)].map(
    (m) => m[1],
  );
  assert.ok(commands.length >= 7);
  for (const command of commands) {
    assert.match(readme, new RegExp(`\\| \`${command}`), `${command} is not in the README`);
  }
});

Deno.test("the README's quick start names the deno.json tasks demo and test", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  assert.match(readme, /deno task demo/);
  assert.match(readme, /deno task test/);
  assert.ok(config.tasks.demo && config.tasks.test);
  assert.equal(config.tasks.compile.includes(" -P "), true, "compile uses the same permission set as run");
});

Deno.test("the README's policies example is what policies prints for the settings it names", () => {
  const example = readme.split("<!-- policies-example -->")[1].split("<!-- /policies-example -->")[0];
  const settings = {
    SOURCE: "oci-audit",
    AUDIT_COMPARTMENT_ID: "ocid1.tenancy.oc1..aaaaexample",
    OCI_BUCKET: "audit-archive",
    OCI_LOG_ID: "ocid1.log.oc1..aaaaexample",
  };
  for (const [name, value] of Object.entries(settings)) assert.match(readme, new RegExp(`${name}=${value}`));
  assert.equal(
    example.split("```text\n")[1].split("```")[0],
    policyStatements(validateConfig(settings, [], Date.now())),
  );
});
