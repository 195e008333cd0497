/**
 * The README and docs/ say what the program does: the settings table of docs/configuration.md is the SETTINGS
 * table (and what tools/config_doc.ts writes), the README's commands are the commands `help` lists, the
 * `policies` example in docs/deployment.md is what `policies` prints, the test command the README gives is the
 * one deno.json defines, and every relative link in the README and docs/ leads to a file (and heading) that
 * exists.
 */

import assert from "node:assert/strict";
import { defaultText, SETTINGS } from "../src/config/settings.ts";
import { helpText } from "../src/config/cli.ts";
import { validateConfig } from "../src/config/validate.ts";
import { policyStatements } from "../src/ops/policies.ts";
import { expectedDoc, NO_FLAG } from "../tools/config_doc.ts";

const REPO = new URL("..", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, REPO));
const readme = await read("README.md");
const configuration = await read("docs/configuration.md");
const deployment = await read("docs/deployment.md");

Deno.test("docs/configuration.md's settings table is SETTINGS, row for row", () => {
  const table = configuration.split("<!-- settings-table")[1].split("<!-- /settings-table")[0];
  const cells = (line: string) => line.split("|").slice(1, -1).map((cell) => cell.trim());
  const rows = table.split("\n").filter((line) => line.startsWith("| `")).map(cells);
  assert.deepEqual(
    rows,
    SETTINGS.map((s) => [
      `\`${s.env}\``,
      s.kind === "secret" ? NO_FLAG : `\`--${s.env.toLowerCase().replaceAll("_", "-")}\``,
      defaultText(s) ? `\`${defaultText(s)}\`` : "",
      s.help,
    ]),
  );
});

Deno.test("docs/configuration.md is what tools/config_doc.ts writes (deno task docs)", async () => {
  const { current, expected } = await expectedDoc();
  assert.ok(current === expected, "docs/configuration.md is out of date: run `deno task docs`");
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
  const config = JSON.parse(await read("deno.json"));
  assert.match(readme, /deno task demo/);
  assert.match(readme, /deno task test/);
  assert.ok(config.tasks.demo && config.tasks.test);
  assert.equal(config.tasks.compile.includes(" -P "), true, "compile uses the same permission set as run");
});

Deno.test("the policies example in docs/deployment.md is what policies prints for the settings it names", () => {
  const example = deployment.split("<!-- policies-example -->")[1].split("<!-- /policies-example -->")[0];
  const settings = {
    SOURCE: "oci-audit",
    AUDIT_COMPARTMENT_ID: "ocid1.tenancy.oc1..aaaaexample",
    OCI_BUCKET: "audit-archive",
    OCI_LOG_ID: "ocid1.log.oc1..aaaaexample",
  };
  for (const [name, value] of Object.entries(settings)) {
    assert.match(deployment, new RegExp(`${name}=${value}`));
  }
  assert.equal(
    example.split("```text\n")[1].split("```")[0],
    policyStatements(validateConfig(settings, [], Date.now())),
  );
});

/** README.md and every Markdown file under docs/, as paths relative to the repository. */
async function markdownFiles(): Promise<string[]> {
  const files = ["README.md"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(`${dir}/`, REPO))) {
      if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
      else if (entry.name.endsWith(".md")) files.push(`${dir}/${entry.name}`);
    }
  };
  await walk("docs");
  return files.sort();
}

/** The anchors GitHub gives a document's headings: lower case, punctuation dropped, spaces as hyphens. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of withoutFences(markdown).matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = heading.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/ /g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n ? `${slug}-${n}` : slug);
  }
  return result;
}

/** The text outside fenced code blocks. */
function withoutFences(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "");
}

/** The text outside fenced code blocks and inline code. */
function withoutCode(markdown: string): string {
  return withoutFences(markdown).replace(/`[^`\n]*`/g, "");
}

Deno.test("every relative link in README.md and docs/ leads to a file that exists, and to a heading in it", async () => {
  const broken: string[] = [];
  const files = await markdownFiles();
  assert.ok(files.includes("docs/design.md") && files.includes("docs/configuration.md"), files.join(", "));
  for (const file of files) {
    const text = await read(file);
    for (const [, target] of withoutCode(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: …
      const [path, anchor] = target.split("#");
      const url = path ? new URL(path, new URL(file, REPO)) : new URL(file, REPO);
      let linked: string | undefined;
      try {
        const info = await Deno.stat(url);
        if (info.isFile && url.pathname.endsWith(".md")) linked = await Deno.readTextFile(url);
      } catch {
        broken.push(`${file}: ${target} (no such file)`);
        continue;
      }
      if (anchor && linked !== undefined && !anchors(linked).has(decodeURIComponent(anchor))) {
        broken.push(`${file}: ${target} (no such heading)`);
      }
    }
  }
  assert.deepEqual(broken, []);
});
