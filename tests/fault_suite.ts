/**
 * The randomized fault suite: for each seed, an emulated domain with seeded events (ties, late indexing) and
 * seeded faults (429 with and without Retry-After, 5xx, resets, malformed and truncated pages, reshuffled
 * ties) is archived by a seeded sequence of passes — in-process, as subprocesses killed at a random moment,
 * and several at once on the same directory. Then a clean pass catches up and the archive is compared with the
 * emulator's truth: nothing lost before the frontier (1), nothing twice (2), windows tile (3, via verify).
 * Some steps are bad input, which must fail and write nothing (5); no subprocess log line and no archived byte
 * may hold the key, an assertion or a token (6).
 *
 * Each source (the identity domain, OCI Audit) runs into each sink (a directory, and an Object Storage bucket
 * through the real SDK against the emulated cloud, which injects its own faults). The seeds of one source × sink
 * are dealt round-robin to SHARDS test files (fault_suite/{source}_{sink}_{shard}_test.ts), which `deno test
 * --parallel` runs side by side. `deno task test` runs the fast slice (`fastSlice`: the seeds that cover every
 * value the scenario generator draws, plus every seed that ever failed); `deno task test:soak` (FAULT_SEEDS=200)
 * runs seeds 1 to 200 per source × sink; FAULT_SEED=S runs one, to replay a failure.
 */

import assert from "node:assert/strict";
import { gunzip } from "../src/archive/format.ts";
import { generateClientKey, generateEvents } from "./emulators/idcs.ts";
import { generateAuditEvents } from "./emulators/oci.ts";
import { mulberry32 } from "./emulators/random.ts";
import soakSeconds from "./fault_suite_costs.json" with { type: "json" };
import { BUCKET, readBucketArchive, startCloud, TENANCY, withCloud } from "./oci_harness.ts";
import {
  archiveText,
  assertCompleteArchive,
  assertNoSecrets,
  type Domain,
  duplicates,
  HOUR,
  listFiles,
  readArchive,
  runCli,
  runMain,
  startDomain,
  TEST_RETRY_WAIT,
  verifyDir,
} from "./harness.ts";

const SETTLE_MS = 3_000;

type Step =
  | "pass"
  | "killed-subprocess"
  | "concurrent-passes"
  | "concurrent-subprocesses"
  | "bad-input"
  | "orphaned-claim"
  | "sigterm-run"
  | "reconcile-beside-pass"
  | "killed-reconcile";

/** Everything a seed decides, printed when it fails so it can be replayed and read. */
export function scenario(seed: number) {
  const random = mulberry32(seed);
  const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)];
  const steps: Step[] = Array.from({ length: 2 + Math.floor(random() * 3) }, () => {
    const r = random();
    return r < 0.3
      ? "pass"
      : r < 0.6
      ? "killed-subprocess"
      : r < 0.75
      ? "concurrent-passes"
      : r < 0.87
      ? "concurrent-subprocesses"
      : "bad-input";
  });
  return {
    seed,
    count: 50 + Math.floor(random() * 700),
    days: 0.2 + random() * 2,
    tieRate: random() * 0.6,
    lateCount: Math.floor(random() * 6),
    faults: {
      rate429: random() * 0.08,
      retryAfterRate: 0.1,
      rate5xx: random() * 0.08,
      rateReset: random() * 0.04,
      rateMalformed: random() * 0.04,
      rateTruncated: random() * 0.04,
      shuffleTies: random() < 0.7,
    },
    settings: [
      "--page-size",
      String(pick([3, 7, 20, 50, 100, 1000])),
      "--max-events-per-object",
      String(pick([5, 13, 40, 100, 250, 50000])),
      "--concurrency",
      String(1 + Math.floor(random() * 6)),
      ...(random() < 0.3 ? ["--max-events", String(20 + Math.floor(random() * 200))] : []),
    ],
    killAfterMs: Array.from(steps, () => 30 + Math.floor(random() * 500)),
    badInput: Array.from(steps, () => pick(["setting", "garbage-key", "unknown-key"] as const)),
    steps,
    // Drawn last, so every value above is what it was before these were added.
    audit: {
      /** AUDIT_COMPARTMENT_ID is a middle compartment of the tree instead of the tenancy. */
      middleScope: random() < 0.3,
      /** Time between processing and being listable: UNCONFIRMED whether there is any, so both (below SETTLE). */
      visibilityLagMs: random() < 0.3 ? 200 + Math.floor(random() * 2_000) : 0,
      /** ListEvents on a DELETED compartment: undocumented whether it lists or 404s, so both. */
      deletedCompartmentEvents: random() < 0.5 ? "list" as const : "404" as const,
      /** ListEvents has no page-size parameter; pages vary per request up to this. */
      maxPageSize: pick([300, 2000, 5000]),
    },
    // Drawn after the OCI Audit choices, so every value above is unchanged.
    extra: {
      /**
       * One more step, at a seeded place: a claim winner killed between manifest and data while another
       * instance carries on, or SIGTERM to `run` at a seeded moment.
       */
      step: random() < 0.5 ? pick(["orphaned-claim", "sigterm-run"] as const) : undefined,
      at: random(),
      sigtermAfterMs: 50 + Math.floor(random() * 1500),
      /** Share of Logging pushes whose connection drops after Logging took them in (an ambiguous push). */
      logDropRate: random() < 0.5 ? random() * 0.3 : 0,
    },
    // Drawn after the extra step, so every value above is unchanged.
    reconcile: {
      /** Events the source shows for committed windows only later (indexed late, past SETTLE): invariant 10. */
      lateCount: Math.floor(random() * 6),
      /** Before which step they appear (past the last: before the clean pass). */
      lateAt: random(),
      /** A reconcile at a seeded place: beside an in-process pass, or as a subprocess killed at a seeded moment. */
      step: random() < 0.6 ? pick(["reconcile-beside-pass", "killed-reconcile"] as const) : undefined,
      at: random(),
      killAfterMs: 30 + Math.floor(random() * 800),
      /** Every pass also reconciles what it committed before (RECONCILE_AFTER 0s), or none is due (the default, 1d). */
      afterEachPass: random() < 0.5,
    },
  };
}

/** The steps of a scenario with its extra step in place, each with its own kill time and bad input. */
function stepsOf(plan: ReturnType<typeof scenario>) {
  const steps = plan.steps.map((step, i) => ({
    step,
    killAfterMs: plan.killAfterMs[i],
    badInput: plan.badInput[i],
  }));
  const { step, at, sigtermAfterMs } = plan.extra;
  if (step) {
    steps.splice(Math.floor(at * (steps.length + 1)), 0, {
      step,
      killAfterMs: sigtermAfterMs,
      badInput: "setting",
    });
  }
  const reconcile = plan.reconcile;
  if (reconcile.step) {
    steps.splice(Math.floor(reconcile.at * (steps.length + 1)), 0, {
      step: reconcile.step,
      killAfterMs: reconcile.killAfterMs,
      badInput: "setting",
    });
  }
  return steps;
}

/** Before which step (an index into `stepsOf`, possibly one past the last) the late events appear. */
const lateStepOf = (plan: ReturnType<typeof scenario>) =>
  Math.floor(plan.reconcile.lateAt * (stepsOf(plan).length + 1));

/** The custom log every seed's passes copy to (a Logging copy beside each archive). */
const LOG_ID = "ocid1.log.oc1..aaaafaultsuitelog";

/** What a seed runs against: one source (with its emulator) and one sink, behind the same few operations. */
interface FaultTarget {
  args: string[];
  env: Record<string, string>;
  /** The private key whose lines must never appear in logs or the archive. */
  keyPem: string;
  read: Domain["read"];
  verify: Domain["verify"];
  truth: Domain["truth"];
  files: Domain["files"];
  text: Domain["text"];
  /** Prepares one kind of bad input: the settings that carry it, and the exit and message it must produce. */
  badInput(kind: BadInput): Promise<BadInputOutcome>;
  /** Faults off, for the clean pass that must catch up. */
  quiet(): void;
  /** Credentials the run created (access tokens) that must not leak either. */
  secrets(): string[];
  /** Calls `callback` at the first claim (a manifest being stored) from now on; returns the unsubscribe. */
  onClaim(callback: () => void): () => void;
  /** The ids of every entry the Logging copy pushed, once per time it is in the log. */
  logged(): string[];
  /** The exact text the source sent for an event: what its archived line must be, byte for byte. */
  wireText(id: string): string;
  /** Makes the source show `count` more events inside the range archived so far: indexed late. */
  addLateCommitted(count: number): void;
  close(): Promise<void>;
}

type BadInput = "setting" | "garbage-key" | "unknown-key";
type BadInputOutcome = { env: Record<string, string>; code: number; message: RegExp };

/** Runs one step; returns the exit codes and everything the subprocesses logged (at debug level). */
async function runStep(
  target: FaultTarget,
  { step, killAfterMs, badInput }: ReturnType<typeof stepsOf>[number],
  plan: ReturnType<typeof scenario>,
) {
  const reconcileAfter = plan.reconcile.afterEachPass ? ["--reconcile-after", "0s"] : [];
  const settings = [...plan.settings, ...reconcileAfter];
  const env = { ...target.env, SETTLE: `${SETTLE_MS}ms`, LOG_LEVEL: "debug" };
  const flags = [...settings, "--settle", `${SETTLE_MS}ms`];
  switch (step) {
    case "pass":
      return { codes: [await runMain("once", target, ...flags)], logs: "" };
    case "concurrent-passes":
      return { codes: await Promise.all([1, 2, 3].map(() => runMain("once", target, ...flags))), logs: "" };
    case "killed-subprocess": {
      const result = await runCli(["once", ...settings], { env, killAfterMs });
      return { codes: [result.code], logs: result.stderr };
    }
    case "concurrent-subprocesses": {
      const results = await Promise.all(
        [0, 1].map((i) => runCli(["once", ...settings], { env, killAfterMs: killAfterMs * (i + 1) })),
      );
      return { codes: results.map((r) => r.code), logs: results.map((r) => r.stderr).join("\n") };
    }
    case "bad-input": {
      // Invariant 5: a pass with bad input fails with its exit status and message, writing nothing.
      const kind = badInput;
      const before = await target.files();
      const bad = await target.badInput(kind);
      const result = await runCli(["once"], { env: { ...env, ...bad.env } });
      // A key is only used when a window is due: OCI Audit's minute windows may have none due yet.
      const nothingDue = kind === "unknown-key" && result.code === 0 &&
        /"windows":0,"events":0/.test(result.stderr);
      if (!nothingDue) {
        assert.equal(result.code, bad.code, `bad input (${kind}) must fail: ${result.stderr}`);
        assert.match(result.stderr, bad.message);
      }
      assert.deepEqual(await target.files(), before, `bad input (${kind}) must write nothing`);
      return { codes: [result.code], logs: result.stderr };
    }
    case "orphaned-claim": {
      // Instance A is killed at the first claim it or B makes — when it is A's, A dies between its manifest
      // and its data — while instance B (in-process) carries the chain on past it.
      let a: Deno.ChildProcess | undefined;
      const unsubscribe = target.onClaim(() => {
        try {
          a?.kill("SIGKILL");
        } catch {
          // already exited
        }
      });
      try {
        const [killed, carried] = await Promise.all([
          runCli(["once", ...settings], { env, onSpawn: (child) => a = child }),
          runMain("once", target, ...flags),
        ]);
        return { codes: [killed.code, carried], logs: killed.stderr };
      } finally {
        unsubscribe();
      }
    }
    case "reconcile-beside-pass": {
      // Reconcilers and a pass at once on the same chain: amendments are created if absent, never twice.
      const codes = await Promise.all([
        runMain("reconcile", target, ...flags),
        runMain("once", target, ...flags),
        runMain("reconcile", target, ...flags),
      ]);
      return { codes, logs: "" };
    }
    case "killed-reconcile": {
      // Killed at a seeded moment, maybe between an amendment's claim and its data: a reader completes it.
      const result = await runCli(["reconcile", ...settings], { env, killAfterMs });
      return { codes: [result.code], logs: result.stderr };
    }
    case "sigterm-run": {
      // SIGTERM at a seeded moment of `run`'s first pass: the process ends within its grace (10 s) and
      // leaves nothing the next pass cannot complete. Before its listener is installed, Deno's default
      // action ends it with 143; after, `run` exits 0.
      const sent: number[] = [];
      const result = await runCli(["run", ...settings], {
        env: { ...env, SCHEDULE: "0 0 1 1 *" },
        onSpawn: (child) =>
          setTimeout(() => {
            sent.push(Date.now());
            child.kill("SIGTERM");
          }, killAfterMs),
      });
      const tookMs = Date.now() - sent[0];
      assert.ok(
        [0, 143].includes(result.code),
        `run ended with ${result.code} after SIGTERM: ${result.stderr}`,
      );
      assert.ok(tookMs < 15_000, `run took ${tookMs} ms to end after SIGTERM`);
      return { codes: [result.code], logs: result.stderr };
    }
  }
}

/** The emulated cloud of a seed: a bucket, a custom log whose pushes may drop after the work, and the claim hook. */
async function startFaultCloud(dir: string, seed: number, plan: ReturnType<typeof scenario>, extra = {}) {
  let onManifest: (() => void) | undefined;
  const cloud = await startCloud(dir, {
    seed,
    faults: cloudFaults(plan),
    logs: [LOG_ID],
    // Seen before it is served: the kill lands before the manifest is stored, so A never writes its data.
    onRequest: (request) => {
      if (request.method === "PUT" && request.objectName?.endsWith(".manifest.json")) onManifest?.();
    },
    ...extra,
  });
  const onClaim = (sink: Sink, archiveDir: string) => (callback: () => void) => {
    if (sink === "oci") {
      let once: (() => void) | undefined = () => {
        once = undefined;
        callback();
      };
      onManifest = () => once?.();
      return () => onManifest = undefined;
    }
    return watchClaims(archiveDir, callback);
  };
  const settings = {
    OCI_AUTH: "config",
    OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
    OCI_LOG_ID: LOG_ID,
    OCI_LOGGING_ENDPOINT: cloud.oci.url,
  };
  return { cloud, onClaim, settings, logged: () => cloud.oci.logEntries(LOG_ID).map((e) => e.id) };
}

/** Calls `callback` once, at the first manifest created below `archiveDir` (the directory sink's claim). */
function watchClaims(archiveDir: string, callback: () => void): () => void {
  Deno.mkdirSync(archiveDir, { recursive: true });
  const watcher = Deno.watchFs(archiveDir, { recursive: true });
  (async () => {
    for await (const event of watcher) {
      if (event.kind === "create" && event.paths.some((path) => path.endsWith(".manifest.json"))) {
        callback();
        break;
      }
    }
  })().catch(() => {});
  return () => {
    try {
      watcher.close();
    } catch {
      // already closed
    }
  };
}

/** The identity-domain source against the emulated domain, into a directory or the emulated cloud's bucket. */
async function idcsTarget(seed: number, sink: Sink, plan: ReturnType<typeof scenario>): Promise<FaultTarget> {
  const now = Date.now();
  const events = generateEvents({
    seed,
    count: plan.count,
    from: now - plan.days * 24 * HOUR,
    to: now - SETTLE_MS,
    tieRate: plan.tieRate,
  });
  const idcs = await startDomain({ events, faults: plan.faults, seed, since: "3d" });
  const fault = await startFaultCloud(idcs.dir, seed, plan);
  const { cloud } = fault;
  const inCloud = sink === "oci" ? withCloud(idcs, cloud) : idcs;
  const domain = {
    ...inCloud,
    env: { ...inCloud.env, ...fault.settings },
    args: [
      ...inCloud.args,
      ...Object.entries(fault.settings).flatMap(([name, value]) => [flagOf(name), value]),
    ],
    close: sink === "oci" ? inCloud.close : async () => {
      await cloud.close();
      await idcs.close();
    },
  };
  // Late indexing: events from the last two seconds that appear within the next second — inside SETTLE.
  idcs.emulator.addEvents(
    generateEvents({ seed: seed + 1e6, count: plan.lateCount, from: now - 2_000, to: now - 1_000 }),
    now + 1_000,
  );
  return {
    ...domain,
    keyPem: idcs.pkcs8Pem,
    badInput: async (kind): Promise<BadInputOutcome> => {
      if (kind === "setting") {
        return { env: { PAGE_SIZE: "0", SETTLE: "later" }, code: 2, message: /must be/ };
      }
      const badKey = `${idcs.dir}/bad-key.pem`;
      await Deno.writeTextFile(
        badKey,
        kind === "garbage-key"
          ? "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
          : (await generateClientKey()).pkcs8Pem,
      );
      return kind === "garbage-key"
        ? { env: { IDCS_PRIVATE_KEY_FILE: badKey }, code: 2, message: /is not an RSA private key/ }
        : { env: { IDCS_PRIVATE_KEY_FILE: badKey }, code: 1, message: /rejected the client credentials/ };
    },
    quiet: () => {
      idcs.emulator.setFaults({ shuffleTies: plan.faults.shuffleTies });
      cloud.oci.setFaults({});
    },
    secrets: () => idcs.emulator.issuedTokens(),
    onClaim: fault.onClaim(sink, idcs.archiveDir),
    logged: fault.logged,
    wireText: (id) => idcs.emulator.wireText(id),
    addLateCommitted: (count) => {
      const at = Date.now();
      idcs.emulator.addEvents(
        generateEvents({
          seed: seed + 2e6,
          count,
          from: now - plan.days * 24 * HOUR,
          to: at - SETTLE_MS - 1_000,
        }),
      );
    },
  };
}

const flagOf = (name: string) => `--${name.toLowerCase().replaceAll("_", "-")}`;

const TEAM = "ocid1.compartment.oc1..aaaafaultteam";
const PROD = "ocid1.compartment.oc1..aaaafaultprod";
const DB = "ocid1.compartment.oc1..aaaafaultdb";
const OLD = "ocid1.compartment.oc1..aaaafaultold";
const OPS = "ocid1.compartment.oc1..aaaafaultops";
/** Three levels below the tenancy, ACTIVE and one DELETED compartment (ListCompartments lists both). */
const FAULT_COMPARTMENTS = [
  { id: TEAM, parentId: TENANCY, name: "team" },
  { id: PROD, parentId: TEAM, name: "prod" },
  { id: DB, parentId: PROD, name: "db" },
  { id: OLD, parentId: TEAM, name: "old", lifecycleState: "DELETED" as const },
  { id: OPS, parentId: TENANCY, name: "ops" },
];

/** `root` and every compartment below it. */
function subtreeOf(root: string): Set<string> {
  const ids = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const c of FAULT_COMPARTMENTS) {
      if (ids.has(c.parentId) && !ids.has(c.id)) {
        ids.add(c.id);
        grew = true;
      }
    }
  }
  return ids;
}

/**
 * The OCI Audit source against the emulated cloud (a tenancy with a three-level subtree, one compartment
 * DELETED), into either sink. Events have processing delays with a tail of minutes, pages vary up to
 * thousands, some members are null; the scope is the tenancy or (seeded) a middle compartment. The truth is
 * every event of the scope's subtree that Audit returns, *processed* before the frontier.
 */
async function auditTarget(
  seed: number,
  sink: Sink,
  plan: ReturnType<typeof scenario>,
): Promise<FaultTarget> {
  const now = Date.now();
  const compartmentIds = [TENANCY, ...FAULT_COMPARTMENTS.map((c) => c.id)];
  const events = generateAuditEvents({
    seed,
    count: plan.count,
    from: now - plan.days * 24 * HOUR,
    to: now - SETTLE_MS,
    compartmentIds,
  });
  const late = generateAuditEvents({
    seed: seed + 1e6,
    count: plan.lateCount,
    from: now - 2_000,
    to: now - 1_000,
    compartmentIds,
  });
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-fault-" });
  const fault = await startFaultCloud(dir, seed, plan, {
    compartments: FAULT_COMPARTMENTS,
    auditEvents: events,
    auditMaxPageSize: plan.audit.maxPageSize,
    auditVisibilityLagMs: plan.audit.visibilityLagMs,
    deletedCompartmentEvents: plan.audit.deletedCompartmentEvents,
  });
  const { cloud } = fault;
  // Appended late: processed (and listed) one second from now.
  cloud.oci.addAuditEvents(late, now + 1_000);
  const lateCommitted: typeof events = [];
  const scope = plan.audit.middleScope ? TEAM : TENANCY;
  const inScope = subtreeOf(scope);
  if (plan.audit.deletedCompartmentEvents === "404") inScope.delete(OLD); // Audit returns none of its events
  const archiveDir = `${dir}/archive`;
  const bucket: Record<string, string> = sink === "oci"
    ? { OCI_BUCKET: BUCKET, OCI_OBJECT_STORAGE_ENDPOINT: cloud.oci.url }
    : {};
  const env: Record<string, string> = {
    AUDIT_COMPARTMENT_ID: scope,
    OCI_AUDIT_ENDPOINT: cloud.oci.url,
    OCI_IDENTITY_ENDPOINT: cloud.oci.url,
    ARCHIVE_DIR: archiveDir,
    SINCE: "3d",
    SETTLE: "0s",
    MIN_INTERVAL: "0s",
    MAX_RETRY_WAIT: TEST_RETRY_WAIT,
    LOG_LEVEL: "error",
    ...bucket,
    ...fault.settings,
  };
  const verifyEnv = { ...env, LOG_LEVEL: "error" };
  return {
    args: Object.entries(env).flatMap((
      [name, value],
    ) => [`--${name.toLowerCase().replaceAll("_", "-")}`, value]),
    env,
    keyPem: await Deno.readTextFile(`${dir}/oci-api-key.pem`),
    read: () => sink === "oci" ? readBucketArchive(cloud.oci) : readArchive(archiveDir),
    verify: async () =>
      sink === "oci"
        ? JSON.parse((await runCli(["verify"], { env: verifyEnv })).stdout).problems
        : (await verifyDir(archiveDir)).problems,
    truth: (frontier) =>
      [...events, ...late, ...lateCommitted]
        .filter((e) => inScope.has(e.data.compartmentId) && cloud.oci.auditProcessedAt(e.eventId) < frontier)
        .map((e) => e.eventId).sort(),
    files: async () =>
      sink === "oci" ? cloud.oci.objects(BUCKET).map((o) => o.name) : await listFiles(archiveDir),
    text: async () =>
      sink === "oci"
        ? (await Promise.all(
          cloud.oci.objects(BUCKET).map(async (o) =>
            new TextDecoder().decode(o.name.endsWith(".gz") ? await gunzip(o.bytes) : o.bytes)
          ),
        )).join("\n")
        : await archiveText(archiveDir),
    badInput: async (kind): Promise<BadInputOutcome> => {
      if (kind === "setting") {
        return {
          env: { AUDIT_COMPARTMENT_ID: "compartment-7" },
          code: 2,
          message: /must be a tenancy or compartment OCID/,
        };
      }
      if (kind === "garbage-key") {
        return {
          env: { OCI_CONFIG_FILE: `${dir}/no-such-config` },
          code: 2,
          message: /OCI config file .*no-such-config cannot be read \(no such file\)/,
        };
      }
      const config = await Deno.readTextFile(cloud.env.OCI_CONFIG_FILE);
      const unknown = `${dir}/unknown-key-config`;
      await Deno.writeTextFile(
        unknown,
        config.replace(/fingerprint=.*/, "fingerprint=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"),
      );
      return { env: { OCI_CONFIG_FILE: unknown }, code: 1, message: /OCI rejected the request signature/ };
    },
    quiet: () => cloud.oci.setFaults({}),
    secrets: () => [],
    onClaim: fault.onClaim(sink, archiveDir),
    logged: fault.logged,
    wireText: (id) => cloud.oci.auditWireText(id),
    addLateCommitted: (count) => {
      const at = Date.now();
      const from = now - plan.days * 24 * HOUR, to = at - SETTLE_MS - 1_000;
      const added = generateAuditEvents({ seed: seed + 2e6, count, from, to, compartmentIds });
      // Processed inside the range archived so far, listed only from now on.
      for (const [i, event] of added.entries()) {
        const processedAt = Math.max(Date.parse(event.eventTime), from + (to - from) * ((i + 0.5) / count));
        cloud.oci.addLateAuditEvents([event], { processedAt: Math.min(processedAt, to), listableAt: at });
      }
      lateCommitted.push(...added);
    },
    close: async () => {
      await cloud.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The cloud's own seeded 429s, 5xx and resets, gentler than the identity domain's. */
const cloudFaults = (plan: ReturnType<typeof scenario>) => ({
  rate429: plan.faults.rate429 / 2,
  rate5xx: plan.faults.rate5xx / 2,
  rateReset: plan.faults.rateReset,
  dropAfterWork: { operations: ["PutLogs"], rate: plan.extra.logDropRate },
});

type Sink = "dir" | "oci";
type SourceName = "idcs" | "oci-audit";

const only = Deno.env.get("FAULT_SEED");
const count = Deno.env.get("FAULT_SEEDS");
const part = Deno.env.get("FAULT_SOAK_PART");
/** The soak: seeds 1 to SOAK_SEEDS per source × sink (`deno task test:soak`). */
const SOAK_SEEDS = 200;
/**
 * Seeds that once failed, each for a bug since fixed, and where: the fast slice replays them there. 185
 * (idcs → dir): a tie group of ~40 events paged 3 at a time under shuffled ties needed more than 6 reads. 182
 * (oci-audit → oci): three in-process passes claimed one window's Logging attempt in the same millisecond with
 * identical bytes, and the bucket's "identical bytes are my own retried write" rule let each of them push it.
 * 102 (idcs → dir): a pass killed between claiming checkpoint 1 and writing its dated copy left it for no one to
 * complete.
 */
const REPLAYED_SEEDS: { seed: number; source: SourceName; sink: Sink }[] = [
  { seed: 102, source: "idcs", sink: "dir" },
  { seed: 182, source: "oci-audit", sink: "oci" },
  { seed: 185, source: "idcs", sink: "dir" },
];
/** How many test files share one source × sink's seeds; each file names its shard, 1 to SHARDS. */
const SHARDS = 4;

/** What a scenario exercises, one string per value of each dimension the generator draws. */
function features(plan: ReturnType<typeof scenario>): string[] {
  const setting = (flag: string) => plan.settings[plan.settings.indexOf(flag) + 1] ?? "unset";
  return [
    ...plan.steps.map((step, i) => step === "bad-input" ? `bad-input:${plan.badInput[i]}` : `step:${step}`),
    `page:${setting("--page-size")}`,
    `limit:${setting("--max-events-per-object")}`,
    `concurrency:${setting("--concurrency")}`,
    `max-events:${plan.settings.includes("--max-events")}`,
    `shuffle:${plan.faults.shuffleTies}`,
    `count:${Math.min(2, Math.floor(plan.count / 250))}`,
    `ties:${Math.floor(plan.tieRate / 0.2)}`,
    `late:${plan.lateCount > 0}`,
    `extra:${plan.extra.step ?? "none"}`,
    `log-drops:${plan.extra.logDropRate > 0}`,
    `late-committed:${plan.reconcile.lateCount > 0}`,
    `reconcile:${plan.reconcile.step ?? "none"}`,
    `reconcile-after-each-pass:${plan.reconcile.afterEachPass}`,
  ];
}

/** Each pair of steps in a row a scenario takes (a kill after a concurrent pass, …). */
const stepPairs = (plan: ReturnType<typeof scenario>) =>
  plan.steps.slice(1).map((step, i) => `after:${plan.steps[i]}>${step}`);

/**
 * The seconds each seed took per source × sink in a soak on a 2-core machine (tools/fault_costs.ts writes the
 * file from a soak's output): only compared between seeds, to choose the cheaper of two that add the same values.
 */
const SOAK_SECONDS: Record<string, Record<string, number>> = soakSeconds;

/** A candidate seed of one sink: the values it would add, and what it cost in the soak. */
interface Candidate {
  seed: number;
  sink: Sink;
  values: string[];
  seconds: number;
}

/** Greedily, the candidates that add the most values per second until none adds any; adds to `covered`. */
function cover(candidates: Candidate[], covered: Set<string>): Candidate[] {
  const chosen: Candidate[] = [];
  const remaining = new Set(candidates);
  for (;;) {
    let best: Candidate | undefined;
    let worth = 0;
    for (const candidate of remaining) {
      const added = candidate.values.filter((value) => !covered.has(value)).length;
      if (added / candidate.seconds > worth) [best, worth] = [candidate, added / candidate.seconds];
    }
    if (!best) return chosen;
    for (const value of best.values) covered.add(value);
    remaining.delete(best);
    chosen.push(best);
  }
}

/**
 * The fast slice of one source × sink: of the soak's seeds, the cheapest (chosen greedily by values gained per
 * second the seed took in a soak) that together take every value of every dimension the scenario generator
 * draws — each step kind, every page size, object limit and concurrency, ties, late events, MAX_EVENTS — in
 * this sink; each pair of steps in a row (a kill after a concurrent pass, …) in one of the source's two sinks;
 * and every seed that ever failed, where it failed. The bugs the soak found were each tied to such a value, so
 * the slice reaches them at a fraction of the cost; the soak keeps the rarer combinations.
 */
export function fastSlice(candidates: number[], source: SourceName, sink: Sink): number[] {
  const sinks: Sink[] = ["dir", "oci"];
  const seconds = (seed: number, of: Sink) => SOAK_SECONDS[`${source} → ${of}`]?.[seed] ?? Infinity;
  const singles = sinks.map((of) =>
    cover(
      candidates.map((seed) => ({
        seed,
        sink: of,
        values: features(scenario(seed)),
        seconds: seconds(seed, of),
      })),
      new Set(),
    )
  );
  const pairsTaken = new Set(singles.flat().flatMap((c) => stepPairs(scenario(c.seed))));
  const pairs = cover(
    sinks.flatMap((of) =>
      candidates.map((seed) => ({
        seed,
        sink: of,
        values: stepPairs(scenario(seed)),
        seconds: seconds(seed, of),
      }))
    ),
    pairsTaken,
  );
  const chosen = [...singles.flat(), ...pairs].filter((c) => c.sink === sink).map((c) => c.seed);
  const replayed = REPLAYED_SEEDS.filter((r) => r.source === source && r.sink === sink).map((r) => r.seed);
  return [...new Set([...replayed, ...chosen])].sort((a, b) => a - b);
}

/**
 * The seeds this run registers: FAULT_SEED=S one; FAULT_SEEDS=N seeds 1 to N, or with FAULT_SOAK_PART=k/n the
 * k-th of n interleaved parts of them (seeds s with s mod n = k − 1: CI soaks a part a run, taking the parts in
 * turn); else the fast slice.
 */
function selectedSeeds(source: SourceName, sink: Sink): number[] {
  if (only) return [Number(only)];
  const soak = Array.from({ length: count ? Number(count) : SOAK_SEEDS }, (_, i) => i + 1);
  if (!count) return fastSlice(soak, source, sink);
  if (!part) return soak;
  const [k, n] = part.split("/").map(Number);
  if (!(Number.isInteger(k) && Number.isInteger(n) && 1 <= k && k <= n)) {
    throw new TypeError(`FAULT_SOAK_PART must be k/n with 1 ≤ k ≤ n, like 2/4, not "${part}"`);
  }
  return soak.filter((seed) => seed % n === k - 1);
}

/** Registers one shard of the seeded scenarios for a source and sink: the selected seeds dealt round-robin. */
export function defineFaultSuite(source: SourceName, sink: Sink, shard: number) {
  const seeds = selectedSeeds(source, sink);
  for (const [i, seed] of seeds.entries()) if (i % SHARDS === shard - 1) defineSeed(seed, source, sink);
}

function defineSeed(seed: number, source: SourceName, sink: Sink) {
  const plan = scenario(seed);
  const steps = stepsOf(plan).map((s) => s.step);
  Deno.test(`fault suite ${source} → ${sink} seed ${seed}: ${steps.join(", ")}`, async () => {
    const target = source === "idcs"
      ? await idcsTarget(seed, sink, plan)
      : await auditTarget(seed, sink, plan);
    try {
      let logs = "";
      const lateAt = lateStepOf(plan);
      for (const [index, step] of stepsOf(plan).entries()) {
        if (index === lateAt) target.addLateCommitted(plan.reconcile.lateCount);
        const result = await runStep(target, step, plan);
        logs += result.logs;
        for (const code of result.codes) {
          assert.ok([0, 1, 2, 137, 143].includes(code), `unexpected exit ${code}`);
        }
      }
      target.quiet();
      const caughtUpTo = Date.now() - SETTLE_MS;
      if (lateAt === stepsOf(plan).length) target.addLateCommitted(plan.reconcile.lateCount);
      assert.equal(
        await runMain("once", target, "--settle", `${SETTLE_MS}ms`, "--page-size", "50"),
        0,
        "the clean pass must succeed",
      );
      // Invariant 10: what the source shows for committed windows only now is found and archived, once.
      const everything = new Date(Date.now() - 4 * 24 * HOUR).toISOString();
      assert.equal(
        await runMain("reconcile", target, "--from", everything, "--page-size", "50"),
        0,
        "the clean reconcile must succeed, with nothing extra",
      );
      const context = JSON.stringify(plan);
      const archive = await assertCompleteArchive(target, context);
      assert.ok(
        archive.frontier! >= Math.floor(caughtUpTo / 60_000) * 60_000,
        `the clean pass did not catch up: ${context}`,
      );
      // Every event exactly as the source sent it: members, order, escapes, nulls.
      const altered = archive.lines.filter((line) => {
        const event = JSON.parse(line);
        return line !== target.wireText(event.id ?? event.eventId);
      });
      assert.deepEqual(
        altered.slice(0, 1),
        [],
        `${altered.length} archived lines differ from the wire: ${context}`,
      );
      // The Logging copy is at most once: no entry twice, however its pushes were cut, killed or raced.
      const pushedTwice = duplicates(target.logged());
      assert.deepEqual(
        pushedTwice.slice(0, 3),
        [],
        `${pushedTwice.length} Logging entries pushed twice: ${context}`,
      );
      // Invariant 6: nothing secret in what the subprocesses logged at debug level, nor in the archive.
      assertNoSecrets(logs, target.keyPem, target.secrets(), "the logs");
      assertNoSecrets(await target.text(), target.keyPem, target.secrets(), "the archive");
    } finally {
      await target.close();
    }
  });
}
