/**
 * The command line: commands, flags (each setting's kebab-case form) and the help text.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { defaultText, flagOf, hasFlag, type RawSettings, SETTINGS } from "./settings.ts";
import { ArchiveError } from "../errors.ts";
import { VERSION } from "../version.ts";

/** The command line: a command, its own flags, and every setting as a flag. */
export interface CommandLine {
  command: string;
  settings: RawSettings;
  from?: string;
  to?: string;
  out?: string;
  config?: string;
  /** verify: the auditor's own copies of the checkpoint public keys (PEM files): nothing stored is trusted. */
  publicKeys?: string[];
  /** verify: how old the newest checkpoint may be. */
  maxStaleness?: string;
  /** verify: read the checkpoints from CHECKPOINT_MIRROR, out of reach of whoever can write the archive. */
  mirror?: boolean;
  /** reconcile: compare and report, write nothing. */
  dryRun?: boolean;
  /** help: the command whose help is asked for (`help verify`, `verify --help`). */
  topic?: string;
}

/** Each command: its usage, what it does, its own flags, and an example (the help texts are built from these). */
const COMMAND_HELP = {
  once: {
    usage: "once",
    does: ["one archive pass: commit every due window"],
    flags: [],
    example: "once --config /etc/audit-archiver/config.json",
  },
  run: {
    usage: "run",
    does: ["daemon: a pass on SCHEDULE (and /healthz, /metrics, POST /trigger with PORT)"],
    flags: [],
    example: 'run --schedule "*/15 * * * *" --port 8080',
  },
  backfill: {
    usage: "backfill --from T [--to T]",
    does: ["archive an older stretch the source still holds (before the first window)"],
    flags: [
      "--from T   where the stretch starts (ISO-8601 UTC); required",
      "--to T     where it ends (default: the first archived window)",
    ],
    example: "backfill --from 2026-01-01T00:00:00Z",
  },
  reconcile: {
    usage: "reconcile [--from T] [--to T] [--dry-run]",
    does: [
      "re-read committed windows the source still holds (default: all it holds)",
      "and compare event ids with the archive; print per window (NDJSON) in",
      "source, archived, missing, extra; archive the missing as amendments (never",
      "rewriting a window; --dry-run writes nothing); exit 1 when any remain",
      "missing, are extra, or a window could not be read",
    ],
    flags: [
      "--from T   the first window to re-read (ISO-8601 UTC; default: the oldest the source holds)",
      "--to T     the end of the windows to re-read",
      "--dry-run  compare and report, write nothing",
    ],
    example: "reconcile --from 2026-11-01T00:00:00Z --dry-run",
  },
  status: {
    usage: "status",
    does: ["per source: frontier, lag, objects, late events, next run, retention warnings"],
    flags: [],
    example: "status",
  },
  verify: {
    usage: "verify [--from T] [--to T] [--public-key FILE]… [--max-staleness D] [--mirror]",
    does: [
      "prove the archive: tiling, hashes, counts, the hash chain, the signed",
      "checkpoints (with FILE — once per key, Ed25519 or RSA PEM — only those keys are",
      "trusted; the newest checkpoint may be at most D old, default by the cadence",
      "its writer declared: twice its schedule's interval plus 15 min, no bound on",
      "demand); exit 0 only if all hold; --mirror reads the checkpoints from",
      "CHECKPOINT_MIRROR",
    ],
    flags: [
      "--from T            the start of the range to prove (ISO-8601 UTC)",
      "--to T              its end",
      "--public-key FILE   a checkpoint public key (PEM) to trust; repeat per key",
      "--max-staleness D   how old the newest checkpoint may be (a duration like 1h; default by its cadence)",
      "--mirror            read the checkpoints from CHECKPOINT_MIRROR",
    ],
    example: "verify --public-key checkpoint-public.pem --max-staleness 1h",
  },
  export: {
    usage: "export --from T --to T [--out FILE]",
    does: ["archived events in that range as NDJSON (stdout by default), amendments", "included"],
    flags: [
      "--from T    the start of the range (ISO-8601 UTC); required",
      "--to T      its end; required",
      "--out FILE  write to FILE, a new one (never overwritten), instead of stdout",
    ],
    example: "export --from 2026-11-01T00:00:00Z --to 2026-11-02T00:00:00Z --out events.ndjson",
  },
  policies: {
    usage: "policies",
    does: ["the least-privilege IAM statements for this configuration, per auth mode"],
    flags: [],
    example: "policies --config /etc/audit-archiver/config.json",
  },
  help: {
    usage: "help [command]",
    does: ["this text, or one command's (also: <command> --help, -h)"],
    flags: [],
    example: "help verify",
  },
};

const COMMANDS = Object.keys(COMMAND_HELP);

/** Whether the arguments ask for help (-h or --help anywhere before a `--`): answered before any other check. */
const asksForHelp = (args: string[]) => {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === "-h" || arg === "--help");
};

/** The command line of a help request: `help [command]`, or `<command> … --help`. */
function helpLine(args: string[]): CommandLine {
  // Flag values are not commands: the topic is the word after `help`, or else the first command named.
  const named = args.filter((arg) => !arg.startsWith("-"));
  const topic = named[0] === "help" ? named[1] : named.find((arg) => COMMANDS.includes(arg));
  if (topic !== undefined && !COMMANDS.includes(topic)) {
    throw new ArchiveError("USAGE", `unknown command "${topic}"; commands: ${COMMANDS.join(", ")}`);
  }
  return { command: "help", settings: {}, topic };
}

export function parseCommandLine(args: string[]): CommandLine {
  if (asksForHelp(args) || (args[0] === "help" && args.length > 1)) return helpLine(args);
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    from: { type: "string" },
    to: { type: "string" },
    out: { type: "string" },
    config: { type: "string" },
    "public-key": { type: "string", multiple: true },
    "max-staleness": { type: "string" },
    mirror: { type: "boolean" },
    "dry-run": { type: "boolean" },
    version: { type: "boolean" },
  };
  for (const setting of SETTINGS) options[flagOf(setting.env)] = { type: "string" };
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ArchiveError("USAGE", `${(error as Error).message}; see \`help\` for the flags`);
  }
  const { values, positionals } = parsed;
  const command = values.version ? "version" : positionals[0] ?? "help";
  if (positionals.length > 1) {
    throw new ArchiveError("USAGE", `unexpected argument "${positionals[1]}"; see \`help\``);
  }
  if (command !== "version" && !COMMANDS.includes(command)) {
    throw new ArchiveError("USAGE", `unknown command "${command}"; commands: ${COMMANDS.join(", ")}`);
  }
  // A secret on the command line is visible to every user of the host (`ps`): refused, naming where it goes.
  const secrets = SETTINGS.filter((s) => !hasFlag(s) && values[flagOf(s.env)] !== undefined);
  if (secrets.length) {
    throw new ArchiveError(
      "USAGE",
      secrets.map((s) =>
        `--${
          flagOf(s.env)
        } is refused: a secret on the command line is visible to every user of the host (ps); set the environment variable ${s.env} instead, or put it in the --config file`
      ).join("\n"),
    );
  }
  const settings: RawSettings = {};
  for (const setting of SETTINGS) {
    const value = values[flagOf(setting.env)];
    if (typeof value === "string") settings[setting.env] = value;
  }
  return {
    command,
    settings,
    from: values.from as string | undefined,
    to: values.to as string | undefined,
    out: values.out as string | undefined,
    config: values.config as string | undefined,
    publicKeys: values["public-key"] as string[] | undefined,
    maxStaleness: values["max-staleness"] as string | undefined,
    mirror: values.mirror as boolean | undefined,
    dryRun: values["dry-run"] as boolean | undefined,
  };
}

/** Each command's usage and what it does, as the help text lists them. */
function commandRows(): string {
  const indent = " ".repeat(30);
  return Object.values(COMMAND_HELP).map(({ usage, does }) =>
    usage.length < 28
      ? [`  ${usage.padEnd(28)}${does[0]}`, ...does.slice(1).map((line) => indent + line)].join("\n")
      : [`  ${usage}`, ...does.map((line) => indent + line)].join("\n")
  ).join("\n");
}

/** One command's help: what it does, its own flags, and an example (`help <command>`, `<command> --help`). */
export function commandHelp(command: string): string {
  const { usage, does, flags, example } = COMMAND_HELP[command as keyof typeof COMMAND_HELP];
  return `Usage: deno run -q -P main.ts ${usage} [flags]

${does.join("\n")}
${flags.length ? `\nFlags:\n${flags.map((flag) => `  ${flag}`).join("\n")}\n` : ""}
Settings: every setting as its --kebab-case flag or environment variable, or --config FILE holding them as
JSON (\`help\` lists them).

Example:
  deno run -q -P main.ts ${example}
`;
}

/** The help text, from the settings table. */
export function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const fallback = defaultText(s);
    const flag = hasFlag(s) ? `--${flagOf(s.env)}` : "(no flag: a secret)";
    return `  ${flag.padEnd(26)} ${s.env.padEnd(24)} ${s.help}${fallback ? ` (default ${fallback})` : ""}`;
  });
  return `audit-archiver ${VERSION} — keeps Oracle Cloud audit events, complete and provably untouched

Usage: deno run -q -P main.ts <command> [flags]

Commands:
${commandRows()}
  --help, -h, --version

Settings (environment variable or the same flag; flags win; --config FILE holds them as JSON,
with per-source settings in "sources": [{…}]; secrets have no flag, as a command line is visible in ps):
${rows.join("\n")}

Exit codes: 0 success, 1 a pass failed (what was committed stays committed), 2 bad configuration or usage.
`;
}
