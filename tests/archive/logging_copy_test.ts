/**
 * The OCI Logging copy (OCI_LOG_ID): every committed window's events pushed to the custom log through the real
 * SDK, in batches under the service limits, at most once — a Logging failure never blocks a commit and is retried
 * by a later pass; concurrent instances and crashes never push a window twice.
 */

import assert from "node:assert/strict";
import { logBatches, logCopyState } from "../../src/archive/logging_copy.ts";
import { duplicates, gzip, listFiles, recentEvents, runCli, runMain, startDomain } from "../harness.ts";
import { startCloud } from "../oci_harness.ts";
import type { AuditEvent } from "../emulators/idcs.ts";

const LOG_ID = "ocid1.log.oc1..aaaaauditcopy";

/** A domain with `events` (or `count` recent ones) and a cloud whose custom log receives the copy. */
async function setup(
  count: number,
  seed: number,
  options: { events?: AuditEvent[]; logRequestMaxBytes?: number } = {},
) {
  const domain = await startDomain({ events: options.events ?? recentEvents(seed, count) });
  const cloud = await startCloud(domain.dir, {
    logs: [LOG_ID],
    buckets: [],
    logRequestMaxBytes: options.logRequestMaxBytes,
  });
  const settings = {
    OCI_AUTH: "config",
    OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
    OCI_LOG_ID: LOG_ID,
    OCI_LOGGING_ENDPOINT: cloud.oci.url,
  };
  const args = Object.entries(settings).flatMap((
    [name, value],
  ) => [`--${name.toLowerCase().replaceAll("_", "-")}`, value]);
  return {
    domain,
    cloud,
    args,
    env: { ...domain.env, ...settings },
    logged: () => cloud.oci.logEntries(LOG_ID),
    close: async () => {
      await cloud.close();
      await domain.close();
    },
  };
}

Deno.test("every archived event is copied to the log once, exactly as archived; a second pass copies nothing", async () => {
  const { domain, args, logged, cloud, close } = await setup(6000, 131);
  try {
    assert.equal(await runMain("once", domain, ...args), 0);
    const archive = await domain.read();
    const entries = logged();
    assert.equal(entries.length, 6000);
    assert.deepEqual(duplicates(entries.map((e) => e.id)), []);
    assert.deepEqual(entries.map((e) => e.data).sort(), [...archive.lines].sort());
    assert.ok(entries.every((e) => e.type === "audit-archiver.idcs" && e.source === "audit-archiver"));
    const pushes = cloud.oci.stats.byOperation.PutLogs;
    assert.ok(pushes >= 2, `6000 events of ~900 bytes need more than one 4 MB request (${pushes})`);
    assert.equal(await runMain("once", domain, ...args), 0);
    assert.equal(logged().length, 6000);
    assert.equal(cloud.oci.stats.byOperation.PutLogs, pushes);
  } finally {
    await close();
  }
});

Deno.test("a Logging outage never blocks commits; the next pass copies what failed, once", async () => {
  const { domain, args, env, logged, cloud, close } = await setup(500, 132);
  try {
    // An outage that refuses requests (503): nothing went in, so the next pass may push again.
    cloud.oci.setFaults({ rate5xx: 1, share503: 1 });
    assert.equal(await runMain("once", domain, ...args, "--max-events-per-object", "100"), 0);
    assert.equal((await domain.read()).ids.length, 500, "every window is committed while Logging fails");
    assert.equal(logged().length, 0);
    const status = JSON.parse((await runCli(["status"], { env })).stdout);
    assert.match(
      status.chains[0].warnings.join("\n"),
      /not copied to Logging yet: each pass retries/,
    );
    cloud.oci.setFaults({});
    assert.equal(await runMain("once", domain, ...args), 0);
    assert.equal(logged().length, 500);
    assert.deepEqual(duplicates(logged().map((e) => e.id)), []);
  } finally {
    await close();
  }
});

Deno.test("instances racing, and passes killed mid-push, never copy an event twice; status names unknown windows", async () => {
  const { domain, args, env, logged, cloud, close } = await setup(1500, 133);
  try {
    cloud.oci.setFaults({ latencyMs: 40 });
    for (let i = 0; i < 4; i++) {
      await runCli(["once", "--max-events-per-object", "80"], { env, killAfterMs: 700 + i * 300 });
    }
    const codes = await Promise.all([
      runMain("once", domain, ...args, "--max-events-per-object", "80"),
      runCli(["once", "--max-events-per-object", "80"], { env }).then((r) => r.code),
    ]);
    assert.deepEqual(codes, [0, 0]);
    assert.equal((await domain.read()).ids.length, 1500);
    assert.deepEqual(duplicates(logged().map((e) => e.id)), [], "an event was pushed twice");
    const names = await listFiles(domain.archiveDir);
    const unknown = names.filter((n) => n.endsWith(".manifest.json"))
      .filter((n) => logCopyState(`x/${n}`, names.map((m) => `x/${m}`)).kind === "unknown").length;
    const missing = 1500 - logged().length;
    if (unknown) {
      const status = JSON.parse((await runCli(["status"], { env })).stdout);
      assert.match(
        status.chains[0].warnings.join("\n"),
        new RegExp(`${unknown} window\\(s\\) have a Logging copy in an unknown state`),
      );
    } else assert.equal(missing, 0, "without unknown windows every event is in the log");
  } finally {
    await close();
  }
});

Deno.test("logBatches keeps order and splits under the byte limit; logCopyState reads the attempt markers", () => {
  const entries = Array.from(
    { length: 10 },
    (_, i) => ({ id: `e${i}`, time: "2026-01-01T00:00:00.000Z", data: "x".repeat(100) }),
  );
  const batches = logBatches(entries, 400);
  assert.deepEqual(batches.flat(), entries);
  assert.ok(batches.length >= 4 && batches.every((b) => b.length >= 1));
  const m = "c/2026/01/01/20260101T000000.000Z.manifest.json";
  const at = (...suffixes: string[]) => suffixes.map((s) => `c/2026/01/01/20260101T000000.000Z.${s}`);
  assert.deepEqual(logCopyState(m, at()), { kind: "none" });
  assert.deepEqual(logCopyState(m, at("log-1.json")), { kind: "unknown", attempt: 1 });
  assert.deepEqual(logCopyState(m, at("log-1.json", "log-1.failed.json")), { kind: "failed", attempt: 1 });
  assert.deepEqual(logCopyState(m, at("log-1.json", "log-1.failed.json", "log-2.json", "log-2.done.json")), {
    kind: "done",
  });
  assert.deepEqual(logCopyState(m, at("log-1.json", "log-1.failed.json", "log-2.json")), {
    kind: "unknown",
    attempt: 2,
  });
});

Deno.test("logBatches bounds requests in UTF-8 bytes as sent (escapes included), not in UTF-16 code units", () => {
  const bytesOf = (batch: unknown[]) => new TextEncoder().encode(JSON.stringify(batch)).length;
  // 1,000 characters of three bytes each, and JSON lines whose quotes are escaped when sent.
  const entries = Array.from({ length: 12 }, (_, i) => ({
    id: `e${i}`,
    time: "2026-01-01T00:00:00.000Z",
    data: i % 2 ? "監".repeat(1_000) : JSON.stringify({ note: '"'.repeat(400), name: "ü".repeat(300) }),
  }));
  const limit = 8_000;
  const batches = logBatches(entries, limit);
  assert.deepEqual(batches.flat(), entries, "in order, each once");
  for (const batch of batches) assert.ok(bytesOf(batch) <= limit, `a batch of ${bytesOf(batch)} bytes`);
  assert.ok(batches.length >= 4, `${batches.length} batches`);
});

Deno.test("a window of non-ASCII events is copied in requests under the byte limit, none refused", async () => {
  // 400 events of the last 2.4 hours (one window, or two if midnight falls in them: one holds 200 or more),
  // each with 8,000 three-byte characters: about 9.6 MB of UTF-8, but 3.3 million UTF-16 code units.
  const wide = recentEvents(136, 400, 0.1).map((event, i) => ({
    ...event,
    description: `${i}:${"監査".repeat(4_000)}`,
  }));
  const { domain, args, logged, cloud, close } = await setup(0, 136, {
    events: wide,
    logRequestMaxBytes: 4 * 1024 * 1024,
  });
  try {
    assert.equal(await runMain("once", domain, ...args), 0);
    const entries = logged();
    assert.equal(entries.length, 400, "every event copied");
    assert.deepEqual(entries.map((e) => e.data).sort(), [...(await domain.read()).lines].sort());
    assert.ok(cloud.oci.stats.byOperation.PutLogs >= 2, "more than one request");
  } finally {
    await close();
  }
});

Deno.test("a push answered 500 may have gone in: it is not retried, the window is unknown, and status names it", async () => {
  const { domain, args, env, logged, cloud, close } = await setup(300, 134);
  try {
    cloud.oci.setFaults({ rate5xx: 1, share503: 0 });
    assert.equal(await runMain("once", domain, ...args, "--max-events-per-object", "100"), 0);
    const pushes = cloud.oci.stats.byOperation.PutLogs ?? 0;
    assert.equal(pushes, 1, "the ambiguous push was sent once, not retried");
    cloud.oci.setFaults({});
    assert.equal(await runMain("once", domain, ...args), 0);
    assert.deepEqual(duplicates(logged().map((e) => e.id)), []);
    const status = JSON.parse((await runCli(["status"], { env })).stdout);
    assert.match(
      status.chains[0].warnings.join("\n"),
      /1 window\(s\) have a Logging copy in an unknown state/,
    );
    assert.ok(
      logged().length < 300 && logged().length > 0,
      `${logged().length} entries: all but the unknown window`,
    );
  } finally {
    await close();
  }
});

Deno.test("an amendment the key does not vouch for is never copied to the log", async () => {
  const { domain, args, logged, cloud, close } = await setup(200, 137);
  try {
    cloud.oci.setFaults({ rate5xx: 1, share503: 1 });
    assert.equal(await runMain("once", domain, ...args, "--max-events-per-object", "100"), 0);
    assert.equal(logged().length, 0);
    // Someone without the key adds an amendment with an event of theirs to a window not yet copied.
    const files = await listFiles(domain.archiveDir);
    const window = files.filter((n) => /\d{8}T\d{6}\.\d{3}Z\.manifest\.json$/.test(n)).sort()[0];
    const manifest = JSON.parse(await Deno.readTextFile(`${domain.archiveDir}/${window}`));
    const data = await gzip(
      new TextEncoder().encode('{"id":"forged","timestamp":"2026-01-01T00:00:00.000Z"}\n'),
    );
    const names = [
      window.replace(".manifest.json", ".amend-1.manifest.json"),
      manifest.object.replace(".ndjson.gz", ".amend-1.ndjson.gz"),
    ];
    const forged = {
      ...manifest,
      object: names[1],
      events: 1,
      amendment: 1,
      keyId: undefined,
      signature: undefined,
    };
    await Deno.writeTextFile(`${domain.archiveDir}/${names[0]}`, JSON.stringify(forged) + "\n");
    await Deno.writeFile(`${domain.archiveDir}/${names[1]}`, data);
    cloud.oci.setFaults({});
    assert.equal(await runMain("once", domain, ...args), 0);
    assert.ok(!logged().some((e) => e.id === "forged"), "the forged event is not in the log");
  } finally {
    await close();
  }
});
