/**
 * audit-archiver — keeps Oracle Cloud security audit events for years, complete and provably untouched.
 *
 * On a schedule it pulls new events from a source (an identity domain's `AuditEvents`, or OCI Audit) and
 * commits them, one time window at a time, as immutable gzip NDJSON objects with a hash-chained manifest, to a
 * sink (a local directory, or an Object Storage bucket), each event exactly as the API sent it. Every pass signs
 * a checkpoint of every chain's head. `verify` proves the archive afterwards: windows tile without gap or
 * overlap, every object matches its manifest, the chain is unbroken, and the signed checkpoints show that
 * nothing newer was removed and nothing was rewritten without the key.
 *
 * Usage: `deno run -q -P main.ts <once|run|backfill|status|verify|export|policies|help> [flags]`
 * (`-P` is the least-privilege permission set in deno.json: network to Oracle Cloud hosts and the instance
 * metadata address, writes under ./archive and the checkpoint key). Configuration: environment variables or
 * the same --kebab-case flags (secrets: the environment or --config only); `help` lists them.
 *
 * This file is the entry: the command line, the command table, loading settings and the permission probes.
 * The program lives in `src/`, layered without cycles (docs/design.md §2; tests/layering_test.ts holds it):
 *
 * Base, pure or process-wide:
 * - `src/version.ts` the version, written into manifests and checkpoints
 * - `src/errors.ts` one error type with a code; exit statuses 1 and 2
 * - `src/log.ts` JSON or text log lines, scrubbed of registered secrets
 * - `src/metrics.ts` counters and histograms in Prometheus' text format
 * - `src/bytes.ts` UTF-8, base64, SHA-256, bounded concurrency
 * - `src/time.ts` durations and times as settings give them
 * - `src/cron.ts` SCHEDULE as Deno.cron reads it: validation, next fire time, interval
 * - `src/window.ts` window planning: where a window starts, ends and is cut
 * - `src/permissions.ts` what to run when the permission set refuses a setting: the set's list plus the grant
 *
 * Settings and transport:
 * - `src/config/settings.ts` the settings table, once
 * - `src/config/values.ts` one setting's value by its kind
 * - `src/config/validate.ts` all settings into a frozen Config, every error at once
 * - `src/config/cli.ts` commands, flags and help text
 * - `src/http/retry.ts` the status classifier, the retry loop and the per-host rate gate
 * - `src/http/request.ts` the fetch helper: timeouts and error mapping
 * - `src/oci/sdk.ts` the OCI SDK packages, loaded on demand
 * - `src/oci/session.ts` config file, instance or resource principal
 * - `src/oci/client.ts` SDK clients under the one retry loop
 * - `src/keys.ts` key files, Vault secrets, KMS signing keys
 *
 * Sources:
 * - `src/sources/source.ts` the source contract and the kinds of source
 * - `src/sources/json_scan.ts` each event's bytes exactly as sent
 * - `src/sources/idcs_token.ts` the identity domain's JWT client assertion and tokens
 * - `src/sources/idcs.ts` identity domain `AuditEvents`
 * - `src/sources/oci_audit.ts` OCI Audit `ListEvents` over a compartment subtree
 * - `src/sources/retention.ts` how long a source keeps its events
 *
 * The archive and its proof:
 * - `src/archive/names.ts` object names
 * - `src/archive/format.ts` gzip NDJSON windows, manifests, genesis, segments
 * - `src/archive/sink.ts` the sink contract
 * - `src/archive/directory_sink.ts` a local directory
 * - `src/archive/bucket_sink.ts` an Object Storage bucket
 * - `src/archive/chains.ts` where each chain and segment stands
 * - `src/archive/commit.ts` the one commit path: kept bytes, claim, data
 * - `src/archive/window_loop.ts` the one window loop for every source
 * - `src/archive/progress.ts` backfill's progress line
 * - `src/archive/logging_copy.ts` the optional OCI Logging copy
 * - `src/archive/seal.ts` the Authority contract: records sealed and vouched for
 * - `src/proof/chain.ts` chain verification over names and bytes
 * - `src/proof/checkpoint.ts` checkpoint records and their verification
 * - `src/proof/checkpoint_key.ts` the checkpoint signing key and published keys
 * - `src/proof/checkpoint_writer.ts` each pass's signed checkpoint
 * - `src/proof/authority.ts` trusted keys, the authentic checkpoint tip, the Authority
 * - `src/proof/seals.ts` which records the keys vouch for (verify)
 * - `src/proof/verify.ts` `verify`
 *
 * Passes and operations:
 * - `src/pass/open.ts` opening the sink, mirror and sources
 * - `src/pass/proof.ts` a command's key, trusted keys and checkpoint writer
 * - `src/pass/reconcile.ts` `reconcile` and amendments
 * - `src/pass/pass.ts` one pass of `once` and `run`
 * - `src/pass/backfill.ts` `backfill`
 * - `src/ops/status.ts` `status`
 * - `src/ops/export.ts` `export`
 * - `src/ops/policies.ts` `policies`
 * - `src/ops/daemon.ts` `run`: Deno.cron, `/healthz`, `/metrics`, `/trigger`
 *
 * Process-wide state is set here once, in `main()`: the log level and format (`configureLog`), and the
 * retry wait cap and per-host concurrency (`configureRequests`); one process has one log stream, one
 * `/metrics` page and one rate limit per host.
 *
 * @module
 */

import { LoggingCopy } from "./src/archive/logging_copy.ts";
import type { Sink } from "./src/archive/sink.ts";
import { commandHelp, type CommandLine, helpText, parseCommandLine } from "./src/config/cli.ts";
import type { RawSettings } from "./src/config/settings.ts";
import {
  type Config,
  misspelledVariables,
  parseConfigFile,
  readEnvironment,
  validateConfig,
} from "./src/config/validate.ts";
import { withoutCredentials } from "./src/config/values.ts";
import { parseCron, scheduleInterval } from "./src/cron.ts";
import { ArchiveError, exitCodeOf } from "./src/errors.ts";
import { configureRequests } from "./src/http/retry.ts";
import { configureLog, log, registerSecret, scrub } from "./src/log.ts";
import { prepareProcessForSdk } from "./src/oci/sdk.ts";
import { type OciSession, openOciSession, resourcePrincipalFiles } from "./src/oci/session.ts";
import { listenAddress, runDaemon } from "./src/ops/daemon.ts";
import { createOutput, exportEvents } from "./src/ops/export.ts";
import { policyStatements } from "./src/ops/policies.ts";
import { archiveStatus } from "./src/ops/status.ts";
import { backfill } from "./src/pass/backfill.ts";
import {
  archivedChains,
  logRetention,
  MIRROR_BUCKET,
  openMirror,
  openSink,
  openSources,
  sdkPackages,
} from "./src/pass/open.ts";
import { provenPass } from "./src/pass/pass.ts";
import { openProof, readerTrust, readPublicKeyFiles } from "./src/pass/proof.ts";
import { reconcileSources, type WindowReconciliation } from "./src/pass/reconcile.ts";
import { foldersOf, grantAdvice, type Grants, holds, keepGrants, mergeGrants } from "./src/permissions.ts";
import { keyFolder } from "./src/proof/checkpoint_key.ts";
import { verifyArchive } from "./src/proof/verify.ts";
import { parseDuration, parseTime } from "./src/time.ts";
import { VERSION } from "./src/version.ts";

/** Loads every origin of settings (file < environment < flags) and validates them. */
async function loadConfig(line: CommandLine, now: number, needsSources: boolean | "if-set"): Promise<Config> {
  let file = { global: {} as RawSettings, sources: [] as RawSettings[] };
  if (line.config) {
    let text: string;
    try {
      text = await Deno.readTextFile(line.config);
    } catch (error) {
      throw new ArchiveError("CONFIG", `--config ${line.config} cannot be read: ${(error as Error).message}`);
    }
    file = parseConfigFile(text, line.config);
  }
  const settings = { ...file.global, ...readEnvironment(), ...line.settings };
  return validateConfig(settings, file.sources, now, {
    stderrIsTerminal: Deno.stderr.isTerminal(),
    needsSources,
    problems: [
      ...misspelledVariables(),
      ...withGrantAdvice([
        ...await unreadableFiles(settings, file.sources, line.publicKeys ?? []),
        ...await refusedByPermissions(settings, file.sources, line.command, needsSources !== true),
      ]),
    ],
  });
}

/** A bad setting found before validation: what is wrong, its value, and the grants that would allow it. */
interface SettingProblem {
  what: string;
  value: string;
  grants?: Grants;
}

/**
 * The problems as validateConfig lists them; each refused by the permission set ends with one command that
 * grants what all of them need (a second flag for the same permission would replace the first).
 */
function withGrantAdvice(problems: SettingProblem[]): string[] {
  const all = mergeGrants(...problems.map(({ grants }) => grants ?? {}));
  const advice = Object.keys(all).length ? grantAdvice(all) : "";
  return [
    ...new Set(
      problems.map(({ what, value, grants }) =>
        `${what}: current value is ${JSON.stringify(value)}${grants ? `; ${advice}` : ""}`
      ),
    ),
  ];
}

/**
 * Settings the permission set refuses — a source host it does not grant, an archive folder outside it, a
 * checkpoint key file or listening address it does not grant — reported as bad settings (exit 2, nothing
 * written) rather than as a failed pass, all at once: one command grants them all. What the settings need and
 * this process holds is kept for any later advice (a flag added to -P must stay in the command it prints).
 */
async function refusedByPermissions(
  global: RawSettings,
  entries: RawSettings[],
  command: string,
  readsOnly: boolean,
): Promise<SettingProblem[]> {
  const problems: SettingProblem[] = [];
  /** Whether this process holds the grants; if it does, later advice keeps them, else the problem is said. */
  const check = async (grants: Grants, problem: Omit<SettingProblem, "grants">) => {
    const held = await holds(grants);
    if (held) keepGrants(grants);
    else problems.push({ ...problem, grants });
    return held;
  };
  if (!global.OCI_BUCKET) {
    const dir = global.ARCHIVE_DIR || "./archive";
    // status, verify and export only read the archive (an auditor's copy needs no write grant).
    await check(readsOnly ? { read: [dir] } : { read: [dir], write: [dir] }, {
      what: `ARCHIVE_DIR is outside what the permission set lets the program ${
        readsOnly ? "read" : "read and write"
      } (the default set grants ./archive): use ./archive`,
      value: dir,
    });
  }
  const mirror = global.CHECKPOINT_MIRROR;
  if (mirror && !mirror.startsWith(MIRROR_BUCKET) && !readsOnly) {
    await check({ read: [mirror], write: [mirror] }, {
      what: "CHECKPOINT_MIRROR is a folder the permission set does not let the program read and write",
      value: mirror,
    });
  }
  const keyFile = global.CHECKPOINT_KEY_FILE || "./keys/checkpoint.pem";
  const folder = keyFolder(keyFile);
  if (!readsOnly && !global.CHECKPOINT_SIGNING_KEY_ID) {
    const held = await check({ read: [folder], write: [keyFile] }, {
      what:
        "CHECKPOINT_KEY_FILE is a file the permission set does not let the program create and read (the default set grants ./keys/checkpoint.pem): use ./keys/checkpoint.pem",
      value: keyFile,
    });
    // The set grants the key file, not its folder: the program cannot make the folder.
    if (
      held && !await holds({ write: [folder] }) &&
      await Deno.stat(folder).then(() => false, (error) => error instanceof Deno.errors.NotFound)
    ) {
      problems.push({
        what:
          `CHECKPOINT_KEY_FILE's folder ${folder} does not exist: create it (mkdir -p ${folder}) and run again`,
        value: keyFile,
      });
    }
  }
  const principal = resourcePrincipalFiles();
  if (principal.length && !readsOnly && ["auto", "resource_principal"].includes(global.OCI_AUTH || "auto")) {
    await check({ read: foldersOf(principal) }, {
      what:
        "OCI_RESOURCE_PRINCIPAL_RPST and OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM name files the permission set does not let the program read (the default set grants /var/oci/rp-identity, where Container Instances mounts them)",
      value: principal.join(","),
    });
  }
  const port = Number(global.PORT);
  if (command === "run" && Number.isInteger(port) && port > 0) {
    const address = listenAddress(global.LISTEN || "0.0.0.0", port);
    await check({ net: [address] }, {
      what:
        "LISTEN and PORT name an address the permission set does not let the program listen on (the default set grants 0.0.0.0:8080): use LISTEN=0.0.0.0 and PORT=8080",
      value: address,
    });
  }
  for (const raw of [global, ...entries.map((entry) => ({ ...global, ...entry }))]) {
    const url = URL.parse(raw.IDCS_URL ?? "");
    if (!url || !/^https?:$/.test(url.protocol)) continue; // a malformed URL is validateConfig's to report
    const host = `${url.hostname}:${url.port || (url.protocol === "https:" ? 443 : 80)}`;
    await check({ net: [host] }, {
      what:
        `IDCS_URL's host ${host} is not one the permission set lets the program reach (the default set grants *.oraclecloud.com:443): use the identity domain's URL`,
      value: withoutCredentials(raw.IDCS_URL),
    });
  }
  return problems;
}

/**
 * Settings and flags naming files that cannot be read (the identity domain's key, pinned public keys), said with the
 * other bad settings in the same message.
 */
async function unreadableFiles(
  global: RawSettings,
  entries: RawSettings[],
  publicKeys: readonly string[],
): Promise<SettingProblem[]> {
  const problems: SettingProblem[] = [];
  const named = [
    // The OCI config file and the files it names are checked when the session opens (src/oci/session.ts).
    ...[global, ...entries.map((entry) => ({ ...global, ...entry }))]
      .map((raw) => ["IDCS_PRIVATE_KEY_FILE", raw.IDCS_PRIVATE_KEY_FILE] as const),
    ...(global.CHECKPOINT_PUBLIC_KEYS ?? "").split(",").map((
      path,
    ) => ["CHECKPOINT_PUBLIC_KEYS", path.trim()]),
    ...publicKeys.map((path) => ["--public-key", path]),
  ].filter(([, path]) => path);
  for (
    const [env, path] of new Map(named.map(([env, path]) => [`${env}=${path}`, [env, path!] as const]))
      .values()
  ) {
    try {
      await Deno.stat(path);
      keepGrants({ read: [path] });
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        problems.push({
          what:
            `${env} cannot be read (the Deno permission set does not allow reading it): keep keys under ./keys`,
          value: path,
          grants: { read: [path] },
        });
      } else {
        const why = error instanceof Deno.errors.NotFound ? "no such file" : (error as Error).message;
        problems.push({ what: `${env} cannot be read (${why})`, value: path });
      }
    }
  }
  return problems;
}

function parseRangeFlag(name: string, text: string | undefined, required: boolean): number | undefined {
  if (text === undefined) {
    if (required) {
      throw new ArchiveError(
        "USAGE",
        `--${name} is required: an ISO-8601 UTC time like 2026-01-31T00:00:00Z`,
      );
    }
    return undefined;
  }
  const time = parseTime(text);
  if (time === undefined) {
    throw new ArchiveError(
      "USAGE",
      `--${name} must be an ISO-8601 UTC time like 2026-01-31T00:00:00Z: current value is "${text}"`,
    );
  }
  return time;
}

/** What a command runs with, once settings are valid and the sink is open. */
interface CommandContext {
  line: CommandLine;
  config: Config;
  sink: Sink;
  session?: OciSession;
  from?: number;
  to?: number;
  now: number;
  signal?: AbortSignal;
}

/**
 * Each command: which sources it reads (status, verify and export read the archive: an auditor needs no
 * source credentials; status reads OCI Audit's retention where it is configured), the range flags it
 * requires, and what it does. Returns the exit status.
 */
const COMMAND_TABLE: Record<
  string,
  { sources: boolean | "if-set"; from?: boolean; to?: boolean; run(context: CommandContext): Promise<number> }
> = {
  once: {
    sources: true,
    run: async ({ config, sink, session }) => {
      const sources = await openSources(config, session);
      const proof = await openProof(config, sink, session, sources, "once");
      const pass = await provenPass(config, sources, sink, loggingCopy(config, session), proof);
      log("info", "pass finished", { reports: pass.reports, checkpoint: pass.checkpoint.sequence });
      return 0;
    },
  },
  reconcile: {
    sources: true,
    run: async ({ config, sink, session, line, from, to }) => {
      const sources = await openSources(config, session);
      const proof = await openProof(config, sink, session, sources, "reconcile");
      // Without --from: every window the source still holds.
      const { results, reconciliation } = await untilSignal((stop) =>
        reconcileSources(config, sources, sink, proof, {
          from: from ?? -Infinity,
          to,
          dryRun: line.dryRun,
          stop,
        })
      );
      for (const result of results) console.log(JSON.stringify(result));
      if (!line.dryRun) await proof.checkpoint({ reconciliation: Promise.resolve(reconciliation) });
      const total = (rows: WindowReconciliation[], key: "missing" | "extra") =>
        rows.reduce((n, r) => n + r[key], 0);
      const summary = {
        windows: results.length,
        missing: total(results, "missing"),
        amended: total(results.filter((r) => r.amended), "missing"),
        extra: total(results, "extra"),
        problems: results.filter((r) => r.problem).length,
      };
      const clean = summary.missing === summary.amended && !summary.extra && !summary.problems;
      log(clean ? "info" : "warn", "reconcile finished", summary);
      return clean ? 0 : 1;
    },
  },
  run: { sources: true, run: runCommand },
  backfill: {
    sources: true,
    from: true,
    run: async ({ config, sink, session, from, to }) => {
      const sources = await openSources(config, session);
      const proof = await openProof(config, sink, session, sources, "backfill");
      // SIGINT/SIGTERM stop it after the window in hand; run again, it resumes where it stopped.
      const reports = await untilSignal((stop) =>
        backfill(config, sources, sink, { from: from!, to }, proof.authority, stop)
      );
      await proof.checkpoint();
      const interrupted = reports.flat().some((r) => r.stopped === "shutdown");
      log("info", interrupted ? "backfill interrupted: run it again to resume" : "backfill finished", {
        reports,
      });
      return 0;
    },
  },
  status: {
    sources: "if-set",
    run: async ({ config, sink, session, now }) => {
      const auditOnly = { ...config, sources: config.sources.filter((s) => s.source === "oci-audit") };
      const sources = await openSources(auditOnly, session);
      const trust = await readerTrust(config, sink, session);
      console.log(JSON.stringify(await archiveStatus(config, sink, now, sources, trust), null, 2));
      return 0;
    },
  },
  verify: {
    sources: false,
    run: async ({ config, sink, session, line, from, to, now }) => {
      if (line.mirror && config.checkpointMirror === undefined) {
        throw new ArchiveError(
          "USAGE",
          "--mirror reads CHECKPOINT_MIRROR: set it to the mirror's directory or oci://<bucket>",
        );
      }
      const report = await verifyArchive(sink, config.archivePrefix, from, to, {
        publicKeyPems: line.publicKeys?.length
          ? await readPublicKeyFiles(line.publicKeys, "--public-key")
          : await readPublicKeyFiles(config.checkpointPublicKeys, "CHECKPOINT_PUBLIC_KEYS"),
        maxStalenessMs: parseStaleness(line.maxStaleness),
        scheduleIntervalMs: scheduleInterval(parseCron(config.schedule)!, now),
        now,
        mirror: line.mirror ? await openMirror(config, session) : undefined,
      });
      console.log(JSON.stringify(report, null, 2));
      if (!report.problems.length) return 0;
      log("error", "verify failed", { problems: report.problems.length });
      return 1;
    },
  },
  export: {
    sources: false,
    from: true,
    to: true,
    run: async ({ config, sink, line, from, to }) => {
      const output = line.out ? await createOutput(line.out) : undefined;
      const writer = (output?.file.writable ?? Deno.stdout.writable).getWriter();
      let result;
      try {
        result = await exportEvents(sink, await archivedChains(config, sink), from!, to!, writer);
      } finally {
        await writer.close().catch(() => {});
        if (result === undefined) await output?.discard();
      }
      await output?.publish();
      // Partly covered: what is archived is exported, and what is not is said.
      if (result.missing.length) log("warn", `not archived: ${result.missing.join(", ")}`);
      log("info", "exported", { events: result.events, out: line.out ?? "stdout" });
      return 0;
    },
  },
};

const loggingCopy = (config: Config, session?: OciSession) =>
  config.oci.logId ? new LoggingCopy(session!, config.oci.logId) : undefined;

/** `run`: the daemon, until SIGINT, SIGTERM or `signal`. */
async function runCommand({ config, sink, session, signal }: CommandContext): Promise<number> {
  const sources = await openSources(config, session);
  const proof = await openProof(config, sink, session, sources, "run");
  await untilSignal(
    (stop) => runDaemon(config, sources, sink, loggingCopy(config, session), proof, stop),
    signal,
  );
  return 0;
}

/**
 * `verify --max-staleness`: how old the newest checkpoint may be, whatever cadence its writer declared. Unset:
 * the declared cadence decides (docs/design.md §8).
 */
function parseStaleness(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new ArchiveError(
      "USAGE",
      `--max-staleness must be a duration like 1h or 2d: current value is ${JSON.stringify(text)}`,
    );
  }
  return ms;
}

/** Runs `task` with a signal that SIGINT, SIGTERM (or `signal`) aborts. */
async function untilSignal<T>(task: (stop: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  signal?.addEventListener("abort", stop, { once: true });
  for (const name of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(name, stop);
  try {
    return await task(controller.signal);
  } finally {
    for (const name of ["SIGINT", "SIGTERM"] as const) Deno.removeSignalListener(name, stop);
  }
}

/** Runs one command line; returns the exit status. `signal` stops `run`. */
export async function main(args: string[], signal?: AbortSignal): Promise<number> {
  try {
    const line = parseCommandLine(args);
    if (line.command === "help") {
      console.log(line.topic ? commandHelp(line.topic) : helpText());
      return 0;
    }
    if (line.command === "version") {
      console.log(`audit-archiver ${VERSION}`);
      return 0;
    }
    const now = Date.now();
    const command = COMMAND_TABLE[line.command];
    const from = parseRangeFlag("from", line.from, Boolean(command?.from));
    const to = parseRangeFlag("to", line.to, Boolean(command?.to));
    if (from !== undefined && to !== undefined && from >= to) {
      throw new ArchiveError("USAGE", "--from must be before --to");
    }
    const config = await loadConfig(line, now, command?.sources ?? true);
    // `policies` only prints: it opens no session and no sink.
    if (line.command === "policies") {
      console.log(policyStatements(config));
      return 0;
    }
    configureLog(config.logLevel, config.logFormat);
    configureRequests({
      maxRetryWaitMs: config.maxRetryWaitMs,
      concurrency: config.concurrency,
      maxResponseBytes: config.maxResponseBytes,
    });
    registerSecret(config.triggerToken);
    const packages = sdkPackages(config, command!.sources !== false);
    if (packages.length) prepareProcessForSdk();
    const session = packages.length ? await openOciSession(config.oci, packages) : undefined;
    const sink = await openSink(config, session);
    const retention = logRetention(sink);
    const code = await command!.run({ line, config, sink, session, from, to, now, signal });
    await retention;
    return code;
  } catch (error) {
    const code = error instanceof ArchiveError ? error.code : "ERROR";
    log("error", scrub((error as Error).message), { code });
    return exitCodeOf(error);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
