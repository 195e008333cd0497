/**
 * An emulator of an Oracle IAM identity domain (IDCS): the OAuth token endpoint
 * and `GET /admin/v1/AuditEvents`, strict enough that the archiver's correctness
 * is checked against it, fast enough to page through a million events.
 *
 * - `POST /oauth2/v1/token` verifies every JWT client assertion (RS256, `kid`,
 *   `iss` = `sub` = client id, both audiences, `exp`), or HTTP Basic with the
 *   client secret when one is configured.
 * - `GET /admin/v1/AuditEvents` needs an issued, unexpired bearer token and
 *   supports `timestamp` comparisons joined by `and` and `or`, grouped by
 *   parentheses; anything else in a filter is a 400 `invalidFilter`, so the
 *   program cannot rely on what it never sent to the real service.
 * - `AuditEvents` serves the last 14 days of events only (`retentionDays`): older ones age out, as Oracle's
 *   "Setting the Audit Retention Period" page says (docs/oracle/identity-domains.md [config-audit-retention]).
 * - Faults (latency, 429 with or without `Retry-After`, 5xx, dropped
 *   connections, malformed or truncated pages, unstable order among equal
 *   timestamps, late indexing) are decided by one seeded PRNG per purpose, so
 *   a seed replays the same decisions.
 *
 * Facts emulated are in `docs/oracle/identity-domains.md`. Usage:
 *
 * ```ts
 * const key = await generateClientKey();
 * const idcs = await startIdcsEmulator({ clientId: "c", keyId: "k", publicKey: key.publicKey,
 *   events: generateEvents({ seed: 1, count: 1000, from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 2) }) });
 * // … point the archiver at idcs.url …
 * await idcs.close();
 * ```
 *
 * @module
 */

import { errors as joseErrors, jwtVerify } from "npm:jose@6.2.18";
import { createPrivateKey } from "node:crypto";
import { COMMON_FAULT_DEFAULTS, decideFault, delay, type FaultModel, resolveFaults } from "./faults.ts";
import { cutPoint, resetResponse } from "./http.ts";
import { mulberry32, pick, type Random, randomHex, shuffleRuns } from "./random.ts";
import { PLAIN_WIRE, prettyPrint, renderWire, type WireStyle } from "./wire.ts";

// ---------------------------------------------------------------- public types

/** An audit event as the API returns it; archived exactly as returned. */
export interface AuditEvent {
  id: string;
  timestamp: string;
  [attribute: string]: unknown;
}

/** Fault rates are probabilities per request; a request gets at most one fault. */
export interface IdcsFaults {
  /** Delay before every response (token and AuditEvents), in ms. @default 0 */
  latencyMs?: number;
  /** Probability of a 429 with a SCIM error body. @default 0 */
  rate429?: number;
  /** Probability that a 429 carries `Retry-After: 1`. @default 0.5 */
  retryAfterRate?: number;
  /** Probability of a 500, 502 (HTML body, as from a load balancer) or 503. @default 0 */
  rate5xx?: number;
  /** Probability that the connection drops in the middle of the body. @default 0 */
  rateReset?: number;
  /** Probability of a 200 whose body is an HTML page (AuditEvents only). @default 0 */
  rateMalformed?: number;
  /** Probability of a 200 whose JSON is cut in the middle (AuditEvents only). @default 0 */
  rateTruncated?: number;
  /**
   * Order among equal timestamps differs from request to request: every run of equal timestamps a page
   * touches is permuted anew (by the seeded order PRNG, so a seed replays it). AuditEvents is sorted by
   * `sortBy=timestamp` and paged by `startIndex` only; Oracle documents no order among equal timestamps
   * nor a cursor (docs/oracle/identity-domains.md [query-params]), so a page edge inside a tie may see it in
   * another order than the page before it. @default false
   */
  shuffleTies?: boolean;
}

/** How to start the emulator. */
export interface IdcsEmulatorOptions {
  /** The confidential application's client id: the assertion's `iss` and `sub`. */
  clientId: string;
  /** Certificate alias of the registered key: the assertion's `kid`. */
  keyId: string;
  /** RSA public key (RS256) registered for the client. */
  publicKey: CryptoKey;
  /** When set, HTTP Basic `client_id:client_secret` also works at the token endpoint. */
  clientSecret?: string;
  /** Initial events, in any order, visible at once. @default [] */
  events?: AuditEvent[];
  /** @default {} */
  faults?: IdcsFaults;
  /** Seeds all decisions (faults, orders of ties, ECIDs); access tokens stay unguessable. @default a random seed */
  seed?: number;
  /** `expires_in` of issued tokens. @default 3600 */
  tokenTtlSeconds?: number;
  /** Port on 127.0.0.1. @default 0 (ephemeral) */
  port?: number;
  /**
   * The domain type's request rate limit (`FREE_DOMAIN_LIMITS`, `ORACLE_APPS_DOMAIN_LIMITS`,
   * `PREMIUM_DOMAIN_LIMITS`). @default none
   */
  rateLimit?: RateLimit;
  /**
   * How many days back `AuditEvents` serves events. Whatever audit retention a domain is set to (30, 60 or 90
   * days), "events are available through this API for 14 days", older ones only through OCI Audit
   * ("Setting the Audit Retention Period", config-audit-retention.htm; docs/oracle/identity-domains.md
   * [config-audit-retention]). When within its last day an event drops out is not documented: here it is
   * served while it is less than `retentionDays` old, to the millisecond. @default 14
   */
  retentionDays?: number;
  /**
   * AuditEvents pages pretty-printed, with `"\n"` or `"\r\n"` line breaks (`prettyPrint`). Oracle documents
   * the SCIM JSON, not its serializer's whitespace (UNCONFIRMED; RFC 8259 §2 allows whitespace between tokens),
   * so both: unset sends compact pages. @default undefined
   */
  prettyPages?: "\n" | "\r\n";
  /**
   * Every request (token endpoint and AuditEvents) answered `302 Found` with `Location` this URL (another
   * host) plus the request's path and query. Oracle documents no redirect from these endpoints; a misrouted
   * proxy or a hostile host may answer one, and a client that followed it would send its client assertion or
   * token there. @default undefined
   */
  redirectTo?: string;
  /**
   * The `totalResults` every AuditEvents page claims, whatever the filter selects: a hostile or broken
   * service (the SCIM list response's count, docs/oracle/identity-domains.md). @default undefined (the truth)
   */
  claimedTotalResults?: number;
}

/**
 * Requests a domain answers per second and per minute; beyond them it answers 429. Oracle publishes both limits
 * per domain type and API group (docs/oracle/identity-domains.md [api-rate-limiting],
 * https://docs.oracle.com/en-us/iaas/Content/Identity/sku/api-rate-limiting.htm, the "Others" group, which holds
 * AuditEvents); whether a 429 carries `Retry-After` and how a second and a minute are counted are UNCONFIRMED
 * (the page gives neither), so both are modelled both ways.
 */
export interface RateLimit {
  perSecond: number;
  perMinute: number;
  /** Send `Retry-After` (seconds until a request would be accepted) with each 429. */
  retryAfter: boolean;
  /**
   * How a second and a minute are counted: `sliding`, the accepted requests of the last 1,000 and 60,000 ms;
   * `fixed`, those of the current second and minute of the clock, counted anew from each boundary (a Retry-After
   * then names the boundary). @default "sliding"
   */
  window?: "sliding" | "fixed";
}

/** Free domain type, "Others" group: 20 requests/s and 150/min (docs/oracle/identity-domains.md [api-rate-limiting]). */
export const FREE_DOMAIN_LIMITS: Omit<RateLimit, "retryAfter"> = { perSecond: 20, perMinute: 150 };
/**
 * Oracle Apps domain type, "Others" group: 50 requests/s and 1,500/min (docs/oracle/identity-domains.md
 * [api-rate-limiting]).
 */
export const ORACLE_APPS_DOMAIN_LIMITS: Omit<RateLimit, "retryAfter"> = { perSecond: 50, perMinute: 1500 };
/**
 * Premium domain type, "Others" group: 90 requests/s and 5,000/min (docs/oracle/identity-domains.md
 * [api-rate-limiting]).
 */
export const PREMIUM_DOMAIN_LIMITS: Omit<RateLimit, "retryAfter"> = { perSecond: 90, perMinute: 5000 };

/**
 * The least time, in ms, that `requests` accepted requests take under `limit` as `rateLimiter` applies it, the
 * first at `firstAt` (epoch ms: fixed windows count from the clock's boundaries): each one as soon as the limiter
 * accepts it. Pure.
 */
export function rateLimitFloorMs(
  requests: number,
  limit: Omit<RateLimit, "retryAfter">,
  firstAt = 0,
): number {
  const limiter = rateLimiter(limit);
  let at = firstAt;
  for (let i = 0; i < requests; i++) {
    for (let waitMs = limiter(at); waitMs !== undefined; waitMs = limiter(at)) at += waitMs;
  }
  return at - firstAt;
}

/** A running emulator. */
export interface IdcsEmulator {
  /** `http://127.0.0.1:PORT`, without a trailing slash: the identity domain URL. */
  url: string;
  /** Adds events that the API returns from `visibleAt` (epoch ms, default now) on: late indexing. */
  addEvents(events: AuditEvent[], visibleAt?: number): void;
  /** Replaces the fault settings for the following requests. */
  setFaults(faults: IdcsFaults): void;
  /**
   * Changes how many days back `AuditEvents` serves events (`retentionDays`): a test archives old events while
   * they are served, then lets them age out as they would have by now.
   */
  setRetentionDays(days: number): void;
  /** What the API would return now, in (timestamp, id) order (aged-out events excluded): the tests' truth. */
  visibleEvents(): AuditEvent[];
  /**
   * The exact JSON text the API sends for the event with this id inside `Resources` (member order, `null`s,
   * escapes): compare archived lines with it byte for byte.
   */
  wireText(id: string): string;
  stats: {
    tokenRequests: number;
    tokensIssued: number;
    auditRequests: number;
    faultsInjected: number;
    rejectedAssertions: number;
    maxInFlight: number;
    /** 429s answered because the domain's rate limit was exceeded (`rateLimit`). */
    rateLimited: number;
    /** When the first request came (epoch ms; 0 before it): where fixed windows put `rateLimitFloorMs`'s start. */
    firstRequestAt: number;
  };
  /** Every access token issued so far: tests check that none of them leaks into logs or files. */
  issuedTokens(): string[];
  /**
   * Stops listening, lets requests in flight finish, and resolves once every
   * connection is closed: a response body the client neither reads nor cancels
   * keeps it waiting (such a leak fails Deno's test sanitizers anyway).
   */
  close(): Promise<void>;
}

// ---------------------------------------------------------------- constants

const TOKEN_PATH = "/oauth2/v1/token";
const AUDIT_EVENTS_PATH = "/admin/v1/AuditEvents";
const SCOPE = "urn:opc:idm:__myscopes__";
const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** The audience older IDCS documentation asks for; the domain URL is the other. */
const IDCS_AUDIENCE = "https://identity.oraclecloud.com/";
const ASSERTION_CLOCK_TOLERANCE_SECONDS = 60;
const ASSERTION_MAX_LIFETIME_SECONDS = 3600;
const LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
const AUDIT_EVENT_SCHEMA = "urn:ietf:params:scim:schemas:oracle:idcs:AuditEvent";
/** SCIM paging limits as IDCS documents them (OCISQueryParameters). */
const DEFAULT_COUNT = 50;
const MAX_COUNT = 1000;
const FILTER_OPERATORS = ["gt", "ge", "lt", "le", "eq"] as const;
/** SCIM operators that IDCS knows but this emulator refuses, so the program cannot depend on them. */
const UNSUPPORTED_OPERATORS = ["ne", "co", "sw", "ew", "pr"];
/** "Events are available through this API for 14 days" (docs/oracle/identity-domains.md [config-audit-retention]). */
const API_RETENTION_DAYS = 14;
const DAY_MS = 86_400_000;

const BAD_GATEWAY_HTML =
  "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>";
const MAINTENANCE_HTML = "<!DOCTYPE html><html><head><title>Oracle Identity Cloud Service</title></head>" +
  "<body><h1>Service Unavailable</h1><p>The service is undergoing maintenance.</p></body></html>";

// ---------------------------------------------------------------- errors

/** A request the API refuses; becomes a SCIM error body (RFC 7644 §3.12). */
class ScimError extends Error {
  constructor(readonly status: number, message: string, readonly scimType?: string) {
    super(message);
  }
}

/** A token request the server refuses; becomes an OAuth error body (RFC 6749 §5.2). */
class OAuthError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

// ---------------------------------------------------------------- time

/** An instant as whole milliseconds around it, so sub-millisecond bounds compare exactly with ms timestamps. */
interface Instant {
  floorMs: number;
  ceilMs: number;
}

const UTC_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

/** Parses an ISO-8601 UTC date-time (`Z` only); undefined when it is not one or names no real date. */
function parseUtcInstant(text: string): Instant | undefined {
  const match = UTC_INSTANT.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  // Checked by hand because Date.UTC and Date.parse roll 2026-02-30 over to March 2.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = (match[7] ?? "").padEnd(9, "0");
  const floorMs = Date.UTC(year, month - 1, day, hour, minute, second) + Number(fraction.slice(0, 3));
  return { floorMs, ceilMs: Number(fraction.slice(3)) > 0 ? floorMs + 1 : floorMs };
}

function daysInMonth(year: number, month: number): number {
  const isLeapYear = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 ? (isLeapYear ? 29 : 28) : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

// ---------------------------------------------------------------- filter

type FilterOperator = typeof FILTER_OPERATORS[number];

/**
 * What a filter selects: disjoint half-open spans [from, to) of whole milliseconds, in time order. A filter on
 * `timestamp` alone, however its comparisons are joined, selects such a union.
 */
type Spans = { from: number; to: number }[];

const EVERY_TIME: Spans = [{ from: -Infinity, to: Infinity }];

/** The times a comparison selects. Timestamps are whole ms, so `> x` is `> floor(x)` and `>= x` is `>= ceil(x)`. */
function spansOf(operator: FilterOperator, value: Instant): Spans {
  const after = value.floorMs + 1;
  const span = {
    gt: { from: after, to: Infinity },
    ge: { from: value.ceilMs, to: Infinity },
    lt: { from: -Infinity, to: value.ceilMs },
    le: { from: -Infinity, to: after },
    eq: { from: value.ceilMs, to: after },
  }[operator];
  return span.from < span.to ? [span] : [];
}

function intersectSpans(left: Spans, right: Spans): Spans {
  const both: Spans = [];
  for (const a of left) {
    for (const b of right) {
      const from = Math.max(a.from, b.from);
      const to = Math.min(a.to, b.to);
      if (from < to) both.push({ from, to });
    }
  }
  return uniteSpans(both, []);
}

function uniteSpans(left: Spans, right: Spans): Spans {
  const sorted = [...left, ...right].sort((a, b) => a.from - b.from);
  const united: Spans = [];
  for (const span of sorted) {
    const last = united.at(-1);
    if (last && span.from <= last.to) last.to = Math.max(last.to, span.to);
    else united.push({ ...span });
  }
  return united;
}

type Token = { kind: "(" | ")" } | { kind: "word"; text: string } | { kind: "string"; text: string };

/** Splits a SCIM filter into parentheses, words and JSON string literals. */
function tokenizeFilter(filter: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < filter.length) {
    const char = filter[i];
    if (/\s/.test(char)) {
      i++;
    } else if (char === "(" || char === ")") {
      tokens.push({ kind: char });
      i++;
    } else if (char === '"') {
      const end = findClosingQuote(filter, i);
      tokens.push({ kind: "string", text: parseJsonString(filter.slice(i, end + 1)) });
      i = end + 1;
    } else {
      const word = /^[^\s()"]+/.exec(filter.slice(i))![0];
      tokens.push({ kind: "word", text: word });
      i += word.length;
    }
  }
  return tokens;
}

function findClosingQuote(filter: string, opening: number): number {
  for (let i = opening + 1; i < filter.length; i++) {
    if (filter[i] === "\\") i++;
    else if (filter[i] === '"') return i;
  }
  throw new ScimError(400, `unterminated string in filter at position ${opening + 1}`, "invalidFilter");
}

function parseJsonString(literal: string): string {
  try {
    return JSON.parse(literal);
  } catch {
    throw new ScimError(400, `invalid string ${literal} in filter`, "invalidFilter");
  }
}

/**
 * The filter grammar, in one place: `timestamp <gt|ge|lt|le|eq> "<UTC date-time>"` comparisons joined by `and`
 * and `or` (`and` binding first) and grouped by parentheses, as Oracle's "Query Parameters" page
 * (https://docs.oracle.com/en-us/iaas/Content/Identity/api-getstarted/OCISQueryParameters.htm,
 * docs/oracle/identity-domains.md [query-params]) and RFC 7644 §3.4.2.2 give them;
 * refuses everything else, `not` and other attributes and operators included, which Oracle accepts but the
 * program never sends.
 */
function parseFilter(filter: string): Spans {
  const tokens = tokenizeFilter(filter);
  let position = 0;
  const peekWord = () => {
    const token = tokens[position];
    return token?.kind === "word" ? token.text.toLowerCase() : undefined;
  };
  const expectParenthesis = () => {
    const token = tokens[position++];
    if (token?.kind !== ")") throw invalidFilter(`expected ")" at ${describe(token)}`);
  };
  const expectText = (kind: "word" | "string", what: string): string => {
    const token = tokens[position++];
    if (token?.kind !== kind) throw invalidFilter(`expected ${what} at ${describe(token)}`);
    return token.text;
  };

  /** Operands joined by `word`, left to right, combined as it means: `and` binds before `or` (RFC 7644 §3.4.2.2). */
  const joined =
    (word: string, operand: () => Spans, combine: (a: Spans, b: Spans) => Spans) => (): Spans => {
      let spans = operand();
      while (peekWord() === word) {
        position++;
        spans = combine(spans, operand());
      }
      return spans;
    };
  const parseConjunction = joined("and", () => parseTerm(), intersectSpans);
  const parseExpression = joined("or", parseConjunction, uniteSpans);
  const parseTerm = (): Spans => {
    if (tokens[position]?.kind === "(") {
      position++;
      const inner = parseExpression();
      expectParenthesis();
      return inner;
    }
    if (peekWord() === "not") throw invalidFilter(`the "not" operator is not supported`);
    return parseComparison();
  };
  const parseComparison = (): Spans => {
    const attribute = expectText("word", "an attribute");
    if (attribute.toLowerCase() !== "timestamp") {
      throw invalidFilter(`attribute "${attribute}" is not supported: only timestamp can be filtered`);
    }
    const operator = expectText("word", "an operator").toLowerCase();
    if (UNSUPPORTED_OPERATORS.includes(operator)) {
      throw invalidFilter(`operator "${operator}" is not supported: use gt, ge, lt, le or eq`);
    }
    if (!(FILTER_OPERATORS as readonly string[]).includes(operator)) {
      throw invalidFilter(`"${operator}" is not a filter operator`);
    }
    const literal = expectText("string", "a quoted date-time");
    const value = parseUtcInstant(literal);
    if (!value) {
      throw invalidFilter(`"${literal}" is not an ISO-8601 UTC date-time such as 2026-11-27T10:24:24.022Z`);
    }
    return spansOf(operator as FilterOperator, value);
  };

  const spans = parseExpression();
  if (position < tokens.length) throw invalidFilter(`unexpected ${describe(tokens[position])}`);
  return spans;
}

function invalidFilter(detail: string): ScimError {
  return new ScimError(400, `Invalid filter: ${detail}`, "invalidFilter");
}

function describe(token: Token | undefined): string {
  if (!token) return "end of filter";
  return `"${"text" in token ? token.text : token.kind}"`;
}

// ---------------------------------------------------------------- event store

interface StoredEvent {
  time: number;
  event: AuditEvent;
}

type SortOrder = "ascending" | "descending";

/** What a filter selects in the store: index ranges [start, end) in time order, disjoint. */
type Selection = { start: number; end: number }[];

const selectedCount = (selection: Selection) =>
  selection.reduce((sum, { start, end }) => sum + end - start, 0);

function compareStored(a: StoredEvent, b: StoredEvent): number {
  return a.time - b.time || (a.event.id < b.event.id ? -1 : a.event.id > b.event.id ? 1 : 0);
}

/** First index in [from, to) whose event satisfies a monotone predicate (false…false true…true). */
function lowerBound(
  events: StoredEvent[],
  from: number,
  to: number,
  isAtOrAfter: (stored: StoredEvent) => boolean,
): number {
  let low = from;
  let high = to;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isAtOrAfter(events[middle])) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** Wire styles `generateEvents` chose; other events are sent as `JSON.stringify` writes them. */
const generatedWire = new WeakMap<AuditEvent, WireStyle>();

/** The event's JSON text as sent, in the style `generateEvents` chose (plain for events given by a test). */
const wireTextOf = (event: AuditEvent): string =>
  event instanceof DeferredEvent
    ? wireTextOf(event.make())
    : renderWire(event, generatedWire.get(event) ?? PLAIN_WIRE);

function toStoredEvent(event: AuditEvent): StoredEvent {
  const instant = typeof event.timestamp === "string" ? parseUtcInstant(event.timestamp) : undefined;
  if (!instant || instant.floorMs !== instant.ceilMs) {
    throw new TypeError(
      `AuditEvent ${event.id} must have a millisecond UTC timestamp: current value is ${event.timestamp}`,
    );
  }
  if (typeof event.id !== "string") {
    throw new TypeError(`AuditEvent ids must be strings: current value is ${event.id}`);
  }
  return { time: instant.floorMs, event };
}

function mergeSorted(left: StoredEvent[], right: StoredEvent[]): StoredEvent[] {
  const merged = new Array<StoredEvent>(left.length + right.length);
  let i = 0;
  let j = 0;
  for (let k = 0; k < merged.length; k++) {
    merged[k] = j >= right.length || (i < left.length && compareStored(left[i], right[j]) <= 0)
      ? left[i++]
      : right[j++];
  }
  return merged;
}

/**
 * Events sorted by (time, id); late-indexed batches wait in `pending` until
 * their `visibleAt`. A query costs two binary searches per span it selects plus the
 * page, never a scan of all events.
 */
class EventStore {
  #visible: StoredEvent[] = [];
  #pending: { visibleAt: number; events: StoredEvent[] }[] = [];

  add(events: AuditEvent[], visibleAt: number): void {
    const batch = events.map(toStoredEvent).sort(compareStored);
    this.#rejectRepeats(batch);
    this.#byId = undefined;
    this.#pending.push({ visibleAt, events: batch });
    this.#pending.sort((a, b) => a.visibleAt - b.visibleAt);
  }

  /** How long an event stays served (`retentionDays`), in ms. */
  retentionMs = API_RETENTION_DAYS * DAY_MS;

  /** Index of the first event still served at `now`: those before it have aged out. */
  #firstServed(now: number): number {
    return lowerBound(this.#visible, 0, this.#visible.length, ({ time }) => time > now - this.retentionMs);
  }

  /** Index ranges [start, end), in time order, of the events visible and not aged out at `now` within `spans`. */
  select(now: number, spans: Spans): Selection {
    this.#reveal(now);
    const events = this.#visible;
    const served = this.#firstServed(now);
    const indexOf = (time: number) =>
      lowerBound(events, served, events.length, (stored) => stored.time >= time);
    return spans.map(({ from, to }) => ({ start: indexOf(from), end: indexOf(to) }))
      .filter(({ start, end }) => start < end);
  }

  /**
   * Events at 0-based positions [offset, offset + count) of the selection in the requested order: the
   * ranges' events one after another, as one list in time order.
   */
  page(
    selection: Selection,
    offset: number,
    count: number,
    order: SortOrder,
    shuffle?: Random,
  ): StoredEvent[] {
    const page: StoredEvent[] = [];
    let skipped = 0;
    for (const range of order === "ascending" ? selection : [...selection].reverse()) {
      const length = range.end - range.start;
      const first = Math.max(offset - skipped, 0);
      const last = Math.min(offset + count - skipped, length);
      if (first < last) page.push(...this.#pageOfRange(range, first, last - first, order, shuffle));
      skipped += length;
    }
    return page;
  }

  /**
   * Events at positions [offset, offset + count) of one range in the requested order. With `shuffle`, each run
   * of equal timestamps touching the page is permuted whole first, as a server with no tie order would.
   */
  #pageOfRange(
    range: { start: number; end: number },
    offset: number,
    count: number,
    order: SortOrder,
    shuffle?: Random,
  ): StoredEvent[] {
    const { start, end } = range;
    const first = Math.min(offset, end - start);
    const last = Math.min(offset + count, end - start);
    if (first >= last) return [];
    const [low, high] = order === "ascending" ? [start + first, start + last] : [end - last, end - first];
    const events = this.#visible;
    // Runs of equal time never cross a filter bound, so widening to whole runs stays inside the range.
    const runLow = shuffle ? lowerBound(events, start, low, ({ time }) => time >= events[low].time) : low;
    const runHigh = shuffle
      ? lowerBound(events, high, end, ({ time }) => time > events[high - 1].time)
      : high;
    const window = events.slice(runLow, runHigh);
    if (shuffle) shuffleRuns(shuffle, window);
    if (order === "descending") window.reverse();
    const skip = order === "ascending" ? low - runLow : runHigh - high;
    return window.slice(skip, skip + high - low);
  }

  visible(now: number): AuditEvent[] {
    this.#reveal(now);
    return this.#visible.slice(this.#firstServed(now)).map((stored) => stored.event);
  }

  #byId?: Map<string, AuditEvent>;

  /** A stored event (visible or pending) by id; the index is built on first use after a change. */
  find(id: string): AuditEvent | undefined {
    if (!this.#byId) {
      this.#byId = new Map();
      for (const events of [this.#visible, ...this.#pending.map((pending) => pending.events)]) {
        for (const stored of events) this.#byId.set(stored.event.id, stored.event);
      }
    }
    return this.#byId.get(id);
  }

  /**
   * An event added twice is a bug in a test, and would blur the no-duplicates
   * checks made against this truth. Same (timestamp, id) pairs are found by
   * sorting and binary search; a Set of a million ids would cost a second.
   */
  #rejectRepeats(batch: StoredEvent[]): void {
    const stored = [this.#visible, ...this.#pending.map((pending) => pending.events)];
    batch.forEach((candidate, index) => {
      const isRepeat = (index > 0 && compareStored(batch[index - 1], candidate) === 0) ||
        stored.some((events) => {
          const position = lowerBound(
            events,
            0,
            events.length,
            (other) => compareStored(other, candidate) >= 0,
          );
          return position < events.length && compareStored(events[position], candidate) === 0;
        });
      if (isRepeat) {
        throw new TypeError(
          `AuditEvent ${candidate.event.id} at ${candidate.event.timestamp} is added twice`,
        );
      }
    });
  }

  /** Moves batches whose time has come into the sorted array; appending is the common, cheap case. */
  #reveal(now: number): void {
    while (this.#pending.length > 0 && this.#pending[0].visibleAt <= now) {
      const { events } = this.#pending.shift()!;
      const last = this.#visible.at(-1);
      if (!last || events.length === 0 || compareStored(last, events[0]) < 0) {
        for (const stored of events) this.#visible.push(stored);
      } else {
        this.#visible = mergeSorted(this.#visible, events);
      }
    }
  }
}

// ---------------------------------------------------------------- faults

type Fault =
  | { kind: "none" }
  | { kind: "429"; retryAfter: boolean }
  | { kind: "5xx"; status: 500 | 502 | 503 }
  | { kind: "reset" | "malformed" | "truncated"; variant: number };

type Route = "token" | "auditEvents";

/** IDCS's fault fields, as `resolveFaults` checks and completes them. */
const FAULT_MODEL: FaultModel<IdcsFaults> = {
  rates: ["rate429", "rate5xx", "rateReset", "rateMalformed", "rateTruncated", "retryAfterRate"],
  defaults: {
    ...COMMON_FAULT_DEFAULTS,
    rateMalformed: 0,
    rateTruncated: 0,
    shuffleTies: false,
  },
  exclusive: ["rate429", "rate5xx", "rateReset", "rateMalformed", "rateTruncated"],
};

/**
 * Draws exactly two numbers per request, whatever the outcome, so one seed
 * gives one sequence of decisions: the first picks the fault, the second its
 * variant (status, `Retry-After`, where the body is cut).
 */
function decideIdcsFault(random: Random, faults: Required<IdcsFaults>, route: Route): Fault {
  return decideFault<Fault>(random, (variant) => [
    [faults.rate429, () => ({ kind: "429", retryAfter: variant < faults.retryAfterRate })],
    [faults.rate5xx, () => ({ kind: "5xx", status: ([500, 502, 503] as const)[Math.floor(variant * 3)] })],
    [faults.rateReset, () => ({ kind: "reset", variant })],
    // A token endpoint that answers 200 with junk was never seen; pages are what proxies mangle.
    [route === "auditEvents" ? faults.rateMalformed : 0, () => ({ kind: "malformed", variant })],
    [route === "auditEvents" ? faults.rateTruncated : 0, () => ({ kind: "truncated", variant })],
  ]) ?? { kind: "none" };
}

/**
 * A limiter over every request the domain receives (token and AuditEvents alike: the limits are per domain,
 * docs/oracle/identity-domains.md [api-rate-limiting]), counting in sliding or fixed windows (`RateLimit`):
 * undefined when a request at `now` is accepted, else how long until one would be. Refused requests do not
 * count (UNCONFIRMED too).
 */
function rateLimiter(limit: Omit<RateLimit, "retryAfter">): (now: number) => number | undefined {
  return limit.window === "fixed" ? fixedWindowLimiter(limit) : slidingWindowLimiter(limit);
}

/** `rateLimiter` for fixed windows: the count restarts at each second and minute of the clock. */
function fixedWindowLimiter(limit: Omit<RateLimit, "retryAfter">): (now: number) => number | undefined {
  const counts = [{ windowMs: 60_000, limit: limit.perMinute }, { windowMs: 1000, limit: limit.perSecond }]
    .map((window) => ({ ...window, index: -1, accepted: 0 }));
  return (now) => {
    for (const count of counts) {
      const index = Math.floor(now / count.windowMs);
      if (index !== count.index) Object.assign(count, { index, accepted: 0 });
      if (count.accepted >= count.limit) return (index + 1) * count.windowMs - now;
    }
    for (const count of counts) count.accepted++;
    return undefined;
  };
}

/** `rateLimiter` for sliding windows: the accepted requests of the last 1,000 and 60,000 ms. */
function slidingWindowLimiter(limit: Omit<RateLimit, "retryAfter">): (now: number) => number | undefined {
  const accepted: number[] = [];
  return (now) => {
    while (accepted.length && accepted[0] <= now - 60_000) accepted.shift();
    const inLastSecond = accepted.length - lowerIndex(accepted, now - 1000);
    if (accepted.length >= limit.perMinute) return accepted[accepted.length - limit.perMinute] + 60_000 - now;
    if (inLastSecond >= limit.perSecond) {
      return accepted[accepted.length - limit.perSecond] + 1000 - now;
    }
    accepted.push(now);
    return undefined;
  };
}

/** The index of the first time in ascending `times` after `after`. */
function lowerIndex(times: number[], after: number): number {
  let low = 0, high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (times[middle] > after) high = middle;
    else low = middle + 1;
  }
  return low;
}

// ---------------------------------------------------------------- replies

/** A response before faults and common headers are applied; a truncated body is bytes, maybe mid-character. */
interface Reply {
  status: number;
  contentType: string;
  body: string | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
}

function jsonReply(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return { status, contentType: "application/json", body: JSON.stringify(value), headers };
}

function scimErrorReply(error: ScimError): Reply {
  return jsonReply(error.status, {
    schemas: [ERROR_SCHEMA],
    status: String(error.status),
    ...(error.scimType ? { scimType: error.scimType } : {}),
    detail: error.message,
  });
}

/** What a rate limiter or load balancer answers in the service's stead: the request never reaches it. */
function gatewayFaultReply(fault: Fault & { kind: "429" | "5xx" }): Reply {
  if (fault.kind === "429") {
    const reply = scimErrorReply(
      new ScimError(429, "Too many requests: the rate limit of this domain was exceeded"),
    );
    return fault.retryAfter ? { ...reply, headers: { "Retry-After": "1" } } : reply;
  }
  if (fault.status === 502) return { status: 502, contentType: "text/html", body: BAD_GATEWAY_HTML };
  return scimErrorReply(
    new ScimError(fault.status, "The service is temporarily unable to process the request"),
  );
}

function bodyBytes(reply: Reply): Uint8Array<ArrayBuffer> {
  return typeof reply.body === "string" ? new TextEncoder().encode(reply.body) : reply.body;
}

/** Builds the HTTP response; a dropped connection sends part of the body (`resetResponse`). */
function toResponse(reply: Reply, fault: Fault, ecid: string): Response {
  const headers = new Headers({
    "Content-Type": reply.contentType,
    "X-ORACLE-DMS-ECID": ecid,
    "X-ORACLE-DMS-RID": "0:1",
    ...reply.headers,
  });
  const bytes = bodyBytes(reply);
  if (fault.kind === "reset") return resetResponse(bytes, fault.variant, reply.status, headers);
  return new Response(bytes, { status: reply.status, headers });
}

/** Malformed and truncated pages replace only a successful page: a proxy mangling what the service sent. */
function mangle(reply: Reply, fault: Fault): Reply | undefined {
  if (reply.status !== 200) return undefined;
  if (fault.kind === "malformed") {
    // Half the time the junk even claims to be JSON, so a client must not trust Content-Type alone.
    return {
      status: 200,
      contentType: fault.variant < 0.5 ? "text/html" : "application/json",
      body: MAINTENANCE_HTML,
    };
  }
  if (fault.kind === "truncated") {
    // Cutting bytes, not characters, may split a UTF-8 sequence as a real cut would.
    const bytes = bodyBytes(reply);
    return { ...reply, body: bytes.slice(0, cutPoint(bytes.length, fault.variant)) };
  }
  return undefined;
}

// ---------------------------------------------------------------- token endpoint

interface TokenContext {
  options: IdcsEmulatorOptions;
  url: string;
  tokens: Map<string, number>;
  ttlSeconds: number;
  stats: IdcsEmulator["stats"];
}

/** Client credentials grant with a JWT assertion (RFC 7523 §2.2) or HTTP Basic (RFC 6749 §2.3.1). */
async function handleTokenRequest(request: Request, context: TokenContext): Promise<Reply> {
  try {
    const form = await readForm(request);
    const grantType = form.get("grant_type");
    if (grantType !== "client_credentials") {
      throw new OAuthError(
        400,
        "unsupported_grant_type",
        `grant_type must be client_credentials: current value is ${grantType}`,
      );
    }
    await authenticateClient(request, form, context);
    if (form.get("scope") !== SCOPE) {
      throw new OAuthError(
        400,
        "invalid_scope",
        `scope must be ${SCOPE}: current value is ${form.get("scope")}`,
      );
    }
    return issueToken(context);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return jsonReply(error.status, { error: error.code, error_description: error.message }, {
      "Cache-Control": "no-store",
    });
  }
}

async function readForm(request: Request): Promise<URLSearchParams> {
  const contentType = request.headers.get("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) {
    throw new OAuthError(
      400,
      "invalid_request",
      `the body must be application/x-www-form-urlencoded: got ${contentType}`,
    );
  }
  const form = new URLSearchParams(await request.text());
  // RFC 6749 §3.2: request parameters MUST NOT be included more than once.
  for (const name of new Set(form.keys())) {
    if (form.getAll(name).length > 1) {
      throw new OAuthError(400, "invalid_request", `parameter ${name} is repeated`);
    }
  }
  return form;
}

async function authenticateClient(
  request: Request,
  form: URLSearchParams,
  context: TokenContext,
): Promise<void> {
  const basic = parseBasicCredentials(request.headers.get("authorization"));
  const assertion = form.get("client_assertion");
  if (basic && assertion !== null) {
    throw new OAuthError(
      400,
      "invalid_request",
      "the client MUST NOT use more than one authentication method",
    );
  }
  if (basic) return checkClientSecret(basic, context.options);
  if (assertion === null) throw new OAuthError(401, "invalid_client", "client authentication is missing");
  try {
    await verifyAssertion(assertion, form, context);
  } catch (error) {
    context.stats.rejectedAssertions++;
    if (error instanceof OAuthError) throw error;
    if (error instanceof joseErrors.JOSEError) {
      throw new OAuthError(401, "invalid_client", `client assertion rejected: ${error.message}`);
    }
    throw error;
  }
}

function parseBasicCredentials(header: string | null): { id: string; secret: string } | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? "");
  if (!match) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0)),
    );
  } catch {
    throw new OAuthError(401, "invalid_client", "the Basic credentials are not base64 UTF-8");
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new OAuthError(401, "invalid_client", "the Basic credentials lack a ':'");
  return { id: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/** RFC 6749 §2.3.1 says id and secret are form-encoded before base64; most clients skip that, so accept both. */
function checkClientSecret(basic: { id: string; secret: string }, options: IdcsEmulatorOptions): void {
  if (options.clientSecret === undefined) {
    throw new OAuthError(
      401,
      "invalid_client",
      "client secret authentication is not enabled for this client",
    );
  }
  const formDecode = (text: string) => {
    try {
      return decodeURIComponent(text.replaceAll("+", " "));
    } catch {
      return text;
    }
  };
  const matches = (given: string, expected: string) => given === expected || formDecode(given) === expected;
  if (!matches(basic.id, options.clientId) || !matches(basic.secret, options.clientSecret)) {
    throw new OAuthError(401, "invalid_client", "unknown client or wrong client secret");
  }
}

/** The checks IDCS documents for a client assertion (ClientAssertion, D102898); each failure is an early throw. */
async function verifyAssertion(
  assertion: string,
  form: URLSearchParams,
  context: TokenContext,
): Promise<void> {
  const { clientId, keyId, publicKey } = context.options;
  const reject = (detail: string) =>
    new OAuthError(401, "invalid_client", `client assertion rejected: ${detail}`);
  if (form.get("client_assertion_type") !== CLIENT_ASSERTION_TYPE) {
    throw reject(`client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
  }
  const bodyClientId = form.get("client_id");
  if (bodyClientId !== null && bodyClientId !== clientId) {
    throw reject("client_id does not match the assertion");
  }
  const { payload, protectedHeader } = await jwtVerify(assertion, publicKey, {
    algorithms: ["RS256"],
    issuer: clientId,
    subject: clientId,
    requiredClaims: ["exp"],
    clockTolerance: ASSERTION_CLOCK_TOLERANCE_SECONDS,
  });
  if (protectedHeader.kid !== keyId) {
    throw reject(`kid must be the certificate alias ${keyId}: got ${protectedHeader.kid}`);
  }
  const audiences = typeof payload.aud === "string" ? [payload.aud] : payload.aud ?? [];
  if (!audiences.includes(IDCS_AUDIENCE)) throw reject(`aud must include ${IDCS_AUDIENCE}`);
  if (!audiences.includes(context.url) && !audiences.includes(`${context.url}/`)) {
    throw reject(`aud must include the domain URL ${context.url}`);
  }
  const now = Date.now() / 1000;
  if (payload.iat !== undefined && payload.iat > now + ASSERTION_CLOCK_TOLERANCE_SECONDS) {
    throw reject("iat is in the future");
  }
  if (payload.iat !== undefined && payload.exp! - payload.iat > ASSERTION_MAX_LIFETIME_SECONDS) {
    throw reject(`exp must be at most ${ASSERTION_MAX_LIFETIME_SECONDS} s after iat`);
  }
}

function issueToken(context: TokenContext): Reply {
  // Opaque and unguessable, like the real service's; deliberately not from the seeded PRNG.
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const token = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  context.tokens.set(token, Date.now() + context.ttlSeconds * 1000);
  context.stats.tokensIssued++;
  return jsonReply(
    200,
    { access_token: token, token_type: "Bearer", expires_in: context.ttlSeconds },
    { "Cache-Control": "no-store", "Pragma": "no-cache" },
  );
}

// ---------------------------------------------------------------- AuditEvents

interface AuditContext {
  store: EventStore;
  tokens: Map<string, number>;
  faults: () => Required<IdcsFaults>;
  orderRandom: Random;
  prettyPages?: "\n" | "\r\n";
  claimedTotalResults?: number;
}

function handleAuditEventsRequest(request: Request, context: AuditContext): Reply {
  try {
    authorize(request.headers.get("authorization"), context.tokens);
    const query = parseListQuery(new URL(request.url).searchParams);
    const selection = context.store.select(Date.now(), query.spans);
    const shuffle = context.faults().shuffleTies ? context.orderRandom : undefined;
    const resources = context.store.page(
      selection,
      query.startIndex - 1,
      query.count,
      query.sortOrder,
      shuffle,
    );
    // Built from each event's stored wire text, not by re-serialising parsed objects: what the client
    // receives is what the service sent (nulls, member order, escapes).
    const head = JSON.stringify({
      schemas: [LIST_RESPONSE_SCHEMA],
      totalResults: context.claimedTotalResults ?? selectedCount(selection),
    });
    const body = `${head.slice(0, -1)},"Resources":[${
      resources.map((stored) => wireTextOf(stored.event)).join(",")
    }],` +
      `"startIndex":${query.startIndex},"itemsPerPage":${resources.length}}`;
    return {
      status: 200,
      contentType: "application/json",
      body: context.prettyPages ? prettyPrint(body, context.prettyPages) : body,
    };
  } catch (error) {
    if (!(error instanceof ScimError)) throw error;
    return scimErrorReply(error);
  }
}

function authorize(header: string | null, tokens: Map<string, number>): void {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  if (!match) throw new ScimError(401, "Authorization: Bearer <access token> is required");
  const expiresAt = tokens.get(match[1]);
  if (expiresAt === undefined) throw new ScimError(401, "The access token is not valid");
  if (expiresAt <= Date.now()) {
    tokens.delete(match[1]);
    throw new ScimError(401, "The access token has expired");
  }
}

interface ListQuery {
  spans: Spans;
  sortOrder: SortOrder;
  startIndex: number;
  count: number;
}

/** SCIM list parameters (RFC 7644 §3.4.2) with the limits IDCS documents. */
function parseListQuery(params: URLSearchParams): ListQuery {
  const filter = params.get("filter");
  const sortBy = params.get("sortBy");
  if (sortBy !== null && sortBy.toLowerCase() !== "timestamp") {
    throw new ScimError(400, `sortBy "${sortBy}" is not supported: only timestamp`, "invalidValue");
  }
  const sortOrder = params.get("sortOrder") ?? "ascending";
  if (sortOrder !== "ascending" && sortOrder !== "descending") {
    throw new ScimError(
      400,
      `sortOrder must be ascending or descending: current value is ${sortOrder}`,
      "invalidValue",
    );
  }
  const startIndex = parseIntegerParam(params, "startIndex") ?? 1;
  const count = parseIntegerParam(params, "count") ?? DEFAULT_COUNT;
  return {
    spans: filter === null ? EVERY_TIME : parseFilter(filter),
    sortOrder,
    startIndex: Math.max(startIndex, 1),
    count: count < 0 ? DEFAULT_COUNT : Math.min(count, MAX_COUNT),
  };
}

function parseIntegerParam(params: URLSearchParams, name: string): number | undefined {
  const text = params.get(name);
  if (text === null) return undefined;
  if (!/^[+-]?\d{1,15}$/.test(text)) {
    throw new ScimError(400, `${name} must be an integer: current value is ${text}`, "invalidValue");
  }
  return Number(text);
}

// ---------------------------------------------------------------- server

const ROUTES: Record<string, [Route, string]> = {
  [TOKEN_PATH]: ["token", "POST"],
  [AUDIT_EVENTS_PATH]: ["auditEvents", "GET"],
};

function route(request: Request): Route | ScimError {
  const { pathname } = new URL(request.url);
  const match = ROUTES[pathname.replace(/\/$/, "")];
  if (!match) return new ScimError(404, `No resource at ${pathname}`);
  if (request.method !== match[1]) {
    return new ScimError(405, `Method ${request.method} is not allowed on ${pathname}`);
  }
  return match[0];
}

function validateOptions(options: IdcsEmulatorOptions): void {
  const fail = (name: string, requirement: string, value: unknown) =>
    new TypeError(
      `Cannot start the IDCS emulator as '${name}' must be ${requirement}: current value is ${value}`,
    );
  if (!options.clientId) throw fail("clientId", "a non-empty string", options.clientId);
  if (!options.keyId) throw fail("keyId", "a non-empty string", options.keyId);
  if (!(options.publicKey instanceof CryptoKey) || options.publicKey.type !== "public") {
    throw fail("publicKey", "a public CryptoKey", options.publicKey);
  }
  const ttl = options.tokenTtlSeconds;
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) {
    throw fail("tokenTtlSeconds", "a positive integer", ttl);
  }
  const seed = options.seed;
  if (seed !== undefined && !Number.isInteger(seed)) throw fail("seed", "an integer", seed);
}

/** Starts an identity domain on 127.0.0.1; resolves once it listens. */
export async function startIdcsEmulator(options: IdcsEmulatorOptions): Promise<IdcsEmulator> {
  validateOptions(options);
  const seed = options.seed ?? crypto.getRandomValues(new Uint32Array(1))[0];
  const faultRandom = mulberry32(seed);
  const orderRandom = mulberry32(seed ^ 0x9e3779b9);
  const ecidRandom = mulberry32(seed ^ 0x85ebca6b);
  let faults = resolveFaults(options.faults ?? {}, FAULT_MODEL);
  const store = new EventStore();
  const setRetentionDays = (days: number) => {
    if (!(days > 0)) throw new TypeError(`retentionDays must be positive: current value is ${days}`);
    store.retentionMs = days * DAY_MS;
  };
  setRetentionDays(options.retentionDays ?? API_RETENTION_DAYS);
  store.add(options.events ?? [], -Infinity);
  const tokens = new Map<string, number>();
  const stats = {
    tokenRequests: 0,
    tokensIssued: 0,
    auditRequests: 0,
    faultsInjected: 0,
    rejectedAssertions: 0,
    maxInFlight: 0,
    rateLimited: 0,
    firstRequestAt: 0,
  };
  let inFlight = 0;
  const limiter = options.rateLimit && rateLimiter(options.rateLimit);

  const tokenContext: TokenContext = {
    options,
    url: "",
    tokens,
    ttlSeconds: options.tokenTtlSeconds ?? 3600,
    stats,
  };
  const auditContext: AuditContext = {
    store,
    tokens,
    faults: () => faults,
    orderRandom,
    prettyPages: options.prettyPages,
    claimedTotalResults: options.claimedTotalResults,
  };

  /**
   * One routed request: decide its fault, answer (or let the gateway fail it),
   * then wait the latency. The request body is read before waiting, as a
   * shutting-down server cancels bodies not read yet.
   */
  const respond = async (request: Request, target: Route, ecid: string): Promise<Response> => {
    const now = Date.now();
    stats.firstRequestAt ||= now;
    const refusedForMs = limiter?.(now);
    if (refusedForMs !== undefined) {
      stats.rateLimited++;
      await delay(faults.latencyMs);
      const reply = scimErrorReply(
        new ScimError(429, "Too many requests: the rate limit of this domain was exceeded"),
      );
      const retryAfter = { "Retry-After": String(Math.max(1, Math.ceil(refusedForMs / 1000))) };
      return toResponse({ ...reply, headers: options.rateLimit!.retryAfter ? retryAfter : {} }, {
        kind: "none",
      }, ecid);
    }
    const fault = decideIdcsFault(faultRandom, faults, target);
    if (fault.kind === "429" || fault.kind === "5xx") {
      stats.faultsInjected++;
      await delay(faults.latencyMs);
      return toResponse(gatewayFaultReply(fault), fault, ecid);
    }
    const reply = target === "token"
      ? await handleTokenRequest(request, tokenContext)
      : handleAuditEventsRequest(request, auditContext);
    await delay(faults.latencyMs);
    const mangled = mangle(reply, fault);
    if (mangled || fault.kind === "reset") stats.faultsInjected++;
    return toResponse(mangled ?? reply, fault, ecid);
  };

  const handle = async (request: Request): Promise<Response> => {
    const ecid = randomHex(ecidRandom, 24);
    const target = route(request);
    if (target instanceof ScimError) return toResponse(scimErrorReply(target), { kind: "none" }, ecid);
    if (options.redirectTo) {
      if (target === "token") stats.tokenRequests++;
      else stats.auditRequests++;
      const { pathname, search } = new URL(request.url);
      await request.body?.cancel();
      return new Response(null, {
        status: 302,
        headers: { location: options.redirectTo + pathname + search },
      });
    }
    if (target === "token") {
      stats.tokenRequests++;
      return await respond(request, target, ecid);
    }
    stats.auditRequests++;
    // Latency counts as time in flight, so concurrent page requests overlap as they would for real.
    stats.maxInFlight = Math.max(stats.maxInFlight, ++inFlight);
    try {
      return await respond(request, target, ecid);
    } finally {
      inFlight--;
    }
  };

  const listening = Promise.withResolvers<void>();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: options.port ?? 0,
      onListen: () => listening.resolve(),
    },
    handle,
  );
  await listening.promise;
  const url = `http://127.0.0.1:${server.addr.port}`;
  tokenContext.url = url;

  return {
    url,
    addEvents: (events, visibleAt = Date.now()) => store.add(events, visibleAt),
    issuedTokens: () => [...tokens.keys()],
    setFaults: (next) => {
      faults = resolveFaults(next, FAULT_MODEL);
    },
    setRetentionDays,
    visibleEvents: () => store.visible(Date.now()),
    wireText: (id) => {
      const event = store.find(id);
      if (!event) throw new TypeError(`The emulator has no AuditEvent ${id}`);
      return wireTextOf(event);
    },
    stats,
    // shutdown() lets requests in flight finish; aborting a `signal` would reset their connections.
    close: () => server.shutdown(),
  };
}

// ---------------------------------------------------------------- test data

const EVENT_KINDS = [
  { eventId: "sso.session.create.success", serviceName: "SSO" },
  { eventId: "sso.session.delete.success", serviceName: "SSO" },
  { eventId: "sso.authentication.failure", serviceName: "SSO" },
  { eventId: "sso.app.access.success", serviceName: "SSO" },
  { eventId: "admin.user.create.success", serviceName: "ADMIN", resourceType: "User" },
  { eventId: "admin.user.update.success", serviceName: "ADMIN", resourceType: "User" },
  { eventId: "admin.group.update.success", serviceName: "ADMIN", resourceType: "Group" },
  { eventId: "admin.app.update.success", serviceName: "ADMIN", resourceType: "App" },
] as const;

const FIRST_NAMES = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy"];
const LAST_NAMES = ["Smith", "Jones", "White", "Brown", "Black", "Green", "Moore", "Clark"];
/** A few names that exercise UTF-8: accents, CJK, Cyrillic and an astral-plane emoji. */
const NON_ASCII_NAMES = ["Zoë Ångström", "José Núñez", "Łukasz Żółć", "李 小龍", "Дмитрий Иванов", "Ōta 🌸"];
const APP_NAMES = ["Audit Archiver", "HR Sync", "Mobile App", "Admin Console", "Payroll Portal"];
const GROUP_NAMES = ["Administrators", "Auditors", "Finance", "Développeurs"];
/** One array for all generated events: a million copies of it would cost tens of megabytes. */
const AUDIT_EVENT_SCHEMAS = Object.freeze([AUDIT_EVENT_SCHEMA]);

/** Expected extra events per run of equal timestamps: 80 % of runs have 2–5 events, 20 % have 20–60. */
const MEAN_TIE_RUN_EXTRA = 0.8 * 2.5 + 0.2 * 39;

/** Someone or something that acts or is acted on; shared by many events, as in a real domain. */
interface Principal {
  name: string;
  displayName: string;
  id: string;
  clientIp: string;
}

interface Directory {
  domain: string;
  users: Principal[];
  apps: Principal[];
  groups: Principal[];
}

/**
 * Realistic AuditEvents in timestamp order, deterministic from `seed`.
 * `tieRate` is the share of events that share their millisecond with the
 * previous event (runs of 2–5, and some of 20–60).
 */
export function generateEvents(
  options: { seed: number; count: number; from: number; to: number; tieRate?: number; lazy?: boolean },
): AuditEvent[] {
  const { seed, count, from, to, tieRate = 0, lazy = false } = options;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`'count' must be a non-negative integer: current value is ${count}`);
  }
  if (!(to > from)) throw new RangeError(`'to' must be after 'from': current values are ${from} and ${to}`);
  if (!(tieRate >= 0 && tieRate <= 1)) {
    throw new RangeError(`'tieRate' must be between 0 and 1: current value is ${tieRate}`);
  }
  const random = mulberry32(seed);
  // Its own generator for nulls and wire styles, so the events' contents stay those of earlier versions.
  const shapeRandom = mulberry32(seed ^ 0x27d4eb2f);
  const directory = generateDirectory(random);
  const runLengths = planTieRuns(random, count, tieRate);
  const step = (to - from) / runLengths.length;
  const events: AuditEvent[] = [];
  runLengths.forEach((length, run) => {
    // One jittered instant per step keeps instants in order and, when the range allows, distinct;
    // the cap guards against floating-point rounding up to `to`.
    const time = Math.min(to - 1, from + Math.floor(run * step + random() * step));
    const timestamp = new Date(time).toISOString();
    for (let i = 0; i < length; i++) {
      events.push(
        lazy
          ? new DeferredEvent(timestamp, eventSeed(seed, events.length), directory)
          : shapeOnTheWire(shapeRandom, generateEvent(random, timestamp, directory)),
      );
    }
  });
  return events;
}

/**
 * An event `generateEvents` makes only when it is sent (`lazy`), from a seed of its own, so the same seed
 * sends the same bytes on every request: ten million events made up front would not fit in memory, and a
 * domain's backlog can be that large. It holds what selects and orders it (its timestamp and its id, the
 * first thing `generateEvent` draws from the seed).
 */
class DeferredEvent implements AuditEvent {
  [attribute: string]: unknown;
  readonly id: string;

  constructor(readonly timestamp: string, readonly seed: number, readonly directory: Directory) {
    this.id = randomHex(mulberry32(seed), 32);
  }

  make(): AuditEvent {
    const event = generateEvent(mulberry32(this.seed), this.timestamp, this.directory);
    return shapeOnTheWire(mulberry32(this.seed ^ 0x27d4eb2f), event);
  }
}

/** The seed of the `index`th event a lazy `generateEvents` makes: a Weyl sequence, distinct per index. */
const eventSeed = (seed: number, index: number) => (seed + Math.imul(index + 1, 0x9e3779b9)) >>> 0;

/** Attributes an AuditEvent may carry as `null`: whether IDCS omits or nulls an unset attribute is undocumented. */
const NULLABLE_ATTRIBUTES = [
  "clientName",
  "actorDisplayName",
  "clientIp",
  "adminResourceName",
  "rId",
] as const;

/** Some events get `null` attributes, and a wire style with `\/` or `\u00e9` escapes: both ways are modelled. */
function shapeOnTheWire(random: Random, event: AuditEvent): AuditEvent {
  if (random() < 0.1) {
    for (const name of NULLABLE_ATTRIBUTES) if (name in event && random() < 0.4) event[name] = null;
  }
  const r = random();
  if (r >= 0.5) {
    generatedWire.set(
      event,
      r < 0.7
        ? { escapeNonAscii: true, escapeSlash: false }
        : r < 0.85
        ? { escapeNonAscii: false, escapeSlash: true }
        : { escapeNonAscii: true, escapeSlash: true },
    );
  }
  return event;
}

function generateDirectory(random: Random): Directory {
  const principal = (name: string, displayName: string): Principal => ({
    name,
    displayName,
    id: randomHex(random, 32),
    clientIp: `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${
      1 + Math.floor(random() * 254)
    }`,
  });
  const users = Array.from({ length: 200 }, (_, index) => {
    const displayName = random() < 0.05
      ? pick(random, NON_ASCII_NAMES)
      : `${pick(random, FIRST_NAMES)} ${pick(random, LAST_NAMES)}`;
    return principal(`${displayName.toLowerCase().replaceAll(" ", ".")}${index}@example.com`, displayName);
  });
  return {
    domain: `https://idcs-${randomHex(random, 32)}.identity.oraclecloud.com`,
    users,
    apps: APP_NAMES.map((name) => principal(name.toLowerCase().replaceAll(" ", "-"), name)),
    groups: GROUP_NAMES.map((name) => principal(name, name)),
  };
}

/** Lengths of runs of equal timestamps adding up to `count`; the run probability solves tied/total = tieRate. */
function planTieRuns(random: Random, count: number, tieRate: number): number[] {
  const runProbability = tieRate >= 1 ? 1 : Math.min(1, tieRate / (MEAN_TIE_RUN_EXTRA * (1 - tieRate)));
  const lengths: number[] = [];
  for (let remaining = count; remaining > 0;) {
    const length = Math.min(remaining, random() < runProbability ? tieRunLength(random) : 1);
    lengths.push(length);
    remaining -= length;
  }
  return lengths;
}

function tieRunLength(random: Random): number {
  return random() < 0.8 ? 2 + Math.floor(random() * 4) : 20 + Math.floor(random() * 41);
}

function generateEvent(random: Random, timestamp: string, directory: Directory): AuditEvent {
  const id = randomHex(random, 32);
  const kind = pick(random, EVENT_KINDS);
  const app = pick(random, directory.apps);
  // One event in ten is done by an application acting for itself (client credentials).
  const isClient = random() < 0.1;
  const actor = isClient ? app : pick(random, directory.users);
  const event: AuditEvent = {
    id,
    timestamp,
    eventId: kind.eventId,
    serviceName: kind.serviceName,
    ecId: randomHex(random, 24),
    rId: `0:1:${1 + Math.floor(random() * 9)}`,
    actorName: actor.name,
    actorDisplayName: actor.displayName,
    actorId: actor.id,
    actorType: isClient ? "Client" : "User",
    clientIp: actor.clientIp,
    clientId: app.id,
    clientName: app.displayName,
  };
  if ("resourceType" in kind) {
    const pool = { User: directory.users, Group: directory.groups, App: directory.apps }[kind.resourceType];
    const resource = pick(random, pool);
    event.adminResourceName = resource.name;
    event.adminResourceType = kind.resourceType;
    event.adminResourceId = resource.id;
    // The API returns the changed values as a JSON document inside a string.
    event.adminValuesAdded = JSON.stringify({ displayName: resource.displayName, active: true });
  }
  event.meta = {
    created: timestamp,
    lastModified: timestamp,
    resourceType: "AuditEvent",
    location: `${directory.domain}${AUDIT_EVENTS_PATH}/${id}`,
  };
  event.schemas = AUDIT_EVENT_SCHEMAS;
  return event;
}

// ---------------------------------------------------------------- test keys

function toPem(label: string, der: ArrayBuffer): string {
  const base64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return `-----BEGIN ${label}-----\n${base64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

/** A fresh RSA 2048 client key: the private key as PKCS#8 and PKCS#1 PEM, the public key as SPKI PEM and CryptoKey. */
export async function generateClientKey(): Promise<
  { publicKey: CryptoKey; pkcs8Pem: string; pkcs1Pem: string; spkiPem: string }
> {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const pkcs8Pem = toPem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const spkiPem = toPem("PUBLIC KEY", await crypto.subtle.exportKey("spki", pair.publicKey));
  const pkcs1Pem = createPrivateKey(pkcs8Pem).export({ type: "pkcs1", format: "pem" }) as string;
  return { publicKey: pair.publicKey, pkcs8Pem, pkcs1Pem, spkiPem };
}
