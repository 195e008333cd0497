/**
 * The settings table: every setting's variable, flag, kind, default and help, once.
 *
 * @module
 */

export type SettingKind =
  | "string"
  | "url"
  | "duration"
  | "since"
  | "count"
  | "bytes"
  | "boolean"
  | "enum"
  | "secret"
  | "host"
  | "cron";

export interface Setting {
  /** Environment variable; the flag is its kebab-case form. */
  env: string;
  kind: SettingKind;
  /** Shown in help and docs/configuration.md; applied in one place (`readSettings`). */
  default?: string;
  values?: readonly string[];
  /** Upper bound for counts. */
  max?: number;
  /** Per-source setting: may differ between entries of a --config file's `sources`. */
  perSource?: boolean;
  /** Defaults that depend on the source (shown in help and docs/configuration.md as "2m for idcs, …"). */
  sourceDefaults?: Readonly<Record<SourceName, string>>;
  help: string;
}

/** Every setting, once: help text, the table of docs/configuration.md and validation are driven from here. */
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
    help: "client secret instead of a key (least preferred); environment or --config file only",
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
    default: "1m",
    help:
      "skip a pass when the frontier is newer than this; with `run`, POST /trigger answers 429 within this of the last pass, so a leaked TRIGGER_TOKEN cannot flood the archive with checkpoints (0s: no limit)",
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
  {
    env: "SCHEDULE",
    kind: "cron",
    default: "*/15 * * * *",
    help:
      "cron expression (UTC) for `run`, as Deno.cron reads it (weekdays are 1-7 for Sunday-Saturday, so prefer names: MON-FRI); given, also the cadence `once`, `reconcile` and `backfill` declare in their checkpoints (a timer runs them)",
  },
  { env: "PAGE_SIZE", kind: "count", default: "1000", max: 1000, help: "events per API page" },
  { env: "CONCURRENCY", kind: "count", default: "4", max: 64, help: "page requests in flight per source" },
  {
    env: "MAX_RESPONSE_BYTES",
    kind: "bytes",
    default: "64MiB",
    help:
      "largest response body read, of any request (pages, tokens, objects read back from a bucket), in bytes or KiB/MiB/GiB: a larger one fails its request without being read whole, and is not retried. Sized from Oracle's pages: AuditEvents pages hold at most 1000 events; ListEvents documents no page size, and a page of about 20,000 events (tens of MB at 2-3 KB an event) was reported (docs/oracle/oci-apis.md)",
  },
  {
    env: "PORT",
    kind: "count",
    max: 65535,
    help: "with `run`: serve /healthz and /metrics (and POST /trigger when TRIGGER_TOKEN is set)",
  },
  {
    env: "LISTEN",
    kind: "host",
    default: "0.0.0.0",
    help:
      "with `run` and PORT: the address to listen on (an IPv4 or IPv6 address, or a host name), e.g. 127.0.0.1 behind a local proxy",
  },
  {
    env: "TRIGGER_TOKEN",
    kind: "secret",
    help:
      "bearer token that POST /trigger requires (Authorization: Bearer …), at least 32 characters; environment or --config file only",
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
      "OCI CLI config file for OCI_AUTH=config, `~` meaning HOME (default: OCI_CLI_CONFIG_FILE, else ~/.oci/config, else /etc/audit-archiver/.oci/config); the files its profile names (key_file, security_token_file) must be readable under the permission set",
  },
  {
    env: "OCI_CLI_CONFIG_FILE",
    kind: "string",
    help: "the OCI CLI's own variable for its config file, used when OCI_CONFIG_FILE is unset",
  },
  {
    env: "OCI_PROFILE",
    kind: "string",
    help:
      "profile in the config file (default: OCI_CLI_PROFILE, else DEFAULT): API key (`pass_phrase` for an encrypted key) or session token (`oci session authenticate`)",
  },
  {
    env: "OCI_CLI_PROFILE",
    kind: "string",
    help: "the OCI CLI's own variable for its profile, used when OCI_PROFILE is unset",
  },
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
    env: "CHECKPOINT_PUBLIC_KEYS",
    kind: "string",
    help:
      "comma-separated PEM files of public keys the archiver trusted before (a rotated key file): writers build on and verify checks records they signed; without it verify trusts only keys the archive itself publishes",
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

export const PREFERENCE =
  "prefer a Vault signing key, then a Vault secret, then a key file, then a client secret";

/** One source's settings, validated. */
export type SourceName = "idcs" | "oci-audit";

/** Raw settings by env name, as strings, from one origin (file, env, flags). */
export type RawSettings = Record<string, string>;

export const flagOf = (env: string) => env.toLowerCase().replaceAll("_", "-");

/**
 * Whether a setting may be given as a flag: a secret may not, as every user of the host sees a command line
 * (`ps`, /proc/PID/cmdline); it comes from the environment or the --config file.
 */
export const hasFlag = (setting: Setting) => setting.kind !== "secret";

/** A setting's default as help and docs/configuration.md show it: "20s", or "2m for idcs, 15m for oci-audit". */
export function defaultText(setting: Setting): string | undefined {
  const bySource = Object.entries(setting.sourceDefaults ?? {}).map(([source, text]) =>
    `${text} for ${source}`
  );
  return setting.default ?? (bySource.length ? bySource.join(", ") : undefined);
}
