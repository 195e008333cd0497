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
}

const COMMANDS = [
  "once",
  "run",
  "backfill",
  "reconcile",
  "status",
  "verify",
  "export",
  "policies",
  "help",
] as const;

export function parseCommandLine(args: string[]): CommandLine {
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {
    from: { type: "string" },
    to: { type: "string" },
    out: { type: "string" },
    config: { type: "string" },
    "public-key": { type: "string", multiple: true },
    "max-staleness": { type: "string" },
    mirror: { type: "boolean" },
    "dry-run": { type: "boolean" },
    help: { type: "boolean" },
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
  const command = values.version ? "version" : values.help ? "help" : positionals[0] ?? "help";
  if (positionals.length > 1) {
    throw new ArchiveError("USAGE", `unexpected argument "${positionals[1]}"; see \`help\``);
  }
  if (command !== "version" && !(COMMANDS as readonly string[]).includes(command)) {
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
  once                        one archive pass: commit every due window
  run                         daemon: a pass on SCHEDULE (and /healthz, /metrics, POST /trigger with PORT)
  backfill --from T [--to T]  archive an older stretch the source still holds (before the first window)
  reconcile [--from T] [--to T] [--dry-run]
                              re-read committed windows the source still holds (default: all it holds)
                              and compare event ids with the archive; print per window (NDJSON) in
                              source, archived, missing, extra; archive the missing as amendments (never
                              rewriting a window; --dry-run writes nothing); exit 1 when any remain
                              missing, are extra, or a window could not be read
  status                      per source: frontier, lag, objects, late events, next run, retention warnings
  verify [--from T] [--to T] [--public-key FILE]… [--max-staleness D] [--mirror]
                              prove the archive: tiling, hashes, counts, the hash chain, the signed
                              checkpoints (with FILE — once per key, Ed25519 or RSA PEM — only those keys are
                              trusted; the newest checkpoint may be at most D old, default by the cadence
                              its writer declared: twice its schedule's interval plus 15 min, no bound on
                              demand); exit 0 only if all hold; --mirror reads the checkpoints from
                              CHECKPOINT_MIRROR
  export --from T --to T [--out FILE]
                              archived events in that range as NDJSON (stdout by default), amendments
                              included
  policies                    the least-privilege IAM statements for this configuration, per auth mode
  help, --help, --version

Settings (environment variable or the same flag; flags win; --config FILE holds them as JSON,
with per-source settings in "sources": [{…}]; secrets have no flag, as a command line is visible in ps):
${rows.join("\n")}

Exit codes: 0 success, 1 a pass failed (what was committed stays committed), 2 bad configuration or usage.
`;
}
