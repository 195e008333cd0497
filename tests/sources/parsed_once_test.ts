/**
 * An event is parsed once — an identity-domain event with its page, an OCI Audit event on its own — and that
 * parse gives the kept event its id and time; the commit path checks the window's lines from them, without a
 * parse per event (issue 21: those parses were a third of `once`'s CPU). What the checks refuse is refused all
 * the same. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeWindow } from "../../src/archive/format.ts";
import { ArchiveError } from "../../src/errors.ts";
import { verifyData } from "../../src/proof/chain.ts";
import { parseAuditEventsPage } from "../../src/sources/idcs.ts";
import { parseAuditEvents } from "../../src/sources/oci_audit.ts";
import { SOURCE_KINDS } from "../../src/sources/source.ts";
import { buildManifest } from "../../src/archive/format.ts";

const WINDOW = { start: Date.parse("2026-11-27T10:00:00.000Z"), end: Date.parse("2026-11-27T11:00:00.000Z") };
const KIND = SOURCE_KINDS.idcs;

/** A page of `count` events (one in three escaped or pretty-printed) as the domain sends it. */
function page(count: number, lineBreak = ""): Uint8Array {
  const events = Array.from({ length: count }, (_, k) => ({
    id: `e${String(k).padStart(4, "0")}`,
    timestamp: new Date(WINDOW.start + k * 1000).toISOString(),
    message: k % 3 ? "User logged in" : 'caf\u00e9 "quoted" {braces}',
    meta: { resourceType: "AuditEvent", tags: [k, null, { k: "v" }] },
  }));
  const body = { schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], totalResults: count };
  const text = JSON.stringify({ ...body, Resources: events }, null, lineBreak ? 2 : undefined);
  return new TextEncoder().encode(lineBreak ? text.replaceAll("\n", lineBreak) : text);
}

/** Runs `work` and counts the calls of JSON.parse it made. */
async function parsesOf<T>(work: () => T | Promise<T>): Promise<{ result: T; parses: number }> {
  const parse = JSON.parse;
  let parses = 0;
  JSON.parse = (...args: Parameters<typeof parse>) => (parses++, parse(...args));
  try {
    return { result: await work(), parses };
  } finally {
    JSON.parse = parse;
  }
}

for (const lineBreak of ["", "\n", "\r\n"]) {
  const shown = lineBreak ? `pretty-printed with ${JSON.stringify(lineBreak)}` : "compact";
  Deno.test(`a ${shown} page's events are parsed once, with the page, and committed without a parse per line`, async () => {
    const sent = page(30, lineBreak);
    const body = JSON.parse(new TextDecoder().decode(sent));
    const parsed = await parsesOf(() => parseAuditEventsPage(body, sent, WINDOW));
    assert.equal(parsed.parses, 0, "no event parsed again from its bytes");
    const { events } = parsed.result;
    assert.deepEqual(events.map((e) => e.id), body.Resources.map((e: { id: string }) => e.id));
    const encoded = await parsesOf(() => encodeWindow(events, { kind: KIND, window: WINDOW }));
    assert.equal(encoded.parses, 0, "no line parsed again before the claim");
    const manifest = buildManifest({
      source: { name: "idcs", scope: "test", kind: KIND },
      window: WINDOW,
      object: "x.ndjson.gz",
      encoded: encoded.result,
      sourceTotal: 30,
      previous: "00".repeat(32),
      now: WINDOW.end,
    });
    assert.deepEqual(
      await verifyData(manifest, encoded.result.data),
      [],
      "verify accepts what was committed",
    );
  });
}

Deno.test("events read with their page are still held to verify's checks before the claim: an id twice, out of order", async () => {
  const sent = page(3);
  const { events } = parseAuditEventsPage(JSON.parse(new TextDecoder().decode(sent)), sent, WINDOW);
  for (const wrong of [[events[0], events[0]], [events[1], events[0]]]) {
    const error = await encodeWindow(wrong, { kind: KIND, window: WINDOW }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ArchiveError, `refused before the claim: ${error}`);
    assert.match(error.message, /appears twice|out of \(time, id\) order/);
  }
  const outside = { start: WINDOW.start + 1000, end: WINDOW.end };
  const error = await encodeWindow(events, { kind: KIND, window: outside }).then(() => undefined, (e) => e);
  assert.match(String(error), /event e0000 is outside the window/);
});

Deno.test("an OCI Audit page's events are parsed one by one and committed without a parse per line", async () => {
  const events = Array.from({ length: 20 }, (_, k) => ({
    eventId: `oe${String(k).padStart(4, "0")}`,
    eventTime: new Date(WINDOW.start + k * 1000).toISOString(),
    data: { compartmentId: "ocid1.tenancy.oc1..t", message: k % 3 ? "ok" : 'caf\u00e9 "quoted"' },
  }));
  const parsed = parseAuditEvents(new TextEncoder().encode(JSON.stringify(events)));
  assert.deepEqual(parsed.map((e) => e.id), events.map((e) => e.eventId));
  const kind = SOURCE_KINDS["oci-audit"];
  const encoded = await parsesOf(() => encodeWindow(parsed, { kind, window: WINDOW }));
  assert.equal(encoded.parses, 0, "no line parsed again before the claim");
});
