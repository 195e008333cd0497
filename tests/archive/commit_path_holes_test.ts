/**
 * Holes in the commit path and around it, each pinned by the real program over real HTTP and real files: a
 * window orphaned by a killed claimer, a chain wedged on a window without data, the Logging copy pushed twice
 * or cut at 10,000 characters, SIGTERM during `run`'s first pass, the `default` permission set reaching
 * loopback through 0.0.0.0, a partial `export --out`, `/trigger` authentication, configuration errors reported
 * one at a time, advisory retention reads failing a pass, and `backfill --from` racing the first `once`.
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { parseManifest } from "../../src/archive/format.ts";
import { type AuditEvent, generateClientKey, generateEvents } from "../emulators/idcs.ts";
import {
  asFlags,
  assertCompleteArchive,
  DAY,
  duplicates,
  freePort,
  listFiles,
  permissionFlags,
  recentEvents,
  REPO,
  runCli,
  runMain,
  startDomain,
  waitFor,
} from "../harness.ts";
import { BUCKET, cloudArgs, startCloud, withCloud } from "../oci_harness.ts";

const LOG_ID = "ocid1.log.oc1..aaaaaholescopy";
const USER_B = "ocid1.user.oc1..aaaatestuserb";
const TOKEN = "trigger-token-0123456789abcdef-0123456789";

/** SIGTERM, then SIGKILL when the process is still there after 10 s (a daemon that ignores SIGTERM mid-pass). */
async function stop(child: Deno.ChildProcess) {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await child.status;
  clearTimeout(timer);
}

/** The window start a data object or manifest is named by (`{start}--{end}.ndjson.gz`, `{start}.manifest.json`). */
const startOf = (name: string) => name.split("/").pop()!.slice(0, 20);

/** Every data object has its manifest and every manifest its data object: nothing half-written. */
function assertWholeWindows(names: string[]) {
  const manifests = new Set(names.filter((n) => /\d{3}Z\.manifest\.json$/.test(n)).map(startOf));
  const data = new Set(names.filter((n) => /\d{3}Z--[^/]*\d{3}Z\.ndjson\.gz$/.test(n)).map(startOf));
  for (const start of data) assert.ok(manifests.has(start), `the data object of ${start} has no manifest`);
  for (const start of manifests) assert.ok(data.has(start), `the manifest of ${start} has no data object`);
}

/** The JSON log lines a run wrote to stderr (LOG_FORMAT json, the default when not a TTY). */
function logLines(stderr: string): Record<string, unknown>[] {
  return stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

Deno.test("a window whose claimer is killed between its claim and its data is completed by the instance that lost the claim", async () => {
  const since = new Date(Date.now() - 5 * DAY).toISOString();
  const domain = await startDomain({ events: recentEvents(201, 600, 4), since });
  let instanceA: Deno.ChildProcess | undefined;
  const aKilled = Promise.withResolvers<void>();
  let aDataPut: string | undefined;
  let bManifestHeld = false;
  const cloud = await startCloud(domain.dir, {
    extraUsers: [USER_B],
    onRequest: async (request) => {
      if (request.method !== "PUT" || !request.objectName) return;
      if (request.keyId === cloud.keyId && !aDataPut && request.objectName.endsWith(".ndjson.gz")) {
        // A's first data object: A dies here, after its kept bytes and its manifest, before its data.
        aDataPut = request.objectName;
        instanceA!.kill("SIGKILL");
        await instanceA!.status;
        aKilled.resolve();
        return "drop";
      }
      if (
        request.keyId === cloud.users[USER_B].keyId && !bManifestHeld &&
        request.objectName.endsWith(".manifest.json")
      ) {
        // B's first claim, on the same start as A's, waits until A is dead: B loses it (412) and goes on.
        bManifestHeld = true;
        await aKilled.promise;
      }
    },
  });
  const archive = withCloud(domain, cloud);
  try {
    const settingsB = { ...cloud.env, OCI_CONFIG_FILE: cloud.users[USER_B].configFile };
    const [a, b] = await Promise.all([
      runCli(["once", "--max-events-per-object", "30"], {
        env: { ...domain.env, ...cloud.env },
        onSpawn: (child) => instanceA = child,
      }),
      main(["once", ...domain.args, ...asFlags(settingsB), "--max-events-per-object", "20"]),
    ]);
    assert.ok(aDataPut, "instance A never reached its first data object");
    assert.equal(a.code, 137, "instance A was killed");
    assert.equal(b, 0);
    const objects = cloud.oci.objects(BUCKET).map((o) => o.name);
    assert.ok(cloud.oci.stats.conditionalPutConflicts >= 1, "B never lost a claim to A");
    const kept = aDataPut.slice(0, -".ndjson.gz".length);
    assert.ok(
      objects.some((n) => n.startsWith(`${kept}.`) && n.endsWith(".kept")),
      `A kept no bytes of ${aDataPut} before its claim`,
    );
    assert.ok(objects.includes(aDataPut), `${aDataPut}, A's claimed window, never got its data`);
    // Days of windows past A's: B's chain went on after the window it lost.
    const frontier = (await archive.read()).frontier!;
    assert.ok(frontier - Date.parse(since) > 3 * DAY, "B's chain did not go days past A's window");
    assert.equal(await main(["once", ...cloudArgs(domain, cloud)]), 0);
    assertWholeWindows(cloud.oci.objects(BUCKET).map((o) => o.name));
    await assertCompleteArchive(archive);
  } finally {
    await archive.close();
  }
});

Deno.test("a committed window with neither data nor kept bytes does not wedge the chain: a warning, later events archived, verify names it", async () => {
  const domain = await startDomain({ events: recentEvents(202, 300, 3, 10 * 60_000) });
  try {
    assert.equal(await runMain("once", domain, "--max-events-per-object", "40"), 0);
    const files = await listFiles(domain.archiveDir);
    const newest = files.filter((n) => n.endsWith(".ndjson.gz")).at(-1)!;
    const manifestName = files.filter((n) => n.endsWith(".manifest.json")).at(-1)!;
    assert.equal(startOf(newest), startOf(manifestName));
    const manifest = parseManifest(await Deno.readFile(`${domain.archiveDir}/${manifestName}`))!;
    // An archive written before kept bytes existed, or whose data was lost: the claim alone remains.
    await Deno.remove(`${domain.archiveDir}/${newest}`);
    for (const kept of files.filter((n) => n.endsWith(".kept") && startOf(n) === startOf(newest))) {
      await Deno.remove(`${domain.archiveDir}/${kept}`);
    }
    // The source now shows one more event in that window (late indexing), and new events after it.
    const start = Date.parse(manifest.start), end = Date.parse(manifest.end);
    domain.emulator.addEvents(generateEvents({ seed: 2021, count: 1, from: start, to: end - 1, tieRate: 0 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const later = generateEvents({ seed: 2022, count: 5, from: end + 1, to: Date.now() - 20, tieRate: 0 });
    domain.emulator.addEvents(later);
    const pass = await runCli(["once"], { env: { ...domain.env, LOG_LEVEL: "warn" } });
    assert.equal(pass.code, 0, `the next pass failed: ${pass.stderr.slice(0, 500)}`);
    assert.ok(logLines(pass.stderr).some((l) => l.level === "warn"), `no warning: ${pass.stderr}`);
    const archived = new Set((await domain.read()).ids);
    for (const event of later) {
      assert.ok(archived.has(event.id), `${event.id}, after the window, not archived`);
    }
    const again = await runCli(["once"], { env: domain.env });
    assert.equal(again.code, 0, `a later pass failed: ${again.stderr.slice(0, 500)}`);
    const problems = await domain.verify();
    assert.ok(
      problems.some((p) => p.includes(newest) && /missing/.test(p)),
      `verify does not report ${newest}: ${problems.join("; ")}`,
    );
  } finally {
    await domain.close();
  }
});

Deno.test("a Logging copy whose markers cannot be written never fails the pass: every window is committed", async () => {
  const idcs = await startDomain({ events: recentEvents(212, 240) });
  // The bucket refuses every write of a Logging attempt marker (`….log-N.json`): dropped, as by a broken link.
  const cloud = await startCloud(idcs.dir, {
    logs: [LOG_ID],
    onRequest: (request) =>
      request.method === "PUT" && /\.log-\d+/.test(request.objectName ?? "") ? "drop" : undefined,
  });
  const domain = withCloud(idcs, cloud);
  const settings = { OCI_LOG_ID: LOG_ID, OCI_LOGGING_ENDPOINT: cloud.oci.url };
  try {
    assert.equal(await runMain("once", domain, ...asFlags(settings), "--max-events-per-object", "60"), 0);
    const archive = await domain.read();
    assert.equal(archive.ids.length, 240, "the copy's failures stayed out of the commit path");
    assert.deepEqual(cloud.oci.logEntries(LOG_ID), [], "nothing was pushed without its claim");
  } finally {
    await domain.close();
  }
});

Deno.test("a Logging push whose connection dropped after the service took it is never pushed again; status names the window unknown", async () => {
  const domain = await startDomain({ events: recentEvents(203, 300) });
  const cloud = await startCloud(domain.dir, {
    logs: [LOG_ID],
    buckets: [],
    faults: { dropAfterWork: { operations: ["PutLogs"], rate: 1 } },
  });
  const settings = {
    OCI_AUTH: "config",
    OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
    OCI_LOG_ID: LOG_ID,
    OCI_LOGGING_ENDPOINT: cloud.oci.url,
  };
  const env = { ...domain.env, ...settings };
  try {
    assert.equal(await runMain("once", domain, ...asFlags(settings), "--max-events-per-object", "100"), 0);
    assert.equal((await domain.read()).ids.length, 300);
    const ids = () => cloud.oci.logEntries(LOG_ID).map((e) => e.id);
    assert.ok(ids().length > 0, "the emulator took no push");
    assert.deepEqual(duplicates(ids()), [], "an ambiguous push was retried: the log holds entries twice");
    cloud.oci.setFaults({});
    assert.equal(await runMain("once", domain, ...asFlags(settings)), 0);
    assert.deepEqual(duplicates(ids()), [], "a later pass pushed the ambiguous window again");
    const status = JSON.parse((await runCli(["status"], { env })).stdout);
    assert.match(status.chains[0].warnings.join("\n"), /unknown/);
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("an event over Logging's 10,000-character field limit is copied as parts <id>#k/n that concatenate to the archived line", async () => {
  const events = recentEvents(204, 40);
  const long: AuditEvent = { ...events[7], description: "é".repeat(4000) + "x".repeat(17_000) + "ü" };
  events[7] = long;
  const domain = await startDomain({ events });
  const cloud = await startCloud(domain.dir, { logs: [LOG_ID], buckets: [] });
  const settings = {
    OCI_AUTH: "config",
    OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
    OCI_LOG_ID: LOG_ID,
    OCI_LOGGING_ENDPOINT: cloud.oci.url,
  };
  try {
    assert.equal(await runMain("once", domain, ...asFlags(settings)), 0);
    const line = (await domain.read()).lines.find((l) => JSON.parse(l).id === long.id)!;
    assert.ok([...line].length > 10_000);
    const entries = cloud.oci.logEntries(LOG_ID);
    for (const entry of entries) {
      assert.ok([...entry.data].length <= 10_000, `${entry.id} was truncated by Logging`);
    }
    assert.ok(!entries.some((e) => e.id === long.id), "the long event went in whole: Logging truncated it");
    const parts = entries.flatMap((e) => {
      const match = new RegExp(`^${long.id}#(\\d+)/(\\d+)$`).exec(e.id);
      return match ? [{ k: Number(match[1]), n: Number(match[2]), data: e.data }] : [];
    }).sort((a, b) => a.k - b.k);
    assert.ok(parts.length >= 2, `no parts ${long.id}#k/n in the log`);
    assert.deepEqual(parts.map((p) => p.k), parts.map((_, i) => i + 1));
    assert.ok(parts.every((p) => p.n === parts.length), "every part names the number of parts");
    assert.equal(parts.map((p) => p.data).join(""), line);
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("SIGTERM during run's first pass ends the process with 0 within 10 s, leaving only whole windows", async () => {
  const domain = await startDomain({ events: recentEvents(205, 1500), faults: { latencyMs: 40 } });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=local", "--quiet", `${REPO}/main.ts`, "run"],
    cwd: REPO,
    env: {
      ...domain.env,
      PORT: String(freePort()),
      TRIGGER_TOKEN: TOKEN,
      SCHEDULE: "0 0 1 1 *",
      PAGE_SIZE: "10",
      MAX_EVENTS_PER_OBJECT: "50",
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await waitFor("the first committed window", async () => {
      const names = await listFiles(domain.archiveDir);
      const data = new Set(names.filter((n) => n.endsWith(".ndjson.gz")).map(startOf));
      return names.some((n) => n.endsWith(".manifest.json") && data.has(startOf(n))) || undefined;
    });
    assert.ok((await domain.read()).ids.length < 1500, "the first pass was over before SIGTERM");
    const sent = Date.now();
    child.kill("SIGTERM");
    const outcome = await Promise.race([
      child.status,
      new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), 10_000)),
    ]);
    if (outcome === "timeout") {
      child.kill("SIGKILL");
      await child.status;
      assert.fail("the process was still running 10 s after SIGTERM");
    }
    assert.equal(outcome.code, 0, `exit code after SIGTERM (after ${Date.now() - sent} ms)`);
    assertWholeWindows(await listFiles(domain.archiveDir));
  } finally {
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.stderr.cancel().catch(() => {});
    await child.status;
    await domain.close();
  }
});

Deno.test("the default permission set cannot reach a loopback service through 0.0.0.0, and grants no bare 0.0.0.0", async () => {
  // A service bound to loopback only; on Linux, connecting to 0.0.0.0 reaches it.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let connections = 0;
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        connections++;
        conn.close();
      }
    } catch {
      // closed
    }
  })();
  const cwd = await Deno.makeTempDir({ prefix: "audit-archiver-default-" });
  try {
    await Deno.mkdir(`${cwd}/keys`);
    await Deno.writeTextFile(`${cwd}/keys/client-key.pem`, (await generateClientKey()).pkcs8Pem);
    const result = await runCli(["once"], {
      cwd,
      permissionFlags: await permissionFlags("default"),
      env: {
        IDCS_URL: `https://0.0.0.0:${port}`,
        IDCS_CLIENT_ID: "client",
        IDCS_KEY_ID: "key",
        IDCS_PRIVATE_KEY_FILE: "./keys/client-key.pem",
        SINCE: "1d",
        MAX_RETRY_WAIT: "100ms",
      },
    });
    assert.notEqual(result.code, 0);
    // Refused before any connection: as a bad setting (exit 2), or by Deno itself.
    assert.match(
      result.stderr,
      /is not one the permission set lets the program reach|Requires net access|NotCapable/,
      result.stderr.slice(0, 500),
    );
    assert.equal(connections, 0, "the program connected to the loopback service through 0.0.0.0");
    assert.deepEqual(await listFiles(cwd), ["keys/client-key.pem"], "something was written");
    const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
    const net: string[] = config.permissions.default.net;
    assert.ok(!net.includes("0.0.0.0"), `the default set grants net 0.0.0.0 (any port): ${net.join(", ")}`);
    assert.ok(net.every((host) => !host.startsWith("0.0.0.0") || host === "0.0.0.0:8080"), net.join(", "));
  } finally {
    listener.close();
    await accepting;
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("export --out leaves no file when a later object fails its check", async () => {
  const domain = await startDomain({ events: recentEvents(207, 300) });
  try {
    assert.equal(await runMain("once", domain, "--max-events-per-object", "40"), 0);
    const data = (await listFiles(domain.archiveDir)).filter((n) => n.endsWith(".ndjson.gz"));
    assert.ok(data.length >= 3);
    const path = `${domain.archiveDir}/${data[1]}`;
    const bytes = await Deno.readFile(path);
    bytes[bytes.length - 9] ^= 1;
    await Deno.writeFile(path, bytes);
    const out = `${domain.dir}/export.ndjson`;
    const result = await runCli([
      "export",
      "--from",
      new Date(Date.now() - 5 * DAY).toISOString(),
      "--to",
      new Date().toISOString(),
      "--out",
      out,
    ], { env: domain.env });
    assert.equal(result.code, 1, result.stderr.slice(0, 500));
    const exists = await Deno.stat(out).then(() => true, () => false);
    assert.equal(exists, false, "a partial --out file was left behind");
  } finally {
    await domain.close();
  }
});

Deno.test("/trigger refuses a token without 'Bearer ', and a TRIGGER_TOKEN under 32 characters is a configuration error", async () => {
  const domain = await startDomain({ events: recentEvents(208, 20) });
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=local", "--quiet", `${REPO}/main.ts`, "run"],
    cwd: REPO,
    env: { ...domain.env, PORT: String(port), TRIGGER_TOKEN: TOKEN, SCHEDULE: "0 0 1 1 *" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const failures: string[] = [];
  try {
    // The pass at start is over (a trigger meanwhile would get 409 whatever its token).
    await waitFor("the pass at start", async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /^audit_archiver_passes_total\{[^}]*result="ok"\} 1$/m.test(text) || undefined;
    });
    const bare = await fetch(`http://127.0.0.1:${port}/trigger`, {
      method: "POST",
      headers: { authorization: TOKEN },
    });
    await bare.body?.cancel();
    if (bare.status !== 401) failures.push(`a token without the Bearer scheme got ${bare.status}, not 401`);
  } finally {
    await stop(child);
  }
  try {
    // Checked whatever the first half found: both holes are reported at once.
    const short = await runCli(["run"], {
      env: {
        ...domain.env,
        PORT: String(freePort()),
        TRIGGER_TOKEN: "short-token-0123456789",
        SCHEDULE: "0 0 1 1 *",
      },
      killAfterMs: 15_000,
    });
    if (short.killed) failures.push("run started with a 22-character TRIGGER_TOKEN (killed after 15 s)");
    else if (short.code !== 2) failures.push(`a 22-character TRIGGER_TOKEN gave exit ${short.code}, not 2`);
    else if (!/TRIGGER_TOKEN[^\n]*32|32[^\n]*TRIGGER_TOKEN/.test(short.stderr)) {
      failures.push(
        `the configuration error does not name TRIGGER_TOKEN and 32: ${short.stderr.slice(0, 300)}`,
      );
    }
    assert.deepEqual(failures, []);
  } finally {
    await domain.close();
  }
});

Deno.test("one configuration error names every bad setting, a missing IDCS_PRIVATE_KEY_FILE included, and writes nothing", async () => {
  const domain = await startDomain();
  try {
    const result = await runCli(["once"], {
      env: { ...domain.env, IDCS_PRIVATE_KEY_FILE: `${domain.dir}/no-such-key.pem`, PAGE_SIZE: "0" },
    });
    assert.equal(result.code, 2, result.stderr.slice(0, 500));
    const errors = logLines(result.stderr).filter((l) => l.level === "error").map((l) => String(l.msg));
    assert.ok(
      errors.some((msg) => msg.includes("IDCS_PRIVATE_KEY_FILE") && msg.includes("PAGE_SIZE")),
      `no one message names both settings: ${JSON.stringify(errors)}`,
    );
    assert.deepEqual(await listFiles(domain.archiveDir), []);
  } finally {
    await domain.close();
  }
});

Deno.test("a bucket whose retention rules cannot be read (404, 403, 501) gets a warning, not a failed pass", async () => {
  for (const status of [404, 403, 501] as const) {
    const domain = await startDomain({ events: recentEvents(210 + status, 60) });
    const cloud = await startCloud(domain.dir, { buckets: [{ name: BUCKET, retentionRulesStatus: status }] });
    try {
      const result = await runCli(["once"], { env: { ...domain.env, ...cloud.env, LOG_LEVEL: "warn" } });
      assert.equal(
        result.code,
        0,
        `retention rules answering ${status} failed the pass: ${result.stderr.slice(0, 400)}`,
      );
      assert.ok(
        logLines(result.stderr).some((l) => l.level === "warn" && /retention/i.test(JSON.stringify(l))),
        `no warning about the retention rules (${status}): ${result.stderr.slice(0, 400)}`,
      );
      assert.equal((await withCloud(domain, cloud).read()).ids.length, 60);
    } finally {
      await cloud.close();
      await domain.close();
    }
  }
});

Deno.test("backfill --from racing the first once on an empty archive archives from --from, or refuses clearly", async () => {
  const events = recentEvents(211, 400, 4);
  const from = Date.now() - 3 * DAY;
  const domain = await startDomain({ events, since: new Date(Date.now() - DAY).toISOString() });
  const bArrived = Promise.withResolvers<void>();
  let genesis: string | undefined;
  const cloud = await startCloud(domain.dir, {
    extraUsers: [USER_B],
    onRequest: async (request) => {
      if (request.method !== "PUT" || !request.objectName?.endsWith("genesis.json")) return;
      if (request.keyId === cloud.keyId) {
        // once's claim of the chain waits until backfill, which found the archive empty, claims too.
        genesis = request.objectName;
        await bArrived.promise;
      } else if (request.keyId === cloud.users[USER_B].keyId) {
        bArrived.resolve();
        const stored = () => cloud.oci.objects(BUCKET).some((o) => o.name === request.objectName);
        await waitFor("once's genesis", () => Promise.resolve(stored() || undefined));
      }
    },
  });
  const archive = withCloud(domain, cloud);
  try {
    const [once, backfill] = await Promise.all([
      main(["once", ...cloudArgs(domain, cloud)]),
      runCli(["backfill", "--from", new Date(from).toISOString()], {
        env: { ...domain.env, ...cloud.env, OCI_CONFIG_FILE: cloud.users[USER_B].configFile },
      }),
    ]);
    assert.ok(genesis, "once never claimed the chain");
    assert.equal(once, 0);
    if (backfill.code === 0) {
      const stored = await archive.read();
      assert.deepEqual(duplicates(stored.ids), []);
      const held = new Set(stored.ids);
      const wanted = domain.emulator.visibleEvents()
        .filter((e) => Date.parse(e.timestamp) >= from && Date.parse(e.timestamp) < stored.frontier!);
      const missing = wanted.filter((e) => !held.has(e.id));
      assert.equal(
        missing.length,
        0,
        `backfill --from exited 0 but ${missing.length} of ${wanted.length} events since --from are not archived`,
      );
      assert.deepEqual(await archive.verify(), []);
    } else {
      assert.ok([1, 2].includes(backfill.code), `backfill exit ${backfill.code}`);
      assert.match(backfill.stderr, /no chain|run once|not started|empty|nothing (is )?archived/i);
      await assertCompleteArchive(archive);
    }
  } finally {
    await archive.close();
  }
});

Deno.test("a window is claimed while the data object before it is written, never before the one two windows back; data objects go in window order", async () => {
  const domain = await startDomain({ events: recentEvents(207, 400, 4) });
  /** Per window start: when its claim arrived, and when its data object's PUT arrived and was let go. */
  const windows = new Map<string, { claim?: number; dataArrived?: number; dataReleased?: number }>();
  const windowOf = (start: string) => windows.get(start) ?? windows.set(start, {}).get(start)!;
  const cloud = await startCloud(domain.dir, {
    onRequest: async (request) => {
      const name = request.objectName?.split("/").pop();
      if (request.method !== "PUT" || !name || !/^\d{8}T/.test(name)) return;
      const window = windowOf(startOf(name));
      if (name.endsWith(".manifest.json")) window.claim = performance.now();
      if (name.endsWith(".ndjson.gz")) {
        // Each data object is held, so a request sent before its answer arrives inside the hold.
        window.dataArrived = performance.now();
        await new Promise((resolve) => setTimeout(resolve, 150));
        window.dataReleased = performance.now();
      }
    },
  });
  try {
    assert.equal(await main(["once", ...cloudArgs(domain, cloud), "--max-events-per-object", "40"]), 0);
    const committed = [...windows].filter(([, w]) => w.dataReleased !== undefined).sort(([a], [b]) =>
      a < b ? -1 : 1
    );
    assert.ok(committed.length >= 8, `only ${committed.length} windows`);
    let overlapped = 0;
    for (const [k, [start, window]] of committed.entries()) {
      const [next, afterNext] = [committed[k + 1]?.[1], committed[k + 2]?.[1]];
      if (next) {
        assert.ok(
          next.dataArrived! >= window.dataReleased!,
          `the data object after ${start} went in before it`,
        );
        if (next.claim! < window.dataReleased!) overlapped++;
      }
      if (afterNext) {
        assert.ok(
          afterNext.claim! >= window.dataReleased!,
          `the window two after ${start} was claimed before its data object: three windows lacked data`,
        );
      }
    }
    assert.ok(
      overlapped >= (committed.length - 1) / 2,
      `${overlapped} of ${committed.length - 1} claims overlapped the data object before them`,
    );
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("an instance killed with its two newest windows claimed and neither data object written leaves both completed by the next pass", async () => {
  const domain = await startDomain({ events: recentEvents(208, 300, 4) });
  let instance: Deno.ChildProcess | undefined;
  const claims: string[] = [];
  let heldData: string | undefined;
  const killed = Promise.withResolvers<void>();
  const kill = async () => {
    instance!.kill("SIGKILL");
    await instance!.status;
    killed.resolve();
  };
  const cloud = await startCloud(domain.dir, {
    onRequest: async (request) => {
      const name = request.objectName;
      if (request.method !== "PUT" || !name || !instance || claims.length > 2) return;
      if (name.endsWith(".manifest.json") && /\d{3}Z\.manifest\.json$/.test(name)) {
        claims.push(name);
        // The second claim is served; the instance dies soon after, with both windows' data unwritten.
        if (claims.length === 2) setTimeout(kill, 400);
      }
      if (name.endsWith(".ndjson.gz")) {
        // A program that claims no window while the one before lacks its data is killed here all the same.
        if (!heldData) setTimeout(() => claims.length < 2 && kill(), 5_000);
        heldData ??= name;
        await killed.promise;
        return "drop";
      }
    },
  });
  const archive = withCloud(domain, cloud);
  try {
    const a = await runCli(["once", "--max-events-per-object", "40"], {
      env: { ...domain.env, ...cloud.env },
      onSpawn: (child) => instance = child,
    });
    assert.equal(a.code, 137, "the instance was killed");
    assert.equal(claims.length, 2, `the instance claimed ${claims.length} windows before it was killed`);
    const before = cloud.oci.objects(BUCKET).map((o) => o.name);
    for (const claim of claims) {
      const data = before.find((n) => startOf(n) === startOf(claim) && n.endsWith(".ndjson.gz"));
      assert.equal(data, undefined, `${claim}'s data object was written before the kill`);
    }
    assert.ok(heldData, "no data object was sent");
    instance = undefined;
    assert.equal(await main(["once", ...cloudArgs(domain, cloud)]), 0);
    assertWholeWindows(cloud.oci.objects(BUCKET).map((o) => o.name));
    await assertCompleteArchive(archive);
  } finally {
    await archive.close();
  }
});
