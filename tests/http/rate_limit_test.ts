/**
 * A rate-limited identity domain is driven at its limits, not into them: against the emulator with a Free
 * domain's limits (20/s and 150/min, docs/oracle/identity-domains.md) and a backlog of about 250 pages (as
 * many requests as bench scenario 5's Free domain), a pass sends few requests beyond the pages and under 5% of
 * them are answered 429, whether or not the domain sends Retry-After (UNCONFIRMED, so both). Counted by the
 * emulator, so nothing depends on how fast this machine is; the one bound on time is generous (twice the floor).
 */

import assert from "node:assert/strict";
import { runCli, startDomain } from "../harness.ts";
import { FREE_DOMAIN_LIMITS, generateEvents, type RateLimit, rateLimitFloorMs } from "../emulators/idcs.ts";

const MINUTE = 60_000;
const PAGE_SIZE = 10;
const EVENTS = 2_500;

/** A pass over EVENTS in pages of PAGE_SIZE against a domain limited by `rateLimit`: its 429s and requests. */
async function assertDrivenAtLimits(rateLimit: RateLimit) {
  const now = Date.now();
  const domain = await startDomain({
    events: generateEvents({ seed: 21, count: EVENTS, from: now - 3 * 86_400_000, to: now - MINUTE }),
    emulator: { rateLimit },
  });
  try {
    const started = Date.now();
    // MAX_RETRY_WAIT at its default, as an operator runs it: the per-minute limit refuses for up to a minute.
    const result = await runCli(["once"], {
      env: { ...domain.env, PAGE_SIZE: String(PAGE_SIZE), MAX_RETRY_WAIT: "20s" },
    });
    const wallMs = Date.now() - started;
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await domain.read()).ids.length, EVENTS);
    const { auditRequests, tokenRequests, rateLimited } = domain.emulator.stats;
    const requests = auditRequests + tokenRequests;
    const share = rateLimited / requests;
    assert.ok(
      share < 0.05,
      `${rateLimited} of ${requests} requests answered 429 (${(share * 100).toFixed(1)}%)`,
    );
    // The pages, a page per window to learn its total, and the 429s' retries: nothing read again.
    assert.ok(
      auditRequests - rateLimited <= EVENTS / PAGE_SIZE * 1.1,
      `${auditRequests} AuditEvents requests`,
    );
    const floor = rateLimitFloorMs(requests - rateLimited, rateLimit);
    assert.ok(wallMs < 2 * floor + 10_000, `${wallMs} ms against a floor of ${floor} ms`);
  } finally {
    await domain.close();
  }
}

Deno.test("a Free domain's limits are learnt: under 5% of requests answered 429, no page read twice", async () => {
  await assertDrivenAtLimits({ ...FREE_DOMAIN_LIMITS, retryAfter: false });
});

Deno.test("a Free domain that sends Retry-After: under 5% of requests answered 429, no page read twice", async () => {
  await assertDrivenAtLimits({ ...FREE_DOMAIN_LIMITS, retryAfter: true });
});
