/**
 * Settings validation: a good configuration becomes a frozen Config; every bad setting is reported at once. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { validateConfig } from "../../src/config/validate.ts";
import { archiveErrorOf } from "../assertions.ts";
import { DOMAIN, KEYED, NOW, WITH_SECRET } from "./fixtures.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;

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
    minIntervalMs: 60_000,
    maxRetryWaitMs: 20_000,
    maxLagMs: undefined,
    reconcileAfterMs: 24 * HOUR,
    schedule: "*/15 * * * *",
    scheduleGiven: false,
    pageSize: 1000,
    concurrency: 4,
    maxResponseBytes: 64 * 1024 * 1024,
    port: undefined,
    listen: "0.0.0.0",
    triggerToken: undefined,
    checkpointKeyFile: "./keys/checkpoint.pem",
    checkpointMirror: undefined,
    checkpointPublicKeys: [],
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
      MAX_RESPONSE_BYTES: "512KiB",
      PORT: "8080",
      LISTEN: "127.0.0.1",
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
    scheduleGiven: true,
    pageSize: 500,
    concurrency: 8,
    maxResponseBytes: 512 * 1024,
    port: 8080,
    listen: "127.0.0.1",
    triggerToken: "trigger-token-Xy7-0123456789abcdefghij",
    checkpointKeyFile: "./keys/checkpoint.pem",
    checkpointSigningKey: {
      keyId: "ocid1.key.oc1..cp",
      cryptoEndpoint: "https://abc-crypto.kms.us-ashburn-1.oraclecloud.com",
      managementEndpoint: "https://abc-management.kms.us-ashburn-1.oraclecloud.com",
    },
    checkpointMirror: undefined,
    checkpointPublicKeys: [],
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
      `  - SCHEDULE must be a five-field cron expression that Deno.cron accepts, like "*/15 * * * *" (minute hour day-of-month month weekday, single spaces; weekdays are 1-7 for Sunday-Saturday, or SUN-SAT; a step must be smaller than its field's span, so */59 minutes at most; no ?, no @daily): current value is "*/15 * * *"`,
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

Deno.test("LISTEN takes an IP address or a host name, and rejects anything else", () => {
  for (const listen of ["0.0.0.0", "127.0.0.1", "::", "::1", "fd00::8", "localhost", "archiver.internal"]) {
    assert.equal(validateConfig({ ...KEYED, PORT: "8080", LISTEN: listen }, [], NOW).listen, listen);
  }
  for (const listen of ["256.0.0.1", "1.2.3", "http://0.0.0.0", "0.0.0.0:8080", "[::1]", "a b", "-x"]) {
    assert.equal(
      configMessage({ ...KEYED, PORT: "8080", LISTEN: listen }),
      `1 bad setting:\n  - LISTEN must be an IP address (0.0.0.0, 127.0.0.1, ::) or a host name: current value is ${
        JSON.stringify(listen)
      }`,
      listen,
    );
  }
});
