/**
 * Retry timing and the one status classifier: backoff, Retry-After, and which statuses are retried. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { backoffDelay, classifyStatus, retryAfterMs } from "../../src/http/retry.ts";

Deno.test("backoffDelay is 0 when the random draw is 0", () => {
  assert.deepEqual([1, 2, 5, 30].map((attempt) => backoffDelay(attempt, 0, 20_000)), [0, 0, 0, 0]);
});

Deno.test("backoffDelay doubles with each attempt from 1/100 of the longest wait", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((attempt) => backoffDelay(attempt, 0.5, 20_000)), [
    200,
    400,
    800,
    1600,
    3200,
  ]);
  assert.deepEqual([1, 2, 3].map((attempt) => backoffDelay(attempt, 0.5, 100)), [1, 2, 4]);
});

Deno.test("backoffDelay never reaches the longest wait however many attempts", () => {
  assert.equal(backoffDelay(7, 0.999999, 20_000), 19_999);
  assert.equal(backoffDelay(30, 0.999999, 20_000), 19_999);
  assert.equal(backoffDelay(1000, 0.999999, 20_000), 19_999);
  assert.equal(backoffDelay(1000, 0.999999, 100), 99);
});

const RETRY_NOW = Date.UTC(2026, 9, 21, 7, 27, 30);

Deno.test("retryAfterMs reads delta seconds", () => {
  assert.deepEqual(["5", "0", "1.5"].map((h) => retryAfterMs(h, RETRY_NOW)), [5000, 0, 1500]);
});

Deno.test("retryAfterMs reads an HTTP date relative to now", () => {
  assert.equal(retryAfterMs("Wed, 21 Oct 2026 07:28:00 GMT", RETRY_NOW), 30_000);
});

Deno.test("retryAfterMs reads long waits as sent (the retry loop caps them at MAX_RETRY_WAIT)", () => {
  assert.equal(retryAfterMs("120", RETRY_NOW), 120_000);
  assert.equal(retryAfterMs("Wed, 21 Oct 2026 09:00:00 GMT", RETRY_NOW), 5_550_000);
});

Deno.test("retryAfterMs turns negative seconds and past dates into 0", () => {
  assert.equal(retryAfterMs("-3", RETRY_NOW), 0);
  assert.equal(retryAfterMs("Wed, 21 Oct 2026 07:00:00 GMT", RETRY_NOW), 0);
});

Deno.test("retryAfterMs is undefined for a missing, empty or garbage header", () => {
  assert.deepEqual([null, "", "soon", "Someday"].map((h) => retryAfterMs(h, RETRY_NOW)), [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

Deno.test("classifyStatus retries 429 and 5xx with the Retry-After they carry", () => {
  const headers = new Headers({ "retry-after": "3" });
  assert.deepEqual(classifyStatus(429, headers, RETRY_NOW), {
    code: "HTTP",
    retriable: true,
    retryAfterMs: 3000,
  });
  assert.deepEqual(classifyStatus(503, headers, RETRY_NOW), {
    code: "HTTP",
    retriable: true,
    retryAfterMs: 3000,
  });
  assert.deepEqual(classifyStatus(500, undefined, RETRY_NOW), {
    code: "HTTP",
    retriable: true,
    retryAfterMs: undefined,
  });
});

Deno.test("classifyStatus gives 401, 403, 404 and 412 codes of their own, never retried", () => {
  assert.deepEqual(
    [401, 403, 404, 412, 400, 409].map((status) => classifyStatus(status, new Headers(), RETRY_NOW)),
    [
      { code: "AUTH", retriable: false },
      { code: "FORBIDDEN", retriable: false },
      { code: "NOT_FOUND", retriable: false },
      { code: "CONFLICT", retriable: false },
      { code: "HTTP", retriable: false },
      { code: "HTTP", retriable: false },
    ],
  );
});
