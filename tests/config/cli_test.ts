/**
 * The command line and the help text. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { helpText, parseCommandLine } from "../../src/config/cli.ts";
import { SETTINGS } from "../../src/config/settings.ts";
import { archiveErrorOf } from "../assertions.ts";

const lineOf = (command: string, extra: Record<string, unknown> = {}) => ({
  command,
  settings: {},
  from: undefined,
  to: undefined,
  out: undefined,
  config: undefined,
  publicKeys: undefined,
  maxStaleness: undefined,
  mirror: undefined,
  dryRun: undefined,
  ...extra,
});

Deno.test("parseCommandLine accepts each command", () => {
  const commands = ["once", "run", "backfill", "reconcile", "status", "verify", "export", "help"];
  assert.deepEqual(commands.map((c) => parseCommandLine([c])), commands.map((c) => lineOf(c)));
});

Deno.test("parseCommandLine reads reconcile's --dry-run", () => {
  assert.deepEqual(
    parseCommandLine(["reconcile", "--from", "2026-11-01T00:00:00Z", "--dry-run"]),
    lineOf("reconcile", { from: "2026-11-01T00:00:00Z", dryRun: true }),
  );
});

Deno.test("parseCommandLine reads --from, --to, --out and --config", () => {
  assert.deepEqual(
    parseCommandLine([
      "export",
      "--from",
      "2026-11-01T00:00:00Z",
      "--to=2026-11-02T00:00:00Z",
      "--out",
      "events.ndjson",
      "--config",
      "cfg.json",
    ]),
    lineOf("export", {
      from: "2026-11-01T00:00:00Z",
      to: "2026-11-02T00:00:00Z",
      out: "events.ndjson",
      config: "cfg.json",
    }),
  );
});

Deno.test("parseCommandLine maps every setting's kebab-case flag to its environment name", () => {
  const args = ["once"];
  const expected: Record<string, string> = {};
  for (const [i, setting] of SETTINGS.entries()) {
    args.push(`--${setting.env.toLowerCase().replaceAll("_", "-")}`, `value-${i}`);
    expected[setting.env] = `value-${i}`;
  }
  assert.deepEqual(parseCommandLine(args), lineOf("once", { settings: expected }));
});

Deno.test("parseCommandLine without arguments is help", () => {
  assert.deepEqual(parseCommandLine([]), lineOf("help"));
});

Deno.test("parseCommandLine --help wins over a command", () => {
  assert.deepEqual(parseCommandLine(["--help"]), lineOf("help"));
  assert.deepEqual(parseCommandLine(["once", "--help"]), lineOf("help"));
});

Deno.test("parseCommandLine --version gives the version command", () => {
  assert.deepEqual(parseCommandLine(["--version"]), lineOf("version"));
});

Deno.test("parseCommandLine rejects an unknown command with USAGE listing the commands", () => {
  const error = archiveErrorOf(() => parseCommandLine(["archive"]), "USAGE");
  assert.equal(
    error.message,
    'unknown command "archive"; commands: once, run, backfill, reconcile, status, verify, export, policies, help',
  );
});

Deno.test("parseCommandLine rejects an unknown flag with USAGE naming it", () => {
  const error = archiveErrorOf(() => parseCommandLine(["once", "--bogus"]), "USAGE");
  assert.match(error.message, /'--bogus'.*; see `help` for the flags$/);
});

Deno.test("parseCommandLine rejects a flag without its value with USAGE", () => {
  archiveErrorOf(() => parseCommandLine(["backfill", "--from"]), "USAGE");
});

Deno.test("parseCommandLine rejects a second positional argument with USAGE", () => {
  const error = archiveErrorOf(() => parseCommandLine(["once", "extra"]), "USAGE");
  assert.equal(error.message, 'unexpected argument "extra"; see `help`');
});

Deno.test("helpText names every setting by environment variable and flag", () => {
  const text = helpText();
  const missing = SETTINGS.flatMap((s) => [s.env, `--${s.env.toLowerCase().replaceAll("_", "-")}`])
    .filter((name) => !text.includes(name));
  assert.deepEqual(missing, []);
});

Deno.test("helpText names every command", () => {
  const text = helpText();
  const commands = ["once", "run", "backfill", "status", "verify", "export", "help", "--help", "--version"];
  assert.deepEqual(commands.filter((c) => !new RegExp(`^  (?:.*, )?${c}\\b`, "m").test(text)), []);
});
