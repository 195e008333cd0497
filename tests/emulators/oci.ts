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
 * The services and their helpers live in `tests/emulators/oci/`, one concern a module: `types.ts` (the public
 * types, re-exported here), `object_storage.ts`, `vault.ts`, `audit.ts` (ListEvents, GetConfiguration),
 * `audit_store.ts`, `audit_events.ts` (processing times, wire texts, `generateAuditEvents`), `identity.ts`,
 * `logging.ts`, `principals.ts` (instance metadata, `/v1/x509`), `tokens.ts` (the token authority),
 * `signatures.ts` (request signatures, API keys), `x509.ts`, `replies.ts` (faults, responses), `routes.ts`,
 * `setup.ts` (options, state), `state.ts`, `relay.ts`, and the base modules `bytes.ts`, `errors.ts`, `params.ts`.
 * This module serves requests and starts the emulator.
 *
 * @module
 */

import { createPublicKey, generateKeyPairSync, KeyObject } from "node:crypto";
import { delay, resolveFaults } from "./faults.ts";
import { randomHex } from "./random.ts";
import { getConfiguration, listEvents } from "./oci/audit.ts";
import { wireTextOf } from "./oci/audit_events.ts";
import { type Bytes, randomUuid } from "./oci/bytes.ts";
import { notAuthenticated, OciError } from "./oci/errors.ts";
import { listCompartments, toCompartments } from "./oci/identity.ts";
import { putLogs } from "./oci/logging.ts";
import {
  deleteObject,
  getNamespace,
  getObject,
  headObject,
  listObjects,
  listRetentionRules,
  putObject,
  sortedNames,
  storeObject,
} from "./oci/object_storage.ts";
import { isoTime, parseQuery } from "./oci/params.ts";
import { federateX509, instanceMetadata, regionShortCode } from "./oci/principals.ts";
import { Relay } from "./oci/relay.ts";
import {
  cutsBody,
  decideOciFault,
  errorReply,
  type Fault,
  FAULT_MODEL,
  gatewayFaultReply,
  type Reply,
  toResponse,
} from "./oci/replies.ts";
import { type Operation, route, type Routed } from "./oci/routes.ts";
import { createState, validateOptions } from "./oci/setup.ts";
import { checkSignedHeaders, parseAuthorization, rawTarget, verifySignatureWith } from "./oci/signatures.ts";
import type { Bucket, State } from "./oci/state.ts";
import type { OciEmulator, OciEmulatorOptions } from "./oci/types.ts";
import {
  getSecretBundle,
  kmsGetKey,
  kmsGetKeyVersion,
  kmsKeyOf,
  kmsKeyVersion,
  kmsSign,
  kmsVersionOf,
  publicPemOf,
} from "./oci/vault.ts";

export type {
  AuditCloudEvent,
  LogEntryView,
  OciEmulator,
  OciEmulatorOptions,
  OciFaults,
  RequestSeen,
  RetentionRuleOption,
  StoredObjectView,
} from "./oci/types.ts";
export {
  type AuditWireStyle,
  generateAuditEvents,
  processingTimeOf,
  wireTextOf,
} from "./oci/audit_events.ts";
export { generateApiKey, generateRsaKeyPair } from "./oci/signatures.ts";

// ---------------------------------------------------------------- serving a request

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

/**
 * One request: route it, let the gateway fault it (429, 5xx: the service never
 * sees it), read the body, check the signature, let the service answer, wait
 * the latency, maybe cut the body. The instance metadata service is local to
 * the instance: it is neither signed nor faulted.
 */
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

// ---------------------------------------------------------------- server

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
