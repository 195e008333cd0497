/**
 * Responses that cannot hurt the archive (invariants 5, 6 and 12): a body over MAX_RESPONSE_BYTES fails its
 * request for good without being read whole, and a redirect is refused on every path — the program's own
 * `fetch` (identity domain token and AuditEvents, OCI Audit ListEvents) and the OCI SDK's — so credentials and
 * signed requests go to the configured hosts only.
 */

import assert from "node:assert/strict";
import { ArchiveError } from "../../src/errors.ts";
import { request } from "../../src/http/request.ts";
import { configureRequests } from "../../src/http/retry.ts";
import { recentEvents, runCli, startDomain } from "../harness.ts";
import { generateAuditEvents } from "../emulators/oci.ts";
import { auditSettings, startCloud, TENANCY } from "../oci_harness.ts";

const DAY = 86_400_000;

/** A listener on another origin that records every request that reaches it: where a redirect would lead. */
function startTrap() {
  const seen: { url: string; authorization: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    seen.push({ url: req.url, authorization: req.headers.get("authorization") });
    return Response.json({ error: "trap" }, { status: 404 });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, seen, close: () => server.shutdown() };
}

const debugLines = (stderr: string) =>
  stderr.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));

Deno.test("a body without Content-Length that grows past MAX_RESPONSE_BYTES is cut off as it streams, not retried", async () => {
  let sent = 0;
  let requests = 0;
  const chunk = new TextEncoder().encode(`[${'"x",'.repeat(16_383)}"x",`);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    requests++;
    // Up to 32 MiB, without Content-Length: what a reader that reads everything first would hold.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 32 * 1024 * 1024) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  configureRequests({ maxRetryWaitMs: 100, concurrency: 4, maxResponseBytes: 1024 * 1024 });
  try {
    const error = await request(`http://127.0.0.1:${server.addr.port}/`, {
      what: "a test page",
      parse: (body) => body,
    }).then(() => undefined, (error) => error);
    assert.ok(error instanceof ArchiveError, String(error));
    assert.match(error.message, /MAX_RESPONSE_BYTES/);
    assert.equal(error.retriable, false);
    assert.equal(requests, 1, "not retried");
    assert.ok(sent < 8 * 1024 * 1024, `the server sent ${sent} bytes before the reader stopped`);
  } finally {
    configureRequests({ maxRetryWaitMs: 20_000, concurrency: 8, maxResponseBytes: 64 * 1024 * 1024 });
    await server.shutdown();
  }
});

Deno.test("an identity-domain page over MAX_RESPONSE_BYTES fails the pass with a clear error, not retried", async () => {
  const domain = await startDomain({ events: recentEvents(71, 200, 1) });
  try {
    const result = await runCli(["once"], {
      env: { ...domain.env, MAX_RESPONSE_BYTES: "4KiB", LOG_LEVEL: "debug" },
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /AuditEvents: the response body is larger than MAX_RESPONSE_BYTES \(4096 bytes/,
    );
    assert.equal(
      debugLines(result.stderr).filter((line) => line.msg === "retrying").length,
      0,
      "not retried",
    );
  } finally {
    await domain.close();
  }
});

Deno.test("an OCI Audit page over MAX_RESPONSE_BYTES fails the pass with a clear error, not retried", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-bound-" });
  const events = generateAuditEvents({
    seed: 72,
    count: 300,
    from: Date.now() - DAY,
    to: Date.now() - 120_000,
    compartmentIds: [TENANCY],
  });
  const cloud = await startCloud(dir, { auditEvents: events, auditPageSize: 100 });
  try {
    const result = await runCli(["once"], {
      env: {
        ...auditSettings(cloud, `${dir}/archive`, "1d"),
        MAX_RESPONSE_BYTES: "8KiB",
        LOG_LEVEL: "debug",
      },
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /OCI Audit events: the response body is larger than MAX_RESPONSE_BYTES \(8192 bytes/,
    );
    assert.equal(
      debugLines(result.stderr).filter((line) => line.msg === "retrying").length,
      0,
      "not retried",
    );
  } finally {
    await cloud.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an SDK response (ListCompartments) over MAX_RESPONSE_BYTES fails the pass with a clear error, not retried", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-bound-" });
  const compartments = Array.from({ length: 40 }, (_, i) => ({
    id: `ocid1.compartment.oc1..aaaabound${i}`,
    parentId: TENANCY,
    name: `team-${i}`,
  }));
  const cloud = await startCloud(dir, { compartments, auditEvents: [], auditPageSize: 1 });
  try {
    const result = await runCli(["once"], {
      env: {
        ...auditSettings(cloud, `${dir}/archive`, "1d"),
        MAX_RESPONSE_BYTES: "4KiB",
        LOG_LEVEL: "debug",
      },
    });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /the response body is larger than MAX_RESPONSE_BYTES \(4096 bytes/);
    assert.equal(cloud.oci.stats.byOperation.ListCompartments, 1, "not retried");
  } finally {
    await cloud.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a redirect from the identity domain's token endpoint is refused: nothing reaches the other host, not retried", async () => {
  const trap = startTrap();
  const domain = await startDomain({ events: recentEvents(73, 20, 1), emulator: { redirectTo: trap.url } });
  try {
    const result = await runCli(["once"], { env: domain.env });
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stderr,
      /identity domain token: the service answered with a redirect, which is refused/,
    );
    assert.deepEqual(trap.seen, [], "no request followed the redirect");
    assert.equal(domain.emulator.stats.tokenRequests, 1, "not retried");
  } finally {
    await domain.close();
    await trap.close();
  }
});

for (const operation of ["ListEvents", "ListCompartments"]) {
  Deno.test(`a redirect answering OCI ${operation} (${operation === "ListEvents" ? "fetch" : "SDK"} path) is refused: nothing reaches the other host`, async () => {
    const trap = startTrap();
    const dir = await Deno.makeTempDir({ prefix: "audit-archiver-redirect-" });
    const events = generateAuditEvents({
      seed: 74,
      count: 20,
      from: Date.now() - DAY,
      to: Date.now() - 120_000,
      compartmentIds: [TENANCY],
    });
    const cloud = await startCloud(dir, {
      auditEvents: events,
      redirect: { to: trap.url, operations: [operation] },
    });
    try {
      const result = await runCli(["once"], { env: auditSettings(cloud, `${dir}/archive`, "1d") });
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /answered with a redirect, which is refused/);
      assert.deepEqual(trap.seen, [], "no signed request followed the redirect");
      assert.equal(cloud.oci.stats.byOperation[operation], 1, "not retried");
    } finally {
      await cloud.close();
      await trap.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
