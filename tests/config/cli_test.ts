/**
 * The command line and the help text: pure, but for one test that runs the program for `<command> --help`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { commandHelp, helpText, parseCommandLine } from "../../src/config/cli.ts";
import { SETTINGS } from "../../src/config/settings.ts";
import { archiveErrorOf } from "../assertions.ts";
import { runCli } from "../harness.ts";

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

/** A help request: nothing else is read from the command line. */
const helpOf = (topic?: string) => ({ command: "help", settings: {}, topic });

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

Deno.test("parseCommandLine maps every setting's kebab-case flag to its environment name (secrets have none)", () => {
  const args = ["once"];
  const expected: Record<string, string> = {};
  for (const [i, setting] of SETTINGS.entries()) {
    if (setting.kind === "secret") continue;
    args.push(`--${setting.env.toLowerCase().replaceAll("_", "-")}`, `value-${i}`);
    expected[setting.env] = `value-${i}`;
  }
  assert.deepEqual(parseCommandLine(args), lineOf("once", { settings: expected }));
});

Deno.test("parseCommandLine without arguments is help", () => {
  assert.deepEqual(parseCommandLine([]), lineOf("help"));
});

Deno.test("parseCommandLine --help wins over a command, whose help it asks for", () => {
  assert.deepEqual(parseCommandLine(["--help"]), helpOf());
  assert.deepEqual(parseCommandLine(["once", "--help"]), helpOf("once"));
});

Deno.test("parseCommandLine reads -h and --help anywhere, before flags it would refuse", () => {
  assert.deepEqual(parseCommandLine(["-h"]), helpOf());
  assert.deepEqual(
    parseCommandLine(["verify", "--from", "2026-11-01T00:00:00Z", "-h"]),
    helpOf("verify"),
  );
  assert.deepEqual(parseCommandLine(["--help", "export", "--bogus"]), helpOf("export"));
  assert.deepEqual(
    parseCommandLine(["run", "--idcs-client-secret", "s3cret", "-h"]),
    helpOf("run"),
  );
});

Deno.test("parseCommandLine reads help <command>, and refuses help for an unknown command", () => {
  assert.deepEqual(parseCommandLine(["help", "backfill"]), helpOf("backfill"));
  const error = archiveErrorOf(() => parseCommandLine(["help", "archive"]), "USAGE");
  assert.match(error.message, /^unknown command "archive"; commands: once, run/);
});

Deno.test("commandHelp says what each command does, its flags, and an example", () => {
  const flags: Record<string, string[]> = {
    once: [],
    run: [],
    backfill: ["--from", "--to"],
    reconcile: ["--from", "--to", "--dry-run"],
    status: [],
    verify: ["--from", "--to", "--public-key", "--max-staleness", "--mirror"],
    export: ["--from", "--to", "--out"],
    policies: [],
    help: [],
  };
  for (const [command, own] of Object.entries(flags)) {
    const text = commandHelp(command);
    assert.match(text, new RegExp(`^Usage: deno run -q -P main\\.ts ${command}\\b`), text);
    assert.deepEqual(own.filter((flag) => !text.includes(`  ${flag}`)), [], `${command}: ${text}`);
    assert.match(text, new RegExp(`\\nExample:\\n  deno run -q -P main\\.ts ${command}\\b`), text);
    assert.match(text, /--config FILE/, text);
  }
  assert.match(commandHelp("run"), /SCHEDULE/);
});

Deno.test("<command> --help prints that command's help and exits 0 without loading settings or touching files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await runCli(["backfill", "--help"], {
      env: { SCHEDULE: "every minute", ARCHIVE_DIR: `${dir}/archive`, IDCS_URL: "ftp://bad" },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `${commandHelp("backfill")}\n`);
    assert.equal(result.stderr, "");
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), [], "nothing is created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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

Deno.test("helpText names every setting by environment variable and flag, and no flag for a secret", () => {
  const text = helpText();
  const flag = (env: string) => `--${env.toLowerCase().replaceAll("_", "-")}`;
  const missing = SETTINGS.flatMap((s) => s.kind === "secret" ? [s.env] : [s.env, flag(s.env)])
    .filter((name) => !text.includes(name));
  assert.deepEqual(missing, []);
  const shown = SETTINGS.filter((s) => s.kind === "secret").map((s) => flag(s.env))
    .filter((name) => text.includes(name));
  assert.deepEqual(shown, [], "secrets offered as flags");
});

Deno.test("a secret given as a flag is refused (visible in ps) with USAGE naming the variable to use", () => {
  const secrets = SETTINGS.filter((s) => s.kind === "secret").map((s) => s.env);
  assert.deepEqual(secrets.toSorted(), ["IDCS_CLIENT_SECRET", "TRIGGER_TOKEN"]);
  for (const env of secrets) {
    const flag = `--${env.toLowerCase().replaceAll("_", "-")}`;
    for (
      const args of [["run", flag, "s3cret-value-0123456789"], ["run", `${flag}=s3cret-value-0123456789`]]
    ) {
      const error = archiveErrorOf(() => parseCommandLine(args), "USAGE");
      assert.match(error.message, new RegExp(`^${flag} is refused: .*ps.*environment variable ${env}`));
      assert.ok(!error.message.includes("s3cret-value"), "the secret is not repeated");
    }
  }
});

Deno.test("helpText names every command", () => {
  const text = helpText();
  const commands = ["once", "run", "backfill", "status", "verify", "export", "help", "--help", "--version"];
  assert.deepEqual(commands.filter((c) => !new RegExp(`^  (?:.*, )?${c}\\b`, "m").test(text)), []);
});
