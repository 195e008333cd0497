/**
 * The OCI emulator's public types: how to start it, what it serves and records, what a test reads back.
 *
 * @module
 */

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
