/**
 * THE REFERENCE BEING COMPARED AGAINST — not part of the archiver. A faithful re-implementation of the blog's
 * function that audit-archiver replaces (docs/oracle/identity-domains.md, "The function audit-archiver replaces"), so
 * `deno task bench` can run both against the same emulated identity domain. Its defects are kept on purpose:
 *
 * - it asks for `timestamp gt "<last end>"`, so events sharing the last archived millisecond are lost;
 * - it takes the first page, then fetches the rest in parallel, capped at `maxEvents` (default 2500);
 * - no retries and no status checks: whatever the domain answers is parsed as data;
 * - everything is held in memory and written as one pretty-printed JSON array per invocation, named
 *   `<start>-<end>-idcs-audit-events.json`, where `<end>` is the last event's timestamp;
 * - its state (the last end) is read from the names of the files it wrote.
 *
 * As a function platform would, one warm process invokes it back to back until an invocation finds nothing.
 * Run by tools/bench.ts as its own process; prints one JSON line `{invocations, events, requests}`.
 * Environment: IDCS_URL, IDCS_CLIENT_ID, IDCS_KEY_ID, IDCS_PRIVATE_KEY_FILE, BLOG_OUT (a folder), BLOG_SINCE
 * (ISO time: the first invocation's start), PAGE_SIZE (default 1000), MAX_EVENTS (default 2500).
 *
 * @module
 */

import * as jose from "jose";

interface Settings {
  url: string;
  clientId: string;
  keyId: string;
  key: CryptoKey;
  out: string;
  since: string;
  pageSize: number;
  maxEvents: number;
}

let requests = 0;

/** A client-credentials token with a signed JWT assertion, fetched afresh by every invocation. */
async function token(s: Settings): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new jose.SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: s.keyId })
    .setIssuer(s.clientId)
    .setSubject(s.clientId)
    .setAudience([s.url, "https://identity.oraclecloud.com/"])
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .sign(s.key);
  requests++;
  const response = await fetch(`${s.url}/oauth2/v1/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      scope: "urn:opc:idm:__myscopes__",
      client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
      client_assertion: assertion,
    }),
  });
  return (await response.json()).access_token;
}

/** One page of `timestamp gt "<after>"`, ascending; no status check, as in the original. */
async function page(s: Settings, bearer: string, after: string, startIndex: number, count: number) {
  const query = new URLSearchParams({
    filter: `timestamp gt "${after}"`,
    sortBy: "timestamp",
    sortOrder: "ascending",
    count: String(count),
    startIndex: String(startIndex),
  });
  requests++;
  const response = await fetch(`${s.url}/admin/v1/AuditEvents?${query}`, {
    headers: { authorization: `Bearer ${bearer}` },
  });
  return await response.json() as { totalResults: number; Resources?: { timestamp: string }[] };
}

/** The last end recorded in the names of the files written so far, or the configured start. */
async function lastEnd(s: Settings): Promise<string> {
  let last = s.since;
  for await (const entry of Deno.readDir(s.out)) {
    const end = /^\d{4}-\d\d-\d\dT[\d:.]+Z-(\d{4}-\d\d-\d\dT[\d:.]+Z)-idcs-audit-events\.json$/.exec(
      entry.name,
    );
    if (end && end[1] > last) last = end[1];
  }
  return last;
}

/** One invocation: the events after the last end, up to maxEvents, into one file. Returns how many. */
async function invoke(s: Settings): Promise<number> {
  const start = await lastEnd(s);
  const bearer = await token(s);
  const first = await page(s, bearer, start, 1, Math.min(s.pageSize, s.maxEvents));
  const wanted = Math.min(first.totalResults, s.maxEvents);
  const starts: number[] = [];
  for (let index = 1 + s.pageSize; index <= wanted; index += s.pageSize) starts.push(index);
  const rest = await Promise.all(
    starts.map((index) => page(s, bearer, start, index, Math.min(s.pageSize, wanted - index + 1))),
  );
  const events = [first, ...rest].flatMap((p) => p.Resources ?? []).slice(0, s.maxEvents);
  if (!events.length) return 0;
  const end = events.at(-1)!.timestamp;
  await Deno.writeTextFile(
    `${s.out}/${start}-${end}-idcs-audit-events.json`,
    JSON.stringify(events, null, 2),
  );
  return events.length;
}

async function readSettings(): Promise<Settings> {
  const env = (name: string) => {
    const value = Deno.env.get(name);
    if (!value) throw new Error(`bench_blog: ${name} is not set`);
    return value;
  };
  const pem = await Deno.readTextFile(env("IDCS_PRIVATE_KEY_FILE"));
  return {
    url: env("IDCS_URL"),
    clientId: env("IDCS_CLIENT_ID"),
    keyId: env("IDCS_KEY_ID"),
    key: await jose.importPKCS8(pem, "RS256") as CryptoKey,
    out: env("BLOG_OUT"),
    since: env("BLOG_SINCE"),
    pageSize: Number(Deno.env.get("PAGE_SIZE") ?? 1000),
    maxEvents: Number(Deno.env.get("MAX_EVENTS") ?? 2500),
  };
}

if (import.meta.main) {
  const settings = await readSettings();
  let invocations = 0, events = 0;
  for (let found = -1; found !== 0; invocations++) events += found = await invoke(settings);
  console.log(JSON.stringify({ invocations, events, requests }));
}
