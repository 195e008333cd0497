/**
 * Retry-After is honoured on both paths into the one retry loop — the program's own `fetch` (identity domain)
 * and the OCI SDK (Object Storage) — up to MAX_RETRY_WAIT. Read from the program's debug log of each retry: a
 * wait it chose is printed before it sleeps, so no assertion depends on how long anything took.
 */

import assert from "node:assert/strict";
import { runCli, startDomain } from "../harness.ts";
import { startCloud, withCloud } from "../oci_harness.ts";

/** The waits the program logged before each retry, with the Retry-After it saw. */
function retryWaits(stderr: string): { waitMs: number; retryAfterMs?: number }[] {
  return stderr.split("\n").filter((line) => line.includes('"msg":"retrying"')).map((line) =>
    JSON.parse(line)
  );
}

Deno.test("a 429 with Retry-After: 1 from the identity domain is waited out for 1 s before the retry", async () => {
  const domain = await startDomain({ faults: { rate429: 1, retryAfterRate: 1 } });
  try {
    const result = await runCli(["once"], {
      env: { ...domain.env, LOG_LEVEL: "debug", MAX_RETRY_WAIT: "2s" },
    });
    assert.equal(result.code, 1, "every request is throttled: the pass fails once retries are spent");
    const waits = retryWaits(result.stderr);
    assert.ok(waits.length >= 1, result.stderr);
    for (const wait of waits) assert.deepEqual([wait.retryAfterMs, wait.waitMs], [1000, 1000]);
  } finally {
    await domain.close();
  }
});

Deno.test("a Retry-After longer than MAX_RETRY_WAIT is waited only up to MAX_RETRY_WAIT", async () => {
  const domain = await startDomain({ faults: { rate429: 1, retryAfterRate: 1 } });
  try {
    const result = await runCli(["once"], {
      env: { ...domain.env, LOG_LEVEL: "debug", MAX_RETRY_WAIT: "300ms" },
    });
    const waits = retryWaits(result.stderr);
    assert.ok(waits.length >= 1, result.stderr);
    for (const wait of waits) assert.deepEqual([wait.retryAfterMs, wait.waitMs], [1000, 300]);
  } finally {
    await domain.close();
  }
});

Deno.test("a 429 with Retry-After: 1 from Object Storage (through the SDK) is waited out for 1 s", async () => {
  const idcs = await startDomain();
  const cloud = await startCloud(idcs.dir, { faults: { rate429: 1, retryAfterRate: 1 } });
  const domain = withCloud(idcs, cloud);
  try {
    const result = await runCli(["once"], {
      env: { ...domain.env, LOG_LEVEL: "debug", MAX_RETRY_WAIT: "2s" },
    });
    assert.equal(result.code, 1, "every OCI request is throttled: the pass fails once retries are spent");
    const waits = retryWaits(result.stderr);
    assert.ok(waits.length >= 1, result.stderr);
    for (const wait of waits) assert.deepEqual([wait.retryAfterMs, wait.waitMs], [1000, 1000]);
  } finally {
    await domain.close();
  }
});

Deno.test("without Retry-After the backoff stays below MAX_RETRY_WAIT", async () => {
  const domain = await startDomain({ faults: { rate429: 1, retryAfterRate: 0 } });
  try {
    const result = await runCli(["once"], {
      env: { ...domain.env, LOG_LEVEL: "debug", MAX_RETRY_WAIT: "50ms" },
    });
    const waits = retryWaits(result.stderr);
    assert.ok(waits.length >= 1, result.stderr);
    for (const wait of waits) {
      assert.equal(wait.retryAfterMs, undefined);
      assert.ok(wait.waitMs >= 0 && wait.waitMs < 50, `waited ${wait.waitMs} ms`);
    }
  } finally {
    await domain.close();
  }
});
