/**
 * Pure planning and configuration logic of main.ts: window planning and cutting, durations and times,
 * retry timing, settings validation, the --config file, the command line, cron schedules, the AuditEvents
 * filter and page checks, event order, and the help text. No network, no files.
 *
 * Run: `deno test -A tests/planning_test.ts`
 *
 * @module
 */

import assert from "node:assert/strict";
import { progressLine } from "../src/archive/progress.ts";
import { helpText, parseCommandLine } from "../src/config/cli.ts";
import { SETTINGS } from "../src/config/settings.ts";
import { parseConfigFile, validateConfig } from "../src/config/validate.ts";
import { nextCronTime, parseCron, scheduleInterval } from "../src/cron.ts";
import { ArchiveError } from "../src/errors.ts";
import { backoffDelay, classifyStatus, retryAfterMs } from "../src/http/retry.ts";
import { assessHealth } from "../src/ops/daemon.ts";
import { sdkPackages } from "../src/pass/open.ts";
import { auditEventsFilter, parseAuditEventsPage } from "../src/sources/idcs.ts";
import { parseAuditEvents } from "../src/sources/oci_audit.ts";
import { type ArchivedEvent, sortEvents } from "../src/sources/source.ts";
import { parseDuration, parseTime } from "../src/time.ts";
import { cutWindow, nextStride, planWindow } from "../src/window.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);

/** Runs `fn`, asserts it throws an ArchiveError with `code`, and returns that error. */
function archiveErrorOf(fn: () => unknown, code: string): ArchiveError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof ArchiveError, `expected an ArchiveError, got ${String(thrown)}`);
  assert.equal(thrown.code, code);
  return thrown;
}

// ─────────────────────────────────────────────────────────────── planWindow

Deno.test("planWindow ends exactly at the horizon when the granularity is 1 ms", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  const horizon = at("2026-11-27T10:07:30.517Z");
  assert.deepEqual(planWindow(frontier, horizon, 1), { start: frontier, end: horizon });
});

Deno.test("planWindow floors the end to the minute with a 60000 ms granularity", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  const horizon = at("2026-11-27T10:07:30.517Z");
  assert.deepEqual(planWindow(frontier, horizon, MINUTE), {
    start: frontier,
    end: at("2026-11-27T10:07:00.000Z"),
  });
});

Deno.test("planWindow never ends past the next UTC midnight after the frontier", () => {
  const frontier = at("2026-11-27T23:50:00.000Z");
  const horizon = at("2026-11-28T05:00:00.000Z");
  assert.deepEqual(planWindow(frontier, horizon, 1), {
    start: frontier,
    end: at("2026-11-28T00:00:00.000Z"),
  });
});

Deno.test("planWindow from a midnight frontier ends at the following midnight, not later", () => {
  const frontier = at("2026-11-27T00:00:00.000Z");
  const horizon = at("2026-11-30T12:00:00.000Z");
  assert.deepEqual(planWindow(frontier, horizon, MINUTE), {
    start: frontier,
    end: at("2026-11-28T00:00:00.000Z"),
  });
});

Deno.test("planWindow returns undefined when the horizon equals the frontier", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  assert.equal(planWindow(frontier, frontier, 1), undefined);
});

Deno.test("planWindow returns undefined when the horizon is before the frontier", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  assert.equal(planWindow(frontier, frontier - 1, 1), undefined);
});

Deno.test("planWindow returns undefined when the horizon floored to the granularity equals the frontier", () => {
  const frontier = at("2026-11-27T10:07:00.000Z");
  assert.equal(planWindow(frontier, at("2026-11-27T10:07:59.999Z"), MINUTE), undefined);
});

Deno.test("planWindow ends a stride after the frontier when the stride is shorter than the horizon", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  assert.deepEqual(planWindow(frontier, at("2026-11-27T20:00:00.000Z"), MINUTE, 90 * MINUTE), {
    start: frontier,
    end: at("2026-11-27T11:30:00.000Z"),
  });
});

Deno.test("planWindow keeps the horizon and midnight when the stride reaches past them", () => {
  const frontier = at("2026-11-27T22:00:00.000Z");
  assert.deepEqual(planWindow(frontier, at("2026-11-27T23:00:30.000Z"), MINUTE, 5 * HOUR), {
    start: frontier,
    end: at("2026-11-27T23:00:00.000Z"),
  });
  assert.deepEqual(planWindow(frontier, at("2026-11-28T05:00:00.000Z"), MINUTE, 5 * HOUR), {
    start: frontier,
    end: at("2026-11-28T00:00:00.000Z"),
  });
});

Deno.test("planWindow spans at least one granule however short the stride", () => {
  const frontier = at("2026-11-27T10:00:00.000Z");
  assert.deepEqual(planWindow(frontier, at("2026-11-27T20:00:00.000Z"), MINUTE, 1), {
    start: frontier,
    end: frontier + MINUTE,
  });
});

Deno.test("nextStride sizes the next window for 80% of the limit at the last window's density", () => {
  const window = { start: at("2026-11-27T10:00:00.000Z"), end: at("2026-11-27T10:10:00.000Z") };
  assert.equal(nextStride(window, 1000, 1000), 8 * MINUTE, "a full window: the next is shorter");
  assert.equal(nextStride(window, 100, 1000), 80 * MINUTE, "a sparse window: the next is longer");
  assert.equal(nextStride(window, 0, 1000), Infinity, "an empty window says nothing: no bound");
});

// ─────────────────────────────────────────────────────────────── cutWindow

const HOUR_WINDOW = { start: at("2026-11-27T10:00:00.000Z"), end: at("2026-11-27T11:00:00.000Z") };

Deno.test("cutWindow ends the window at cutAt, so events at cutAt fall in the next window", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, at("2026-11-27T10:20:00.123Z"), 1), {
    start: HOUR_WINDOW.start,
    end: at("2026-11-27T10:20:00.123Z"),
  });
});

Deno.test("cutWindow with a minute granularity floors the cut to the minute", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, at("2026-11-27T10:20:30.000Z"), MINUTE), {
    start: HOUR_WINDOW.start,
    end: at("2026-11-27T10:20:00.000Z"),
  });
});

Deno.test("cutWindow at the window start keeps exactly one millisecond (the whole tie group)", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, HOUR_WINDOW.start, 1), {
    start: HOUR_WINDOW.start,
    end: HOUR_WINDOW.start + 1,
  });
});

Deno.test("cutWindow at the window start keeps exactly one minute granule", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, at("2026-11-27T10:00:45.000Z"), MINUTE), {
    start: HOUR_WINDOW.start,
    end: at("2026-11-27T10:01:00.000Z"),
  });
});

Deno.test("cutWindow never extends past window.end when cutAt is beyond it", () => {
  assert.deepEqual(cutWindow(HOUR_WINDOW, at("2026-11-27T11:30:00.000Z"), 1), HOUR_WINDOW);
});

Deno.test({
  name: "cutWindow never extends past window.end when the window is shorter than one granule",
  // Regression: cutWindow({start: 10:00:30, end: 10:01:00}, cutAt 10:00:30, 60000) returns end 10:01:30, past
  // window.end; it should be 10:01:00 (start + granularity is not clamped to window.end). Latent: only a
  // source with granularity > 1 ms and a frontier off the granularity (SINCE with seconds) reaches it.

  fn: () => {
    const window = { start: at("2026-11-27T10:00:30.000Z"), end: at("2026-11-27T10:01:00.000Z") };
    assert.deepEqual(cutWindow(window, window.start, MINUTE), window);
  },
});

// ─────────────────────────────────────────────────────────────── parseDuration, parseTime

Deno.test("parseDuration reads ms, s, m, h and d", () => {
  assert.deepEqual(
    ["250ms", "90s", "15m", "24h", "14d", "0s", " 2m "].map(parseDuration),
    [250, 90_000, 15 * MINUTE, 24 * HOUR, 14 * DAY, 0, 2 * MINUTE],
  );
});

Deno.test("parseDuration rejects a missing unit, fractions, signs, spaces and unknown units", () => {
  assert.deepEqual(
    ["15", "1.5h", "-5m", "15 m", "15M", "1w", "", "m"].map(parseDuration),
    [undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined],
  );
});

Deno.test("parseTime accepts UTC times with Z, with and without seconds and milliseconds", () => {
  assert.deepEqual(
    ["2026-11-27T10:15:42.123Z", "2026-11-27T10:15:42Z", "2026-11-27T10:15Z", "2026-11-27T10:15:42.5Z"].map(
      parseTime,
    ),
    [
      Date.UTC(2026, 10, 27, 10, 15, 42, 123),
      Date.UTC(2026, 10, 27, 10, 15, 42),
      Date.UTC(2026, 10, 27, 10, 15),
      Date.UTC(2026, 10, 27, 10, 15, 42, 500),
    ],
  );
});

Deno.test("parseTime applies a numeric offset", () => {
  assert.equal(parseTime("2026-11-27T10:15:00+02:00"), Date.UTC(2026, 10, 27, 8, 15));
  assert.equal(parseTime("2026-11-27T10:15:00-05:30"), Date.UTC(2026, 10, 27, 15, 45));
});

Deno.test("parseTime reads a bare date as UTC midnight", () => {
  assert.equal(parseTime("2026-11-27"), Date.UTC(2026, 10, 27));
});

Deno.test("parseTime rejects a local time without a zone", () => {
  assert.equal(parseTime("2026-11-27T10:15:00"), undefined);
  assert.equal(parseTime("2026-11-27T10:15:00.000"), undefined);
});

Deno.test("parseTime rejects garbage and non-ISO forms", () => {
  assert.deepEqual(
    [
      "yesterday",
      "",
      "2026-11-27 10:15:00Z",
      "27/11/2026",
      "2026-11-27T10:15:00+0200",
      "2026-13-01T00:00:00Z",
    ]
      .map(parseTime),
    [undefined, undefined, undefined, undefined, undefined, undefined],
  );
});

Deno.test({
  name: "parseTime rejects a calendar date that does not exist",
  // Regression: parseTime("2026-02-30T00:00:00Z") returns 1772409600000 (2026-03-02T00:00:00Z): V8's Date.parse
  // rolls day 30 of February over. It should return undefined, like any other malformed time (a
  // mistyped --from/--to or SINCE silently moves by days).

  fn: () => {
    assert.equal(parseTime("2026-02-30T00:00:00Z"), undefined);
  },
});

// ─────────────────────────────────────────────────────────────── backoffDelay, retryAfterMs, classifyStatus

Deno.test("backoffDelay is 0 when the random draw is 0", () => {
  assert.deepEqual([1, 2, 5, 30].map((attempt) => backoffDelay(attempt, 0, 20_000)), [0, 0, 0, 0]);
});

Deno.test("backoffDelay doubles with each attempt from 1/100 of the longest wait", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, 0.5, 20_000)), [
    200,
    400,
    800,
    1600,
    3200,
  ]);
  assert.deepEqual([1, 2, 3].map((attempt) => backoffDelay(attempt, 0.5, 100)), [1, 2, 4]);
});

Deno.test("backoffDelay never reaches the longest wait however many attempts", () => {
  assert.equal(backoffDelay(7, 0.999999, 20_000), 19_999);
  assert.equal(backoffDelay(30, 0.999999, 20_000), 19_999);
  assert.equal(backoffDelay(1000, 0.999999, 20_000), 19_999);
  assert.equal(backoffDelay(1000, 0.999999, 100), 99);
});

const RETRY_NOW = Date.UTC(2026, 9, 21, 7, 27, 30);

Deno.test("retryAfterMs reads delta seconds", () => {
  assert.deepEqual(["5", "0", "1.5"].map((h) => retryAfterMs(h, RETRY_NOW)), [5000, 0, 1500]);
});

Deno.test("retryAfterMs reads an HTTP date relative to now", () => {
  assert.equal(retryAfterMs("Wed, 21 Oct 2026 07:28:00 GMT", RETRY_NOW), 30_000);
});

Deno.test("retryAfterMs reads long waits as sent (the retry loop caps them at MAX_RETRY_WAIT)", () => {
  assert.equal(retryAfterMs("120", RETRY_NOW), 120_000);
  assert.equal(retryAfterMs("Wed, 21 Oct 2026 09:00:00 GMT", RETRY_NOW), 5_550_000);
});

Deno.test("retryAfterMs turns negative seconds and past dates into 0", () => {
  assert.equal(retryAfterMs("-3", RETRY_NOW), 0);
  assert.equal(retryAfterMs("Wed, 21 Oct 2026 07:00:00 GMT", RETRY_NOW), 0);
});

Deno.test("retryAfterMs is undefined for a missing, empty or garbage header", () => {
  assert.deepEqual([null, "", "soon", "Someday"].map((h) => retryAfterMs(h, RETRY_NOW)), [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

Deno.test("classifyStatus retries 429 and 5xx with the Retry-After they carry", () => {
  const headers = new Headers({ "retry-after": "3" });
  assert.deepEqual(classifyStatus(429, headers, RETRY_NOW), {
    code: "HTTP",
    retriable: true,
    retryAfterMs: 3000,
  });
  assert.deepEqual(classifyStatus(503, headers, RETRY_NOW), {
    code: "HTTP",
    retriable: true,
    retryAfterMs: 3000,
  });
  assert.deepEqual(classifyStatus(500, undefined, RETRY_NOW), {
    code: "HTTP",
    retriable: true,
    retryAfterMs: undefined,
  });
});

Deno.test("classifyStatus gives 401, 403, 404 and 412 codes of their own, never retried", () => {
  assert.deepEqual(
    [401, 403, 404, 412, 400, 409].map((status) => classifyStatus(status, new Headers(), RETRY_NOW)),
    [
      { code: "AUTH", retriable: false },
      { code: "FORBIDDEN", retriable: false },
      { code: "NOT_FOUND", retriable: false },
      { code: "CONFLICT", retriable: false },
      { code: "HTTP", retriable: false },
      { code: "HTTP", retriable: false },
    ],
  );
});

// ─────────────────────────────────────────────────────────────── validateConfig

const NOW = Date.UTC(2026, 10, 27, 10, 15, 42, 123);
const DOMAIN = "https://idcs-0123456789abcdef.identity.oraclecloud.com";
const KEYED = {
  IDCS_URL: `${DOMAIN}/`,
  IDCS_CLIENT_ID: "client-1",
  IDCS_KEY_ID: "archiver-cert",
  IDCS_PRIVATE_KEY_FILE: "./keys/idcs.pem",
};
/** The OCI part of a Config when no OCI setting is given. */
const NO_OCI = {
  auth: "auto",
  configFile: undefined,
  profile: "DEFAULT",
  region: undefined,
  endpoints: {
    objectStorage: undefined,
    secrets: undefined,
    audit: undefined,
    identity: undefined,
    logging: undefined,
    metadata: undefined,
    federation: undefined,
  },
  bucket: undefined,
  namespace: undefined,
  logId: undefined,
};
const WITH_SECRET = { IDCS_URL: DOMAIN, IDCS_CLIENT_ID: "client-1", IDCS_CLIENT_SECRET: "client-secret-Zq9" };

const configMessage = (global: Record<string, string>, entries: Record<string, string>[] = []) =>
  archiveErrorOf(() => validateConfig(global, entries, NOW), "CONFIG").message;

Deno.test("validateConfig turns a good idcs key configuration into a Config with every default applied", () => {
  assert.deepEqual(validateConfig(KEYED, [], NOW), {
    sources: [{
      source: "idcs",
      idcsUrl: DOMAIN,
      clientId: "client-1",
      keyId: "archiver-cert",
      privateKeyFile: "./keys/idcs.pem",
      clientSecret: undefined,
      keySecretId: undefined,
      signingKeyId: undefined,
      signingKeyEndpoint: undefined,
      since: Date.UTC(2026, 9, 28),
      settleMs: 2 * MINUTE,
    }],
    oci: NO_OCI,
    archiveDir: "./archive",
    archivePrefix: "audit-archive",
    maxEvents: undefined,
    maxEventsPerObject: 20_000,
    deadlineMs: undefined,
    minIntervalMs: 0,
    maxRetryWaitMs: 20_000,
    maxLagMs: undefined,
    reconcileAfterMs: 24 * HOUR,
    schedule: "*/15 * * * *",
    pageSize: 1000,
    concurrency: 4,
    port: undefined,
    triggerToken: undefined,
    checkpointKeyFile: "./keys/checkpoint.pem",
    checkpointMirror: undefined,
    checkpointSigningKey: undefined,
    logLevel: "info",
    logFormat: "json",
  });
});

Deno.test("validateConfig returns a frozen Config, frozen sources list and frozen source entries", () => {
  const config = validateConfig(KEYED, [], NOW);
  assert.equal(Object.isFrozen(config), true);
  assert.equal(Object.isFrozen(config.sources), true);
  assert.equal(Object.isFrozen(config.sources[0]), true);
});

Deno.test("validateConfig reads every explicit setting", () => {
  const config = validateConfig(
    {
      ...WITH_SECRET,
      ARCHIVE_DIR: "/var/lib/audit",
      ARCHIVE_PREFIX: "/tenant-a/",
      SINCE: "2026-11-01T12:00:00Z",
      SETTLE: "90s",
      MAX_EVENTS: "100000",
      MAX_EVENTS_PER_OBJECT: "700",
      DEADLINE: "14m",
      MIN_INTERVAL: "1h",
      MAX_RETRY_WAIT: "5s",
      MAX_LAG: "2h",
      SCHEDULE: "0 3 * * 1",
      PAGE_SIZE: "500",
      CONCURRENCY: "8",
      PORT: "8080",
      TRIGGER_TOKEN: "trigger-token-Xy7-0123456789abcdefghij",
      LOG_LEVEL: "debug",
      LOG_FORMAT: "text",
      RECONCILE_AFTER: "6h",
      CHECKPOINT_SIGNING_KEY_ID: "ocid1.key.oc1..cp",
      CHECKPOINT_SIGNING_KEY_ENDPOINT: "https://abc-crypto.kms.us-ashburn-1.oraclecloud.com/",
      CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT: "https://abc-management.kms.us-ashburn-1.oraclecloud.com",
    },
    [],
    NOW,
  );
  assert.deepEqual(config, {
    sources: [{
      source: "idcs",
      idcsUrl: DOMAIN,
      clientId: "client-1",
      keyId: undefined,
      privateKeyFile: undefined,
      clientSecret: "client-secret-Zq9",
      keySecretId: undefined,
      signingKeyId: undefined,
      signingKeyEndpoint: undefined,
      since: Date.UTC(2026, 10, 1, 12),
      settleMs: 90_000,
    }],
    oci: NO_OCI,
    archiveDir: "/var/lib/audit",
    archivePrefix: "tenant-a",
    maxEvents: 100_000,
    maxEventsPerObject: 700,
    deadlineMs: 14 * MINUTE,
    minIntervalMs: HOUR,
    maxRetryWaitMs: 5_000,
    maxLagMs: 2 * HOUR,
    reconcileAfterMs: 6 * HOUR,
    schedule: "0 3 * * 1",
    pageSize: 500,
    concurrency: 8,
    port: 8080,
    triggerToken: "trigger-token-Xy7-0123456789abcdefghij",
    checkpointKeyFile: "./keys/checkpoint.pem",
    checkpointSigningKey: {
      keyId: "ocid1.key.oc1..cp",
      cryptoEndpoint: "https://abc-crypto.kms.us-ashburn-1.oraclecloud.com",
      managementEndpoint: "https://abc-management.kms.us-ashburn-1.oraclecloud.com",
    },
    checkpointMirror: undefined,
    logLevel: "debug",
    logFormat: "text",
  });
});

Deno.test("validateConfig defaults LOG_FORMAT to text when stderr is a terminal", () => {
  assert.equal(validateConfig(KEYED, [], NOW, { stderrIsTerminal: true }).logFormat, "text");
});

Deno.test("validateConfig reports every bad setting at once, each as NAME rule: current value", () => {
  const message = configMessage({
    ...WITH_SECRET,
    MAX_EVENTS_PER_OBJECT: "0",
    DEADLINE: "soon",
    SCHEDULE: "*/15 * * *",
    PAGE_SIZE: "1001",
    CONCURRENCY: "65",
    LOG_LEVEL: "verbose",
    LOG_FORMAT: "yaml",
    SINCE: "last week",
    SETTLE: "2 minutes",
  });
  assert.equal(
    message,
    [
      "9 bad settings:",
      '  - MAX_EVENTS_PER_OBJECT must be a whole number from 1 to 9007199254740991: current value is "0"',
      '  - DEADLINE must be a duration like 90s, 15m, 24h or 14d: current value is "soon"',
      '  - SCHEDULE must be a five-field cron expression like "*/15 * * * *": current value is "*/15 * * *"',
      '  - PAGE_SIZE must be a whole number from 1 to 1000: current value is "1001"',
      '  - CONCURRENCY must be a whole number from 1 to 64: current value is "65"',
      '  - LOG_LEVEL must be one of debug, info, warn, error: current value is "verbose"',
      '  - LOG_FORMAT must be one of json, text: current value is "yaml"',
      '  - SINCE must be an ISO-8601 UTC time or a duration like 14d: current value is "last week"',
      '  - SETTLE must be a duration like 90s, 15m, 24h or 14d: current value is "2 minutes"',
    ].join("\n"),
  );
});

Deno.test("validateConfig rejects a plain http IDCS_URL to a non-loopback host", () => {
  assert.equal(
    configMessage({ ...WITH_SECRET, IDCS_URL: "http://idcs-abc.identity.oraclecloud.com" }),
    '1 bad setting:\n  - IDCS_URL must be an https URL (plain http is allowed only for loopback hosts): current value is "http://idcs-abc.identity.oraclecloud.com"',
  );
});

Deno.test("validateConfig accepts plain http to 127.0.0.1, localhost and [::1]", () => {
  const urls = ["http://127.0.0.1:8443", "http://localhost:9000", "http://[::1]:9000"];
  assert.deepEqual(
    urls.map((url) => validateConfig({ ...WITH_SECRET, IDCS_URL: url }, [], NOW).sources[0].idcsUrl),
    urls,
  );
});

Deno.test("validateConfig rejects an IDCS_URL with a path", () => {
  assert.equal(
    configMessage({ ...WITH_SECRET, IDCS_URL: `${DOMAIN}/admin/v1` }),
    `1 bad setting:\n  - IDCS_URL must be the domain's base URL, without path, query or credentials: current value is "${DOMAIN}/admin/v1"`,
  );
});

Deno.test("validateConfig rejects an IDCS_URL that is not a URL", () => {
  assert.equal(
    configMessage({ ...WITH_SECRET, IDCS_URL: "idcs-abc" }),
    '1 bad setting:\n  - IDCS_URL must be a URL like https://idcs-0123456789abcdef.identity.oraclecloud.com: current value is "idcs-abc"',
  );
});

Deno.test({
  name: "validateConfig rejects an IDCS_URL carrying a password without a user name",
  // Regression: checkServiceUrl tests url.username but not url.password, so IDCS_URL
  // "https://:hunter2pw@idcs-abc.identity.oraclecloud.com" is accepted and kept (with the password) as
  // idcsUrl. It should be a CONFIG error like a URL with a user name.

  fn: () => {
    archiveErrorOf(
      () =>
        validateConfig(
          { ...WITH_SECRET, IDCS_URL: "https://:hunter2pw@idcs-abc.identity.oraclecloud.com" },
          [],
          NOW,
        ),
      "CONFIG",
    );
  },
});

Deno.test({
  name: "validateConfig does not echo the password of an IDCS_URL with credentials",
  // Regression: IDCS_URL "https://user:hunter2pw@idcs-abc.identity.oraclecloud.com" is rejected, but the message
  // quotes the whole value, password included ('current value is "https://user:hunter2pw@…"'), and main()
  // logs it: a secret leaves memory (invariant 6). The shown value should have the credentials removed.

  fn: () => {
    const message = configMessage({
      ...WITH_SECRET,
      IDCS_URL: "https://user:hunter2pw@idcs-abc.identity.oraclecloud.com",
    });
    assert.equal(message.includes("hunter2pw"), false, message);
  },
});

Deno.test("validateConfig never shows IDCS_CLIENT_SECRET or TRIGGER_TOKEN values in its message", () => {
  const message = configMessage({
    ...KEYED,
    IDCS_KEY_ID: "",
    IDCS_CLIENT_SECRET: "client-secret-Zq9",
    PORT: "99999",
    TRIGGER_TOKEN: "trigger-token-Xy7-0123456789abcdefghij",
  });
  assert.equal(
    message,
    [
      "4 bad settings:",
      '  - PORT must be a whole number from 1 to 65535: current value is "99999"',
      "  - IDCS_PRIVATE_KEY_FILE and IDCS_CLIENT_SECRET are both set: keep one (prefer a Vault signing key, then a Vault secret, then a key file, then a client secret)",
      "  - IDCS_KEY_ID is required with IDCS_PRIVATE_KEY_FILE: the certificate alias of the uploaded key",
      "  - TRIGGER_TOKEN needs PORT: set both or neither",
    ].join("\n"),
  );
  assert.equal(message.includes("client-secret-Zq9"), false);
  assert.equal(message.includes("trigger-token-Xy7-0123456789abcdefghij"), false);
});

Deno.test("validateConfig reports a missing client id and missing credentials", () => {
  assert.equal(
    configMessage({ IDCS_URL: DOMAIN }),
    [
      "2 bad settings:",
      "  - IDCS_CLIENT_ID is required for SOURCE=idcs",
      "  - IDCS_PRIVATE_KEY_FILE, IDCS_PRIVATE_KEY_SECRET_ID or IDCS_SIGNING_KEY_ID (each with IDCS_KEY_ID), or IDCS_CLIENT_SECRET is required for SOURCE=idcs",
    ].join("\n"),
  );
});

Deno.test("validateConfig reports that no source can be inferred from empty settings", () => {
  assert.equal(
    configMessage({}),
    "1 bad setting:\n  - SOURCE is not set and cannot be inferred: set IDCS_URL (and IDCS_CLIENT_ID with a key or secret) to archive an identity domain, or AUDIT_COMPARTMENT_ID for OCI Audit",
  );
});

Deno.test({
  name: "validateConfig reports a missing IDCS_URL when SOURCE=idcs is set explicitly",
  // Regression: validateConfig({SOURCE: "idcs", IDCS_CLIENT_ID: "client-1", IDCS_CLIENT_SECRET: "…"}, [], now)
  // throws TypeError "Invalid URL: 'undefined'" (sourceScope runs new URL() on the missing idcsUrl) instead
  // of ArchiveError CONFIG "1 bad setting:\n  - IDCS_URL is required for SOURCE=idcs" — so the process
  // exits 1, not 2, and the other bad settings are not listed. The same TypeError with SOURCE=idcs and an
  // invalid IDCS_URL.

  fn: () => {
    assert.equal(
      configMessage({ SOURCE: "idcs", IDCS_CLIENT_ID: "client-1", IDCS_CLIENT_SECRET: "client-secret-Zq9" }),
      "1 bad setting:\n  - IDCS_URL is required for SOURCE=idcs",
    );
  },
});

Deno.test("validateConfig rejects IDCS_PRIVATE_KEY_FILE without IDCS_KEY_ID", () => {
  const { IDCS_KEY_ID: _, ...withoutKeyId } = KEYED;
  assert.equal(
    configMessage(withoutKeyId),
    "1 bad setting:\n  - IDCS_KEY_ID is required with IDCS_PRIVATE_KEY_FILE: the certificate alias of the uploaded key",
  );
});

Deno.test("validateConfig rejects both a private key and a client secret", () => {
  assert.equal(
    configMessage({ ...KEYED, IDCS_CLIENT_SECRET: "client-secret-Zq9" }),
    "1 bad setting:\n  - IDCS_PRIVATE_KEY_FILE and IDCS_CLIENT_SECRET are both set: keep one (prefer a Vault signing key, then a Vault secret, then a key file, then a client secret)",
  );
});

Deno.test("validateConfig rejects PAGE_SIZE 1001 and accepts 1000", () => {
  assert.equal(
    configMessage({ ...KEYED, PAGE_SIZE: "1001" }),
    '1 bad setting:\n  - PAGE_SIZE must be a whole number from 1 to 1000: current value is "1001"',
  );
  assert.equal(validateConfig({ ...KEYED, PAGE_SIZE: "1000" }, [], NOW).pageSize, 1000);
});

Deno.test("validateConfig floors a SINCE duration back from now to UTC midnight", () => {
  assert.equal(validateConfig({ ...KEYED, SINCE: "14d" }, [], NOW).sources[0].since, Date.UTC(2026, 10, 13));
  assert.equal(validateConfig({ ...KEYED, SINCE: "36h" }, [], NOW).sources[0].since, Date.UTC(2026, 10, 25));
});

Deno.test("validateConfig keeps a SINCE time as given", () => {
  assert.equal(
    validateConfig({ ...KEYED, SINCE: "2026-11-01T12:34:56.789Z" }, [], NOW).sources[0].since,
    Date.UTC(2026, 10, 1, 12, 34, 56, 789),
  );
});

Deno.test("validateConfig rejects a SINCE time in the future", () => {
  assert.equal(
    configMessage({ ...KEYED, SINCE: "2026-11-28T00:00:00Z" }),
    '1 bad setting:\n  - SINCE must not be in the future: current value is "2026-11-28T00:00:00Z"',
  );
});

Deno.test("validateConfig accepts PORT without TRIGGER_TOKEN: health checks and scraping need no secret", () => {
  const config = validateConfig({ ...KEYED, PORT: "8080" }, [], NOW);
  assert.deepEqual([config.port, config.triggerToken], [8080, undefined]);
});

Deno.test("validateConfig rejects TRIGGER_TOKEN without PORT", () => {
  assert.equal(
    configMessage({ ...KEYED, TRIGGER_TOKEN: "trigger-token-Xy7-0123456789abcdefghij" }),
    "1 bad setting:\n  - TRIGGER_TOKEN needs PORT: set both or neither",
  );
});

Deno.test("validateConfig with needsSources=false accepts settings without any source", () => {
  const config = validateConfig({ ARCHIVE_DIR: "/srv/audit" }, [], NOW, { needsSources: false });
  assert.deepEqual(config.sources, []);
  assert.equal(config.archiveDir, "/srv/audit");
});

Deno.test("validateConfig builds one source per entry, entries overriding the global settings", () => {
  const config = validateConfig(
    { IDCS_CLIENT_ID: "client-1", IDCS_CLIENT_SECRET: "client-secret-Zq9", SINCE: "2026-11-01T00:00:00Z" },
    [
      { IDCS_URL: "https://idcs-aaa.identity.oraclecloud.com" },
      { IDCS_URL: "https://idcs-bbb.identity.oraclecloud.com", IDCS_CLIENT_ID: "client-2", SETTLE: "5m" },
    ],
    NOW,
  );
  assert.deepEqual(
    config.sources.map((s) => [s.idcsUrl, s.clientId, s.since, s.settleMs]),
    [
      ["https://idcs-aaa.identity.oraclecloud.com", "client-1", Date.UTC(2026, 10, 1), 2 * MINUTE],
      ["https://idcs-bbb.identity.oraclecloud.com", "client-2", Date.UTC(2026, 10, 1), 5 * MINUTE],
    ],
  );
});

Deno.test("validateConfig rejects two sources naming the same identity domain", () => {
  assert.equal(
    configMessage({ IDCS_CLIENT_ID: "client-1", IDCS_CLIENT_SECRET: "client-secret-Zq9" }, [
      { IDCS_URL: "https://idcs-aaa.identity.oraclecloud.com" },
      { IDCS_URL: "https://IDCS-AAA.identity.oraclecloud.com/" },
    ]),
    "1 bad setting:\n  - the configuration names the source idcs idcs-aaa twice: keep one entry",
  );
});

// ─────────────────────────────────────────────────────────────── parseConfigFile

Deno.test("parseConfigFile splits top-level settings from per-source entries, values as strings", () => {
  const text = JSON.stringify({
    ARCHIVE_DIR: "/srv/audit",
    PAGE_SIZE: 500,
    IDCS_CLIENT_ID: "client-1",
    sources: [{ IDCS_URL: "https://idcs-aaa.identity.oraclecloud.com", SINCE: "7d" }, {
      IDCS_URL: "https://idcs-bbb.identity.oraclecloud.com",
    }],
  });
  assert.deepEqual(parseConfigFile(text, "cfg.json"), {
    global: { ARCHIVE_DIR: "/srv/audit", PAGE_SIZE: "500", IDCS_CLIENT_ID: "client-1" },
    sources: [
      { IDCS_URL: "https://idcs-aaa.identity.oraclecloud.com", SINCE: "7d" },
      { IDCS_URL: "https://idcs-bbb.identity.oraclecloud.com" },
    ],
  });
});

Deno.test("parseConfigFile rejects an unknown top-level key", () => {
  const error = archiveErrorOf(() => parseConfigFile('{"ARCHIVE_DIRECTORY": "/srv"}', "cfg.json"), "CONFIG");
  assert.equal(
    error.message,
    '--config cfg.json:\n  - --config: unknown setting "ARCHIVE_DIRECTORY" (settings are named as the environment variables)',
  );
});

Deno.test("parseConfigFile rejects a global setting inside sources[]", () => {
  const text = '{"sources": [{"IDCS_URL": "https://idcs-aaa.identity.oraclecloud.com", "PAGE_SIZE": "10"}]}';
  const error = archiveErrorOf(() => parseConfigFile(text, "cfg.json"), "CONFIG");
  assert.equal(
    error.message,
    '--config cfg.json:\n  - sources[0]: unknown setting "PAGE_SIZE" (settings are named as the environment variables)',
  );
});

Deno.test("parseConfigFile rejects sources that is not an array and values that are objects", () => {
  const error = archiveErrorOf(
    () => parseConfigFile('{"ARCHIVE_DIR": {"path": "/srv"}, "sources": {}}', "cfg.json"),
    "CONFIG",
  );
  assert.equal(
    error.message,
    "--config cfg.json:\n  - --config: ARCHIVE_DIR must be a string, number or boolean\n  - --config: sources must be an array of objects",
  );
});

Deno.test("parseConfigFile rejects a file that is not JSON", () => {
  const error = archiveErrorOf(() => parseConfigFile("ARCHIVE_DIR=/srv", "cfg.json"), "CONFIG");
  assert.match(error.message, /^--config cfg\.json is not valid JSON: /);
});

Deno.test({
  name: "parseConfigFile does not quote a secret from a file that is not JSON",
  // Regression: parseConfigFile('{"TRIGGER_TOKEN": hunter2-secret-value}', "cfg.json") throws CONFIG with the
  // JSON.parse message appended, and V8 quotes the text near the error:
  // `...Unexpected token 'h', ..."R_TOKEN": hunter2-se"... is not valid JSON` — part of the secret reaches
  // the log (invariant 6). The message should give only the position, not the source text.

  fn: () => {
    const error = archiveErrorOf(
      () => parseConfigFile('{"TRIGGER_TOKEN": hunter2-secret-value}', "cfg.json"),
      "CONFIG",
    );
    assert.equal(error.message.includes("hunter2"), false, error.message);
  },
});

Deno.test({
  name: "parseConfigFile rejects a JSON null file with a CONFIG error",
  // Regression: parseConfigFile("null", "cfg.json") throws TypeError "Cannot read properties of null (reading
  // 'sources')" instead of ArchiveError CONFIG "--config cfg.json:\n  - --config must be a JSON object"
  // (exit 1 instead of 2).

  fn: () => {
    const error = archiveErrorOf(() => parseConfigFile("null", "cfg.json"), "CONFIG");
    assert.equal(error.message, "--config cfg.json:\n  - --config must be a JSON object");
  },
});

// ─────────────────────────────────────────────────────────────── parseCommandLine

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

// ─────────────────────────────────────────────────────────────── parseCron, nextCronTime

const range = (from: number, to: number) =>
  new Set(Array.from({ length: to - from + 1 }, (_, i) => from + i));

Deno.test("parseCron reads */15 * * * *", () => {
  assert.deepEqual(parseCron("*/15 * * * *"), {
    minutes: new Set([0, 15, 30, 45]),
    hours: range(0, 23),
    days: range(1, 31),
    months: range(1, 12),
    weekdays: range(0, 6),
    anyDay: true,
    anyWeekday: true,
  });
});

Deno.test("parseCron reads 0 3 * * 1 as Mondays at 03:00", () => {
  assert.deepEqual(parseCron("0 3 * * 1"), {
    minutes: new Set([0]),
    hours: new Set([3]),
    days: range(1, 31),
    months: range(1, 12),
    weekdays: new Set([1]),
    anyDay: true,
    anyWeekday: false,
  });
});

Deno.test("parseCron reads ranges, stepped ranges and lists", () => {
  const schedule = parseCron("10-40/10,5 9-17 1,15 1-3,12 1-5")!;
  assert.deepEqual(schedule.minutes, new Set([5, 10, 20, 30, 40]));
  assert.deepEqual(schedule.hours, range(9, 17));
  assert.deepEqual(schedule.days, new Set([1, 15]));
  assert.deepEqual(schedule.months, new Set([1, 2, 3, 12]));
  assert.deepEqual(schedule.weekdays, range(1, 5));
  assert.equal(schedule.anyDay, false);
  assert.equal(schedule.anyWeekday, false);
});

Deno.test("parseCron reads a start with a step as running to the field's end", () => {
  assert.deepEqual(parseCron("5/20 * * * *")!.minutes, new Set([5, 25, 45]));
});

Deno.test("parseCron reads weekday 7 as Sunday (0)", () => {
  assert.deepEqual(parseCron("0 0 * * 7")!.weekdays, new Set([0]));
});

Deno.test("parseCron rejects six fields, out-of-range values, letters and malformed parts", () => {
  const bad = [
    "* * * * * *",
    "* * * *",
    "",
    "60 * * * *",
    "* 24 * * *",
    "* * 0 * *",
    "* * 32 * *",
    "* * * 13 *",
    "* * * * 8",
    "a * * * *",
    "0 3 * * MON",
    "*/0 * * * *",
    "5-1 * * * *",
    "1,,2 * * * *",
  ];
  assert.deepEqual(bad.map(parseCron), bad.map(() => undefined));
});

Deno.test("nextCronTime of */15 is the next quarter hour", () => {
  const schedule = parseCron("*/15 * * * *")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:07:12.000Z")), at("2026-11-27T10:15:00.000Z"));
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:59:59.999Z")), at("2026-11-27T11:00:00.000Z"));
});

Deno.test("nextCronTime is strictly after a time the schedule matches", () => {
  const schedule = parseCron("*/15 * * * *")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:15:00.000Z")), at("2026-11-27T10:30:00.000Z"));
});

Deno.test("nextCronTime of 0 3 * * 1 is the next Monday 03:00", () => {
  const schedule = parseCron("0 3 * * 1")!;
  // 2026-11-27 is a Friday.
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:00:00.000Z")), at("2026-11-30T03:00:00.000Z"));
  assert.equal(nextCronTime(schedule, at("2026-11-30T03:00:00.000Z")), at("2026-12-07T03:00:00.000Z"));
});

Deno.test("nextCronTime matches day-of-month OR weekday when both are restricted", () => {
  const schedule = parseCron("0 0 1 * 1")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:00:00.000Z")), at("2026-11-30T00:00:00.000Z"));
  assert.equal(nextCronTime(schedule, at("2026-11-30T00:00:00.000Z")), at("2026-12-01T00:00:00.000Z"));
});

Deno.test("nextCronTime respects the month field", () => {
  const schedule = parseCron("30 12 * 2 *")!;
  assert.equal(nextCronTime(schedule, at("2026-11-27T10:00:00.000Z")), at("2027-02-01T12:30:00.000Z"));
});

Deno.test({
  name: "nextCronTime finds a 29 February more than a year away",
  // Regression: nextCronTime(parseCron("0 0 29 2 *"), 2026-03-01T00:00Z) returns NaN (it searches only 366 days),
  // but the schedule is valid (validateConfig accepts it) and should give 2028-02-29T00:00Z; `status` then
  // throws RangeError on new Date(NaN).toISOString().

  fn: () => {
    assert.equal(
      nextCronTime(parseCron("0 0 29 2 *")!, at("2026-03-01T00:00:00.000Z")),
      at("2028-02-29T00:00:00.000Z"),
    );
  },
});

// ─────────────────────────────────────────────────────────────── AuditEvents filter and pages

const PAGE_WINDOW = { start: at("2026-11-27T10:00:00.000Z"), end: at("2026-11-27T11:00:00.000Z") };
const LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

const resource = (id: string, timestamp: string) => ({
  schemas: ["urn:ietf:params:scim:schemas:oracle:idcs:AuditEvent"],
  id,
  timestamp,
  eventId: "sso.session.create.success",
  actorName: "alice@example.com",
  message: "User logged in",
});

const pageOf = (resources: unknown[], extra: Record<string, unknown> = {}) => ({
  schemas: [LIST_RESPONSE],
  totalResults: resources.length,
  startIndex: 1,
  itemsPerPage: resources.length,
  Resources: resources,
  ...extra,
});

/** A page body and the UTF-8 bytes it is sent as. */
const bodyAndText = (body: unknown) => [body, utf8(JSON.stringify(body))] as const;
const utf8 = (text: string) => new TextEncoder().encode(text);

/** Asserts that parsing throws the retriable PROTOCOL error with this message. */
function assertProtocolError(body: unknown, message: string) {
  const error = archiveErrorOf(
    () => parseAuditEventsPage(body, utf8(JSON.stringify(body)), PAGE_WINDOW),
    "PROTOCOL",
  );
  assert.equal(error.retriable, true);
  assert.equal(error.message, `identity domain AuditEvents: ${message}`);
}

Deno.test("auditEventsFilter is a half-open SCIM filter on timestamp", () => {
  assert.equal(
    auditEventsFilter(PAGE_WINDOW),
    'timestamp ge "2026-11-27T10:00:00.000Z" and timestamp lt "2026-11-27T11:00:00.000Z"',
  );
});

Deno.test("parseAuditEventsPage keeps each event's text exactly as sent (escapes, nulls, spacing)", () => {
  const text = '{"schemas":["' + LIST_RESPONSE +
    '"],"totalResults":2, "Resources" : [ {"id":"e1","timestamp":"2026-11-27T10:00:00.000Z","x":"a\\/b\\u00e9","n":null} ,' +
    '{"id":"e2","timestamp":"2026-11-27T10:30:00.000Z","nested":{"a":[1,{"b":"]}"}]}}]}';
  const page = parseAuditEventsPage(JSON.parse(text), utf8(text), PAGE_WINDOW);
  assert.deepEqual(page.events.map((e) => new TextDecoder().decode(e.json)), [
    '{"id":"e1","timestamp":"2026-11-27T10:00:00.000Z","x":"a\\/b\\u00e9","n":null}',
    '{"id":"e2","timestamp":"2026-11-27T10:30:00.000Z","nested":{"a":[1,{"b":"]}"}]}}',
  ]);
});

Deno.test("parseAuditEventsPage returns every event in page order with its JSON exactly stringified", () => {
  const first = resource("e2", "2026-11-27T10:30:00.250Z");
  const second = resource("e1", "2026-11-27T10:00:00.000Z");
  assert.deepEqual(
    parseAuditEventsPage(...bodyAndText(pageOf([first, second], { totalResults: 7 })), PAGE_WINDOW),
    {
      totalResults: 7,
      events: [
        { id: "e2", time: at("2026-11-27T10:30:00.250Z"), json: utf8(JSON.stringify(first)) },
        { id: "e1", time: at("2026-11-27T10:00:00.000Z"), json: utf8(JSON.stringify(second)) },
      ],
    },
  );
});

Deno.test("parseAuditEventsPage accepts the legacy urn:scim ListResponse schema", () => {
  const event = resource("e1", "2026-11-27T10:30:00.000Z");
  assert.deepEqual(
    parseAuditEventsPage(
      ...bodyAndText(pageOf([event], { schemas: ["urn:scim:api:messages:2.0:ListResponse"] })),
      PAGE_WINDOW,
    ),
    {
      totalResults: 1,
      events: [{ id: "e1", time: at("2026-11-27T10:30:00.000Z"), json: utf8(JSON.stringify(event)) }],
    },
  );
});

Deno.test("parseAuditEventsPage accepts a page without Resources when totalResults is 0", () => {
  assert.deepEqual(
    parseAuditEventsPage(
      ...bodyAndText({ schemas: [LIST_RESPONSE], totalResults: 0, startIndex: 1, itemsPerPage: 0 }),
      PAGE_WINDOW,
    ),
    { totalResults: 0, events: [] },
  );
});

Deno.test("parseAuditEventsPage rejects an event at the window end (outside the half-open filter)", () => {
  assertProtocolError(
    pageOf([resource("e9", "2026-11-27T11:00:00.000Z")]),
    "event e9 at 2026-11-27T11:00:00.000Z is outside the filter",
  );
});

Deno.test("parseAuditEventsPage rejects an event before the window start", () => {
  assertProtocolError(
    pageOf([resource("e0", "2026-11-27T09:59:59.999Z")]),
    "event e0 at 2026-11-27T09:59:59.999Z is outside the filter",
  );
});

Deno.test("parseAuditEventsPage rejects an event without an id", () => {
  const { id: _, ...noId } = resource("e1", "2026-11-27T10:30:00.000Z");
  assertProtocolError(pageOf([noId]), "an event has no id or timestamp");
});

Deno.test("parseAuditEventsPage rejects an event with an empty id", () => {
  assertProtocolError(pageOf([resource("", "2026-11-27T10:30:00.000Z")]), "an event has no id or timestamp");
});

Deno.test("parseAuditEventsPage rejects an event without a parseable timestamp", () => {
  assertProtocolError(pageOf([resource("e1", "not a time")]), "an event has no id or timestamp");
});

Deno.test("parseAuditEventsPage rejects a null event", () => {
  assertProtocolError(pageOf([null]), "an event has no id or timestamp");
});

Deno.test("parseAuditEventsPage rejects a totalResults that is not a non-negative integer", () => {
  for (const totalResults of ["1", 1.5, -1, null]) {
    assertProtocolError(pageOf([], { totalResults }), "no totalResults");
  }
});

Deno.test("parseAuditEventsPage rejects a body that is not a SCIM ListResponse", () => {
  assertProtocolError({ totalResults: 0 }, "not a SCIM response");
  assertProtocolError(null, "not a SCIM response");
  assertProtocolError(
    pageOf([], { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"] }),
    "not a SCIM ListResponse",
  );
});

Deno.test("parseAuditEventsPage rejects Resources that is not an array", () => {
  assertProtocolError(pageOf([], { totalResults: 1, Resources: {} }), "Resources is not an array");
});

// ─────────────────────────────────────────────────────────────── sortEvents

Deno.test("sortEvents orders by time, then by id", () => {
  const event = (id: string, time: number): ArchivedEvent => ({ id, time, json: utf8(`{"id":"${id}"}`) });
  const t1 = at("2026-11-27T10:00:00.000Z");
  const t2 = t1 + 1;
  assert.deepEqual(
    sortEvents([event("b", t2), event("b", t1), event("a", t2), event("A", t2), event("a", t1)]).map((e) => [
      e.id,
      e.time,
    ]),
    [["a", t1], ["b", t1], ["A", t2], ["a", t2], ["b", t2]],
  );
});

// ─────────────────────────────────────────────────────────────── helpText

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

// ─────────────────────────────────────────────────────────────── assessHealth, scheduleInterval

const STANDING = { source: "idcs", scope: "idcs-1", catchingUp: false, maxLagMs: 40 * MINUTE };

Deno.test("assessHealth: healthy while the first pass runs, and when the last pass succeeded within the lag bound", () => {
  assert.deepEqual(assessHealth(STANDING, NOW), { ok: true, reason: "the first pass is running" });
  assert.deepEqual(assessHealth({ ...STANDING, lastResult: "ok", frontierMs: NOW - 39 * MINUTE }, NOW), {
    ok: true,
  });
});

Deno.test("assessHealth: unhealthy when the last pass failed, or the lag is past the bound without catching up", () => {
  assert.deepEqual(assessHealth({ ...STANDING, lastResult: "AUTH", frontierMs: NOW }, NOW), {
    ok: false,
    reason: "the last pass failed (AUTH)",
  });
  assert.deepEqual(assessHealth({ ...STANDING, lastResult: "ok", frontierMs: NOW - 41 * MINUTE }, NOW), {
    ok: false,
    reason: "lag 2460 s is over 2400 s",
  });
  assert.deepEqual(
    assessHealth({ ...STANDING, lastResult: "ok", frontierMs: NOW - 9 * DAY, catchingUp: true }, NOW),
    { ok: true, reason: "catching up a backlog" },
  );
});

Deno.test("scheduleInterval is the longest gap between runs, also for schedules rarer than a week", () => {
  assert.equal(scheduleInterval(parseCron("*/15 * * * *")!, NOW), 15 * MINUTE);
  assert.equal(scheduleInterval(parseCron("0 9,17 * * *")!, NOW), 16 * HOUR);
  assert.equal(scheduleInterval(parseCron("0 3 1 * *")!, NOW) >= 28 * DAY, true);
});

Deno.test("progressLine says events, windows, rate, share done and the time left at that rate", () => {
  assert.equal(
    progressLine({ events: 12_345, windows: 17, elapsedMs: 6_000, fraction: 0.25 }),
    "12,345 events, 17 windows, 2,058 events/s, 25% — about 18 s left",
  );
  assert.equal(
    progressLine({ events: 1_000_000, windows: 50, elapsedMs: 600_000, fraction: 0.1 }),
    "1,000,000 events, 50 windows, 1,667 events/s, 10% — about 90 min left",
  );
  assert.match(progressLine({ events: 0, windows: 0, elapsedMs: 0, fraction: 0 }), /time left unknown$/);
});

Deno.test("parseAuditEvents keeps each ListEvents event's bytes as sent, parsing one event at a time", () => {
  const text = ' [ {"eventId":"a","eventTime":"2026-11-27T10:00:00Z","data":{"x":"é\\"]"}} ,\n' +
    '{"eventId":"b","eventTime":"2026-11-27T10:00:01Z","data":null}] ';
  const events = parseAuditEvents(utf8(text));
  assert.deepEqual(events.map((e) => [e.id, new TextDecoder().decode(e.json)]), [
    ["a", '{"eventId":"a","eventTime":"2026-11-27T10:00:00Z","data":{"x":"é\\"]"}}'],
    ["b", '{"eventId":"b","eventTime":"2026-11-27T10:00:01Z","data":null}'],
  ]);
  assert.deepEqual(parseAuditEvents(utf8("[]")), []);
});

Deno.test("parseAuditEvents rejects a ListEvents body that is cut short, unseparated or followed by more", () => {
  const event = '{"eventId":"a","eventTime":"2026-11-27T10:00:00Z"}';
  for (
    const text of [`[${event}`, `[${event.slice(0, 20)}`, `[${event} ${event}]`, `[${event}] x`, `{}`, `[,]`]
  ) {
    const error = archiveErrorOf(() => parseAuditEvents(utf8(text)), "PROTOCOL");
    assert.equal(error.retriable, true, text);
  }
});

// ─────────────────────────────────────────────────────────────── sdkPackages

Deno.test("sdkPackages loads only the OCI SDK packages the configuration uses (issue 11, idle pass)", () => {
  const packages = (settings: Record<string, string>, withSources = true) =>
    sdkPackages(validateConfig(settings, [], NOW), withSources);
  const vault = "https://vault-crypto.kms.eu-frankfurt-1.oraclecloud.com";
  const tenancy = "ocid1.tenancy.oc1..aaaa";
  assert.deepEqual(packages(KEYED), []);
  assert.deepEqual(packages({ ...KEYED, OCI_BUCKET: "audit" }), ["objectstorage"]);
  assert.deepEqual(packages({ AUDIT_COMPARTMENT_ID: tenancy }), ["audit", "identity"]);
  assert.deepEqual(packages({ AUDIT_COMPARTMENT_ID: tenancy }, false), []);
  assert.deepEqual(
    packages({
      ...WITH_SECRET,
      OCI_LOG_ID: "ocid1.log.oc1..aaaa",
      CHECKPOINT_SIGNING_KEY_ID: "ocid1.key.oc1..k",
      CHECKPOINT_SIGNING_KEY_ENDPOINT: vault,
      CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT: vault.replace("crypto", "management"),
    }),
    ["loggingingestion", "keymanagement"],
  );
  assert.deepEqual(
    packages({ ...KEYED, IDCS_PRIVATE_KEY_FILE: "", IDCS_PRIVATE_KEY_SECRET_ID: "ocid1.vaultsecret.oc1..s" }),
    ["secrets"],
  );
});
