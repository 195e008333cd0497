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
 * Usage: `deno run -P main.ts <once|run|backfill|status|verify|export|policies|help> [flags]`
 * (`-P` is the least-privilege permission set in deno.json: network to Oracle Cloud hosts and the instance
 * metadata address, writes under ./archive and the checkpoint key). Configuration: environment variables or
 * the same --kebab-case flags; `help` lists them.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { parseArgs } from "node:util";
import { createHash } from "node:crypto";
import { createGzip } from "node:zlib";
import process from "node:process";
import type * as Common from "oci-common";
import type * as ObjectStorage from "oci-objectstorage";
import type * as OciAudit from "oci-audit";
import type * as OciIdentity from "oci-identity";
import type * as OciLogging from "oci-loggingingestion";
import * as jose from "jose";

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Config: the settings table, parsing, and validation into a frozen Config before any I/O.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

export const VERSION = "0.1.0";
const DAY_MS = 86_400_000;
const floorTo = (ms: number, step: number) => Math.floor(ms / step) * step;
const FORMAT = "audit-archiver/1";

type SettingKind = "string" | "url" | "duration" | "since" | "count" | "boolean" | "enum" | "secret" | "cron";

export interface Setting {
  /** Environment variable; the flag is its kebab-case form. */
  env: string;
  kind: SettingKind;
  /** Shown in help and the README; applied in one place (`readSettings`). */
  default?: string;
  values?: readonly string[];
  /** Upper bound for counts. */
  max?: number;
  /** Per-source setting: may differ between entries of a --config file's `sources`. */
  perSource?: boolean;
  /** Defaults that depend on the source (shown in help and the README as "2m for idcs, …"). */
  sourceDefaults?: Readonly<Record<SourceName, string>>;
  help: string;
}

/** Every setting, once: help text, the README table and validation are driven from here. */
export const SETTINGS: readonly Setting[] = [
  {
    env: "SOURCE",
    kind: "enum",
    values: ["idcs", "oci-audit"],
    perSource: true,
    help: "where events come from; inferred from IDCS_URL or AUDIT_COMPARTMENT_ID when unset",
  },
  {
    env: "IDCS_URL",
    kind: "url",
    perSource: true,
    help: "identity domain URL, https://idcs-….identity.oraclecloud.com (http only for loopback)",
  },
  { env: "IDCS_CLIENT_ID", kind: "string", perSource: true, help: "confidential application client id" },
  {
    env: "IDCS_KEY_ID",
    kind: "string",
    perSource: true,
    help: "certificate alias of the uploaded public key (the JWT kid)",
  },
  {
    env: "IDCS_PRIVATE_KEY_FILE",
    kind: "string",
    perSource: true,
    help: "PEM private key (PKCS#8 or PKCS#1) that signs the client assertion",
  },
  {
    env: "IDCS_PRIVATE_KEY_SECRET_ID",
    kind: "string",
    perSource: true,
    help: "OCID of an OCI Vault secret holding the private key (a whole PEM, or the PEM body alone)",
  },
  {
    env: "IDCS_SIGNING_KEY_ID",
    kind: "string",
    perSource: true,
    help: "OCID of an OCI Vault RSA key that signs the assertion in the HSM (the key never leaves it)",
  },
  {
    env: "IDCS_SIGNING_KEY_ENDPOINT",
    kind: "url",
    perSource: true,
    help:
      "the Vault's crypto endpoint, https://…-crypto.kms.<region>.oraclecloud.com (with IDCS_SIGNING_KEY_ID)",
  },
  {
    env: "IDCS_CLIENT_SECRET",
    kind: "secret",
    perSource: true,
    help: "client secret instead of a key (least preferred)",
  },
  {
    env: "AUDIT_COMPARTMENT_ID",
    kind: "string",
    perSource: true,
    help: "oci-audit: the compartment (or tenancy) OCID whose audit events are archived",
  },
  {
    env: "AUDIT_SUBTREE",
    kind: "boolean",
    default: "true",
    perSource: true,
    help: "oci-audit: include every compartment below AUDIT_COMPARTMENT_ID",
  },
  {
    env: "ARCHIVE_DIR",
    kind: "string",
    default: "./archive",
    help: "local directory the archive is written to (when OCI_BUCKET is unset)",
  },
  { env: "OCI_BUCKET", kind: "string", help: "Object Storage bucket the archive is written to instead" },
  { env: "OCI_NAMESPACE", kind: "string", help: "Object Storage namespace; looked up when unset" },
  {
    env: "OCI_LOG_ID",
    kind: "string",
    help: "also copy each committed window to this OCI Logging custom log (never the system of record)",
  },
  { env: "ARCHIVE_PREFIX", kind: "string", default: "audit-archive", help: "object name prefix" },
  {
    env: "SINCE",
    kind: "since",
    default: "30d",
    perSource: true,
    help:
      "start of the first window when nothing is archived yet: a UTC time, or a duration back from now (to that day's 00:00 UTC)",
  },
  {
    env: "SETTLE",
    kind: "duration",
    perSource: true,
    sourceDefaults: { "idcs": "2m", "oci-audit": "15m" },
    help: "how far behind now a window must end, so late-indexed events are in it",
  },
  { env: "MAX_EVENTS", kind: "count", help: "events per pass (safety valve); unset = no limit" },
  { env: "MAX_EVENTS_PER_OBJECT", kind: "count", default: "20000", help: "largest window, in events" },
  { env: "DEADLINE", kind: "duration", help: "time budget of a pass: no new window starts after it" },
  {
    env: "MIN_INTERVAL",
    kind: "duration",
    default: "0s",
    help: "skip a pass when the frontier is newer than this",
  },
  {
    env: "MAX_RETRY_WAIT",
    kind: "duration",
    default: "20s",
    help:
      "longest wait before retrying a request: backoff grows to it (from 1/100 of it), and a Retry-After is honoured up to it",
  },
  {
    env: "RECONCILE_AFTER",
    kind: "duration",
    default: "1d",
    help:
      "each pass (`once`, `run`) reconciles every window once, this long after it was committed: late-indexed events are archived as amendments while the source still holds them",
  },
  {
    env: "MAX_LAG",
    kind: "duration",
    help:
      "with `run`: /healthz answers 503 when a source's lag passes this and it is not catching up (default: twice the SCHEDULE interval plus SETTLE)",
  },
  { env: "SCHEDULE", kind: "cron", default: "*/15 * * * *", help: "cron expression (UTC) for `run`" },
  { env: "PAGE_SIZE", kind: "count", default: "1000", max: 1000, help: "events per API page" },
  { env: "CONCURRENCY", kind: "count", default: "4", max: 64, help: "page requests in flight per source" },
  {
    env: "PORT",
    kind: "count",
    max: 65535,
    help: "with `run`: serve /healthz and /metrics (and POST /trigger when TRIGGER_TOKEN is set)",
  },
  {
    env: "TRIGGER_TOKEN",
    kind: "secret",
    help: "bearer token that POST /trigger requires (Authorization: Bearer …), at least 32 characters",
  },
  {
    env: "OCI_AUTH",
    kind: "enum",
    values: ["auto", "config", "instance_principal", "resource_principal"],
    default: "auto",
    help:
      "auto: resource principal if its variables are set, else instance principal if the metadata service answers, else the config file",
  },
  {
    env: "OCI_CONFIG_FILE",
    kind: "string",
    help:
      "OCI CLI config file (default ~/.oci/config; /etc/audit-archiver/.oci/config under the default permission set)",
  },
  { env: "OCI_PROFILE", kind: "string", default: "DEFAULT", help: "profile in the config file" },
  { env: "OCI_REGION", kind: "string", help: "region of the OCI endpoints (default: the auth's own region)" },
  ...(["OBJECT_STORAGE", "SECRETS", "AUDIT", "IDENTITY", "LOGGING", "METADATA", "FEDERATION"] as const).map((
    service,
  ) => ({
    env: `OCI_${service}_ENDPOINT`,
    kind: "url" as const,
    help: `endpoint override for ${
      service.toLowerCase().replace("_", " ")
    } (private endpoints, other realms, tests)`,
  })),
  {
    env: "CHECKPOINT_KEY_FILE",
    kind: "string",
    default: "./keys/checkpoint.pem",
    help:
      "Ed25519 private key (PKCS#8 PEM) that signs each pass's checkpoint; created on first use, never written into the archive",
  },
  {
    env: "CHECKPOINT_SIGNING_KEY_ID",
    kind: "string",
    help:
      "OCID of an OCI Vault RSA key that signs the checkpoints in the HSM instead of CHECKPOINT_KEY_FILE (no key file is read or created)",
  },
  {
    env: "CHECKPOINT_SIGNING_KEY_ENDPOINT",
    kind: "url",
    help:
      "that Vault's crypto endpoint, https://…-crypto.kms.<region>.oraclecloud.com (with CHECKPOINT_SIGNING_KEY_ID)",
  },
  {
    env: "CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT",
    kind: "url",
    help:
      "that Vault's management endpoint, https://…-management.kms.<region>.oraclecloud.com, where its public key is read (with CHECKPOINT_SIGNING_KEY_ID)",
  },
  {
    env: "CHECKPOINT_MIRROR",
    kind: "string",
    help:
      "a second directory, or oci://<bucket> (same namespace and credentials), that receives every checkpoint and public key too; `verify --mirror` reads it",
  },
  {
    env: "LOG_LEVEL",
    kind: "enum",
    values: ["debug", "info", "warn", "error"],
    default: "info",
    help: "least severe level logged",
  },
  {
    env: "LOG_FORMAT",
    kind: "enum",
    values: ["json", "text"],
    help: "log lines as JSON (default when stderr is not a terminal) or text",
  },
];

const PREFERENCE = "prefer a Vault signing key, then a Vault secret, then a key file, then a client secret";

/** One source's settings, validated. */
export type SourceName = "idcs" | "oci-audit";

export interface SourceConfig {
  readonly source: SourceName;
  readonly idcsUrl?: string;
  readonly clientId?: string;
  readonly keyId?: string;
  readonly privateKeyFile?: string;
  readonly clientSecret?: string;
  readonly keySecretId?: string;
  readonly signingKeyId?: string;
  readonly signingKeyEndpoint?: string;
  readonly compartmentId?: string;
  readonly subtree?: boolean;
  readonly since: number;
  readonly settleMs: number;
}

export interface Config {
  readonly sources: readonly SourceConfig[];
  readonly oci: OciConfig;
  readonly archiveDir: string;
  readonly archivePrefix: string;
  readonly maxEvents?: number;
  readonly maxEventsPerObject: number;
  readonly deadlineMs?: number;
  readonly minIntervalMs: number;
  readonly maxRetryWaitMs: number;
  readonly maxLagMs?: number;
  readonly reconcileAfterMs: number;
  readonly schedule: string;
  readonly pageSize: number;
  readonly concurrency: number;
  readonly port?: number;
  readonly triggerToken?: string;
  readonly checkpointKeyFile: string;
  /** A Vault key that signs the checkpoints instead of the key file. */
  readonly checkpointSigningKey?: PublishedVaultKey;
  readonly checkpointMirror?: string;
  readonly logLevel: LogLevel;
  readonly logFormat: "json" | "text";
}

/** Raw settings by env name, as strings, from one origin (file, env, flags). */
type RawSettings = Record<string, string>;

const flagOf = (env: string) => env.toLowerCase().replaceAll("_", "-");

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

/** Parses `90s`, `15m`, `24h`, `14d` into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "ms"];
  return Number(match[1]) * unit;
}

/** Parses an ISO-8601 UTC time (`Z` or an offset required, so no local-time surprises). */
export function parseTime(text: string): number | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text.trim())) {
    return undefined;
  }
  const ms = Date.parse(text.trim());
  const [year, month, day] = text.trim().slice(0, 10).split("-").map(Number);
  // Date.parse rolls 2026-02-30 over to March; a mistyped day must be an error, not a shifted range.
  const valid = new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
  return Number.isNaN(ms) || !valid ? undefined : ms;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** A URL as it may be shown: any user or password in it replaced. */
function withoutCredentials(text: string): string {
  return text.replace(/^([a-z]+:\/\/)[^/@]*@/i, "$1(credentials hidden)@");
}

/** TLS always; plain HTTP only to a loopback host (the emulators). */
function checkServiceUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "must be a URL like https://idcs-0123456789abcdef.identity.oraclecloud.com";
  }
  if (url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  if (url.protocol !== "https:") {
    return "must be an https URL (plain http is allowed only for loopback hosts)";
  }
  if (url.pathname !== "/" || url.search || url.hash || url.username || url.password) {
    return "must be the domain's base URL, without path, query or credentials";
  }
  return undefined;
}

/** A five-field cron expression as the sets of minutes, hours, days, months and weekdays it matches. */
export interface CronSchedule {
  minutes: Set<number>;
  hours: Set<number>;
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  anyDay: boolean;
  anyWeekday: boolean;
}

/** Parses `*`, `*\/n`, `a`, `a-b`, `a-b/n` and lists of them per field; undefined when malformed. */
export function parseCron(expression: string): CronSchedule | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) return undefined;
  const ranges: [number, number][] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
  const sets: Set<number>[] = [];
  for (const [i, field] of fields.entries()) {
    const [low, high] = ranges[i];
    const set = new Set<number>();
    for (const part of field.split(",")) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      if (!m) return undefined;
      const from = m[1] === "*" ? low : Number(m[2]);
      const to = m[1] === "*" ? high : m[3] !== undefined ? Number(m[3]) : m[4] ? high : from;
      const step = m[4] ? Number(m[4]) : 1;
      if (from < low || to > high || from > to || step < 1) return undefined;
      for (let v = from; v <= to; v += step) set.add(i === 4 && v === 7 ? 0 : v);
    }
    sets.push(set);
  }
  return {
    minutes: sets[0],
    hours: sets[1],
    days: sets[2],
    months: sets[3],
    weekdays: sets[4],
    anyDay: fields[2] === "*",
    anyWeekday: fields[4] === "*",
  };
}

/**
 * The first minute after `after` that the schedule matches (UTC; day-of-month OR weekday as in cron).
 * Searches day by day for eight years, so a 29 February schedule is found too; NaN when nothing matches.
 */
export function nextCronTime(schedule: CronSchedule, after: number): number {
  const first = Math.floor(after / 60_000) * 60_000 + 60_000;
  const minutes = [...schedule.minutes].sort((a, b) => a - b);
  const hours = [...schedule.hours].sort((a, b) => a - b);
  for (let day = Math.floor(first / DAY_MS) * DAY_MS; day < first + 8 * 366 * DAY_MS; day += DAY_MS) {
    const d = new Date(day);
    const byDay = schedule.days.has(d.getUTCDate()), byWeekday = schedule.weekdays.has(d.getUTCDay());
    const dayMatches = schedule.anyDay && schedule.anyWeekday
      ? true
      : schedule.anyDay
      ? byWeekday
      : schedule.anyWeekday
      ? byDay
      : byDay || byWeekday;
    if (!dayMatches || !schedule.months.has(d.getUTCMonth() + 1)) continue;
    for (const hour of hours) {
      for (const minute of minutes) {
        const t = day + hour * 3_600_000 + minute * 60_000;
        if (t >= first) return t;
      }
    }
  }
  return NaN;
}

/** A setting's value once parsed: each kind's parser gives one of these. */
type SettingValue = string | number | boolean;

/** One parser per setting kind: the value, or the rule it breaks (said as "X must …: current value is …"). */
const PARSERS: Record<
  SettingKind,
  (text: string, setting: Setting, now: number) => SettingValue | { rule: string }
> = {
  string: (text) => text,
  secret: (text) => text,
  url: (text) => {
    const problem = checkServiceUrl(text);
    return problem ? { rule: problem } : text.replace(/\/+$/, "");
  },
  enum: (text, setting) =>
    setting.values!.includes(text) ? text : { rule: `must be one of ${setting.values!.join(", ")}` },
  duration: (text) => parseDuration(text) ?? { rule: "must be a duration like 90s, 15m, 24h or 14d" },
  since: (text, _setting, now) => {
    const back = parseDuration(text);
    if (back !== undefined) return Math.floor((now - back) / DAY_MS) * DAY_MS;
    const time = parseTime(text);
    if (time === undefined) return { rule: "must be an ISO-8601 UTC time or a duration like 14d" };
    return time > now ? { rule: "must not be in the future" } : time;
  },
  count: (text, setting) => {
    const n = Number(text);
    const max = setting.max ?? Number.MAX_SAFE_INTEGER;
    return Number.isInteger(n) && n >= 1 && n <= max
      ? n
      : { rule: `must be a whole number from 1 to ${max}` };
  },
  boolean: (text) => text === "true" ? true : text === "false" ? false : { rule: "must be true or false" },
  cron: (text) =>
    parseCron(text) ? text : { rule: 'must be a five-field cron expression like "*/15 * * * *"' },
};

/**
 * The settings of one origin (global, or one source entry), parsed by kind and read back typed. A bad value
 * is added to `problems` and reads as unset. A per-source default (SETTLE) applies once the source is known.
 */
class SettingValues {
  readonly #values = new Map<string, SettingValue>();
  constructor(raw: RawSettings, perSource: boolean, now: number, problems: string[]) {
    for (const setting of SETTINGS) {
      if (Boolean(setting.perSource) !== perSource) continue;
      const text = raw[setting.env] ?? setting.default;
      if (text === undefined || text === "") continue;
      const value = PARSERS[setting.kind](text, setting, now);
      if (typeof value !== "object") this.#values.set(setting.env, value);
      else {
        const shown = setting.kind === "secret" ? "(hidden)" : JSON.stringify(withoutCredentials(text));
        problems.push(`${setting.env} ${value.rule}: current value is ${shown}`);
      }
    }
  }
  has(env: string): boolean {
    return this.#values.has(env);
  }
  text(env: string): string | undefined {
    const value = this.#values.get(env);
    return typeof value === "string" ? value : undefined;
  }
  number(env: string, source?: SourceName): number | undefined {
    const value = this.#values.get(env) ?? this.#sourceDefault(env, source);
    return typeof value === "number" ? value : undefined;
  }
  flag(env: string): boolean | undefined {
    const value = this.#values.get(env);
    return typeof value === "boolean" ? value : undefined;
  }
  #sourceDefault(env: string, source: SourceName | undefined) {
    const setting = SETTINGS.find((s) => s.env === env)!;
    const text = source && setting.sourceDefaults?.[source];
    return text === undefined ? undefined : PARSERS[setting.kind](text, setting, 0);
  }
}

/** SOURCE, or the source that IDCS_URL / AUDIT_COMPARTMENT_ID imply; undefined (with a problem) when neither. */
function inferSource(s: SettingValues, problems: string[]): SourceName | undefined {
  const source = s.text("SOURCE") as SourceName | undefined;
  if (source) return source;
  if (s.has("IDCS_URL") && s.has("AUDIT_COMPARTMENT_ID")) {
    problems.push("IDCS_URL and AUDIT_COMPARTMENT_ID are both set: set SOURCE to idcs or oci-audit");
  } else if (s.has("IDCS_URL")) return "idcs";
  else if (s.has("AUDIT_COMPARTMENT_ID")) return "oci-audit";
  else if (!problems.some((p) => p.startsWith("IDCS_URL"))) {
    problems.push(
      "SOURCE is not set and cannot be inferred: set IDCS_URL (and IDCS_CLIENT_ID with a key or secret) to archive an identity domain, or AUDIT_COMPARTMENT_ID for OCI Audit",
    );
  }
  return undefined;
}

const OCID_PATTERN = /^ocid1\.(tenancy|compartment)\.[a-z0-9-]+\.[a-z0-9-]*\.[a-z0-9]+$/;

function checkOciAuditSource(s: SettingValues, problems: string[]): SourceConfig {
  const compartmentId = s.text("AUDIT_COMPARTMENT_ID");
  if (compartmentId === undefined) problems.push("AUDIT_COMPARTMENT_ID is required for SOURCE=oci-audit");
  else if (!OCID_PATTERN.test(compartmentId)) {
    problems.push(
      `AUDIT_COMPARTMENT_ID must be a tenancy or compartment OCID (ocid1.compartment.oc1..…): current value is ${
        JSON.stringify(compartmentId)
      }`,
    );
  }
  return {
    source: "oci-audit",
    compartmentId,
    subtree: s.flag("AUDIT_SUBTREE"),
    since: s.number("SINCE")!,
    settleMs: s.number("SETTLE", "oci-audit")!,
  };
}

const IDCS_CREDENTIALS = [
  "IDCS_SIGNING_KEY_ID",
  "IDCS_PRIVATE_KEY_SECRET_ID",
  "IDCS_PRIVATE_KEY_FILE",
  "IDCS_CLIENT_SECRET",
] as const;

function checkIdcsSource(s: SettingValues, problems: string[]): SourceConfig {
  const missing = (env: string) => problems.push(`${env} is required for SOURCE=idcs`);
  if (!s.has("IDCS_URL") && !problems.some((p) => p.startsWith("IDCS_URL"))) missing("IDCS_URL");
  if (!s.has("IDCS_CLIENT_ID")) missing("IDCS_CLIENT_ID");
  const credentials = IDCS_CREDENTIALS.filter((name) => s.has(name));
  if (credentials.length > 1) {
    const all = credentials.length > 2 ? "all" : "both";
    problems.push(`${credentials.join(" and ")} are ${all} set: keep one (${PREFERENCE})`);
  }
  if (!credentials.length) {
    problems.push(
      "IDCS_PRIVATE_KEY_FILE, IDCS_PRIVATE_KEY_SECRET_ID or IDCS_SIGNING_KEY_ID (each with IDCS_KEY_ID), or IDCS_CLIENT_SECRET is required for SOURCE=idcs",
    );
  }
  if (credentials.length && credentials[0] !== "IDCS_CLIENT_SECRET" && !s.has("IDCS_KEY_ID")) {
    problems.push(
      `IDCS_KEY_ID is required with ${credentials[0]}: the certificate alias of the uploaded key`,
    );
  }
  checkTogether(s, ["IDCS_SIGNING_KEY_ID", "IDCS_SIGNING_KEY_ENDPOINT"], problems);
  return {
    source: "idcs",
    idcsUrl: s.text("IDCS_URL"),
    clientId: s.text("IDCS_CLIENT_ID"),
    keyId: s.text("IDCS_KEY_ID"),
    privateKeyFile: s.text("IDCS_PRIVATE_KEY_FILE"),
    clientSecret: s.text("IDCS_CLIENT_SECRET"),
    keySecretId: s.text("IDCS_PRIVATE_KEY_SECRET_ID"),
    signingKeyId: s.text("IDCS_SIGNING_KEY_ID"),
    signingKeyEndpoint: s.text("IDCS_SIGNING_KEY_ENDPOINT"),
    since: s.number("SINCE")!,
    settleMs: s.number("SETTLE", "idcs")!,
  };
}

/** Settings that only work as a set (a Vault key and its endpoints): some set without the others is a problem. */
function checkTogether(s: SettingValues, names: string[], problems: string[]) {
  // A setting given with a bad value is already reported: it counts as set here.
  const given = (name: string) => s.has(name) || problems.some((p) => p.startsWith(`${name} `));
  const missing = names.filter((name) => !given(name));
  if (missing.length === 0 || missing.length === names.length) return;
  const list = names.length > 2
    ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`
    : names.join(" and ");
  problems.push(
    `${list} go together: set ${names.length > 2 ? "all or none" : "both or neither"} (${
      missing.join(" and ")
    } ${missing.length > 1 ? "are" : "is"} not set)`,
  );
}

/** A bearer token short enough to guess is no authentication. */
const TRIGGER_TOKEN_MIN_LENGTH = 32;

/**
 * Checks that span settings: one entry per source and scope, TRIGGER_TOKEN only with PORT, and long; the
 * checkpoint's Vault key with both of its endpoints, and not with a key file named too (`raw`: the settings as
 * given, so the key file's default does not count).
 */
function checkAcrossSettings(
  sources: SourceConfig[],
  g: SettingValues,
  raw: RawSettings,
  problems: string[],
) {
  const scopes = sources.filter((s) => s.idcsUrl || s.compartmentId).map((s) =>
    `${s.source} ${sourceScope(s)}`
  );
  const repeated = scopes.find((scope, i) => scopes.indexOf(scope) !== i);
  if (repeated) problems.push(`the configuration names the source ${repeated} twice: keep one entry`);
  if (!g.has("PORT") && g.has("TRIGGER_TOKEN")) {
    problems.push("TRIGGER_TOKEN needs PORT: set both or neither");
  }
  checkTogether(g, [
    "CHECKPOINT_SIGNING_KEY_ID",
    "CHECKPOINT_SIGNING_KEY_ENDPOINT",
    "CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT",
  ], problems);
  if (raw.CHECKPOINT_KEY_FILE && raw.CHECKPOINT_SIGNING_KEY_ID) {
    problems.push(
      "CHECKPOINT_KEY_FILE and CHECKPOINT_SIGNING_KEY_ID are both set: keep one (the Vault key signs in the HSM; checkpoints the key file signed stay verifiable by its published key)",
    );
  }
  const token = g.text("TRIGGER_TOKEN");
  if (token !== undefined && token.length < TRIGGER_TOKEN_MIN_LENGTH) {
    problems.push(
      `TRIGGER_TOKEN must be at least ${TRIGGER_TOKEN_MIN_LENGTH} characters (e.g. openssl rand -hex 32): current value is (hidden, ${token.length} characters)`,
    );
  }
}

/**
 * Validates raw settings into a frozen Config; collects every problem and throws them together.
 * `now` anchors durations given for SINCE. Pure: no I/O.
 */
export function validateConfig(
  global: RawSettings,
  sourceEntries: RawSettings[],
  now: number,
  options: { stderrIsTerminal?: boolean; needsSources?: boolean | "if-set"; problems?: string[] } = {},
): Config {
  // Problems found by the caller's I/O (files named by settings), reported with these in one message.
  const problems: string[] = [...options.problems ?? []];
  const g = new SettingValues(global, false, now, problems);
  const named = sourceEntries.length > 0 ||
    ["SOURCE", "IDCS_URL", "AUDIT_COMPARTMENT_ID"].some((env) => global[env]);
  const wanted = options.needsSources === "if-set" ? named : options.needsSources !== false;
  const entries = !wanted ? [] : sourceEntries.length ? sourceEntries : [{}];
  const sources: SourceConfig[] = [];
  for (const entry of entries) {
    const s = new SettingValues({ ...global, ...entry }, true, now, problems);
    const source = inferSource(s, problems);
    if (source) {
      sources.push(source === "oci-audit" ? checkOciAuditSource(s, problems) : checkIdcsSource(s, problems));
    }
  }
  checkAcrossSettings(sources, g, global, problems);
  if (problems.length) {
    throw new ArchiveError(
      "CONFIG",
      `${problems.length} bad setting${problems.length > 1 ? "s" : ""}:\n  - ${problems.join("\n  - ")}`,
    );
  }
  return buildConfig(g, sources, options.stderrIsTerminal ?? false);
}

/** The frozen Config of valid settings: every value typed, every default applied (by the settings table). */
function buildConfig(g: SettingValues, sources: SourceConfig[], stderrIsTerminal: boolean): Config {
  const endpoint = (service: string) => g.text(`OCI_${service}_ENDPOINT`);
  return Object.freeze({
    sources: Object.freeze(sources.map((s) => Object.freeze(s))),
    oci: Object.freeze({
      auth: g.text("OCI_AUTH") as OciConfig["auth"],
      configFile: g.text("OCI_CONFIG_FILE"),
      profile: g.text("OCI_PROFILE")!,
      region: g.text("OCI_REGION"),
      endpoints: Object.freeze({
        objectStorage: endpoint("OBJECT_STORAGE"),
        secrets: endpoint("SECRETS"),
        audit: endpoint("AUDIT"),
        identity: endpoint("IDENTITY"),
        logging: endpoint("LOGGING"),
        metadata: endpoint("METADATA"),
        federation: endpoint("FEDERATION"),
      }),
      bucket: g.text("OCI_BUCKET"),
      namespace: g.text("OCI_NAMESPACE"),
      logId: g.text("OCI_LOG_ID"),
    }),
    archiveDir: g.text("ARCHIVE_DIR")!,
    archivePrefix: g.text("ARCHIVE_PREFIX")!.replace(/^\/+|\/+$/g, ""),
    maxEvents: g.number("MAX_EVENTS"),
    maxEventsPerObject: g.number("MAX_EVENTS_PER_OBJECT")!,
    deadlineMs: g.number("DEADLINE"),
    minIntervalMs: g.number("MIN_INTERVAL")!,
    maxRetryWaitMs: g.number("MAX_RETRY_WAIT")!,
    maxLagMs: g.number("MAX_LAG"),
    reconcileAfterMs: g.number("RECONCILE_AFTER")!,
    schedule: g.text("SCHEDULE")!,
    pageSize: g.number("PAGE_SIZE")!,
    concurrency: g.number("CONCURRENCY")!,
    port: g.number("PORT"),
    triggerToken: g.text("TRIGGER_TOKEN"),
    checkpointKeyFile: g.text("CHECKPOINT_KEY_FILE")!,
    checkpointSigningKey: g.has("CHECKPOINT_SIGNING_KEY_ID")
      ? Object.freeze({
        keyId: g.text("CHECKPOINT_SIGNING_KEY_ID")!,
        cryptoEndpoint: g.text("CHECKPOINT_SIGNING_KEY_ENDPOINT")!,
        managementEndpoint: g.text("CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT")!,
      })
      : undefined,
    checkpointMirror: g.text("CHECKPOINT_MIRROR"),
    logLevel: g.text("LOG_LEVEL") as LogLevel,
    logFormat: (g.text("LOG_FORMAT") as "json" | "text" | undefined) ??
      (stderrIsTerminal ? "text" : "json"),
  });
}

/** Reads a --config JSON file: top-level settings plus optional `sources: [{…}]`; unknown keys are rejected. */
export function parseConfigFile(text: string, path: string): { global: RawSettings; sources: RawSettings[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // The parser's message quotes the text around the error, which may be a secret: say only what to fix.
    throw new ArchiveError(
      "CONFIG",
      `--config ${path} is not valid JSON: check its quotes, commas and braces`,
    );
  }
  const known = new Set(SETTINGS.map((s) => s.env));
  const perSource = new Set(SETTINGS.filter((s) => s.perSource).map((s) => s.env));
  const problems: string[] = [];
  const settingsOf = (object: unknown, where: string, allowed: Set<string>): RawSettings => {
    const raw: RawSettings = {};
    if (typeof object !== "object" || object === null || Array.isArray(object)) {
      problems.push(`${where} must be a JSON object`);
      return raw;
    }
    for (const [key, value] of Object.entries(object)) {
      if (where === "--config" && key === "sources") continue;
      if (!allowed.has(key)) {
        problems.push(`${where}: unknown setting "${key}" (settings are named as the environment variables)`);
      } else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
        raw[key] = String(value);
      } else problems.push(`${where}: ${key} must be a string, number or boolean`);
    }
    return raw;
  };
  const global = settingsOf(json, "--config", known);
  const list = (json as { sources?: unknown } | null)?.sources;
  if (list !== undefined && !Array.isArray(list)) {
    problems.push("--config: sources must be an array of objects");
  }
  const sources = Array.isArray(list)
    ? list.map((entry, i) => settingsOf(entry, `sources[${i}]`, perSource))
    : [];
  if (problems.length) throw new ArchiveError("CONFIG", `--config ${path}:\n  - ${problems.join("\n  - ")}`);
  return { global, sources };
}

/** Settings from the environment: only the variables the table names (the permission set allows no others). */
function readEnvironment(): RawSettings {
  const raw: RawSettings = {};
  for (const setting of SETTINGS) {
    const value = Deno.env.get(setting.env);
    if (value !== undefined) raw[setting.env] = value;
  }
  return raw;
}

/** A setting's default as help and the README show it: "20s", or "2m for idcs, 15m for oci-audit". */
export function defaultText(setting: Setting): string | undefined {
  const bySource = Object.entries(setting.sourceDefaults ?? {}).map(([source, text]) =>
    `${text} for ${source}`
  );
  return setting.default ?? (bySource.length ? bySource.join(", ") : undefined);
}

/** The help text, from the settings table. */
export function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const fallback = defaultText(s);
    return `  --${flagOf(s.env).padEnd(24)} ${s.env.padEnd(24)} ${s.help}${
      fallback ? ` (default ${fallback})` : ""
    }`;
  });
  return `audit-archiver ${VERSION} — keeps Oracle Cloud audit events, complete and provably untouched

Usage: deno run -P main.ts <command> [flags]

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
                              trusted; the newest checkpoint may be at most D old, default twice the SCHEDULE
                              interval plus 15 min); exit 0 only if all hold; --mirror reads the checkpoints
                              from CHECKPOINT_MIRROR
  export --from T --to T [--out FILE]
                              archived events in that range as NDJSON (stdout by default), amendments
                              included
  policies                    the least-privilege IAM statements for this configuration, per auth mode
  help, --help, --version

Settings (environment variable or the same flag; flags win; --config FILE holds them as JSON,
with per-source settings in "sources": [{…}]):
${rows.join("\n")}

Exit codes: 0 success, 1 a pass failed (what was committed stays committed), 2 bad configuration or usage.
`;
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Errors, logs and metrics: one error type with a code; log lines with secrets scrubbed; the process's counters.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

export type ErrorCode =
  | "USAGE" // bad command line: exit 2
  | "CONFIG" // bad settings, keys or files: exit 2
  | "AUTH" // the service rejected our credentials (401)
  | "FORBIDDEN" // authenticated, not permitted (403)
  | "NOT_FOUND" // 404: for OCI "not found, or not authorized" (NotAuthorizedOrNotFound)
  | "CONFLICT" // 412: a create-if-absent found the name taken
  | "HTTP" // an unexpected status, or retries exhausted
  | "PROTOCOL" // a response that is not what the API documents
  | "NETWORK" // unreachable, reset, timed out
  | "ARCHIVE" // the archive is inconsistent or cannot be written
  | "VERIFY"; // verify or export found a problem

export class ArchiveError extends Error {
  override name = "ArchiveError";
  /** Whether sending the same request again may succeed. */
  readonly retriable: boolean;
  /** How long the service asked us to wait (Retry-After). */
  readonly retryAfterMs?: number;
  /** The HTTP status behind the error, where there was one. */
  readonly status?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { cause?: unknown; retriable?: boolean; retryAfterMs?: number; status?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.retriable = options.retriable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}

const retriableError = (
  code: ErrorCode,
  message: string,
  options: { cause?: unknown; retryAfterMs?: number; status?: number } = {},
) => new ArchiveError(code, message, { ...options, retriable: true });

export const exitCodeOf = (error: unknown) =>
  error instanceof ArchiveError && (error.code === "CONFIG" || error.code === "USAGE") ? 2 : 1;

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Values that must never leave memory; every log line is scrubbed of them (defence in depth). */
const secrets = new Set<string>();
function registerSecret(value: string | undefined) {
  if (value && value.length >= 6) secrets.add(value);
}
function scrub(text: string): string {
  for (const secret of secrets) text = text.replaceAll(secret, "[redacted]");
  return text;
}

const logSettings = { level: "info" as LogLevel, format: "json" as "json" | "text" };

export function log(level: LogLevel, message: string, fields: Record<string, unknown> = {}) {
  if (LEVELS[level] < LEVELS[logSettings.level]) return;
  const time = new Date().toISOString();
  const line = logSettings.format === "json"
    ? JSON.stringify({ time, level, msg: message, ...fields })
    : `${time} ${level.toUpperCase().padEnd(5)} ${message}${
      Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(
        "",
      )
    }`;
  console.error(scrub(line));
}

/** Every metric, once: its type and HELP line (Prometheus naming: `_total` counters, base units in the name). */
const METRICS = {
  audit_archiver_passes_total: ["counter", "Archive passes per source, by result (ok, failed, skipped)."],
  audit_archiver_windows_committed_total: ["counter", "Windows committed, by source and scope."],
  audit_archiver_events_committed_total: ["counter", "Events committed, by source and scope."],
  audit_archiver_bytes_committed_total: ["counter", "Compressed data bytes committed, by source and scope."],
  audit_archiver_requests_total: ["counter", "API requests, every attempt, by API and status class."],
  audit_archiver_retries_total: ["counter", "Requests sent again after a retriable failure, by API."],
  audit_archiver_retry_wait_seconds_total: [
    "counter",
    "Time waited before retries, by API and by what set the wait (backoff or retry-after).",
  ],
  audit_archiver_logging_copies_total: ["counter", "Logging copy attempts of a window, by outcome."],
  audit_archiver_late_events_total: [
    "counter",
    "Events reconcile found in the source for committed windows, archived as amendments.",
  ],
  audit_archiver_frontier_timestamp_seconds: [
    "gauge",
    "End of the newest committed window (processing time for oci-audit), by source and scope.",
  ],
  audit_archiver_lag_seconds: ["gauge", "Now minus the frontier, by source and scope."],
  audit_archiver_source_up: ["gauge", "1 when the source's last pass succeeded, else 0."],
  audit_archiver_last_success_timestamp_seconds: ["gauge", "When a pass of the source last succeeded."],
  audit_archiver_pass_running: ["gauge", "1 while a pass of the source runs."],
  audit_archiver_pass_duration_seconds: ["histogram", "How long passes took, by source and scope."],
  audit_archiver_checkpoint_timestamp_seconds: [
    "gauge",
    "When the newest checkpoint this process wrote was signed.",
  ],
  audit_archiver_checkpoint_sequence: [
    "gauge",
    "The sequence number of the newest checkpoint this process wrote.",
  ],
} as const;
type MetricName = keyof typeof METRICS;

const PASS_DURATION_BUCKETS = [1, 5, 15, 60, 300, 900, 3600] as const;

/** A label set rendered as Prometheus text: `{a="x",b="y"}`, values escaped as the exposition format says. */
function labelText(labels: Record<string, string>): string {
  const escape = (value: string) =>
    value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escape(value)}"`);
  return pairs.length ? `{${pairs.join(",")}}` : "";
}

/**
 * The process's counters and gauges, rendered for /metrics. It only counts: the pass runners own what runs,
 * and each call site says what happened. One process, one set (module state, like the log settings).
 */
class Metrics {
  readonly #series = new Map<MetricName, Map<string, number>>();

  add(name: MetricName, labels: Record<string, string>, by = 1) {
    const series = this.#series.get(name) ?? new Map<string, number>();
    this.#series.set(name, series);
    const key = labelText(labels);
    series.set(key, (series.get(key) ?? 0) + by);
  }

  set(name: MetricName, labels: Record<string, string>, value: number) {
    const series = this.#series.get(name) ?? new Map<string, number>();
    this.#series.set(name, series);
    series.set(labelText(labels), value);
  }

  value(name: MetricName, labels: Record<string, string>): number | undefined {
    return this.#series.get(name)?.get(labelText(labels));
  }

  /** Records one pass's duration into the histogram's cumulative buckets. */
  observePass(labels: Record<string, string>, seconds: number) {
    for (const le of [...PASS_DURATION_BUCKETS, Infinity]) {
      if (seconds <= le) {
        this.add("audit_archiver_pass_duration_seconds", {
          ...labels,
          le: le === Infinity ? "+Inf" : String(le),
        });
      }
    }
    this.add("audit_archiver_pass_duration_seconds", { ...labels, part: "sum" }, seconds);
    this.add("audit_archiver_pass_duration_seconds", { ...labels, part: "count" });
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, [type, help]] of Object.entries(METRICS) as [MetricName, readonly [string, string]][]) {
      const series = this.#series.get(name);
      if (!series?.size) continue;
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of series) lines.push(`${seriesName(name, labels)} ${value}`);
    }
    return lines.join("\n") + "\n";
  }
}

/** A histogram's series are `_bucket{…,le}`, `_sum` and `_count`; the `part` label says which. */
function seriesName(name: MetricName, labels: string): string {
  const part = /,?part="(sum|count)"/.exec(labels);
  if (part) return `${name}_${part[1]}${labels.replace(part[0], "").replace("{,", "{").replace("{}", "")}`;
  return labels.includes('le="') ? `${name}_bucket${labels}` : `${name}${labels}`;
}

const metrics = new Metrics();

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// HTTP: one retry loop for every call (fetch and SDK); the fetch helper's timeouts and error mapping.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

const REQUEST_TIMEOUT_MS = 30_000;
const RETRY_ATTEMPTS = 6;
/** Attempts of one request that a 429 may refuse, on top of RETRY_ATTEMPTS (see `retrying`). */
const THROTTLED_ATTEMPTS = 8;

/** The retry loop's one tunable, from MAX_RETRY_WAIT (set in `main()`); tests shrink it to keep waits short. */
const retryPolicy = { maxWaitMs: 20_000 };

/** Full-jitter exponential backoff from 1/100 of the longest wait (attempt 1 is the first retry). Pure. */
export function backoffDelay(attempt: number, random: number, maxWaitMs: number): number {
  return Math.floor(random * Math.min(maxWaitMs, (maxWaitMs / 100) * 2 ** attempt));
}

/** Retry-After as delta-seconds or an HTTP date, in ms (RFC 9110 §10.2.3). Pure. */
export function retryAfterMs(header: string | null | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) ? Math.max(ms, 0) : undefined;
}

/** What a failed HTTP status means for us: the error code, whether to retry, and the wait the server asked for. */
export interface StatusClass {
  code: ErrorCode;
  retriable: boolean;
  retryAfterMs?: number;
}

/**
 * The one status classifier, for `fetch` calls and SDK calls alike. Pure. 429 and 5xx are retried (with
 * Retry-After where sent); 401/403/404/412 have codes of their own so callers never test raw statuses.
 */
export function classifyStatus(
  status: number,
  headers: { get(name: string): string | null } | undefined,
  now: number,
): StatusClass {
  if (status === 429 || status >= 500) {
    return { code: "HTTP", retriable: true, retryAfterMs: retryAfterMs(headers?.get("retry-after"), now) };
  }
  const code = ({ 401: "AUTH", 403: "FORBIDDEN", 404: "NOT_FOUND", 412: "CONFLICT" } as const)[status];
  return { code: code ?? "HTTP", retriable: false };
}

/** Adds the authorization of one request to its headers, in place. */
type RequestSigner = (url: string, method: string, headers: Headers) => Promise<void>;

type RequestOptions<T> =
  & RequestBase
  & (
    | {
      /**
       * Checks the parsed JSON body (and the UTF-8 bytes it was parsed from, for callers that keep it as sent)
       * and returns it typed; throws a PROTOCOL error when it is not as documented.
       */
      parse: (body: unknown, sent: Uint8Array, response: Response) => T;
    }
    | {
      /**
       * Checks the body's bytes itself, never parsed whole: an OCI Audit page can hold thousands of events, and
       * parsing them one at a time keeps no page-sized string or object tree alive (oci-wire.md).
       */
      parseBytes: (sent: Uint8Array, response: Response) => T;
    }
  );

interface RequestBase {
  /** What the call is, for errors and logs: "identity domain token". */
  what: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Signs each attempt afresh (OCI request signatures carry the time). */
  sign?: RequestSigner;
  /** Maps a non-2xx status that the caller understands (401, 403) to an error; undefined = default mapping. */
  onStatus?: (status: number, detail: string) => ArchiveError | undefined;
}

/**
 * The one retry loop, for `fetch` calls and SDK calls alike: runs `attempt` until it succeeds or fails for good.
 * `classify` turns any failure into an ArchiveError that says whether it is retriable (and any Retry-After).
 */
export async function retrying<T>(
  what: string,
  attempt: () => Promise<T>,
  classify: (error: unknown) => ArchiveError,
  gate?: RequestGate,
): Promise<T> {
  const api = { api: what };
  for (let n = 1, throttles = 0;; n++) {
    let wait: number | undefined;
    let startedAt = Date.now();
    try {
      let result: T;
      if (gate) {
        const started = await gate.run(attempt);
        startedAt = started.startedAt;
        result = await started.result;
        gate.succeeded();
      } else result = await attempt();
      metrics.add("audit_archiver_requests_total", { ...api, status_class: "2xx" });
      return result;
    } catch (error) {
      const archiveError = classify(error);
      metrics.add("audit_archiver_requests_total", { ...api, status_class: statusClass(archiveError) });
      // A 429 says the request was sound and the service busy: it gets attempts of its own, so a per-minute
      // limit (150/min on a Free domain) outlasts the backoff of RETRY_ATTEMPTS without failing the pass.
      const throttled = archiveError.status === 429 && ++throttles < THROTTLED_ATTEMPTS;
      if (throttled) n--;
      if (!archiveError.retriable || n >= RETRY_ATTEMPTS) throw archiveError;
      const { maxWaitMs } = retryPolicy;
      // A Retry-After is honoured up to MAX_RETRY_WAIT, so a hostile or mistaken header cannot stall a pass.
      wait = Math.min(
        archiveError.retryAfterMs ?? backoffDelay(throttled ? throttles : n, Math.random(), maxWaitMs),
        maxWaitMs,
      );
      if (archiveError.status === 429) gate?.throttled(startedAt, wait);
      log("debug", "retrying", {
        what,
        attempt: n,
        waitMs: wait,
        retryAfterMs: archiveError.retryAfterMs,
        error: archiveError.message,
      });
      metrics.add("audit_archiver_retries_total", api);
      const by = archiveError.retryAfterMs === undefined ? "backoff" : "retry-after";
      metrics.add("audit_archiver_retry_wait_seconds_total", { ...api, by }, wait / 1000);
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** The status class a failed attempt counts under: 4xx, 5xx, or network (no answer, or not what was documented). */
const statusClass = (error: ArchiveError) =>
  error.status === undefined ? "network" : `${Math.floor(error.status / 100)}xx`;

/**
 * The pace of requests to one host: at most CONCURRENCY in flight however many windows are being read ahead
 * (the limit is per host, not per caller, so reading ahead never multiplies the load), and a rate that 429s
 * teach. Oracle publishes per-domain limits (idcs-api.md [api-rate-limiting]: 20/s and 150/min on a Free
 * domain, 90/s on Premium) but not for OCI Audit, so the rate is learnt, not configured: a 429 cuts it and
 * holds every request to the host for its wait (Retry-After, or the retry loop's backoff when absent), so one
 * 429 does not become a burst of them; each success wins a little back. Waiters are served
 * in arrival order, so the window being committed (whose pages were asked for first) is never starved.
 */
export class RequestGate {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  /** Least time between two request starts, in ms; 0 = unpaced, until the first 429. */
  #intervalMs = 0;
  #nextStart = 0;
  #heldUntil = 0;
  /** When the rate was last cut: the 429s of requests started before it are the same overload. */
  #slowedAt = -Infinity;
  readonly #recentStarts: number[] = [];
  constructor(readonly limit: number) {}

  /** Runs `task` when a slot is free and the pace allows; returns when it started and its outcome. */
  async run<T>(task: () => Promise<T>): Promise<{ startedAt: number; result: Promise<T> }> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    const startedAt = await this.#paced();
    const result = task();
    const release = () => {
      // The slot passes straight to the next waiter, so `#active` never drops below the work in flight.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    };
    result.then(release, release);
    return { startedAt, result };
  }

  /** Waits for the hold and the pace; returns the start time it was given. */
  async #paced(): Promise<number> {
    for (;;) {
      const now = Date.now();
      const at = Math.max(now, this.#heldUntil, this.#nextStart);
      if (at <= now) break;
      await new Promise((resolve) => setTimeout(resolve, at - now));
    }
    const now = Date.now();
    this.#nextStart = now + this.#intervalMs;
    this.#recentStarts.push(now);
    while (this.#recentStarts[0] <= now - 1000) this.#recentStarts.shift();
    return now;
  }

  /** A 429: cut the rate (once per overload) and hold every request for `waitMs`. */
  throttled(startedAt: number, waitMs: number) {
    const now = Date.now();
    this.#heldUntil = Math.max(this.#heldUntil, now + waitMs);
    if (startedAt < this.#slowedAt) return;
    const rate = this.#intervalMs ? 1000 / this.#intervalMs : Math.max(1, this.#recentStarts.length);
    // Never slower than one request per MAX_RETRY_WAIT: the pace must not outwait the retry loop's own bound.
    this.#intervalMs = Math.min(retryPolicy.maxWaitMs, 1000 / (rate * GATE_DECREASE));
    this.#slowedAt = now;
  }

  /** A success: raise the rate by GATE_INCREASE, until unpaced again. */
  succeeded() {
    if (!this.#intervalMs) return;
    const raised = GATE_INCREASE * 1000 / this.#intervalMs;
    this.#intervalMs = raised >= GATE_UNPACED_RATE ? 0 : 1000 / raised;
  }
}

/** A rate (requests/s) above which the gate stops pacing: past any published limit (idcs-api.md). */
const GATE_UNPACED_RATE = 200;
/**
 * How an overload cuts the rate, and how each success raises it. Multiplicative both ways, so 429s that come
 * at random (not from load: up to 8% of requests in the fault suite) cannot drive the rate down for good: it
 * only falls while more than ln(1/0.7) / (ln(1/0.7) + ln(1.1)), about one request in five, is refused.
 */
const GATE_DECREASE = 0.7;
const GATE_INCREASE = 1.1;

/** One gate per host (origin), sized by CONCURRENCY (set in `main()`). */
const gates = new Map<string, RequestGate>();
const requestLimits = { concurrency: 8 };
const gateOf = (url: string) => {
  const origin = new URL(url).origin;
  let gate = gates.get(origin);
  if (!gate) gates.set(origin, gate = new RequestGate(requestLimits.concurrency));
  return gate;
};

/** Sends one request with retries; returns the parsed body of the first good response. */
export function request<T>(url: string, options: RequestOptions<T>): Promise<T> {
  return retrying(
    options.what,
    () => attemptRequest(url, options),
    (error) => error instanceof ArchiveError ? error : networkError(options.what, error as Error),
    gateOf(url),
  );
}

/** A failed connection or timeout, with the reason `fetch` keeps in its cause ("fetch failed" alone says nothing). */
function networkError(what: string, error: Error): ArchiveError {
  const reason = error.name === "TimeoutError"
    ? `no response within ${REQUEST_TIMEOUT_MS / 1000} s`
    : (error.cause as Error | undefined)?.message ?? error.message;
  return retriableError("NETWORK", `${what}: ${reason} (check the URL, DNS and egress rules)`, {
    cause: error,
  });
}

async function attemptRequest<T>(url: string, options: RequestOptions<T>): Promise<T> {
  const method = options.method ?? "GET";
  const headers = new Headers(options.headers);
  await options.sign?.(url, method, headers);
  const response = await fetch(url, {
    method,
    headers,
    body: options.body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  // The whole body is read inside the retry loop: a reset or truncated body is retried like a 5xx.
  const sent = new Uint8Array(await response.arrayBuffer());
  const ecid = response.headers.get("x-oracle-dms-ecid") ?? undefined;
  if (!response.ok) {
    const detail = errorDetail(UTF8.decode(sent));
    const where = `${options.what}: HTTP ${response.status}${detail ? ` ${detail}` : ""}${
      ecid ? ` (ecid ${ecid})` : ""
    }`;
    if (ecid) log("debug", "request failed", { what: options.what, status: response.status, ecid });
    const mapped = options.onStatus?.(response.status, where);
    if (mapped) throw mapped;
    const { code, retriable, retryAfterMs } = classifyStatus(response.status, response.headers, Date.now());
    throw new ArchiveError(code, where, { retriable, retryAfterMs, status: response.status });
  }
  if ("parseBytes" in options) return options.parseBytes(sent, response);
  let json: unknown;
  try {
    json = JSON.parse(UTF8.decode(sent));
  } catch {
    throw retriableError("PROTOCOL", `${options.what}: the response is not JSON (${sent.length} bytes)`);
  }
  return options.parse(json, sent, response);
}

/** Decodes response bodies as `Response.text()` does: UTF-8, a leading byte order mark dropped. */
const UTF8 = new TextDecoder();

/** The human part of an error body: SCIM `detail`, OAuth `error_description`, OCI `message`. */
function errorDetail(text: string): string {
  try {
    const body = JSON.parse(text);
    const detail = body?.detail ?? body?.error_description ?? body?.message ?? body?.error;
    return typeof detail === "string" ? detail.slice(0, 300) : "";
  } catch {
    return "";
  }
}

/** Runs `task` over `items` with at most `limit` in flight; results in input order. */
async function mapConcurrent<I, O>(items: I[], limit: number, task: (item: I) => Promise<O>): Promise<O[]> {
  const results: O[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Credentials: the identity domain's OAuth client credentials with a signed JWT client assertion.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Signs bytes: the JWT signing input (RS256) with a local key or the Vault's HSM, or a checkpoint. */
type Signer = (input: Uint8Array) => Promise<Uint8Array>;

const IDCS_SCOPE = "urn:opc:idm:__myscopes__";
const LEGACY_AUDIENCE = "https://identity.oraclecloud.com/";
const ASSERTION_LIFETIME_S = 300;
const TOKEN_REFRESH_MARGIN_MS = 60_000;

/** Wraps a PKCS#1 RSAPrivateKey in a PKCS#8 PrivateKeyInfo (RFC 5208 §5), so WebCrypto can import it. */
export function pkcs1ToPkcs8(pkcs1: Uint8Array): Uint8Array {
  const der = (tag: number, body: Uint8Array) => {
    const n = body.length;
    const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [
      0x83,
      n >> 16,
      (n >> 8) & 0xff,
      n & 0xff,
    ];
    return new Uint8Array([tag, ...length, ...body]);
  };
  // AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }
  const algorithm = Uint8Array.from(
    "300d06092a864886f70d0101010500".match(/../g)!,
    (hex) => parseInt(hex, 16),
  );
  const version = Uint8Array.from([0x02, 0x01, 0x00]);
  const octets = der(0x04, pkcs1);
  return der(0x30, new Uint8Array([...version, ...algorithm, ...octets]));
}

/** Imports a PEM RSA private key (PKCS#8 or PKCS#1) as a non-extractable signing key. */
export async function importPrivateKey(pem: string, where: string): Promise<CryptoKey> {
  const match = /-----BEGIN ((?:RSA |ENCRYPTED )?PRIVATE KEY)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!match) throw new ArchiveError("CONFIG", `${where} holds no PEM private key (BEGIN PRIVATE KEY)`);
  if (match[1] === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(match[2])) {
    throw new ArchiveError(
      "CONFIG",
      `${where} is an encrypted key: give an unencrypted PKCS#8 or PKCS#1 key`,
    );
  }
  let der: Uint8Array;
  try {
    der = Uint8Array.from(atob(match[2].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
  } catch {
    throw new ArchiveError("CONFIG", `${where}: the PEM body is not base64`);
  }
  if (match[1] === "RSA PRIVATE KEY") der = pkcs1ToPkcs8(der);
  const body = btoa(String.fromCharCode(...der)).replace(/.{64}/g, "$&\n");
  try {
    return await jose.importPKCS8(
      `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----`,
      "RS256",
      {
        extractable: false,
      },
    ) as CryptoKey;
  } catch {
    throw new ArchiveError("CONFIG", `${where} is not an RSA private key usable for RS256`);
  }
}

/** Builds the client assertion (RFC 7523 §3): iss = sub = client id, both audiences, short expiry. */
export async function signAssertion(
  claims: { clientId: string; keyId: string; domainUrl: string; now: number },
  sign: Signer,
): Promise<string> {
  const iat = Math.floor(claims.now / 1000);
  const encode = (value: unknown) => jose.base64url.encode(JSON.stringify(value));
  const input = `${encode({ alg: "RS256", typ: "JWT", kid: claims.keyId })}.${
    encode({
      iss: claims.clientId,
      sub: claims.clientId,
      aud: [claims.domainUrl, LEGACY_AUDIENCE],
      iat,
      exp: iat + ASSERTION_LIFETIME_S,
      jti: crypto.randomUUID(),
    })
  }`;
  const signature = await sign(new TextEncoder().encode(input));
  return `${input}.${jose.base64url.encode(signature)}`;
}

/** Access tokens for one identity domain, reused until shortly before they expire. */
class IdcsTokens {
  #token?: { value: string; expires: number };
  #pending?: Promise<string>;
  constructor(
    readonly config: SourceConfig,
    readonly sign?: Signer,
  ) {}

  get(): Promise<string> {
    if (this.#token && Date.now() < this.#token.expires - TOKEN_REFRESH_MARGIN_MS) {
      return Promise.resolve(this.#token.value);
    }
    this.#pending ??= this.#fetch().finally(() => this.#pending = undefined);
    return this.#pending;
  }

  /** Drops the cached token (after a 401, it may have been revoked). */
  invalidate() {
    this.#token = undefined;
  }

  async #fetch(): Promise<string> {
    const { keyId, clientSecret } = this.config;
    const idcsUrl = this.config.idcsUrl!, clientId = this.config.clientId!;
    const form = new URLSearchParams({ grant_type: "client_credentials", scope: IDCS_SCOPE });
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    if (this.sign) {
      const assertion = await signAssertion(
        { clientId, keyId: keyId!, domainUrl: idcsUrl, now: Date.now() },
        this.sign,
      );
      registerSecret(assertion);
      form.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
      form.set("client_assertion", assertion);
    } else {
      headers.authorization = `Basic ${
        btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret!)}`)
      }`;
    }
    const token = await request(`${idcsUrl}/oauth2/v1/token`, {
      what: "identity domain token",
      method: "POST",
      headers,
      body: form.toString(),
      parse: (body) => {
        const { access_token, expires_in } = body as { access_token?: unknown; expires_in?: unknown };
        if (typeof access_token !== "string" || !access_token || typeof expires_in !== "number") {
          throw retriableError(
            "PROTOCOL",
            "identity domain token: the response has no access_token/expires_in",
          );
        }
        return { value: access_token, expires: Date.now() + expires_in * 1000 };
      },
      onStatus: (status, detail) =>
        status === 400 || status === 401
          ? new ArchiveError(
            "AUTH",
            `${detail} — the identity domain rejected the client credentials: check IDCS_CLIENT_ID, IDCS_KEY_ID (the certificate alias) and that the key matches the uploaded certificate`,
          )
          : undefined,
    });
    registerSecret(token.value);
    this.#token = token;
    return token.value;
  }
}

/** Loads the key named by the config and returns its signer, or undefined for a client secret. */
async function loadSigner(
  config: SourceConfig,
  session: OciSession | undefined,
): Promise<Signer | undefined> {
  registerSecret(config.clientSecret);
  if (config.signingKeyId) {
    return kmsSigner(session!, { keyId: config.signingKeyId, cryptoEndpoint: config.signingKeyEndpoint! });
  }
  if (config.keySecretId) return localSigner(await loadSecretKey(session!, config.keySecretId));
  if (!config.privateKeyFile) return undefined;
  let pem: string;
  try {
    pem = await Deno.readTextFile(config.privateKeyFile);
  } catch (error) {
    const hint = error instanceof Deno.errors.NotCapable
      ? "the Deno permission set does not allow reading it: keep keys under ./keys or grant --allow-read for it"
      : (error as Error).message;
    throw new ArchiveError(
      "CONFIG",
      `IDCS_PRIVATE_KEY_FILE ${config.privateKeyFile} cannot be read: ${hint}`,
    );
  }
  return localSigner(await importPrivateKey(pem, `IDCS_PRIVATE_KEY_FILE ${config.privateKeyFile}`));
}

/** RS256 with a key held in this process (non-extractable). */
const localSigner = (key: CryptoKey): Signer => async (input) =>
  new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, input as Uint8Array<ArrayBuffer>));

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// OCI: authentication, SDK clients under one retry policy, and the Secrets and KMS key adapters.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Oracle Cloud settings shared by the OCI sink, the Vault-held keys and the OCI Audit source. */
export interface OciConfig {
  readonly auth: "auto" | OciAuthMode;
  readonly configFile?: string;
  readonly profile: string;
  readonly region?: string;
  readonly endpoints: Readonly<Partial<Record<OciService, string>>>;
  readonly bucket?: string;
  readonly namespace?: string;
  readonly logId?: string;
}

export type OciAuthMode = "config" | "instance_principal" | "resource_principal";
type OciService =
  | "objectStorage"
  | "secrets"
  | "kms"
  | "audit"
  | "identity"
  | "logging"
  | "metadata"
  | "federation";

/**
 * The OCI SDK's per-service packages, each loaded only when a setting needs it (`sdkPackages`): together they
 * cost 0.3 s at start, and a dependency prints a `punycode` deprecation warning into the log stream.
 */
const SDK_PACKAGES = {
  objectstorage: () => import("oci-objectstorage"),
  secrets: () => import("oci-secrets"),
  keymanagement: () => import("oci-keymanagement"),
  audit: () => import("oci-audit"),
  identity: () => import("oci-identity"),
  loggingingestion: () => import("oci-loggingingestion"),
};
type SdkPackage = keyof typeof SDK_PACKAGES;
type Sdk = { common: typeof Common } & { [P in SdkPackage]: Awaited<ReturnType<(typeof SDK_PACKAGES)[P]>> };

/** oci-common and `packages`; using a package that was not loaded is a bug in `sdkPackages`, said as such. */
async function loadSdk(packages: SdkPackage[]): Promise<Sdk> {
  const sdk: Record<string, unknown> = { common: await import("oci-common") };
  await Promise.all(packages.map(async (name) => sdk[name] = await SDK_PACKAGES[name]()));
  for (const name of Object.keys(SDK_PACKAGES).filter((name) => !(name in sdk))) {
    Object.defineProperty(sdk, name, {
      get: () => {
        throw new Error(`internal: OCI SDK package ${name} not loaded (sdkPackages)`);
      },
    });
  }
  return sdk as Sdk;
}

/**
 * What the process must look like before the SDK loads; called by `main()`, as it changes process-wide state.
 * A dependency prints a `punycode` deprecation warning, and the SDK prints plain-text warnings ("Request cannot
 * be retried…"): as debug log lines they keep stderr one JSON object per line (nothing else here writes with
 * console.warn). The SDK probes ~/.oci/{config,regions-config.json,…}, and a probe of a path the permission set
 * does not grant is an error; a set cannot name a home folder, so where ~/.oci is not granted the SDK's "~" is
 * the program's own configuration folder, which the set grants.
 */
function prepareProcessForSdk() {
  process.noDeprecation = true;
  console.warn = (...parts: unknown[]) =>
    log("debug", "OCI SDK", { message: parts.map(String).join(" ").slice(0, 500) });
  const home = Deno.env.get("HOME");
  if (!home || Deno.permissions.querySync({ name: "read", path: `${home}/.oci` }).state !== "granted") {
    Deno.env.set("HOME", CONFIG_FOLDER);
  }
}

/** An authenticated OCI session: the SDK, its provider, and how it was chosen. */
interface OciSession {
  sdk: Sdk;
  provider: Common.AuthenticationDetailsProvider;
  mode: OciAuthMode;
  config: OciConfig;
}

const METADATA_URL = "http://169.254.169.254/opc/v2";
/** Where the default permission set lets the program read its OCI configuration: `.oci/config` below it. */
const CONFIG_FOLDER = "/etc/audit-archiver";

/**
 * `auto` as DESIGN.md §4 orders it: resource principal when its variables are set (Container Instances,
 * Functions), else instance principal when the metadata service answers (a VM), else the config file.
 */
async function chooseOciAuth(config: OciConfig): Promise<{ mode: OciAuthMode; why: string }> {
  if (config.auth !== "auto") return { mode: config.auth, why: "OCI_AUTH" };
  if (Deno.env.get("OCI_RESOURCE_PRINCIPAL_VERSION")) {
    return { mode: "resource_principal", why: "OCI_RESOURCE_PRINCIPAL_VERSION is set" };
  }
  const metadata = config.endpoints.metadata ?? METADATA_URL;
  try {
    const response = await fetch(`${metadata}/instance/region`, {
      headers: { authorization: "Bearer Oracle" },
      signal: AbortSignal.timeout(1_000),
    });
    await response.body?.cancel();
    if (response.ok) return { mode: "instance_principal", why: "the instance metadata service answered" };
  } catch {
    // Not on an OCI instance: fall through to the config file.
  }
  return { mode: "config", why: "no resource principal variables and no instance metadata service" };
}

async function openOciSession(config: OciConfig, packages: SdkPackage[]): Promise<OciSession> {
  const sdk = await loadSdk(packages);
  const { common } = sdk;
  const { mode, why } = await chooseOciAuth(config);
  log("info", "OCI authentication chosen", { mode, why });
  try {
    let provider: Common.AuthenticationDetailsProvider;
    if (mode === "resource_principal") {
      provider = await common.ResourcePrincipalAuthenticationDetailsProvider.builder();
    } else if (mode === "instance_principal") {
      const builder = new common.InstancePrincipalsAuthenticationDetailsProviderBuilder();
      if (config.endpoints.metadata) builder.metadataBaseUrl = config.endpoints.metadata;
      if (config.endpoints.federation) builder.federationEndpoint = config.endpoints.federation;
      provider = await builder.build();
    } else {
      provider = new common.ConfigFileAuthenticationDetailsProvider(config.configFile, config.profile);
    }
    return { sdk, provider, mode, config };
  } catch (error) {
    if (mode === "resource_principal" && error instanceof Deno.errors.NotCapable) {
      throw new ArchiveError("CONFIG", resourcePrincipalUnreadable());
    }
    const hint = {
      resource_principal: "check the OCI_RESOURCE_PRINCIPAL_* variables (version 2.2)",
      instance_principal: "check that this VM is in a dynamic group and its metadata service is reachable",
      config:
        "check OCI_CONFIG_FILE and OCI_PROFILE (the permission set must allow reading the file and its key)",
    }[mode];
    throw new ArchiveError(
      "CONFIG",
      `OCI authentication (${mode}) failed: ${(error as Error).message} — ${hint}`,
    );
  }
}

/**
 * Where an SDK call's transport leaves the response it got: the SDK's errors drop the headers (Retry-After),
 * so `ociCall` reads them here. One slot per attempt, carried through the SDK's promises by AsyncLocalStorage.
 */
const sdkResponses = new AsyncLocalStorage<{ response?: Response }>();

/**
 * Where OCI Container Instances mounts the resource principal's files, which the `default` permission set
 * grants: Oracle documents only that they are files named by OCI_RESOURCE_PRINCIPAL_RPST / _PRIVATE_PEM; this
 * folder is where public code running on the service finds them (kicsipixel/oci-swift-sdk-examples).
 */
const RESOURCE_PRINCIPAL_FOLDER = "/var/oci/rp-identity";

/** The message for resource-principal files the permission set does not grant: which paths, and the fix. */
function resourcePrincipalUnreadable(): string {
  const paths = ["OCI_RESOURCE_PRINCIPAL_RPST", "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"]
    .map((name) => Deno.env.get(name) ?? "")
    .filter((value) => value.startsWith("/"));
  const folders = [...new Set(paths.map((path) => path.slice(0, path.lastIndexOf("/")) || "/"))];
  return `OCI authentication (resource_principal) failed: the permission set does not allow reading ${
    paths.join(" and ")
  } — the default set grants ${RESOURCE_PRINCIPAL_FOLDER} (where Container Instances mounts them); elsewhere, run with --allow-read=${
    folders.join(",")
  } added to the permission set`;
}

/** An SDK client with our retry policy in charge: the SDK's own retries and circuit breaker are off. */
function ociClient<C extends { endpoint: string; regionId?: string }>(
  session: OciSession,
  Client: new (params: Common.AuthParams, configuration: Common.ClientConfiguration) => C,
  service: OciService,
  options: { endpoint?: string; freshConnections?: boolean } = {},
): C {
  const { common } = session.sdk;
  // The SDK's own transport, signing as the client would; we only note each response for `ociCall`. A call
  // that is not idempotent gets a connection of its own each time: on a pooled connection the server closed
  // before answering, fetch sends the request again by itself, and a PutLogs would go in twice.
  const fresh = options.freshConnections
    ? { client: Deno.createHttpClient({ poolMaxIdlePerHost: 0 }) }
    : undefined;
  const signer = new common.DefaultRequestSigner(session.provider);
  const transport = new common.FetchHttpClient(
    signer,
    null,
    fresh as unknown as Common.ClientConfiguration["httpOptions"],
  );
  const httpClient: Common.HttpClient = {
    send: async (...args: Parameters<Common.HttpClient["send"]>) => {
      const [request, excludeBody] = args;
      // A binary body that is not signed (PutObject) is sent here: the SDK's transport first tests it for
      // emptiness with Object.keys, which for a Uint8Array names every byte — 0.7 s of CPU and most of the
      // garbage per 2 MB object, measured (README, Performance). Signing and sending are as the SDK's.
      const response = excludeBody && request.body instanceof Uint8Array
        ? await signer.signHttpRequest(request, true).then(() =>
          fetch(request.uri, {
            method: request.method,
            headers: request.headers,
            body: request.body,
            ...fresh,
          })
        )
        : await transport.send(...args);
      const slot = sdkResponses.getStore();
      if (slot) slot.response = response;
      return response;
    },
  };
  // The clients use both at run time (the provider for its region); the type allows only one of them.
  const params = {
    authenticationDetailsProvider: session.provider,
    httpClient,
  } as unknown as Common.AuthParams;
  const client = new Client(params, {
    retryConfiguration: common.NoRetryConfigurationDetails,
    circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
  });
  const override = options.endpoint ?? session.config.endpoints[service];
  if (override) client.endpoint = override;
  else if (session.config.region && "regionId" in client) client.regionId = session.config.region;
  return client;
}

/** Maps an SDK failure to our error through the one classifier; 401/403/404 say what to check. */
function ociError(what: string, error: unknown, response?: Response): ArchiveError {
  if (error instanceof ArchiveError) return error;
  const oci = error as { statusCode?: number; serviceCode?: string; message?: string; opcRequestId?: string };
  const status = oci.statusCode ?? 0;
  const detail = `${what}: ${status ? `HTTP ${status} ${oci.serviceCode ?? ""}`.trim() : ""} ${
    (oci.message ?? String(error)).slice(0, 300)
  }${oci.opcRequestId ? ` (opc-request-id ${oci.opcRequestId})` : ""}`;
  if (status <= 0) return retriableError("NETWORK", detail, { cause: error });
  const { code, retriable, retryAfterMs } = classifyStatus(status, response?.headers, Date.now());
  const hint = {
    AUTH: " — OCI rejected the request signature: check OCI_AUTH and the clock",
    FORBIDDEN: " — not authorized: `policies` prints what to grant",
    NOT_FOUND: " — not found, or not authorized: `policies` prints what to grant",
  }[code as string] ?? "";
  return new ArchiveError(code, detail + hint, { status, retriable, retryAfterMs, cause: error });
}

/**
 * One SDK call under the shared retry loop. `retry` narrows which retriable failures are retried, for calls
 * that are not idempotent (PutLogs): a failure it declines is thrown as it is.
 */
function ociCall<T>(
  what: string,
  call: () => Promise<T>,
  options: { retry?: (error: ArchiveError) => boolean } = {},
): Promise<T> {
  let slot: { response?: Response } = {};
  return retrying(what, () => sdkResponses.run(slot = {}, call), (error) => {
    const archiveError = ociError(what, error, slot.response);
    if (!archiveError.retriable || (options.retry ?? (() => true))(archiveError)) return archiveError;
    return new ArchiveError(archiveError.code, archiveError.message, {
      status: archiveError.status,
      cause: archiveError.cause,
    });
  });
}

/** Signs a request as the SDK's clients do (its DefaultRequestSigner), for calls whose body we read ourselves. */
function ociRequestSigner(session: OciSession): RequestSigner {
  const signer = new session.sdk.common.DefaultRequestSigner(session.provider);
  return (uri, method, headers) => signer.signHttpRequest({ uri, method: method as Common.Method, headers });
}

/** The private key from an OCI Vault secret: a whole PEM, or (as in the original blog) the PEM body alone. */
async function loadSecretKey(session: OciSession, secretId: string): Promise<CryptoKey> {
  const client = ociClient(session, session.sdk.secrets.SecretsClient, "secrets");
  const bundle = await ociCall("Vault secret", () => client.getSecretBundle({ secretId }));
  const content = (bundle.secretBundle.secretBundleContent as { content?: string } | undefined)?.content;
  if (!content) throw new ArchiveError("CONFIG", `IDCS_PRIVATE_KEY_SECRET_ID ${secretId} holds no content`);
  let text = new TextDecoder().decode(decodeBase64(content)).trim();
  // A PEM stored base64-encoded once more (some consoles and scripts do) is unwrapped.
  if (!text.includes("-----BEGIN") && /^[A-Za-z0-9+/=\s]+$/.test(text)) {
    const inner = new TextDecoder().decode(decodeBase64(text.replace(/\s+/g, "")));
    if (inner.includes("-----BEGIN")) text = inner.trim();
  }
  registerSecret(text);
  const where = `IDCS_PRIVATE_KEY_SECRET_ID ${secretId}`;
  if (text.includes("-----BEGIN")) return await importPrivateKey(text, where);
  // A header-less body: PKCS#8 is what the blog stored; PKCS#1 is tried when that does not parse.
  try {
    return await importPrivateKey(`-----BEGIN PRIVATE KEY-----\n${text}\n-----END PRIVATE KEY-----`, where);
  } catch {
    return await importPrivateKey(
      `-----BEGIN RSA PRIVATE KEY-----\n${text}\n-----END RSA PRIVATE KEY-----`,
      where,
    );
  }
}

/** An OCI Vault (KMS) key and the vault's crypto endpoint, where its HSM signs. */
export interface VaultKey {
  readonly keyId: string;
  readonly cryptoEndpoint: string;
}

/** A Vault key whose public key is read too: on the vault's management endpoint. */
export interface PublishedVaultKey extends VaultKey {
  readonly managementEndpoint: string;
}

/**
 * Signs with an OCI Vault RSA key (RSASSA-PKCS1-v1_5 SHA-256): the HSM signs, the private key never enters
 * this process. The SHA-256 digest is sent (messageType DIGEST), as a RAW message may be at most 4096 bytes
 * ("To sign a larger message, provide the message digest": oci-keymanagement lib/model/sign-data-details.d.ts)
 * and a checkpoint of many chains is longer; the signature is the same either way (RFC 8017 §8.2.1).
 * `keyVersionId` pins the version whose public key was published: during a rotation the service may sign
 * with the current or a newer version intermittently (lib/model/key.d.ts, `currentKeyVersion`).
 */
function kmsSigner(session: OciSession, key: VaultKey, keyVersionId?: string): Signer {
  const { keymanagement } = session.sdk;
  const client = ociClient(session, keymanagement.KmsCryptoClient, "kms", { endpoint: key.cryptoEndpoint });
  return async (input) => {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input as Uint8Array<ArrayBuffer>));
    const response = await ociCall("Vault KMS sign", () =>
      client.sign({
        signDataDetails: {
          keyId: key.keyId,
          keyVersionId,
          message: encodeBase64(digest),
          messageType: keymanagement.models.SignDataDetails.MessageType.Digest,
          signingAlgorithm: keymanagement.models.SignDataDetails.SigningAlgorithm.Sha256RsaPkcs1V15,
        },
      }));
    return decodeBase64(response.signedData.signature!);
  };
}

/**
 * A Vault key's current version and its public key (SPKI DER), read on the vault's management endpoint:
 * GetKey gives `currentKeyVersion`, GetKeyVersion its `publicKey` ("Use the GetKeyVersion API with the
 * Management Endpoint to get the public key in PEM format for RSA and ECDSA keys":
 * https://docs.oracle.com/en-us/iaas/Content/KeyManagement/Tasks/usingkeys_topic-To_view_the_public_key_of_an_asymmetric_key.htm;
 * oci-keymanagement lib/client.js KmsManagementClient getKey, getKeyVersion; lib/model/key-version.d.ts).
 */
async function readVaultPublicKey(
  session: OciSession,
  key: PublishedVaultKey,
): Promise<{ keyVersionId: string; spki: Uint8Array; timeCreated: string }> {
  const client = ociClient(session, session.sdk.keymanagement.KmsManagementClient, "kms", {
    endpoint: key.managementEndpoint,
  });
  const { keyId } = key;
  const current = await ociCall("Vault GetKey", () => client.getKey({ keyId }));
  const keyVersionId = current.key.currentKeyVersion;
  const { keyVersion } = await ociCall(
    "Vault GetKeyVersion",
    () => client.getKeyVersion({ keyId, keyVersionId }),
  );
  const body = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(
    keyVersion.publicKey ?? "",
  );
  if (!body) {
    throw new ArchiveError(
      "CONFIG",
      `CHECKPOINT_SIGNING_KEY_ID ${keyId} has no public key: give an RSA key of the vault (an asymmetric key)`,
    );
  }
  const created = new Date(keyVersion.timeCreated ?? NaN);
  if (Number.isNaN(created.getTime())) {
    throw new ArchiveError(
      "PROTOCOL",
      `Vault GetKeyVersion ${keyVersionId}: the response has no timeCreated`,
    );
  }
  return {
    keyVersionId,
    spki: decodeBase64(body[1].replace(/\s+/g, "")),
    timeCreated: created.toISOString(),
  };
}

const encodeBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const decodeBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Sources: each reads one window of events, or says where the window must be cut to fit a size limit.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * One event: its id and time for ordering and checks, and its JSON exactly as the API returned it, as the
 * UTF-8 bytes it came in (a view into the page: half the memory of a string of a page with any non-Latin-1
 * character, which V8 holds two bytes a character, and nothing to encode again when the window is written).
 */
export interface ArchivedEvent {
  id: string;
  time: number;
  json: Uint8Array;
}

/** A window's events, or the time the window must end before so it holds at most `limit` events. */
export type WindowRead =
  | { kind: "complete"; events: ArchivedEvent[]; sourceTotal: number | null; skippedCompartments?: string[] }
  | { kind: "overflow"; cutAt: number };

/** What the archive needs to know of each source's events and API, in one place (DESIGN.md §5). */
export interface SourceKind {
  /** The member that identifies an event, and the one that says when it occurred. */
  idField: "id" | "eventId";
  timeField: "timestamp" | "eventTime";
  /** The clock a window is on: the event's own time, or when Oracle processed it (OCI Audit). */
  basis: "event-time" | "processing-time";
  /** Smallest time step the API distinguishes; windows start and end on it. */
  granularityMs: number;
  /** The retention assumed when the source does not say (status warns before it runs out). */
  assumedRetentionDays: number;
}

export const SOURCE_KINDS: Readonly<Record<SourceName, SourceKind>> = {
  // AuditEvents filters on `timestamp` to the millisecond; identity domains keep audit events 30+ days.
  "idcs": {
    idField: "id",
    timeField: "timestamp",
    basis: "event-time",
    granularityMs: 1,
    assumedRetentionDays: 30,
  },
  // ListEvents ranges are on processing time, to the minute; tenancies keep 90 to 365 days (oci-wire.md).
  "oci-audit": {
    idField: "eventId",
    timeField: "eventTime",
    basis: "processing-time",
    granularityMs: 60_000,
    assumedRetentionDays: 90,
  },
};

export interface Source {
  readonly name: SourceName;
  readonly kind: SourceKind;
  /** Identity domain or compartment: one archive chain per (name, scope). */
  readonly scope: string;
  readonly settleMs: number;
  readonly since: number;
  readWindow(window: Window, limit: number): Promise<WindowRead>;
  /** Proves the credentials and permissions work, before a new chain writes anything. */
  check(): Promise<void>;
}

/** Reads of one window in a row that bring no new event before it is called inconsistent (one that does is free). */
const IDCS_IDLE_READS = 6;
/** Reads of one window at most, however many bring new events (a tie group far larger than a page). */
const IDCS_MAX_READS = 60;

/**
 * The exact bytes of each element of the JSON array at `from`, as the service sent them (members, order,
 * escapes, `null`s): the archive keeps events byte for byte, as views into the response body; and where the
 * array ends. JSON's structural characters are ASCII and no byte of a multi-byte UTF-8 character is, so the
 * bytes are scanned like text. Throws a SyntaxError where the array is cut short or not separated as JSON
 * separates elements; what lies inside an element is left to JSON.parse. Pure.
 */
export function rawElements(
  sent: Uint8Array,
  from = skipSpace(sent, 0),
): { elements: Uint8Array[]; end: number } {
  if (sent[from] !== OPEN_BRACKET) throw new SyntaxError("not an array");
  const elements: Uint8Array[] = [];
  let i = skipSpace(sent, from + 1);
  if (sent[i] === CLOSE_BRACKET) return { elements, end: i + 1 };
  for (;;) {
    const end = valueEnd(sent, i);
    elements.push(sent.subarray(i, end));
    i = skipSpace(sent, end);
    if (sent[i] === CLOSE_BRACKET) return { elements, end: i + 1 };
    if (sent[i] !== COMMA) throw new SyntaxError(`no comma between array elements at byte ${i}`);
    i = skipSpace(sent, i + 1);
  }
}

/** Where the value of member `name` of the top-level JSON object starts, or -1. Pure. */
export function rawMemberStart(sent: Uint8Array, name: string): number {
  let i = skipSpace(sent, skipSpace(sent, 0) + 1);
  while (sent[i] === QUOTE) {
    const keyEnd = valueEnd(sent, i);
    const valueStart = skipSpace(sent, skipSpace(sent, keyEnd) + 1);
    if (JSON.parse(UTF8.decode(sent.subarray(i, keyEnd))) === name) return valueStart;
    i = skipSpace(sent, valueEnd(sent, valueStart));
    if (sent[i] === COMMA) i = skipSpace(sent, i + 1);
  }
  return -1;
}

const QUOTE = 34, BACKSLASH = 92, COMMA = 44;
const OPEN_BRACE = 123, CLOSE_BRACE = 125, OPEN_BRACKET = 91, CLOSE_BRACKET = 93;
const BYTE_ORDER_MARK = [0xef, 0xbb, 0xbf];
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;
/** The first byte at or after `i` that is not JSON whitespace (nor, at the start, a UTF-8 byte order mark). */
const skipSpace = (sent: Uint8Array, i: number) => {
  if (i === 0 && BYTE_ORDER_MARK.every((byte, k) => sent[k] === byte)) i = BYTE_ORDER_MARK.length;
  while (isSpace(sent[i])) i++;
  return i;
};

/** The end (exclusive) of the JSON string that starts at `i`: the next quote not escaped by a backslash. */
function stringEnd(sent: Uint8Array, i: number): number {
  for (let quote = sent.indexOf(QUOTE, i + 1);; quote = sent.indexOf(QUOTE, quote + 1)) {
    if (quote === -1) throw new SyntaxError("unterminated string");
    let backslashes = 0;
    while (sent[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
  }
}

/** The end (exclusive) of the JSON value that starts at `i` of `sent`; throws where it is cut short. */
function valueEnd(sent: Uint8Array, i: number): number {
  const first = sent[i];
  if (first === QUOTE) return stringEnd(sent, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    for (let depth = 0;; i++) {
      if (i >= sent.length) throw new SyntaxError("unterminated object or array");
      const c = sent[i];
      if (c === QUOTE) i = stringEnd(sent, i) - 1;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) return i + 1;
    }
  }
  for (let c = sent[i]; i < sent.length; c = sent[++i]) {
    if (isSpace(c) || c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET) break;
  }
  return i;
}

/** The name of the archive chain for a source: the identity domain's host (idcs-<hex>), made path-safe. */
export function sourceScope(config: SourceConfig): string {
  if (config.source === "oci-audit") return config.compartmentId!;
  const host = new URL(config.idcsUrl!).host;
  const label = host.split(".")[0];
  return (label.startsWith("idcs-") ? label : host).replace(/[^A-Za-z0-9.-]/g, "-");
}

/** The SCIM filter for a half-open window on the event timestamp. */
export function auditEventsFilter(window: Window): string {
  return `timestamp ge "${new Date(window.start).toISOString()}" and timestamp lt "${
    new Date(window.end).toISOString()
  }"`;
}

interface AuditEventsPage {
  totalResults: number;
  events: ArchivedEvent[];
}

/**
 * Checks a SCIM ListResponse page as documented; every event must carry an id and a timestamp in the window.
 * Each event is kept as the bytes the domain sent (`sent`, the body `body` was parsed from).
 */
export function parseAuditEventsPage(body: unknown, sent: Uint8Array, window: Window): AuditEventsPage {
  const page = body as { schemas?: unknown; totalResults?: unknown; Resources?: unknown };
  const bad = (why: string) => retriableError("PROTOCOL", `identity domain AuditEvents: ${why}`);
  if (typeof page !== "object" || page === null || !Array.isArray(page.schemas)) {
    throw bad("not a SCIM response");
  }
  if (
    !page.schemas.includes("urn:ietf:params:scim:api:messages:2.0:ListResponse") &&
    !page.schemas.includes("urn:scim:api:messages:2.0:ListResponse")
  ) throw bad("not a SCIM ListResponse");
  if (!Number.isInteger(page.totalResults) || (page.totalResults as number) < 0) throw bad("no totalResults");
  const resources = page.Resources ?? [];
  if (!Array.isArray(resources)) throw bad("Resources is not an array");
  const raw = resources.length ? rawElements(sent, rawMemberStart(sent, "Resources")).elements : [];
  if (raw.length !== resources.length) throw bad("Resources could not be read as sent");
  const events = resources.map((resource, index) => {
    const { id, timestamp } = resource ?? {};
    const time = typeof timestamp === "string" ? Date.parse(timestamp) : NaN;
    if (typeof id !== "string" || !id || Number.isNaN(time)) throw bad("an event has no id or timestamp");
    if (time < window.start || time >= window.end) {
      throw bad(`event ${id} at ${timestamp} is outside the filter`);
    }
    return { id, time, json: raw[index] };
  });
  return { totalResults: page.totalResults as number, events };
}

/** Identity domain `GET /admin/v1/AuditEvents`, paged by startIndex (no cursor is documented). */
export class IdcsSource implements Source {
  readonly name = "idcs";
  readonly kind = SOURCE_KINDS.idcs;
  readonly scope: string;
  readonly settleMs: number;
  readonly since: number;
  readonly #tokens: IdcsTokens;

  constructor(readonly config: SourceConfig, sign: Signer | undefined, readonly options: Config) {
    this.scope = sourceScope(config);
    this.settleMs = config.settleMs;
    this.since = config.since;
    this.#tokens = new IdcsTokens(config, sign);
  }

  async #page(window: Window, startIndex: number, count: number): Promise<AuditEventsPage> {
    const query = new URLSearchParams({
      filter: auditEventsFilter(window),
      sortBy: "timestamp",
      sortOrder: "ascending",
      startIndex: String(startIndex),
      count: String(count),
    });
    for (let attempt = 1;; attempt++) {
      const token = await this.#tokens.get();
      try {
        return await request(`${this.config.idcsUrl}/admin/v1/AuditEvents?${query}`, {
          what: "identity domain AuditEvents",
          headers: { authorization: `Bearer ${token}`, accept: "application/json" },
          parse: (body, sent) => parseAuditEventsPage(body, sent, window),
          onStatus: (status, detail) =>
            status === 403
              ? new ArchiveError(
                "FORBIDDEN",
                `${detail} — the confidential application lacks the Audit Administrator app role: grant it in the identity domain`,
              )
              : undefined,
        });
      } catch (error) {
        // A 401 with a cached token may mean it was revoked early: fetch a fresh one once.
        if (error instanceof ArchiveError && error.code === "AUTH" && attempt === 1) {
          this.#tokens.invalidate();
          continue;
        }
        throw error;
      }
    }
  }

  async check(): Promise<void> {
    await this.#page({ start: this.since, end: this.since + 1 }, 1, 1);
  }

  /**
   * Reads every event of the window. Order among equal timestamps is not stable between requests, so pages
   * can overlap or skip within a tie: events are collected by id across pages and attempts until their
   * number matches the `totalResults` every page agreed on.
   */
  async readWindow(window: Window, limit: number): Promise<WindowRead> {
    const pageSize = this.options.pageSize;
    const byId = new Map<string, ArchivedEvent>();
    // Paging through a group of equal timestamps larger than a page sees a different slice on every read, so
    // reads go on while they bring new events (up to IDCS_MAX_READS), and stop after IDCS_IDLE_READS without.
    for (let attempt = 1, idle = 0; attempt <= IDCS_MAX_READS && idle < IDCS_IDLE_READS; attempt++) {
      const known = byId.size;
      const first = await this.#page(window, 1, pageSize);
      const total = first.totalResults;
      if (total > limit) {
        // The event at position limit+1 (ascending time) names the first millisecond that does not fit.
        const beyond = await this.#page(window, limit + 1, 1);
        if (beyond.events.length === 1) return { kind: "overflow", cutAt: beyond.events[0].time };
        idle++;
        continue;
      }
      const starts: number[] = [];
      for (let start = 1 + pageSize; start <= total; start += pageSize) starts.push(start);
      const pages = [
        first,
        ...await mapConcurrent(starts, this.options.concurrency, (s) => this.#page(window, s, pageSize)),
      ];
      for (const page of pages) for (const event of page.events) byId.set(event.id, event);
      const agreed = pages.every((page) => page.totalResults === total);
      if (agreed && byId.size === total) {
        return { kind: "complete", events: sortEvents([...byId.values()]), sourceTotal: total };
      }
      idle = byId.size > known ? 0 : idle + 1;
      log("debug", "window read again", {
        window: describeWindow(window),
        total,
        received: byId.size,
        attempt,
      });
    }
    throw new ArchiveError(
      "PROTOCOL",
      `identity domain AuditEvents: ${
        describeWindow(window)
      } did not return a consistent set of events: ${byId.size} distinct events received before reads stopped bringing new ones`,
    );
  }
}

/** One compartment whose events a window reads, and whether Identity shows it deleted. */
interface AuditCompartment {
  id: string;
  deleted: boolean;
}

/**
 * OCI Audit `ListEvents` for a compartment and (AUDIT_SUBTREE) every compartment below it. The range asked for
 * is on *processing* time, to the minute (oci-wire.md): an event's `eventTime` may lie before the window, and
 * is never a reason to reject it. Compartments are listed through the Identity API on every read, so one added
 * or deleted mid-way neither fails a pass nor loses events. The API answers one compartment at a time, without
 * a total or a page size: a window that holds more than the limit is halved (on minute boundaries) until it
 * fits. Pages are read as text, signed with the SDK's signer and sent with `fetch`, so every event is archived
 * exactly as Oracle sent it (the SDK's models drop `null` members).
 */
export class OciAuditSource implements Source {
  readonly name = "oci-audit";
  readonly kind = SOURCE_KINDS["oci-audit"];
  readonly scope: string;
  readonly settleMs: number;
  readonly since: number;
  readonly #audit: OciAudit.AuditClient;
  readonly #identity: OciIdentity.IdentityClient;
  readonly #sign: RequestSigner;

  constructor(readonly config: SourceConfig, readonly session: OciSession, readonly options: Config) {
    this.scope = config.compartmentId!;
    this.settleMs = config.settleMs;
    this.since = config.since;
    this.#audit = ociClient(session, session.sdk.audit.AuditClient, "audit");
    this.#identity = ociClient(session, session.sdk.identity.IdentityClient, "identity");
    this.#sign = ociRequestSigner(session);
  }

  /**
   * The compartment and, with AUDIT_SUBTREE, every compartment below it, deleted ones too (their events stay).
   * `compartmentIdInSubtree` is accepted only on the tenancy; below any other compartment the tree is walked
   * level by level (ListCompartments API reference, oci-wire.md).
   */
  async #compartments(): Promise<AuditCompartment[]> {
    const all: AuditCompartment[] = [{ id: this.scope, deleted: false }];
    if (!this.config.subtree) return all;
    if (this.scope.startsWith("ocid1.tenancy.")) return [...all, ...await this.#children(this.scope, true)];
    for (let level = [this.scope]; level.length;) {
      const children = (await mapConcurrent(level, this.options.concurrency, (id) =>
        this.#children(id, false)))
        .flat();
      all.push(...children);
      level = children.map((c) => c.id);
    }
    return all;
  }

  async #children(compartmentId: string, compartmentIdInSubtree: boolean): Promise<AuditCompartment[]> {
    const found: AuditCompartment[] = [];
    let page: string | undefined;
    do {
      const response = await ociCall("Identity compartments", () =>
        this.#identity.listCompartments({
          compartmentId,
          compartmentIdInSubtree,
          accessLevel: OCI_ACCESS_ANY,
          limit: 1000,
          page,
        }));
      found.push(
        ...response.items.map((c) => ({ id: c.id, deleted: String(c.lifecycleState) === "DELETED" })),
      );
      page = response.opcNextPage;
    } while (page);
    return found;
  }

  async check(): Promise<void> {
    await this.#compartments();
    const minute = floorTo(this.since, this.kind.granularityMs);
    await this.#events(this.scope, { start: minute, end: minute + this.kind.granularityMs }, Infinity, []);
  }

  /**
   * The tenancy's Audit retention (GetConfiguration), or undefined when the policy does not allow reading it;
   * read once per source (a daemon's passes reconcile every 15 minutes; the setting changes rarely).
   */
  #retention?: Promise<number | undefined>;

  retentionDays(): Promise<number | undefined> {
    this.#retention ??= this.#readRetention().catch((error) => {
      this.#retention = undefined;
      throw error;
    });
    return this.#retention;
  }

  async #readRetention(): Promise<number | undefined> {
    const tenancy = this.scope.startsWith("ocid1.tenancy.") ? this.scope : await tenancyOf(this.session);
    if (!tenancy) return undefined;
    try {
      const response = await ociCall(
        "OCI Audit configuration",
        () => this.#audit.getConfiguration({ compartmentId: tenancy }),
      );
      return response.configuration.retentionPeriodDays;
    } catch (error) {
      if (error instanceof ArchiveError && !error.retriable) return undefined;
      throw error;
    }
  }

  /** Pages one compartment's events into `into`; false as soon as they exceed `limit` in all. */
  async #events(
    compartmentId: string,
    window: Window,
    limit: number,
    into: ArchivedEvent[],
  ): Promise<boolean> {
    const base = `${this.#audit.endpoint}/auditEvents?compartmentId=${encodeURIComponent(compartmentId)}` +
      `&startTime=${encodeURIComponent(new Date(window.start).toISOString())}` +
      `&endTime=${encodeURIComponent(new Date(window.end).toISOString())}`;
    // The client's endpoint carries the API version (/20190901), as the SDK builds it for the region.
    let page: string | null = null;
    do {
      const url: string = page === null ? base : `${base}&page=${encodeURIComponent(page)}`;
      const result = await request(url, {
        what: "OCI Audit events",
        headers: { accept: "application/json" },
        sign: this.#sign,
        parseBytes: (sent, response) => ({
          events: parseAuditEvents(sent),
          next: response.headers.get("opc-next-page"),
        }),
        onStatus: (status, detail) => compartmentRefused(compartmentId, status, detail),
      });
      into.push(...result.events);
      if (into.length > limit) return false;
      page = result.next;
    } while (page);
    return true;
  }

  async readWindow(window: Window, limit: number): Promise<WindowRead> {
    const compartments = await this.#compartments();
    const events: ArchivedEvent[] = [];
    const skippedCompartments: string[] = [];
    let fits = true;
    await mapConcurrent(compartments, this.options.concurrency, async ({ id, deleted }) => {
      try {
        if (fits) fits = await this.#events(id, window, limit, events);
      } catch (error) {
        // Skipped only when Identity shows it DELETED *and* Audit refuses it; recorded in the manifest.
        if (!deleted || !(error instanceof ArchiveError) || error.code !== "FORBIDDEN") throw error;
        log("warn", "a deleted compartment's events are refused: skipped, and recorded in the manifest", {
          compartmentId: id,
          window: describeWindow(window),
        });
        skippedCompartments.push(id);
      }
    });
    if (!fits) {
      const half = floorTo(window.start + (window.end - window.start) / 2, this.kind.granularityMs);
      return { kind: "overflow", cutAt: half };
    }
    const byId = new Map(events.map((e) => [e.id, e]));
    return {
      kind: "complete",
      events: sortEvents([...byId.values()]),
      sourceTotal: null,
      skippedCompartments: skippedCompartments.sort(),
    };
  }
}

const OCI_ACCESS_ANY = "ANY" as OciIdentity.requests.ListCompartmentsRequest.AccessLevel;

/** The tenancy OCID the session authenticates in: the config file's, or the resource principal's claim. */
async function tenancyOf(session: OciSession): Promise<string | undefined> {
  const provider = session.provider as {
    getTenantId?: () => string | Promise<string>;
    getStringClaim?: (key: string) => string | null | Promise<string | null>;
  };
  return (await provider.getTenantId?.()) ?? (await provider.getStringClaim?.("res_tenant")) ?? undefined;
}

/**
 * A compartment whose events Audit refuses: 401/403, or 404 NotAuthorizedOrNotFound, which means "not found,
 * or not authorized" (API errors reference). Never a silent skip: it names the compartment and the grant.
 */
function compartmentRefused(compartmentId: string, status: number, detail: string): ArchiveError | undefined {
  if (status !== 401 && status !== 403 && status !== 404) return undefined;
  return new ArchiveError(
    "FORBIDDEN",
    `${detail} — OCI Audit refused the events of compartment ${compartmentId}: no window is committed without them. Allow the archiver to "read audit-events in compartment id ${compartmentId}" (or in tenancy); \`policies\` prints the statements`,
    { status },
  );
}

/**
 * Checks a ListEvents body (a JSON array of CloudEvents-shaped events) and keeps each event as sent. The
 * array is split by `rawElements` and each event parsed on its own, so a page of thousands of events is never
 * one string or one object tree (the whole body is still checked: every byte is a separator the scan checked
 * or inside an element JSON.parse accepted).
 */
export function parseAuditEvents(sent: Uint8Array): ArchivedEvent[] {
  const bad = (why: string) => retriableError("PROTOCOL", `OCI Audit events: ${why}`);
  let elements: Uint8Array[];
  try {
    const array = rawElements(sent);
    if (skipSpace(sent, array.end) !== sent.length) throw new SyntaxError("text after the array");
    elements = array.elements;
  } catch {
    throw bad("the response is not a JSON array");
  }
  return elements.map((element) => {
    let event: { eventId?: unknown; eventTime?: unknown } | null;
    try {
      event = JSON.parse(UTF8.decode(element));
    } catch {
      throw bad("the response is not JSON");
    }
    const time = typeof event?.eventTime === "string" ? Date.parse(event.eventTime) : NaN;
    if (typeof event?.eventId !== "string" || !event.eventId || Number.isNaN(time)) {
      throw bad("an event has no eventId or eventTime");
    }
    return { id: event.eventId, time, json: element };
  });
}

/** Orders events by (time, id), the archive's line order. */
export function sortEvents(events: ArchivedEvent[]): ArchivedEvent[] {
  return events.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Windows: pure planning — where the next window starts and ends, and where a full one is cut.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/** A half-open time range [start, end) in epoch milliseconds. */
export interface Window {
  start: number;
  end: number;
}

/** `ms` rounded down to a multiple of `step`: window bounds sit on the source's granularity. */

export const describeWindow = (w: Window) =>
  `[${new Date(w.start).toISOString()}, ${new Date(w.end).toISOString()})`;

/**
 * The next window after the frontier: it ends at the horizon (now − settle), rounded down to the source's
 * granularity, but never past the next UTC midnight, so every object belongs to one day's folder, nor longer
 * than `strideMs` (at least one granule). Undefined when nothing is due.
 */
export function planWindow(
  frontier: number,
  horizon: number,
  granularityMs: number,
  strideMs = Infinity,
): Window | undefined {
  const nextMidnight = (Math.floor(frontier / DAY_MS) + 1) * DAY_MS;
  const longest = floorTo(frontier + Math.max(strideMs, granularityMs), granularityMs);
  const end = Math.min(floorTo(horizon, granularityMs), nextMidnight, longest);
  return end > frontier ? { start: frontier, end } : undefined;
}

/** The share of MAX_EVENTS_PER_OBJECT a planned window aims at: room for the density to vary. */
const STRIDE_FILL = 0.8;

/**
 * How long the next window may be, from the density of the last: long enough for STRIDE_FILL of the limit at
 * that density (unbounded after an empty window). A busy backlog then costs about one read per window instead
 * of cutting down from the whole backlog every time. Pure.
 */
export function nextStride(window: Window, events: number, limit: number): number {
  return events === 0 ? Infinity : (window.end - window.start) * STRIDE_FILL * limit / events;
}

/**
 * Shrinks a window to end at `cutAt`, the time of the first event that does not fit, so the cut falls between
 * two distinct times and never inside a group of events sharing one. When the very first time is already over
 * the limit, that whole group is kept: the window spans exactly one granule.
 */
export function cutWindow(window: Window, cutAt: number, granularityMs: number): Window {
  const end = Math.floor(cutAt / granularityMs) * granularityMs;
  return {
    start: window.start,
    end: end > window.start ? Math.min(end, window.end) : Math.min(window.start + granularityMs, window.end),
  };
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Archive: object names, manifests, encoding, and verification — pure functions over bytes and names.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/** A window's manifest: what was committed, and the hash of the manifest before it (the chain). */
export interface Manifest {
  format: string;
  source: string;
  scope: string;
  /** The clock `start` and `end` are on (absent in archives written before OCI Audit windows were). */
  basis?: SourceKind["basis"];
  start: string;
  end: string;
  object: string;
  events: number;
  sourceTotal: number | null;
  bytes: number;
  sha256: string;
  ndjsonSha256: string;
  firstEventTime: string | null;
  lastEventTime: string | null;
  /** OCI Audit: deleted compartments whose events Audit refused for this window (none were lost unseen). */
  skippedCompartments?: string[];
  /**
   * An amendment (events the source showed for the window only later): its number n, from 1, and the SHA-256
   * of the window's manifest. Its `previous` is that manifest's hash for n = 1, else amendment n − 1's.
   */
  amendment?: number;
  amends?: string;
  previous: string;
  version: string;
  committedAt: string;
}

/**
 * The first record of a chain segment: where it starts. Its hash is the first manifest's `previous`. The main
 * segment (`genesis.json`) runs on without end; a backfill segment (`genesis-until-….json`) ends where the
 * archive began before it, so segments tile like windows.
 */
export interface Genesis {
  format: string;
  source: string;
  scope: string;
  start: string;
  end?: string;
  version: string;
  createdAt: string;
}

/** `20261127T101500.000Z`: ISO-8601 basic format, fixed width, so names sort in time order. */
export function timeStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "");
}

export function parseTimeStamp(stamp: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/.exec(stamp);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]) : undefined;
}

/** The folder of one archive chain: `{prefix}/{source}/{scope}`. */
export const chainPrefix = (prefix: string, source: string, scope: string) => `${prefix}/${source}/${scope}`;

/** The day folder of a window start: `…/YYYY/MM/DD`. */
export function dayPrefix(chain: string, start: number): string {
  const iso = new Date(start).toISOString();
  return `${chain}/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}`;
}

/**
 * Names of a window's objects. The manifest is named by the start alone: it is the claim on the window, so two
 * instances that planned different ends for the same start cannot both commit.
 */
export function objectNames(chain: string, window: Window): { data: string; manifest: string } {
  const day = dayPrefix(chain, window.start);
  return {
    data: `${day}/${timeStamp(window.start)}--${timeStamp(window.end)}.ndjson.gz`,
    manifest: `${day}/${timeStamp(window.start)}.manifest.json`,
  };
}

/**
 * Names of a window's amendment n (DESIGN.md §5): `…/{start}.amend-{n}.manifest.json`, the claim, and
 * `…/{start}--{end}.amend-{n}.ndjson.gz`, beside the window's own objects, which it never touches.
 */
export function amendmentNames(chain: string, window: Window, n: number): { data: string; manifest: string } {
  const names = objectNames(chain, window);
  return {
    data: names.data.replace(/\.ndjson\.gz$/, `.amend-${n}.ndjson.gz`),
    manifest: names.manifest.replace(/\.manifest\.json$/, `.amend-${n}.manifest.json`),
  };
}

const AMENDMENT_NAME = /\/(\d{8}T\d{6}\.\d{3}Z)\.amend-(\d+)\.manifest\.json$/;

/** The window start and number of an amendment's manifest name; undefined for any other name. Pure. */
export function parseAmendmentName(name: string): { start: number; n: number } | undefined {
  const match = AMENDMENT_NAME.exec(name);
  const start = match ? parseTimeStamp(match[1]) : undefined;
  return start === undefined ? undefined : { start, n: Number(match![2]) };
}

/**
 * Where a window's exact data bytes are kept before its claim (DESIGN.md §5): named by the window and the data's
 * SHA-256, so the manifest that claims it leads straight to them, and never ending in `.ndjson.gz`.
 */
export function keptName(manifest: Pick<Manifest, "object" | "sha256">): string {
  return `${manifest.object.slice(0, -DATA_SUFFIX.length)}.${manifest.sha256.slice(0, 32)}.kept`;
}

/** Named by where the segment ends (none: the main one), so two backfills of one stretch claim one name. */
export const genesisName = (chain: string, until?: number) =>
  until === undefined ? `${chain}/genesis.json` : `${chain}/genesis-until-${timeStamp(until)}.json`;
const GENESIS_PATTERN = /\/genesis(-until-\d{8}T\d{6}\.\d{3}Z)?\.json$/;
const MANIFEST_SUFFIX = ".manifest.json";
const ENCODE_BATCH = 1000;
const DATA_SUFFIX = ".ndjson.gz";

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function pipeBytes(bytes: Uint8Array, transform: DecompressionStream) {
  return new Uint8Array(
    await new Response(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(transform))
      .arrayBuffer(),
  );
}
export const gunzip = (bytes: Uint8Array) => pipeBytes(bytes, new DecompressionStream("gzip"));

/**
 * zlib level of data objects. Level 6 (zlib's default) spent more of a pass's CPU than parsing pages; level 4
 * takes a third less time for 8% more bytes (105 → 113 bytes per identity-domain event), measured on the
 * emulator's events (README, Performance).
 */
const GZIP_LEVEL = 4;
const NEWLINE = 10;

/** A window's data object, with what its manifest says of it: the window's events are not needed after it. */
export interface EncodedWindow {
  data: Uint8Array;
  sha256: string;
  ndjsonSha256: string;
  count: number;
  firstEventTime: number | null;
  lastEventTime: number | null;
}

/**
 * The data object: gzip of UTF-8 NDJSON, one event per line, in (time, id) order. Lines are compressed and
 * hashed in batches as they stream, so the uncompressed window never exists in memory as one string.
 */
export async function encodeWindow(events: ArchivedEvent[]): Promise<EncodedWindow> {
  const gzip = createGzip({ level: GZIP_LEVEL });
  const parts: Uint8Array[] = [];
  const dataHash = createHash("sha256");
  gzip.on("data", (part: Uint8Array) => (parts.push(part), dataHash.update(part)));
  const ended = new Promise((resolve, reject) => gzip.on("end", resolve).on("error", reject));
  const hash = createHash("sha256");
  for (let i = 0; i < events.length; i += ENCODE_BATCH) {
    const batch = events.slice(i, i + ENCODE_BATCH);
    const bytes = new Uint8Array(batch.reduce((size, event) => size + event.json.length + 1, 0));
    batch.reduce((offset, event) => {
      bytes.set(event.json, offset);
      bytes[offset + event.json.length] = NEWLINE;
      return offset + event.json.length + 1;
    }, 0);
    hash.update(bytes);
    if (!gzip.write(bytes)) await new Promise((resolve) => gzip.once("drain", resolve));
  }
  gzip.end();
  await ended;
  const data = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  parts.reduce((offset, part) => (data.set(part, offset), offset + part.length), 0);
  return {
    data,
    sha256: dataHash.digest("hex"),
    ndjsonSha256: hash.digest("hex"),
    count: events.length,
    firstEventTime: events[0]?.time ?? null,
    lastEventTime: events.at(-1)?.time ?? null,
  };
}

/** Serializes a record as the bytes that are stored and hashed: one JSON line. */
export const encodeRecord = (record: object) => new TextEncoder().encode(JSON.stringify(record) + "\n");

export function buildManifest(input: {
  source: Pick<Source, "name" | "scope" | "kind">;
  window: Window;
  object: string;
  encoded: EncodedWindow;
  sourceTotal: number | null;
  skippedCompartments?: string[];
  amendment?: { n: number; amends: string };
  previous: string;
  now: number;
}): Manifest {
  const { encoded } = input;
  const time = (ms: number | null) => ms === null ? null : new Date(ms).toISOString();
  return {
    format: FORMAT,
    source: input.source.name,
    scope: input.source.scope,
    basis: input.source.kind.basis,
    start: new Date(input.window.start).toISOString(),
    end: new Date(input.window.end).toISOString(),
    object: input.object,
    events: encoded.count,
    sourceTotal: input.sourceTotal,
    bytes: encoded.data.length,
    sha256: encoded.sha256,
    ndjsonSha256: encoded.ndjsonSha256,
    firstEventTime: time(encoded.firstEventTime),
    lastEventTime: time(encoded.lastEventTime),
    ...(input.skippedCompartments ? { skippedCompartments: input.skippedCompartments } : {}),
    ...(input.amendment ? { amendment: input.amendment.n, amends: input.amendment.amends } : {}),
    previous: input.previous,
    version: VERSION,
    committedAt: new Date(input.now).toISOString(),
  };
}

/** Parses a stored manifest; undefined when it is not one (verify reports that). */
export function parseManifest(bytes: Uint8Array): Manifest | undefined {
  try {
    const m = JSON.parse(new TextDecoder().decode(bytes));
    const ok = m?.format === FORMAT && typeof m.start === "string" && typeof m.end === "string" &&
      typeof m.object === "string" && Number.isInteger(m.events) && typeof m.sha256 === "string" &&
      typeof m.previous === "string" && !Number.isNaN(Date.parse(m.start)) &&
      !Number.isNaN(Date.parse(m.end));
    return ok ? m as Manifest : undefined;
  } catch {
    return undefined;
  }
}

/** A chain segment: its genesis record, where it starts, and where it ends (Infinity for the main segment). */
export interface Segment {
  name: string;
  bytes: Uint8Array;
  start: number;
  end: number;
}

/** The one reading of a stored genesis as a segment; undefined when it is not one. Pure. */
export function parseSegment(name: string, bytes: Uint8Array): Segment | undefined {
  const record = parseGenesis(bytes);
  if (!record) return undefined;
  return {
    name,
    bytes,
    start: Date.parse(record.start),
    end: record.end ? Date.parse(record.end) : Infinity,
  };
}

export function parseGenesis(bytes: Uint8Array): Genesis | undefined {
  try {
    const g = JSON.parse(new TextDecoder().decode(bytes));
    return g?.format === FORMAT && typeof g.start === "string" && !Number.isNaN(Date.parse(g.start))
      ? g as Genesis
      : undefined;
  } catch {
    return undefined;
  }
}

/** One stored manifest with its hash, as verification needs it. */
export interface ChainLink {
  name: string;
  bytes: Uint8Array;
}

/**
 * Checks the chain's shape, pure over names and record bytes: segments tile, each manifest sits at its start's
 * name, starts where the previous window ended, names the previous record's hash (the previous manifest, or
 * the genesis of the segment it opens), and every data object is claimed by exactly one manifest.
 * Returns the problems found (empty when it holds) and the windows in order.
 */
export async function verifyChain(input: {
  chain: string;
  geneses: ChainLink[];
  manifests: ChainLink[];
  dataNames: string[];
}): Promise<{ problems: string[]; windows: Manifest[]; amendments: Manifest[] }> {
  const problems: string[] = [];
  const windows: Manifest[] = [];
  const segments: Segment[] = [];
  const amendmentLinks = input.manifests.filter((link) => parseAmendmentName(link.name));
  for (const link of input.geneses) {
    const segment = parseSegment(link.name, link.bytes);
    if (
      !segment || link.name !== genesisName(input.chain, segment.end === Infinity ? undefined : segment.end)
    ) {
      problems.push(`${link.name} is not a readable genesis`);
    } else segments.push(segment);
  }
  segments.sort((a, b) => a.start - b.start);
  if (!segments.length) {
    if (input.manifests.length || input.dataNames.length) {
      problems.push(`${genesisName(input.chain)} is missing: the chain has no declared start`);
    }
    return { problems, windows, amendments: [] };
  }
  const at = (ms: number) => new Date(ms).toISOString();
  const expect = (actual: number, expected: number, what: string) => {
    if (actual > expected) {
      problems.push(`gap: nothing covers [${at(expected)}, ${at(actual)}) before ${what}`);
    }
    if (actual < expected) problems.push(`overlap: ${what} starts at ${at(actual)}, before ${at(expected)}`);
  };
  let segment = 0;
  let expectedStart = segments[0].start;
  let previous = await sha256Hex(segments[0].bytes);
  const enterSegmentsUpTo = async (time: number) => {
    while (segment + 1 < segments.length && segments[segment + 1].start <= time) {
      const next = segments[segment + 1];
      if (segments[segment].end !== next.start) {
        problems.push(`${segments[segment].name} does not end where ${next.name} starts`);
      }
      expect(next.start, expectedStart, next.name);
      segment++;
      expectedStart = next.start;
      previous = await sha256Hex(next.bytes);
    }
  };
  const claimed = new Set<string>();
  const hashes = new Map<string, string>();
  const windowLinks = input.manifests.filter((link) => !parseAmendmentName(link.name));
  for (const link of windowLinks.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const manifest = parseManifest(link.bytes);
    if (!manifest) {
      problems.push(`${link.name} is not a readable manifest`);
      continue;
    }
    const window = { start: Date.parse(manifest.start), end: Date.parse(manifest.end) };
    await enterSegmentsUpTo(window.start);
    const names = objectNames(input.chain, window);
    if (names.manifest !== link.name || names.data !== manifest.object) {
      problems.push(
        `${link.name} describes ${describeWindow(window)} but is not stored under that window's name`,
      );
    }
    expect(window.start, expectedStart, link.name);
    if (manifest.previous !== previous) {
      problems.push(`${link.name}: the hash chain is broken (the record before it was changed or removed)`);
    }
    if (window.end <= window.start) problems.push(`${link.name}: the window is empty or reversed`);
    claimed.add(manifest.object);
    windows.push(manifest);
    expectedStart = window.end;
    previous = await sha256Hex(link.bytes);
    hashes.set(link.name, previous);
  }
  await enterSegmentsUpTo(Infinity);
  const last = segments[segments.length - 1];
  if (last.end !== Infinity) expect(last.end, expectedStart, `the end of ${last.name}`);
  const amendments = await verifyAmendments(input.chain, amendmentLinks, windows, hashes, problems);
  for (const amendment of amendments) claimed.add(amendment.object);
  for (const name of input.dataNames) {
    if (!claimed.has(name)) problems.push(`${name} is not claimed by any manifest (added or renamed)`);
  }
  return { problems, windows, amendments };
}

/**
 * Checks each window's amendments, pure: numbered 1, 2, 3… with no gap, stored under their window's names,
 * naming the window's manifest, each chained onto the one before (amendment 1 onto the window's manifest).
 * Adds what it finds to `problems`; returns the readable amendments.
 */
async function verifyAmendments(
  chain: string,
  links: ChainLink[],
  windows: Manifest[],
  windowHashes: Map<string, string>,
  problems: string[],
): Promise<Manifest[]> {
  const amendments: Manifest[] = [];
  const byName = new Map(links.map((link) => [link.name, link]));
  for (
    const link of [...links].sort((a, b) => parseAmendmentName(a.name)!.n - parseAmendmentName(b.name)!.n)
  ) {
    const { start, n } = parseAmendmentName(link.name)!;
    const manifest = parseManifest(link.bytes);
    const window = windows.find((w) => Date.parse(w.start) === start);
    if (!manifest || manifest.amendment !== n) {
      problems.push(`${link.name} is not a readable amendment`);
      continue;
    }
    const windowName = window && objectNames(chain, { start, end: Date.parse(window.end) }).manifest;
    if (!window || manifest.end !== window.end || manifest.amends !== windowHashes.get(windowName!)) {
      problems.push(`${link.name} amends no committed window (the window's manifest is missing or changed)`);
      continue;
    }
    const names = amendmentNames(chain, { start, end: Date.parse(window.end) }, n);
    if (names.manifest !== link.name || names.data !== manifest.object) {
      problems.push(`${link.name} is not stored under its own name`);
    }
    const before = n === 1 ? undefined : byName.get(amendmentNames(chain, { start, end: 0 }, n - 1).manifest);
    if (n > 1 && !before) {
      problems.push(`${link.name}: amendment ${n - 1} of its window is missing (removed)`);
    } else if (manifest.previous !== (before ? await sha256Hex(before.bytes) : manifest.amends)) {
      problems.push(`${link.name}: the hash chain is broken (the amendment before it was changed)`);
    }
    amendments.push(manifest);
  }
  return amendments;
}

/**
 * Checks one data object against its manifest: size, hashes, line count, ids unique, lines in (time, id)
 * order, times from the manifest's first to last event time and, on event time, inside the window.
 */
export async function verifyData(manifest: Manifest, data: Uint8Array): Promise<string[]> {
  const problems: string[] = [];
  const name = manifest.object;
  if (data.length !== manifest.bytes || await sha256Hex(data) !== manifest.sha256) {
    return [`${name}: content does not match its manifest's SHA-256 (changed)`];
  }
  const ndjson = await gunzip(data);
  if (await sha256Hex(ndjson) !== manifest.ndjsonSha256) {
    problems.push(`${name}: NDJSON hash differs from the manifest`);
  }
  const lines = new TextDecoder().decode(ndjson).split("\n");
  if (lines.pop() !== "") problems.push(`${name}: the last line is not terminated`);
  if (lines.length !== manifest.events) {
    problems.push(`${name}: ${lines.length} events, the manifest says ${manifest.events}`);
  }
  const ids = new Set<string>();
  const kind = kindOf(manifest);
  const onEventTime = (manifest.basis ?? "event-time") === "event-time";
  const start = onEventTime ? Date.parse(manifest.start) : Date.parse(manifest.firstEventTime ?? "");
  const end = onEventTime ? Date.parse(manifest.end) : Date.parse(manifest.lastEventTime ?? "") + 1;
  let previous = { time: -Infinity, id: "" };
  for (const [index, line] of lines.entries()) {
    let event;
    try {
      event = JSON.parse(line);
    } catch {
      event = undefined;
    }
    const id = kind && typeof event === "object" && event !== null ? eventKey(kind, event) : undefined;
    if (id === undefined) {
      problems.push(`${name}: line ${index + 1} is not an event`);
      continue;
    }
    const time = eventTime(kind, event);
    if (ids.has(id)) problems.push(`${name}: event ${id} appears twice`);
    ids.add(id);
    if (time === undefined || !(time >= start && time < end)) {
      problems.push(`${name}: event ${id} is outside the window`);
    } else if (time < previous.time || (time === previous.time && id < previous.id)) {
      problems.push(`${name}: event ${id} is out of (time, id) order`);
    } else previous = { time, id };
  }
  return problems;
}

/** The ids of the events in an object that verifies against its manifest. */
async function eventIds(manifest: Manifest, data: Uint8Array): Promise<string[]> {
  const kind = kindOf(manifest)!;
  return new TextDecoder().decode(await gunzip(data)).split("\n").filter(Boolean).map((line) =>
    eventKey(kind, JSON.parse(line))!
  );
}

/** The source kind of an archived window (undefined for a source this version does not know). */
const kindOf = (manifest: Manifest): SourceKind | undefined => SOURCE_KINDS[manifest.source as SourceName];

/** The id an archived event is known by: its source's id member. */
function eventKey(kind: SourceKind, event: Record<string, unknown>): string | undefined {
  const id = event[kind.idField];
  return typeof id === "string" && id ? id : undefined;
}

/** When an archived event occurred: its source's time member. */
function eventTime(kind: SourceKind | undefined, event: Record<string, unknown>): number | undefined {
  const text = kind && event[kind.timeField];
  const ms = typeof text === "string" ? Date.parse(text) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/** A signed checkpoint: every chain's head at one moment, chained to the one before (DESIGN.md §5). */
export interface Checkpoint {
  format: string;
  sequence: number;
  /** SHA-256 of the previous checkpoint's bytes; null for the first. */
  previous: string | null;
  time: string;
  version: string;
  keyId: string;
  /** Each chain's newest manifest (its SHA-256) and the frontier it ends at, and what reconcile found. */
  chains: ChainHead[];
  signature?: string;
}

/** One chain in a checkpoint. */
export interface ChainHead {
  chain: string;
  head: string;
  frontier: string;
  /** Every window of the main segment that ends by this time has been reconciled (carried forward). */
  reconciled?: string;
  /** The amendments of the windows the pass reconciled: removing or changing one is evident. */
  amendments?: { name: string; sha256: string }[];
}

/** A checkpoint key's public half, published beside the checkpoints for auditors. */
export interface CheckpointKeyRecord {
  format: string;
  keyId: string;
  /** Ed25519 for a key file; RSASSA-PKCS1-v1_5 with SHA-256 for a Vault key. */
  algorithm: CheckpointAlgorithm;
  /** SPKI, base64. */
  publicKey: string;
  /**
   * When the archiver first signed with it (a Vault key version: when it was created); a newer key's validFrom
   * ends its period, and checkpoints it signed before that stay verifiable.
   */
  validFrom: string;
  /** A Vault key's OCID and the version that signs: where an auditor reads the same public key from Oracle. */
  vaultKeyId?: string;
  vaultKeyVersionId?: string;
}

export type CheckpointAlgorithm = "Ed25519" | "RSASSA-PKCS1-v1_5-SHA256";

/** How WebCrypto names each checkpoint algorithm: importing a public key with it, verifying with the key. */
const WEBCRYPTO_ALGORITHMS: Record<CheckpointAlgorithm, AlgorithmIdentifier | RsaHashedImportParams> = {
  "Ed25519": "Ed25519",
  "RSASSA-PKCS1-v1_5-SHA256": { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
};

/**
 * A checkpoint public key (SPKI) as a verifying key of its own algorithm: WebCrypto refuses an SPKI whose
 * algorithm is another, so the first that imports is the key's. Undefined when it is neither.
 */
export async function importCheckpointPublicKey(spki: Uint8Array): Promise<CryptoKey | undefined> {
  for (const algorithm of Object.values(WEBCRYPTO_ALGORITHMS)) {
    try {
      return await crypto.subtle.importKey("spki", spki as Uint8Array<ArrayBuffer>, algorithm, false, [
        "verify",
      ]);
    } catch {
      // Another algorithm's key: try the next.
    }
  }
  return undefined;
}

/** Verifies a signature with the key's own algorithm (its hash, for RSA, fixed when it was imported). */
const verifySignature = (key: CryptoKey, signature: Uint8Array, bytes: Uint8Array) =>
  crypto.subtle.verify(
    key.algorithm.name,
    key,
    signature as Uint8Array<ArrayBuffer>,
    bytes as Uint8Array<ArrayBuffer>,
  );

const CHECKPOINT_FORMAT = "audit-archiver/checkpoint-1";
const CHECKPOINT_SUFFIX = ".checkpoint.json";

/** `{prefix}/_checkpoints/{YYYY}/{MM}/{DD}/{time}.checkpoint.json` (DESIGN.md §5). */
export const checkpointName = (prefix: string, time: number) =>
  `${dayPrefix(`${prefix}/_checkpoints`, time)}/${timeStamp(time)}${CHECKPOINT_SUFFIX}`;

/**
 * The claim on the place after a checkpoint: created if absent and holding the successor's bytes, so two
 * instances can never both follow one checkpoint (no fork), and a successor whose dated copy a crash left
 * unwritten is still found and completed.
 */
export const checkpointClaimName = (prefix: string, previous: string | null) =>
  `${prefix}/_checkpoints/claims/${previous ?? "first"}.json`;

export const checkpointKeyName = (prefix: string, keyId: string) =>
  `${prefix}/_checkpoints/keys/${keyId}.json`;

/** The bytes a checkpoint's signature covers: its record without the signature. */
export const signedBytes = (checkpoint: Checkpoint) => encodeRecord({ ...checkpoint, signature: undefined });

export function parseCheckpoint(bytes: Uint8Array): Checkpoint | undefined {
  try {
    const c = JSON.parse(new TextDecoder().decode(bytes));
    const ok = c?.format === CHECKPOINT_FORMAT && Number.isInteger(c.sequence) && c.sequence >= 1 &&
      (c.previous === null || typeof c.previous === "string") && typeof c.keyId === "string" &&
      typeof c.signature === "string" && Array.isArray(c.chains) && !Number.isNaN(Date.parse(c.time));
    return ok ? c as Checkpoint : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks a sequence of checkpoints: each readable, signed by a key it names (from `keys`: the auditor's own, or
 * the published ones), numbered 1, 2, 3… with no gap, each naming the previous one's SHA-256; every chain a
 * checkpoint names still exists and still holds the head it recorded (so no window after it was removed and
 * the chain was not rewritten); the newest not older than `maxStalenessMs`. Returns the problems found.
 */
export async function verifyCheckpoints(input: {
  checkpoints: ChainLink[];
  keys: Map<string, CryptoKey>;
  /** Each chain's manifest hashes, amendments' included. */
  manifestHashes: Map<string, Set<string>>;
  /** Each chain's amendments: their names, hashes and where their window ends. */
  amendments?: Map<string, { name: string; sha256: string; windowEnd: number }[]>;
  now: number;
  maxStalenessMs: number;
}): Promise<string[]> {
  const problems: string[] = [];
  const parsed = input.checkpoints.map((link) => ({ link, checkpoint: parseCheckpoint(link.bytes) }));
  for (const { link } of parsed.filter((p) => !p.checkpoint)) {
    problems.push(`${link.name} is not a readable checkpoint`);
  }
  const valid = parsed.filter((p) => p.checkpoint).sort((a, b) =>
    a.checkpoint!.sequence - b.checkpoint!.sequence
  );
  if (!valid.length) {
    return [...problems, "no checkpoint found: the archive's newest windows cannot be proven"];
  }
  let previous: string | null = null;
  const covered = new Set<string>();
  for (const [index, { link, checkpoint }] of valid.entries()) {
    const c = checkpoint!;
    if (c.sequence !== index + 1) {
      problems.push(
        `checkpoint ${index + 1} is missing (the sequence goes on at ${c.sequence}, ${link.name})`,
      );
    } else if (c.previous !== previous) {
      problems.push(`${link.name} does not follow checkpoint ${index}: the checkpoint chain was changed`);
    }
    previous = await sha256Hex(link.bytes);
    const key = input.keys.get(c.keyId);
    const signature = decodeBase64(c.signature!);
    if (!key || !await verifySignature(key, signature, signedBytes(c))) {
      problems.push(
        `${link.name}: the signature does not verify${key ? "" : ` (no trusted key ${c.keyId})`}`,
      );
    }
    for (const head of c.chains) {
      const hashes = input.manifestHashes.get(head.chain);
      if (!hashes) problems.push(`${head.chain}, which checkpoint ${c.sequence} names, is missing`);
      else if (!hashes.has(head.head)) {
        problems.push(
          `${head.chain} no longer holds the head checkpoint ${c.sequence} recorded (frontier ${head.frontier}): windows were removed or the chain was rewritten`,
        );
      }
      for (const amendment of head.amendments ?? []) {
        covered.add(amendment.sha256);
        if (hashes && !hashes.has(amendment.sha256)) {
          problems.push(
            `${amendment.name}, which checkpoint ${c.sequence} recorded, was removed or changed`,
          );
        }
      }
    }
  }
  problems.push(...uncoveredAmendments(valid.at(-1)!.checkpoint!, covered, input.amendments));
  const newest = valid.at(-1)!.checkpoint!;
  const age = input.now - Date.parse(newest.time);
  if (age > input.maxStalenessMs) {
    problems.push(
      `the newest checkpoint (${newest.sequence}, ${newest.time}) is ${
        Math.round(age / 60_000)
      } min old, more than the schedule allows (${
        Math.round(input.maxStalenessMs / 60_000)
      } min): newer checkpoints were removed, or passes stopped`,
    );
  }
  return problems;
}

/**
 * Amendments no checkpoint recorded although their window ends before the newest checkpoint's reconciled
 * time: every reconcile of such a window records its amendments, so these were added without the key.
 */
function uncoveredAmendments(
  newest: Checkpoint,
  covered: Set<string>,
  amendments: Map<string, { name: string; sha256: string; windowEnd: number }[]> = new Map(),
): string[] {
  const problems: string[] = [];
  for (const head of newest.chains) {
    const reconciled = head.reconciled ? Date.parse(head.reconciled) : -Infinity;
    for (const amendment of amendments.get(head.chain) ?? []) {
      if (amendment.windowEnd <= reconciled && !covered.has(amendment.sha256)) {
        problems.push(
          `${amendment.name} is in no checkpoint although its window was reconciled: it was added without the signing key, or (rarely) its reconciler stopped before signing while another went on — \`reconcile\` over that window records it if the source still shows its events`,
        );
      }
    }
  }
  return problems;
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Sinks: where objects live. Each offers create-if-absent, read and listing; the commit path is shared.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

export interface Sink {
  readonly description: string;
  /** Creates the object only if no object of that name exists; false when one does (never overwrites). */
  createExclusive(name: string, bytes: Uint8Array): Promise<boolean>;
  /** The object's bytes, or undefined when there is none. */
  read(name: string): Promise<Uint8Array | undefined>;
  /** Whether the object exists, read without its bytes. */
  exists(name: string): Promise<boolean>;
  /** The names directly under a folder (`a/b` → `a/b/c`, `a/b/d.json`), sorted. */
  listChildren(prefix: string): Promise<string[]>;
}

/** A local directory; names map `/` to folders. No-clobber, crash-safe commits through hard links. */
export class DirectorySink implements Sink {
  readonly description: string;
  constructor(readonly root: string) {
    this.description = `directory ${root}`;
  }

  #path(name: string) {
    return `${this.root}/${name}`;
  }

  async createExclusive(name: string, bytes: Uint8Array): Promise<boolean> {
    const path = this.#path(name);
    const folder = path.slice(0, path.lastIndexOf("/"));
    await Deno.mkdir(folder, { recursive: true });
    // Write and fsync a temporary file, then link it to the name: link(2) fails if the name exists, so the
    // object appears whole or not at all, and never replaces another. The temporary name ends in `.tmp`.
    const temporary = `${folder}/.${name.slice(name.lastIndexOf("/") + 1)}.${crypto.randomUUID()}.tmp`;
    try {
      const file = await Deno.open(temporary, { write: true, createNew: true });
      try {
        await file.write(bytes).then(async (written) => {
          for (let offset = written; offset < bytes.length;) {
            offset += await file.write(bytes.subarray(offset));
          }
        });
        await file.sync();
      } finally {
        file.close();
      }
      try {
        await Deno.link(temporary, path);
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) return false;
        throw error;
      }
      const dir = await Deno.open(folder, { read: true });
      await dir.sync().finally(() => dir.close());
      return true;
    } catch (error) {
      throw new ArchiveError("ARCHIVE", `cannot write ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      await Deno.remove(temporary).catch(() => {});
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(this.#path(name));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw new ArchiveError("ARCHIVE", `cannot read ${this.#path(name)}: ${(error as Error).message}`);
    }
  }

  async exists(name: string): Promise<boolean> {
    try {
      return (await Deno.stat(this.#path(name))).isFile;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw new ArchiveError("ARCHIVE", `cannot read ${this.#path(name)}: ${(error as Error).message}`);
    }
  }

  async listChildren(prefix: string): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.#path(prefix))) {
        if (!entry.name.startsWith(".")) names.push(`${prefix}/${entry.name}`);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw new ArchiveError("ARCHIVE", `cannot list ${this.#path(prefix)}: ${(error as Error).message}`);
    }
    return names.sort();
  }
}

/**
 * An Object Storage bucket: the same names as the directory. Creates are conditional (`If-None-Match: *`,
 * with `Content-MD5`), so a committed object is never overwritten, also in a bucket whose retention rules
 * forbid overwrite and delete; listings are one folder level (`delimiter=/`), paged with `nextStartWith`.
 */
export class ObjectStorageSink implements Sink {
  readonly description: string;
  readonly #client: ObjectStorage.ObjectStorageClient;
  constructor(session: OciSession, readonly namespace: string, readonly bucket: string) {
    this.description = `bucket ${bucket} (namespace ${namespace})`;
    this.#client = ociClient(session, session.sdk.objectstorage.ObjectStorageClient, "objectStorage");
  }

  /** Looks the namespace up when OCI_NAMESPACE is unset. */
  static async open(session: OciSession, bucket: string, namespace?: string): Promise<ObjectStorageSink> {
    if (namespace) return new ObjectStorageSink(session, namespace, bucket);
    const client = ociClient(session, session.sdk.objectstorage.ObjectStorageClient, "objectStorage");
    const response = await ociCall("Object Storage namespace", () => client.getNamespace({}));
    return new ObjectStorageSink(session, response.value, bucket);
  }

  async createExclusive(name: string, bytes: Uint8Array): Promise<boolean> {
    const md5 = encodeBase64(new Uint8Array(createHash("md5").update(bytes).digest()));
    try {
      await ociCall(`put ${name}`, () =>
        this.#client.putObject({
          namespaceName: this.namespace,
          bucketName: this.bucket,
          objectName: name,
          putObjectBody: bytes,
          contentLength: bytes.length,
          contentMD5: md5,
          ifNoneMatch: "*",
        }));
      return true;
    } catch (error) {
      if ((error as ArchiveError).code !== "CONFLICT") throw error;
      // 412: the name exists. It is ours when a retried PUT had in fact succeeded: the same bytes.
      const existing = await this.read(name);
      return existing !== undefined && existing.length === bytes.length &&
        existing.every((b, i) => b === bytes[i]);
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      const response = await ociCall(`get ${name}`, async () => {
        const object = await this.#client.getObject({
          namespaceName: this.namespace,
          bucketName: this.bucket,
          objectName: name,
        });
        // The body is read inside the retried call: a reset mid-body is retried like a 5xx.
        return new Uint8Array(await new Response(object.value as ReadableStream).arrayBuffer());
      });
      return response;
    } catch (error) {
      if ((error as ArchiveError).code === "NOT_FOUND") return undefined;
      throw error;
    }
  }

  /** HeadObject: OBJECT_READ, like GetObject (objectstoragepolicyreference.htm), which `read objects` grants. */
  async exists(name: string): Promise<boolean> {
    try {
      await ociCall(
        `head ${name}`,
        () =>
          this.#client.headObject({
            namespaceName: this.namespace,
            bucketName: this.bucket,
            objectName: name,
          }),
      );
      return true;
    } catch (error) {
      if ((error as ArchiveError).code === "NOT_FOUND") return false;
      throw error;
    }
  }

  async listChildren(prefix: string): Promise<string[]> {
    const names: string[] = [];
    let start: string | undefined;
    do {
      const { listObjects } = await ociCall(`list ${prefix}/`, () =>
        this.#client.listObjects({
          namespaceName: this.namespace,
          bucketName: this.bucket,
          prefix: `${prefix}/`,
          delimiter: "/",
          fields: "name",
          start,
        }));
      names.push(
        ...listObjects.objects.map((o) => o.name),
        ...(listObjects.prefixes ?? []).map((p) => p.slice(0, -1)),
      );
      start = listObjects.nextStartWith;
    } while (start);
    return names.filter((name) => !name.slice(prefix.length + 1).startsWith(".")).sort();
  }

  /**
   * The bucket's retention rules, as `status` and the start of a pass report them, for reporting only: a refusal (a policy without `read buckets`; a 404 may mean
   * "not authorized") or an Object Storage without the endpoint gives a warning, never a failed pass.
   */
  async retention(): Promise<string> {
    let retentionRuleCollection;
    try {
      ({ retentionRuleCollection } = await ociCall(
        "retention rules",
        () => this.#client.listRetentionRules({ namespaceName: this.namespace, bucketName: this.bucket }),
      ));
    } catch (error) {
      log("warn", "the bucket's retention rules could not be read (reported as unknown)", {
        error: (error as Error).message,
      });
      return "unknown: the retention rules could not be read (grant `read buckets`, see `policies`)";
    }
    const rules = retentionRuleCollection.items.map((rule) => {
      const period = rule.duration
        ? `${rule.duration.timeAmount} ${rule.duration.timeUnit.toLowerCase()}`
        : "indefinite";
      return `${rule.displayName}: ${period}${rule.timeRuleLocked ? ", locked" : ""}`;
    });
    return rules.length ? `WORM: ${rules.join("; ")}` : "not protected: the bucket has no retention rule";
  }
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Chains: where each chain and its segments stand, read from the sink (bounded work however long).
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Every name below a folder, depth first, sorted: the chain's folders are year/month/day. */
async function listTree(sink: Sink, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for (const child of await sink.listChildren(prefix)) {
    if (/\/\d{2,4}$/.test(child)) names.push(...await listTree(sink, child));
    else names.push(child);
  }
  return names;
}

/** The earliest time a year, month or day folder (`…/2026/11/27`) can hold, from its last parts. */
function folderStart(parts: string[]): number {
  const [year, month = "01", day = "01"] = parts;
  return Date.UTC(Number(year), Number(month) - 1, Number(day));
}

/**
 * The last manifest of a chain whose window starts before `before`, found by walking year/month/day folders
 * from the newest and skipping those that start later: bounded work however long the archive is.
 */
async function lastManifestBefore(sink: Sink, chain: string, before: number): Promise<string | undefined> {
  return await newestRecordBefore(sink, chain, before, MANIFEST_SUFFIX);
}

/** The newest record named `{time}{suffix}` below `root`'s year/month/day folders whose time is before `before`. */
async function newestRecordBefore(
  sink: Sink,
  root: string,
  before: number,
  suffix: string,
): Promise<string | undefined> {
  const walk = async (prefix: string, parts: string[]): Promise<string | undefined> => {
    for (const child of (await sink.listChildren(prefix)).reverse()) {
      const leaf = child.slice(child.lastIndexOf("/") + 1);
      if (parts.length < 3) {
        if (!/^\d{2,4}$/.test(leaf) || folderStart([...parts, leaf]) >= before) continue;
        const found = await walk(child, [...parts, leaf]);
        if (found) return found;
      } else if (leaf.endsWith(suffix)) {
        const start = parseTimeStamp(leaf.slice(0, -suffix.length));
        if (start !== undefined && start < before) return child;
      }
    }
    return undefined;
  };
  return await walk(root, []);
}

/** The chain's segments, oldest first. */
async function readSegments(sink: Sink, chain: string): Promise<Segment[]> {
  const names = (await sink.listChildren(chain)).filter((name) => GENESIS_PATTERN.test(name));
  const segments = await Promise.all(names.map(async (name) => {
    const segment = parseSegment(name, (await sink.read(name))!);
    if (!segment) throw new ArchiveError("ARCHIVE", `${name} is not a readable genesis: run verify`);
    return segment;
  }));
  return segments.sort((a, b) => a.start - b.start);
}

/** Where a segment stands: the end of its last window (the frontier) and the record the next one chains to. */
interface SegmentState {
  frontier: number;
  /** The bytes of the newest manifest (or the genesis): the next manifest's `previous` is their SHA-256. */
  previousRecord: Uint8Array;
  last?: Manifest;
}

/**
 * Where a segment stands, read from the archive. Its newest windows are completed first when a crashed or
 * killed instance left them claimed without data (`completeNewest`): a chain goes on only from whole windows.
 */
async function readSegmentState(sink: Sink, chain: string, segment: Segment): Promise<SegmentState> {
  const newest = await newestManifest(sink, chain, segment, segment.end);
  if (!newest) return { frontier: segment.start, previousRecord: segment.bytes };
  await completeNewest(sink, chain, segment, newest.manifest);
  return { frontier: Date.parse(newest.manifest.end), previousRecord: newest.bytes, last: newest.manifest };
}

/** The segment's last window that starts before `before`, read. */
async function newestManifest(sink: Sink, chain: string, segment: Segment, before: number) {
  const name = await lastManifestBefore(sink, chain, before);
  const bytes = name ? await sink.read(name) : undefined;
  const manifest = bytes && parseManifest(bytes);
  if (name && !manifest) throw new ArchiveError("ARCHIVE", `${name} is not a readable manifest: run verify`);
  return manifest && Date.parse(manifest.start) >= segment.start ? { bytes: bytes!, manifest } : undefined;
}

/**
 * Completes a segment's newest window when it lacks its data object, and the window before it first when that
 * one lacks its data too: data objects go in window order and a claim waits for all but the newest
 * (`commitWindow`), so the windows without one are at most the two newest. Oldest first, so a crash here again
 * leaves only a suffix.
 */
async function completeNewest(sink: Sink, chain: string, segment: Segment, manifest: Manifest) {
  if (await sink.exists(manifest.object)) return;
  const before = await newestManifest(sink, chain, segment, Date.parse(manifest.start));
  if (before) await completeWindow(sink, before.manifest);
  await completeWindow(sink, manifest);
}

/** Creates a segment's genesis unless another instance did; returns the segment that holds under that name. */
async function claimSegment(
  sink: Sink,
  chain: string,
  source: Source,
  start: number,
  end?: number,
): Promise<Segment> {
  const record: Genesis = {
    format: FORMAT,
    source: source.name,
    scope: source.scope,
    start: new Date(start).toISOString(),
    ...(end === undefined ? {} : { end: new Date(end).toISOString() }),
    version: VERSION,
    createdAt: new Date().toISOString(),
  };
  const name = genesisName(chain, end);
  const bytes = encodeRecord(record);
  const held = await sink.createExclusive(name, bytes) ? bytes : await sink.read(name);
  if (!held) throw new ArchiveError("ARCHIVE", `${name} vanished after it was created`);
  const segment = parseSegment(name, held);
  if (!segment) throw new ArchiveError("ARCHIVE", `${name} is not a readable genesis: run verify`);
  return segment;
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Commit: the one path every window takes into every sink — claim by manifest, then data.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Commits one window: keeps its data bytes, creates its manifest (named by the start: the claim), then its data
 * object — each create-if-absent, so a concurrent instance can never overwrite or overlap it. A crash after
 * the claim leaves a window any instance completes from the kept bytes (`completeWindow`). When another
 * instance claimed the start first, its window is completed here too (it may have died right after its
 * claim) before this instance moves on: the commit owns the lost-claim rule.
 *
 * Returns the manifest that holds, and the write of its data object, still under way. The chain's data
 * objects go in window order (`unwritten`: the writes still under way, oldest first), and a claim waits for
 * all of them but the newest, so only a chain's two newest windows can lack their data object, and only as a
 * suffix: `readSegmentState` completes them. A bucket window then waits for one round trip, its claim, when
 * its kept bytes went in while the window before was claimed (`kept`, from the read ahead).
 */
export async function commitWindow(
  sink: Sink,
  names: { data: string; manifest: string },
  manifest: Manifest,
  data: Uint8Array,
  pipeline: { kept?: Promise<void>; unwritten?: Promise<void>[] } = {},
): Promise<{ ours: boolean; manifest: Manifest; record: Uint8Array; written: Promise<void> }> {
  const { kept = writeData(sink, keptName(manifest), data, manifest.sha256), unwritten = [] } = pipeline;
  await Promise.all([kept, ...unwritten.slice(0, -1)]);
  const record = encodeRecord(manifest);
  if (await sink.createExclusive(names.manifest, record)) {
    const written = (unwritten.at(-1) ?? Promise.resolve()).then(() =>
      writeData(sink, names.data, data, manifest.sha256)
    );
    // Awaited by the next commit or the caller; a failure must not end the process as unhandled meanwhile.
    written.catch(() => {});
    return { ours: true, manifest, record, written };
  }
  // The winner chained onto this instance's windows: theirs get their data first, so the suffix rule holds.
  await Promise.all(unwritten);
  const stored = await sink.read(names.manifest);
  const winner = stored && parseManifest(stored);
  if (!winner) throw new ArchiveError("ARCHIVE", `${names.manifest} is not a readable manifest: run verify`);
  await completeWindow(sink, winner);
  // The next window chains onto the bytes as stored (another version may have written them otherwise).
  return { ours: false, manifest: winner, record: stored, written: Promise.resolve() };
}

/** Writes an object if absent; an existing one must be byte-identical (another instance's same write). */
async function writeData(sink: Sink, name: string, data: Uint8Array, sha256: string) {
  if (await sink.createExclusive(name, data)) return;
  const existing = await sink.read(name);
  if (!existing || await sha256Hex(existing) !== sha256) {
    throw new ArchiveError("ARCHIVE", `${name} exists with other content than its manifest: run verify`);
  }
}

/**
 * Makes sure a claimed window has its data object, copying the kept bytes where it does not. Never re-reads
 * the source (which may return other events by now). A window with neither (written before kept bytes
 * existed) is reported, by this warning and by `status` and `verify`, and the chain goes on (invariant 9).
 */
async function completeWindow(sink: Sink, manifest: Manifest): Promise<void> {
  if (await sink.exists(manifest.object)) return;
  const kept = await sink.read(keptName(manifest));
  if (kept === undefined || await sha256Hex(kept) !== manifest.sha256) {
    log("warn", "a committed window has no data object and no kept bytes to complete it from: run verify", {
      object: manifest.object,
    });
    return;
  }
  await writeData(sink, manifest.object, kept, manifest.sha256);
  log("warn", "completed a window another instance claimed but did not finish", { object: manifest.object });
}

/** Outcome of archiving one source in one pass. */
export interface SourceReport {
  source: string;
  scope: string;
  windows: number;
  events: number;
  frontier: string;
  stopped: "caught-up" | "max-events" | "deadline" | "min-interval" | "shutdown";
}

/** Limits shared by every source of one pass. */
interface PassBudget {
  eventsLeft: number;
  deadline: number;
  /** Aborted on shutdown: no new window starts. */
  stop?: AbortSignal;
}

/**
 * Archives one segment of a source's chain: commits every due window from its frontier up to the horizon
 * (now − settle, and the segment's end), within the pass budget. The loop is the same for every source and sink.
 */
async function archiveSegment(
  source: Source,
  sink: Sink,
  config: Config,
  budget: PassBudget,
  segment: Segment,
  options: { minIntervalMs?: number; copy?: LoggingCopy; progress?: BackfillProgress; known?: PassChains } =
    {},
): Promise<SourceReport> {
  const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
  const context = { source: source.name, scope: source.scope };
  let state = await readSegmentState(sink, chain, segment);
  const report: SourceReport = { ...context, windows: 0, events: 0, frontier: "", stopped: "caught-up" };
  if (Date.now() - state.frontier < (options.minIntervalMs ?? 0)) report.stopped = "min-interval";
  // Fixed for the pass: a horizon that moved with the clock would chase it with ever smaller windows.
  const horizon = Math.min(Date.now() - source.settleMs, segment.end);
  let stride = Infinity;
  const ahead: AheadRead[] = [];
  // Reading ahead pays while windows come out as planned; after a cut window or a lost claim (another
  // instance at work) the next window is read alone, so reads are not wasted on plans that will not hold.
  let asPlanned = true;
  /** The data objects of the newest committed windows, oldest first, written while later ones are claimed. */
  let unwritten: Promise<void>[] = [];
  while ((report.stopped = budgetStop(budget, report.stopped)) === "caught-up") {
    const limit = Math.min(config.maxEventsPerObject, budget.eventsLeft);
    // Under a MAX_EVENTS budget that the windows ahead could exceed, only the next window is read.
    const depth = asPlanned && budget.eventsLeft >= config.maxEventsPerObject * (READ_AHEAD + 1)
      ? READ_AHEAD + 1
      : 1;
    readAhead(ahead, depth, { source, sink, chain, frontier: state.frontier, horizon, stride, limit });
    const next = ahead.shift();
    if (!next) break;
    const { window, read, encoded, kept } = await next.result;
    // Reads ahead are planned from the planned end of the window before: they hold only while it was not
    // cut, and a read sized for a larger budget than is left now is read again (invariants 1-3, MAX_EVENTS).
    if (window.start !== state.frontier || (next.limit > limit && read.count > limit)) {
      ahead.length = 0;
      continue;
    }
    asPlanned = window.end === next.planned.end;
    if (!asPlanned) ahead.length = 0;
    const names = objectNames(chain, window);
    const encodedWindow = await encoded;
    const { data } = encodedWindow;
    const manifest = await manifestOf(source, window, read, names.data, state.previousRecord, encodedWindow);
    const commit = await commitWindow(sink, names, manifest, data, { kept, unwritten });
    unwritten = [...unwritten, commit.written].slice(-2);
    state = {
      frontier: Date.parse(commit.manifest.end),
      previousRecord: commit.record,
      last: commit.manifest,
    };
    if (!commit.ours) {
      asPlanned = false;
      if (state.frontier !== window.end) ahead.length = 0;
      log("info", "window claimed by another instance; continuing after it", {
        ...context,
        window: describeWindow(window),
      });
      continue;
    }
    stride = nextStride(window, read.count, config.maxEventsPerObject);
    countCommit(context, read.count, data.length);
    options.progress?.window(segment, window, read.count);
    report.windows++;
    report.events += read.count;
    budget.eventsLeft -= read.count;
    log("info", "window committed", {
      ...context,
      window: describeWindow(window),
      events: read.count,
      object: names.data,
    });
    if (options.copy) await commit.written.then(() => options.copy!.copyWindow(sink, names.manifest));
  }
  await Promise.all(unwritten);
  if (state.last) options.known?.heads.set(chain, state.previousRecord);
  report.frontier = new Date(state.frontier).toISOString();
  return report;
}

/**
 * Windows read while the one before is encoded and committed, so a window's first page, overflow probe and
 * commit no longer wait for each other (issue 11). Requests stay within CONCURRENCY per host (`RequestGate`);
 * commits stay strictly in window order, as `archiveSegment` takes the reads one by one.
 */
const READ_AHEAD = 2;

/** What a window's read says besides its events: how many, and the source's own account of them. */
type ReadSummary =
  & { count: number }
  & Pick<Extract<WindowRead, { kind: "complete" }>, "sourceTotal" | "skippedCompartments">;

/**
 * A window being read ahead: as planned (its read may cut it), and the budget it was read for. Its data is
 * compressed as soon as it is read (`encoded`) and its kept bytes go in (`kept`), while the windows before
 * are claimed. Its events are held only until they are compressed: a window waiting for its claim holds its
 * data object, about a tenth of the pages' bytes.
 */
interface AheadRead {
  planned: Window;
  limit: number;
  result: Promise<
    { window: Window; read: ReadSummary; encoded: Promise<EncodedWindow>; kept: Promise<void> }
  >;
}

/** Starts reads of the windows after the last one in `ahead` (or after the frontier) until `depth` are. */
function readAhead(
  ahead: AheadRead[],
  depth: number,
  plan: {
    source: Source;
    sink: Sink;
    chain: string;
    frontier: number;
    horizon: number;
    stride: number;
    limit: number;
  },
) {
  while (ahead.length < depth) {
    const from = ahead.at(-1)?.planned.end ?? plan.frontier;
    const planned = planWindow(from, plan.horizon, plan.source.kind.granularityMs, plan.stride);
    if (!planned) return;
    const result = readFittingWindow(plan.source, planned, plan.limit).then(({ window, read }) => {
      const encoded = encodeWindow(read.events);
      // Named by the window and the data's hash: a window planned again leaves bytes no manifest names.
      const object = objectNames(plan.chain, window).data;
      const kept = encoded.then(({ data, sha256 }) =>
        writeData(plan.sink, keptName({ object, sha256 }), data, sha256)
      );
      encoded.catch(() => {});
      kept.catch(() => {});
      const { sourceTotal, skippedCompartments } = read;
      return { window, read: { count: read.events.length, sourceTotal, skippedCompartments }, encoded, kept };
    });
    // A read dropped unawaited (its window was planned again) must not end the process as unhandled.
    result.catch(() => {});
    ahead.push({ planned, limit: plan.limit, result });
  }
}

/** Counts one committed window for /metrics. */
function countCommit(labels: { source: string; scope: string }, events: number, bytes: number) {
  metrics.add("audit_archiver_windows_committed_total", labels);
  metrics.add("audit_archiver_events_committed_total", labels, events);
  metrics.add("audit_archiver_bytes_committed_total", labels, bytes);
}

/** Why a pass stops before its next window, or "caught-up" while it may go on. */
function budgetStop(budget: PassBudget, stopped: SourceReport["stopped"]): SourceReport["stopped"] {
  if (stopped !== "caught-up") return stopped;
  if (budget.stop?.aborted) return "shutdown";
  if (budget.eventsLeft <= 0) return "max-events";
  return Date.now() >= budget.deadline ? "deadline" : "caught-up";
}

/** Reads a window, cut (on the source's granularity) until it holds at most `limit` events. */
async function readFittingWindow(source: Source, planned: Window, limit: number) {
  let window = planned;
  let read = await source.readWindow(window, limit);
  while (read.kind === "overflow") {
    window = cutWindow(window, read.cutAt, source.kind.granularityMs);
    // One granule cannot be cut further: it is kept whole, however many events share it.
    read = await source.readWindow(
      window,
      window.end - window.start <= source.kind.granularityMs ? Infinity : limit,
    );
  }
  return { window, read };
}

/** Builds the manifest that claims an encoded window, chained onto the previous record. */
async function manifestOf(
  source: Source,
  window: Window,
  read: ReadSummary,
  object: string,
  previousRecord: Uint8Array,
  encoded: EncodedWindow,
  amendment?: { n: number; amends: string },
) {
  return buildManifest({
    source,
    window,
    object,
    encoded,
    sourceTotal: read.sourceTotal,
    skippedCompartments: read.skippedCompartments,
    amendment,
    previous: await sha256Hex(previousRecord),
    now: Date.now(),
  });
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Copy: the optional OCI Logging copy of each committed window — at most once, retried on later passes.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Logging ingestion truncates any field over 10,000 characters ("Any log data field cannot be more than 10,000
 * characters … truncated during ingestion", LogEntry model): longer lines go as parts of at most this many
 * characters. Requests are kept well under the service's body limit.
 */
const LOG_FIELD_MAX_CHARS = 10_000;
const LOG_REQUEST_MAX_BYTES = 4 * 1024 * 1024;
/** How far back each pass looks for windows whose copy failed or never ran (a Logging outage up to a week). */
const LOG_CATCH_UP_DAYS = 7;

/** One Logging entry: the archived event line, its id and time. */
export interface LogEntry {
  id: string;
  time: string;
  data: string;
}

/**
 * The Logging entries of one archived line: the line itself, or, over LOG_FIELD_MAX_CHARS, its parts in order
 * with ids `{id}#{k}/{n}`, so the copy is never silently cut: joined, the parts are the archived line. Parts are
 * cut between code points. Pure.
 */
export function logEntries(id: string, time: string, line: string): LogEntry[] {
  if (line.length <= LOG_FIELD_MAX_CHARS) return [{ id, time, data: line }];
  const parts: string[] = [];
  let part = "";
  for (const codePoint of line) {
    if (part.length + codePoint.length > LOG_FIELD_MAX_CHARS) {
      parts.push(part);
      part = "";
    }
    part += codePoint;
  }
  parts.push(part);
  return parts.map((data, k) => ({ id: `${id}#${k + 1}/${parts.length}`, time, data }));
}

/** Splits entries into requests under LOG_REQUEST_MAX_BYTES, in order. Pure. */
export function logBatches(entries: LogEntry[], maxBytes = LOG_REQUEST_MAX_BYTES): LogEntry[][] {
  const batches: LogEntry[][] = [];
  let batch: LogEntry[] = [], size = 0;
  for (const entry of entries) {
    const bytes = entry.data.length + entry.id.length + 64;
    if (batch.length && size + bytes > maxBytes) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(entry);
    size += bytes;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

/**
 * A window's Logging attempts, from the names beside its manifest: attempt n is claimed by
 * `{start}.log-{n}.json` before it pushes anything, and ends in `….log-{n}.done.json` or `….log-{n}.failed.json`
 * (which records how many batches went in). Pure.
 */
export function logCopyState(manifestName: string, names: string[]):
  | { kind: "none" }
  | { kind: "done" }
  | { kind: "failed"; attempt: number }
  | { kind: "unknown"; attempt: number } {
  const base = manifestName.slice(0, -MANIFEST_SUFFIX.length);
  let attempt = 0;
  for (const name of names) {
    const match = name.startsWith(`${base}.log-`) && /\.log-(\d+)\.json$/.exec(name);
    if (match) attempt = Math.max(attempt, Number(match[1]));
  }
  if (!attempt) return { kind: "none" };
  if (names.includes(`${base}.log-${attempt}.done.json`)) return { kind: "done" };
  if (names.includes(`${base}.log-${attempt}.failed.json`)) return { kind: "failed", attempt };
  return { kind: "unknown", attempt };
}

const logMarker = (manifestName: string, attempt: number, outcome?: "done" | "failed") =>
  `${manifestName.slice(0, -MANIFEST_SUFFIX.length)}.log-${attempt}${outcome ? `.${outcome}` : ""}.json`;

/**
 * Whether a failed request certainly did nothing: refused before it was taken in (429 TooManyRequests, 503
 * ServiceUnavailable) or rejected as invalid (another 4xx). A network error or another 5xx may have come after
 * the service did the work.
 */
const refusedUntouched = (error: unknown) => {
  const status = error instanceof ArchiveError ? error.status ?? 0 : 0;
  return status === 429 || status === 503 || (status >= 400 && status < 500);
};

/**
 * Pushes committed windows to an OCI Logging custom log. The archive stays the record: a failure is logged and
 * left for a later pass, never thrown into the commit path. An attempt is claimed (create-if-absent) before its
 * first request, so two instances never push one window, and a crash mid-push leaves the window marked
 * unknown (status reports it) rather than pushed again. PutLogs is not idempotent: a push whose answer was lost
 * (a network error, a 5xx) may have gone in, so it is never retried, and its attempt stays unknown too.
 */
export class LoggingCopy {
  readonly #client: OciLogging.LoggingClient;
  /** Set at the first failure of a pass: the rest waits for the next pass rather than failing one by one. */
  #down = false;
  constructor(session: OciSession, readonly logId: string) {
    this.#client = ociClient(session, session.sdk.loggingingestion.LoggingClient, "logging", {
      freshConnections: true, // PutLogs is not idempotent
    });
  }

  /** Copies the windows of the last week before `frontier` that were not copied, or whose copy failed. */
  async catchUp(sink: Sink, chain: string, frontier: number) {
    this.#down = false;
    for (let day = frontier - LOG_CATCH_UP_DAYS * DAY_MS; day <= frontier && !this.#down; day += DAY_MS) {
      const names = await this.#contained("list", () => sink.listChildren(dayPrefix(chain, day)));
      for (const name of (names ?? []).filter((n) => n.endsWith(MANIFEST_SUFFIX))) {
        await this.copyWindow(sink, name, names);
      }
    }
  }

  /** Copies one committed window unless it is copied, claimed by another attempt, or in an unknown state. */
  async copyWindow(sink: Sink, manifestName: string, known?: string[]) {
    if (this.#down) return;
    await this.#contained(manifestName, () => this.#copy(sink, manifestName, known));
  }

  /** Runs one step of the copy; any failure is logged and ends this pass's copying, never the pass. */
  async #contained<T>(what: string, step: () => Promise<T>): Promise<T | undefined> {
    try {
      return await step();
    } catch (error) {
      this.#down = true;
      log("error", "Logging copy failed; the next pass retries it", {
        what,
        error: (error as Error).message,
      });
      return undefined;
    }
  }

  async #copy(sink: Sink, manifestName: string, known?: string[]) {
    const names = known ?? await sink.listChildren(manifestName.slice(0, manifestName.lastIndexOf("/")));
    const state = logCopyState(manifestName, names);
    if (state.kind === "done" || state.kind === "unknown") return;
    const attempt = state.kind === "failed" ? state.attempt + 1 : 1;
    const skip = state.kind === "failed" ? await this.#batchesPushed(sink, manifestName, state.attempt) : 0;
    // Unique to this attempt: a create-if-absent that finds identical bytes takes them for its own retried write,
    // so two claims made in the same millisecond must still differ.
    const claim = encodeRecord({
      logId: this.logId,
      claimedAt: new Date().toISOString(),
      claimant: crypto.randomUUID(),
    });
    if (!await sink.createExclusive(logMarker(manifestName, attempt), claim)) return; // another instance has it
    const manifest = parseManifest((await sink.read(manifestName))!)!;
    const batches = logBatches(await this.#entries(sink, manifest));
    let pushed = skip;
    try {
      for (const batch of batches.slice(skip)) {
        await this.#push(manifest, batch);
        pushed++;
      }
    } catch (error) {
      if (!refusedUntouched(error)) {
        metrics.add("audit_archiver_logging_copies_total", { outcome: "unknown" });
        throw error; // the attempt stays unknown: the push may have gone in
      }
      metrics.add("audit_archiver_logging_copies_total", { outcome: "failed" });
      await sink.createExclusive(
        logMarker(manifestName, attempt, "failed"),
        encodeRecord({ batchesPushed: pushed, error: (error as Error).message.slice(0, 300) }),
      );
      throw error;
    }
    await sink.createExclusive(logMarker(manifestName, attempt, "done"), encodeRecord({ batches: pushed }));
    metrics.add("audit_archiver_logging_copies_total", { outcome: "done" });
  }

  async #batchesPushed(sink: Sink, manifestName: string, attempt: number): Promise<number> {
    const marker = await sink.read(logMarker(manifestName, attempt, "failed"));
    return JSON.parse(new TextDecoder().decode(marker)).batchesPushed;
  }

  /** The window's archived lines as Logging entries (long ones in parts), read back from the archive. */
  async #entries(sink: Sink, manifest: Manifest): Promise<LogEntry[]> {
    const kind = kindOf(manifest)!;
    const text = new TextDecoder().decode(await gunzip((await sink.read(manifest.object))!));
    return text.split("\n").filter(Boolean).flatMap((line) => {
      const event = JSON.parse(line);
      return logEntries(eventKey(kind, event)!, new Date(eventTime(kind, event)!).toISOString(), line);
    });
  }

  /** One PutLogs request. Retried only when Logging refused it untouched (429, 503). */
  async #push(manifest: Manifest, batch: LogEntry[]) {
    await ociCall("Logging push", () =>
      this.#client.putLogs({
        logId: this.logId,
        putLogsDetails: {
          specversion: "1.0",
          logEntryBatches: [{
            entries: batch as unknown as OciLogging.models.LogEntry[],
            source: "audit-archiver",
            type: `audit-archiver.${manifest.source}`,
            subject: manifest.scope,
            defaultlogentrytime: manifest.end as unknown as Date,
          }],
        },
      }), { retry: refusedUntouched });
  }
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Reconcile: re-reads committed windows from the source; what it shows only now is archived as an amendment.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * What passes reconciled, per chain, for their checkpoint: how far the main segment is now reconciled (when
 * they went on from the last checkpoint's time) and the amendments of the windows they read.
 */
export type Reconciliation = Map<string, { until?: number; amendments: { name: string; sha256: string }[] }>;

/** What reconcile found in one window: events in the source, in the archive, missing from it, extra in it. */
export interface WindowReconciliation {
  chain: string;
  window: string;
  inSource: number;
  archived: number;
  missing: number;
  extra: number;
  /** The amendment that now holds the missing events, this reconciler's or a concurrent one's (not with --dry-run). */
  amended?: string;
  /** Why the window could not be reconciled (it is reported, and reconcile goes on: invariant 9). */
  problem?: string;
}

/** A committed window as stored: its manifest's name, bytes and record. */
interface CommittedWindow {
  name: string;
  bytes: Uint8Array;
  manifest: Manifest;
}

/** Where a segment's windows end now: the end of its newest window, or its start. */
async function frontierOf(sink: Sink, chain: string, segment: Segment): Promise<number> {
  const newest = await lastManifestBefore(sink, chain, segment.end);
  return newest ? Date.parse(parseManifest((await sink.read(newest))!)?.end ?? "") : segment.start;
}

/**
 * The committed windows of a chain that meet [from, to), oldest first, read day folder by day folder from
 * the window that holds `from`: bounded by the range, however long the archive is.
 */
async function* committedWindows(
  sink: Sink,
  chain: string,
  from: number,
  to: number,
): AsyncGenerator<CommittedWindow> {
  const first = await lastManifestBefore(sink, chain, from + 1);
  const firstStart = first
    ? parseTimeStamp(first.slice(first.lastIndexOf("/") + 1, -MANIFEST_SUFFIX.length))!
    : from;
  for (let day = Math.floor(firstStart / DAY_MS) * DAY_MS; day < to; day += DAY_MS) {
    for (const name of await sink.listChildren(dayPrefix(chain, day))) {
      const leaf = name.slice(name.lastIndexOf("/") + 1);
      if (
        !leaf.endsWith(MANIFEST_SUFFIX) ||
        parseTimeStamp(leaf.slice(0, -MANIFEST_SUFFIX.length)) === undefined
      ) {
        continue;
      }
      const bytes = (await sink.read(name))!;
      const manifest = parseManifest(bytes);
      if (!manifest) throw new ArchiveError("ARCHIVE", `${name} is not a readable manifest: run verify`);
      if (Date.parse(manifest.end) > from && Date.parse(manifest.start) < to) yield { name, bytes, manifest };
    }
  }
}

/** The ids of one archived object's events, read after completing it from its kept bytes if need be (`complete`). */
async function archivedIds(sink: Sink, manifest: Manifest, complete = true): Promise<string[]> {
  if (complete) await completeWindow(sink, manifest);
  const data = await sink.read(manifest.object);
  if (!data || await sha256Hex(data) !== manifest.sha256) {
    throw new ArchiveError(
      "ARCHIVE",
      `${manifest.object} is missing or does not match its manifest: run verify`,
    );
  }
  return await eventIds(manifest, data);
}

/** What the archive holds of a window: its events' ids, its amendments, and the record the next one chains to. */
async function archivedWindow(sink: Sink, chain: string, committed: CommittedWindow, complete: boolean) {
  const start = Date.parse(committed.manifest.start);
  const ids = new Set(await archivedIds(sink, committed.manifest, complete));
  const amendments: { name: string; sha256: string }[] = [];
  let last = committed.bytes;
  const names = (await sink.listChildren(dayPrefix(chain, start)))
    .filter((name) => parseAmendmentName(name)?.start === start)
    .sort((a, b) => parseAmendmentName(a)!.n - parseAmendmentName(b)!.n);
  for (const name of names) {
    const bytes = (await sink.read(name))!;
    const manifest = parseManifest(bytes);
    if (manifest?.amendment !== amendments.length + 1) {
      throw new ArchiveError(
        "ARCHIVE",
        `${name} is not the next readable amendment of its window: run verify`,
      );
    }
    for (const id of await archivedIds(sink, manifest, complete)) ids.add(id);
    amendments.push({ name, sha256: await sha256Hex(bytes) });
    last = bytes;
  }
  return { ids, amendments, last };
}

/**
 * Reconciles one committed window: re-reads it from the source, compares event ids with the window and its
 * amendments, and archives the missing events as the next amendment (create-if-absent, so two reconcilers
 * never both take one number; the one that loses leaves out what the winner archived and tries the next).
 * Extra events are reported, never removed.
 */
async function reconcileWindow(
  source: Source,
  sink: Sink,
  chain: string,
  committed: CommittedWindow,
  dryRun: boolean,
): Promise<{ result: WindowReconciliation; amendments: { name: string; sha256: string }[] }> {
  const window = { start: Date.parse(committed.manifest.start), end: Date.parse(committed.manifest.end) };
  const read = await source.readWindow(window, Infinity);
  if (read.kind !== "complete") throw new ArchiveError("HTTP", "a window read without a limit overflowed");
  // --dry-run writes nothing, not even a window's data completed from its kept bytes.
  const archived = await archivedWindow(sink, chain, committed, !dryRun);
  const inSource = new Set(read.events.map((e) => e.id));
  let missing = read.events.filter((e) => !archived.ids.has(e.id));
  const result: WindowReconciliation = {
    chain,
    window: describeWindow(window),
    inSource: inSource.size,
    archived: archived.ids.size,
    missing: missing.length,
    extra: [...archived.ids].filter((id) => !inSource.has(id)).length,
  };
  while (missing.length && !dryRun) {
    const n = archived.amendments.length + 1;
    const names = amendmentNames(chain, window, n);
    const encoded = await encodeWindow(missing);
    const manifest = await manifestOf(
      source,
      window,
      { ...read, count: missing.length },
      names.data,
      archived.last,
      encoded,
      { n, amends: await sha256Hex(committed.bytes) },
    );
    const commit = await commitWindow(sink, names, manifest, encoded.data);
    await commit.written;
    archived.last = commit.record;
    archived.amendments.push({ name: names.manifest, sha256: await sha256Hex(archived.last) });
    result.amended = names.manifest;
    if (commit.ours) {
      metrics.add(
        "audit_archiver_late_events_total",
        { source: source.name, scope: source.scope },
        missing.length,
      );
      log("warn", "late events archived as an amendment", {
        chain,
        window: result.window,
        events: missing.length,
      });
      break;
    }
    // Another reconciler took this number first: what it archived is not archived again.
    const theirs = new Set(await archivedIds(sink, commit.manifest));
    missing = missing.filter((e) => !theirs.has(e.id));
  }
  return { result, amendments: archived.amendments };
}

/** Which windows a reconcile reads: a range (`reconcile`), or those due (`once` and `run`). */
interface ReconcileScope {
  from?: number;
  to?: number;
  /** Windows committed after this are not due yet, and the walk stops at the first one (passes). */
  committedBefore?: number;
  dryRun?: boolean;
  stop?: AbortSignal;
  /** A pass's DEADLINE: no window is read after it (the rest is read by the next pass). */
  deadline?: number;
  /** What the pass read already: the newest checkpoint, and each chain's main segment. */
  known?: { tip: Promise<CheckpointTip | undefined>; mains: Map<string, Segment> };
}

/**
 * Reconciles one source's chain over a range the source still holds. The range starts at the last
 * checkpoint's reconciled time (or the main segment's start) unless given; going on from there, it moves
 * that time on to the end of the last window read.
 */
async function reconcileSource(
  source: Source,
  sink: Sink,
  config: Config,
  scope: ReconcileScope,
  reconciledUntil: number | undefined,
): Promise<
  { results: WindowReconciliation[]; until?: number; amendments: { name: string; sha256: string }[] }
> {
  const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
  const main = scope.known?.mains.get(chain) ??
    (await readSegments(sink, chain)).find((s) => s.end === Infinity);
  const results: WindowReconciliation[] = [];
  const amendments: { name: string; sha256: string }[] = [];
  if (!main) return { results, amendments };
  // A window is committed after its end and after its chain's genesis: a pass looks no further than the
  // windows it may reconcile (`committedBefore`), and a chain begun since then has none.
  const due = scope.committedBefore;
  if (due !== undefined && Date.parse(parseGenesis(main.bytes)?.createdAt ?? "") > due) {
    return { results, amendments };
  }
  const to = Math.min(scope.to ?? Infinity, due ?? await frontierOf(sink, chain, main));
  // A pass with nothing new to reconcile stops here, before asking the source for its retention.
  if ((scope.from ?? reconciledUntil ?? main.start) >= to) return { results, amendments };
  const retention = await sourceRetention(source, source.name);
  // A day's margin: the source drops its oldest events continuously, and a window half gone reads as extra.
  const held = Date.now() - (retention.days - 1) * DAY_MS;
  // Before `floor` every window is reconciled, or no longer held by the source (nothing can be read of it).
  const floor = Math.max(reconciledUntil ?? main.start, held);
  const from = Math.max(scope.from ?? floor, held);
  let until = from <= floor ? floor : undefined;
  for await (const committed of committedWindows(sink, chain, from, to)) {
    const window = { start: Date.parse(committed.manifest.start), end: Date.parse(committed.manifest.end) };
    if (scope.stop?.aborted || Date.now() >= (scope.deadline ?? Infinity)) break;
    if (
      scope.committedBefore !== undefined &&
      Date.parse(committed.manifest.committedAt) > scope.committedBefore
    ) {
      break;
    }
    if (window.start >= held) {
      try {
        const found = await reconcileWindow(source, sink, chain, committed, scope.dryRun ?? false);
        results.push(found.result);
        amendments.push(...found.amendments);
      } catch (error) {
        if (!(error instanceof ArchiveError) || error.code !== "ARCHIVE") throw error;
        const empty = { inSource: 0, archived: 0, missing: 0, extra: 0 };
        results.push({ chain, window: describeWindow(window), ...empty, problem: error.message });
        log("warn", "a window could not be reconciled; reconcile goes on", { chain, error: error.message });
      }
    }
    if (until !== undefined && window.start <= until) until = window.end;
  }
  return { results, until, amendments };
}

/**
 * Reconciles every source (in a pass: the windows committed RECONCILE_AFTER ago or earlier, each once), and
 * returns what the pass's checkpoint records.
 */
async function reconcileSources(
  config: Config,
  sources: Source[],
  sink: Sink,
  scope: ReconcileScope,
): Promise<{ results: WindowReconciliation[]; reconciliation: Reconciliation }> {
  const tip = await (scope.known?.tip ?? checkpointTip(sink, config.archivePrefix, false));
  const reconciliation: Reconciliation = new Map();
  const results = await forEachSource(sources, async (source) => {
    const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
    const mark = tip?.checkpoint.chains.find((c) => c.chain === chain)?.reconciled;
    const found = await reconcileSource(source, sink, config, scope, mark ? Date.parse(mark) : undefined);
    reconciliation.set(chain, { until: found.until, amendments: found.amendments });
    return found.results;
  });
  return { results: results.flat(), reconciliation };
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Checkpoints: each pass signs every chain's head, so removing the newest windows or a chain is evident.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The key that signs checkpoints: the local Ed25519 key file (created on first use, never in the archive), or
 * a Vault RSA key that signs in the HSM. Its record is published beside the checkpoints.
 */
interface CheckpointKey {
  keyId: string;
  sign: Signer;
  record: CheckpointKeyRecord;
}

/** A key's id: the first 16 hex digits of its SPKI's SHA-256. */
const keyIdOf = async (spki: Uint8Array) => (await sha256Hex(spki)).slice(0, 16);

/** Reads CHECKPOINT_KEY_FILE, creating it (mode 0600) when absent. */
async function loadCheckpointKey(path: string): Promise<CheckpointKey> {
  let pem: string;
  try {
    pem = await readKeyFile(path).catch(async (error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      return await createCheckpointKey(path);
    });
  } catch (error) {
    const hint = error instanceof Deno.errors.NotCapable
      ? "the permission set does not allow it: keep it at ./keys/checkpoint.pem in an existing ./keys folder (the set grants the file, not the folder), or grant --allow-read/--allow-write for it"
      : (error as Error).message;
    throw new ArchiveError("CONFIG", `CHECKPOINT_KEY_FILE ${path} cannot be read or created: ${hint}`);
  }
  registerSecret(pem);
  const body = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", decodeBase64(body), "Ed25519", true, ["sign"]);
  } catch {
    throw new ArchiveError(
      "CONFIG",
      `CHECKPOINT_KEY_FILE ${path} is not an Ed25519 private key (PKCS#8 PEM)`,
    );
  }
  // The public half, from the private key's JWK (its `x`), as SPKI for the published record.
  const { x } = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x }, "Ed25519", true, [
    "verify",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  const keyId = await keyIdOf(spki);
  const stat = await Deno.stat(path).catch(() => undefined);
  const validFrom = new Date(stat?.birthtime ?? stat?.mtime ?? Date.now()).toISOString();
  return {
    keyId,
    sign: async (bytes) =>
      new Uint8Array(await crypto.subtle.sign("Ed25519", privateKey, bytes as Uint8Array<ArrayBuffer>)),
    record: {
      format: CHECKPOINT_FORMAT,
      keyId,
      algorithm: "Ed25519",
      publicKey: encodeBase64(spki),
      validFrom,
    },
  };
}

/**
 * The Vault key's current version as the checkpoint key: its public key read from the vault, every signature
 * made by the HSM with that version. Read again for each checkpoint, so a rotated key is picked up.
 */
async function loadVaultCheckpointKey(session: OciSession, key: PublishedVaultKey): Promise<CheckpointKey> {
  const { keyVersionId, spki, timeCreated } = await readVaultPublicKey(session, key);
  if ((await importCheckpointPublicKey(spki))?.algorithm.name !== "RSASSA-PKCS1-v1_5") {
    throw new ArchiveError(
      "CONFIG",
      `CHECKPOINT_SIGNING_KEY_ID ${key.keyId} is not an RSA key: checkpoints are signed with RSA keys of the vault (SHA_256_RSA_PKCS1_V1_5)`,
    );
  }
  const keyId = await keyIdOf(spki);
  return {
    keyId,
    sign: kmsSigner(session, key, keyVersionId),
    record: {
      format: CHECKPOINT_FORMAT,
      keyId,
      algorithm: "RSASSA-PKCS1-v1_5-SHA256",
      publicKey: encodeBase64(spki),
      validFrom: timeCreated,
      vaultKeyId: key.keyId,
      vaultKeyVersionId: keyVersionId,
    },
  };
}

async function createCheckpointKey(path: string): Promise<string> {
  const pair = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const lines = encodeBase64(pkcs8).match(/.{1,64}/g)!.join("\n");
  const pem = `-----BEGIN PRIVATE KEY-----\n${lines}\n-----END PRIVATE KEY-----\n`;
  // The folder is made only when missing: the permission set may grant the key file and not its folder.
  const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
  if (!await Deno.stat(folder).then(() => true, () => false)) await Deno.mkdir(folder, { recursive: true });
  try {
    await Deno.writeTextFile(path, pem, { createNew: true, mode: 0o600 });
    log("info", "created the checkpoint signing key; give its public key to your auditors", { path });
    return pem;
  } catch (error) {
    // Another instance created it first: use that one.
    if (error instanceof Deno.errors.AlreadyExists) return await readKeyFile(path);
    throw error;
  }
}

/** How long a reader waits for a key file that another instance is still writing. */
const KEY_FILE_WRITE_WAIT_MS = 2_000;

/**
 * Reads a key file whole: one that another instance has just created may not hold all its bytes yet (the
 * create and the write are two steps, and the permission set grants no temporary file to rename), so a PEM
 * without its END line is read again for a moment. A file that stays incomplete is reported as not a key.
 */
async function readKeyFile(path: string): Promise<string> {
  const deadline = Date.now() + KEY_FILE_WRITE_WAIT_MS;
  for (;;) {
    const text = await Deno.readTextFile(path);
    if (/-----END [A-Z ]+-----/.test(text) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Every chain's head: its newest manifest's SHA-256 and where it ends, read from the sink, or as the pass left
 * it (`known`). Chains are read side by side.
 */
async function chainHeads(
  sink: Sink,
  prefix: string,
  known = new Map<string, Uint8Array>(),
): Promise<ChainHead[]> {
  const heads = await mapConcurrent(
    await listChains(sink, prefix),
    requestLimits.concurrency,
    async (chain) => {
      const name = known.has(chain) ? undefined : await lastManifestBefore(sink, chain, Infinity);
      const bytes = known.get(chain) ?? (name ? await sink.read(name) : undefined);
      const manifest = bytes && parseManifest(bytes);
      return manifest ? { chain, head: await sha256Hex(bytes), frontier: manifest.end } : undefined;
    },
  );
  return heads.filter((head) => head !== undefined);
}

/** The newest checkpoint, as stored and as read. */
interface CheckpointTip {
  bytes: Uint8Array;
  checkpoint: Checkpoint;
}

/**
 * The newest checkpoint: the newest dated one, then along the claims after it. A writer (`complete`) also
 * writes the dated copy of each checkpoint on the way that a crash left with its claim alone.
 */
async function checkpointTip(
  sink: Sink,
  prefix: string,
  complete: boolean,
): Promise<CheckpointTip | undefined> {
  const name = await newestRecordBefore(sink, `${prefix}/_checkpoints`, Infinity, CHECKPOINT_SUFFIX);
  let bytes = name ? await sink.read(name) : await sink.read(checkpointClaimName(prefix, null));
  for (let checkpoint = bytes && parseCheckpoint(bytes); bytes && checkpoint;) {
    // Every checkpoint on the way has its dated copy, the first one found by its claim included.
    if (complete) await sink.createExclusive(checkpointName(prefix, Date.parse(checkpoint.time)), bytes);
    const next = await sink.read(checkpointClaimName(prefix, await sha256Hex(bytes)));
    const successor = next && parseCheckpoint(next);
    if (!successor) return { bytes, checkpoint };
    [bytes, checkpoint] = [next, successor];
  }
  if (name || bytes) throw new ArchiveError("ARCHIVE", "the newest checkpoint is not readable: run verify");
  return undefined;
}

/**
 * The heads with what the pass reconciled: the reconciled time carried forward from the checkpoint before (the
 * later of the two), and the amendments of the windows it read. Pure.
 */
export function withReconciliation(
  heads: ChainHead[],
  before: Checkpoint | undefined,
  reconciliation: Reconciliation = new Map(),
): ChainHead[] {
  return heads.map((head) => {
    const carried = before?.chains.find((c) => c.chain === head.chain)?.reconciled;
    const found = reconciliation.get(head.chain);
    const until = Math.max(carried ? Date.parse(carried) : -Infinity, found?.until ?? -Infinity);
    return {
      ...head,
      ...(Number.isFinite(until) ? { reconciled: new Date(until).toISOString() } : {}),
      ...(found?.amendments.length ? { amendments: found.amendments } : {}),
    };
  });
}

/** Places a checkpoint writer may lose in a row (one per source of a `run`, and other instances, racing). */
const CHECKPOINT_ATTEMPTS = 64;

/**
 * Writes the checkpoint of a pass (also of one that found nothing new): every chain's head, signed, after the
 * newest checkpoint. The place after a checkpoint is claimed create-if-absent, so concurrent instances never
 * fork the sequence: one that loses goes on after the winner.
 */
async function writeCheckpoint(
  sink: Sink,
  prefix: string,
  key: CheckpointKey,
  mirror?: Sink,
  pass: PassProof = {},
): Promise<Checkpoint> {
  const keyRecord = encodeRecord(key.record);
  // The key, the heads and the tip are read and written at once, and while the pass reconciles: in a bucket
  // each is a walk of folder listings, and one after another they were most of a pass's tail (README).
  const [heads, firstTip] = await Promise.all([
    chainHeads(sink, prefix, pass.heads),
    pass.tip ?? checkpointTip(sink, prefix, true),
    sink.createExclusive(checkpointKeyName(prefix, key.keyId), keyRecord),
    mirror?.createExclusive(checkpointKeyName(prefix, key.keyId), keyRecord),
  ]);
  const reconciled = await pass.reconciliation;
  // A lost place means another writer made progress, so this ends; the bound only guards against a bug.
  for (let attempt = 1; attempt <= CHECKPOINT_ATTEMPTS; attempt++) {
    const tip = attempt === 1 ? firstTip : await checkpointTip(sink, prefix, true);
    // Strictly later than the one it follows, so dated names never collide and sort as the sequence does.
    const time = Math.max(Date.now(), tip ? Date.parse(tip.checkpoint.time) + 1 : 0);
    const unsigned: Checkpoint = {
      format: CHECKPOINT_FORMAT,
      sequence: (tip?.checkpoint.sequence ?? 0) + 1,
      previous: tip ? await sha256Hex(tip.bytes) : null,
      time: new Date(time).toISOString(),
      version: VERSION,
      keyId: key.keyId,
      chains: withReconciliation(heads, tip?.checkpoint, reconciled),
    };
    const signature = await key.sign(signedBytes(unsigned));
    const bytes = encodeRecord({ ...unsigned, signature: encodeBase64(signature) });
    if (await sink.createExclusive(checkpointClaimName(prefix, unsigned.previous), bytes)) {
      await sink.createExclusive(checkpointName(prefix, time), bytes);
      // The mirror keeps the evidence out of reach of whoever can write the archive.
      await mirror?.createExclusive(checkpointName(prefix, time), bytes);
      return parseCheckpoint(bytes)!;
    }
  }
  throw new ArchiveError(
    "ARCHIVE",
    `checkpoint: other writers took ${CHECKPOINT_ATTEMPTS} places in a row; the next pass writes it`,
  );
}

/**
 * The keys verify trusts, Ed25519 or RSA: the auditor's own (`--public-key`, each PEM block of each file: one per
 * key the archive was signed with over time), else every key published beside the checkpoints.
 */
async function checkpointKeys(
  sink: Sink,
  prefix: string,
  publicKeyPems: readonly string[] = [],
): Promise<Map<string, CryptoKey>> {
  const keys = new Map<string, CryptoKey>();
  const add = async (spki: Uint8Array, where: string, code: ErrorCode) => {
    const key = await importCheckpointPublicKey(spki);
    if (!key) throw new ArchiveError(code, `${where} is not an Ed25519 or RSA public key (SPKI)`);
    keys.set(await keyIdOf(spki), key);
  };
  for (const pem of publicKeyPems) {
    const blocks = [...pem.matchAll(/-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/g)];
    const where = "a --public-key file";
    if (!blocks.length) {
      throw new ArchiveError("USAGE", `${where} holds no PEM public key (BEGIN PUBLIC KEY)`);
    }
    for (const block of blocks) await add(decodeBase64(block[1].replace(/\s+/g, "")), where, "USAGE");
  }
  if (publicKeyPems.length) return keys;
  for (const name of await sink.listChildren(`${prefix}/_checkpoints/keys`)) {
    const record = JSON.parse(new TextDecoder().decode((await sink.read(name))!)) as CheckpointKeyRecord;
    await add(decodeBase64(record.publicKey), name, "ARCHIVE");
  }
  return keys;
}

/** The public key as PEM (SPKI), as `verify --public-key` takes it: what an auditor is given. */
export function publicKeyPem(record: CheckpointKeyRecord): string {
  return `-----BEGIN PUBLIC KEY-----\n${
    record.publicKey.match(/.{1,64}/g)!.join("\n")
  }\n-----END PUBLIC KEY-----\n`;
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Commands: once, run, backfill, status, verify, export, policies — over the configured sources and sink.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

/** The OCI SDK packages the configuration uses (none: no OCI session at all). */
export function sdkPackages(config: Config, withSources: boolean): SdkPackage[] {
  const sources = withSources ? config.sources : [];
  const uses: [SdkPackage, boolean][] = [
    [
      "objectstorage",
      Boolean(config.oci.bucket) || Boolean(config.checkpointMirror?.startsWith(MIRROR_BUCKET)),
    ],
    ["loggingingestion", withSources && Boolean(config.oci.logId)],
    [
      "keymanagement",
      (withSources && Boolean(config.checkpointSigningKey)) || sources.some((s) => s.signingKeyId),
    ],
    ["secrets", sources.some((s) => s.keySecretId)],
    ["audit", sources.some((s) => s.source === "oci-audit")],
    ["identity", sources.some((s) => s.source === "oci-audit")],
  ];
  return uses.filter(([, used]) => used).map(([name]) => name);
}

/** The bucket when OCI_BUCKET is set (its protection logged), else the directory. */
const MIRROR_BUCKET = "oci://";

/** CHECKPOINT_MIRROR as a sink: a directory, or a bucket of the same namespace (`oci://<bucket>`). */
async function openMirror(config: Config, session: OciSession | undefined): Promise<Sink | undefined> {
  const mirror = config.checkpointMirror;
  if (mirror === undefined) return undefined;
  if (!mirror.startsWith(MIRROR_BUCKET)) return new DirectorySink(mirror);
  return await ObjectStorageSink.open(session!, mirror.slice(MIRROR_BUCKET.length), config.oci.namespace);
}

async function openSink(config: Config, session: OciSession | undefined): Promise<Sink> {
  if (!config.oci.bucket) return new DirectorySink(config.archiveDir);
  return await ObjectStorageSink.open(session!, config.oci.bucket, config.oci.namespace);
}

/** Logs a bucket's retention rules while the command runs (for reporting only: the pass never waits for them). */
async function logRetention(sink: Sink) {
  if (sink instanceof ObjectStorageSink) {
    log("info", "archive sink", { sink: sink.description, retention: await sink.retention() });
  }
}

/** Builds the configured sources, loading keys; fails before any archive write when a key is unusable. */
async function openSources(config: Config, session: OciSession | undefined): Promise<Source[]> {
  return await Promise.all(
    config.sources.map(async (s) =>
      s.source === "oci-audit"
        ? new OciAuditSource(s, session!, config)
        : new IdcsSource(s, await loadSigner(s, session), config)
    ),
  );
}

const newBudget = (config: Config, stop?: AbortSignal): PassBudget => ({
  stop,
  eventsLeft: config.maxEvents ?? Infinity,
  deadline: config.deadlineMs === undefined ? Infinity : Date.now() + config.deadlineMs,
});

/** Runs `task` for every source concurrently; throws one error naming every source that failed. */
async function forEachSource<T>(sources: Source[], task: (source: Source) => Promise<T>): Promise<T[]> {
  const results = await Promise.allSettled(sources.map(task));
  const failures = results.flatMap((result, i) =>
    result.status === "fulfilled"
      ? []
      : [`${sources[i].name} ${sources[i].scope}: ${(result.reason as Error).message}`]
  );
  if (failures.length === 1) throw results.find((r) => r.status === "rejected")!.reason;
  if (failures.length) {
    throw new ArchiveError("HTTP", `${failures.length} sources failed:\n  - ${failures.join("\n  - ")}`);
  }
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/**
 * What a pass read of its chains, so that its reconcile and its checkpoint need not read it again: each
 * chain's main segment, and its newest manifest (its head) as the pass left it. A concurrent instance may have
 * committed after it: a checkpoint then records an earlier head, which verify holds to all the same.
 */
interface PassChains {
  mains: Map<string, Segment>;
  heads: Map<string, Uint8Array>;
}

/** One archive pass over every source: the main segment of each chain, from its frontier. */
export async function archivePass(
  config: Config,
  sources: Source[],
  sink: Sink,
  copy?: LoggingCopy,
  stop?: AbortSignal,
  known: PassChains = { mains: new Map(), heads: new Map() },
): Promise<SourceReport[]> {
  const budget = newBudget(config, stop);
  return await forEachSource(sources, async (source) => {
    const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
    // Credentials and permissions are proven before anything is written (invariant 5): a pass with a bad key
    // completes no window and copies nothing.
    const [, segments] = await Promise.all([source.check(), readSegments(sink, chain)]);
    let main = segments.find((s) => s.end === Infinity);
    main ??= await claimSegment(sink, chain, source, floorTo(source.since, source.kind.granularityMs));
    known.mains.set(chain, main);
    // Windows whose copy failed (or never ran) on an earlier pass go first.
    await copy?.catchUp(sink, chain, (await readSegmentState(sink, chain, main)).frontier);
    return await archiveSegment(source, sink, config, budget, main, {
      minIntervalMs: config.minIntervalMs,
      copy,
      known,
    });
  });
}

/**
 * Signs one checkpoint of every chain's head, recording what the pass reconciled (awaited last), from what the
 * pass read already: the newest checkpoint, and the heads it left.
 */
type CheckpointWriter = (pass?: PassProof) => Promise<Checkpoint>;

interface PassProof {
  reconciliation?: Promise<Reconciliation | undefined>;
  tip?: Promise<CheckpointTip | undefined>;
  heads?: Map<string, Uint8Array>;
}

/**
 * One pass of `once` and of `run`: archive every due window, reconcile the windows committed RECONCILE_AFTER
 * ago (each once), and sign the checkpoint that records both. A failed reconcile still gets its checkpoint
 * (the archive pass's windows are proven) and fails the pass after it; its windows are read again next pass.
 */
async function provenPass(
  config: Config,
  sources: Source[],
  sink: Sink,
  copy: LoggingCopy | undefined,
  checkpoint: CheckpointWriter,
  stop?: AbortSignal,
): Promise<{ reports: SourceReport[]; checkpoint: Checkpoint }> {
  const started = Date.now();
  const known: PassChains = { mains: new Map(), heads: new Map() };
  const reports = await archivePass(config, sources, sink, copy, stop, known);
  let failure: unknown;
  // Read once for both the reconcile and the checkpoint, which then run side by side.
  const tip = checkpointTip(sink, config.archivePrefix, true);
  tip.catch(() => {});
  const reconciliation = reconcileSources(config, sources, sink, {
    committedBefore: Date.now() - config.reconcileAfterMs,
    stop,
    deadline: started + (config.deadlineMs ?? Infinity),
    known: { tip, mains: known.mains },
  }).then((result) => result.reconciliation, (error) => void (failure = error));
  const signed = await checkpoint({ reconciliation, tip, heads: known.heads });
  metrics.set("audit_archiver_checkpoint_timestamp_seconds", {}, Date.parse(signed.time) / 1000);
  metrics.set("audit_archiver_checkpoint_sequence", {}, signed.sequence);
  if (failure) throw failure;
  return { reports, checkpoint: signed };
}

/**
 * Archives [from, to) before what the chain holds, as a backfill segment that ends where the archive begins;
 * also completes backfill segments an earlier run left unfinished. On an empty archive it starts the chain at
 * `from` and archives up to `to`.
 */
async function backfill(
  config: Config,
  sources: Source[],
  sink: Sink,
  range: { from: number; to?: number },
  stop?: AbortSignal,
) {
  const { from, to } = range;
  const budget = newBudget(config, stop);
  const progress = new BackfillProgress(Deno.stderr.isTerminal());
  return await forEachSource(sources, async (source) => {
    const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
    await source.check();
    const start = floorTo(from, source.kind.granularityMs);
    let segments = await readSegments(sink, chain);
    // An empty archive starts at --from; a `once` racing us may have started it at SINCE instead, and then
    // the stretch before it is backfilled like any other.
    const main = segments.length ? undefined : await claimSegment(sink, chain, source, start);
    if (main?.start === start) {
      const segment = to === undefined ? main : { ...main, end: to };
      return [await archiveSegment(source, sink, config, budget, segment, { progress })];
    }
    if (main) segments = await readSegments(sink, chain);
    const earliest = segments[0].start;
    if (to !== undefined && to < earliest) {
      throw new ArchiveError(
        "USAGE",
        `--to ${new Date(to).toISOString()} would leave a gap before the archive's start ${
          new Date(earliest).toISOString()
        }: leave --to out, the backfill ends where the archive begins`,
      );
    }
    if (from < earliest) {
      await claimSegment(sink, chain, source, floorTo(from, source.kind.granularityMs), earliest);
      segments = await readSegments(sink, chain);
    }
    const reports = [];
    for (const segment of segments.filter((s) => s.end !== Infinity)) {
      reports.push(await archiveSegment(source, sink, config, budget, segment, { progress }));
    }
    return reports;
  }).finally(() => progress.end());
}

/**
 * Backfill progress: on a terminal, one line redrawn after each window (events, windows, rate, how far through
 * the stretch, and the time left at this rate); elsewhere the JSON log of each window says it all.
 */
class BackfillProgress {
  readonly #started = Date.now();
  #events = 0;
  #windows = 0;
  constructor(readonly terminal: boolean) {}

  window(segment: Segment, window: Window, events: number) {
    this.#events += events;
    this.#windows++;
    if (!this.terminal) return;
    const end = segment.end === Infinity ? Date.now() : segment.end;
    const fraction = Math.min(1, (window.end - segment.start) / Math.max(1, end - segment.start));
    const line = progressLine({
      events: this.#events,
      windows: this.#windows,
      elapsedMs: Date.now() - this.#started,
      fraction,
    });
    Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[2K${line}`));
  }

  end() {
    if (this.terminal && this.#windows) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  }
}

/** `12,345 events, 17 windows, 2,100 events/s, 42% — about 3 min left`. Pure. */
export function progressLine(
  p: { events: number; windows: number; elapsedMs: number; fraction: number },
): string {
  const rate = p.events / Math.max(p.elapsedMs / 1000, 0.001);
  const leftMs = p.fraction > 0 ? p.elapsedMs * (1 - p.fraction) / p.fraction : Infinity;
  const left = !Number.isFinite(leftMs)
    ? "time left unknown"
    : leftMs < 60_000
    ? `about ${Math.ceil(leftMs / 1000)} s left`
    : leftMs < 2 * 3_600_000
    ? `about ${Math.round(leftMs / 60_000)} min left`
    : `about ${Math.round(leftMs / 3_600_000)} h left`;
  const number = (n: number) => Math.round(n).toLocaleString("en-US");
  return `${number(p.events)} events, ${number(p.windows)} windows, ${number(rate)} events/s, ${
    Math.floor(p.fraction * 100)
  }% — ${left}`;
}

/** The archive chains present in the sink: `{prefix}/{source}/{scope}` folders. */
async function listChains(sink: Sink, prefix: string): Promise<string[]> {
  // `_checkpoints` (and anything else not named like a source) holds no chain.
  const sources = (await sink.listChildren(prefix)).filter((name) =>
    name.slice(name.lastIndexOf("/") + 1) in SOURCE_KINDS
  );
  return (await Promise.all(sources.map((source) => sink.listChildren(source)))).flat();
}

/** A chain's stored records, split by kind. */
async function readChain(sink: Sink, chain: string) {
  const names = [
    ...await sink.listChildren(chain),
    ...(await listTree(sink, chain)).filter((n) => !GENESIS_PATTERN.test(n)),
  ];
  const unique = [...new Set(names)].filter((n) => !/\/\d{2,4}$/.test(n));
  const read = async (name: string): Promise<ChainLink> => ({ name, bytes: (await sink.read(name))! });
  return {
    geneses: await Promise.all(unique.filter((n) => GENESIS_PATTERN.test(n)).map(read)),
    manifests: await Promise.all(unique.filter((n) => n.endsWith(MANIFEST_SUFFIX)).map(read)),
    dataNames: unique.filter((n) => n.endsWith(DATA_SUFFIX)),
    /** Every name, for what sits beside the records (the Logging copy's markers). */
    names: unique,
  };
}

/** Whether a window's range (on its own clock) meets [from, to): what `verify --from --to` checks. */
const overlaps = (manifest: Manifest, from: number, to: number) =>
  Date.parse(manifest.start) < to && Date.parse(manifest.end) > from;

/**
 * Whether a window may hold events whose *event time* is in [from, to), from its first and last event time:
 * on processing time a window's events may have occurred well before it, so `export` cannot go by its range.
 */
const holdsEventsIn = (manifest: Manifest, from: number, to: number) =>
  manifest.events > 0 && Date.parse(manifest.firstEventTime!) < to &&
  Date.parse(manifest.lastEventTime!) >= from;

export interface VerifyReport {
  /** How many checkpoints were checked. */
  checkpoints?: number;
  chains: {
    chain: string;
    windows: number;
    /** Amendments: events the source showed for committed windows only later. */
    amendments: number;
    events: number;
    checkedObjects: number;
    from: string | null;
    to: string | null;
  }[];
  problems: string[];
}

/**
 * Proves the archive: for every chain, the tiling and hash chain over all manifests, and each data object in
 * [from, to) against its manifest. A missing data object is a problem too.
 */
export async function verifyArchive(
  sink: Sink,
  prefix: string,
  from = -Infinity,
  to = Infinity,
  proof: { publicKeyPems?: string[]; maxStalenessMs?: number; now?: number; mirror?: Sink } = {},
): Promise<VerifyReport> {
  const report: VerifyReport = { chains: [], problems: [] };
  const chains = await listChains(sink, prefix);
  const manifestHashes = new Map<string, Set<string>>();
  const amendmentsByChain = new Map<string, { name: string; sha256: string; windowEnd: number }[]>();
  // An empty answer must not read as "verified": a mistyped ARCHIVE_DIR would otherwise pass.
  if (!chains.length) report.problems.push(`no archive found under ${sink.description}, prefix ${prefix}`);
  for (const chain of chains) {
    const stored = await readChain(sink, chain);
    manifestHashes.set(chain, new Set(await Promise.all(stored.manifests.map((l) => sha256Hex(l.bytes)))));
    const { problems, windows, amendments } = await verifyChain({ chain, ...stored });
    amendmentsByChain.set(
      chain,
      await Promise.all(
        stored.manifests.filter((l) => parseAmendmentName(l.name)).map(async (l) => ({
          name: l.name,
          sha256: await sha256Hex(l.bytes),
          windowEnd: Date.parse(parseManifest(l.bytes)?.end ?? ""),
        })),
      ),
    );
    const present = new Set(stored.dataNames);
    let events = 0, checkedObjects = 0;
    // Each event in exactly one object: a window's amendments hold none of its own events, nor each other's.
    const idsByWindow = new Map<string, Set<string>>();
    for (const manifest of [...windows, ...amendments].filter((m) => overlaps(m, from, to))) {
      if (!present.has(manifest.object)) {
        problems.push(`${manifest.object} is missing (its manifest exists)`);
        continue;
      }
      const data = (await sink.read(manifest.object))!;
      const dataProblems = await verifyData(manifest, data);
      problems.push(...dataProblems);
      events += manifest.events;
      checkedObjects++;
      if (dataProblems.length || !amendments.some((a) => a.start === manifest.start)) continue;
      const seen = idsByWindow.get(manifest.start) ?? new Set();
      for (const id of await eventIds(manifest, data)) {
        if (seen.has(id)) {
          problems.push(`${manifest.object}: event ${id} is also in another object of its window`);
        }
        seen.add(id);
      }
      idsByWindow.set(manifest.start, seen);
    }
    report.problems.push(...problems);
    report.chains.push({
      chain,
      windows: windows.length,
      amendments: amendments.length,
      events,
      checkedObjects,
      from: windows[0]?.start ?? null,
      to: windows.at(-1)?.end ?? null,
    });
  }
  const checkpointNames = async (from: Sink) =>
    (await listTree(from, `${prefix}/_checkpoints`)).filter((n) => n.endsWith(CHECKPOINT_SUFFIX));
  // With a mirror, its checkpoints are the evidence; any of them the archive lost was removed from it.
  const evidence = proof.mirror ?? sink;
  const names = await checkpointNames(evidence);
  if (proof.mirror) {
    const archived = new Set(await checkpointNames(sink));
    for (const name of names.filter((n) => !archived.has(n))) {
      report.problems.push(`${name} is in the checkpoint mirror but not in the archive: it was removed`);
    }
  }
  // Checkpoints without chains are evidence too: the chains they name were removed.
  if (chains.length || names.length) {
    report.checkpoints = names.length;
    report.problems.push(
      ...await verifyCheckpoints({
        checkpoints: await Promise.all(
          names.map(async (name) => ({ name, bytes: (await evidence.read(name))! })),
        ),
        keys: await checkpointKeys(evidence, prefix, proof.publicKeyPems),
        manifestHashes,
        amendments: amendmentsByChain,
        now: proof.now ?? Date.now(),
        maxStalenessMs: proof.maxStalenessMs ?? DEFAULT_MAX_STALENESS_MS,
      }),
    );
  }
  return report;
}

/** `verify --max-staleness` when unset: twice the default schedule's interval (15 min), plus 15 min. */
const DEFAULT_MAX_STALENESS_MS = 45 * 60_000;

/** Writes the archived events with times in [from, to) as NDJSON, each object checked against its manifest first. */
async function exportEvents(
  sink: Sink,
  prefix: string,
  from: number,
  to: number,
  out: WritableStreamDefaultWriter<Uint8Array>,
) {
  let count = 0;
  const encoder = new TextEncoder();
  for (const chain of await listChains(sink, prefix)) {
    const stored = await readChain(sink, chain);
    const { problems, windows, amendments } = await verifyChain({ chain, ...stored });
    if (problems.length) {
      throw new ArchiveError("VERIFY", `${chain} does not verify: ${problems[0]} (run verify)`);
    }
    // Each window is followed by its amendments, in order.
    const objects = [...windows, ...amendments].sort((a, b) =>
      Date.parse(a.start) - Date.parse(b.start) || (a.amendment ?? 0) - (b.amendment ?? 0)
    );
    // Every window that meets the range on either clock is checked; only events of the range are handed out.
    for (const manifest of objects.filter((m) => holdsEventsIn(m, from, to) || overlaps(m, from, to))) {
      const data = await sink.read(manifest.object);
      const dataProblems = data ? await verifyData(manifest, data) : [`${manifest.object} is missing`];
      if (dataProblems.length) {
        throw new ArchiveError("VERIFY", `${dataProblems[0]}: not exported (run verify)`);
      }
      const lines = new TextDecoder().decode(await gunzip(data!)).split("\n").filter(Boolean);
      const selected = lines.filter((line) => {
        const time = eventTime(kindOf(manifest), JSON.parse(line))!;
        return time >= from && time < to;
      });
      if (selected.length) await out.write(encoder.encode(selected.join("\n") + "\n"));
      count += selected.length;
    }
  }
  return count;
}

/**
 * The source's retention in days, and whether it is only assumed: OCI Audit says its tenancy's where the
 * policy allows GetConfiguration; otherwise (and for identity domains) the shortest the source may keep.
 */
async function sourceRetention(source: Source | undefined, name: SourceName) {
  const assumed = { days: SOURCE_KINDS[name].assumedRetentionDays, assumed: true };
  if (!(source instanceof OciAuditSource)) return assumed;
  try {
    const days = await source.retentionDays();
    return days === undefined ? assumed : { days, assumed: false };
  } catch (error) {
    log("warn", "OCI Audit retention could not be read", { error: (error as Error).message });
    return assumed;
  }
}

/** What `status` knows of one chain: its records, where it stands, and its source's retention. */
interface ChainFacts {
  source: SourceName;
  manifests: Manifest[];
  segments: Segment[];
  dataNames: Set<string>;
  names: string[];
  manifestNames: string[];
  frontier: string | null;
  lagMs: number | null;
  retention: { days: number; assumed: boolean };
  logId?: string;
  now: number;
}

/** The checks `status` makes of each chain, each a list of warnings (empty when all is well). */
const STATUS_CHECKS: ((facts: ChainFacts) => string[])[] = [
  function assumedRetention({ source, retention }) {
    return source === "oci-audit" && retention.assumed
      ? [
        `OCI Audit retention assumed to be ${retention.days} days, the shortest a tenancy can set: the tenancy's own (GetConfiguration) could not be read (see \`policies\`)`,
      ]
      : [];
  },
  function nearRetention({ frontier, lagMs, retention }) {
    if (lagMs === null || lagMs <= retention.days * DAY_MS * 0.8) return [];
    return [
      `unarchived events since ${frontier} are ${
        Math.round(lagMs / DAY_MS)
      } days old, near the source's ${retention.days}-day retention: run a pass now or they will be lost`,
    ];
  },
  function retiredFeed({ source, manifests, now }) {
    const week = manifests.filter((m) => now - Date.parse(m.end) < 7 * DAY_MS);
    return source === "idcs" && week.length && week.every((m) => m.events === 0)
      ? [
        "no events archived in the last 7 days: Oracle stopped feeding identity-domain events to AuditEvents (December 2024); they are in OCI Audit",
      ]
      : [];
  },
  function missingData({ manifests, dataNames }) {
    const missing = manifests.filter((m) => !dataNames.has(m.object)).map((m) => m.object);
    if (!missing.length) return [];
    return [
      `${missing.length} window(s) lack their data object (${missing.slice(0, 3).join(", ")}${
        missing.length > 3 ? ", …" : ""
      }): a pass completes those whose kept bytes exist; run verify`,
    ];
  },
  function loggingCopies({ logId, manifestNames, names }) {
    if (!logId) return [];
    const states = manifestNames.map((name) => logCopyState(name, names).kind);
    const unknown = states.filter((k) => k === "unknown").length;
    const failed = states.filter((k) => k === "failed" || k === "none").length;
    return [
      ...(unknown
        ? [
          `${unknown} window(s) have a Logging copy in an unknown state (a pass stopped while pushing, or a push's answer was lost): compare the log with the archive; they are not pushed again`,
        ]
        : []),
      ...(failed
        ? [
          `${failed} window(s) are not copied to Logging yet: each pass retries those of the last ${LOG_CATCH_UP_DAYS} days`,
        ]
        : []),
    ];
  },
  function incompleteBackfills({ segments, manifests }) {
    return segments
      .filter((g) => g.end !== Infinity && !manifests.some((m) => Date.parse(m.end) === g.end))
      .map((g) => {
        const [start, end] = [g.start, g.end].map((ms) => new Date(ms).toISOString());
        return `backfill [${start}, ${end}) is incomplete: run backfill again`;
      });
  },
];

/** Reads what status needs of one chain. */
async function chainFacts(sink: Sink, chain: string, config: Config, sources: Source[], now: number) {
  const stored = await readChain(sink, chain);
  const manifests = stored.manifests.map((l) => parseManifest(l.bytes)).filter((m) => m !== undefined);
  manifests.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const segments = stored.geneses.map((l) => parseSegment(l.name, l.bytes)).filter((g) => g !== undefined);
  const main = segments.find((g) => g.end === Infinity);
  const frontier = manifests.at(-1)?.end ?? (main ? new Date(main.start).toISOString() : null);
  const [source, scope] = chain.split("/").slice(-2) as [SourceName, string];
  const configured = sources.find((s) => s.name === source && s.scope === scope);
  return {
    source,
    manifests,
    segments,
    dataNames: new Set(stored.dataNames),
    names: stored.names,
    manifestNames: stored.manifests.map((l) => l.name),
    frontier,
    lagMs: frontier ? now - Date.parse(frontier) : null,
    retention: await sourceRetention(configured, source),
    logId: config.oci.logId,
    now,
  };
}

/** `status`: per chain, where it stands on both clocks, what it holds, and every warning its checks raise. */
async function archiveStatus(config: Config, sink: Sink, now: number, sources: Source[] = []) {
  const nextRun = nextCronTime(parseCron(config.schedule)!, now);
  const tip = await checkpointTip(sink, config.archivePrefix, false).catch(() => undefined);
  const chains = [];
  for (const chain of await listChains(sink, config.archivePrefix)) {
    const facts = await chainFacts(sink, chain, config, sources, now);
    const { manifests, lagMs, retention } = facts;
    const amendments = manifests.filter((m) => m.amendment);
    const lastEventTime = manifests.findLast((m) => m.lastEventTime)?.lastEventTime ?? null;
    chains.push({
      chain,
      basis: SOURCE_KINDS[facts.source]?.basis ?? null,
      frontier: facts.frontier,
      // On processing time (OCI Audit) the frontier and the newest event's own time are two clocks: both lags.
      lagSeconds: lagMs === null ? null : Math.round(lagMs / 1000),
      eventLagSeconds: lastEventTime === null ? null : Math.round((now - Date.parse(lastEventTime)) / 1000),
      objects: facts.dataNames.size,
      events: manifests.reduce((n, m) => n + m.events, 0),
      // Late events: what reconcile found in the source for committed windows, archived as amendments.
      amendments: amendments.length,
      lateEvents: amendments.reduce((n, m) => n + m.events, 0),
      reconciledUntil: tip?.checkpoint.chains.find((c) => c.chain === chain)?.reconciled ?? null,
      lastEventTime,
      retentionDays: retention.days,
      retentionAssumed: retention.assumed,
      warnings: STATUS_CHECKS.flatMap((check) => check(facts)),
    });
  }
  const protection = sink instanceof ObjectStorageSink
    ? await sink.retention()
    : "not WORM: a local directory; protect it with file permissions, or archive to a bucket with a retention rule";
  const checkpoint = tip
    ? {
      sequence: tip.checkpoint.sequence,
      time: tip.checkpoint.time,
      ageSeconds: Math.round((now - Date.parse(tip.checkpoint.time)) / 1000),
      keyId: tip.checkpoint.keyId,
    }
    : null;
  return { sink: sink.description, protection, nextRun: new Date(nextRun).toISOString(), checkpoint, chains };
}

/** Who the policies name, for each way the program authenticates to OCI. */
const POLICY_SUBJECTS: Record<OciAuthMode, { subject: string; setup: string }> = {
  instance_principal: {
    subject: "dynamic-group audit-archiver",
    setup:
      "dynamic group audit-archiver (the VM running the compiled binary), matching rule:\n  ALL {instance.id = '<instance OCID>'}",
  },
  resource_principal: {
    subject: "dynamic-group audit-archiver",
    setup:
      "dynamic group audit-archiver (OCI Container Instances), matching rule:\n  ALL {resource.type = 'computecontainerinstance', resource.compartment.id = '<compartment OCID>'}",
  },
  config: {
    subject: "group audit-archiver",
    setup: "group audit-archiver, holding the API-key user of OCI_CONFIG_FILE (no console password)",
  },
};

/**
 * The least-privilege IAM statements for this configuration, for each auth mode: only what the configured
 * bucket, secrets and keys need, each narrowed by a condition to that one resource. Pure.
 */
export function policyStatements(config: Config): string {
  const grants = policyGrants(config);
  const lines = [
    "# audit-archiver: least-privilege IAM for this configuration. Replace <compartment> with the compartment",
    "# of each resource. No statement grants overwrite or delete: the archive is written once.",
    "#",
    "# In each identity domain archived: give the confidential application the Audit Administrator app role.",
  ];
  if (!grants.length) {
    lines.push(
      "#",
      "# Nothing in OCI is used by this configuration (local directory, key file or client secret).",
    );
    return lines.join("\n") + "\n";
  }
  // GetConfiguration (the tenancy's Audit retention, for `status`) is listed by Oracle under the permission
  // AUDIT_CONFIGURATION, with no verb that grants only reading it: optional, so no write is granted by default.
  const optional = config.sources.some((s) => s.source === "oci-audit")
    ? "{AUDIT_CONFIGURATION} in tenancy"
    : "";
  for (const mode of ["instance_principal", "resource_principal", "config"] as const) {
    const { subject, setup } = POLICY_SUBJECTS[mode];
    lines.push("", `# OCI_AUTH=${mode}: ${setup.replaceAll("\n", "\n#")}`);
    lines.push(...grants.map((grant) => `Allow ${subject} to ${grant}`));
    if (optional) {
      lines.push(
        "# Optional: lets `status` read the tenancy's Audit retention (else 90 days is assumed); the permission",
        "# may also allow changing it:",
        `# Allow ${subject} to ${optional}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** What the configured bucket, secrets, keys, sources and log need, each narrowed to that one resource. */
function policyGrants(config: Config): string[] {
  const grants: string[] = [];
  const mirror = config.checkpointMirror?.startsWith(MIRROR_BUCKET)
    ? config.checkpointMirror.slice(MIRROR_BUCKET.length)
    : undefined;
  for (const bucket of [config.oci.bucket, mirror].filter((b) => b !== undefined)) {
    const inBucket = `target.bucket.name = '${bucket}'`;
    grants.push(
      `read buckets in compartment <compartment> where ${inBucket}`, // retention rules (BUCKET_READ)
      `inspect objects in compartment <compartment> where ${inBucket}`, // listing (OBJECT_INSPECT)
      `read objects in compartment <compartment> where ${inBucket}`, // manifests, verify, export (OBJECT_READ)
      `manage objects in compartment <compartment> where all {${inBucket}, request.permission = 'OBJECT_CREATE'}`,
    );
  }
  for (const source of config.sources) {
    if (source.keySecretId) {
      grants.push(
        `read secret-bundles in compartment <compartment> where target.secret.id = '${source.keySecretId}'`,
      );
    }
    if (source.signingKeyId) grants.push(useKeyGrant(source.signingKeyId));
    if (source.source === "oci-audit") {
      const where = source.compartmentId!.startsWith("ocid1.tenancy.")
        ? "tenancy"
        : `compartment id ${source.compartmentId}`;
      grants.push(`read audit-events in ${where}`);
      if (source.subtree) grants.push(`inspect compartments in ${where}`);
    }
  }
  if (config.checkpointSigningKey) grants.push(useKeyGrant(config.checkpointSigningKey.keyId));
  if (config.oci.logId) {
    // Logging's PutLogs is authorized by `use log-content`; the log's compartment is the narrowing available.
    grants.push("use log-content in compartment <compartment of the log>");
  }
  // One key may sign both the assertion and the checkpoints: one grant.
  return [...new Set(grants)];
}

/**
 * A Vault key's grant, narrowed to that key: `use keys` allows Sign, and "the use verb for the keys
 * resource-type includes the same permissions and API operations as the read verb" (GetKey, GetKeyVersion:
 * the public key), https://docs.oracle.com/en-us/iaas/Content/Identity/Reference/keypolicyreference.htm.
 */
const useKeyGrant = (keyId: string) =>
  `use keys in compartment <compartment> where target.key.id = '${keyId}'`;

/** Compares a presented bearer token with the configured one without leaking its length or prefix by timing. */
async function tokenMatches(presented: string, expected: string): Promise<boolean> {
  const digest = async (text: string) =>
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  const [a, b] = await Promise.all([digest(presented), digest(expected)]);
  return a.reduce((diff, byte, i) => diff | (byte ^ b[i]), 0) === 0;
}

/** How long shutdown waits for the current window before the process exits anyway (README: Deployment). */
const SHUTDOWN_GRACE_MS = 10_000;

/** Where one source stands as its pass runner saw it last: what /healthz reports. */
export interface SourceStanding {
  source: string;
  scope: string;
  /** The end of the newest committed window, once a pass has read it. */
  frontierMs?: number;
  /** The last finished pass: "ok", or the error code it failed with. */
  lastResult?: "ok" | ErrorCode;
  /** Whether the last pass committed windows and stopped only for its budget: a backlog being caught up. */
  catchingUp: boolean;
  /** Lag beyond which the source is unhealthy (MAX_LAG, or twice the schedule's interval plus SETTLE). */
  maxLagMs: number;
}

/**
 * Whether a source is healthy, and why not: its last pass failed, or its lag is past the bound while it is not
 * catching up a backlog. Before its first pass has finished it is healthy (starting). Pure.
 */
export function assessHealth(standing: SourceStanding, now: number): { ok: boolean; reason?: string } {
  if (standing.lastResult === undefined) return { ok: true, reason: "the first pass is running" };
  if (standing.lastResult !== "ok") {
    return { ok: false, reason: `the last pass failed (${standing.lastResult})` };
  }
  const lagMs = standing.frontierMs === undefined ? 0 : now - standing.frontierMs;
  if (lagMs > standing.maxLagMs && !standing.catchingUp) {
    return { ok: false, reason: `lag ${Math.round(lagMs / 1000)} s is over ${standing.maxLagMs / 1000} s` };
  }
  return standing.catchingUp ? { ok: true, reason: "catching up a backlog" } : { ok: true };
}

/** The longest gap between two consecutive runs of a schedule, over the runs of the week after `now`. Pure. */
export function scheduleInterval(schedule: CronSchedule, now: number): number {
  let at = nextCronTime(schedule, now);
  let longest = 0;
  for (let i = 0; i < 64 && (i === 0 || at < now + 7 * DAY_MS); i++) {
    const next = nextCronTime(schedule, at);
    longest = Math.max(longest, next - at);
    at = next;
  }
  return longest;
}

/**
 * The one owner of "is a pass of this source running", its current pass, and shutdown; one per source, so a
 * failing or slow source never stops or delays the others. Passes of a source never overlap. `stop()` waits
 * for the current pass (told to start no new window) at most SHUTDOWN_GRACE_MS: leaving then is clean,
 * because a window being read has written nothing, and one claimed but not finished is completed by the next
 * pass from its kept bytes.
 */
class PassRunner {
  #current?: Promise<void>;
  lastStartMs?: number;
  readonly standing: SourceStanding;
  readonly #labels: Record<string, string>;

  constructor(
    readonly source: Source,
    readonly run: (stop: AbortSignal) => Promise<SourceReport[]>,
    readonly stopping: AbortSignal,
    maxLagMs: number,
  ) {
    this.standing = { source: source.name, scope: source.scope, catchingUp: false, maxLagMs };
    this.#labels = { source: source.name, scope: source.scope };
  }

  get running(): boolean {
    return this.#current !== undefined;
  }

  /** Starts a pass unless one is running or shutdown began; says which. */
  start(trigger: string): "started" | "busy" {
    if (this.#current || this.stopping.aborted) {
      metrics.add("audit_archiver_passes_total", { ...this.#labels, result: "skipped" });
      log("warn", "pass skipped: the previous one is still running", { trigger, ...this.#labels });
      return "busy";
    }
    this.lastStartMs = Date.now();
    metrics.set("audit_archiver_pass_running", this.#labels, 1);
    this.#current = this.#pass(trigger).finally(() => {
      this.#current = undefined;
      metrics.set("audit_archiver_pass_running", this.#labels, 0);
    });
    return "started";
  }

  async #pass(trigger: string) {
    const started = Date.now();
    try {
      const reports = await this.run(this.stopping);
      this.#record(reports);
      log("info", "pass finished", { trigger, reports });
    } catch (error) {
      const code = error instanceof ArchiveError ? error.code : "HTTP";
      Object.assign(this.standing, { lastResult: code, catchingUp: false });
      metrics.add("audit_archiver_passes_total", { ...this.#labels, result: "failed" });
      metrics.set("audit_archiver_source_up", this.#labels, 0);
      log("error", "pass failed", { trigger, ...this.#labels, code, error: (error as Error).message });
    } finally {
      metrics.observePass(this.#labels, (Date.now() - started) / 1000);
    }
  }

  #record(reports: SourceReport[]) {
    const main = reports.at(-1)!;
    const frontierMs = Date.parse(main.frontier);
    const budgetStopped = main.stopped === "max-events" || main.stopped === "deadline";
    Object.assign(this.standing, {
      lastResult: "ok",
      frontierMs,
      catchingUp: budgetStopped && main.windows > 0,
    });
    metrics.add("audit_archiver_passes_total", { ...this.#labels, result: "ok" });
    metrics.set("audit_archiver_source_up", this.#labels, 1);
    metrics.set("audit_archiver_frontier_timestamp_seconds", this.#labels, frontierMs / 1000);
    metrics.set("audit_archiver_last_success_timestamp_seconds", this.#labels, Date.now() / 1000);
  }

  async stop(): Promise<void> {
    if (!this.#current) return;
    log("info", "shutting down: no new window starts; waiting for the current one", {
      ...this.#labels,
      graceMs: SHUTDOWN_GRACE_MS,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, SHUTDOWN_GRACE_MS));
    await Promise.race([this.#current, grace]);
    clearTimeout(timer);
  }
}

/** /healthz: 200 when every source is healthy, else 503; each source's standing and why, nothing secret. */
function healthResponse(runners: PassRunner[], now: number): Response {
  const sources = runners.map(({ standing }) => ({
    source: standing.source,
    scope: standing.scope,
    ...assessHealth(standing, now),
    lastResult: standing.lastResult ?? null,
    frontier: standing.frontierMs === undefined ? null : new Date(standing.frontierMs).toISOString(),
    lagSeconds: standing.frontierMs === undefined ? null : Math.round((now - standing.frontierMs) / 1000),
  }));
  const ok = sources.every((s) => s.ok);
  const signed = metrics.value("audit_archiver_checkpoint_timestamp_seconds", {});
  const checkpointAgeSeconds = signed === undefined ? null : Math.round(now / 1000 - signed);
  return Response.json({ ok, version: VERSION, checkpointAgeSeconds, sources }, { status: ok ? 200 : 503 });
}

/** /metrics: the counters, with every source's lag computed now. */
function metricsResponse(runners: PassRunner[], now: number): Response {
  for (const { standing } of runners) {
    if (standing.frontierMs === undefined) continue;
    const labels = { source: standing.source, scope: standing.scope };
    metrics.set("audit_archiver_lag_seconds", labels, Math.round((now - standing.frontierMs) / 1000));
  }
  return new Response(metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4" } });
}

/**
 * POST /trigger: 401 without the bearer token; 429 with Retry-After within MIN_INTERVAL of the last pass (the
 * original's defence against an endpoint polled too often); 409 while every source's pass runs; else 202.
 */
async function triggerResponse(req: Request, runners: PassRunner[], config: Config): Promise<Response> {
  // Without TRIGGER_TOKEN the server is for health checks and scraping only: no secret has to be configured.
  if (config.triggerToken === undefined) {
    return Response.json({ started: false, reason: "POST /trigger is off: set TRIGGER_TOKEN" }, {
      status: 403,
    });
  }
  const presented = bearerToken(req.headers.get("authorization"));
  if (presented === undefined || !await tokenMatches(presented, config.triggerToken)) {
    return new Response("unauthorized\n", { status: 401 });
  }
  const lastStart = Math.max(...runners.map((r) => r.lastStartMs ?? -Infinity));
  const waitMs = lastStart + config.minIntervalMs - Date.now();
  if (waitMs > 0) {
    return Response.json({ started: false, reason: "within MIN_INTERVAL of the last pass" }, {
      status: 429,
      headers: { "retry-after": String(Math.ceil(waitMs / 1000)) },
    });
  }
  const started = runners.filter((r) => !r.running).map((r) => r.start("trigger"));
  if (!started.length) return Response.json({ started: false, reason: "a pass is running" }, { status: 409 });
  return Response.json({ started: true }, { status: 202 });
}

/** The bearer token of an `Authorization: Bearer …` header (RFC 6750 §2.1), or undefined. */
const bearerToken = (header: string | null) => header?.startsWith("Bearer ") ? header.slice(7) : undefined;

/**
 * The daemon: for each source a pass at start and on SCHEDULE (never two of one source at once), and the
 * optional HTTP server.
 */
async function runDaemon(
  config: Config,
  sources: Source[],
  sink: Sink,
  copy: LoggingCopy | undefined,
  checkpoint: CheckpointWriter,
  signal: AbortSignal,
) {
  const interval = scheduleInterval(parseCron(config.schedule)!, Date.now());
  const runners = sources.map((source) =>
    new PassRunner(
      source,
      async (stop) => (await provenPass(config, [source], sink, copy, checkpoint, stop)).reports,
      signal,
      config.maxLagMs ?? 2 * interval + source.settleMs,
    )
  );
  const server = config.port === undefined ? undefined : serve(config.port, signal, (req) => {
    const path = new URL(req.url).pathname;
    if (req.method === "GET" && path === "/healthz") return healthResponse(runners, Date.now());
    if (req.method === "GET" && path === "/metrics") return metricsResponse(runners, Date.now());
    if (req.method === "POST" && path === "/trigger") return triggerResponse(req, runners, config);
    return new Response("not found\n", { status: 404 });
  });
  log("info", "daemon started", {
    schedule: config.schedule,
    sink: sink.description,
    sources: sources.length,
  });
  const startAll = (trigger: string) => runners.forEach((runner) => runner.start(trigger));
  const cron = Deno.cron("audit-archiver pass", config.schedule, { signal }, () => startAll("schedule"));
  startAll("start");
  await new Promise((resolve) =>
    signal.aborted ? resolve(undefined) : signal.addEventListener("abort", resolve, { once: true })
  );
  await Promise.all(runners.map((runner) => runner.stop()));
  await Promise.all([cron, server?.finished]);
}

/**
 * Listens on 0.0.0.0:PORT. The `default` permission set grants listening on 0.0.0.0:8080 only (a bare 0.0.0.0
 * would also let the program connect to services bound to loopback): another PORT needs its own grant.
 */
function serve(port: number, signal: AbortSignal, handler: Deno.ServeHandler): Deno.HttpServer {
  try {
    return Deno.serve({
      hostname: "0.0.0.0",
      port,
      signal,
      onListen: ({ hostname, port }) =>
        log("info", "serving /healthz, /metrics, POST /trigger", { hostname, port }),
    }, handler);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw new ArchiveError(
      "CONFIG",
      `PORT ${port} cannot be listened on: the permission set allows 0.0.0.0:8080 — use PORT=8080, or add --allow-net=0.0.0.0:${port}`,
    );
  }
}

// ───────────────────────────────────────────────────────────────────────────────────────────────────
// Entry: parse, validate, dispatch; map errors to exit codes 1 and 2.
// ───────────────────────────────────────────────────────────────────────────────────────────────────

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
      ...await unreadableFiles(settings, file.sources),
      ...await refusedByPermissions(settings, file.sources, needsSources !== true),
    ],
  });
}

/**
 * Settings the permission set refuses — a source host it does not grant, an archive folder outside it —
 * reported as bad settings (exit 2, nothing written) rather than as a failed pass.
 */
async function refusedByPermissions(
  global: RawSettings,
  entries: RawSettings[],
  readsOnly: boolean,
): Promise<string[]> {
  const problems: string[] = [];
  const granted = async (descriptor: Deno.PermissionDescriptor) =>
    (await Deno.permissions.query(descriptor)).state === "granted";
  if (!global.OCI_BUCKET) {
    const dir = global.ARCHIVE_DIR || "./archive";
    // status, verify and export only read the archive (an auditor's copy needs no write grant).
    if (
      (!readsOnly && !await granted({ name: "write", path: dir })) ||
      !await granted({ name: "read", path: dir })
    ) {
      problems.push(
        `ARCHIVE_DIR is outside what the permission set lets the program read and write (the default set grants ./archive): use ./archive, or add --allow-read=${dir} --allow-write=${dir}: current value is ${
          JSON.stringify(dir)
        }`,
      );
    }
  }
  const mirror = global.CHECKPOINT_MIRROR;
  if (
    mirror && !mirror.startsWith(MIRROR_BUCKET) && !readsOnly &&
    !await granted({ name: "write", path: mirror })
  ) {
    problems.push(
      `CHECKPOINT_MIRROR is a folder the permission set does not let the program write: add --allow-read=${mirror} --allow-write=${mirror}: current value is ${
        JSON.stringify(mirror)
      }`,
    );
  }
  for (const raw of [global, ...entries.map((entry) => ({ ...global, ...entry }))]) {
    const url = URL.parse(raw.IDCS_URL ?? "");
    if (!url || !/^https?:$/.test(url.protocol)) continue; // a malformed URL is validateConfig's to report
    const host = `${url.hostname}:${url.port || (url.protocol === "https:" ? 443 : 80)}`;
    if (!await granted({ name: "net", host })) {
      problems.push(
        `IDCS_URL's host ${host} is not one the permission set lets the program reach (the default set grants *.oraclecloud.com:443): use the identity domain's URL, or add --allow-net=${host}: current value is ${
          JSON.stringify(withoutCredentials(raw.IDCS_URL))
        }`,
      );
    }
  }
  return [...new Set(problems)];
}

/** Settings naming files that cannot be read, said with the other bad settings in the same message. */
async function unreadableFiles(global: RawSettings, entries: RawSettings[]): Promise<string[]> {
  const problems: string[] = [];
  const named = [global, ...entries.map((entry) => ({ ...global, ...entry }))]
    .flatMap((raw) => ["IDCS_PRIVATE_KEY_FILE", "OCI_CONFIG_FILE"].map((env) => [env, raw[env]] as const))
    .filter(([, path]) => path);
  for (
    const [env, path] of new Map(named.map(([env, path]) => [`${env}=${path}`, [env, path!] as const]))
      .values()
  ) {
    try {
      await Deno.stat(path);
    } catch (error) {
      const why = error instanceof Deno.errors.NotCapable
        ? "the Deno permission set does not allow reading it: keep keys under ./keys (OCI config under /etc/audit-archiver/.oci) or grant --allow-read for it"
        : error instanceof Deno.errors.NotFound
        ? "no such file"
        : (error as Error).message;
      problems.push(`${env} cannot be read (${why}): current value is ${JSON.stringify(path)}`);
    }
  }
  return problems;
}

/**
 * `--out`: written to a temporary file beside it and linked to its name only when the export is complete, so
 * the file appears whole or not at all; an existing file is never overwritten.
 */
async function createOutput(path: string) {
  const refuse = (why: string) => new ArchiveError("USAGE", `--out ${path} cannot be created: ${why}`);
  if (await Deno.lstat(path).then(() => true, () => false)) {
    throw refuse("it exists (export never overwrites): choose a new file");
  }
  const partial = `${path}.partial-${crypto.randomUUID()}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(partial, { write: true, createNew: true });
  } catch (error) {
    throw refuse((error as Error).message);
  }
  const discard = () => Deno.remove(partial).catch(() => {});
  return {
    file,
    discard,
    publish: async () => {
      try {
        await Deno.link(partial, path);
      } catch (error) {
        throw refuse(
          error instanceof Deno.errors.AlreadyExists
            ? "it appeared while exporting"
            : (error as Error).message,
        );
      } finally {
        await discard();
      }
    },
  };
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
      const checkpoint = await openCheckpoints(config, sink, session);
      const sources = await openSources(config, session);
      const pass = await provenPass(config, sources, sink, loggingCopy(config, session), checkpoint);
      log("info", "pass finished", { reports: pass.reports, checkpoint: pass.checkpoint.sequence });
      return 0;
    },
  },
  reconcile: {
    sources: true,
    run: async ({ config, sink, session, line, from, to }) => {
      const checkpoint = line.dryRun ? undefined : await openCheckpoints(config, sink, session);
      const sources = await openSources(config, session);
      // Without --from: every window the source still holds.
      const { results, reconciliation } = await untilSignal((stop) =>
        reconcileSources(config, sources, sink, { from: from ?? -Infinity, to, dryRun: line.dryRun, stop })
      );
      for (const result of results) console.log(JSON.stringify(result));
      await checkpoint?.({ reconciliation: Promise.resolve(reconciliation) });
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
      const checkpoint = await openCheckpoints(config, sink, session);
      const sources = await openSources(config, session);
      // SIGINT/SIGTERM stop it after the window in hand; run again, it resumes where it stopped.
      const reports = await untilSignal((stop) => backfill(config, sources, sink, { from: from!, to }, stop));
      await checkpoint();
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
      console.log(JSON.stringify(await archiveStatus(config, sink, now, sources), null, 2));
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
        publicKeyPems: await Promise.all((line.publicKeys ?? []).map(readPublicKey)),
        maxStalenessMs: parseStaleness(line.maxStaleness, config.schedule, now),
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
      let count;
      try {
        count = await exportEvents(sink, config.archivePrefix, from!, to!, writer);
      } finally {
        await writer.close().catch(() => {});
        if (count === undefined) await output?.discard();
      }
      await output?.publish();
      log("info", "exported", { events: count, out: line.out ?? "stdout" });
      return 0;
    },
  },
};

const loggingCopy = (config: Config, session?: OciSession) =>
  config.oci.logId ? new LoggingCopy(session!, config.oci.logId) : undefined;

/** `run`: the daemon, until SIGINT, SIGTERM or `signal`. */
async function runCommand({ config, sink, session, signal }: CommandContext): Promise<number> {
  const checkpoint = await openCheckpoints(config, sink, session);
  const sources = await openSources(config, session);
  await untilSignal(
    (stop) => runDaemon(config, sources, sink, loggingCopy(config, session), checkpoint, stop),
    signal,
  );
  return 0;
}

/**
 * The checkpoint writer of a command that archives: the key is loaded (or created) before anything is written,
 * and each call signs one checkpoint into the archive and the mirror, with the key as it is then (a Vault key
 * may have been rotated, a key file replaced).
 */
async function openCheckpoints(
  config: Config,
  sink: Sink,
  session?: OciSession,
): Promise<CheckpointWriter> {
  const vaultKey = config.checkpointSigningKey;
  const loadKey = () =>
    vaultKey ? loadVaultCheckpointKey(session!, vaultKey) : loadCheckpointKey(config.checkpointKeyFile);
  let loaded: CheckpointKey | undefined = await loadKey();
  const mirror = await openMirror(config, session);
  return async (pass) => {
    const key = loaded ?? await loadKey();
    loaded = undefined;
    return await writeCheckpoint(sink, config.archivePrefix, key, mirror, pass);
  };
}

/** `verify --public-key FILE` (once per key): the auditor's own copy of a checkpoint public key. */
async function readPublicKey(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new ArchiveError("USAGE", `--public-key ${path} cannot be read: ${(error as Error).message}`);
  }
}

/**
 * `verify --max-staleness`: how old the newest checkpoint may be. Default: twice the SCHEDULE interval plus
 * 15 minutes (45 min for the default schedule), so one missed pass is tolerated and two are not.
 */
function parseStaleness(text: string | undefined, schedule: string, now: number): number {
  if (text === undefined) return 2 * scheduleInterval(parseCron(schedule)!, now) + 15 * 60_000;
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
      console.log(helpText());
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
    logSettings.level = config.logLevel;
    logSettings.format = config.logFormat;
    retryPolicy.maxWaitMs = config.maxRetryWaitMs;
    requestLimits.concurrency = config.concurrency;
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
