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
    let startedAt = Date.now();
    try {
      let result: T;
      if (gate) {
        const started = await gate.run(attempt);
        startedAt = started.startedAt;
        result = await started.result;
        gate.succeeded();
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
      if (archiveError.status === 429) gate?.throttled(startedAt, wait);
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
 * (the limit is per host, not per caller, so reading ahead never multiplies the load), and a rate that 429s
 * teach. Oracle publishes per-domain limits (docs/oracle/identity-domains.md, "Errors and limits"; Oracle's api-rate-limiting page: 20/s and 150/min on a Free
 * domain, 90/s on Premium) but not for OCI Audit, so the rate is learnt, not configured: a 429 cuts it and
 * holds every request to the host for its wait (Retry-After, or the retry loop's backoff when absent), so one
 * 429 does not become a burst of them; each success wins a little back. Waiters are served
 * in arrival order, so the window being committed (whose pages were asked for first) is never starved.
 */
class RequestGate {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  /** Least time between two request starts, in ms; 0 = unpaced, until the first 429. */
  #intervalMs = 0;
  #nextStart = 0;
  #heldUntil = 0;
  /** When the rate was last cut: the 429s of requests started before it are the same overload. */
  #slowedAt = -Infinity;
  readonly #recentStarts: number[] = [];
  constructor(readonly limit: number) {}

  /** Runs `task` when a slot is free and the pace allows; returns when it started and its outcome. */
  async run<T>(task: () => Promise<T>): Promise<{ startedAt: number; result: Promise<T> }> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    const startedAt = await this.#paced();
    const result = task();
    const release = () => {
      // The slot passes straight to the next waiter, so `#active` never drops below the work in flight.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    };
    result.then(release, release);
    return { startedAt, result };
  }

  /** Waits for the hold and the pace; returns the start time it was given. */
  async #paced(): Promise<number> {
    for (;;) {
      const now = Date.now();
      const at = Math.max(now, this.#heldUntil, this.#nextStart);
      if (at <= now) break;
      await new Promise((resolve) => setTimeout(resolve, at - now));
    }
    const now = Date.now();
    this.#nextStart = now + this.#intervalMs;
    this.#recentStarts.push(now);
    while (this.#recentStarts[0] <= now - 1000) this.#recentStarts.shift();
    return now;
  }

  /** A 429: cut the rate (once per overload) and hold every request for `waitMs`. */
  throttled(startedAt: number, waitMs: number) {
    const now = Date.now();
    this.#heldUntil = Math.max(this.#heldUntil, now + waitMs);
    if (startedAt < this.#slowedAt) return;
    const rate = this.#intervalMs ? 1000 / this.#intervalMs : Math.max(1, this.#recentStarts.length);
    // Never slower than one request per MAX_RETRY_WAIT: the pace must not outwait the retry loop's own bound.
    this.#intervalMs = Math.min(retryPolicy.maxWaitMs, 1000 / (rate * GATE_DECREASE));
    this.#slowedAt = now;
  }

  /** A success: raise the rate by GATE_INCREASE, until unpaced again. */
  succeeded() {
    if (!this.#intervalMs) return;
    const raised = GATE_INCREASE * 1000 / this.#intervalMs;
    this.#intervalMs = raised >= GATE_UNPACED_RATE ? 0 : 1000 / raised;
  }
}

/** A rate (requests/s) above which the gate stops pacing: past any published limit (docs/oracle/identity-domains.md). */
const GATE_UNPACED_RATE = 200;

/**
 * How an overload cuts the rate, and how each success raises it. Multiplicative both ways, so 429s that come
 * at random (not from load: up to 8% of requests in the fault suite) cannot drive the rate down for good: it
 * only falls while more than ln(1/0.7) / (ln(1/0.7) + ln(1.1)), about one request in five, is refused.
 */
const GATE_DECREASE = 0.7;

const GATE_INCREASE = 1.1;

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
