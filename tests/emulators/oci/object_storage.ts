/**
 * Object Storage: namespace, objects (conditional PUT, GET/HEAD with ranges, DELETE), listings and
 * retention rules.
 *
 * @module
 */

import { type Bytes, digest, randomUuid, toBase64, utf8 } from "./bytes.ts";
import { invalidParameter, OciError } from "./errors.ts";
import {
  DAY_MS,
  decodePageToken,
  encodePageToken,
  isoTime,
  type Params,
  parseIntegerParam,
} from "./params.ts";
import { jsonReply, type Reply } from "./replies.ts";
import type { Bucket, State, StoredObject } from "./state.ts";
import type { RetentionRuleOption } from "./types.ts";

export const LIST_OBJECTS_MAX_LIMIT = 1000;
const OBJECT_NAME_MAX_BYTES = 1024;

/**
 * Oracle does not document the error code of a write or delete refused by a
 * retention rule. `Conflict` is the documented common 409 for "conflicts with
 * its current state, not transient", which the SDK does not retry (it retries
 * only 409 `IncorrectState`). UNCONFIRMED against the live service.
 */
const RETENTION_ERROR = { status: 409, code: "Conflict" } as const;

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
function checkRetention(
  bucket: Bucket,
  object: StoredObject,
  action: "overwritten" | "deleted",
): void {
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

export function storeObject(
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

export function getNamespace(state: State): Reply {
  return jsonReply(200, state.namespace);
}

/**
 * PutObject. Preconditions come first (`if-none-match: *`, `if-match`), then
 * the retention rules of an object that would be overwritten; `content-md5`
 * and `opc-content-sha256` are checked against the bytes received.
 */
export function putObject(state: State, request: Request, body: Bytes, params: Params, race: boolean): Reply {
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

/** `if-match` on an existing object (GET, HEAD, DELETE): `*` or its ETag, else 412 `IfMatchFailed`. */
function checkIfMatch(request: Request, object: StoredObject): void {
  const ifMatch = request.headers.get("if-match");
  if (ifMatch !== null && ifMatch !== "*" && ifMatch !== object.etag) {
    throw new OciError(
      412,
      "IfMatchFailed",
      `The If-Match header is '${ifMatch}' but the current entity tag is '${object.etag}'`,
    );
  }
}

export function getObject(state: State, request: Request, params: Params): Reply {
  const bucket = findBucket(state, params.namespace, params.bucket);
  const object = findObject(bucket, params.object);
  const headers = objectHeaders(object);
  checkIfMatch(request, object);
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

export function headObject(state: State, request: Request, params: Params): Reply {
  const reply = getObject(state, request, params);
  return { status: reply.status, contentType: reply.contentType, headers: reply.headers };
}

export function deleteObject(state: State, request: Request, params: Params): Reply {
  const bucket = findBucket(state, params.namespace, params.bucket);
  const object = findObject(bucket, params.object);
  checkIfMatch(request, object);
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

export function sortedNames(bucket: Bucket): string[] {
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
export function listObjects(state: State, query: Map<string, string>, params: Params): Reply {
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
export function listRetentionRules(state: State, query: Map<string, string>, params: Params): Reply {
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
