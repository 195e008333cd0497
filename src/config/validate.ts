/**
 * Validation of all settings into a frozen Config, every bad setting reported at once.
 *
 * @module
 */

import { PREFERENCE, type RawSettings, SETTINGS, type SourceName } from "./settings.ts";
import { SettingValues } from "./values.ts";
import { ArchiveError } from "../errors.ts";
import type { LogLevel } from "../log.ts";

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
  /** SCHEDULE was given, not defaulted: `once` then declares it as its cadence (a timer runs it). */
  readonly scheduleGiven: boolean;
  readonly pageSize: number;
  readonly concurrency: number;
  /** MAX_RESPONSE_BYTES: the largest response body read (invariant 12). */
  readonly maxResponseBytes: number;
  readonly port?: number;
  /** The address `run` listens on with PORT (LISTEN). */
  readonly listen: string;
  readonly triggerToken?: string;
  readonly checkpointKeyFile: string;
  /** A Vault key that signs the checkpoints instead of the key file. */
  readonly checkpointSigningKey?: PublishedVaultKey;
  readonly checkpointMirror?: string;
  /** Public key files the archiver trusts besides its own key (pinned; never read from the archive). */
  readonly checkpointPublicKeys: readonly string[];
  readonly logLevel: LogLevel;
  readonly logFormat: "json" | "text";
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
  return buildConfig(g, sources, options.stderrIsTerminal ?? false, Boolean(global.SCHEDULE));
}

/** The frozen Config of valid settings: every value typed, every default applied (by the settings table). */
function buildConfig(
  g: SettingValues,
  sources: SourceConfig[],
  stderrIsTerminal: boolean,
  scheduleGiven: boolean,
): Config {
  const endpoint = (service: string) => g.text(`OCI_${service}_ENDPOINT`);
  return Object.freeze({
    sources: Object.freeze(sources.map((s) => Object.freeze(s))),
    oci: Object.freeze({
      auth: g.text("OCI_AUTH") as OciConfig["auth"],
      // Ours first, then the OCI CLI's own variables (https://docs.oracle.com/en-us/iaas/Content/API/SDKDocs/clienvironmentvariables.htm).
      configFile: g.text("OCI_CONFIG_FILE") ?? g.text("OCI_CLI_CONFIG_FILE"),
      profile: g.text("OCI_PROFILE") ?? g.text("OCI_CLI_PROFILE") ?? "DEFAULT",
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
    scheduleGiven,
    pageSize: g.number("PAGE_SIZE")!,
    concurrency: g.number("CONCURRENCY")!,
    maxResponseBytes: g.number("MAX_RESPONSE_BYTES")!,
    port: g.number("PORT"),
    listen: g.text("LISTEN")!,
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
    checkpointPublicKeys: Object.freeze(
      (g.text("CHECKPOINT_PUBLIC_KEYS") ?? "").split(",").map((path) => path.trim()).filter(Boolean),
    ),
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

/**
 * The prefixes of the settings' variables that the permission sets grant by wildcard (deno.json "env": "OCI_*",
 * …): a variable with one of them may be a misspelled setting.
 */
export const SETTING_PREFIXES = ["IDCS_", "AUDIT_", "ARCHIVE_", "OCI_", "CHECKPOINT_"] as const;

/**
 * Variables with those prefixes that are not ours: the OCI CLI's (OCI_CLI_*), the resource principal's the
 * platform sets (OCI_RESOURCE_PRINCIPAL_*), and those the OCI SDK reads (oci-common 2.139.1: OCI_SDK_*,
 * OCI_REGION_METADATA, OCI_DEFAULT_REALM, OCI_DUAL_STACK_ENDPOINT_ENABLED, …).
 */
const FOREIGN_VARIABLES =
  /^OCI_(CLI_|RESOURCE_PRINCIPAL_|SDK_|REGION_METADATA$|DEFAULT_REALM$|DUAL_STACK_ENDPOINT_ENABLED$|DEVELOPER_TOOL_CONFIGURATION_FILE_PATH$|ALLOW_ONLY_DEVELOPER_TOOL_CONFIGURATION_REGIONS$|REALM_SPECIFIC_SERVICE_ENDPOINT_TEMPLATE_ENABLED$)/;

const NAME_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";

/** Every name one edit (a letter left out, added, changed, or two swapped) after `prefix` away from `name`. */
function oneEditAway(name: string, prefix: string): string[] {
  const names: string[] = [];
  for (let i = prefix.length; i <= name.length; i++) {
    const [head, tail] = [name.slice(0, i), name.slice(i)];
    if (tail) names.push(head + tail.slice(1));
    if (tail.length > 1) names.push(head + tail[1] + tail[0] + tail.slice(2));
    for (const c of NAME_CHARACTERS) {
      names.push(head + c + tail);
      if (tail) names.push(head + c + tail.slice(1));
    }
  }
  return names;
}

/**
 * Variables one edit away from a setting, with its prefix, that are set: "OCI_BUCKKET is not a setting — did
 * you mean OCI_BUCKET?". Without full env permission (Deno.env.toObject() needs it, and /proc/self/environ
 * needs --allow-all) the environment cannot be listed, so the names a typo makes are probed instead; a name
 * further from every setting is not found.
 */
export function misspelledVariables(): string[] {
  const known = new Set(SETTINGS.map((s) => s.env));
  const problems = new Map<string, string>();
  for (const { env } of SETTINGS) {
    const prefix = SETTING_PREFIXES.find((p) => env.startsWith(p));
    // A permission set that grants only exact names hides the rest (reading one would throw).
    if (!prefix || Deno.permissions.querySync({ name: "env", variable: `${prefix}_` }).state !== "granted") {
      continue;
    }
    for (const name of oneEditAway(env, prefix)) {
      if (known.has(name) || problems.has(name) || FOREIGN_VARIABLES.test(name)) continue;
      if (Deno.env.get(name) !== undefined) {
        problems.set(name, `${name} is not a setting — did you mean ${env}? (rename or unset it)`);
      }
    }
  }
  return [...problems.values()];
}

/** Settings from the environment: only the variables the table names (the permission set allows no others). */
export function readEnvironment(): RawSettings {
  const raw: RawSettings = {};
  for (const setting of SETTINGS) {
    const value = Deno.env.get(setting.env);
    if (value !== undefined) raw[setting.env] = value;
  }
  return raw;
}

/** Oracle Cloud settings shared by the OCI sink, the Vault-held keys and the OCI Audit source. */
export interface OciConfig {
  readonly auth: "auto" | OciAuthMode;
  /** OCI_CONFIG_FILE, else OCI_CLI_CONFIG_FILE, as given (`~` is expanded when the session opens). */
  readonly configFile?: string;
  readonly profile: string;
  readonly region?: string;
  readonly endpoints: Readonly<Partial<Record<OciService, string>>>;
  readonly bucket?: string;
  readonly namespace?: string;
  readonly logId?: string;
}

export type OciAuthMode = "config" | "instance_principal" | "resource_principal";

export type OciService =
  | "objectStorage"
  | "secrets"
  | "kms"
  | "audit"
  | "identity"
  | "logging"
  | "metadata"
  | "federation";

/** An OCI Vault (KMS) key and the vault's crypto endpoint, where its HSM signs. */
export interface VaultKey {
  readonly keyId: string;
  readonly cryptoEndpoint: string;
}

/** A Vault key whose public key is read too: on the vault's management endpoint. */
export interface PublishedVaultKey extends VaultKey {
  readonly managementEndpoint: string;
}

/** The name of the archive chain for a source: the identity domain's host (idcs-<hex>), made path-safe. */
export function sourceScope(config: SourceConfig): string {
  if (config.source === "oci-audit") return config.compartmentId!;
  const host = new URL(config.idcsUrl!).host;
  const label = host.split(".")[0];
  return (label.startsWith("idcs-") ? label : host).replace(/[^A-Za-z0-9.-]/g, "-");
}
