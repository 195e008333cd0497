/**
 * Proves the identity-domain emulator is strict and deterministic: the
 * archiver's tests are only as good as what they run against.
 *
 * Run: `deno test -A tests/emulators/idcs_test.ts`
 *
 * @module
 */

import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { importPKCS8, type JWTPayload, SignJWT } from "npm:jose@6.2.18";
import {
  type AuditEvent,
  generateClientKey,
  generateEvents,
  type IdcsEmulator,
  type IdcsEmulatorOptions,
  startIdcsEmulator,
} from "./idcs.ts";

const CLIENT_ID = "0123456789abcdef0123456789abcdef";
const KEY_ID = "archiver-cert";
const SCOPE = "urn:opc:idm:__myscopes__";
const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** Midnight UTC two days ago: recent enough that AuditEvents still serves it (14 days), whenever the tests run. */
const DAY = (Math.floor(Date.now() / 86_400_000) - 2) * 86_400_000;

const clientKey = await generateClientKey();
const privateKey = await importPKCS8(clientKey.pkcs8Pem, "RS256");

// ---------------------------------------------------------------- helpers

async function withEmulator(
  options: Partial<IdcsEmulatorOptions>,
  test: (idcs: IdcsEmulator) => Promise<void> | void,
): Promise<void> {
  const idcs = await startIdcsEmulator({
    clientId: CLIENT_ID,
    keyId: KEY_ID,
    publicKey: clientKey.publicKey,
    seed: 1,
    ...options,
  });
  try {
    await test(idcs);
  } finally {
    await idcs.close();
  }
}

interface AssertionOverrides {
  key?: CryptoKey;
  kid?: string;
  claims?: JWTPayload;
}

/** A client assertion as IDCS documents it; overrides make it wrong in exactly one way. */
function signAssertion(idcs: IdcsEmulator, overrides: AssertionOverrides = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: CLIENT_ID,
    sub: CLIENT_ID,
    aud: ["https://identity.oraclecloud.com/", idcs.url],
    iat: now,
    exp: now + 300,
    jti: crypto.randomUUID(),
    ...overrides.claims,
  })
    .setProtectedHeader({ alg: "RS256", kid: overrides.kid ?? KEY_ID, typ: "JWT" })
    .sign(overrides.key ?? privateKey);
}

function postToken(
  idcs: IdcsEmulator,
  fields: Record<string, string>,
  headers?: HeadersInit,
): Promise<Response> {
  return fetch(`${idcs.url}/oauth2/v1/token`, { method: "POST", headers, body: new URLSearchParams(fields) });
}

function assertionGrant(assertion: string): Record<string, string> {
  return {
    grant_type: "client_credentials",
    scope: SCOPE,
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
  };
}

async function fetchToken(idcs: IdcsEmulator): Promise<string> {
  const response = await postToken(idcs, assertionGrant(await signAssertion(idcs)));
  assert.equal(response.status, 200);
  return (await response.json()).access_token;
}

async function expectTokenError(response: Response, status: number, error: string): Promise<void> {
  const body = await response.json();
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.error, error);
}

interface ListResponse {
  totalResults: number;
  Resources: AuditEvent[];
  startIndex: number;
  itemsPerPage: number;
}

function getAuditEvents(idcs: IdcsEmulator, token: string | undefined, query: Record<string, string>) {
  const headers: HeadersInit = token ? { Authorization: `Bearer ${token}` } : {};
  return fetch(`${idcs.url}/admin/v1/AuditEvents?${new URLSearchParams(query)}`, { headers });
}

async function listAuditEvents(idcs: IdcsEmulator, token: string, query: Record<string, string>) {
  const response = await getAuditEvents(idcs, token, query);
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body as ListResponse;
}

/** Events at given millisecond offsets into DAY, with ids that sort in input order. */
function eventsAt(...offsets: number[]): AuditEvent[] {
  return offsets.map((offset, index) => ({
    id: index.toString(16).padStart(32, "0"),
    timestamp: new Date(DAY + offset).toISOString(),
  }));
}

const at = (offset: number) => new Date(DAY + offset).toISOString();
const ids = (events: AuditEvent[]) => events.map((event) => event.id);

// ---------------------------------------------------------------- token endpoint

Deno.test("a correctly signed assertion gets a bearer token", async () => {
  await withEmulator({ tokenTtlSeconds: 600 }, async (idcs) => {
    const response = await postToken(idcs, assertionGrant(await signAssertion(idcs)));
    const body = await response.json();
    assert.equal(response.status, 200);
    assert.equal(body.token_type, "Bearer");
    assert.equal(body.expires_in, 600);
    assert.ok(body.access_token.length >= 40);
    assert.equal(idcs.stats.tokensIssued, 1);
  });
});

Deno.test("the domain URL audience is accepted with a trailing slash", async () => {
  await withEmulator({}, async (idcs) => {
    const aud = ["https://identity.oraclecloud.com/", `${idcs.url}/`];
    const response = await postToken(idcs, assertionGrant(await signAssertion(idcs, { claims: { aud } })));
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });
});

Deno.test("assertions wrong in any one way are rejected with invalid_client", async () => {
  const otherKey = await generateClientKey();
  const otherPrivateKey = await importPKCS8(otherKey.pkcs8Pem, "RS256") as CryptoKey;
  const now = Math.floor(Date.now() / 1000);
  const cases: [string, AssertionOverrides][] = [
    ["signed by another key", { key: otherPrivateKey }],
    ["wrong kid", { kid: "another-cert" }],
    ["wrong iss", { claims: { iss: "someone-else" } }],
    ["wrong sub", { claims: { sub: "someone-else" } }],
    ["only the IDCS audience", { claims: { aud: ["https://identity.oraclecloud.com/"] } }],
    ["expired", { claims: { iat: now - 900, exp: now - 300 } }],
    ["no exp", { claims: { exp: undefined } }],
    ["lives longer than an hour", { claims: { exp: now + 7200 } }],
  ];
  await withEmulator({}, async (idcs) => {
    for (const [name, overrides] of cases) {
      const response = await postToken(idcs, assertionGrant(await signAssertion(idcs, overrides)));
      const body = await response.json();
      assert.equal(response.status, 401, `${name}: ${JSON.stringify(body)}`);
      assert.equal(body.error, "invalid_client", name);
    }
    assert.equal(idcs.stats.rejectedAssertions, cases.length);
    assert.equal(idcs.stats.tokensIssued, 0);
  });
});

Deno.test("an HS256 assertion is rejected even with the right claims", async () => {
  await withEmulator({}, async (idcs) => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: CLIENT_ID, sub: CLIENT_ID, exp: now + 300 })
      .setProtectedHeader({ alg: "HS256", kid: KEY_ID })
      .setAudience(["https://identity.oraclecloud.com/", idcs.url])
      .sign(new TextEncoder().encode("a shared secret that is long enough"));
    await expectTokenError(await postToken(idcs, assertionGrant(assertion)), 401, "invalid_client");
  });
});

Deno.test("HTTP Basic with the client secret works and a wrong secret fails", async () => {
  await withEmulator({ clientSecret: "s3cret/+=" }, async (idcs) => {
    const grant = { grant_type: "client_credentials", scope: SCOPE };
    const basic = (secret: string) => ({ Authorization: `Basic ${btoa(`${CLIENT_ID}:${secret}`)}` });
    const good = await postToken(idcs, grant, basic("s3cret/+="));
    assert.equal(good.status, 200);
    assert.equal((await good.json()).token_type, "Bearer");
    await expectTokenError(await postToken(idcs, grant, basic("wrong")), 401, "invalid_client");
  });
});

Deno.test("Basic authentication fails when the client has no secret", async () => {
  await withEmulator({}, async (idcs) => {
    const headers = { Authorization: `Basic ${btoa(`${CLIENT_ID}:anything`)}` };
    const response = await postToken(idcs, { grant_type: "client_credentials", scope: SCOPE }, headers);
    await expectTokenError(response, 401, "invalid_client");
  });
});

Deno.test("a missing grant type or a wrong scope is a 400", async () => {
  await withEmulator({}, async (idcs) => {
    const { grant_type: _, ...withoutGrantType } = assertionGrant(await signAssertion(idcs));
    await expectTokenError(await postToken(idcs, withoutGrantType), 400, "unsupported_grant_type");
    const wrongScope = { ...assertionGrant(await signAssertion(idcs)), scope: "urn:opc:idm:t.user.me" };
    await expectTokenError(await postToken(idcs, wrongScope), 400, "invalid_scope");
  });
});

// ---------------------------------------------------------------- AuditEvents

Deno.test("AuditEvents without a valid bearer token is a 401 SCIM error", async () => {
  await withEmulator({ events: eventsAt(0) }, async (idcs) => {
    for (const token of [undefined, "not-a-token-we-issued"]) {
      const response = await getAuditEvents(idcs, token, {});
      const body = await response.json();
      assert.equal(response.status, 401);
      assert.deepEqual(body.schemas, ["urn:ietf:params:scim:api:messages:2.0:Error"]);
      assert.equal(body.status, "401");
      assert.ok(response.headers.get("X-ORACLE-DMS-ECID"));
    }
  });
});

Deno.test("paging with startIndex and count returns each event once when ties keep their order", async () => {
  const events = generateEvents({ seed: 7, count: 2500, from: DAY, to: DAY + 60_000, tieRate: 0.5 });
  await withEmulator({ events: [...events].reverse() }, async (idcs) => {
    const token = await fetchToken(idcs);
    const seen: AuditEvent[] = [];
    for (let startIndex = 1; startIndex <= events.length; startIndex += 700) {
      const page = await listAuditEvents(idcs, token, {
        filter: `timestamp ge "${at(0)}"`,
        sortBy: "timestamp",
        startIndex: String(startIndex),
        count: "700",
      });
      assert.equal(page.totalResults, events.length);
      assert.equal(page.startIndex, startIndex);
      assert.equal(page.itemsPerPage, page.Resources.length);
      seen.push(...page.Resources);
    }
    assert.deepEqual(ids(seen), ids(idcs.visibleEvents()));
    assert.equal(new Set(ids(seen)).size, events.length);
    assert.deepEqual(seen, idcs.visibleEvents(), "events come back exactly as stored");
  });
});

Deno.test("generated events have runs of equal timestamps, some of 20 or more", () => {
  const events = generateEvents({ seed: 3, count: 5000, from: DAY, to: DAY + 3_600_000, tieRate: 0.3 });
  const runs = new Map<string, number>();
  for (const event of events) runs.set(event.timestamp, (runs.get(event.timestamp) ?? 0) + 1);
  const tied = events.length - runs.size;
  assert.ok(Math.abs(tied / events.length - 0.3) < 0.1, `tied share ${tied / events.length}`);
  assert.ok([...runs.values()].some((length) => length >= 20));
  assert.deepEqual(
    generateEvents({ seed: 3, count: 5000, from: DAY, to: DAY + 3_600_000, tieRate: 0.3 }),
    events,
  );
  assert.ok(events.some((event) => /[^ -~]/.test(String(event.actorDisplayName))));
});

Deno.test("an event added twice is refused, as the tests' truth must hold each event once", async () => {
  await withEmulator({ events: eventsAt(0, 1) }, (idcs) => {
    assert.throws(() => idcs.addEvents(eventsAt(0, 1).slice(1)), /added twice/);
    assert.throws(() => idcs.addEvents([...eventsAt(7), ...eventsAt(7)], Date.now() + 60_000), /added twice/);
    assert.throws(() => idcs.addEvents([{ id: "x", timestamp: "2026-11-27T10:00:00.0001Z" }]), /millisecond/);
  });
});

Deno.test("AuditEvents serves the last 14 days only: older events age out of pages, totalResults and the truth", async () => {
  // "Events are available through this API for 14 days" (docs/oracle/identity-domains.md [config-audit-retention]).
  const now = Date.now();
  const old = generateEvents({ seed: 31, count: 40, from: now - 20 * 86_400_000, to: now - 15 * 86_400_000 });
  const recent = generateEvents({ seed: 32, count: 30, from: now - 13 * 86_400_000, to: now - 60_000 });
  await withEmulator({ events: [...old, ...recent] }, async (idcs) => {
    const token = await fetchToken(idcs);
    const all = await listAuditEvents(idcs, token, { count: "1000" });
    assert.equal(all.totalResults, 30);
    assert.deepEqual(ids(all.Resources).sort(), ids(recent).sort());
    const window = `timestamp ge "${new Date(now - 21 * 86_400_000).toISOString()}" and timestamp lt "${
      new Date(now - 14 * 86_400_000).toISOString()
    }"`;
    assert.equal((await listAuditEvents(idcs, token, { filter: window })).totalResults, 0);
    assert.equal(idcs.visibleEvents().length, 30);
    idcs.setRetentionDays(30);
    assert.equal((await listAuditEvents(idcs, token, { filter: window })).totalResults, 40);
    assert.equal(idcs.visibleEvents().length, 70);
  });
});

Deno.test("count is capped at 1000, defaults to 50, and startIndex below 1 means 1", async () => {
  const events = generateEvents({ seed: 2, count: 1500, from: DAY, to: DAY + 600_000 });
  await withEmulator({ events }, async (idcs) => {
    const token = await fetchToken(idcs);
    const capped = await listAuditEvents(idcs, token, { count: "5000" });
    assert.equal(capped.itemsPerPage, 1000);
    assert.equal(capped.totalResults, 1500);
    assert.equal((await listAuditEvents(idcs, token, {})).itemsPerPage, 50);
    assert.equal((await listAuditEvents(idcs, token, { count: "-3" })).itemsPerPage, 50);
    const fromZero = await listAuditEvents(idcs, token, { startIndex: "0", count: "2" });
    assert.equal(fromZero.startIndex, 1);
    assert.deepEqual(ids(fromZero.Resources), ids(idcs.visibleEvents().slice(0, 2)));
  });
});

Deno.test("timestamp bounds are exact to the millisecond", async () => {
  // Offsets 21, 22, 22, 23 ms: ids 0..3 in that order.
  await withEmulator({ events: eventsAt(21, 22, 22, 23) }, async (idcs) => {
    const token = await fetchToken(idcs);
    const query = async (filter: string) => ids((await listAuditEvents(idcs, token, { filter })).Resources);
    const [e21, e22a, e22b, e23] = ids(eventsAt(21, 22, 22, 23));
    assert.deepEqual(await query(`timestamp ge "${at(22)}" and timestamp lt "${at(23)}"`), [e22a, e22b]);
    assert.deepEqual(await query(`timestamp gt "${at(22)}"`), [e23]);
    assert.deepEqual(await query(`timestamp le "${at(22)}"`), [e21, e22a, e22b]);
    assert.deepEqual(await query(`timestamp EQ "${at(22)}"`), [e22a, e22b]);
    assert.deepEqual(await query(`(timestamp gt "${at(21)}") and (timestamp le "${at(22)}")`), [e22a, e22b]);
    // A bound between milliseconds: ge .0215 excludes .021, lt .0225 includes .022.
    const between = (offset: number) => at(offset).replace("Z", "5Z");
    assert.deepEqual(await query(`timestamp ge "${between(21)}" and timestamp lt "${between(22)}"`), [
      e22a,
      e22b,
    ]);
    assert.deepEqual(await query(`timestamp eq "${between(22)}"`), []);
    const descending = await listAuditEvents(idcs, token, { sortOrder: "descending" });
    assert.deepEqual(ids(descending.Resources), [e23, e22b, e22a, e21]);
  });
});

Deno.test("or joins timestamp ranges, and binds tighter than or, parentheses group, each event at most once", async () => {
  // Offsets 21, 22, 22, 23, 25 ms: ids 0..4 in that order.
  await withEmulator({ events: eventsAt(21, 22, 22, 23, 25) }, async (idcs) => {
    const token = await fetchToken(idcs);
    const list = (filter: string, more: Record<string, string> = {}) =>
      listAuditEvents(idcs, token, { filter, ...more });
    const query = async (filter: string) => ids((await list(filter)).Resources);
    const [e21, e22a, e22b, e23, e25] = ids(eventsAt(21, 22, 22, 23, 25));
    const ms = (offset: number) => `(timestamp ge "${at(offset)}" and timestamp lt "${at(offset + 1)}")`;
    assert.deepEqual(await query(`${ms(21)} or ${ms(23)}`), [e21, e23]);
    assert.deepEqual(await query(`${ms(25)} OR ${ms(21)} or ${ms(24)}`), [e21, e25]);
    // Without parentheses `and` binds first (RFC 7644 §3.4.2.2): (ge 21 and lt 22) or ge 25.
    assert.deepEqual(
      await query(`timestamp ge "${at(21)}" and timestamp lt "${at(22)}" or timestamp ge "${at(25)}"`),
      [
        e21,
        e25,
      ],
    );
    assert.deepEqual(
      await query(`timestamp ge "${at(22)}" and (timestamp lt "${at(23)}" or timestamp ge "${at(25)}")`),
      [
        e22a,
        e22b,
        e25,
      ],
    );
    // Overlapping ranges select each event once, and totalResults counts it once.
    const overlapping = await list(
      `(timestamp ge "${at(21)}" and timestamp le "${at(22)}") or ${ms(22)} or ${ms(23)}`,
    );
    assert.equal(overlapping.totalResults, 4);
    assert.deepEqual(ids(overlapping.Resources), [e21, e22a, e22b, e23]);
    // Pages run across the ranges in timestamp order, either way.
    const paged = await list(`${ms(21)} or ${ms(22)} or ${ms(25)}`, { startIndex: "2", count: "3" });
    assert.equal(paged.totalResults, 4);
    assert.deepEqual(ids(paged.Resources), [e22a, e22b, e25]);
    const descending = await list(`${ms(21)} or ${ms(25)} or ${ms(23)}`, {
      sortOrder: "descending",
      count: "2",
    });
    assert.deepEqual(ids(descending.Resources), [e25, e23]);
  });
});

Deno.test("shuffled ties joined by or: one page holds every event of the ranges, in some order", async () => {
  const events = eventsAt(...Array.from({ length: 12 }, (_, k) => [5, 9, 14][k % 3]), 7, 11);
  await withEmulator({ events, faults: { shuffleTies: true } }, async (idcs) => {
    const token = await fetchToken(idcs);
    const filter = [5, 9, 14].map((offset) =>
      `(timestamp ge "${at(offset)}" and timestamp lt "${at(offset + 1)}")`
    ).join(" or ");
    const page = await listAuditEvents(idcs, token, { filter, count: "20" });
    assert.equal(page.totalResults, 12);
    assert.deepEqual(ids(page.Resources).sort(), ids(events.slice(0, 12)).sort());
    assert.deepEqual(
      page.Resources.map((event) => event.timestamp),
      [...page.Resources.map((e) => e.timestamp)].sort(),
    );
  });
});

Deno.test("unsupported filters and sorts are a 400 invalidFilter naming the problem", async () => {
  const filters: [string, RegExp][] = [
    [`not (timestamp gt "${at(0)}")`, /"not"/],
    [`timestamp lt "${at(0)}" or not (timestamp gt "${at(5)}")`, /"not"/],
    [`timestamp lt "${at(0)}" or eventId eq "sso.session.create.success"`, /eventId/],
    [`timestamp lt "${at(0)}" or`, /expected an attribute at end of filter/],
    [`(timestamp lt "${at(0)}" or timestamp gt "${at(5)}"`, /expected "\)"/],
    [`eventId eq "sso.session.create.success"`, /eventId/],
    [`timestamp ne "${at(0)}"`, /"ne"/],
    [`timestamp gt "2026-02-30T00:00:00Z"`, /2026-02-30/],
    [`timestamp gt "2026-11-27 10:00:00"`, /not an ISO-8601 UTC/],
    [`timestamp gt "2026-11-27T10:00:00+01:00"`, /not an ISO-8601 UTC/],
    [`timestamp gt "${at(0)}`, /unterminated/],
    [`timestamp gt 1764201600000`, /quoted date-time/],
    [`(timestamp gt "${at(0)}"`, /expected "\)"/],
  ];
  await withEmulator({}, async (idcs) => {
    const token = await fetchToken(idcs);
    for (const [filter, detail] of filters) {
      const response = await getAuditEvents(idcs, token, { filter });
      const body = await response.json();
      assert.equal(response.status, 400, filter);
      assert.equal(body.scimType, "invalidFilter", filter);
      assert.match(body.detail, detail, filter);
    }
    const sorted = await getAuditEvents(idcs, token, { sortBy: "eventId" });
    assert.equal(sorted.status, 400);
    assert.match((await sorted.json()).detail, /sortBy/);
  });
});

Deno.test("late-indexed events are invisible until their visibleAt", async () => {
  await withEmulator({ events: eventsAt(0) }, async (idcs) => {
    const token = await fetchToken(idcs);
    const [late] = eventsAt(0, 1).slice(1);
    idcs.addEvents([late], Date.now() + 300);
    assert.equal((await listAuditEvents(idcs, token, {})).totalResults, 1);
    assert.equal(idcs.visibleEvents().length, 1);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const page = await listAuditEvents(idcs, token, {});
    assert.deepEqual(ids(page.Resources), ids(eventsAt(0, 1)));
    assert.equal(idcs.visibleEvents().length, 2);
  });
});

Deno.test("shuffled ties differ between requests but cover the same events", async () => {
  const events = eventsAt(...Array.from({ length: 40 }, () => 5));
  await withEmulator({ events, faults: { shuffleTies: true } }, async (idcs) => {
    const token = await fetchToken(idcs);
    const first = ids((await listAuditEvents(idcs, token, { count: "40" })).Resources);
    const second = ids((await listAuditEvents(idcs, token, { count: "40" })).Resources);
    assert.notDeepEqual(first, second);
    assert.deepEqual([...first].sort(), [...second].sort());
  });
});

Deno.test("unknown paths are 404 and wrong methods 405, as SCIM errors", async () => {
  await withEmulator({}, async (idcs) => {
    const missing = await fetch(`${idcs.url}/admin/v1/Users`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).status, "404");
    const wrongMethod = await fetch(`${idcs.url}/admin/v1/AuditEvents`, { method: "DELETE" });
    assert.equal(wrongMethod.status, 405);
    await wrongMethod.body?.cancel();
    const tokenGet = await fetch(`${idcs.url}/oauth2/v1/token`);
    assert.equal(tokenGet.status, 405);
    await tokenGet.body?.cancel();
  });
});

// ---------------------------------------------------------------- faults

Deno.test("a dropped connection makes the client's fetch throw", async () => {
  await withEmulator({ events: eventsAt(0, 1, 2) }, async (idcs) => {
    const token = await fetchToken(idcs);
    idcs.setFaults({ rateReset: 1 });
    for (let i = 0; i < 5; i++) {
      await assert.rejects(async () => await (await getAuditEvents(idcs, token, {})).text(), TypeError);
    }
    await assert.rejects(async () => await (await postToken(idcs, assertionGrant("x"))).text(), TypeError);
    assert.equal(idcs.stats.faultsInjected, 6);
  });
});

Deno.test("malformed and truncated pages are 200s whose body is not JSON", async () => {
  await withEmulator({ events: eventsAt(0, 1, 2) }, async (idcs) => {
    const token = await fetchToken(idcs);
    for (const faults of [{ rateMalformed: 1 }, { rateTruncated: 1 }]) {
      idcs.setFaults(faults);
      for (let i = 0; i < 5; i++) {
        const response = await getAuditEvents(idcs, token, {});
        assert.equal(response.status, 200);
        const text = await response.text();
        assert.throws(() => JSON.parse(text), SyntaxError, text);
      }
    }
  });
});

Deno.test("429 and 5xx faults carry the documented bodies", async () => {
  await withEmulator({ events: eventsAt(0) }, async (idcs) => {
    const token = await fetchToken(idcs);
    idcs.setFaults({ rate429: 1, retryAfterRate: 1 });
    const limited = await getAuditEvents(idcs, token, {});
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("Retry-After"), "1");
    assert.equal((await limited.json()).status, "429");
    idcs.setFaults({ rate5xx: 1 });
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const response = await getAuditEvents(idcs, token, {});
      statuses.add(response.status);
      const text = await response.text();
      if (response.status === 502) assert.match(text, /<html>/);
      else assert.equal(JSON.parse(text).status, String(response.status));
    }
    assert.deepEqual([...statuses].sort(), [500, 502, 503]);
  });
});

Deno.test("the same seed gives the same sequence of faults", async () => {
  const faults = { rate429: 0.2, rate5xx: 0.2, rateMalformed: 0.2, rateTruncated: 0.1, retryAfterRate: 0.5 };
  const outcomes = async (seed: number) => {
    const sequence: string[] = [];
    await withEmulator({ seed, events: eventsAt(0, 1) }, async (idcs) => {
      const token = await fetchToken(idcs);
      idcs.setFaults(faults);
      for (let i = 0; i < 40; i++) {
        const response = await getAuditEvents(idcs, token, {});
        const text = await response.text();
        sequence.push(`${response.status} ${response.headers.get("Retry-After")} ${text.length}`);
      }
    });
    return sequence;
  };
  const first = await outcomes(42);
  assert.deepEqual(await outcomes(42), first);
  assert.notDeepEqual(await outcomes(43), first);
  assert.ok(first.some((outcome) => !outcome.startsWith("200")));
});

Deno.test("latency overlaps concurrent requests and maxInFlight records it", async () => {
  await withEmulator({ events: eventsAt(0) }, async (idcs) => {
    const token = await fetchToken(idcs);
    idcs.setFaults({ latencyMs: 100 });
    const started = Date.now();
    await Promise.all(Array.from({ length: 5 }, () => listAuditEvents(idcs, token, {})));
    assert.ok(Date.now() - started >= 100);
    assert.equal(idcs.stats.maxInFlight, 5);
    assert.equal(idcs.stats.auditRequests, 5);
  });
});

Deno.test("close lets a request in flight finish", async () => {
  const idcs = await startIdcsEmulator({
    clientId: CLIENT_ID,
    keyId: KEY_ID,
    publicKey: clientKey.publicKey,
    faults: { latencyMs: 200 },
  });
  const pending = postToken(idcs, assertionGrant(await signAssertion(idcs)));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const closed = idcs.close();
  const response = await pending;
  assert.equal(response.status, 200);
  assert.equal((await response.json()).token_type, "Bearer");
  await closed;
});

// ---------------------------------------------------------------- test keys

Deno.test("generated client keys export as PKCS#8, PKCS#1 and SPKI PEM", () => {
  assert.match(clientKey.pkcs8Pem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(clientKey.pkcs1Pem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
  assert.match(clientKey.spkiPem, /^-----BEGIN PUBLIC KEY-----\n/);
  assert.equal(createPrivateKey(clientKey.pkcs1Pem).asymmetricKeyType, "rsa");
});

Deno.test("lazily generated events are made when sent, the same bytes every time, with the id and time they are ordered by", async () => {
  const events = generateEvents({
    seed: 5,
    count: 2000,
    from: DAY,
    to: DAY + 3_600_000,
    tieRate: 0.3,
    lazy: true,
  });
  assert.equal(new Set(events.map((event) => event.id)).size, 2000);
  assert.ok(events.every((event, i) => i === 0 || events[i - 1].timestamp <= event.timestamp));
  await withEmulator({ events }, (idcs) => {
    for (const event of [events[0], events[999], events[1999]]) {
      const wire = idcs.wireText(event.id);
      assert.equal(idcs.wireText(event.id), wire);
      const sent = JSON.parse(wire);
      assert.equal(sent.id, event.id);
      assert.equal(sent.timestamp, event.timestamp);
      assert.equal(typeof sent.actorName, "string");
    }
  });
});
