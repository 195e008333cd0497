/**
 * One status classifier, one retry loop (jittered backoff, Retry-After) and one rate gate per host, for every call.
 *
 * @module
 */

import type { ArchiveError, ErrorCode } from "../errors.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";

const RETRY_ATTEMPTS = 6;

/** Attempts of one request that a 429 may refuse, on top of RETRY_ATTEMPTS (see `retrying`). */
const THROTTLED_ATTEMPTS = 8;

/** The retry loop's one tunable, from MAX_RETRY_WAIT (`configureRequests`). */
const retryPolicy = { maxWaitMs: 20_000 };

/** Full-jitter exponential backoff from 1/100 of the longest wait (attempt 1 is the first retry). Pure. */
export function backoffDelay(attempt: number, random: number, maxWaitMs: number): number {
  return Math.floor(random * Math.min(maxWaitMs, (maxWaitMs / 100) * 2 ** attempt));
}

/** Retry-After as delta-seconds or an HTTP date, in ms (RFC 9110 §10.2.3). Pure. */
export function retryAfterMs(header: string | null | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) ? Math.max(ms, 0) : undefined;
}

/** What a failed HTTP status means for us: the error code, whether to retry, and the wait the server asked for. */
interface StatusClass {
  code: ErrorCode;
  retriable: boolean;
  retryAfterMs?: number;
}

/**
 * The one status classifier, for `fetch` calls and SDK calls alike. Pure. 429 and 5xx are retried (with
 * Retry-After where sent); 401/403/404/412 have codes of their own so callers never test raw statuses.
 */
export function classifyStatus(
  status: number,
  headers: { get(name: string): string | null } | undefined,
  now: number,
): StatusClass {
  if (status === 429 || status >= 500) {
    return { code: "HTTP", retriable: true, retryAfterMs: retryAfterMs(headers?.get("retry-after"), now) };
  }
  const code = ({ 401: "AUTH", 403: "FORBIDDEN", 404: "NOT_FOUND", 412: "CONFLICT" } as const)[status];
  return { code: code ?? "HTTP", retriable: false };
}

/**
 * The APIs that count under their own name in /metrics (what their callers call them), by service. Object
 * Storage calls name their object (`put audit-archive/…`): they count under the operation (OBJECT_CALLS).
 */
const SERVICES: readonly (readonly string[])[] = [
  ["identity domain token", "identity domain AuditEvents"],
  ["OCI Audit events", "OCI Audit configuration", "Identity compartments"],
  [
    "Object Storage namespace",
    "retention rules",
    "Object Storage PutObject",
    "Object Storage GetObject",
    "Object Storage HeadObject",
    "Object Storage ListObjects",
  ],
  ["Logging push"],
  ["Vault secret", "Vault KMS sign", "Vault GetKey", "Vault GetKeyVersion"],
];

const NAMED_APIS = new Set(SERVICES.flat());

const OBJECT_CALLS: Record<string, string> = {
  put: "Object Storage PutObject",
  get: "Object Storage GetObject",
  head: "Object Storage HeadObject",
  list: "Object Storage ListObjects",
};

/** APIs whose series /metrics already shows. */
const declaredApis = new Set<string>();

/**
 * Shows every series of a service's APIs, at 0, from its first call on: every status class, retries and both
 * kinds of wait. So the set of series is fixed once each service in use has been called, and a rate or an
 * alert on a status class has a series to work on before the first such failure.
 */
function declareService(api: string) {
  if (declaredApis.has(api)) return;
  for (const name of SERVICES.find((service) => service.includes(api)) ?? [api]) {
    declaredApis.add(name);
    for (const status_class of ["2xx", "4xx", "5xx", "network"]) {
      metrics.add("audit_archiver_requests_total", { api: name, status_class }, 0);
    }
    metrics.add("audit_archiver_retries_total", { api: name }, 0);
    for (const by of ["backoff", "retry-after"]) {
      metrics.add("audit_archiver_retry_wait_seconds_total", { api: name, by }, 0);
    }
  }
}

/**
 * The `api` label of a call: one of a fixed set, never an object name or prefix, so /metrics keeps the same
 * series however many objects a bucket holds (a label value per object would be a new series per write, for
 * good). A call that is none of them counts as `other`. Pure.
 */
export function apiLabel(what: string): string {
  if (NAMED_APIS.has(what)) return what;
  return OBJECT_CALLS[what.slice(0, what.indexOf(" "))] ?? "other";
}

/**
 * The one retry loop, for `fetch` calls and SDK calls alike: runs `attempt` until it succeeds or fails for good.
 * `classify` turns any failure into an ArchiveError that says whether it is retriable (and any Retry-After).
 */
export async function retrying<T>(
  what: string,
  attempt: () => Promise<T>,
  classify: (error: unknown) => ArchiveError,
  gate?: RequestGate,
): Promise<T> {
  const api = { api: apiLabel(what) };
  declareService(api.api);
  for (let n = 1, throttles = 0;; n++) {
    let wait: number | undefined;
    let sent: Sent | undefined;
    try {
      let result: T;
      if (gate) {
        const started = await gate.run(attempt);
        sent = started.sent;
        result = await started.result;
        gate.succeeded(sent);
      } else result = await attempt();
      metrics.add("audit_archiver_requests_total", { ...api, status_class: "2xx" });
      return result;
    } catch (error) {
      const archiveError = classify(error);
      metrics.add("audit_archiver_requests_total", { ...api, status_class: statusClass(archiveError) });
      // A 429 says the request was sound and the service busy: it gets attempts of its own, so a per-minute
      // limit (150/min on a Free domain) outlasts the backoff of RETRY_ATTEMPTS without failing the pass.
      const throttled = archiveError.status === 429 && ++throttles < THROTTLED_ATTEMPTS;
      if (throttled) n--;
      if (!archiveError.retriable || n >= RETRY_ATTEMPTS) throw archiveError;
      const { maxWaitMs } = retryPolicy;
      // A Retry-After is honoured up to MAX_RETRY_WAIT, so a hostile or mistaken header cannot stall a pass.
      wait = Math.min(
        archiveError.retryAfterMs ?? backoffDelay(throttled ? throttles : n, Math.random(), maxWaitMs),
        maxWaitMs,
      );
      if (archiveError.status === 429 && sent) gate?.throttled(sent, wait, archiveError.retryAfterMs);
      log("debug", "retrying", {
        what,
        attempt: n,
        waitMs: wait,
        retryAfterMs: archiveError.retryAfterMs,
        error: archiveError.message,
      });
      metrics.add("audit_archiver_retries_total", api);
      const by = archiveError.retryAfterMs === undefined ? "backoff" : "retry-after";
      metrics.add("audit_archiver_retry_wait_seconds_total", { ...api, by }, wait / 1000);
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** The status class a failed attempt counts under: 4xx, 5xx, or network (no answer, or not what was documented). */
const statusClass = (error: ArchiveError) =>
  error.status === undefined ? "network" : `${Math.floor(error.status / 100)}xx`;

/**
 * The pace of requests to one host: at most CONCURRENCY in flight however many windows are being read ahead
 * (the limit is per host, not per caller, so reading ahead never multiplies the load), and the rate limits that
 * 429s teach. Oracle limits an identity domain per second and per minute (docs/oracle/identity-domains.md,
 * "Errors and limits": 20/s and 150/min on a Free domain) and publishes nothing for OCI Audit, so the limits are
 * learnt, not configured: from the requests the host accepted in the second and in the minute before an
 * overload began (LIMIT_WINDOWS_MS). Past that count the gate holds each request until a window has passed since
 * the answer to the oldest of them (the host counted it before it answered, so however late either was sent, the
 * host sees them a window apart), so a Free domain is driven at its limits with few more 429s, and a host that
 * never answers 429 (a Premium domain) is never paced. A 429 also holds every request to the host for its wait
 * (Retry-After, or the retry loop's backoff when absent), so one 429 does not become a burst of them. Waiters
 * are served in arrival order, so the window being committed (whose pages were asked for first) is never starved.
 */
class RequestGate {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  #heldUntil = 0;
  /** The requests not refused (yet), in start order, as far back as the longest window. */
  readonly #sent: Sent[] = [];
  /** The learnt limit of each of LIMIT_WINDOWS_MS (requests per window); undefined = none seen. */
  readonly #limits: (number | undefined)[] = LIMIT_WINDOWS_MS.map(() => undefined);
  /** Successes since a limit was last learnt or raised. */
  #successes = 0;
  /**
   * The 429s since the overload began: the start of its first refused request, when that 429 came, and the
   * limits known before it. Only a request started after that first one can end it: an earlier one's success
   * says nothing of the host now.
   */
  #overload?: {
    firstStart: number;
    firstRefusedAt: number;
    refused: number;
    /** 429s of requests started after the first 429 came: the probes of the overload. */
    probesRefused: number;
    limitsBefore: (number | undefined)[];
  };
  /** The one request in flight during an overload, until it is answered. */
  #probe?: Promise<void>;
  constructor(readonly limit: number) {}

  /** Runs `task` when a slot is free and the pace allows; returns the request as sent and its outcome. */
  async run<T>(task: () => Promise<T>): Promise<{ sent: Sent; result: Promise<T> }> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    const { sent, probed } = await this.#paced();
    const result = task();
    const release = () => {
      // Before the retry loop sees the outcome, so a success or a 429 finds its answer time.
      sent.answeredAt = Date.now();
      // The slot passes straight to the next waiter, so `#active` never drops below the work in flight.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
      // After the retry loop has seen the answer (a 429 holds the host before the next request looks).
      if (probed) setTimeout(probed, 0);
    };
    result.then(release, release);
    return { sent, result };
  }

  /**
   * Waits for the hold, the learnt limits and any probe; returns the request it lets start, and during an
   * overload the end of its probe: one request at a time finds out whether the overload is over, so a host
   * that refuses for a minute costs a 429 per wait, not one per slot.
   */
  async #paced(): Promise<{ sent: Sent; probed?: () => void }> {
    for (;;) {
      if (this.#probe) {
        await this.#probe;
        continue;
      }
      const now = Date.now();
      const at = Math.max(
        now,
        this.#heldUntil,
        ...LIMIT_WINDOWS_MS.map((windowMs, i) => this.#freeAt(windowMs, i)),
      );
      if (at <= now) break;
      await new Promise((resolve) => setTimeout(resolve, at - now));
    }
    const sent: Sent = { startedAt: Date.now() };
    this.#sent.push(sent);
    const horizon = sent.startedAt - LIMIT_WINDOWS_MS[LIMIT_WINDOWS_MS.length - 1] - ANSWER_MARGIN_MS;
    while ((this.#sent[0].answeredAt ?? Infinity) < horizon) this.#sent.shift();
    if (!this.#overload) return { sent };
    let probed!: () => void;
    this.#probe = new Promise<void>((resolve) => probed = resolve).then(() => this.#probe = undefined);
    return { sent, probed };
  }

  /**
   * When window `i` lets one more request start: a window after the `limit`-th latest answer (one still in
   * flight counts as answered now). Every request answered before it reached the host before it, so at most
   * `limit` - 1 others can be in the host's window when the next one arrives, however late any was sent.
   */
  #freeAt(windowMs: number, i: number): number {
    const limit = this.#limits[i];
    if (limit === undefined || this.#sent.length < limit) return 0;
    const now = Date.now();
    const answers = this.#sent.map(({ answeredAt }) => answeredAt ?? now).sort((a, b) => b - a);
    return answers[limit - 1] + windowMs + ANSWER_MARGIN_MS;
  }

  /**
   * Requests accepted in the host's window before the first 429 of `overload`: started before that request
   * (ms are coarse: its own start included) and less than a window before its answer came, so a request sent
   * late is not counted in a window it did not reach (a count above the limit is a 429 per window).
   */
  #acceptedBefore(overload: { firstStart: number; firstRefusedAt: number }, windowMs: number): number {
    return this.#sent.filter(({ startedAt }) =>
      startedAt <= overload.firstStart && startedAt > overload.firstRefusedAt - windowMs
    ).length;
  }

  /**
   * A 429 of `sent`: hold every request for `waitMs`, and learn from the overload it belongs to. A few 429s in
   * a row are a limit, not chance (the fault suite refuses up to 8% of requests at random): a limit of the
   * second when about the second's learnt limit (or more) had been accepted in it; a limit of the minute when
   * the host asks for a wait longer than a second (`retryAfterMs`, before MAX_RETRY_WAIT caps it), or when a
   * request started more than a second after the first 429 is refused too (with none accepted since, a limit
   * of the second would have let it through).
   */
  throttled(sent: Sent, waitMs: number, retryAfterMs: number | undefined) {
    const now = Date.now();
    const index = this.#sent.indexOf(sent);
    if (index >= 0) this.#sent.splice(index, 1);
    const overload = this.#overload ??= {
      firstStart: sent.startedAt,
      firstRefusedAt: now,
      refused: 0,
      probesRefused: 0,
      limitsBefore: [...this.#limits],
    };
    overload.refused++;
    if (sent.startedAt >= overload.firstRefusedAt) overload.probesRefused++;
    // The backoff grows with the host's overload, not only with each request's own 429s: each probe of a
    // long overload is another request, whose first wait alone would make it a 429 every 200 ms. Probes only:
    // the requests in flight with the first 429 are refused with it, and held the host for up to 13 s.
    const backoff = backoffDelay(overload.probesRefused + 1, Math.random(), retryPolicy.maxWaitMs);
    this.#heldUntil = Math.max(this.#heldUntil, now + Math.max(waitMs, backoff));
    // Counted again at each 429 of the overload: requests in flight with its first one are refused or not.
    const accepted = LIMIT_WINDOWS_MS.map((windowMs) => this.#acceptedBefore(overload, windowMs));
    const i = LIMIT_WINDOWS_MS.findLastIndex((_, w) =>
      w === 0
        ? overload.refused >= OVERLOAD_REFUSALS && accepted[0] >= 0.9 * (overload.limitsBefore[0] ?? 0)
        : (retryAfterMs ?? 0) > LIMIT_WINDOWS_MS[w - 1] ||
          sent.startedAt > overload.firstRefusedAt + LIMIT_WINDOWS_MS[w - 1]
    );
    if (i < 0) return;
    // One overload is one window's: a minute's 429s come in a row too, and teach nothing of the second.
    this.#limits.splice(0, i, ...overload.limitsBefore.slice(0, i));
    // The count itself, lower or higher (counts blurred by a busy event loop must not only ever ratchet down),
    // but below a limit the gate kept to and was refused at anyway.
    const learnt = Math.max(1, Math.min(accepted[i], (overload.limitsBefore[i] ?? Infinity) - 1));
    if (this.#limits[i] === learnt) return;
    this.#limits[i] = learnt;
    this.#successes = 0;
    log("debug", "rate limit learnt", { perMs: LIMIT_WINDOWS_MS[i], requests: this.#limits[i] });
  }

  /**
   * A success of a request started after an overload began ends it; a long run of successes raises the learnt
   * limits a little, as limits can grow.
   */
  succeeded(sent: Sent) {
    if (this.#overload && sent.startedAt > this.#overload.firstStart) this.#overload = undefined;
    // A limit's count as a count per longest window: a second's 50 would raise the limits, and cost a 429 per
    // raise, every 500 successes (10 s of an Oracle Apps domain's pace).
    const perLongest = this.#limits.flatMap((limit, i) =>
      limit === undefined ? [] : [limit * LIMIT_WINDOWS_MS[LIMIT_WINDOWS_MS.length - 1] / LIMIT_WINDOWS_MS[i]]
    );
    if (!perLongest.length || ++this.#successes < LIMIT_RAISE_AFTER * Math.max(...perLongest)) return;
    this.#successes = 0;
    for (const [i, limit] of this.#limits.entries()) {
      if (limit !== undefined) this.#limits[i] = Math.ceil(limit * 1.1);
    }
  }
}

/** A request the gate let start: when, and when its answer came (undefined while in flight). */
interface Sent {
  readonly startedAt: number;
  answeredAt?: number;
}

/**
 * The windows a host may limit requests in: Oracle limits an identity domain per second and per minute
 * (docs/oracle/identity-domains.md, "Errors and limits"). Shortest first.
 */
const LIMIT_WINDOWS_MS = [1000, 60_000];

/** Added to a window after an answer: the host's clock and ours tick in whole ms. */
const ANSWER_MARGIN_MS = 10;

/** 429s in a row (no success between) that show a limit of the second. */
const OVERLOAD_REFUSALS = 3;

/**
 * The learnt limits are raised by 10% after this many longest windows' worth of successes at their pace (ten
 * minutes) without an overload.
 */
const LIMIT_RAISE_AFTER = 10;

/** One gate per host (origin), sized by CONCURRENCY (`configureRequests`). */
const gates = new Map<string, RequestGate>();
const requestLimits = { concurrency: 8, maxResponseBytes: 64 * 1024 * 1024 };

/**
 * Sets the process's retry wait cap (MAX_RETRY_WAIT), requests in flight per host (CONCURRENCY) and the largest
 * response body read (MAX_RESPONSE_BYTES).
 */
export function configureRequests(
  limits: { maxRetryWaitMs: number; concurrency: number; maxResponseBytes: number },
) {
  retryPolicy.maxWaitMs = limits.maxRetryWaitMs;
  requestLimits.concurrency = limits.concurrency;
  requestLimits.maxResponseBytes = limits.maxResponseBytes;
}

/** The largest response body any request reads, as MAX_RESPONSE_BYTES sets it (invariant 12). */
export const maxResponseBytes = () => requestLimits.maxResponseBytes;

/** Requests in flight per host, as CONCURRENCY sets it. */
export const requestConcurrency = () => requestLimits.concurrency;

export const gateOf = (url: string) => {
  const origin = new URL(url).origin;
  let gate = gates.get(origin);
  if (!gate) gates.set(origin, gate = new RequestGate(requestLimits.concurrency));
  return gate;
};
