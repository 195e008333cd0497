/**
 * Writes the settings table of docs/configuration.md from the program's settings table: the block between
 * `<!-- settings-table … -->` and `<!-- /settings-table -->` is rewritten in place, laid out as `deno fmt`
 * lays out a Markdown table, so the generated file is already formatted.
 *
 *     deno task docs                                   # rewrite docs/configuration.md
 *     deno run -R=. tools/config_doc.ts --check        # exit 1 when docs/configuration.md is out of date
 *
 * @module
 */

import { defaultText, hasFlag, type Setting, SETTINGS } from "../src/config/settings.ts";

/** Where the table lives, relative to the repository. */
export const CONFIG_DOC = new URL("../docs/configuration.md", import.meta.url);

const OPEN = "<!-- settings-table";
const CLOSE = "<!-- /settings-table -->";

/** The fields of a setting the table shows. */
export type TableSetting = Pick<Setting, "env" | "help" | "kind">;

/** What the flag cell says of a secret: it has none (a command line is visible in `ps`). */
export const NO_FLAG = "none (a secret: environment or --config file)";

/** One table row: variable, flag, default, meaning (the cells tests/readme_test.ts compares). */
export function settingRow(setting: TableSetting, fallback: string | undefined): string[] {
  return [
    `\`${setting.env}\``,
    hasFlag(setting) ? `\`--${setting.env.toLowerCase().replaceAll("_", "-")}\`` : NO_FLAG,
    fallback ? `\`${fallback}\`` : "",
    setting.help,
  ];
}

/** Characters as a Markdown table pads them (one per code point). */
const width = (text: string) => [...text].length;

/** A Markdown table with every column padded to its widest cell, as `deno fmt` writes it. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((_, i) => Math.max(3, ...[header, ...rows].map((row) => width(row[i]))));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell + " ".repeat(widths[i] - width(cell))).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)].join("\n");
}

/** The settings table for these settings. */
export function settingsTable<S extends TableSetting>(
  settings: readonly S[],
  fallbackOf: (setting: S) => string | undefined,
): string {
  return markdownTable(
    ["variable", "flag", "default", "meaning"],
    settings.map((s) => settingRow(s, fallbackOf(s))),
  );
}

/** The document with the block between the settings-table markers replaced by `table`; the markers stay. */
export function withTable(doc: string, table: string): string {
  const start = doc.indexOf(OPEN);
  const end = doc.indexOf(CLOSE);
  if (start < 0 || end < start || doc.indexOf(OPEN, start + 1) >= 0) {
    throw new Error(`docs/configuration.md needs exactly one ${OPEN} … --> ${CLOSE} block`);
  }
  const openEnd = doc.indexOf("-->", start) + "-->".length;
  return `${doc.slice(0, openEnd)}\n\n${table}\n\n${doc.slice(end)}`;
}

/** docs/configuration.md as it should be, from the settings table of src/config/settings.ts. */
export async function expectedDoc(): Promise<{ current: string; expected: string }> {
  const current = await Deno.readTextFile(CONFIG_DOC);
  const expected = withTable(current, settingsTable(SETTINGS, defaultText));
  return { current, expected };
}

if (import.meta.main) {
  const { current, expected } = await expectedDoc();
  if (Deno.args.includes("--check")) {
    if (current !== expected) {
      console.error("docs/configuration.md is out of date with src/config/settings.ts: run `deno task docs`");
      Deno.exit(1);
    }
    console.log("docs/configuration.md is up to date");
  } else if (current !== expected) {
    await Deno.writeTextFile(CONFIG_DOC, expected);
    console.log("docs/configuration.md: settings table rewritten");
  } else {
    console.log("docs/configuration.md is up to date");
  }
}
