/**
 * OCI Audit: `ListEvents` in pages continued by a cursor or an offset, and `GetConfiguration`.
 *
 * @module
 */

import { shuffleRuns } from "../random.ts";
import { prettyPrint } from "../wire.ts";
import { wireTextOf } from "./audit_events.ts";
import { compareAudit, lowerBound, type StoredAuditEvent } from "./audit_store.ts";
import { invalidParameter, missingParameter, OciError } from "./errors.ts";
import { decodePageToken, encodePageToken, parseRfc3339 } from "./params.ts";
import { jsonReply, type Reply } from "./replies.ts";
import type { State } from "./state.ts";
import type { AuditCloudEvent } from "./types.ts";

export const DEFAULT_AUDIT_MAX_PAGE_SIZE = 5000;

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
export function listEvents(state: State, query: Map<string, string>): Reply {
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
export function getConfiguration(state: State, query: Map<string, string>): Reply {
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
