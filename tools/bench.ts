/**
 * Benchmark: how fast `once` archives a large backlog from an emulated identity domain or OCI Audit, and how
 * much memory the archiving process needs while doing it. It measures and reports; it never fails on time.
 *
 * Run with `deno task bench`. Environment:
 * - `BENCH_EVENTS=N` scales every backlog (default 1,000,000; the small memory backlog is N/10).
 * - `BENCH_PROFILE=DIR` writes a V8 CPU profile (`--cpu-prof`) of each archiver run into DIR.
 * - `BENCH_TRACE=1` prints every request the emulated cloud (bucket, OCI Audit) receives, with its time in ms:
 *   what a pass waits for, round trip by round trip; and scenario 8's archiver log at LOG_LEVEL debug, which
 *   names each window read again and each read of split ties.
 * - `BENCH_FLOWS=oci-audit:dir,idcs:oci` picks the flows scenarios 1–3 run (default all four).
 * - `BENCH_SCENARIOS=1,3` picks scenarios (default all). Scenarios 1–3 run every source (an identity domain;
 *   OCI Audit of a tenancy and two sub-compartments) into every sink (a directory; a bucket of the emulated
 *   cloud through the real OCI SDK):
 *   1. N events over 7 days, no latency;
 *   2. the same with 50 ms latency per request;
 *   3. N/10 events, no latency: memory flatness, its peak RSS against scenario 1's;
 *   4. the blog's function (tools/bench_blog.ts) and `once`, N/10 events at 50 ms;
 *   5. rate-limited identity domains (Free, Oracle Apps, Premium; Free also counting in fixed windows of the
 *      clock), N/10 events, in pages small enough that Free and Oracle Apps need more requests than their
 *      per-minute limit: wall against the limits' floor;
 *   6. an idle pass (`once` with nothing due) beside `deno run` of an empty script;
 *   7. 200 compartments of which 20 hold the N/10 events, at 0 and 50 ms, and those 20 alone at 0 ms;
 *   8. an identity domain whose order among equal timestamps changes from request to request, N events at
 *      50 ms: the AuditEvents requests against the pages the backlog holds (issue 21);
 *   9. the daemon (`run`) into a bucket, triggered back to back through POST /trigger for 1,000 passes: its
 *      RSS, /metrics series and that pass's bucket requests (ListObjects, names listed) after pass 10 and
 *      after the last; and an idle pass's requests on a 1-week and a 2-year archive of sparse events (issue
 *      21, target 5). `BENCH_PASSES=N` runs N passes instead.
 *
 * The emulator (and the million events it holds) lives in this process, so the archiver runs in a separate
 * one — `deno run -P=local main.ts once`, as an operator would run it — and its peak memory is the kernel's
 * RSS high-water mark (`VmHWM` in /proc/<pid>/status), polled while it runs. Only that process's run is
 * timed: generating events and starting the emulator are not. A run that exits non-zero or archives the
 * wrong number of events is reported as an error and the benchmark exits 1: timing a broken run is worthless.
 *
 * @module
 */

import process from "node:process";
import { SETTINGS } from "../src/config/settings.ts";
import { BUCKET, type Cloud, startCloud, TENANCY } from "../tests/oci_harness.ts";
import {
  FREE_DOMAIN_LIMITS,
  generateClientKey,
  generateEvents,
  type IdcsFaults,
  ORACLE_APPS_DOMAIN_LIMITS,
  PREMIUM_DOMAIN_LIMITS,
  type RateLimit,
  rateLimitFloorMs,
  startIdcsEmulator,
} from "../tests/emulators/idcs.ts";
import { generateAuditEvents } from "../tests/emulators/oci.ts";
import { freePort } from "../tests/harness.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const CLIENT_ID = "audit-archiver-bench-client";
const KEY_ID = "bench-cert";
const DAY_MS = 86_400_000;
const POLL_MS = 50;
/** Linux reports utime/stime in /proc/<pid>/stat in clock ticks; USER_HZ is 100 on every mainstream build. */
const CLOCK_TICKS_PER_S = 100;

/** Archiver settings shared by every scenario (MAX_EVENTS_PER_OBJECT stays at its default, 20000). */
const ARCHIVER_SETTINGS = {
  PAGE_SIZE: "1000",
  CONCURRENCY: "8",
  SETTLE: "0s",
  MIN_INTERVAL: "0s",
  SINCE: "8d",
  LOG_LEVEL: "warn",
};

interface Scenario {
  /** Which BENCH_SCENARIOS number selects it. */
  group: number;
  name: string;
  events: number;
  latencyMs: number;
  /** Where the events come from: the identity domain, or OCI Audit of the emulated cloud. */
  source: "idcs" | "oci-audit";
  /** Where the archive goes: a directory, or a bucket of the emulated cloud through the real OCI SDK. */
  sink: "dir" | "oci";
  /** The identity domain's rate limit (its domain type), where one is modelled. */
  rateLimit?: RateLimit;
  /** Compartments below the tenancy (OCI Audit), beside the tenancy itself. @default 2 (team and prod) */
  compartments?: number;
  /** How many of `compartments` (the first ones) hold the events; the others and the tenancy hold none. */
  busyCompartments?: number;
  /** What runs: `once`, or the blog's function (tools/bench_blog.ts), the reference compared against. */
  runner?: "once" | "blog";
  /** Extra archiver settings. */
  settings?: Record<string, string>;
  /** The identity domain orders equal timestamps differently on every request (`shuffleTies`). */
  shuffleTies?: boolean;
  /** With BENCH_TRACE, the archiver logs at debug and its log is printed: why it read what it read. */
  traceLog?: boolean;
  /** How many days back the identity domain serves events. @default 14, as Oracle documents */
  retentionDays?: number;
  /** The days the backlog spans, ending half an hour ago. @default 7 */
  days?: number;
}

interface Result {
  scenario: Scenario;
  wallSeconds: number;
  auditRequests: number;
  peakRssBytes: number;
  objects: number;
  /** Events in the largest object: the archiver holds one window at a time, so memory follows this. */
  largestObject: number;
  /** CPU seconds of the archiver (last sample) and of this process, which serves the emulator. */
  archiverCpuSeconds: number;
  emulatorCpuSeconds: number;
  /** Bytes of the data objects (or, for the blog's function, of its JSON files). */
  dataBytes: number;
  /** 429s the identity domain's rate limit answered. */
  throttled: number;
  /** When the source received the run's first request (epoch ms; 0 when unknown): the floor's start. */
  firstRequestAt: number;
  /** Events of the source missing from the archive (only the blog's function may lose any). */
  lost: number;
}

/** What the archiver process did, as seen from outside. */
interface ProcessRun {
  code: number;
  stderr: string;
  wallSeconds: number;
  peakRssBytes: number;
  cpuSeconds: number;
}

/** What an archive holds, by its manifests (or the blog's files). */
interface Archived {
  events: number;
  objects: number;
  largestObject: number;
  /** Bytes of the data objects. */
  bytes: number;
}

/** A run that is not worth timing: the archiver failed or archived the wrong events. */
class BrokenRun extends Error {}

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// Scenarios and options
// ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Every source into every sink: the flows scenarios 1–3 each run. */
const FLOWS: Pick<Scenario, "source" | "sink">[] = [
  { source: "idcs", sink: "dir" },
  { source: "idcs", sink: "oci" },
  { source: "oci-audit", sink: "dir" },
  { source: "oci-audit", sink: "oci" },
];

/** A flow as BENCH_FLOWS names it: "oci-audit:dir". */
const flowName = (flow: Pick<Scenario, "source" | "sink">) => `${flow.source}:${flow.sink}`;

function scenarios(size: number): Scenario[] {
  const small = Math.max(1, Math.round(size / 10));
  return [
    ...FLOWS.map((flow): Scenario => ({
      group: 1,
      name: "backlog, no latency",
      events: size,
      latencyMs: 0,
      ...flow,
    })),
    ...FLOWS.map((flow): Scenario => ({
      group: 2,
      name: "backlog, 50 ms latency",
      events: size,
      latencyMs: 50,
      ...flow,
    })),
    ...FLOWS.map((flow): Scenario => ({
      group: 3,
      name: "memory, N/10 backlog",
      events: small,
      latencyMs: 0,
      ...flow,
    })),
    ...blogComparison(small),
    // Pages small enough that Free and Oracle Apps domains need more requests than their per-minute limit
    // (N/10 = 100,000 events in 250 and 2,000 pages); Premium at the usual page size, as in earlier runs.
    ...[
      {
        name: "Free domain (20/s, 150/min), Retry-After sent",
        limit: FREE_DOMAIN_LIMITS,
        retryAfter: true,
        pageSize: 400,
      },
      {
        name: "Free domain (20/s, 150/min), no Retry-After",
        limit: FREE_DOMAIN_LIMITS,
        retryAfter: false,
        pageSize: 400,
      },
      // How a domain counts its second and minute is UNCONFIRMED (docs/oracle/identity-domains.md): fixed
      // windows of the clock too, where a refused minute may reopen well before a sliding one would.
      {
        name: "Free domain, fixed windows, Retry-After sent",
        limit: { ...FREE_DOMAIN_LIMITS, window: "fixed" as const },
        retryAfter: true,
        pageSize: 400,
      },
      {
        name: "Free domain, fixed windows, no Retry-After",
        limit: { ...FREE_DOMAIN_LIMITS, window: "fixed" as const },
        retryAfter: false,
        pageSize: 400,
      },
      {
        name: "Oracle Apps domain (50/s, 1,500/min), Retry-After sent",
        limit: ORACLE_APPS_DOMAIN_LIMITS,
        retryAfter: true,
        pageSize: 50,
      },
      {
        name: "Oracle Apps domain (50/s, 1,500/min), no Retry-After",
        limit: ORACLE_APPS_DOMAIN_LIMITS,
        retryAfter: false,
        pageSize: 50,
      },
      {
        name: "Premium domain (90/s, 5,000/min), Retry-After sent",
        limit: PREMIUM_DOMAIN_LIMITS,
        retryAfter: true,
        pageSize: 1000,
      },
    ].map(({ name, limit, retryAfter, pageSize }): Scenario => ({
      group: 5,
      name,
      events: small,
      latencyMs: 0,
      source: "idcs",
      sink: "dir",
      rateLimit: { ...limit, retryAfter },
      settings: { PAGE_SIZE: String(pageSize) },
    })),
    // Issue 21: most compartments of a tenancy are quiet. The reference is the busy ones alone.
    ...[[200, 0], [200, 50], [20, 0]].map(([compartments, latencyMs]): Scenario => ({
      group: 7,
      name: compartments === 20
        ? `the 20 busy compartments alone, ${latencyMs} ms latency`
        : `200 compartments (20 busy), ${latencyMs} ms latency`,
      events: small,
      latencyMs,
      source: "oci-audit",
      sink: "dir",
      compartments,
      busyCompartments: 20,
    })),
    {
      group: 8,
      name: "ties reordered between requests, 50 ms latency",
      events: size,
      latencyMs: 50,
      source: "idcs",
      sink: "dir",
      shuffleTies: true,
      traceLog: true,
    },
  ];
}

/**
 * Issue 11's side-by-side run: the blog's function (maxEvents 2,500 per invocation, back to back in one warm
 * process) and `once`, against the same emulated identity domain with 50 ms latency, at N/10 events.
 */
function blogComparison(events: number): Scenario[] {
  const base = { group: 4, events, latencyMs: 50, source: "idcs", sink: "dir" } as const;
  return [
    { ...base, name: "the blog's function (reference), 50 ms latency", runner: "blog" },
    { ...base, name: "once, 50 ms latency" },
  ];
}

function readOptions(): { size: number; groups: Set<number>; flows?: Set<string> } {
  const sizeText = Deno.env.get("BENCH_EVENTS") ?? "1000000";
  const size = Number(sizeText);
  if (!Number.isInteger(size) || size < 1) {
    usage(`BENCH_EVENTS must be a whole number ≥ 1, not "${sizeText}"`);
  }
  const groupsText = Deno.env.get("BENCH_SCENARIOS") ?? "1,2,3,4,5,6,7,8,9";
  const groups = new Set(groupsText.split(",").map((part) => Number(part.trim())));
  if (![...groups].every((g) => Number.isInteger(g) && g >= 1 && g <= 9)) {
    usage(`BENCH_SCENARIOS must list scenarios 1 to 9, like "1,3", not "${groupsText}"`);
  }
  const flowsText = Deno.env.get("BENCH_FLOWS");
  const flows = flowsText === undefined
    ? undefined
    : new Set(flowsText.split(",").map((part) => part.trim()));
  const known = FLOWS.map(flowName);
  if (flows && ![...flows].every((flow) => known.includes(flow))) {
    usage(`BENCH_FLOWS must list flows of ${known.join(", ")}, not "${flowsText}"`);
  }
  return { size, groups, flows };
}

function usage(message: string): never {
  console.error(`bench: ${message}`);
  Deno.exit(2);
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// One scenario: fresh emulator and archive folder, one timed `once`, checks, cleanup.
// ─────────────────────────────────────────────────────────────────────────────────────────────────

const TEAM = "ocid1.compartment.oc1..aaaabenchteam";
const PROD = "ocid1.compartment.oc1..aaaabenchprod";

/** The source a scenario reads: its settings for the archiver, its request count so far, and shutdown. */
interface BenchSource {
  env: Record<string, string>;
  requests(): number;
  throttled(): number;
  /** When the source received its first request (epoch ms; 0 when unknown). */
  firstRequestAt(): number;
  close(): Promise<void>;
}

const tracesLog = (scenario: Scenario) =>
  scenario.traceLog === true && Deno.env.get("BENCH_TRACE") !== undefined;

async function runScenario(scenario: Scenario): Promise<Result> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "audit-archiver-bench-" });
  const latency = { latencyMs: scenario.latencyMs };
  // The cloud serves the bucket, OCI Audit, or both; the identity domain is a process of its own.
  const cloud = scenario.sink === "oci" || scenario.source === "oci-audit"
    ? await startCloud(dir, {
      ...(Deno.env.get("BENCH_TRACE")
        ? {
          onRequest: (r: { operation: string; objectName?: string }) =>
            console.error(
              `bench: trace ${performance.now().toFixed(0)} ${r.operation} ${r.objectName ?? ""}`,
            ),
        }
        : {}),
      faults: latency,
      compartments: compartmentsOf(scenario),
      auditEvents: scenario.source === "oci-audit"
        ? generateBacklog(scenario, (options) =>
          generateAuditEvents({
            ...options,
            compartmentIds: busyCompartmentsOf(scenario),
          }))
        : [],
    })
    : undefined;
  const source = scenario.source === "oci-audit" ? auditSource(cloud!) : await idcsSource(
    scenario,
    dir,
    // Scenarios 1–3 make each event only when it is sent: ten million made up front would not fit.
    generateBacklog(
      scenario,
      (options) => generateEvents({ ...options, tieRate: 0.3, lazy: scenario.group <= 3 }),
    ),
  );
  try {
    const archiveDir = `${dir}/archive`;
    const env = {
      ...ARCHIVER_SETTINGS,
      ...source.env,
      ARCHIVE_DIR: archiveDir,
      ...(scenario.sink === "oci" ? cloud!.env : {}),
      ...scenario.settings,
      ...(tracesLog(scenario) ? { LOG_LEVEL: "debug" } : {}),
    };
    progress(`${scenario.name}: archiving`);
    // Deltas, so the emulator's startup and the event generation are not counted.
    const requestsBefore = source.requests();
    const throttledBefore = source.throttled();
    const cpuBefore = process.cpuUsage();
    const blog = scenario.runner === "blog";
    if (blog) await Deno.mkdir(archiveDir);
    const run = blog
      ? await runProcess(["-P=bench", `${REPO}/tools/bench_blog.ts`], {
        ...env,
        BLOG_OUT: archiveDir,
        BLOG_SINCE: new Date(sinceOf(env.SINCE)).toISOString(),
      })
      : await runArchiver(env);
    const cpu = process.cpuUsage(cpuBefore);
    if (run.code !== 0) {
      throw new BrokenRun(`${scenario.name}: the archiver exited with ${run.code}:\n${run.stderr.trim()}`);
    }
    if (tracesLog(scenario)) {
      for (const line of run.stderr.trim().split("\n")) console.error(`bench: trace ${line}`);
    }
    if (run.peakRssBytes === 0) {
      throw new BrokenRun(`${scenario.name}: no memory sample of the archiver (is /proc readable?)`);
    }
    const archived = blog
      ? await countBlogArchive(archiveDir)
      : scenario.sink === "oci"
      ? countArchivedInBucket(cloud!)
      : await countArchived(archiveDir);
    const lost = scenario.events - archived.events;
    if (lost !== 0 && !blog) {
      throw new BrokenRun(
        `${scenario.name}: the archive holds ${archived.events} events, the source ${scenario.events}`,
      );
    }
    return {
      scenario,
      wallSeconds: run.wallSeconds,
      auditRequests: source.requests() - requestsBefore,
      peakRssBytes: run.peakRssBytes,
      objects: archived.objects,
      largestObject: archived.largestObject,
      archiverCpuSeconds: run.cpuSeconds,
      emulatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
      dataBytes: archived.bytes,
      throttled: source.throttled() - throttledBefore,
      firstRequestAt: source.firstRequestAt(),
      lost,
    };
  } finally {
    await source.close();
    await cloud?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/**
 * The scenario's days (seven by default) of events ending half an hour ago: all of it lies between SINCE (8
 * days back, at midnight) and now, also on OCI Audit's processing time, which the emulator puts up to 25
 * minutes after the eventTime.
 */
function generateBacklog<T>(
  scenario: Scenario,
  generate: (options: { seed: number; count: number; from: number; to: number }) => T[],
): T[] {
  progress(`${scenario.name}: generating ${scenario.events.toLocaleString("en-US")} events`);
  const now = Date.now();
  const days = scenario.days ?? 7;
  return generate({ seed: 7, count: scenario.events, from: now - days * DAY_MS, to: now - 30 * 60_000 });
}

/** The compartments below the tenancy: team and prod (prod inside team), or `compartments` flat ones. */
function compartmentsOf(scenario: Scenario): { id: string; parentId: string; name: string }[] {
  if (scenario.compartments === undefined) {
    return [{ id: TEAM, parentId: TENANCY, name: "team" }, { id: PROD, parentId: TEAM, name: "prod" }];
  }
  return Array.from({ length: scenario.compartments }, (_, i) => ({
    id: `ocid1.compartment.oc1..aaaabench${String(i).padStart(4, "0")}`,
    parentId: TENANCY,
    name: `c${i}`,
  }));
}

/** The compartments that hold a scenario's events: the tenancy and every one below it, or the busy ones. */
function busyCompartmentsOf(scenario: Scenario): string[] {
  const below = compartmentsOf(scenario).map((c) => c.id);
  return scenario.busyCompartments === undefined
    ? [TENANCY, ...below]
    : below.slice(0, scenario.busyCompartments);
}

/** SINCE as the archiver reads it here: a duration back from now, at midnight UTC. */
function sinceOf(since: string): number {
  const days = Number(/^(\d+)d$/.exec(since)?.[1]);
  return Math.floor((Date.now() - days * DAY_MS) / DAY_MS) * DAY_MS;
}

/** An identity domain holding the backlog (30% of events sharing a millisecond), with the scenario's latency. */
async function idcsSource(
  scenario: Scenario,
  dir: string,
  events: ReturnType<typeof generateEvents>,
): Promise<BenchSource> {
  const key = await generateClientKey();
  const faults: IdcsFaults = { latencyMs: scenario.latencyMs, shuffleTies: scenario.shuffleTies === true };
  const emulator = await startIdcsEmulator({
    clientId: CLIENT_ID,
    keyId: KEY_ID,
    publicKey: key.publicKey,
    events,
    faults,
    seed: 1,
    rateLimit: scenario.rateLimit,
    retentionDays: scenario.retentionDays,
  });
  const keyFile = `${dir}/client-key.pem`;
  await Deno.writeTextFile(keyFile, key.pkcs8Pem);
  return {
    env: {
      IDCS_URL: emulator.url,
      IDCS_CLIENT_ID: CLIENT_ID,
      IDCS_KEY_ID: KEY_ID,
      IDCS_PRIVATE_KEY_FILE: keyFile,
    },
    requests: () => emulator.stats.auditRequests,
    throttled: () => emulator.stats.rateLimited,
    firstRequestAt: () => emulator.stats.firstRequestAt,
    close: () => emulator.close(),
  };
}

/** The tenancy and its subtree in the emulated cloud, read through the real SDK with an API key. */
function auditSource(cloud: Cloud): BenchSource {
  return {
    env: {
      AUDIT_COMPARTMENT_ID: TENANCY,
      OCI_AUTH: "config",
      OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
      OCI_AUDIT_ENDPOINT: cloud.oci.url,
      OCI_IDENTITY_ENDPOINT: cloud.oci.url,
    },
    requests: () => cloud.oci.stats.byOperation.ListEvents ?? 0,
    throttled: () => 0,
    firstRequestAt: () => 0,
    close: async () => {},
  };
}

/**
 * Prints the VmHWM line of /proc/<pid>/status and the /proc/<pid>/stat line every POLL_MS while the process
 * has memory (a zombie's status has no VmHWM, which ends the loop). A shell reads them because Deno allows
 * /proc/<pid>/… only to --allow-all, which the `bench` permission set rightly does not grant.
 */
const SAMPLER = `while grep -h '^VmHWM:' "/proc/$1/status" && cat "/proc/$1/stat"; do sleep ${
  POLL_MS / 1000
}; done 2>/dev/null`;

/**
 * The flags and environment `deno task once` gives `deno run` (a V8 heap limit, the malloc setting), so the
 * archiver is measured as it is run; with BENCH_PROFILE=DIR also a V8 CPU profile of each run into DIR.
 */
function archiverTask(command: "once" | "run" = "once"): { flags: string[]; env: Record<string, string> } {
  const task = (JSON.parse(Deno.readTextFileSync(`${REPO}/deno.json`)) as { tasks: Record<string, string> })
    .tasks[command];
  const words = task.split(" ");
  const flags = words.filter((word) => word.startsWith("--") && !word.startsWith("--allow"));
  const env = Object.fromEntries(
    words.slice(0, words.indexOf("deno")).map((word) => word.split("=", 2) as [string, string]),
  );
  const profile = Deno.env.get("BENCH_PROFILE");
  return { flags: profile ? [...flags, "--cpu-prof", `--cpu-prof-dir=${profile}`] : flags, env };
}

/**
 * Runs `main.ts once` as its own process, like harness.ts `runCli`: the production permission set plus
 * loopback and /tmp, a clean environment holding only what Deno needs and the settings.
 */
function runArchiver(settings: Record<string, string>): Promise<ProcessRun> {
  const task = archiverTask();
  return runProcess([...task.flags, "-P=local", `${REPO}/main.ts`, "once"], { ...task.env, ...settings });
}

/** Starts `deno run --quiet <args>` in a clean environment holding only what Deno needs and `settings`. */
function spawnDeno(args: string[], settings: Record<string, string>): Deno.ChildProcess {
  const passThrough: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) passThrough[name] = value;
  }
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...args],
    cwd: REPO,
    env: { ...passThrough, ...settings },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs `deno run --quiet <args>` as its own process, sampling its memory and CPU. */
async function runProcess(args: string[], settings: Record<string, string>): Promise<ProcessRun> {
  const started = performance.now();
  const child = spawnDeno(args, settings);
  const sampler = new Deno.Command("sh", {
    args: ["-c", SAMPLER, "sampler", String(child.pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  const result = await child.output();
  const wallSeconds = (performance.now() - started) / 1000;
  const samples = parseSamples(new TextDecoder().decode((await sampler).stdout));
  return { code: result.code, stderr: new TextDecoder().decode(result.stderr), wallSeconds, ...samples };
}

/**
 * The highest VmHWM and the last CPU time among the sampler's lines. VmHWM is the kernel's own high-water
 * mark, so sampling loses at most the growth of the last POLL_MS before exit, not peaks between samples.
 */
function parseSamples(text: string): { peakRssBytes: number; cpuSeconds: number } {
  let peakRssBytes = 0, cpuSeconds = 0;
  for (const line of text.split("\n")) {
    const hwm = /^VmHWM:\s+(\d+) kB$/.exec(line);
    if (hwm) {
      peakRssBytes = Math.max(peakRssBytes, Number(hwm[1]) * 1024);
    } else if (line.includes(")")) {
      // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
      const fields = line.slice(line.lastIndexOf(")") + 2).split(" ");
      cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
    }
  }
  return { peakRssBytes, cpuSeconds };
}

/**
 * Events in the archive by its manifests' `events` fields (far quicker than decompressing a million lines);
 * each manifest's data object must exist with the size the manifest records.
 */
async function countArchived(
  archiveDir: string,
): Promise<Archived> {
  let events = 0, objects = 0, largestObject = 0, bytes = 0;
  for await (const path of walk(archiveDir)) {
    if (!path.endsWith(".manifest.json")) continue;
    const manifest = JSON.parse(await Deno.readTextFile(path)) as {
      events: number;
      object: string;
      bytes: number;
    };
    const data = await Deno.stat(`${archiveDir}/${manifest.object}`).catch(() => undefined);
    if (data?.size !== manifest.bytes) {
      throw new BrokenRun(`${manifest.object} is missing or not the size its manifest records`);
    }
    events += manifest.events;
    objects++;
    bytes += manifest.bytes;
    largestObject = Math.max(largestObject, manifest.events);
  }
  return { events, objects, largestObject, bytes };
}

/** The same count from the emulated bucket's store: every manifest's object present at its recorded size. */
function countArchivedInBucket(cloud: Cloud): Archived {
  const objects = new Map(cloud.oci.objects(BUCKET).map((o) => [o.name, o]));
  let events = 0, count = 0, largestObject = 0, bytes = 0;
  for (const object of objects.values()) {
    if (!object.name.endsWith(".manifest.json")) continue;
    const manifest = JSON.parse(new TextDecoder().decode(object.bytes)) as {
      events: number;
      object: string;
      bytes: number;
    };
    if (objects.get(manifest.object)?.bytes.length !== manifest.bytes) {
      throw new BrokenRun(`${manifest.object} is missing or not the size its manifest records`);
    }
    events += manifest.events;
    count++;
    bytes += manifest.bytes;
    largestObject = Math.max(largestObject, manifest.events);
  }
  return { events, objects: count, largestObject, bytes };
}

/** Distinct event ids in the blog's JSON files: what it kept (a duplicate is counted once). */
async function countBlogArchive(dir: string): Promise<Archived> {
  const ids = new Set<string>();
  let objects = 0, largestObject = 0, bytes = 0;
  for await (const path of walk(dir)) {
    const text = await Deno.readTextFile(path);
    const events = JSON.parse(text) as { id: string }[];
    for (const event of events) ids.add(event.id);
    objects++;
    bytes += (await Deno.stat(path)).size;
    largestObject = Math.max(largestObject, events.length);
  }
  return { events: ids.size, objects, largestObject, bytes };
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* walk(path);
    else yield path;
  }
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// Reporting
// ─────────────────────────────────────────────────────────────────────────────────────────────────

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);
const grouped = (n: number) => Math.round(n).toLocaleString("en-US");

function describe(r: Result) {
  const sink = r.scenario.runner === "blog" ? "JSON files" : r.scenario.sink;
  return {
    scenario: `${r.scenario.group}. ${r.scenario.name}`,
    flow: `${r.scenario.source} → ${sink}`,
    events: grouped(r.scenario.events),
    latency: `${r.scenario.latencyMs} ms`,
    wall: `${r.wallSeconds.toFixed(1)} s`,
    eventsPerSecond: grouped(r.scenario.events / r.wallSeconds),
    pagesPerSecond: (r.auditRequests / r.wallSeconds).toFixed(1),
    requests: grouped(r.auditRequests),
    throttled: grouped(r.throttled),
    objects: grouped(r.objects),
    peakRss: `${mib(r.peakRssBytes)} MiB`,
    cpuPer100k: `${(r.archiverCpuSeconds * 100_000 / r.scenario.events).toFixed(2)} s`,
    bytesPerEvent: grouped(r.dataBytes / r.scenario.events),
    lost: grouped(r.lost),
  };
}

function printResult(r: Result) {
  const d = describe(r);
  console.log(
    `${d.scenario} (${d.flow}): ${d.events} events in ${d.wall} — ${d.eventsPerSecond} events/s, ` +
      `${d.pagesPerSecond} pages/s (${d.requests} AuditEvents/ListEvents requests, ${d.throttled} answered 429), ` +
      `${d.objects} objects, ${d.bytesPerEvent} bytes/event, peak RSS ${d.peakRss}, ` +
      `CPU ${r.archiverCpuSeconds.toFixed(1)} s (${d.cpuPer100k} per 100k events; emulator ` +
      `${r.emulatorCpuSeconds.toFixed(1)} s), ${d.lost} lost`,
  );
}

const HEADER = [
  "Scenario",
  "Source → sink",
  "Events",
  "Latency",
  "Wall",
  "Events/s",
  "Pages/s",
  "Requests",
  "429s",
  "Objects",
  "Peak RSS",
  "CPU per 100k",
  "Bytes/event",
  "Lost",
] as const;

const line = (cells: string[]) => `| ${cells.join(" | ")} |`;

function markdownTable(results: Result[]): string {
  const rows = results.map((r) => Object.values(describe(r)));
  return [line([...HEADER]), line(HEADER.map((_, i) => (i < 2 ? "---" : "---:"))), ...rows.map(line)].join(
    "\n",
  );
}

/** The targets of issue 11 read off the results: latency ratios, memory flatness, the blog comparison. */
function summary(results: Result[], idle?: IdleRun): string {
  const find = (group: number, test: (r: Result) => boolean) =>
    results.find((r) => r.scenario.group === group && test(r));
  const lines: string[] = [];
  const same = (a: Scenario, b: Scenario) => a.source === b.source && a.sink === b.sink;
  for (const fast of results.filter((r) => r.scenario.group === 1)) {
    const flow = `${fast.scenario.source} → ${fast.scenario.sink}`;
    const slow = find(2, (r) => same(r.scenario, fast.scenario));
    const small = find(3, (r) => same(r.scenario, fast.scenario));
    const parts = [`CPU ${(fast.archiverCpuSeconds * 100_000 / fast.scenario.events).toFixed(2)} s per 100k`];
    if (slow) {
      parts.push(
        `wall ${fast.wallSeconds.toFixed(1)} s at 0 ms, ${slow.wallSeconds.toFixed(1)} s at 50 ms: ratio ${
          (slow.wallSeconds / fast.wallSeconds).toFixed(2)
        }`,
      );
    }
    if (small) {
      parts.push(
        `peak RSS ${mib(small.peakRssBytes)} MiB at ${grouped(small.scenario.events)} events, ` +
          `${mib(fast.peakRssBytes)} MiB at ${grouped(fast.scenario.events)} (${
            ((fast.peakRssBytes / small.peakRssBytes - 1) * 100).toFixed(0)
          }%)`,
      );
    }
    lines.push(`- ${flow}: ${parts.join("; ")}`);
  }
  const [quiet, quietSlow, alone] = results.filter((r) => r.scenario.group === 7);
  if (alone) {
    // Issue 21's target: at most 1.5× the busy ones' requests, plus one per compartment (and the tenancy) per pass.
    const bound = 1.5 * alone.auditRequests + quiet.scenario.compartments! + 1;
    lines.push(
      `- 200 compartments (20 busy), oci-audit → dir: ${grouped(quiet.auditRequests)} ListEvents at 0 ms, ${
        grouped(quietSlow.auditRequests)
      } at 50 ms (target ≤ ${grouped(bound)}: the busy ones alone took ${
        grouped(alone.auditRequests)
      }); wall ${quiet.wallSeconds.toFixed(1)} s at 0 ms, ${quietSlow.wallSeconds.toFixed(1)} s at 50 ms`,
    );
  }
  for (const limited of results.filter((r) => r.scenario.rateLimit)) {
    const accepted = limited.auditRequests - limited.throttled;
    const floor = rateLimitFloorMs(accepted, limited.scenario.rateLimit!, limited.firstRequestAt) / 1000;
    lines.push(
      `- ${limited.scenario.name}: ${grouped(limited.auditRequests)} AuditEvents requests, ${
        grouped(limited.throttled)
      } answered 429 (${(limited.throttled / limited.auditRequests * 100).toFixed(1)}%); wall ${
        limited.wallSeconds.toFixed(1)
      } s against a floor of ${floor.toFixed(1)} s for ${grouped(accepted)} requests (${
        (limited.wallSeconds / floor).toFixed(2)
      }×)`,
    );
  }
  const reordered = find(8, () => true);
  if (reordered) {
    const pages = Math.ceil(reordered.scenario.events / Number(ARCHIVER_SETTINGS.PAGE_SIZE));
    lines.push(
      `- ties reordered between requests, idcs → dir: ${
        grouped(reordered.auditRequests)
      } AuditEvents requests ` +
        `for the ${grouped(pages)} pages the backlog holds: ${(reordered.auditRequests / pages).toFixed(2)}×`,
    );
  }
  const blog = find(4, (r) => r.scenario.runner === "blog");
  const once = find(4, (r) => r.scenario.runner !== "blog");
  if (blog && once) {
    lines.push(
      `- the blog's function: ${blog.wallSeconds.toFixed(1)} s, ${mib(blog.peakRssBytes)} MiB, ` +
        `${grouped(blog.lost)} events lost; once: ${once.wallSeconds.toFixed(1)} s, ${
          mib(once.peakRssBytes)
        } MiB, ${grouped(once.lost)} lost: ${(blog.wallSeconds / once.wallSeconds).toFixed(1)}× faster`,
    );
  }
  if (idle) {
    lines.push(
      `- idle pass (\`once\` with nothing due, MIN_INTERVAL): ${
        (idle.passSeconds * 1000).toFixed(0)
      } ms wall, ` +
        `${mib(idle.passRssBytes)} MiB; \`deno run\` of an empty script: ${
          (idle.emptySeconds * 1000).toFixed(0)
        } ms`,
    );
  }
  return lines.join("\n");
}

/** Printed under the table, so it can be pasted with it. */
const LEGEND = [
  "Wall: the archiving process, from spawn to exit (Deno startup included; event generation and emulator",
  "startup excluded). Pages/s: AuditEvents (identity domain) or ListEvents (OCI Audit) requests the emulator",
  "answered per second of wall time; 429s: of those, answered by the domain's rate limit. Peak RSS: VmHWM of",
  "the archiving process. CPU per 100k: user+system seconds of the archiving process alone, per 100,000 events.",
  "Lost: events of the source missing from the archive. Scenario 4's first row is the blog's function",
  "(tools/bench_blog.ts), the reference compared against.",
].join("\n");

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// Idle pass: `once` when nothing is due, beside Deno's own start-up.
// ─────────────────────────────────────────────────────────────────────────────────────────────────

interface IdleRun {
  passSeconds: number;
  passRssBytes: number;
  emptySeconds: number;
}

/** A caught-up identity domain archive, then a timed `once` within MIN_INTERVAL, then an empty script. */
async function runIdle(): Promise<IdleRun> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "audit-archiver-bench-" });
  const scenario: Scenario = {
    group: 6,
    name: "idle pass",
    events: 100,
    latencyMs: 0,
    source: "idcs",
    sink: "dir",
  };
  const source = await idcsSource(scenario, dir, generateBacklog(scenario, generateEvents));
  try {
    const env = { ...ARCHIVER_SETTINGS, ...source.env, ARCHIVE_DIR: `${dir}/archive`, MIN_INTERVAL: "15m" };
    progress("idle pass: catching up first");
    if ((await runArchiver(env)).code !== 0) throw new BrokenRun("idle pass: the catching-up pass failed");
    progress("idle pass: timing");
    const pass = await runArchiver(env);
    if (pass.code !== 0) throw new BrokenRun(`idle pass: exited with ${pass.code}:\n${pass.stderr}`);
    const script = `${dir}/empty.js`;
    await Deno.writeTextFile(script, "");
    const empty = await runProcess(["--no-config", script], {});
    return {
      passSeconds: pass.wallSeconds,
      passRssBytes: pass.peakRssBytes,
      emptySeconds: empty.wallSeconds,
    };
  } finally {
    await source.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────
// Scenario 9: the daemon over many passes (flat memory and /metrics), and idle passes on a long archive.
// ─────────────────────────────────────────────────────────────────────────────────────────────────

/** The passes the daemon runs, and the early one they are compared with (issue 21, target 5). */
const DAEMON_PASSES = 1_000;
const EARLY_PASS = 10;
/** At least 32 characters, as TRIGGER_TOKEN requires. */
const TRIGGER_TOKEN = "audit-archiver-bench-trigger-token-0123456789";

/** What one pass asked of the bucket: its requests, its ListObjects requests and the names they listed. */
interface PassRequests {
  bucket: number;
  listObjects: number;
  listed: number;
}

/** The daemon seen from outside after a given pass: its resident memory, its /metrics series, that pass's requests. */
interface DaemonSample {
  pass: number;
  rssBytes: number;
  series: number;
  requests: PassRequests;
}

interface DaemonRun {
  early: DaemonSample;
  late: DaemonSample;
  wallSeconds: number;
}

/** One idle pass's requests, on an archive of `days` days: to the bucket, and to the identity domain. */
interface IdlePassCost {
  days: number;
  bucketRequests: number;
  sourceRequests: number;
  /** The bucket's requests by operation (ListObjects, GetObject, PutObject, …). */
  byOperation: Record<string, number>;
}

/** A scenario-9 source: an identity domain holding `events` over the last `days` days, into the bucket. */
function sparseScenario(name: string, events: number, days: number): Scenario {
  // The domain serves all `days` (Oracle's keep 14): so one catch-up builds what years of passes would.
  return { group: 9, name, events, latencyMs: 0, source: "idcs", sink: "oci", days, retentionDays: days + 1 };
}

/**
 * `main.ts run` as the `run` task starts it (plus loopback, -P=local) into the emulated bucket, triggered
 * back to back through POST /trigger for DAEMON_PASSES passes; its RSS (VmRSS) and /metrics series after
 * pass EARLY_PASS and after the last.
 */
async function runDaemonPasses(passes: number): Promise<DaemonRun> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "audit-archiver-bench-" });
  const scenario = sparseScenario("daemon", 1_000, 7);
  const cloud = await startCloud(dir);
  const source = await idcsSource(scenario, dir, generateBacklog(scenario, generateEvents));
  const port = freePort();
  const task = archiverTask("run");
  const child = spawnDeno([...task.flags, "-P=local", `${REPO}/main.ts`, "run"], {
    ...task.env,
    ...ARCHIVER_SETTINGS,
    ...source.env,
    ...cloud.env,
    ARCHIVE_DIR: `${dir}/unused`,
    LISTEN: "127.0.0.1",
    PORT: String(port),
    TRIGGER_TOKEN,
  });
  const stderr = new Response(child.stderr).text();
  void child.stdout.cancel();
  let exited = false;
  child.status.then(() => exited = true);
  const base = `http://127.0.0.1:${port}`;
  const stats = cloud.oci.stats;
  const counted = (): PassRequests => ({
    bucket: stats.requests,
    listObjects: stats.byOperation.ListObjects ?? 0,
    listed: stats.listedEntries,
  });
  const sample = async (pass: number, requests: PassRequests): Promise<DaemonSample> => ({
    pass,
    rssBytes: await residentBytes(child.pid),
    series: seriesCount(await scrape(base)),
    requests,
  });
  try {
    const started = performance.now();
    let early: DaemonSample | undefined;
    let late: DaemonSample | undefined;
    // The daemon's pass at start is pass 1.
    for (let pass = 1; pass <= passes; pass++) {
      const before = counted();
      if (pass > 1) await trigger(base);
      await passesDone(base, pass, () => exited);
      const after = counted();
      const requests = {
        bucket: after.bucket - before.bucket,
        listObjects: after.listObjects - before.listObjects,
        listed: after.listed - before.listed,
      };
      if (pass === EARLY_PASS) early = await sample(pass, requests);
      if (pass === passes) late = await sample(pass, requests);
      if (pass % 100 === 0) {
        progress(
          `daemon: pass ${pass}, RSS ${
            mib(await residentBytes(child.pid))
          } MiB, ${requests.bucket} bucket requests (ListObjects ${requests.listObjects}, ${requests.listed} names listed)`,
        );
      }
    }
    return { early: early!, late: late!, wallSeconds: (performance.now() - started) / 1000 };
  } catch (error) {
    if (error instanceof BrokenRun) error.message += `\n${(await stopDaemon(child, stderr)).trim()}`;
    throw error;
  } finally {
    await stopDaemon(child, stderr);
    await source.close();
    await cloud.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Asks for a pass until the daemon starts one (409 while one runs). */
async function trigger(base: string) {
  for (;;) {
    const response = await fetch(`${base}/trigger`, {
      method: "POST",
      headers: { authorization: `Bearer ${TRIGGER_TOKEN}` },
    });
    await response.body?.cancel();
    if (response.status === 202) return;
    if (response.status !== 409) throw new BrokenRun(`daemon: POST /trigger answered ${response.status}`);
    await delay(POLL_MS / 5);
  }
}

/**
 * Waits until /metrics counts `count` passes that succeeded; a failed one breaks the run. A skipped one (the
 * schedule's start while a triggered pass runs) is no pass and no fault.
 */
async function passesDone(base: string, count: number, exited: () => boolean) {
  for (;;) {
    if (exited()) throw new BrokenRun("daemon: exited before its passes were done");
    const text = await scrape(base).catch(() => "");
    const passes = passCounts(text);
    if (passes.failed) throw new BrokenRun(`daemon: ${passes.failed} passes failed`);
    if (passes.ok >= count) return;
    await delay(POLL_MS / 5);
  }
}

/** audit_archiver_passes_total (src/metrics.ts) summed by result. */
function passCounts(text: string): Record<"ok" | "failed" | "skipped", number> {
  const counts = { ok: 0, failed: 0, skipped: 0 };
  for (
    const [, result, value] of text.matchAll(/^audit_archiver_passes_total\{.*result="(\w+)".*\} (\S+)$/gm)
  ) {
    counts[result as keyof typeof counts] += Number(value);
  }
  return counts;
}

async function scrape(base: string): Promise<string> {
  const response = await fetch(`${base}/metrics`);
  if (!response.ok) throw new BrokenRun(`daemon: /metrics answered ${response.status}`);
  return await response.text();
}

/** The series of a Prometheus text exposition: its lines that are neither comments nor blank. */
const seriesCount = (text: string) => text.split("\n").filter((l) => l && !l.startsWith("#")).length;

/** VmRSS of a process, read by a shell for the reason SAMPLER gives. */
async function residentBytes(pid: number): Promise<number> {
  const out = await new Deno.Command("sh", { args: ["-c", `grep '^VmRSS:' /proc/${pid}/status`] }).output();
  const kb = /^VmRSS:\s+(\d+) kB/.exec(new TextDecoder().decode(out.stdout))?.[1];
  if (kb === undefined) throw new BrokenRun(`daemon: no VmRSS for process ${pid}`);
  return Number(kb) * 1024;
}

/** SIGTERM (the daemon finishes its pass and exits), then what it wrote to stderr. */
async function stopDaemon(child: Deno.ChildProcess, stderr: Promise<string>): Promise<string> {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already gone.
  }
  await child.status;
  return await stderr;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * An idle pass (`once`, nothing new in the source) on an archive of `days` days of sparse events, caught up
 * first: the requests it sends to the bucket and the identity domain. They must not grow with `days`.
 */
async function measureIdlePass(days: number): Promise<IdlePassCost> {
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "audit-archiver-bench-" });
  // One event every three days or so: most day folders hold one empty window.
  const scenario = sparseScenario(`${days}-day archive`, Math.ceil(days / 3), days);
  const cloud = await startCloud(dir);
  const source = await idcsSource(scenario, dir, generateBacklog(scenario, generateEvents));
  try {
    const env = {
      ...ARCHIVER_SETTINGS,
      ...source.env,
      ...cloud.env,
      ARCHIVE_DIR: `${dir}/unused`,
      SINCE: `${days}d`,
    };
    progress(`idle pass on a ${days}-day archive: catching up`);
    const catchUp = await runArchiver(env);
    if (catchUp.code !== 0) throw new BrokenRun(`${scenario.name}: catching up failed:\n${catchUp.stderr}`);
    const archived = countArchivedInBucket(cloud);
    if (archived.events !== scenario.events) {
      throw new BrokenRun(`${scenario.name}: archived ${archived.events} events of ${scenario.events}`);
    }
    const before = { ...cloud.oci.stats.byOperation };
    const [bucketBefore, sourceBefore] = [cloud.oci.stats.requests, source.requests()];
    progress(`idle pass on a ${days}-day archive (${archived.objects} windows): counting requests`);
    const pass = await runArchiver(env);
    if (pass.code !== 0) throw new BrokenRun(`${scenario.name}: the idle pass failed:\n${pass.stderr}`);
    const byOperation = Object.fromEntries(
      Object.entries(cloud.oci.stats.byOperation)
        .map(([operation, n]) => [operation, n - (before[operation] ?? 0)])
        .filter(([, n]) => n !== 0),
    );
    return {
      days,
      bucketRequests: cloud.oci.stats.requests - bucketBefore,
      sourceRequests: source.requests() - sourceBefore,
      byOperation,
    };
  } finally {
    await source.close();
    await cloud.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

interface LongRun {
  daemon: DaemonRun;
  idle: IdlePassCost[];
}

async function runLong(): Promise<LongRun> {
  const passes = Number(Deno.env.get("BENCH_PASSES") ?? DAEMON_PASSES);
  if (!Number.isInteger(passes) || passes <= EARLY_PASS) {
    usage(`BENCH_PASSES must be a whole number above ${EARLY_PASS}, not "${Deno.env.get("BENCH_PASSES")}"`);
  }
  progress(`daemon: ${passes} passes`);
  const daemon = await runDaemonPasses(passes);
  return { daemon, idle: [await measureIdlePass(7), await measureIdlePass(730)] };
}

const passRequests = (r: PassRequests) =>
  `${r.bucket} bucket requests (ListObjects ${r.listObjects}, ${r.listed} names listed)`;

function longSummary({ daemon: { early, late, wallSeconds }, idle }: LongRun): string {
  const ratio = (a: number, b: number) => `${((b / a - 1) * 100).toFixed(1)}%`;
  const [week, years] = idle;
  const requests = (c: IdlePassCost) =>
    `${c.bucketRequests} to the bucket (${
      Object.entries(c.byOperation).map(([op, n]) => `${op} ${n}`).join(", ")
    }), ${c.sourceRequests} to the identity domain`;
  return [
    `- daemon (\`run\`, idcs → oci), ${grouped(late.pass)} passes back to back through POST /trigger in ${
      wallSeconds.toFixed(0)
    } s: RSS ${mib(early.rssBytes)} MiB after pass ${early.pass}, ${mib(late.rssBytes)} MiB after pass ${
      grouped(late.pass)
    } (${ratio(early.rssBytes, late.rssBytes)}); /metrics series ${early.series} and ${late.series} (${
      ratio(early.series, late.series)
    }); pass ${early.pass}: ${passRequests(early.requests)}, pass ${grouped(late.pass)}: ${
      passRequests(late.requests)
    }`,
    `- idle pass (\`once\`, nothing new) on a 1-week archive: ${requests(week)}; on a 2-year archive: ${
      requests(years)
    }`,
  ].join("\n");
}

function progress(message: string) {
  console.error(`bench: ${message}`);
}

// ─────────────────────────────────────────────────────────────────────────────────────────────────

const defaultOf = (env: string) => SETTINGS.find((s) => s.env === env)?.default;

async function main(): Promise<number> {
  const { size, groups, flows } = readOptions();
  // BENCH_FLOWS narrows scenarios 1–3, the ones that run every flow.
  const chosen = scenarios(size).filter((s) =>
    groups.has(s.group) && (!flows || s.group > 3 || flows.has(flowName(s)))
  );
  const cpus = navigator.hardwareConcurrency;
  console.log(
    `audit-archiver benchmark — Deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch}, ${cpus} CPUs; ` +
      `PAGE_SIZE ${ARCHIVER_SETTINGS.PAGE_SIZE}, CONCURRENCY ${ARCHIVER_SETTINGS.CONCURRENCY}, ` +
      `MAX_EVENTS_PER_OBJECT ${
        defaultOf("MAX_EVENTS_PER_OBJECT")
      } (default), SETTLE ${ARCHIVER_SETTINGS.SETTLE}, SINCE ${ARCHIVER_SETTINGS.SINCE}`,
  );
  const results: Result[] = [];
  for (const scenario of chosen) {
    try {
      const result = await runScenario(scenario);
      results.push(result);
      printResult(result);
    } catch (error) {
      if (!(error instanceof BrokenRun)) throw error;
      console.error(`bench: ERROR ${error.message}`);
      return 1;
    }
  }
  let idle: IdleRun | undefined;
  let long: LongRun | undefined;
  try {
    if (groups.has(6)) idle = await runIdle();
    if (groups.has(9)) long = await runLong();
  } catch (error) {
    if (!(error instanceof BrokenRun)) throw error;
    console.error(`bench: ERROR ${error.message}`);
    return 1;
  }
  const lines = [summary(results, idle), long && longSummary(long)].filter(Boolean).join("\n");
  console.log(results.length ? `\n${markdownTable(results)}\n\n${lines}\n\n${LEGEND}` : `\n${lines}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
