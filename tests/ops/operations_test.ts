/**
 * `run` as a service an operator relies on for years: /healthz that turns 503 when a source fails or lags and
 * back to 200 once it recovers, /metrics in the Prometheus text format (read with a maintained parser, and
 * checked by Prometheus' own `promtool check metrics`), POST /trigger's 401/429/409/202, several sources in one
 * process that never stop each other, and `status`, /healthz and /metrics agreeing on where each chain stands.
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { asFlags, forgeHead, idcsArchive } from "../pass/archives.ts";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { generateEvents } from "../emulators/idcs.ts";
import { type CliResult, DAY, freePort, recentEvents, runCli, startDomain, waitFor } from "../harness.ts";
import { startCloud } from "../oci_harness.ts";
import { VERSION } from "../../src/version.ts";

const TOKEN = "operations-test-token-0123456789abcdef";
const LOG_ID = "ocid1.log.oc1..aaaaoperationslog";

/** `run` as a subprocess with PORT and TRIGGER_TOKEN; `stop()` sends SIGTERM and returns what it printed. */
function startDaemon(env: Record<string, string>, args: string[] = []) {
  const port = freePort();
  let child: Deno.ChildProcess | undefined;
  const result = runCli(["run", ...args], {
    env: { ...env, PORT: String(port), TRIGGER_TOKEN: TOKEN, SCHEDULE: "0 0 1 1 *", LOG_LEVEL: "info" },
    onSpawn: (spawned) => child = spawned,
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    get: async (path: string) => {
      const response = await fetch(`${base}${path}`);
      return { status: response.status, text: await response.text(), headers: response.headers };
    },
    trigger: async (authorization = `Bearer ${TOKEN}`) => {
      const response = await fetch(`${base}/trigger`, { method: "POST", headers: { authorization } });
      await response.body?.cancel();
      return response;
    },
    stop: async (): Promise<CliResult> => {
      child?.kill("SIGTERM");
      return await result;
    },
  };
}

type Family = {
  name: string;
  help: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
};

/** Parses /metrics with a maintained parser of the Prometheus text format; every family has HELP and TYPE. */
function parseMetrics(text: string): Map<string, Family> {
  const families = parsePrometheusTextFormat(text) as Family[];
  for (const family of families) {
    assert.ok(family.help, `${family.name} has a HELP line`);
    assert.ok(family.type, `${family.name} has a TYPE line`);
  }
  return new Map(families.map((family) => [family.name, family]));
}

/** The value of one series of a family, by the labels it must carry. */
function sample(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  const found = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  assert.ok(found, `${name}${JSON.stringify(labels)} is in /metrics`);
  return Number(found.value);
}

Deno.test("/metrics is valid Prometheus text: a maintained parser reads every family, promtool finds nothing to complain about", async () => {
  // Throttled now and then (429, half with Retry-After), and copying to a Logging log: every family has samples.
  const domain = await startDomain({
    events: recentEvents(71, 300),
    faults: { rate429: 0.2, retryAfterRate: 0.5 },
  });
  const cloud = await startCloud(domain.dir, { logs: [LOG_ID], buckets: [] });
  const daemon = startDaemon({
    ...domain.env,
    OCI_AUTH: "config",
    OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
    OCI_LOG_ID: LOG_ID,
    OCI_LOGGING_ENDPOINT: cloud.oci.url,
  });
  try {
    const text = await waitFor("the pass at start", async () => {
      const { text } = await daemon.get("/metrics");
      return text.includes('result="ok"') ? text : undefined;
    });
    const families = parseMetrics(text);
    const labels = { source: "idcs" };
    assert.equal(sample(families, "audit_archiver_passes_total", { ...labels, result: "ok" }), 1);
    assert.equal(sample(families, "audit_archiver_events_committed_total", labels), 300);
    assert.ok(sample(families, "audit_archiver_windows_committed_total", labels) >= 1);
    assert.ok(sample(families, "audit_archiver_committed_bytes_total", labels) > 0);
    assert.equal(sample(families, "audit_archiver_build_info", { version: VERSION }), 1);
    assert.equal(families.get("audit_archiver_build_info")?.type, "GAUGE");
    // Prometheus naming (prometheus.io/docs/practices/naming): a counter ends in _total, and a unit
    // (seconds, bytes) is the last word of the name, before _total.
    const misnamed = [...families.values()].filter(({ name, type }) =>
      (type === "COUNTER" && !name.endsWith("_total")) ||
      (/seconds|bytes/.test(name) && !/_(seconds|bytes)(_total)?$/.test(name))
    ).map(({ name }) => name);
    assert.deepEqual(misnamed, []);
    assert.ok(
      sample(families, "audit_archiver_requests_total", {
        api: "identity domain AuditEvents",
        status_class: "2xx",
      }) >=
        1,
    );
    assert.equal(sample(families, "audit_archiver_source_up", labels), 1);
    assert.equal(
      sample(families, "audit_archiver_checkpoint_sequence"),
      1,
      "the pass at start signed checkpoint 1",
    );
    const health = JSON.parse((await daemon.get("/healthz")).text);
    assert.ok(
      health.checkpointAgeSeconds >= 0,
      `/healthz shows the checkpoint's age: ${JSON.stringify(health)}`,
    );
    assert.ok(sample(families, "audit_archiver_lag_seconds", labels) >= 0);
    assert.equal(families.get("audit_archiver_pass_duration_seconds")?.type, "HISTOGRAM");
    const api = { api: "identity domain AuditEvents" };
    assert.ok(
      sample(families, "audit_archiver_requests_total", { ...api, status_class: "4xx" }) >= 1,
      "429s",
    );
    assert.ok(sample(families, "audit_archiver_retries_total", api) >= 1);
    assert.ok(sample(families, "audit_archiver_retry_wait_seconds_total", { ...api, by: "retry-after" }) > 0);
    assert.equal(
      sample(families, "audit_archiver_logging_copies_total", { outcome: "done" }),
      sample(families, "audit_archiver_windows_committed_total", labels),
      "every committed window copied once",
    );
    const check = await new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stderr: "piped",
      stdout: "piped",
    })
      .spawn();
    const writer = check.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const checked = await check.output();
    const complaints = new TextDecoder().decode(checked.stdout) + new TextDecoder().decode(checked.stderr);
    assert.equal(checked.code, 0, complaints);
    assert.equal(complaints.trim(), "", `promtool check metrics complains: ${complaints}`);
  } finally {
    await daemon.stop();
    await cloud.close();
    await domain.close();
  }
});

/** The number of series /metrics shows (its sample lines). */
const seriesCount = (text: string) => text.split("\n").filter((line) => line && !line.startsWith("#")).length;

Deno.test("/metrics keeps a fixed set of series: as many after 10 passes into a bucket as after 1 (no object names in labels)", async () => {
  const domain = await startDomain({ events: recentEvents(76, 100) });
  const cloud = await startCloud(domain.dir);
  const daemon = startDaemon({ ...domain.env, ...cloud.env, MIN_INTERVAL: "0s" });
  /** /metrics once `n` passes have finished and none runs. */
  const passes = (n: number) =>
    waitFor(`pass ${n}`, async () => {
      const { text } = await daemon.get("/metrics");
      if (!text.includes('result="ok"')) return undefined;
      const families = parseMetrics(text);
      const done = sample(families, "audit_archiver_passes_total", { result: "ok" }) === n &&
        sample(families, "audit_archiver_pass_running") === 0;
      return done ? text : undefined;
    });
  try {
    const first = await passes(1);
    let last = first;
    for (let n = 2; n <= 10; n++) {
      assert.equal((await daemon.trigger()).status, 202);
      last = await passes(n);
    }
    const labels = (text: string) =>
      text.split("\n").filter((line) => line && !line.startsWith("#")).map((line) =>
        line.replace(/ [^ ]+$/, "")
      );
    assert.deepEqual(
      labels(last).filter((series) => !labels(first).includes(series)),
      [],
      `series that appeared after the first pass; first:\n${first}`,
    );

    assert.equal(seriesCount(last), seriesCount(first), "series after 10 passes and after 1");
  } finally {
    await daemon.stop();
    await cloud.close();
    await domain.close();
  }
});

Deno.test("/trigger: 401 without 'Bearer ', 202, 409 while a pass runs, 429 with Retry-After within MIN_INTERVAL", async () => {
  const domain = await startDomain({ events: recentEvents(72, 120) });
  const daemon = startDaemon({ ...domain.env, MIN_INTERVAL: "1h" });
  try {
    await waitFor(
      "the pass at start",
      async () => (await daemon.get("/metrics")).text.includes('result="ok"') || undefined,
    );
    assert.equal((await daemon.trigger(TOKEN)).status, 401, "a token without the Bearer scheme");
    assert.equal((await daemon.trigger("Bearer wrong-token-wrong-token-wrong-token")).status, 401);
    const limited = await daemon.trigger();
    assert.equal(limited.status, 429, "within MIN_INTERVAL of the pass at start");
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(retryAfter > 3000 && retryAfter <= 3600, `Retry-After ${retryAfter} s`);
  } finally {
    await daemon.stop();
  }
  // With MIN_INTERVAL=0s (the harness's): 202, then 409 while that pass runs (slow pages keep it running).
  const second = startDaemon(domain.env);
  try {
    await waitFor(
      "the pass at start",
      async () => (await second.get("/metrics")).text.includes('result="ok"') || undefined,
    );
    domain.emulator.setFaults({ latencyMs: 1_500 });
    assert.equal((await second.trigger()).status, 202);
    assert.equal((await second.trigger()).status, 409);
  } finally {
    await second.stop();
    await domain.close();
  }
});

Deno.test("MIN_INTERVAL defaults to 1m: a trigger right after a pass is 429, so a leaked token cannot flood the archive", async () => {
  const domain = await startDomain({ events: recentEvents(77, 40) });
  const { MIN_INTERVAL: _, ...env } = domain.env;
  const daemon = startDaemon(env);
  try {
    await waitFor(
      "the pass at start",
      async () => (await daemon.get("/metrics")).text.includes('result="ok"') || undefined,
    );
    const limited = await daemon.trigger();
    assert.equal(limited.status, 429, "within the default MIN_INTERVAL of the pass at start");
    const retryAfter = Number(limited.headers.get("retry-after"));
    assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter} s`);
  } finally {
    await daemon.stop();
    await domain.close();
  }
});

Deno.test("LISTEN sets the address run listens on (default 0.0.0.0)", async () => {
  const domain = await startDomain({ events: recentEvents(78, 20) });
  const daemon = startDaemon({ ...domain.env, LISTEN: "127.0.0.1" });
  try {
    await waitFor("/healthz", async () => (await daemon.get("/healthz")).status === 200 || undefined);
  } finally {
    const output = await daemon.stop();
    await domain.close();
    const serving = output.stderr.split("\n").filter((line) => line.includes("serving /healthz"));
    assert.equal(serving.length, 1, output.stderr);
    assert.equal(JSON.parse(serving[0]).hostname, "127.0.0.1");
  }
});

Deno.test("/healthz turns 503 naming the source when its pass fails, and back to 200 after it recovers", async () => {
  const domain = await startDomain({ events: recentEvents(73, 80) });
  const daemon = startDaemon(domain.env);
  try {
    const healthy = await waitFor("a healthy first pass", async () => {
      const health = await daemon.get("/healthz");
      return health.status === 200 && JSON.parse(health.text).sources[0].lastResult === "ok"
        ? health
        : undefined;
    });
    assert.equal(JSON.parse(healthy.text).ok, true);
    // The source fails: every request is answered 503 until the faults are lifted.
    domain.emulator.setFaults({ rate5xx: 1 });
    assert.equal((await daemon.trigger()).status, 202);
    const sick = await waitFor("a 503 from /healthz", async () => {
      const health = await daemon.get("/healthz");
      return health.status === 503 ? JSON.parse(health.text) : undefined;
    });
    assert.equal(sick.ok, false);
    assert.equal(sick.sources[0].source, "idcs");
    assert.equal(sick.sources[0].lastResult, "HTTP");
    assert.match(sick.sources[0].reason, /the last pass failed/);
    assert.doesNotMatch(JSON.stringify(sick), new RegExp(TOKEN));
    domain.emulator.setFaults({});
    await waitFor("the trigger accepted", async () => (await daemon.trigger()).status === 202 || undefined);
    await waitFor(
      "a 200 from /healthz again",
      async () => (await daemon.get("/healthz")).status === 200 || undefined,
    );
  } finally {
    const output = await daemon.stop();
    await domain.close();
    assert.doesNotMatch(output.stderr, new RegExp(TOKEN), "the trigger token is never logged");
  }
});

Deno.test("two sources in one process: one failing neither stops nor delays the other; status, /healthz and /metrics agree", async () => {
  const good = await startDomain({ events: recentEvents(74, 200) });
  const bad = await startDomain({ events: recentEvents(75, 50) });
  bad.emulator.setFaults({ rate5xx: 1 });
  const config = `${good.dir}/sources.json`;
  const entry = (domain: typeof good) => ({
    IDCS_URL: domain.env.IDCS_URL,
    IDCS_CLIENT_ID: domain.env.IDCS_CLIENT_ID,
    IDCS_KEY_ID: domain.env.IDCS_KEY_ID,
    IDCS_PRIVATE_KEY_FILE: domain.env.IDCS_PRIVATE_KEY_FILE,
  });
  await Deno.writeTextFile(config, JSON.stringify({ sources: [entry(good), entry(bad)] }));
  const shared = { ...good.env };
  for (const name of ["IDCS_URL", "IDCS_CLIENT_ID", "IDCS_KEY_ID", "IDCS_PRIVATE_KEY_FILE"]) {
    delete shared[name];
  }
  const daemon = startDaemon(shared, ["--config", config]);
  try {
    const health = await waitFor("both first passes", async () => {
      const answer = await daemon.get("/healthz");
      const body = JSON.parse(answer.text);
      return body.sources.every((s: { lastResult: string | null }) => s.lastResult !== null)
        ? { status: answer.status, body }
        : undefined;
    });
    assert.equal(health.status, 503, "one source failing makes the process unhealthy");
    const byScope = new Map(health.body.sources.map((s: { scope: string }) => [s.scope, s]));
    const goodScope = new URL(good.env.IDCS_URL).host.replace(/[^A-Za-z0-9.-]/g, "-");
    const badScope = new URL(bad.env.IDCS_URL).host.replace(/[^A-Za-z0-9.-]/g, "-");
    assert.equal((byScope.get(goodScope) as { ok: boolean }).ok, true);
    assert.equal((byScope.get(badScope) as { ok: boolean }).ok, false);
    // The failing source did not stop the other: all of its events are archived.
    const status = JSON.parse((await runCli(["status"], { env: good.env })).stdout);
    const chain = status.chains.find((c: { chain: string }) => c.chain.endsWith(goodScope));
    assert.equal(chain.events, 200);
    // The three views agree on where the good chain stands.
    const families = parseMetrics((await daemon.get("/metrics")).text);
    const frontier = sample(families, "audit_archiver_frontier_timestamp_seconds", { scope: goodScope });
    assert.equal(frontier, Date.parse(chain.frontier) / 1000, "/metrics and status");
    assert.equal(
      (byScope.get(goodScope) as { frontier: string }).frontier,
      chain.frontier,
      "/healthz and status",
    );
    assert.equal(sample(families, "audit_archiver_source_up", { scope: badScope }), 0);
    assert.equal(
      sample(families, "audit_archiver_events_committed_total", { scope: goodScope }),
      chain.events,
    );
  } finally {
    await daemon.stop();
    await good.close();
    await bad.close();
  }
});

Deno.test("status warns by the 14-day horizon of identity-domain AuditEvents: a frontier 13 days old is near loss", async () => {
  // "Events are available through this API for 14 days" (docs/oracle/identity-domains.md [config-audit-retention]).
  const now = Date.now();
  const events = generateEvents({ seed: 76, count: 200, from: now - 13 * DAY + 60_000, to: now - 12 * DAY });
  const domain = await startDomain({ events, since: "13d" });
  try {
    const once = await runCli(["once", "--max-events", "10"], { env: domain.env });
    assert.equal(once.code, 0, once.stderr);
    const status = await runCli(["status"], { env: domain.env });
    assert.equal(status.code, 0, status.stderr);
    const [chain] = JSON.parse(status.stdout).chains;
    assert.equal(chain.retentionDays, 14);
    assert.ok(chain.lagSeconds > 12 * 86_400, `the frontier is about 13 days old: ${chain.frontier}`);
    assert.ok(
      chain.warnings.some((w: string) => /near the source's 14-day retention/.test(w)),
      JSON.stringify(chain.warnings),
    );
  } finally {
    await domain.close();
  }
});

Deno.test("a chain's head the key does not vouch for: /healthz is 503 naming it, /metrics counts it, the pass fails", async () => {
  const archive = await idcsArchive("dir", 79);
  assert.equal(await main(["once", ...asFlags(archive.env)]), 0);
  await forgeHead(archive);
  const daemon = startDaemon(archive.env);
  try {
    const sick = await waitFor("a 503 from /healthz", async () => {
      const health = await daemon.get("/healthz");
      return health.status === 503 ? JSON.parse(health.text) : undefined;
    });
    assert.equal(sick.sources[0].lastResult, "UNAUTHENTIC");
    assert.match(sick.sources[0].reason, /the last pass failed \(UNAUTHENTIC\)/);
    const metrics = (await daemon.get("/metrics")).text;
    const counted = /^audit_archiver_unauthentic_objects_total (\d+)$/m.exec(metrics);
    assert.ok(counted && Number(counted[1]) >= 1, metrics);
  } finally {
    const output = await daemon.stop();
    await archive.close();
    assert.match(output.stderr, /"level":"error","msg":"[^"]*is not vouched for by the archiver's key/);
  }
});
