/**
 * Starting state: the options checked, and the state built from them.
 *
 * @module
 */

import { KeyObject } from "node:crypto";
import { resolveFaults } from "../faults.ts";
import { mulberry32 } from "../random.ts";
import { DEFAULT_AUDIT_MAX_PAGE_SIZE } from "./audit.ts";
import { AuditStore } from "./audit_store.ts";
import { randomUuid } from "./bytes.ts";
import { toCompartments } from "./identity.ts";
import { LIST_OBJECTS_MAX_LIMIT } from "./object_storage.ts";
import { FAULT_MODEL } from "./replies.ts";
import { importApiKey } from "./signatures.ts";
import type { Bucket, State } from "./state.ts";
import { TokenAuthority } from "./tokens.ts";
import type { OciEmulatorOptions } from "./types.ts";
import { kmsKeyVersion } from "./vault.ts";

export function validateOptions(options: OciEmulatorOptions): void {
  const fail = (name: string, requirement: string, value: unknown) =>
    new TypeError(
      `Cannot start the OCI emulator as '${name}' must be ${requirement}: current value is ${value}`,
    );
  if (!options.tenancy) throw fail("tenancy", "a tenancy OCID", options.tenancy);
  if (options.seed !== undefined && !Number.isInteger(options.seed)) {
    throw fail("seed", "an integer", options.seed);
  }
  for (const name of ["auditPageSize", "auditMaxPageSize"] as const) {
    const pageSize = options[name];
    if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize > 0)) {
      throw fail(name, "a positive integer", pageSize);
    }
  }
  const lag = options.auditVisibilityLagMs;
  if (lag !== undefined && !(Number.isFinite(lag) && lag >= 0)) {
    throw fail("auditVisibilityLagMs", "a non-negative number", lag);
  }
  const days = options.auditRetentionDays;
  if (days !== undefined && !(Number.isInteger(days) && days >= 90 && days <= 365)) {
    // "The minimum is 90, the maximum 365" (oci-audit model/configuration.d.ts)
    throw fail("auditRetentionDays", "an integer from 90 to 365", days);
  }
  const paging = options.auditPaging;
  if (paging !== undefined && paging !== "cursor" && paging !== "offset") {
    throw fail("auditPaging", '"cursor" or "offset"', paging);
  }
  const deleted = options.deletedCompartmentEvents;
  if (deleted !== undefined && deleted !== "list" && deleted !== "404") {
    throw fail("deletedCompartmentEvents", '"list" or "404"', deleted);
  }
  const requestMax = options.logRequestMaxBytes;
  if (requestMax !== undefined && !(Number.isInteger(requestMax) && requestMax > 0)) {
    throw fail("logRequestMaxBytes", "a positive integer", requestMax);
  }
  for (const bucket of options.buckets ?? []) {
    const pageSize = bucket.retentionRulesPageSize;
    if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize > 0)) {
      throw fail(`buckets[${bucket.name}].retentionRulesPageSize`, "a positive integer", pageSize);
    }
    for (const rule of bucket.retentionRules ?? []) {
      const duration = rule.duration;
      if (duration && !(Number.isInteger(duration.timeAmount) && duration.timeAmount > 0)) {
        throw fail(
          `buckets[${bucket.name}].retentionRules[${rule.id}].duration.timeAmount`,
          "a positive integer",
          duration.timeAmount,
        );
      }
    }
  }
}

export function createState(options: OciEmulatorOptions, seed: number): State {
  const now = Date.now();
  const idRandom = mulberry32(seed ^ 0x85ebca6b);
  const apiKeys = new Map<string, KeyObject>();
  for (const key of options.apiKeys ?? []) apiKeys.set(key.keyId, importApiKey(key.publicKey));
  const buckets = new Map<string, Bucket>();
  for (const bucket of options.buckets ?? []) {
    buckets.set(bucket.name, {
      name: bucket.name,
      objects: new Map(),
      retentionRulesStatus: bucket.retentionRulesStatus,
      retentionRulesPageSize: bucket.retentionRulesPageSize,
      retentionRules: (bucket.retentionRules ?? []).map((rule) => ({
        ...rule,
        etag: randomUuid(idRandom),
        timeCreated: now,
      })),
    });
  }
  const audit = new AuditStore();
  audit.allowRepeatedIds = options.auditRepeatedIds ?? false;
  audit.add(options.auditEvents ?? [], (own) => own);
  return {
    tenancy: options.tenancy,
    region: options.region ?? "us-ashburn-1",
    namespace: options.namespace ?? "emulatedns",
    apiKeys,
    authority: new TokenAuthority(),
    buckets,
    secrets: new Map((options.secrets ?? []).map((secret) => [secret.id, secret.content])),
    kmsKeys: new Map(
      (options.kmsKeys ?? []).map((key) => [key.id, {
        versions: [kmsKeyVersion(key.id, KeyObject.from(key.privateKey), 1)],
      }]),
    ),
    kmsSignatures: [],
    compartments: toCompartments(options.compartments, now),
    audit,
    auditPageSize: options.auditPageSize,
    auditMaxPageSize: options.auditMaxPageSize ?? DEFAULT_AUDIT_MAX_PAGE_SIZE,
    listObjectsPageSize: options.listObjectsPageSize ?? LIST_OBJECTS_MAX_LIMIT,
    auditPageRandom: mulberry32(seed ^ 0x27d4eb2f),
    auditPaging: options.auditPaging ?? "cursor",
    auditEmptyFirstPage: options.auditEmptyFirstPage ?? false,
    auditOrderRandom: mulberry32(seed ^ 0x9e3779b9),
    auditVisibilityLagMs: options.auditVisibilityLagMs ?? 0,
    unreadableCompartments: new Set(options.unreadableCompartments ?? []),
    deletedCompartmentEvents: options.deletedCompartmentEvents ?? "list",
    auditPrettyPages: options.auditPrettyPages,
    redirect: options.redirect,
    auditRetentionDays: options.auditRetentionDays ?? 365,
    auditConfigurationReadable: options.auditConfigurationReadable ?? true,
    logs: new Map((options.logs ?? []).map((logId) => [logId, []])),
    logRequestMaxBytes: options.logRequestMaxBytes,
    faults: resolveFaults(options.faults ?? {}, FAULT_MODEL),
    faultRandom: mulberry32(seed),
    dropRandom: mulberry32(seed ^ 0x165667b1),
    onRequest: options.onRequest,
    idRandom,
    stats: {
      requests: 0,
      rejectedSignatures: 0,
      faultsInjected: 0,
      conditionalPutConflicts: 0,
      byOperation: {},
      listedEntries: 0,
    },
  };
}
