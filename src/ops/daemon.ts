/**
 * `run`: the daemon — passes on `Deno.cron`, and the HTTP surface (`/healthz`, `/metrics`, `/trigger`).
 *
 * @module
 */

import type { LoggingCopy } from "../archive/logging_copy.ts";
import type { Sink } from "../archive/sink.ts";
import type { SourceReport } from "../archive/window_loop.ts";
import type { Config } from "../config/validate.ts";
import { parseCron, scheduleInterval } from "../cron.ts";
import { ArchiveError, type ErrorCode } from "../errors.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import { provenPass } from "../pass/pass.ts";
import { CLOCK_SKEW_MS } from "../archive/seal.ts";
import type { Proof } from "../pass/proof.ts";
import type { Source } from "../sources/source.ts";
import { VERSION } from "../version.ts";
import { grantAdvice } from "../permissions.ts";

/** Compares a presented bearer token with the configured one without leaking its length or prefix by timing. */
async function tokenMatches(presented: string, expected: string): Promise<boolean> {
  const digest = async (text: string) =>
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  const [a, b] = await Promise.all([digest(presented), digest(expected)]);
  return a.reduce((diff, byte, i) => diff | (byte ^ b[i]), 0) === 0;
}

/** How long shutdown waits for the current window before the process exits anyway (docs/deployment.md). */
const SHUTDOWN_GRACE_MS = 10_000;

/** Where one source stands as its pass runner saw it last: what /healthz reports. */
interface SourceStanding {
  source: string;
  scope: string;
  /** The end of the newest committed window, once a pass has read it. */
  frontierMs?: number;
  /** The last finished pass: "ok", or the error code it failed with. */
  lastResult?: "ok" | ErrorCode;
  /** Whether the last pass committed windows and stopped only for its budget: a backlog being caught up. */
  catchingUp: boolean;
  /** Lag beyond which the source is unhealthy (MAX_LAG, or twice the schedule's interval plus SETTLE). */
  maxLagMs: number;
}

/**
 * Whether a source is healthy, and why not: its last pass failed, its frontier lies ahead of the clock, or its
 * lag is past the bound while it is not catching up a backlog. Before its first pass has finished it is healthy (starting). Pure.
 */
export function assessHealth(standing: SourceStanding, now: number): { ok: boolean; reason?: string } {
  if (standing.lastResult === undefined) return { ok: true, reason: "the first pass is running" };
  if (standing.lastResult !== "ok") {
    return { ok: false, reason: `the last pass failed (${standing.lastResult})` };
  }
  const lagMs = standing.frontierMs === undefined ? 0 : now - standing.frontierMs;
  // A frontier ahead of the clock is no progress: a forged window, or a clock gone wrong (invariant 11).
  if (lagMs < -CLOCK_SKEW_MS) {
    return { ok: false, reason: `the frontier is ${Math.round(-lagMs / 1000)} s ahead of this clock` };
  }
  if (lagMs > standing.maxLagMs && !standing.catchingUp) {
    return { ok: false, reason: `lag ${Math.round(lagMs / 1000)} s is over ${standing.maxLagMs / 1000} s` };
  }
  return standing.catchingUp ? { ok: true, reason: "catching up a backlog" } : { ok: true };
}

/**
 * The one owner of "is a pass of this source running", its current pass, and shutdown; one per source, so a
 * failing or slow source never stops or delays the others. Passes of a source never overlap. `stop()` waits
 * for the current pass (told to start no new window) at most SHUTDOWN_GRACE_MS: leaving then is clean,
 * because a window being read has written nothing, and one claimed but not finished is completed by the next
 * pass from its kept bytes.
 */
class PassRunner {
  #current?: Promise<void>;
  lastStartMs?: number;
  readonly standing: SourceStanding;
  readonly #labels: Record<string, string>;

  constructor(
    readonly source: Source,
    readonly run: (stop: AbortSignal) => Promise<SourceReport[]>,
    readonly stopping: AbortSignal,
    maxLagMs: number,
  ) {
    this.standing = { source: source.name, scope: source.scope, catchingUp: false, maxLagMs };
    this.#labels = { source: source.name, scope: source.scope };
  }

  get running(): boolean {
    return this.#current !== undefined;
  }

  /** Starts a pass unless one is running or shutdown began; says which. */
  start(trigger: string): "started" | "busy" {
    if (this.#current || this.stopping.aborted) {
      metrics.add("audit_archiver_passes_total", { ...this.#labels, result: "skipped" });
      log("warn", "pass skipped: the previous one is still running", { trigger, ...this.#labels });
      return "busy";
    }
    this.lastStartMs = Date.now();
    metrics.set("audit_archiver_pass_running", this.#labels, 1);
    this.#current = this.#pass(trigger).finally(() => {
      this.#current = undefined;
      metrics.set("audit_archiver_pass_running", this.#labels, 0);
    });
    return "started";
  }

  async #pass(trigger: string) {
    const started = Date.now();
    try {
      const reports = await this.run(this.stopping);
      this.#record(reports);
      log("info", "pass finished", { trigger, reports });
    } catch (error) {
      const code = error instanceof ArchiveError ? error.code : "HTTP";
      Object.assign(this.standing, { lastResult: code, catchingUp: false });
      metrics.add("audit_archiver_passes_total", { ...this.#labels, result: "failed" });
      metrics.set("audit_archiver_source_up", this.#labels, 0);
      log("error", "pass failed", { trigger, ...this.#labels, code, error: (error as Error).message });
    } finally {
      metrics.observePass(this.#labels, (Date.now() - started) / 1000);
    }
  }

  #record(reports: SourceReport[]) {
    const main = reports.at(-1)!;
    const frontierMs = Date.parse(main.frontier);
    const budgetStopped = main.stopped === "max-events" || main.stopped === "deadline";
    Object.assign(this.standing, {
      lastResult: "ok",
      frontierMs,
      catchingUp: budgetStopped && main.windows > 0,
    });
    metrics.add("audit_archiver_passes_total", { ...this.#labels, result: "ok" });
    metrics.set("audit_archiver_source_up", this.#labels, 1);
    metrics.set("audit_archiver_frontier_timestamp_seconds", this.#labels, frontierMs / 1000);
    metrics.set("audit_archiver_last_success_timestamp_seconds", this.#labels, Date.now() / 1000);
  }

  async stop(): Promise<void> {
    if (!this.#current) return;
    log("info", "shutting down: no new window starts; waiting for the current one", {
      ...this.#labels,
      graceMs: SHUTDOWN_GRACE_MS,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, SHUTDOWN_GRACE_MS));
    await Promise.race([this.#current, grace]);
    clearTimeout(timer);
  }
}

/** /healthz: 200 when every source is healthy, else 503; each source's standing and why, nothing secret. */
function healthResponse(runners: PassRunner[], now: number): Response {
  const sources = runners.map(({ standing }) => ({
    source: standing.source,
    scope: standing.scope,
    ...assessHealth(standing, now),
    lastResult: standing.lastResult ?? null,
    frontier: standing.frontierMs === undefined ? null : new Date(standing.frontierMs).toISOString(),
    lagSeconds: standing.frontierMs === undefined ? null : Math.round((now - standing.frontierMs) / 1000),
  }));
  const ok = sources.every((s) => s.ok);
  const signed = metrics.value("audit_archiver_checkpoint_timestamp_seconds", {});
  const checkpointAgeSeconds = signed === undefined ? null : Math.round(now / 1000 - signed);
  return Response.json({ ok, version: VERSION, checkpointAgeSeconds, sources }, { status: ok ? 200 : 503 });
}

/** /metrics: the counters, with every source's lag computed now. */
function metricsResponse(runners: PassRunner[], now: number): Response {
  for (const { standing } of runners) {
    if (standing.frontierMs === undefined) continue;
    const labels = { source: standing.source, scope: standing.scope };
    metrics.set("audit_archiver_lag_seconds", labels, Math.round((now - standing.frontierMs) / 1000));
  }
  return new Response(metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4" } });
}

/**
 * POST /trigger: 401 without the bearer token; 429 with Retry-After within MIN_INTERVAL of the last pass (the
 * original's defence against an endpoint polled too often); 409 while every source's pass runs; else 202.
 */
async function triggerResponse(req: Request, runners: PassRunner[], config: Config): Promise<Response> {
  // Without TRIGGER_TOKEN the server is for health checks and scraping only: no secret has to be configured.
  if (config.triggerToken === undefined) {
    return Response.json({ started: false, reason: "POST /trigger is off: set TRIGGER_TOKEN" }, {
      status: 403,
    });
  }
  const presented = bearerToken(req.headers.get("authorization"));
  if (presented === undefined || !await tokenMatches(presented, config.triggerToken)) {
    return new Response("unauthorized\n", { status: 401 });
  }
  const lastStart = Math.max(...runners.map((r) => r.lastStartMs ?? -Infinity));
  const waitMs = lastStart + config.minIntervalMs - Date.now();
  if (waitMs > 0) {
    return Response.json({ started: false, reason: "within MIN_INTERVAL of the last pass" }, {
      status: 429,
      headers: { "retry-after": String(Math.ceil(waitMs / 1000)) },
    });
  }
  const started = runners.filter((r) => !r.running).map((r) => r.start("trigger"));
  if (!started.length) return Response.json({ started: false, reason: "a pass is running" }, { status: 409 });
  return Response.json({ started: true }, { status: 202 });
}

/** The bearer token of an `Authorization: Bearer …` header (RFC 6750 §2.1), or undefined. */
const bearerToken = (header: string | null) => header?.startsWith("Bearer ") ? header.slice(7) : undefined;

/**
 * The daemon: for each source a pass at start and on SCHEDULE (never two of one source at once), and the
 * optional HTTP server.
 */
export async function runDaemon(
  config: Config,
  sources: Source[],
  sink: Sink,
  copy: LoggingCopy | undefined,
  proof: Proof,
  signal: AbortSignal,
) {
  const interval = scheduleInterval(parseCron(config.schedule)!, Date.now());
  const runners = sources.map((source) =>
    new PassRunner(
      source,
      async (stop) => (await provenPass(config, [source], sink, copy, proof, stop)).reports,
      signal,
      config.maxLagMs ?? 2 * interval + source.settleMs,
    )
  );
  const server = config.port === undefined ? undefined : serve(config.listen, config.port, signal, (req) => {
    const path = new URL(req.url).pathname;
    if (req.method === "GET" && path === "/healthz") return healthResponse(runners, Date.now());
    if (req.method === "GET" && path === "/metrics") return metricsResponse(runners, Date.now());
    if (req.method === "POST" && path === "/trigger") return triggerResponse(req, runners, config);
    return new Response("not found\n", { status: 404 });
  });
  log("info", "daemon started", {
    schedule: config.schedule,
    sink: sink.description,
    sources: sources.length,
  });
  const startAll = (trigger: string) => runners.forEach((runner) => runner.start(trigger));
  const cron = Deno.cron("audit-archiver pass", config.schedule, { signal }, () => startAll("schedule"));
  startAll("start");
  await new Promise((resolve) =>
    signal.aborted ? resolve(undefined) : signal.addEventListener("abort", resolve, { once: true })
  );
  await Promise.all(runners.map((runner) => runner.stop()));
  await Promise.all([cron, server?.finished]);
}

/** LISTEN:PORT as a net permission names it (an IPv6 address in brackets). Pure. */
export function listenAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * Listens on LISTEN:PORT (0.0.0.0 unless LISTEN says otherwise). The `default` permission set grants listening
 * on 0.0.0.0:8080 only (a bare 0.0.0.0 would also let the program connect to services bound to loopback):
 * another address or port needs its own grant.
 */
function serve(
  hostname: string,
  port: number,
  signal: AbortSignal,
  handler: Deno.ServeHandler,
): Deno.HttpServer {
  try {
    return Deno.serve({
      hostname,
      port,
      signal,
      onListen: ({ hostname, port }) =>
        log("info", "serving /healthz, /metrics, POST /trigger", { hostname, port }),
    }, handler);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    const address = listenAddress(hostname, port);
    throw new ArchiveError(
      "CONFIG",
      `LISTEN ${hostname} and PORT ${port} cannot be listened on: the default permission set allows 0.0.0.0:8080 — use LISTEN=0.0.0.0 and PORT=8080; or, ${
        grantAdvice({ net: [address] })
      }`,
    );
  }
}
