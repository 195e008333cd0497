/**
 * An emulator of the Oracle Cloud Infrastructure services the audit archiver
 * talks to, on one `Deno.serve` listener, strict enough that the program's
 * correctness is checked against it:
 *
 * - **Request signatures.** Every request (but the instance metadata service)
 *   must carry a valid `Authorization: Signature …` made with a registered API
 *   key (`tenancy/user/fingerprint`) or with the session key of a token this
 *   emulator issued (`ST$<jwt>`: instance or resource principal, or a user's
 *   CLI session). Stale dates, unsigned required headers and body digests that
 *   do not match are 401 `NotAuthenticated`, as Oracle answers them.
 * - **Object Storage**: namespace, conditional PUT (`if-none-match: *`,
 *   `if-match`), `content-md5`, `opc-meta-*`, GET/HEAD with ranges, DELETE,
 *   list with `prefix/start/end/startAfter/limit/delimiter/fields` and
 *   `nextStartWith`, and retention rules that really block overwrite and delete.
 * - **Vault**: secret bundles, KMS `sign` (RSA PKCS#1 v1.5 SHA-256, RAW or DIGEST, of the current or a
 *   named key version) and the management reads `getKey` / `getKeyVersion` (the public key); keys rotate.
 * - **Audit** `listEvents` (one compartment, events *processed* in
 *   `[startTime, endTime)` — each event has a hidden processing time after its
 *   eventTime —, minute granularity, pages of varying size up to thousands
 *   continued by a cursor or by an offset (`auditPaging`),
 *   bodies made of each event's stored wire text, 404 for compartments the
 *   caller may not read) and `getConfiguration`; **Identity** `listCompartments`.
 * - **Logging ingestion** `putLogs`.
 * - **Instance principal**: metadata endpoints serving a real X.509 chain built
 *   here (root → intermediate → leaf with `opc-tenant:` in the subject) and the
 *   `/v1/x509` federation endpoint that verifies it; **resource principal**: an
 *   RPST signed here, handed over as environment variables.
 * - **Faults** (latency, 429 with or without `Retry-After`, 500/503, resets in
 *   the middle of a body, a competing writer winning a conditional PUT) are
 *   decided by a PRNG seeded from `seed`, so a seed replays the same decisions.
 *
 * Wire facts emulated are in `docs/oracle/oci-apis.md` (read from the SDK
 * 2.139.1 sources); where Oracle documents something more precisely it is cited
 * next to the code. Usage:
 *
 * ```ts
 * const key = await generateApiKey("ocid1.tenancy.oc1..t", "ocid1.user.oc1..u");
 * const oci = await startOciEmulator({ tenancy: "ocid1.tenancy.oc1..t", apiKeys: [key],
 *   buckets: [{ name: "audit" }] });
 * const client = new ObjectStorageClient({ authenticationDetailsProvider: … });
 * client.endpoint = oci.url;
 * // …
 * await oci.close();
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  constants as cryptoConstants,
  createHash,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
  privateEncrypt,
  sign as nodeSign,
  verify as nodeVerify,
} from "node:crypto";
import { COMMON_FAULT_DEFAULTS, decideFault, delay, type FaultModel, resolveFaults } from "./faults.ts";
import { resetResponse } from "./http.ts";
import { mulberry32, pick, type Random, randomHex, shuffleRuns } from "./random.ts";
import { PLAIN_WIRE, prettyPrint, renderWire, type WireStyle } from "./wire.ts";

// ---------------------------------------------------------------- public types

/** Fault rates are probabilities per request; a request gets at most one of 429, 5xx and reset. */
export interface OciFaults {
  /** Delay before every response (but the instance metadata service's), in ms. @default 0 */
  latencyMs?: number;
  /** Probability of a 429 `TooManyRequests`, answered before the request reaches the service. @default 0 */
  rate429?: number;
  /** Probability that a 429 carries `Retry-After: 1`. @default 0.5 */
  retryAfterRate?: number;
  /** Probability of a 500 `InternalServerError` or 503 `ServiceUnavailable`, before the service. @default 0 */
  rate5xx?: number;
  /** Share of those 5xx that are 503 (an outage that refuses requests); the rest are 500. @default 0.5 */
  share503?: number;
  /**
   * Probability that the connection drops in the middle of the response body,
   * after the service did the work (a PUT is stored, a page is served). A
   * response without a body (PUT, DELETE) is not affected. @default 0
   */
  rateReset?: number;
  /**
   * Probability that, just before a conditional PUT (`if-none-match: *`) of an
   * object that does not exist, another writer creates it with different
   * content: the PUT then fails with 412 `IfNoneMatchFailed`. @default 0
   */
  rate412?: number;
  /**
   * Per request of one of `operations`: the probability that the connection drops after the service did the
   * work (PutLogs stored its entries, a PUT stored its object) and before any byte of the answer, so the
   * caller cannot tell whether it went in. `rateReset` cuts a body mid-way and so cannot touch an answer
   * without a body (PutLogs answers 200 with none: oci-loggingingestion PutLogsResponse has only
   * opcRequestId). Oracle documents that PutLogs is not idempotent (docs/oracle/oci-apis.md, "Logging
   * ingestion"): a push whose answer was lost may have gone in. Needs the emulator started with
   * `dropAfterWork` or `onRequest` set (it then listens through a TCP relay that can close a client's
   * connection).
   * @default { operations: [], rate: 0 }
   */
  dropAfterWork?: { operations: string[]; rate: number };
}

/** What `onRequest` sees of a request, before it is served. */
export interface RequestSeen {
  method: string;
  /** The raw path, without the query. */
  path: string;
  /** The raw query, without the `?` ("" when there is none): which compartment and range a ListEvents asks for. */
  query: string;
  /** The operation name, as `stats.byOperation` counts it (`PutObject`, `PutLogs`, …). */
  operation: string;
  /** The signature's keyId (`tenancy/user/fingerprint`, or `ST$…`); "" when unsigned. */
  keyId: string;
  /** The decoded object name, for object operations. */
  objectName?: string;
}

/** A retention rule of a bucket, as `ListRetentionRules` returns it. */
export interface RetentionRuleOption {
  id: string;
  displayName: string;
  /** Absent: an indefinite rule, which blocks every overwrite and delete. */
  duration?: { timeAmount: number; timeUnit: "DAYS" | "YEARS" };
  /**
   * RFC 3339 instant "after which this rule becomes locked" (oci-objectstorage RetentionRuleSummary;
   * docs/oracle/oci-apis.md, "Object Storage"): it may lie in the future, when the rule is not locked yet. Only
   * reported: locking changes rule edits, not objects.
   */
  timeRuleLocked?: string;
}

/** How to start the emulator. */
export interface OciEmulatorOptions {
  /** Seeds all random decisions (faults, ETags, request ids); signing keys stay random. @default a random seed */
  seed?: number;
  /** The tenancy OCID, root of the compartment tree. */
  tenancy: string;
  /** @default "us-ashburn-1" */
  region?: string;
  /** API signing keys; `keyId` is `tenancy/user/fingerprint`. @default [] */
  apiKeys?: { keyId: string; publicKey: CryptoKey | string }[];
  /** Object Storage namespace. @default "emulatedns" */
  namespace?: string;
  /** @default [] */
  buckets?: {
    name: string;
    retentionRules?: RetentionRuleOption[];
    /**
     * Answer `GetRetentionRules`/`ListRetentionRules` with this error instead of the rules. It needs
     * `read buckets`, and "a 404 can mean not authorized; S3-compatible and third-party Object Storage
     * emulators may not implement it at all" (docs/oracle/oci-apis.md, "Object Storage"): 404
     * `NotAuthorizedOrNotFound` (API errors reference), 403 `NotAuthorized` (UNCONFIRMED code, modelled as
     * some gateways answer), 501 `MethodNotImplemented` (API errors reference: "the method is not
     * implemented"). @default undefined
     */
    retentionRulesStatus?: 403 | 404 | 501;
    /**
     * Rules per page of `ListRetentionRules`, which is paged with `opc-next-page` and a `page` request
     * parameter (API reference ListRetentionRules; docs/oracle/oci-apis.md, "Object Storage"). Oracle
     * documents no page size and the request has no `limit` (UNCONFIRMED), so both: unset, every rule in one
     * page; set, pages of this many. @default undefined (one page)
     */
    retentionRulesPageSize?: number;
  }[];
  /** Vault secrets; `content` is the secret's text, served base64 of its UTF-8 bytes. @default [] */
  secrets?: { id: string; content: string }[];
  /** Vault keys for `sign`: RSASSA-PKCS1-v1_5 private keys, each its key's first version. @default [] */
  kmsKeys?: { id: string; privateKey: CryptoKey }[];
  /** Compartments under the tenancy (the root). `lifecycleState` @default "ACTIVE" */
  compartments?: { id: string; parentId: string; name: string; lifecycleState?: "ACTIVE" | "DELETED" }[];
  /**
   * OCI Audit events; each has its compartment in `data.compartmentId`. Each is processed at its hidden
   * processing time (`auditProcessedAt(event)`: the one `generateAuditEvents` chose, else its `eventTime`)
   * and listable from then on (plus `auditVisibilityLagMs`). @default []
   */
  auditEvents?: AuditCloudEvent[];
  /**
   * A fixed page size of `listEvents`, for tests that want one. Oracle's ListEvents has no page-size
   * parameter and a page can hold thousands of events (docs/oracle/oci-apis.md, "OCI Audit";
   * oracle/oci-java-sdk#46: ~20,000 events in one page), so by default every request gets a seeded size from
   * 1 to `auditMaxPageSize`. @default undefined (varying)
   */
  auditPageSize?: number;
  /**
   * What `opc-next-page` continues from. Oracle documents it only as the token "for the subsequent ListEvents
   * request to get the next batch of events" of a partial list (oci-audit lib/response/list-events-response.d.ts
   * `opcNextPage`), neither whether it is a cursor or an offset nor any order among events processed at the
   * same time (UNDOCUMENTED, docs/oracle/oci-apis.md "OCI Audit"), so both: `"cursor"` continues after the
   * last (processing time, eventId) sent, which never skips; `"offset"` continues at a position of the range,
   * and every request orders the events processed at the same time anew (seeded), so a page edge inside such
   * a group may send some of them twice and skip as many. @default "cursor"
   */
  auditPaging?: "cursor" | "offset";
  /**
   * The first page of a range that holds events is `[]` with an `opc-next-page` to its events. Oracle says the
   * header means "you received a partial list and there are more results" (oci-audit
   * lib/response/list-events-response.d.ts `opcNextPage`) and documents no page size, so whether a partial
   * list may be empty is UNDOCUMENTED: both, unset sends a first page with events. @default false
   */
  auditEmptyFirstPage?: boolean;
  /**
   * `listEvents` pages pretty-printed, with `"\n"` or `"\r\n"` line breaks (`prettyPrint`). Oracle documents
   * the events' JSON, not its serializer's whitespace (UNCONFIRMED; RFC 8259 §2 allows whitespace between
   * tokens), so both: unset sends compact pages. @default undefined
   */
  auditPrettyPages?: "\n" | "\r\n";
  /**
   * Requests of these operations (as `stats.byOperation` names them: `ListEvents`, `ListCompartments`, …)
   * answered `302 Found` with `Location` on another host (`to` plus the request's path and query), before the
   * service sees them. Oracle documents no redirect from its API endpoints; a misrouted proxy or a hostile host
   * may answer one, and a client that followed it would send its signed request there. @default undefined
   */
  redirect?: { to: string; operations: string[] };
  /**
   * Lets `auditEvents` hold one `eventId` more than once, with different bodies. Oracle calls `eventId` "the
   * GUID of the event" (oci-audit model/audit-event.d.ts) and does not say whether ListEvents can return one
   * id with two bodies (UNCONFIRMED): unset refuses such events, set serves both. @default false
   */
  auditRepeatedIds?: boolean;
  /** Largest seeded page size of `listEvents` when `auditPageSize` is unset. @default 5000 */
  auditMaxPageSize?: number;
  /**
   * The most entries a ListObjects page holds, whatever `limit` asks for. The API reference makes `limit` a
   * maximum ("the maximum number of results per page") and `nextStartWith` the start of the next page of "a
   * truncated ListObjects response" (ListObjects model), so the service may truncate sooner: a test pages a
   * folder without storing a thousand objects. @default 1000 (the largest `limit`)
   */
  listObjectsPageSize?: number;
  /**
   * Extra time between an event's processing time and the moment `listEvents` returns it. Oracle does not
   * say whether there is one (UNCONFIRMED): 0 models "listable once processed", a positive value "listable
   * only a while after" — both are used (fault-suite seeds). @default 0
   */
  auditVisibilityLagMs?: number;
  /**
   * Compartments the caller may not read audit events in: `listEvents` on them is 404
   * `NotAuthorizedOrNotFound` ("not found, or you are not authorized": API errors reference,
   * docs/oracle/oci-apis.md).
   * @default []
   */
  unreadableCompartments?: string[];
  /**
   * What `listEvents` does for a DELETED compartment. Oracle does not document it (UNCONFIRMED), so both:
   * `"list"` returns its events as for any compartment, `"404"` answers 404 `NotAuthorizedOrNotFound`.
   * @default "list"
   */
  deletedCompartmentEvents?: "list" | "404";
  /**
   * `retentionPeriodDays` that Audit `GetConfiguration` returns: "The minimum is 90, the maximum 365"
   * (oci-audit model/configuration.d.ts). A new tenancy's default is not confirmed here: 365, the maximum
   * (UNCONFIRMED). @default 365
   */
  auditRetentionDays?: number;
  /**
   * Whether the caller may read the tenancy's Audit configuration; false answers `GetConfiguration` with 404
   * `NotAuthorizedOrNotFound`, as a policy without that grant would (API errors reference). @default true
   */
  auditConfigurationReadable?: boolean;
  /** Custom log OCIDs that accept `putLogs`. @default [] */
  logs?: string[];
  /**
   * Largest `putLogs` request body, in UTF-8 bytes, the service takes; a larger one is a 400 and stores
   * nothing. Oracle documents a limit per entry (under 1 MB, `LogEntry`) but none per request (UNCONFIRMED,
   * docs/oracle/oci-apis.md, "Logging ingestion"), so both: unset, no request limit; set, this many bytes
   * (a body is bytes on the wire, whatever its characters). @default undefined (no limit)
   */
  logRequestMaxBytes?: number;
  /**
   * Awaited before each request is served (after routing, before faults, signature and service): a test can
   * delay a request here, or kill the calling process. Answering `"drop"` abandons the request: nothing is
   * served or stored and the connection is closed. Setting it makes the emulator listen through its relay.
   */
  onRequest?: (request: RequestSeen) => Promise<"drop" | void> | "drop" | void;
  /** @default {} */
  faults?: OciFaults;
  /** Port on 127.0.0.1. @default 0 (ephemeral) */
  port?: number;
}

/** An OCI Audit event (CloudEvents 0.1), as `listEvents` returns it. */
export interface AuditCloudEvent {
  eventType: string;
  cloudEventsVersion: "0.1";
  eventTypeVersion: string;
  source: string;
  eventId: string;
  eventTime: string;
  contentType: "application/json";
  data: {
    compartmentId: string;
    compartmentName?: string | null;
    eventName: string;
    [k: string]: unknown;
  };
}

/** An object as stored; `metadata` keys are lowercase and without the `opc-meta-` prefix. */
export interface StoredObjectView {
  name: string;
  bytes: Uint8Array;
  metadata: Record<string, string>;
  /** Base64 MD5 of the bytes, as `content-md5` carries it. */
  md5: string;
  etag: string;
  timeCreated: string;
}

/** A pushed log entry, with the batch fields it came with. */
export interface LogEntryView {
  id: string;
  time: string;
  data: string;
  source: string;
  type: string;
  subject?: string;
}

/** A running emulator. */
export interface OciEmulator {
  /** `http://127.0.0.1:PORT`: the endpoint of every service client. */
  url: string;
  /** For `InstancePrincipalsAuthenticationDetailsProviderBuilder.metadataBaseUrl`: `${url}/opc/v2/`. */
  metadataBaseUrl: string;
  /**
   * For the builder's `federationEndpoint`: `url` itself, because the SDK
   * appends `/v1/x509` to it (X509FederationClient.getTokenAsync).
   */
  federationEndpoint: string;
  /**
   * Environment for `ResourcePrincipalAuthenticationDetailsProvider` (v2.2): a
   * fresh RPST signed by the emulator and the session private key as a PEM
   * literal. `ttlSeconds` @default 3600
   */
  resourcePrincipalEnv(options?: { ttlSeconds?: number }): Record<string, string>;
  /**
   * A user session token (UPST) for `user`, bound to the session public key (SPKI PEM), as `oci session
   * authenticate` writes into the file `security_token_file` names; requests signed with the session private
   * key under keyId `ST$<token>` authenticate as the user until the token expires (a `ttlSeconds` of 0 or less
   * gives an expired one). Oracle: "Token-based Authentication for the CLI"
   * (https://docs.oracle.com/en-us/iaas/Content/API/SDKDocs/clitoken.htm: tokens live 5 to 60 minutes);
   * oci-common lib/auth/session-auth-details-provider.js `getKeyId` ("ST$" + the token).
   * `ttlSeconds` @default 3600
   */
  userSessionToken(user: string, sessionPublicKeyPem: string, options?: { ttlSeconds?: number }): string;
  /** The objects of a bucket in name order: the tests' truth. */
  objects(bucket: string): StoredObjectView[];
  /** Stores an object bypassing signatures, conditions and retention: how tests tamper. */
  putObjectDirect(bucket: string, name: string, bytes: Uint8Array): void;
  /** Deletes an object bypassing retention. */
  deleteObjectDirect(bucket: string, name: string): void;
  /** Entries pushed to a configured log, in arrival order. */
  logEntries(logId: string): LogEntryView[];
  /**
   * Adds Audit events. With `visibleAt` (epoch ms) they are processed — and listed — at `visibleAt`: events
   * that Audit appends late come back for the processing-time window that holds `visibleAt`, never for an
   * earlier one (the range is on processing time: ListEvents API reference). Without it, each keeps its own
   * processing time, but not earlier than now (an event cannot have been processed before it was added).
   */
  addAuditEvents(events: AuditCloudEvent[], visibleAt?: number): void;
  /**
   * Adds Audit events indexed late: processed at `processedAt` (in a window the archiver may have committed
   * already) but listed only from `listableAt` on. Oracle documents no bound on how long after processing an
   * event becomes listable ("processing time can vary", docs/oracle/oci-apis.md, "OCI Audit": UNCONFIRMED),
   * so this models the slow case; `auditVisibilityLagMs` and `addAuditEvents` model the others.
   */
  addLateAuditEvents(events: AuditCloudEvent[], times: { processedAt: number; listableAt: number }): void;
  /** The hidden processing time (epoch ms) of a stored Audit event: the tests' truth is "processed before the frontier". */
  auditProcessedAt(eventId: string): number;
  /** The exact text `listEvents` sends for a stored Audit event (member order, nulls, escapes): compare archived lines with it. */
  auditWireText(eventId: string): string;
  /** Replaces the compartment tree (compartments added or deleted mid-way). */
  setCompartments(compartments: OciEmulatorOptions["compartments"]): void;
  /** Replaces the fault settings for the following requests. */
  setFaults(f: OciFaults): void;
  /** Rotates a Vault key: a new version with this private key becomes current; returns its OCID. */
  rotateKmsKey(keyId: string, privateKey: CryptoKey): string;
  /** A Vault key version's public key as `getKeyVersion` serves it (SPKI PEM); the current one by default. */
  kmsPublicKeyPem(keyId: string, keyVersionId?: string): string;
  /** Every `sign` the Vault did, in order: which key version signed, and how the message was given. */
  kmsSignatures(): { keyId: string; keyVersionId: string; messageType: string }[];
  stats: {
    requests: number;
    rejectedSignatures: number;
    faultsInjected: number;
    /** 412 answers to conditional PUTs, injected races included. */
    conditionalPutConflicts: number;
    /** Requests per operation name (`PutObject`, `ListEvents`, …), faulted ones included. */
    byOperation: Record<string, number>;
    /** Entries ListObjects answered with, objects and prefixes: what listings cost beyond their requests. */
    listedEntries: number;
  };
  /** Stops listening, lets requests in flight finish, resolves once every connection is closed. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------- constants

/**
 * Oracle rejects requests whose date is more than 5 minutes off (docs/oracle/oci-apis.md, "Request
 * signatures").
 */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** The SDK's digest of an empty body (signer.js EMPTY_SHA). */
const EMPTY_BODY_SHA256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const LIST_OBJECTS_MAX_LIMIT = 1000;
const OBJECT_NAME_MAX_BYTES = 1024;
/** KMS `sign`: "You can have a message up to 4096 bytes in size" (SignDataDetails). */
const KMS_MAX_MESSAGE_BYTES = 4096;
/** Logging ingestion: each entry must be under 1 MB (docs/oracle/oci-apis.md). */
const LOG_ENTRY_MAX_BYTES = 1024 * 1024;
/**
 * "Any log data field cannot be more than 10,000 characters. If your data exceeds this limit, the field is
 * truncated during ingestion." (oci-loggingingestion model/log-entry.d.ts, LogEntry;
 * docs/oracle/oci-apis.md). Counted here in Unicode code points; silently, as the service does.
 */
const LOG_FIELD_MAX_CHARS = 10_000;

function truncateLogField(text: string): string {
  if (text.length <= LOG_FIELD_MAX_CHARS) return text;
  const points = [...text];
  return points.length <= LOG_FIELD_MAX_CHARS ? text : points.slice(0, LOG_FIELD_MAX_CHARS).join("");
}
const IDENTITY_DEFAULT_LIMIT = 100;
const IDENTITY_MAX_LIMIT = 1000;
const DEFAULT_AUDIT_MAX_PAGE_SIZE = 5000;
/** Instance principal session tokens live 20 minutes, as Oracle's do; the SDK refreshes them. */
const INSTANCE_TOKEN_TTL_SECONDS = 20 * 60;
const TOKEN_ISSUER = "authService.oracle.com";
const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Oracle does not document the error code of a write or delete refused by a
 * retention rule. `Conflict` is the documented common 409 for "conflicts with
 * its current state, not transient", which the SDK does not retry (it retries
 * only 409 `IncorrectState`). UNCONFIRMED against the live service.
 */
const RETENTION_ERROR = { status: 409, code: "Conflict" } as const;

const OID = {
  sha256WithRSAEncryption: "1.2.840.113549.1.1.11",
  commonName: "2.5.4.3",
  organizationalUnit: "2.5.4.11",
  organization: "2.5.4.10",
  basicConstraints: "2.5.29.19",
} as const;

/** DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1), for KMS DIGEST signing. */
const SHA256_DIGEST_INFO_PREFIX = Uint8Array.from(
  "3031300d060960864801650304020105000420".match(/../g)!,
  (hex) => parseInt(hex, 16),
);

// ---------------------------------------------------------------- randomness

/** A version-4-shaped UUID from the PRNG: Object Storage ETags and Audit event ids look like this. */
function randomUuid(random: Random): string {
  const hex = randomHex(random, 32);
  const variant = "89ab"[Math.floor(random() * 4)];
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${
    hex.slice(20, 32)
  }`;
}

// ---------------------------------------------------------------- bytes and encodings

type Bytes = Uint8Array<ArrayBuffer>;

const encoder = new TextEncoder();

function utf8(text: string): Bytes {
  return encoder.encode(text) as Bytes;
}

function concatBytes(parts: readonly Uint8Array[]): Bytes {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Strict base64 (standard alphabet, padding optional); undefined when the text is not base64. */
function fromBase64(text: string): Bytes | undefined {
  const clean = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return undefined;
  try {
    return Uint8Array.from(atob(clean), (char) => char.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Bytes | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  return fromBase64(text.replace(/-/g, "+").replace(/_/g, "/"));
}

function digest(algorithm: "md5" | "sha1" | "sha256", bytes: Uint8Array): Bytes {
  return new Uint8Array(createHash(algorithm).update(bytes).digest()) as Bytes;
}

/** `aa:bb:…`: how OCI shows key fingerprints and how the SDK writes certificate fingerprints. */
function colonHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(":");
}

function toPem(label: string, der: Uint8Array): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

// ---------------------------------------------------------------- errors

/** A request the service refuses: `{code, message}` JSON, as every OCI service answers. */
class OciError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function notAuthenticated(detail: string): OciError {
  return new OciError(
    401,
    "NotAuthenticated",
    `The required information to complete authentication was not provided or was incorrect: ${detail}`,
  );
}

function invalidParameter(message: string): OciError {
  return new OciError(400, "InvalidParameter", message);
}

function missingParameter(name: string): OciError {
  return new OciError(400, "MissingParameter", `Missing required parameter '${name}'`);
}

// ---------------------------------------------------------------- time

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;

interface ParsedTime {
  ms: number;
  /** Seconds or fractions were given and are not zero. */
  hasSeconds: boolean;
}

/**
 * RFC 3339, as liberal as the SDK needs: its `formatDateToRFC3339` writes the
 * hour without a leading zero (`2026-01-01T5:00:00Z`) and no milliseconds.
 */
function parseRfc3339(text: string): ParsedTime | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute] = match.slice(1, 6).map(Number);
  const second = Number(match[6] ?? 0);
  const fraction = match[7] ?? "";
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) {
    return undefined;
  }
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  const zone = match[8].toUpperCase();
  if (zone !== "Z") {
    const digits = zone.replace(":", "");
    offsetMinutes = (digits[0] === "-" ? -1 : 1) *
      (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) +
    Number(fraction.padEnd(3, "0").slice(0, 3)) -
    offsetMinutes * 60_000;
  return { ms, hasSeconds: second !== 0 || /[1-9]/.test(fraction) };
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

// ---------------------------------------------------------------- query strings

/**
 * The SDK sends query values unencoded but for what `fetch` escapes, so `+` is
 * a plus, not a space (docs/oracle/oci-apis.md, "Object Storage"): decode with
 * `decodeURIComponent`, never `URLSearchParams`. A repeated parameter is a 400.
 */
function parseQuery(rawQuery: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of rawQuery.split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    const [rawName, rawValue] = equals < 0 ? [pair, ""] : [pair.slice(0, equals), pair.slice(equals + 1)];
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName);
      value = decodeURIComponent(rawValue);
    } catch {
      throw invalidParameter(`The query parameter '${rawName}' is not validly percent-encoded`);
    }
    if (params.has(name)) throw invalidParameter(`The query parameter '${name}' is repeated`);
    params.set(name, value);
  }
  return params;
}

function parseIntegerParam(
  params: Map<string, string>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = params.get(name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d{1,9}$/.test(text) || value < min || value > max) {
    throw invalidParameter(`'${name}' must be an integer from ${min} to ${max}: current value is ${text}`);
  }
  return value;
}

/** Opaque page tokens: base64url JSON, checked against the query they continue. */
function encodePageToken(value: unknown): string {
  return toBase64Url(utf8(JSON.stringify(value)));
}

function decodePageToken<T>(token: string, isValid: (value: unknown) => value is T): T {
  const bytes = fromBase64Url(token);
  try {
    const value: unknown = bytes ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
    if (isValid(value)) return value;
  } catch {
    // falls through to the 400
  }
  throw invalidParameter(`The page token '${token}' is not valid for this request`);
}

// ---------------------------------------------------------------- DER and X.509

/** DER encoding (X.690) of the few types an X.509 certificate needs. */
const der = {
  node(tag: number, ...parts: Uint8Array[]): Bytes {
    const content = concatBytes(parts);
    return concatBytes([Uint8Array.of(tag), der.length(content.length), content]);
  },
  length(length: number): Uint8Array {
    if (length < 0x80) return Uint8Array.of(length);
    const bytes: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
    return Uint8Array.of(0x80 | bytes.length, ...bytes);
  },
  sequence: (...parts: Uint8Array[]) => der.node(0x30, ...parts),
  set: (...parts: Uint8Array[]) => der.node(0x31, ...parts),
  explicit: (tagNumber: number, ...parts: Uint8Array[]) => der.node(0xa0 | tagNumber, ...parts),
  integer(bytes: Uint8Array): Bytes {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const trimmed = bytes.subarray(start);
    return der.node(0x02, trimmed[0] & 0x80 ? concatBytes([Uint8Array.of(0), trimmed]) : trimmed);
  },
  oid(dotted: string): Bytes {
    const [first, second, ...rest] = dotted.split(".").map(Number);
    const bytes = [40 * first + second];
    for (const arc of rest) {
      const chunk = [arc & 0x7f];
      for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) {
        chunk.unshift(0x80 | (value & 0x7f));
      }
      bytes.push(...chunk);
    }
    return der.node(0x06, Uint8Array.from(bytes));
  },
  utf8String: (text: string) => der.node(0x0c, utf8(text)),
  bitString: (bytes: Uint8Array) => der.node(0x03, Uint8Array.of(0), bytes),
  octetString: (bytes: Uint8Array) => der.node(0x04, bytes),
  boolean: (value: boolean) => der.node(0x01, Uint8Array.of(value ? 0xff : 0)),
  null: () => Uint8Array.of(0x05, 0x00),
  /** UTCTime before 2050, GeneralizedTime after, as RFC 5280 §4.1.2.5 requires. */
  time(ms: number): Bytes {
    const iso = new Date(ms).toISOString();
    const digits = iso.slice(0, 19).replace(/[-:T]/g, "");
    return ms < Date.UTC(2050, 0, 1)
      ? der.node(0x17, utf8(`${digits.slice(2)}Z`))
      : der.node(0x18, utf8(`${digits}Z`));
  },
  /** A Name: one RDN per component, values as UTF8String (PrintableString cannot hold `:`). */
  name(components: readonly (readonly [string, string])[]): Bytes {
    return der.sequence(
      ...components.map(([oid, value]) => der.set(der.sequence(der.oid(oid), der.utf8String(value)))),
    );
  },
};

interface DerNode {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

function readDerNode(bytes: Uint8Array, offset: number, limit = bytes.length): DerNode {
  if (offset + 2 > limit) throw new Error("truncated DER");
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  let contentStart = offset + 2;
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4 || contentStart + count > limit) throw new Error("bad DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[contentStart++];
  }
  const end = contentStart + length;
  if (end > limit) throw new Error("truncated DER");
  return { tag, start: offset, contentStart, end };
}

function derChildren(bytes: Uint8Array, parent: DerNode): DerNode[] {
  const children: DerNode[] = [];
  for (let offset = parent.contentStart; offset < parent.end;) {
    const child = readDerNode(bytes, offset, parent.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

interface ParsedCertificate {
  der: Bytes;
  tbs: Bytes;
  signature: Bytes;
  subject: string[];
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
}

function parseDerTime(bytes: Uint8Array, node: DerNode): number {
  const text = new TextDecoder().decode(bytes.subarray(node.contentStart, node.end));
  const match = node.tag === 0x17
    ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) throw new Error(`unsupported certificate time ${text}`);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  const fullYear = node.tag === 0x17 ? (year < 50 ? 2000 + year : 1900 + year) : year;
  return Date.UTC(fullYear, month - 1, day, hour, minute, second);
}

/** Parses an X.509 v3 certificate signed with sha256WithRSAEncryption; throws on anything else. */
function parseCertificate(bytes: Bytes): ParsedCertificate {
  const certificate = readDerNode(bytes, 0);
  if (certificate.end !== bytes.length) throw new Error("trailing bytes after the certificate");
  const [tbsNode, algorithmNode, signatureNode] = derChildren(bytes, certificate);
  if (!tbsNode || !algorithmNode || signatureNode?.tag !== 0x03) throw new Error("not a certificate");
  const expectedAlgorithm = der.oid(OID.sha256WithRSAEncryption);
  const [algorithmOid] = derChildren(bytes, algorithmNode);
  if (!bytesEqual(bytes.subarray(algorithmOid.start, algorithmOid.end), expectedAlgorithm)) {
    throw new Error("the certificate is not signed with sha256WithRSAEncryption");
  }
  let fields = derChildren(bytes, tbsNode);
  if (fields[0]?.tag === 0xa0) fields = fields.slice(1);
  const [, , , validity, subject, spki] = fields;
  const [notBefore, notAfter] = derChildren(bytes, validity).map((node) => parseDerTime(bytes, node));
  const components = derChildren(bytes, subject).flatMap((rdn) =>
    derChildren(bytes, rdn).map((attribute) => {
      const [, value] = derChildren(bytes, attribute);
      return new TextDecoder().decode(bytes.subarray(value.contentStart, value.end));
    })
  );
  return {
    der: bytes,
    tbs: bytes.slice(tbsNode.start, tbsNode.end),
    // The first content byte of a BIT STRING counts unused bits.
    signature: bytes.slice(signatureNode.contentStart + 1, signatureNode.end),
    subject: components,
    notBefore,
    notAfter,
    publicKey: createPublicKey({
      key: Buffer.from(bytes.subarray(spki.start, spki.end)),
      format: "der",
      type: "spki",
    }),
  };
}

/** RSA PKCS#1 v1.5 SHA-256 verification; a signature re-encoded without leading zeros is padded back. */
function rsaVerify(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  const modulusBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? signature.length * 8) / 8);
  const padded = signature.length < modulusBytes
    ? concatBytes([new Uint8Array(modulusBytes - signature.length), signature])
    : signature;
  try {
    return nodeVerify("sha256", data, publicKey, padded);
  } catch {
    return false;
  }
}

function spkiDer(publicKey: KeyObject): Bytes {
  return new Uint8Array(publicKey.export({ type: "spki", format: "der" })) as Bytes;
}

function buildCertificate(options: {
  serial: Uint8Array;
  issuer: readonly (readonly [string, string])[];
  subject: readonly (readonly [string, string])[];
  notBefore: number;
  notAfter: number;
  publicKey: KeyObject;
  signingKey: KeyObject;
  isCa: boolean;
}): Bytes {
  const algorithm = der.sequence(der.oid(OID.sha256WithRSAEncryption), der.null());
  const extensions = options.isCa
    ? [der.explicit(
      3,
      der.sequence(
        der.sequence(
          der.oid(OID.basicConstraints),
          der.boolean(true),
          der.octetString(der.sequence(der.boolean(true))),
        ),
      ),
    )]
    : [];
  const tbs = der.sequence(
    der.explicit(0, der.integer(Uint8Array.of(2))),
    der.integer(options.serial),
    algorithm,
    der.name(options.issuer),
    der.sequence(der.time(options.notBefore), der.time(options.notAfter)),
    der.name(options.subject),
    spkiDer(options.publicKey),
    ...extensions,
  );
  const signature = nodeSign("sha256", tbs, options.signingKey);
  return der.sequence(tbs, algorithm, der.bitString(signature));
}

// ---------------------------------------------------------------- session tokens

type Claims = Record<string, unknown>;

/**
 * Issues and checks the JWTs that stand for a principal: instance principal
 * tokens from `/v1/x509`, resource principal RPSTs and user session tokens. Each carries the session
 * public key as a JWK JSON string in `jwk`, as Oracle's do; requests are then
 * signed with the session private key and keyId `ST$<jwt>`.
 */
class TokenAuthority {
  #generated?: { publicKey: KeyObject; privateKey: KeyObject };
  /** Made on first use: key generation takes half a second, and most emulators never issue a token. */
  get #keys(): { publicKey: KeyObject; privateKey: KeyObject } {
    return this.#generated ??= generateKeyPairSync("rsa", { modulusLength: 2048 });
  }
  readonly #sessionKeys = new Map<string, KeyObject>();

  /** Synchronous (node:crypto), so `resourcePrincipalEnv()` can be. */
  issue(claims: Claims, sessionPublicKey: KeyObject, ttlSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const jwk = { kid: "session", ...sessionPublicKey.export({ format: "jwk" }), alg: "RS256", use: "sig" };
    const payload = {
      iss: TOKEN_ISSUER,
      aud: "oci",
      iat: now,
      exp: now + ttlSeconds,
      ...claims,
      jwk: JSON.stringify(jwk),
    };
    const signingInput = `${toBase64Url(utf8(JSON.stringify({ alg: "RS256", kid: "asw", typ: "JWT" })))}.${
      toBase64Url(utf8(JSON.stringify(payload)))
    }`;
    return `${signingInput}.${toBase64Url(nodeSign("sha256", utf8(signingInput), this.#keys.privateKey))}`;
  }

  /** The session key of a token this authority issued and that has not expired. */
  sessionKey(token: string): KeyObject {
    const parts = token.split(".");
    const signature = parts.length === 3 ? fromBase64Url(parts[2]) : undefined;
    if (!signature || !rsaVerify(this.#keys.publicKey, utf8(`${parts[0]}.${parts[1]}`), signature)) {
      throw notAuthenticated("the security token was not issued by this service");
    }
    const claims = JSON.parse(new TextDecoder().decode(fromBase64Url(parts[1]))) as Claims;
    if (typeof claims.exp !== "number" || claims.exp * 1000 <= Date.now()) {
      throw notAuthenticated("the security token has expired");
    }
    let key = this.#sessionKeys.get(token);
    if (!key) {
      key = createPublicKey({ key: JSON.parse(String(claims.jwk)), format: "jwk" });
      this.#sessionKeys.set(token, key);
    }
    return key;
  }
}

// ---------------------------------------------------------------- request signatures

interface SignatureHeader {
  keyId: string;
  headers: string[];
  signature: Bytes;
}

/** `Signature version="1",keyId="…",algorithm="rsa-sha256",headers="…",signature="…"`, fields in any order. */
function parseAuthorization(header: string | null): SignatureHeader {
  const match = /^Signature\s+(.+)$/is.exec(header ?? "");
  if (!match) throw notAuthenticated("the Authorization header must be an HTTP signature");
  const fields = new Map<string, string>();
  for (const [, name, value] of match[1].matchAll(/\s*([A-Za-z]+)\s*=\s*"([^"]*)"\s*(?:,|$)/g)) {
    if (fields.has(name)) throw notAuthenticated(`the signature field ${name} is repeated`);
    fields.set(name, value);
  }
  if (fields.get("version") !== "1") throw notAuthenticated('the signature must have version="1"');
  if (fields.get("algorithm") !== "rsa-sha256") {
    throw notAuthenticated('the signature algorithm must be "rsa-sha256"');
  }
  const keyId = fields.get("keyId");
  const headers = fields.get("headers");
  const signature = fromBase64(fields.get("signature") ?? "");
  if (!keyId || !headers || !signature || signature.length === 0) {
    throw notAuthenticated("the signature must have keyId, headers and signature");
  }
  return { keyId, headers: headers.trim().toLowerCase().split(/\s+/), signature };
}

/** The request target exactly as sent: Deno.serve keeps the raw path and query in `request.url`. */
function rawTarget(request: Request): string {
  const url = request.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  return pathStart < 0 ? "/" : url.slice(pathStart);
}

function signingString(request: Request, headers: readonly string[]): string {
  return headers.map((name) => {
    if (name === "(request-target)") {
      return `(request-target): ${request.method.toLowerCase()} ${rawTarget(request)}`;
    }
    const value = request.headers.get(name);
    if (value === null) throw notAuthenticated(`the signed header ${name} is not in the request`);
    return `${name}: ${value}`;
  }).join("\n");
}

/**
 * What must be signed (docs/oracle/oci-apis.md): `(request-target)`, `host` and a date
 * always; for POST/PUT/PATCH also the body headers, unless the operation
 * streams its body (PutObject, UploadPart); then the digest must match.
 */
function checkSignedHeaders(
  request: Request,
  signed: readonly string[],
  body: Bytes,
  bodySigned: boolean,
): void {
  const required = ["(request-target)", "host"];
  if (bodySigned) required.push("content-type", "content-length", "x-content-sha256");
  const missing = required.filter((name) => !signed.includes(name));
  if (!signed.includes("x-date") && !signed.includes("date")) missing.push("x-date");
  if (missing.length > 0) throw notAuthenticated(`the signature must cover ${missing.join(", ")}`);
  for (const name of ["x-date", "date"]) {
    if (!signed.includes(name)) continue;
    const value = request.headers.get(name) ?? "";
    const time = Date.parse(value);
    if (Number.isNaN(time)) throw notAuthenticated(`the ${name} header "${value}" is not an HTTP date`);
    if (Math.abs(time - Date.now()) > MAX_CLOCK_SKEW_MS) {
      throw notAuthenticated(
        `the ${name} header "${value}" is more than 5 minutes away from the server time`,
      );
    }
  }
  if (bodySigned) {
    const expected = body.length === 0 ? EMPTY_BODY_SHA256 : toBase64(digest("sha256", body));
    if (request.headers.get("x-content-sha256") !== expected) {
      throw notAuthenticated("x-content-sha256 does not match the body");
    }
    if (request.headers.get("content-length") !== String(body.length)) {
      throw notAuthenticated("content-length does not match the body");
    }
  }
}

function verifySignatureWith(request: Request, parsed: SignatureHeader, key: KeyObject): void {
  if (!rsaVerify(key, utf8(signingString(request, parsed.headers)), parsed.signature)) {
    throw notAuthenticated("the signature does not verify");
  }
}

// ---------------------------------------------------------------- faults

type Fault =
  | { kind: "none" }
  | { kind: "429"; retryAfter: boolean }
  | { kind: "5xx"; status: 500 | 503 }
  | { kind: "reset"; variant: number };

interface Decision {
  fault: Fault;
  /** Whether a competing writer wins this request's conditional PUT, should it be one. */
  race: boolean;
}

/** OCI's fault fields, as `resolveFaults` checks and completes them. */
const FAULT_MODEL: FaultModel<OciFaults> = {
  rates: ["rate429", "retryAfterRate", "rate5xx", "share503", "rateReset", "rate412"],
  defaults: {
    ...COMMON_FAULT_DEFAULTS,
    share503: 0.5,
    rate412: 0,
    dropAfterWork: { operations: [], rate: 0 },
  },
  exclusive: ["rate429", "rate5xx", "rateReset"],
  nestedRates: (resolved) => [["dropAfterWork.rate", resolved.dropAfterWork.rate]],
};

/** Draws exactly three numbers per request, whatever the outcome, so one seed gives one sequence of decisions. */
function decideOciFault(random: Random, faults: Required<OciFaults>): Decision {
  const fault = decideFault<Fault>(random, (variant) => [
    [faults.rate429, () => ({ kind: "429", retryAfter: variant < faults.retryAfterRate })],
    [faults.rate5xx, () => ({ kind: "5xx", status: variant < faults.share503 ? 503 : 500 })],
    [faults.rateReset, () => ({ kind: "reset", variant })],
  ]) ?? { kind: "none" };
  return { fault, race: random() < faults.rate412 };
}

// ---------------------------------------------------------------- replies

/** A response before faults and common headers are applied. */
interface Reply {
  status: number;
  body?: string | Bytes;
  contentType?: string;
  headers?: Record<string, string>;
}

function jsonReply(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(value), contentType: "application/json", headers };
}

function errorReply(error: OciError): Reply {
  return jsonReply(error.status, { code: error.code, message: error.message });
}

/** What a rate limiter or load balancer answers in the service's stead. */
function gatewayFaultReply(fault: Fault & { kind: "429" | "5xx" }): Reply {
  if (fault.kind === "429") {
    const reply = errorReply(new OciError(429, "TooManyRequests", "Too many requests for the tenancy"));
    return fault.retryAfter ? { ...reply, headers: { "retry-after": "1" } } : reply;
  }
  return fault.status === 500
    ? errorReply(new OciError(500, "InternalServerError", "Internal server error"))
    : errorReply(new OciError(503, "ServiceUnavailable", "The service is temporarily unavailable"));
}

/** Whether a reset fault can cut this reply: it needs a body of two bytes or more to cut between. */
function cutsBody(reply: Reply, method: string): boolean {
  const length = typeof reply.body === "string" ? utf8(reply.body).length : reply.body?.length ?? 0;
  return method !== "HEAD" && reply.status !== 204 && reply.status !== 304 && length > 1;
}

/**
 * Builds the HTTP response. HEAD answers carry headers only (errors too, as
 * Object Storage's do). A reset sends part of the body (`resetResponse`).
 */
function toResponse(reply: Reply, fault: Fault, requestId: string, method: string): Response {
  const headers = new Headers({ "opc-request-id": requestId, ...reply.headers });
  if (reply.contentType) headers.set("content-type", reply.contentType);
  const bytes = typeof reply.body === "string" ? utf8(reply.body) : reply.body ?? new Uint8Array();
  if (method === "HEAD") {
    if (!headers.has("content-length")) headers.set("content-length", "0");
    return new Response(null, { status: reply.status, headers });
  }
  if (reply.status === 204 || reply.status === 304) {
    return new Response(null, { status: reply.status, headers });
  }
  if (fault.kind === "reset" && cutsBody(reply, method)) {
    return resetResponse(bytes, fault.variant, reply.status, headers);
  }
  return new Response(bytes, { status: reply.status, headers });
}

// ---------------------------------------------------------------- state

interface StoredObject {
  name: string;
  bytes: Bytes;
  metadata: Record<string, string>;
  md5: string;
  etag: string;
  versionId: string;
  timeCreated: number;
  lastModified: number;
  contentType: string;
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
}

interface Bucket {
  name: string;
  retentionRules: (RetentionRuleOption & { etag: string; timeCreated: number })[];
  retentionRulesStatus?: 403 | 404 | 501;
  retentionRulesPageSize?: number;
  objects: Map<string, StoredObject>;
  /** Names in code-unit order, rebuilt after a change; lists are frequent, writes rarer. */
  sortedNames?: string[];
}

interface Compartment {
  id: string;
  parentId: string;
  name: string;
  lifecycleState: "ACTIVE" | "DELETED";
  timeCreated: number;
}

interface InstanceIdentity {
  instanceId: string;
  root: { key: KeyObject; name: [string, string][] };
  intermediate: { der: Bytes; key: KeyObject };
  leaf: { der: Bytes; privateKeyPem: string };
}

interface State {
  tenancy: string;
  region: string;
  namespace: string;
  apiKeys: Map<string, KeyObject>;
  authority: TokenAuthority;
  buckets: Map<string, Bucket>;
  secrets: Map<string, string>;
  kmsKeys: Map<string, KmsKey>;
  kmsSignatures: { keyId: string; keyVersionId: string; messageType: string }[];
  compartments: Compartment[];
  audit: AuditStore;
  auditPageSize?: number;
  auditMaxPageSize: number;
  listObjectsPageSize: number;
  auditPageRandom: Random;
  auditPaging: "cursor" | "offset";
  auditEmptyFirstPage: boolean;
  /** Orders events processed at the same time, per request, under `auditPaging: "offset"`. */
  auditOrderRandom: Random;
  auditVisibilityLagMs: number;
  unreadableCompartments: Set<string>;
  deletedCompartmentEvents: "list" | "404";
  auditPrettyPages?: "\n" | "\r\n";
  redirect?: { to: string; operations: string[] };
  auditRetentionDays: number;
  auditConfigurationReadable: boolean;
  logs: Map<string, LogEntryView[]>;
  logRequestMaxBytes?: number;
  faults: Required<OciFaults>;
  faultRandom: Random;
  dropRandom: Random;
  onRequest?: OciEmulatorOptions["onRequest"];
  idRandom: Random;
  instance?: InstanceIdentity;
  stats: OciEmulator["stats"];
}

// ---------------------------------------------------------------- Object Storage

function findBucket(state: State, namespace: string, bucketName: string): Bucket {
  if (namespace !== state.namespace) {
    throw new OciError(
      404,
      "NamespaceNotFound",
      `You do not have authorization to perform this request, or the requested resource could not be found: namespace '${namespace}'`,
    );
  }
  const bucket = state.buckets.get(bucketName);
  if (!bucket) {
    throw new OciError(
      404,
      "BucketNotFound",
      `Either the bucket named '${bucketName}' does not exist in the namespace '${namespace}' or you are not authorized to access it`,
    );
  }
  return bucket;
}

function findObject(bucket: Bucket, name: string): StoredObject {
  const object = bucket.objects.get(name);
  if (!object) {
    throw new OciError(
      404,
      "ObjectNotFound",
      `The object '${name}' was not found in the bucket '${bucket.name}'`,
    );
  }
  return object;
}

function checkObjectName(name: string): void {
  if (name.length === 0) throw invalidParameter("The object name must not be empty");
  if (utf8(name).length > OBJECT_NAME_MAX_BYTES) {
    throw invalidParameter(`The object name must be at most ${OBJECT_NAME_MAX_BYTES} bytes long`);
  }
}

function durationMs(duration: NonNullable<RetentionRuleOption["duration"]>): number {
  return duration.timeAmount * (duration.timeUnit === "DAYS" ? DAY_MS : 365 * DAY_MS);
}

/**
 * A time-bound rule protects an object until last-modified + duration; an
 * indefinite rule (no duration) protects it for ever. Oracle's "Object Storage
 * Data Retention Rules": the duration applies to each object's Last Modified.
 */
function checkRetention(bucket: Bucket, object: StoredObject, action: "overwritten" | "deleted"): void {
  const now = Date.now();
  for (const rule of bucket.retentionRules) {
    const until = rule.duration ? object.lastModified + durationMs(rule.duration) : Infinity;
    if (until > now) {
      const when = until === Infinity ? "indefinitely" : `until ${isoTime(until)}`;
      throw new OciError(
        RETENTION_ERROR.status,
        RETENTION_ERROR.code,
        `The object '${object.name}' cannot be ${action}: it is protected ${when} by retention rule '${rule.displayName}' (${rule.id}) of bucket '${bucket.name}'`,
      );
    }
  }
}

function storeObject(
  state: State,
  bucket: Bucket,
  name: string,
  bytes: Bytes,
  fields: Partial<StoredObject> = {},
): StoredObject {
  const now = Date.now();
  const object: StoredObject = {
    name,
    bytes,
    metadata: {},
    contentType: "application/octet-stream",
    ...fields,
    md5: toBase64(digest("md5", bytes)),
    etag: randomUuid(state.idRandom),
    versionId: randomUuid(state.idRandom),
    timeCreated: now,
    lastModified: now,
  };
  if (!bucket.objects.has(name)) bucket.sortedNames = undefined;
  bucket.objects.set(name, object);
  return object;
}

function objectHeaders(object: StoredObject): Record<string, string> {
  const headers: Record<string, string> = {
    "etag": object.etag,
    "content-md5": object.md5,
    "last-modified": new Date(object.lastModified).toUTCString(),
    "accept-ranges": "bytes",
    "storage-tier": "Standard",
    "version-id": object.versionId,
    "content-type": object.contentType,
  };
  const optional = {
    "content-encoding": object.contentEncoding,
    "content-language": object.contentLanguage,
    "content-disposition": object.contentDisposition,
    "cache-control": object.cacheControl,
  };
  for (const [name, value] of Object.entries(optional)) if (value !== undefined) headers[name] = value;
  for (const [key, value] of Object.entries(object.metadata)) headers[`opc-meta-${key}`] = value;
  return headers;
}

function getNamespace(state: State): Reply {
  return jsonReply(200, state.namespace);
}

/**
 * PutObject. Preconditions come first (`if-none-match: *`, `if-match`), then
 * the retention rules of an object that would be overwritten; `content-md5`
 * and `opc-content-sha256` are checked against the bytes received.
 */
function putObject(state: State, request: Request, body: Bytes, params: Params, race: boolean): Reply {
  const bucket = findBucket(state, params.namespace, params.bucket);
  checkObjectName(params.object);
  const ifNoneMatch = request.headers.get("if-none-match");
  const ifMatch = request.headers.get("if-match");
  if (ifNoneMatch !== null && ifNoneMatch !== "*") {
    throw invalidParameter("The only valid value of the if-none-match header is '*'");
  }
  const md5 = toBase64(digest("md5", body));
  const contentMd5 = request.headers.get("content-md5");
  if (contentMd5 !== null && contentMd5 !== md5) {
    // Wording from the PutObject documentation of the content-md5 header.
    throw new OciError(
      400,
      "UnmatchedContentMD5",
      `The computed MD5 of the request body (${md5}) does not match the Content-MD5 header (${contentMd5})`,
    );
  }
  const contentSha256 = request.headers.get("opc-content-sha256");
  if (contentSha256 !== null && contentSha256 !== toBase64(digest("sha256", body))) {
    throw new OciError(
      400,
      "UnmatchedContentSha256",
      "The computed SHA256 of the request body does not match the opc-content-sha256 header",
    );
  }
  let existing = bucket.objects.get(params.object);
  if (ifNoneMatch === "*") {
    if (!existing && race) existing = writeCompetingObject(state, bucket, params.object);
    if (existing) {
      state.stats.conditionalPutConflicts++;
      throw new OciError(
        412,
        "IfNoneMatchFailed",
        `The If-None-Match header is '*' but there is an existing entity named '${params.object}'`,
      );
    }
  }
  if (ifMatch !== null && (!existing || (ifMatch !== "*" && ifMatch !== existing.etag))) {
    state.stats.conditionalPutConflicts++;
    throw new OciError(
      412,
      "IfMatchFailed",
      `The If-Match header is '${ifMatch}' but the current entity tag is '${existing?.etag ?? "(none)"}'`,
    );
  }
  if (existing) checkRetention(bucket, existing, "overwritten");
  const metadata: Record<string, string> = {};
  for (const [name, value] of request.headers) {
    if (name.startsWith("opc-meta-")) metadata[name.slice("opc-meta-".length)] = value;
  }
  const optional = (name: string) => request.headers.get(name) ?? undefined;
  const object = storeObject(state, bucket, params.object, body, {
    metadata,
    contentType: optional("content-type") ?? "application/octet-stream",
    contentEncoding: optional("content-encoding"),
    contentLanguage: optional("content-language"),
    contentDisposition: optional("content-disposition"),
    cacheControl: optional("cache-control"),
  });
  return {
    status: 200,
    headers: {
      "etag": object.etag,
      "opc-content-md5": object.md5,
      "last-modified": new Date(object.lastModified).toUTCString(),
      "version-id": object.versionId,
    },
  };
}

/** The 412 race: another instance commits the same name first, with its own bytes. */
function writeCompetingObject(state: State, bucket: Bucket, name: string): StoredObject {
  state.stats.faultsInjected++;
  const bytes = utf8(`${JSON.stringify({ competingWriter: randomUuid(state.idRandom), object: name })}\n`);
  return storeObject(state, bucket, name, bytes, {
    contentType: "application/json",
    metadata: { "emulator-competing-write": "true" },
  });
}

interface ByteRange {
  start: number;
  end: number;
}

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` (RFC 9110 §14.1.2); one range only. */
function parseRange(header: string, size: number): ByteRange {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const unsatisfiable = () =>
    new OciError(
      416,
      "InvalidRange",
      `The range '${header}' cannot be satisfied for an object of ${size} bytes`,
    );
  if (!match || (match[1] === "" && match[2] === "")) throw unsatisfiable();
  if (match[1] === "") {
    const length = Number(match[2]);
    if (length === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) throw unsatisfiable();
  return { start, end };
}

function getObject(state: State, request: Request, params: Params): Reply {
  const bucket = findBucket(state, params.namespace, params.bucket);
  const object = findObject(bucket, params.object);
  const headers = objectHeaders(object);
  const ifMatch = request.headers.get("if-match");
  if (ifMatch !== null && ifMatch !== "*" && ifMatch !== object.etag) {
    throw new OciError(
      412,
      "IfMatchFailed",
      `The If-Match header is '${ifMatch}' but the current entity tag is '${object.etag}'`,
    );
  }
  const ifNoneMatch = request.headers.get("if-none-match");
  if (ifNoneMatch !== null && (ifNoneMatch === "*" || ifNoneMatch === object.etag)) {
    return { status: 304, headers: { etag: object.etag } };
  }
  const contentType = headers["content-type"];
  delete headers["content-type"];
  const rangeHeader = request.headers.get("range");
  if (rangeHeader === null) {
    return {
      status: 200,
      body: object.bytes,
      contentType,
      headers: { ...headers, "content-length": String(object.bytes.length) },
    };
  }
  const range = parseRange(rangeHeader, object.bytes.length);
  const slice = object.bytes.slice(range.start, range.end + 1);
  return {
    status: 206,
    body: slice,
    contentType,
    headers: {
      ...headers,
      "content-length": String(slice.length),
      "content-range": `bytes ${range.start}-${range.end}/${object.bytes.length}`,
    },
  };
}

function headObject(state: State, request: Request, params: Params): Reply {
  const reply = getObject(state, request, params);
  return { status: reply.status, contentType: reply.contentType, headers: reply.headers };
}

function deleteObject(state: State, request: Request, params: Params): Reply {
  const bucket = findBucket(state, params.namespace, params.bucket);
  const object = findObject(bucket, params.object);
  const ifMatch = request.headers.get("if-match");
  if (ifMatch !== null && ifMatch !== "*" && ifMatch !== object.etag) {
    throw new OciError(
      412,
      "IfMatchFailed",
      `The If-Match header is '${ifMatch}' but the current entity tag is '${object.etag}'`,
    );
  }
  checkRetention(bucket, object, "deleted");
  bucket.objects.delete(object.name);
  bucket.sortedNames = undefined;
  return { status: 204, headers: { "last-modified": new Date().toUTCString() } };
}

const OBJECT_SUMMARY_FIELDS = [
  "name",
  "size",
  "etag",
  "md5",
  "timeCreated",
  "timeModified",
  "storageTier",
  "archivalState",
];

function sortedNames(bucket: Bucket): string[] {
  bucket.sortedNames ??= [...bucket.objects.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return bucket.sortedNames;
}

function firstIndexAtOrAfter(names: readonly string[], bound: string, inclusive: boolean): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (inclusive ? names[middle] >= bound : names[middle] > bound) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * ListObjects. Only `name` is returned unless `fields` asks for more (the API
 * reference: "By default, only the name field is included"). With the `/`
 * delimiter, names below the next `/` after the prefix collapse into
 * `prefixes`, each counting once toward `limit`. `nextStartWith` is the first
 * name not returned. `start` "Returns object names which are lexicographically
 * greater than or equal to this parameter", `startAfter` those "strictly
 * greater", `end` those "strictly less" (API reference ListObjects;
 * oci-objectstorage lib/request/list-objects-request.d.ts).
 */
function listObjects(state: State, query: Map<string, string>, params: Params): Reply {
  const bucket = findBucket(state, params.namespace, params.bucket);
  const prefix = query.get("prefix") ?? "";
  const end = query.get("end");
  const delimiter = query.get("delimiter");
  if (delimiter !== undefined && delimiter !== "/") {
    throw invalidParameter("The only supported delimiter is '/'");
  }
  const limit = Math.min(
    parseIntegerParam(query, "limit", 1, LIST_OBJECTS_MAX_LIMIT) ?? LIST_OBJECTS_MAX_LIMIT,
    state.listObjectsPageSize,
  );
  const fields = (query.get("fields") ?? "name").split(",").map((field) => field.trim()).filter(Boolean);
  const unknown = fields.filter((field) => !OBJECT_SUMMARY_FIELDS.includes(field));
  if (unknown.length > 0) throw invalidParameter(`Unknown fields: ${unknown.join(", ")}`);

  const names = sortedNames(bucket);
  let index = firstIndexAtOrAfter(names, prefix, true);
  const start = query.get("start");
  if (start !== undefined) index = Math.max(index, firstIndexAtOrAfter(names, start, true));
  const startAfter = query.get("startAfter");
  if (startAfter !== undefined) index = Math.max(index, firstIndexAtOrAfter(names, startAfter, false));

  const objects: Record<string, unknown>[] = [];
  const prefixes: string[] = [];
  let nextStartWith: string | undefined;
  for (; index < names.length; index++) {
    const name = names[index];
    if (!name.startsWith(prefix) || (end !== undefined && name >= end)) break;
    const cut = delimiter ? name.indexOf(delimiter, prefix.length) : -1;
    const collapsed = cut >= 0 ? name.slice(0, cut + 1) : undefined;
    if (collapsed !== undefined && collapsed === prefixes.at(-1)) continue;
    if (objects.length + prefixes.length === limit) {
      nextStartWith = name;
      break;
    }
    if (collapsed !== undefined) prefixes.push(collapsed);
    else objects.push(objectSummary(bucket.objects.get(name)!, fields));
  }
  state.stats.listedEntries += objects.length + prefixes.length;
  return jsonReply(200, {
    objects,
    ...(delimiter ? { prefixes } : {}),
    ...(nextStartWith !== undefined ? { nextStartWith } : {}),
  });
}

function objectSummary(object: StoredObject, fields: readonly string[]): Record<string, unknown> {
  const all: Record<string, unknown> = {
    name: object.name,
    size: object.bytes.length,
    etag: object.etag,
    md5: object.md5,
    timeCreated: isoTime(object.timeCreated),
    timeModified: isoTime(object.lastModified),
    storageTier: "Standard",
  };
  return Object.fromEntries(Object.entries(all).filter(([key]) => key === "name" || fields.includes(key)));
}

/**
 * ListRetentionRules: `{items: [...]}` paged with `opc-next-page`, the next request passing it as `page`
 * (API reference ListRetentionRules; docs/oracle/oci-apis.md, "Object Storage"); the page size is the bucket's
 * `retentionRulesPageSize` (undocumented: one page when unset).
 */
function listRetentionRules(state: State, query: Map<string, string>, params: Params): Reply {
  const bucket = findBucket(state, params.namespace, params.bucket);
  const refused = {
    403: ["NotAuthorized", "You are not authorized to read the retention rules of this bucket"],
    404: ["NotAuthorizedOrNotFound", `Retention rules of ${bucket.name} not found or not authorized`],
    501: ["MethodNotImplemented", "ListRetentionRules is not implemented"],
  } as const;
  if (bucket.retentionRulesStatus) {
    const [code, message] = refused[bucket.retentionRulesStatus];
    throw new OciError(bucket.retentionRulesStatus, code, message);
  }
  const page = query.get("page");
  const token = page === undefined ? undefined : decodePageToken(page, isRetentionRulesPageToken);
  if (token && token.b !== bucket.name) throw invalidParameter("The page token belongs to another bucket");
  const first = token?.i ?? 0;
  const last = Math.min(bucket.retentionRules.length, first + (bucket.retentionRulesPageSize ?? Infinity));
  const next = last < bucket.retentionRules.length
    ? { "opc-next-page": encodePageToken({ b: bucket.name, i: last }) }
    : undefined;
  return jsonReply(200, {
    items: bucket.retentionRules.slice(first, last).map((rule) => ({
      id: rule.id,
      displayName: rule.displayName,
      ...(rule.duration ? { duration: rule.duration } : {}),
      etag: rule.etag,
      ...(rule.timeRuleLocked ? { timeRuleLocked: rule.timeRuleLocked } : {}),
      timeCreated: isoTime(rule.timeCreated),
      timeModified: isoTime(rule.timeCreated),
    })),
  }, next);
}

function isRetentionRulesPageToken(value: unknown): value is { b: string; i: number } {
  const token = value as { b: string; i: number };
  return typeof token === "object" && token !== null && typeof token.b === "string" &&
    Number.isInteger(token.i) && token.i >= 0;
}

// ---------------------------------------------------------------- Vault: secrets and KMS

function getSecretBundle(state: State, query: Map<string, string>, params: Params): Reply {
  const content = state.secrets.get(params.secretId);
  const versionNumber = query.get("versionNumber");
  const stage = query.get("stage");
  // One version per secret: version 1, stages CURRENT and LATEST.
  if (
    content === undefined || (versionNumber !== undefined && versionNumber !== "1") ||
    (stage !== undefined && stage !== "CURRENT" && stage !== "LATEST")
  ) {
    throw new OciError(
      404,
      "NotAuthorizedOrNotFound",
      `Secret bundle for '${params.secretId}' not found or not authorized`,
    );
  }
  return jsonReply(200, {
    secretId: params.secretId,
    versionNumber: 1,
    stages: ["CURRENT", "LATEST"],
    timeCreated: isoTime(0),
    secretBundleContent: { contentType: "BASE64", content: toBase64(utf8(content)) },
  });
}

function parseJsonBody(body: Bytes): Record<string, unknown> {
  try {
    const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    // falls through to the 400
  }
  throw new OciError(400, "CannotParseRequest", "The request body is not a JSON object");
}

/** A Vault key: its versions, oldest first; the newest is current (a rotation adds one). */
interface KmsKey {
  versions: { id: string; privateKey: KeyObject; timeCreated: number }[];
}

function kmsKeyVersion(keyId: string, privateKey: KeyObject, number: number) {
  const id = `${keyId.replace(/^ocid1\.key\./, "ocid1.keyversion.")}.v${number}`;
  return { id, privateKey, timeCreated: Date.now() };
}

/** 404 `NotAuthorizedOrNotFound` for an unknown key or version (API errors reference: "not found, or not authorized"). */
function kmsKeyOf(state: State, keyId: string): KmsKey {
  const key = state.kmsKeys.get(keyId);
  if (!key) throw new OciError(404, "NotAuthorizedOrNotFound", `Key '${keyId}' not found or not authorized`);
  return key;
}

function kmsVersionOf(state: State, keyId: string, versionId: string | undefined) {
  const key = kmsKeyOf(state, keyId);
  const version = versionId === undefined
    ? key.versions.at(-1)
    : key.versions.find((v) => v.id === versionId);
  if (!version) {
    throw new OciError(
      404,
      "NotAuthorizedOrNotFound",
      `Key version '${versionId}' not found or not authorized`,
    );
  }
  return version;
}

const vaultIdOf = (keyId: string) => keyId.replace(/^ocid1\.key\./, "ocid1.vault.");
const publicPemOf = (privateKey: KeyObject) =>
  createPublicKey(privateKey).export({ type: "spki", format: "pem" }) as string;

/**
 * KMS management `GetKey` (`GET /20180608/keys/{keyId}` on the vault's management endpoint): the Key model
 * of oci-keymanagement 2.139.1 (lib/model/key.d.ts; required: compartmentId, currentKeyVersion, displayName,
 * id, keyShape, lifecycleState, timeCreated, vaultId). keyShape.length is in bytes (key-shape.d.ts: RSA 256,
 * 384 or 512). https://docs.oracle.com/iaas/api/#/en/key/release/Key/GetKey
 */
function kmsGetKey(state: State, params: Params): Reply {
  const key = kmsKeyOf(state, params.keyId);
  const current = key.versions.at(-1)!;
  return jsonReply(200, {
    compartmentId: state.tenancy,
    currentKeyVersion: current.id,
    displayName: "checkpoint-signing",
    id: params.keyId,
    keyShape: {
      algorithm: "RSA",
      length: (current.privateKey.asymmetricKeyDetails?.modulusLength ?? 2048) / 8,
    },
    protectionMode: "HSM",
    lifecycleState: "ENABLED",
    timeCreated: isoTime(key.versions[0].timeCreated),
    vaultId: vaultIdOf(params.keyId),
  });
}

/**
 * KMS management `GetKeyVersion` (`GET /20180608/keys/{keyId}/keyVersions/{keyVersionId}`): the KeyVersion
 * model (lib/model/key-version.d.ts: "publicKey — The public key in PEM format. (This value pertains only to
 * RSA and ECDSA keys.)"); Oracle: "Use the GetKeyVersion API with the Management Endpoint to get the public
 * key in PEM format for RSA and ECDSA keys" (https://docs.oracle.com/en-us/iaas/Content/KeyManagement/Tasks/usingkeys_topic-To_view_the_public_key_of_an_asymmetric_key.htm).
 */
function kmsGetKeyVersion(state: State, params: Params): Reply {
  const version = kmsVersionOf(state, params.keyId, params.keyVersionId);
  return jsonReply(200, {
    compartmentId: state.tenancy,
    id: version.id,
    keyId: params.keyId,
    publicKey: publicPemOf(version.privateKey),
    lifecycleState: "ENABLED",
    origin: "INTERNAL",
    timeCreated: isoTime(version.timeCreated),
    vaultId: vaultIdOf(params.keyId),
  });
}

/** KMS `sign` with RSASSA-PKCS1-v1_5 SHA-256: RAW messages are hashed here, DIGESTs are signed as given. */
function kmsSign(state: State, body: Bytes): Reply {
  const details = parseJsonBody(body);
  for (const name of ["keyId", "message", "signingAlgorithm"]) {
    if (typeof details[name] !== "string") throw missingParameter(name);
  }
  const keyId = details.keyId as string;
  if (details.keyVersionId !== undefined && typeof details.keyVersionId !== "string") {
    throw invalidParameter("keyVersionId must be a string");
  }
  // "keyVersionId — The OCID of the key version used to sign the message" (SignDataDetails); else the current.
  const version = kmsVersionOf(state, keyId, details.keyVersionId as string | undefined);
  const key = version.privateKey;
  if (details.signingAlgorithm !== "SHA_256_RSA_PKCS1_V1_5") {
    throw invalidParameter(`signingAlgorithm ${details.signingAlgorithm} is not supported by this key`);
  }
  const messageType = details.messageType ?? "RAW";
  const message = fromBase64(details.message as string);
  if (!message) throw invalidParameter("message must be base64");
  let signature: Uint8Array;
  if (messageType === "RAW") {
    if (message.length > KMS_MAX_MESSAGE_BYTES) {
      throw invalidParameter(`message must be at most ${KMS_MAX_MESSAGE_BYTES} bytes: sign a DIGEST instead`);
    }
    signature = nodeSign("sha256", message, key);
  } else if (messageType === "DIGEST") {
    if (message.length !== 32) throw invalidParameter("a SHA-256 DIGEST message must be 32 bytes");
    signature = privateEncrypt(
      { key, padding: cryptoConstants.RSA_PKCS1_PADDING },
      concatBytes([SHA256_DIGEST_INFO_PREFIX, message]),
    );
  } else {
    throw invalidParameter(`messageType must be RAW or DIGEST: current value is ${messageType}`);
  }
  state.kmsSignatures.push({ keyId, keyVersionId: version.id, messageType: messageType as string });
  return jsonReply(200, {
    keyId,
    keyVersionId: version.id,
    signature: toBase64(signature),
    signingAlgorithm: "SHA_256_RSA_PKCS1_V1_5",
  });
}

// ---------------------------------------------------------------- Audit

/** How an event's wire text is serialised (tests/emulators/wire.ts): both escape styles, and plain. */
export type AuditWireStyle = WireStyle;

const generatedAudit = new WeakMap<AuditCloudEvent, { processedAt: number; style: AuditWireStyle }>();

/**
 * The processing time `generateAuditEvents` gave `event` (epoch ms); an event built by hand is processed at
 * its `eventTime`. `listEvents` selects on this time (ListEvents: "Returns events that were processed at or
 * after this start date and time" / "…processed before this end date and time").
 */
export function processingTimeOf(event: AuditCloudEvent): number {
  return generatedAudit.get(event)?.processedAt ?? Date.parse(event.eventTime);
}

/** The exact JSON text `listEvents` sends for `event` (its generated wire style, else plain `JSON.stringify`). */
export function wireTextOf(event: AuditCloudEvent): string {
  return renderWire(event, generatedAudit.get(event)?.style ?? PLAIN_WIRE);
}

interface StoredAuditEvent {
  /** Processing time (epoch ms): the basis of `startTime`/`endTime`, the order and the page cursor. */
  time: number;
  event: AuditCloudEvent;
  /** Indexed late: not listed before this time (epoch ms), although processed earlier. */
  listableAt?: number;
}

function compareAudit(a: StoredAuditEvent, b: StoredAuditEvent): number {
  return a.time - b.time ||
    (a.event.eventId < b.event.eventId ? -1 : a.event.eventId > b.event.eventId ? 1 : 0);
}

function lowerBound<T>(items: readonly T[], isAtOrAfter: (item: T) => boolean): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isAtOrAfter(items[middle])) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * Audit events per compartment in (processing time, eventId) order. An event is listable once now ≥ its
 * processing time + the visibility lag, so the listable events of a compartment are always a prefix of its
 * sorted list, and a page cursor never skips an event that becomes listable after it was handed out.
 */
class AuditStore {
  #byCompartment = new Map<string, StoredAuditEvent[]>();
  #unsorted = new Set<string>();
  #byId = new Map<string, StoredAuditEvent>();
  /** Whether an eventId may be added again with another body (`auditRepeatedIds`). */
  allowRepeatedIds = false;

  /** Stores events; `processedAt` maps each event's own processing time to the one it gets. */
  add(events: AuditCloudEvent[], processedAt: (own: number) => number, listableAt?: number): void {
    const batch = events.map((event) => {
      const time = typeof event.eventTime === "string" ? parseRfc3339(event.eventTime) : undefined;
      if (!time) {
        throw new TypeError(`Audit event ${event.eventId} has no RFC 3339 eventTime: ${event.eventTime}`);
      }
      if (typeof event.data?.compartmentId !== "string") {
        throw new TypeError(`Audit event ${event.eventId} has no data.compartmentId`);
      }
      // A repeated event would blur the no-duplicates checks made against this truth.
      if (this.#byId.has(event.eventId) && !this.allowRepeatedIds) {
        throw new TypeError(`Audit event ${event.eventId} is added twice`);
      }
      const stored = { time: processedAt(processingTimeOf(event)), event, listableAt };
      this.#byId.set(event.eventId, stored);
      return stored;
    });
    for (const stored of batch) {
      const compartment = stored.event.data.compartmentId;
      let list = this.#byCompartment.get(compartment);
      if (!list) this.#byCompartment.set(compartment, list = []);
      list.push(stored);
      this.#unsorted.add(compartment);
    }
  }

  /** Every event of one compartment, listable or not yet, sorted. */
  sorted(compartmentId: string): StoredAuditEvent[] {
    const list = this.#byCompartment.get(compartmentId) ?? [];
    if (this.#unsorted.delete(compartmentId)) list.sort(compareAudit);
    return list;
  }

  get(eventId: string): StoredAuditEvent {
    const stored = this.#byId.get(eventId);
    if (!stored) throw new TypeError(`The emulator has no Audit event ${eventId}`);
    return stored;
  }
}

/** What a ListEvents query asks for: a compartment's events processed in [s, e). A page token carries it. */
interface AuditRange {
  c: string;
  s: number;
  e: number;
}

/** `auditPaging: "cursor"`: the (processing time, eventId) of the last event sent. */
interface AuditCursorToken extends AuditRange {
  t: number;
  i: string;
}

/** `auditPaging: "offset"`: the position of the range's events the next page starts at. */
interface AuditOffsetToken extends AuditRange {
  o: number;
}

function isAuditRange(value: unknown): value is AuditRange {
  const token = value as AuditRange;
  return typeof token === "object" && token !== null && typeof token.c === "string" &&
    typeof token.s === "number" && typeof token.e === "number";
}

function isAuditCursorToken(value: unknown): value is AuditCursorToken {
  const token = value as AuditCursorToken;
  return isAuditRange(token) && typeof token.t === "number" && typeof token.i === "string";
}

function isAuditOffsetToken(value: unknown): value is AuditOffsetToken {
  const token = value as AuditOffsetToken;
  return isAuditRange(token) && Number.isInteger(token.o) && token.o >= 0;
}

/** The token continues `range`, or the request is a 400. */
function checkTokenRange(token: AuditRange, range: AuditRange): void {
  if (token.c !== range.c || token.s !== range.s || token.e !== range.e) {
    throw invalidParameter("The page token belongs to another query");
  }
}

function parseAuditTime(query: Map<string, string>, name: string): number {
  const text = query.get(name);
  if (text === undefined) throw missingParameter(name);
  const parsed = parseRfc3339(text);
  if (!parsed) throw invalidParameter(`'${name}' must be an RFC 3339 date-time: current value is ${text}`);
  // "You can specify a value with granularity to the minute. Seconds (and
  // milliseconds, if included) must be set to 0." (ListEvents, endTime/startTime)
  if (parsed.hasSeconds) {
    throw invalidParameter(`'${name}' must have seconds and milliseconds set to 0: current value is ${text}`);
  }
  return parsed.ms;
}

/** 404 as every OCI service answers a resource the caller may not see: "not found, or you are not authorized". */
function notAuthorizedOrNotFound(what: string): OciError {
  return new OciError(
    404,
    "NotAuthorizedOrNotFound",
    `Authorization failed or requested resource not found: ${what}`,
  );
}

/**
 * Page size of one ListEvents answer. ListEvents has no page-size parameter and a page can hold thousands of
 * events (docs/oracle/oci-apis.md; oracle/oci-java-sdk#46 reports ~20,000 in one page); how the service sizes
 * pages is undocumented, so it varies per request: a quarter of the pages small (≤ 50), the rest up to the
 * max.
 */
function auditPageSize(state: State): number {
  if (state.auditPageSize !== undefined) return state.auditPageSize;
  const random = state.auditPageRandom;
  return random() < 0.25
    ? 1 + Math.floor(random() * Math.min(50, state.auditMaxPageSize))
    : 1 + Math.floor(random() * state.auditMaxPageSize);
}

/**
 * ListEvents: the events of exactly one compartment (no sub-compartments: "Returns all the audit events
 * processed for the specified compartment", oci-audit client.js) *processed* in [startTime, endTime)
 * (ListEvents API reference: "processed at or after this start date and time", "processed before this end
 * date and time"), listable once now ≥ processing time + `auditVisibilityLagMs`, in processing-time order,
 * in pages with an opaque `opc-next-page` (a cursor or an offset: `auditPaging`), sent only when listable
 * events remain ("When this header appears in the response, it means you received a partial list and there
 * are more results", oci-audit lib/response/list-events-response.d.ts): a compartment with none in the range
 * gets `[]` and no token. The body is the events' stored wire texts joined into one array, not a re-serialisation, so nulls,
 * member order and escapes reach the client as sent.
 */
function listEvents(state: State, query: Map<string, string>): Reply {
  const compartmentId = query.get("compartmentId");
  if (compartmentId === undefined) throw missingParameter("compartmentId");
  const start = parseAuditTime(query, "startTime");
  const end = parseAuditTime(query, "endTime");
  if (end <= start) throw invalidParameter("endTime must be after startTime");
  if (state.unreadableCompartments.has(compartmentId)) {
    throw notAuthorizedOrNotFound(`audit events of compartment ${compartmentId}`);
  }
  const compartment = state.compartments.find((c) => c.id === compartmentId);
  if (compartment?.lifecycleState === "DELETED" && state.deletedCompartmentEvents === "404") {
    throw notAuthorizedOrNotFound(`audit events of compartment ${compartmentId}`);
  }
  const range = { c: compartmentId, s: start, e: end };
  const page = query.get("page");
  let { items, next } = state.auditPaging === "offset"
    ? offsetPage(state, range, page)
    : cursorPage(state, range, page);
  if (state.auditEmptyFirstPage && page === undefined && items.length) {
    // Continued from before the range's first event: processing times are after the epoch.
    next = state.auditPaging === "offset" ? { ...range, o: 0 } : { ...range, t: 0, i: "" };
    items = [];
  }
  const headers: Record<string, string> = next ? { "opc-next-page": encodePageToken(next) } : {};
  const body = `[${items.map((stored) => wireTextOf(stored.event)).join(",")}]`;
  return {
    status: 200,
    body: state.auditPrettyPages ? prettyPrint(body, state.auditPrettyPages) : body,
    contentType: "application/json",
    headers,
  };
}

/** One ListEvents page and the next page's token, if listable events remain. */
interface AuditPage {
  items: StoredAuditEvent[];
  next?: AuditCursorToken | AuditOffsetToken;
}

/** Where `range`'s listable events lie in `events` (the compartment's, sorted): [first, last). */
function listableSpan(state: State, range: AuditRange) {
  const events = state.audit.sorted(range.c);
  const listableUpTo = Date.now() - state.auditVisibilityLagMs;
  const listable = lowerBound(events, (stored) => stored.time > listableUpTo);
  const first = lowerBound(events, (stored) => stored.time >= range.s);
  const last = Math.max(first, Math.min(listable, lowerBound(events, (stored) => stored.time >= range.e)));
  return { events, first, last };
}

/** Whether an event indexed late (`listableAt`) is listed by now. */
const isIndexed = (stored: StoredAuditEvent) => (stored.listableAt ?? -Infinity) <= Date.now();

/** `auditPaging: "cursor"`: the page after the last (processing time, eventId) sent. */
function cursorPage(state: State, range: AuditRange, page: string | undefined): AuditPage {
  const cursor = page === undefined ? undefined : decodePageToken(page, isAuditCursorToken);
  if (cursor) checkTokenRange(cursor, range);
  const { events, first: inRange, last } = listableSpan(state, range);
  const afterCursor = cursor
    ? lowerBound(
      events,
      (stored) =>
        compareAudit(stored, { time: cursor.t, event: { eventId: cursor.i } as AuditCloudEvent }) > 0,
    )
    : 0;
  const first = Math.max(inRange, afterCursor);
  // Events indexed late are passed over until they are listable: a cursor past one never comes back to it.
  const pageSize = auditPageSize(state);
  const items: StoredAuditEvent[] = [];
  let next = first;
  for (; next < last && items.length < pageSize; next++) {
    if (isIndexed(events[next])) items.push(events[next]);
  }
  const lastReturned = items.at(-1);
  return {
    items,
    next: lastReturned && next < last
      ? { ...range, t: lastReturned.time, i: lastReturned.event.eventId }
      : undefined,
  };
}

/**
 * `auditPaging: "offset"`: the page at a position of the range's listable events, each group processed at the
 * same time ordered anew for this request (no order among them is documented), so consecutive pages may split
 * a group differently: one event sent twice for each one skipped.
 */
function offsetPage(state: State, range: AuditRange, page: string | undefined): AuditPage {
  const token = page === undefined ? { ...range, o: 0 } : decodePageToken(page, isAuditOffsetToken);
  checkTokenRange(token, range);
  const { events, first, last } = listableSpan(state, range);
  const listed = events.slice(first, last).filter(isIndexed);
  shuffleRuns(state.auditOrderRandom, listed);
  const items = listed.slice(token.o, token.o + auditPageSize(state));
  const end = token.o + items.length;
  return { items, next: items.length && end < listed.length ? { ...range, o: end } : undefined };
}

/**
 * Audit GetConfiguration: `GET /20190901/configuration?compartmentId=<tenancy>` → `{retentionPeriodDays}`
 * (oci-audit client.js `getConfiguration`: path "/configuration" under the "/20190901" endpoint, query
 * `compartmentId`; model/configuration.d.ts: "The minimum is 90, the maximum 365"). The API reference asks
 * for the tenancy (root compartment); what another compartment gets is undocumented: a 400 here (UNCONFIRMED).
 */
function getConfiguration(state: State, query: Map<string, string>): Reply {
  const compartmentId = query.get("compartmentId");
  if (compartmentId === undefined) throw missingParameter("compartmentId");
  if (!state.auditConfigurationReadable) {
    throw notAuthorizedOrNotFound(`audit configuration of ${compartmentId}`);
  }
  if (compartmentId !== state.tenancy) {
    throw invalidParameter(
      `compartmentId must be the tenancy (root compartment): current value is ${compartmentId}`,
    );
  }
  return jsonReply(200, { retentionPeriodDays: state.auditRetentionDays });
}

// ---------------------------------------------------------------- Identity

function isOffsetToken(value: unknown): value is { o: number; q: string } {
  const token = value as { o: number; q: string };
  return typeof token === "object" && token !== null && Number.isInteger(token.o) && token.o >= 0 &&
    typeof token.q === "string";
}

/**
 * ListCompartments. Direct children of `compartmentId`, ACTIVE and DELETED alike, or with
 * `compartmentIdInSubtree=true` the whole tree — accepted only when `compartmentId` is the tenancy: 400
 * otherwise ("Can only be set to true when performing ListCompartments on the tenancy", ListCompartments API
 * reference; docs/oracle/oci-apis.md, "OCI Audit").
 * Every lifecycle state is returned unless `lifecycleState` filters: the API
 * reference describes lifecycleState as "A filter to only return resources
 * that match the given lifecycle state".
 */
function listCompartments(state: State, query: Map<string, string>): Reply {
  const parent = query.get("compartmentId");
  if (parent === undefined) throw missingParameter("compartmentId");
  const inSubtree = query.get("compartmentIdInSubtree");
  if (inSubtree !== undefined && inSubtree !== "true" && inSubtree !== "false") {
    throw invalidParameter("compartmentIdInSubtree must be true or false");
  }
  const accessLevel = query.get("accessLevel");
  if (accessLevel !== undefined && accessLevel !== "ANY" && accessLevel !== "ACCESSIBLE") {
    throw invalidParameter("accessLevel must be ANY or ACCESSIBLE");
  }
  if (parent !== state.tenancy && !state.compartments.some((compartment) => compartment.id === parent)) {
    throw new OciError(404, "NotAuthorizedOrNotFound", `Compartment '${parent}' not found or not authorized`);
  }
  if (inSubtree === "true" && parent !== state.tenancy) {
    throw invalidParameter("compartmentIdInSubtree can only be true when compartmentId is the tenancy");
  }
  const lifecycleState = query.get("lifecycleState")?.toUpperCase();
  const name = query.get("name");
  const selected =
    (inSubtree === "true" ? subtree(state, parent) : state.compartments.filter((c) => c.parentId === parent))
      .filter((c) => lifecycleState === undefined || c.lifecycleState === lifecycleState)
      .filter((c) => name === undefined || c.name === name);
  const limit = parseIntegerParam(query, "limit", 1, IDENTITY_MAX_LIMIT) ?? IDENTITY_DEFAULT_LIMIT;
  const queryKey = [parent, inSubtree, lifecycleState, name].join("|");
  const page = query.get("page");
  const token = page === undefined ? { o: 0, q: queryKey } : decodePageToken(page, isOffsetToken);
  const offset = token.o;
  if (token.q !== queryKey) {
    throw invalidParameter("The page token belongs to another query");
  }
  const items = selected.slice(offset, offset + limit).map((c) => ({
    id: c.id,
    compartmentId: c.parentId,
    name: c.name,
    description: c.name,
    timeCreated: isoTime(c.timeCreated),
    lifecycleState: c.lifecycleState,
    isAccessible: true,
    freeformTags: {},
    definedTags: {},
  }));
  const next = offset + limit < selected.length
    ? { "opc-next-page": encodePageToken({ o: offset + limit, q: queryKey }) }
    : undefined;
  return jsonReply(200, items, next);
}

/** Every compartment whose ancestry reaches `rootId`, in the order they were given. */
function subtree(state: State, rootId: string): Compartment[] {
  const byId = new Map(state.compartments.map((c) => [c.id, c]));
  const reaches = (compartment: Compartment): boolean => {
    const seen = new Set<string>();
    for (let current: Compartment | undefined = compartment; current; current = byId.get(current.parentId)) {
      if (current.parentId === rootId) return true;
      if (seen.has(current.id)) return false;
      seen.add(current.id);
    }
    return false;
  };
  return state.compartments.filter(reaches);
}

// ---------------------------------------------------------------- Logging ingestion

function putLogs(state: State, body: Bytes, params: Params): Reply {
  const entries = state.logs.get(params.logId);
  if (!entries) {
    throw new OciError(404, "NotAuthorizedOrNotFound", `Log '${params.logId}' not found or not authorized`);
  }
  if (state.logRequestMaxBytes !== undefined && body.length > state.logRequestMaxBytes) {
    throw invalidParameter(
      `The request body is ${body.length} bytes, more than the ${state.logRequestMaxBytes} bytes allowed`,
    );
  }
  const details = parseJsonBody(body);
  if (details.specversion !== "1.0") {
    throw invalidParameter(`specversion must be "1.0": current value is ${details.specversion}`);
  }
  const batches = details.logEntryBatches;
  if (!Array.isArray(batches) || batches.length === 0) {
    throw invalidParameter("logEntryBatches must be a non-empty array");
  }
  const accepted: LogEntryView[] = [];
  for (const batch of batches as Record<string, unknown>[]) {
    for (const name of ["source", "type", "defaultlogentrytime"]) {
      if (typeof batch?.[name] !== "string") throw missingParameter(`logEntryBatches[].${name}`);
    }
    if (!parseRfc3339(batch.defaultlogentrytime as string)) {
      throw invalidParameter("defaultlogentrytime must be RFC 3339");
    }
    if (batch.subject !== undefined && typeof batch.subject !== "string") {
      throw invalidParameter("subject must be a string");
    }
    if (!Array.isArray(batch.entries) || batch.entries.length === 0) {
      throw invalidParameter("entries must be a non-empty array");
    }
    for (const entry of batch.entries as Record<string, unknown>[]) {
      if (typeof entry?.data !== "string") throw missingParameter("entries[].data");
      if (typeof entry.id !== "string") throw missingParameter("entries[].id");
      if (entry.time !== undefined && (typeof entry.time !== "string" || !parseRfc3339(entry.time))) {
        throw invalidParameter("entries[].time must be RFC 3339");
      }
      if (utf8(JSON.stringify(entry)).length > LOG_ENTRY_MAX_BYTES) {
        throw invalidParameter(`The log entry ${entry.id} is larger than 1 MB`);
      }
      accepted.push({
        id: truncateLogField(entry.id),
        time: (entry.time as string | undefined) ?? (batch.defaultlogentrytime as string),
        data: truncateLogField(entry.data),
        source: batch.source as string,
        type: batch.type as string,
        ...(batch.subject !== undefined ? { subject: batch.subject as string } : {}),
      });
    }
  }
  // All or nothing: a request refused halfway stores none of its entries.
  entries.push(...accepted);
  return { status: 200 };
}

// ---------------------------------------------------------------- instance and resource principals

function regionShortCode(region: string): string {
  const known: Record<string, string> = {
    "us-ashburn-1": "iad",
    "us-phoenix-1": "phx",
    "eu-frankfurt-1": "fra",
  };
  return known[region] ?? region;
}

/**
 * The instance's identity, as the metadata service serves it: a leaf
 * certificate whose subject holds `opc-tenant:<tenancy>` (what
 * AuthUtils.getTenantIdFromCertificate reads), its private key, and the
 * intermediate that signed it. Built on first use: key generation is slow.
 */
function instanceIdentity(state: State): InstanceIdentity {
  if (state.instance) return state.instance;
  const random = state.idRandom;
  const instanceId = `ocid1.instance.oc1.${regionShortCode(state.region)}.emulated${randomHex(random, 40)}`;
  const rootName: [string, string][] = [[OID.commonName, "PKISVC Identity Root (emulated)"], [
    OID.organization,
    "Oracle",
  ]];
  const intermediateName: [string, string][] = [
    [OID.commonName, "PKISVC Identity Intermediate r2 (emulated)"],
    [OID.organization, "Oracle"],
  ];
  const now = Date.now();
  const rootKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const intermediateKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const leafKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const intermediate = buildCertificate({
    serial: utf8(randomHex(random, 16)),
    issuer: rootName,
    subject: intermediateName,
    notBefore: now - DAY_MS,
    notAfter: now + 365 * DAY_MS,
    publicKey: intermediateKeys.publicKey,
    signingKey: rootKeys.privateKey,
    isCa: true,
  });
  const leaf = buildCertificate({
    serial: utf8(randomHex(random, 16)),
    issuer: intermediateName,
    subject: [
      [OID.commonName, instanceId],
      [OID.organizationalUnit, "opc-certtype:instance"],
      [OID.organizationalUnit, `opc-compartment:${state.tenancy}`],
      [OID.organizationalUnit, `opc-instance:${instanceId}`],
      [OID.organizationalUnit, `opc-tenant:${state.tenancy}`],
    ],
    notBefore: now - 60 * 60 * 1000,
    notAfter: now + 30 * DAY_MS,
    publicKey: leafKeys.publicKey,
    signingKey: intermediateKeys.privateKey,
    isCa: false,
  });
  state.instance = {
    instanceId,
    root: { key: rootKeys.publicKey, name: rootName },
    intermediate: { der: intermediate, key: intermediateKeys.publicKey },
    // The metadata service serves a PKCS#1 key ("BEGIN RSA PRIVATE KEY").
    leaf: {
      der: leaf,
      privateKeyPem: leafKeys.privateKey.export({ type: "pkcs1", format: "pem" }) as string,
    },
  };
  return state.instance;
}

/** `GET /opc/v2/instance/region` and `/opc/v2/identity/{cert,key,intermediate}.pem` (IMDS v2 needs the header). */
function instanceMetadata(state: State, request: Request, params: Params): Reply {
  if (request.headers.get("authorization") !== "Bearer Oracle") {
    return {
      status: 401,
      body: "Unauthorized: the header 'Authorization: Bearer Oracle' is required",
      contentType: "text/plain",
    };
  }
  const text = (body: string): Reply => ({ status: 200, body, contentType: "text/plain" });
  if (params.resource === "instance/region") return text(state.region);
  const identity = instanceIdentity(state);
  if (params.resource === "identity/cert.pem") return text(toPem("CERTIFICATE", identity.leaf.der));
  if (params.resource === "identity/intermediate.pem") {
    return text(toPem("CERTIFICATE", identity.intermediate.der));
  }
  return text(identity.leaf.privateKeyPem);
}

/**
 * `POST /v1/x509`: the body's leaf certificate must chain to the emulator's
 * root through one of `intermediateCertificates`, be current, name the tenancy
 * of the keyId, have the SHA-1 fingerprint of the keyId, and its key must have
 * signed the request (`<tenancy>/fed-x509/<fingerprint>`). Returns a session
 * token bound to `publicKey`.
 */
function federateX509(state: State, request: Request, body: Bytes): Reply {
  const identity = instanceIdentity(state);
  const parsed = parseAuthorization(request.headers.get("authorization"));
  const keyId = /^(.+)\/fed-x509\/([0-9A-Fa-f:]+)$/.exec(parsed.keyId);
  if (!keyId) throw notAuthenticated("the keyId must be <tenancy>/fed-x509/<certificate fingerprint>");
  checkSignedHeaders(request, parsed.headers, body, true);
  const details = parseJsonBody(body);
  if (details.purpose !== "DEFAULT") {
    throw invalidParameter(`purpose must be DEFAULT: current value is ${details.purpose}`);
  }
  const certificateDer = typeof details.certificate === "string"
    ? fromBase64(details.certificate)
    : undefined;
  const sessionKeyDer = typeof details.publicKey === "string" ? fromBase64(details.publicKey) : undefined;
  if (!certificateDer || !sessionKeyDer) {
    throw invalidParameter("certificate and publicKey must be base64 DER");
  }
  let leaf: ParsedCertificate;
  let sessionKey: KeyObject;
  try {
    leaf = parseCertificate(certificateDer);
    sessionKey = createPublicKey({ key: Buffer.from(sessionKeyDer), format: "der", type: "spki" });
  } catch (error) {
    throw notAuthenticated(`the certificate or public key cannot be parsed: ${(error as Error).message}`);
  }
  if (colonHex(digest("sha1", certificateDer)) !== keyId[2].toLowerCase()) {
    throw notAuthenticated("the keyId fingerprint is not the certificate's SHA-1 fingerprint");
  }
  const intermediates = Array.isArray(details.intermediateCertificates)
    ? details.intermediateCertificates
    : [];
  const chained = intermediates.some((text) => {
    const intermediateDer = typeof text === "string" ? fromBase64(text) : undefined;
    if (!intermediateDer) return false;
    try {
      const intermediate = parseCertificate(intermediateDer);
      return rsaVerify(identity.root.key, intermediate.tbs, intermediate.signature) &&
        rsaVerify(intermediate.publicKey, leaf.tbs, leaf.signature);
    } catch {
      return false;
    }
  });
  if (!chained) throw notAuthenticated("the certificate does not chain to a trusted root");
  const now = Date.now();
  if (now < leaf.notBefore || now > leaf.notAfter) {
    throw notAuthenticated("the certificate is not currently valid");
  }
  const tenant = leaf.subject.find((value) => value.startsWith("opc-tenant:"))?.slice("opc-tenant:".length);
  if (tenant !== state.tenancy || keyId[1] !== tenant) {
    throw notAuthenticated("the certificate's tenancy is not the keyId's tenancy or this tenancy");
  }
  verifySignatureWith(request, parsed, leaf.publicKey);
  const instanceId = leaf.subject.find((value) => value.startsWith("opc-instance:"))?.slice(
    "opc-instance:".length,
  );
  const token = state.authority.issue(
    {
      sub: instanceId,
      tenant: state.tenancy,
      "opc-tenant": state.tenancy,
      "opc-instance": instanceId,
      "opc-compartment": state.tenancy,
      "opc-certtype": "instance",
      ptype: "instance",
      ttype: "x509",
      jti: randomUuid(state.idRandom),
    },
    sessionKey,
    INSTANCE_TOKEN_TTL_SECONDS,
  );
  return jsonReply(200, { token });
}

// ---------------------------------------------------------------- routing

type Params = Record<string, string>;

type Operation =
  | "GetNamespace"
  | "ListObjects"
  | "GetObject"
  | "HeadObject"
  | "PutObject"
  | "DeleteObject"
  | "ListRetentionRules"
  | "GetSecretBundle"
  | "Sign"
  | "GetKey"
  | "GetKeyVersion"
  | "ListEvents"
  | "GetConfiguration"
  | "ListCompartments"
  | "PutLogs"
  | "InstanceMetadata"
  | "X509Federation";

interface Routed {
  operation: Operation;
  params: Params;
}

/** Percent-decodes one path parameter as the SDK encodes it (`encodeURIComponent`). */
function decodePathParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalidParameter(`The path parameter '${raw}' is not validly percent-encoded`);
  }
}

/** Maps a method and raw path to an operation; 404 NotFound / 405 MethodNotAllowed otherwise. */
function route(method: string, path: string): Routed {
  const found = (operation: Operation, params: Params = {}): Routed => ({ operation, params });
  const byMethod = (methods: Partial<Record<string, Operation>>, params: Params = {}): Routed => {
    const operation = methods[method];
    if (!operation) {
      throw new OciError(405, "MethodNotAllowed", `The method ${method} is not allowed on ${path}`);
    }
    return found(operation, params);
  };
  let match: RegExpExecArray | null;
  if (path === "/n" || path === "/n/") return byMethod({ GET: "GetNamespace" });
  if ((match = /^\/n\/([^/]+)\/b\/([^/]+)\/o\/?$/.exec(path))) {
    return byMethod({ GET: "ListObjects" }, {
      namespace: decodePathParam(match[1]),
      bucket: decodePathParam(match[2]),
    });
  }
  if ((match = /^\/n\/([^/]+)\/b\/([^/]+)\/o\/(.+)$/.exec(path))) {
    return byMethod(
      { GET: "GetObject", HEAD: "HeadObject", PUT: "PutObject", DELETE: "DeleteObject" },
      {
        namespace: decodePathParam(match[1]),
        bucket: decodePathParam(match[2]),
        object: decodePathParam(match[3]),
      },
    );
  }
  if ((match = /^\/n\/([^/]+)\/b\/([^/]+)\/retentionRules\/?$/.exec(path))) {
    return byMethod({ GET: "ListRetentionRules" }, {
      namespace: decodePathParam(match[1]),
      bucket: decodePathParam(match[2]),
    });
  }
  if ((match = /^\/20190301\/secretbundles\/([^/]+)$/.exec(path))) {
    return byMethod({ GET: "GetSecretBundle" }, { secretId: decodePathParam(match[1]) });
  }
  if (path === "/20180608/sign") return byMethod({ POST: "Sign" });
  // The management endpoint's paths (oci-keymanagement lib/client.js KmsManagementClient getKey, getKeyVersion).
  if ((match = /^\/20180608\/keys\/([^/]+)$/.exec(path))) {
    return byMethod({ GET: "GetKey" }, { keyId: decodePathParam(match[1]) });
  }
  if ((match = /^\/20180608\/keys\/([^/]+)\/keyVersions\/([^/]+)$/.exec(path))) {
    return byMethod({ GET: "GetKeyVersion" }, {
      keyId: decodePathParam(match[1]),
      keyVersionId: decodePathParam(match[2]),
    });
  }
  if (path === "/20190901/auditEvents") return byMethod({ GET: "ListEvents" });
  if (path === "/20190901/configuration") return byMethod({ GET: "GetConfiguration" });
  if (path === "/20160918/compartments") return byMethod({ GET: "ListCompartments" });
  if ((match = /^\/20200831\/logs\/([^/]+)\/actions\/push$/.exec(path))) {
    return byMethod({ POST: "PutLogs" }, { logId: decodePathParam(match[1]) });
  }
  if ((match = /^\/opc\/v2\/(instance\/region|identity\/(?:cert|key|intermediate)\.pem)$/.exec(path))) {
    return byMethod({ GET: "InstanceMetadata" }, { resource: match[1] });
  }
  if (path === "/v1/x509") return byMethod({ POST: "X509Federation" });
  throw new OciError(
    404,
    "NotFound",
    `There is no operation supported at the URI path and HTTP method you specified: ${method} ${path}`,
  );
}

/** Operations whose body is streamed and not signed (docs/oracle/oci-apis.md: PutObject and UploadPart). */
const UNSIGNED_BODY_OPERATIONS = new Set<Operation>(["PutObject"]);

/** Checks the signature of a service request against an API key or an issued session token. */
function authenticate(state: State, request: Request, body: Bytes, operation: Operation): void {
  const parsed = parseAuthorization(request.headers.get("authorization"));
  const bodySigned = ["POST", "PUT", "PATCH"].includes(request.method) &&
    !UNSIGNED_BODY_OPERATIONS.has(operation);
  checkSignedHeaders(request, parsed.headers, body, bodySigned);
  let key: KeyObject | undefined;
  // `ST$<token>`: a principal's or a user's session, signed with the session key the token carries (oci-common
  // lib/auth/abstract-requesting-authentication-detail-provider.js and session-auth-details-provider.js getKeyId).
  if (parsed.keyId.startsWith("ST$")) key = state.authority.sessionKey(parsed.keyId.slice(3));
  else key = state.apiKeys.get(parsed.keyId);
  if (!key) throw notAuthenticated(`the key ${parsed.keyId} is not known`);
  verifySignatureWith(request, parsed, key);
}

function handle(state: State, request: Request, routed: Routed, body: Bytes, race: boolean): Reply {
  const target = rawTarget(request);
  const question = target.indexOf("?");
  const query = parseQuery(question < 0 ? "" : target.slice(question + 1));
  const { params } = routed;
  switch (routed.operation) {
    case "GetNamespace":
      return getNamespace(state);
    case "ListObjects":
      return listObjects(state, query, params);
    case "GetObject":
      return getObject(state, request, params);
    case "HeadObject":
      return headObject(state, request, params);
    case "PutObject":
      return putObject(state, request, body, params, race);
    case "DeleteObject":
      return deleteObject(state, request, params);
    case "ListRetentionRules":
      return listRetentionRules(state, query, params);
    case "GetSecretBundle":
      return getSecretBundle(state, query, params);
    case "Sign":
      return kmsSign(state, body);
    case "GetKey":
      return kmsGetKey(state, params);
    case "GetKeyVersion":
      return kmsGetKeyVersion(state, params);
    case "ListEvents":
      return listEvents(state, query);
    case "GetConfiguration":
      return getConfiguration(state, query);
    case "ListCompartments":
      return listCompartments(state, query);
    case "PutLogs":
      return putLogs(state, body, params);
    case "InstanceMetadata":
      return instanceMetadata(state, request, params);
    case "X509Federation":
      return federateX509(state, request, body);
  }
}

// ---------------------------------------------------------------- server

function importApiKey(publicKey: CryptoKey | string): KeyObject {
  return typeof publicKey === "string" ? createPublicKey(publicKey) : KeyObject.from(publicKey);
}

function toCompartments(list: OciEmulatorOptions["compartments"], now: number): Compartment[] {
  return (list ?? []).map((c, index) => ({
    id: c.id,
    parentId: c.parentId,
    name: c.name,
    lifecycleState: c.lifecycleState ?? "ACTIVE",
    timeCreated: now - (list!.length - index) * 60_000,
  }));
}

function validateOptions(options: OciEmulatorOptions): void {
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

function createState(options: OciEmulatorOptions, seed: number): State {
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

/**
 * One request: route it, let the gateway fault it (429, 5xx: the service never
 * sees it), read the body, check the signature, let the service answer, wait
 * the latency, maybe cut the body. The instance metadata service is local to
 * the instance: it is neither signed nor faulted.
 */
/** The keyId of a request's signature, read without verifying it (for `onRequest`); "" when there is none. */
function keyIdOf(request: Request): string {
  return /keyId="([^"]*)"/.exec(request.headers.get("authorization") ?? "")?.[1] ?? "";
}

/** Closes the client's connection without an answer (through the relay); the response below is never sent. */
function droppedResponse(dropConnection: (() => void) | undefined): Response {
  if (!dropConnection) {
    throw new TypeError(
      "dropping a connection needs the relay: start the emulator with onRequest or dropAfterWork",
    );
  }
  dropConnection();
  return new Response(null, { status: 500 });
}

async function serveRequest(
  state: State,
  request: Request,
  dropConnection?: () => void,
): Promise<Response> {
  state.stats.requests++;
  const requestId = randomHex(state.idRandom, 32).toUpperCase();
  const target = rawTarget(request);
  const path = target.split("?")[0];
  let routed: Routed;
  try {
    routed = route(request.method, path);
  } catch (error) {
    if (!(error instanceof OciError)) throw error;
    return toResponse(errorReply(error), { kind: "none" }, requestId, request.method);
  }
  const { operation } = routed;
  state.stats.byOperation[operation] = (state.stats.byOperation[operation] ?? 0) + 1;
  if (state.onRequest) {
    const verdict = await state.onRequest({
      method: request.method,
      path,
      query: target.slice(path.length + 1),
      operation,
      keyId: keyIdOf(request),
      ...(routed.params.object !== undefined ? { objectName: routed.params.object } : {}),
    });
    if (verdict === "drop") return droppedResponse(dropConnection);
  }
  if (state.redirect?.operations.includes(operation)) {
    await request.body?.cancel();
    return new Response(null, {
      status: 302,
      headers: { location: state.redirect.to + target },
    });
  }
  const isMetadata = operation === "InstanceMetadata";
  const decision = isMetadata
    ? { fault: { kind: "none" } as Fault, race: false }
    : decideOciFault(state.faultRandom, state.faults);
  const { fault } = decision;
  if (fault.kind === "429" || fault.kind === "5xx") {
    state.stats.faultsInjected++;
    await delay(state.faults.latencyMs);
    return toResponse(gatewayFaultReply(fault), fault, requestId, request.method);
  }
  const body = new Uint8Array(await request.arrayBuffer()) as Bytes;
  let reply: Reply;
  try {
    if (!isMetadata && operation !== "X509Federation") {
      try {
        authenticate(state, request, body, operation);
      } catch (error) {
        if (error instanceof OciError && error.status === 401) state.stats.rejectedSignatures++;
        throw error;
      }
    }
    reply = handle(state, request, routed, body, decision.race);
  } catch (error) {
    if (!(error instanceof OciError)) throw error;
    if (operation === "X509Federation" && error.status === 401) state.stats.rejectedSignatures++;
    reply = errorReply(error);
  }
  if (!isMetadata) await delay(state.faults.latencyMs);
  const { dropAfterWork } = state.faults;
  if (dropAfterWork.operations.includes(operation) && state.dropRandom() < dropAfterWork.rate) {
    state.stats.faultsInjected++;
    return droppedResponse(dropConnection);
  }
  if (fault.kind === "reset" && cutsBody(reply, request.method)) {
    state.stats.faultsInjected++;
  }
  return toResponse(reply, fault, requestId, request.method);
}

/**
 * A TCP relay in front of the HTTP server, so the emulator can close one client's connection without an answer
 * (Deno.serve always sends a status line before it fails a body). Each client connection gets its own
 * upstream connection; the server sees the upstream's local port as the remote port, which names the pair.
 */
class Relay {
  #listener?: Deno.Listener;
  readonly #pairs = new Map<number, { client: Deno.Conn; upstream: Deno.Conn; done: Promise<unknown> }>();
  #accepting?: Promise<void>;

  /** Listens on 127.0.0.1:`port` and relays to `upstreamPort`; returns the port it listens on. */
  start(upstreamPort: number, port: number): number {
    const listener = this.#listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.#accepting = (async () => {
      try {
        for await (const client of listener) this.#relay(client, upstreamPort).catch(() => client.close());
      } catch {
        // the listener was closed
      }
    })();
    return (listener.addr as Deno.NetAddr).port;
  }

  async #relay(client: Deno.Conn, upstreamPort: number) {
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
    const key = (upstream.localAddr as Deno.NetAddr).port;
    const closeBoth = () => {
      this.#pairs.delete(key);
      for (const conn of [client, upstream]) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    };
    const copy = async (from: Deno.Conn, to: Deno.Conn) => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await from.read(buffer);
          if (n === null) break;
          let offset = 0;
          while (offset < n) offset += await to.write(buffer.subarray(offset, n));
        }
      } catch {
        // either side closed
      }
      closeBoth();
    };
    const done = Promise.all([copy(client, upstream), copy(upstream, client)]);
    this.#pairs.set(key, { client, upstream, done });
    await done;
  }

  /** Closes the client connection relayed through upstream local port `key`, before any answer reaches it. */
  drop(key: number) {
    const pair = this.#pairs.get(key);
    if (!pair) return;
    this.#pairs.delete(key);
    for (const conn of [pair.client, pair.upstream]) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  stopListening() {
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
  }

  async close() {
    this.stopListening();
    await this.#accepting;
    for (const key of [...this.#pairs.keys()]) this.drop(key);
  }
}

/** Starts the emulator on 127.0.0.1; resolves once it listens. */
export async function startOciEmulator(options: OciEmulatorOptions): Promise<OciEmulator> {
  validateOptions(options);
  const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
  const state = createState(options, seed);
  let resourcePrincipal: { privateKey: KeyObject; publicKey: KeyObject; id: string } | undefined;

  const relayed = options.onRequest !== undefined || options.faults?.dropAfterWork !== undefined;
  const listening = Promise.withResolvers<void>();
  const relay = relayed ? new Relay() : undefined;
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: relayed ? 0 : options.port ?? 0,
      onListen: () => listening.resolve(),
      onError: () => new Response(null, { status: 500 }),
    },
    (request, info) =>
      serveRequest(state, request, relay && (() => relay.drop((info.remoteAddr as Deno.NetAddr).port))),
  );
  await listening.promise;
  const port = relay ? relay.start(server.addr.port, options.port ?? 0) : server.addr.port;
  const url = `http://127.0.0.1:${port}`;

  const bucketOf = (name: string): Bucket => {
    const bucket = state.buckets.get(name);
    if (!bucket) throw new TypeError(`The emulator has no bucket named ${name}`);
    return bucket;
  };

  return {
    url,
    metadataBaseUrl: `${url}/opc/v2/`,
    federationEndpoint: url,
    userSessionToken: (user, sessionPublicKeyPem, { ttlSeconds = 3600 } = {}) =>
      state.authority.issue(
        {
          sub: user,
          tenant: state.tenancy,
          ptype: "user",
          ttype: "login",
          jti: randomUuid(state.idRandom),
        },
        createPublicKey(sessionPublicKeyPem),
        ttlSeconds,
      ),
    resourcePrincipalEnv: ({ ttlSeconds = 3600 } = {}) => {
      resourcePrincipal ??= {
        ...generateKeyPairSync("rsa", { modulusLength: 2048 }),
        id: `ocid1.computecontainerinstance.oc1.${regionShortCode(state.region)}.emulated${
          randomHex(state.idRandom, 40)
        }`,
      };
      const rpst = state.authority.issue(
        {
          sub: resourcePrincipal.id,
          res_id: resourcePrincipal.id,
          res_type: "computecontainerinstance",
          res_compartment: state.tenancy,
          res_tenant: state.tenancy,
          tenant: state.tenancy,
          ptype: "resource",
          ttype: "res",
          jti: randomUuid(state.idRandom),
        },
        resourcePrincipal.publicKey,
        ttlSeconds,
      );
      return {
        OCI_RESOURCE_PRINCIPAL_VERSION: "2.2",
        OCI_RESOURCE_PRINCIPAL_RPST: rpst,
        OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM: resourcePrincipal.privateKey.export({
          type: "pkcs8",
          format: "pem",
        }) as string,
        OCI_RESOURCE_PRINCIPAL_REGION: state.region,
      };
    },
    objects: (bucket) =>
      sortedNames(bucketOf(bucket)).map((name) => {
        const object = bucketOf(bucket).objects.get(name)!;
        return {
          name,
          bytes: object.bytes.slice(),
          metadata: { ...object.metadata },
          md5: object.md5,
          etag: object.etag,
          timeCreated: isoTime(object.timeCreated),
        };
      }),
    putObjectDirect: (bucket, name, bytes) => {
      const target = bucketOf(bucket);
      const existing = target.objects.get(name);
      storeObject(state, target, name, new Uint8Array(bytes) as Bytes, {
        metadata: { ...existing?.metadata },
        contentType: existing?.contentType ?? "application/octet-stream",
      });
    },
    deleteObjectDirect: (bucket, name) => {
      const target = bucketOf(bucket);
      if (target.objects.delete(name)) target.sortedNames = undefined;
    },
    logEntries: (logId) => {
      const entries = state.logs.get(logId);
      if (!entries) throw new TypeError(`The emulator has no log ${logId}`);
      return entries.map((entry) => ({ ...entry }));
    },
    addAuditEvents: (events, visibleAt) =>
      state.audit.add(events, (own) => visibleAt ?? Math.max(own, Date.now())),
    addLateAuditEvents: (events, { processedAt, listableAt }) =>
      state.audit.add(events, () => processedAt, listableAt),
    auditProcessedAt: (eventId) => state.audit.get(eventId).time,
    auditWireText: (eventId) => wireTextOf(state.audit.get(eventId).event),
    setCompartments: (compartments) => {
      state.compartments = toCompartments(compartments, Date.now());
    },
    setFaults: (faults) => {
      if (faults.dropAfterWork?.rate && !relay) {
        throw new TypeError(
          "dropAfterWork needs the relay: start the emulator with onRequest or dropAfterWork",
        );
      }
      state.faults = resolveFaults(faults, FAULT_MODEL);
    },
    rotateKmsKey: (keyId, privateKey) => {
      const key = kmsKeyOf(state, keyId);
      const version = kmsKeyVersion(keyId, KeyObject.from(privateKey), key.versions.length + 1);
      key.versions.push(version);
      return version.id;
    },
    kmsPublicKeyPem: (keyId, keyVersionId) =>
      publicPemOf(kmsVersionOf(state, keyId, keyVersionId).privateKey),
    kmsSignatures: () => state.kmsSignatures.map((signature) => ({ ...signature })),
    stats: state.stats,
    // shutdown() lets requests in flight finish; aborting a signal would reset their connections.
    close: async () => {
      relay?.stopListening();
      await server.shutdown();
      await relay?.close();
    },
  };
}

// ---------------------------------------------------------------- test data

/** Kinds of audited calls: CloudEvents type, source service, HTTP action, path template, resource kind. */
const AUDIT_KINDS = [
  ["com.oraclecloud.ComputeApi.GetInstance", "ComputeApi", "GET", "/20160918/instances/{id}", "instance"],
  ["com.oraclecloud.ComputeApi.LaunchInstance", "ComputeApi", "POST", "/20160918/instances", "instance"],
  [
    "com.oraclecloud.ComputeApi.TerminateInstance",
    "ComputeApi",
    "DELETE",
    "/20160918/instances/{id}",
    "instance",
  ],
  [
    "com.oraclecloud.VirtualNetworkApi.UpdateSecurityList",
    "VirtualNetworkApi",
    "PUT",
    "/20160918/securityLists/{id}",
    "securitylist",
  ],
  ["com.oraclecloud.objectstorage.createbucket", "ObjectStorage", "POST", "/n/{ns}/b", "bucket"],
  [
    "com.oraclecloud.objectstorage.getobject",
    "ObjectStorage",
    "GET",
    "/n/{ns}/b/{name}/o/report.csv",
    "bucket",
  ],
  [
    "com.oraclecloud.identityControlPlane.UpdatePolicy",
    "identityControlPlane",
    "PUT",
    "/20160918/policies/{id}",
    "policy",
  ],
  [
    "com.oraclecloud.identityControlPlane.CreateUser",
    "identityControlPlane",
    "POST",
    "/20160918/users",
    "user",
  ],
] as const;

const PRINCIPAL_NAMES = [
  "alice@example.com",
  "bob@example.com",
  "carol@example.com",
  "Łukasz Żółć",
  "李小龍",
];
const USER_AGENTS = [
  "Oracle-JavaSDK/3.44.0",
  "Oracle-PythonSDK/2.126.0",
  "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
  "Terraform/1.9.5",
];

interface AuditPrincipal {
  name: string;
  id: string;
  authType: string;
  ipAddress: string;
  userAgent: string;
  credentials: string;
}

/** Who acts and on what: few principals and resources, shared by many events, as in a real tenancy. */
function auditDirectory(random: Random, tenancy: string) {
  const principal = (name: string, authType: string): AuditPrincipal => {
    const id = authType === "instance"
      ? `ocid1.instance.oc1.iad.aaaa${randomHex(random, 52)}`
      : `ocid1.user.oc1..aaaa${randomHex(random, 52)}`;
    return {
      name,
      id,
      authType,
      ipAddress: `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${
        1 + Math.floor(random() * 254)
      }`,
      userAgent: pick(random, USER_AGENTS),
      credentials: authType === "instance"
        ? `ST$${randomHex(random, 24)}`
        : `${tenancy}/${id}/${colonHex(utf8(randomHex(random, 16)))}`,
    };
  };
  const principals = [
    ...PRINCIPAL_NAMES.map((name) => principal(name, "natv")),
    principal("ops-automation", "instance"),
  ];
  const resources = new Map(
    [...new Set(AUDIT_KINDS.map((kind) => kind[4]))].map((kind) => [
      kind,
      Array.from({ length: 20 }, (_, i) => ({
        id: `ocid1.${kind}.oc1.iad.aaaa${randomHex(random, 52)}`,
        name: `${kind}-${String(i).padStart(2, "0")}`,
      })),
    ]),
  );
  return { principals, resources };
}

/**
 * A processing delay after the eventTime: Oracle appends new activity "usually within 15 minutes of the API
 * call, though processing time can vary" (Audit docs, viewing events; docs/oracle/oci-apis.md "OCI Audit").
 * Mostly seconds, a tail of minutes, a few past 15 minutes; many cross a minute boundary, so their
 * processing-time window is later than their eventTime's.
 */
function processingDelayMs(random: Random): number {
  const r = random();
  if (r < 0.75) return 200 + Math.floor(random() * 20_000);
  if (r < 0.95) return 20_000 + Math.floor(random() * 160_000);
  if (r < 0.99) return 3 * 60_000 + Math.floor(random() * 12 * 60_000);
  return 15 * 60_000 + Math.floor(random() * 10 * 60_000);
}

/**
 * Members of `data` that Oracle may send as `null` (the SDK turns them into `undefined`:
 * docs/oracle/oci-apis.md).
 */
const NULLABLE_AUDIT_MEMBERS = [
  "identity",
  "request",
  "response",
  "stateChange",
  "additionalDetails",
  "compartmentName",
  "resourceName",
  "availabilityDomain",
  "freeformTags",
  "definedTags",
] as const;

/** The CloudEvents members in another order: the order Oracle's serializer uses is undocumented (both kept). */
const REORDERED_AUDIT_MEMBERS = [
  "eventId",
  "eventTime",
  "eventType",
  "source",
  "data",
  "cloudEventsVersion",
  "eventTypeVersion",
  "contentType",
] as const;

/**
 * Realistic OCI Audit events in eventTime order, deterministic from `seed`,
 * spread over [from, to) and over the given compartments. Each has a hidden
 * processing time (`processingTimeOf`) a delay after its eventTime, which may
 * be after `to`, and a wire text (`wireTextOf`): some events carry `null`
 * members, some list members in another order, some are sent with `\/` or
 * `\u00e9` escapes — what Oracle does there is undocumented, so both occur.
 */
export function generateAuditEvents(
  options: { seed: number; count: number; from: number; to: number; compartmentIds: string[] },
): AuditCloudEvent[] {
  const { seed, count, from, to, compartmentIds } = options;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`'count' must be a non-negative integer: current value is ${count}`);
  }
  if (!(to > from)) throw new RangeError(`'to' must be after 'from': current values are ${from} and ${to}`);
  if (compartmentIds.length === 0) throw new RangeError("'compartmentIds' must not be empty");
  const random = mulberry32(seed);
  const tenancy = `ocid1.tenancy.oc1..aaaa${randomHex(random, 52)}`;
  const directory = auditDirectory(random, tenancy);
  const times = Array.from({ length: count }, () => from + Math.floor(random() * (to - from)));
  times.sort((a, b) => a - b);
  // Own generators for what was added later, so the events' contents stay those of earlier versions.
  const delayRandom = mulberry32(seed ^ 0x5bd1e995);
  const shapeRandom = mulberry32(seed ^ 0xc2b2ae35);
  const events = times.map((time) => {
    const [eventType, source, action, pathTemplate, resourceKind] = pick(random, AUDIT_KINDS);
    const eventName = eventType.slice(eventType.lastIndexOf(".") + 1);
    const compartmentId = pick(random, compartmentIds);
    const resource = pick(random, directory.resources.get(resourceKind)!);
    const principal = pick(random, directory.principals);
    const status = random() < 0.9
      ? (action === "DELETE" ? "204" : "200")
      : pick(random, ["400", "404", "409"]);
    const succeeded = status.startsWith("2");
    const requestId = randomHex(random, 32).toUpperCase();
    return {
      eventType,
      cloudEventsVersion: "0.1",
      eventTypeVersion: "2.0",
      source,
      eventId: randomUuid(random),
      eventTime: isoTime(time),
      contentType: "application/json",
      data: {
        eventGroupingId: requestId,
        eventName,
        compartmentId,
        compartmentName: `compartment-${compartmentId.slice(-6)}`,
        resourceName: resource.name,
        resourceId: resource.id,
        availabilityDomain: "AD1",
        freeformTags: {},
        definedTags: {},
        identity: {
          principalName: principal.name,
          principalId: principal.id,
          authType: principal.authType,
          callerName: null,
          callerId: null,
          tenantId: tenancy,
          ipAddress: principal.ipAddress,
          credentials: principal.credentials,
          userAgent: principal.userAgent,
          consoleSessionId: null,
        },
        request: {
          id: requestId,
          path: pathTemplate.replace("{id}", resource.id).replace("{ns}", "emulatedns").replace(
            "{name}",
            resource.name,
          ),
          action,
          parameters: {},
          headers: { "opc-request-id": [requestId] },
        },
        response: {
          status,
          responseTime: isoTime(time + 20 + Math.floor(random() * 500)),
          headers: {},
          payload: succeeded ? { id: resource.id } : {},
          message: succeeded ? `${eventName} succeeded` : `${eventName} failed`,
        },
        stateChange: { previous: null, current: null },
        additionalDetails: {},
      },
    } as AuditCloudEvent;
  });
  return events.map((plain, index) => {
    let event = plain;
    if (shapeRandom() < 0.15) {
      for (const member of NULLABLE_AUDIT_MEMBERS) {
        if (shapeRandom() < 0.35) event.data[member] = null;
      }
    }
    if (shapeRandom() < 0.2) {
      event = Object.fromEntries(
        REORDERED_AUDIT_MEMBERS.map((member) => [member, plain[member]]),
      ) as unknown as AuditCloudEvent;
    }
    const r = shapeRandom();
    const style = r < 0.5
      ? PLAIN_WIRE
      : r < 0.7
      ? { escapeNonAscii: true, escapeSlash: false }
      : r < 0.85
      ? { escapeNonAscii: false, escapeSlash: true }
      : { escapeNonAscii: true, escapeSlash: true };
    generatedAudit.set(event, { processedAt: times[index] + processingDelayMs(delayRandom), style });
    return event;
  });
}

/** A fresh RSA 2048 key pair, RSASSA-PKCS1-v1_5 with SHA-256: what a Vault key (`kmsKeys`) or an API key holds. */
export async function generateRsaKeyPair(extractable = false): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    extractable,
    ["sign", "verify"],
  ) as CryptoKeyPair;
}

/**
 * A fresh RSA 2048 API signing key: keyId `tenancy/user/fingerprint`, where the
 * fingerprint is the MD5 of the DER public key in colon hex, as the Console shows it.
 */
export async function generateApiKey(
  tenancy: string,
  user: string,
): Promise<{ keyId: string; fingerprint: string; privateKeyPem: string; publicKey: CryptoKey }> {
  const pair = await generateRsaKeyPair(true);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const fingerprint = colonHex(digest("md5", spki));
  const privateKeyPem = toPem(
    "PRIVATE KEY",
    new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
  );
  return {
    keyId: `${tenancy}/${user}/${fingerprint}`,
    fingerprint,
    privateKeyPem,
    publicKey: pair.publicKey,
  };
}
