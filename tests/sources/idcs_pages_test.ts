/**
 * The AuditEvents filter and page checks: each event's bytes kept as sent, pages that break the protocol refused. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  auditEventsFilter,
  IDCS_MAX_TIE_MILLISECONDS,
  parseAuditEventsPage,
} from "../../src/sources/idcs.ts";
import { archiveErrorOf } from "../assertions.ts";

const at = (iso: string) => Date.parse(iso);

const PAGE_WINDOW = { start: at("2026-11-27T10:00:00.000Z"), end: at("2026-11-27T11:00:00.000Z") };

const LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

const resource = (id: string, timestamp: string) => ({
  schemas: ["urn:ietf:params:scim:schemas:oracle:idcs:AuditEvent"],
  id,
  timestamp,
  eventId: "sso.session.create.success",
  actorName: "alice@example.com",
  message: "User logged in",
});

const pageOf = (resources: unknown[], extra: Record<string, unknown> = {}) => ({
  schemas: [LIST_RESPONSE],
  totalResults: resources.length,
  startIndex: 1,
  itemsPerPage: resources.length,
  Resources: resources,
  ...extra,
});

/** A page body and the UTF-8 bytes it is sent as. */
const bodyAndText = (body: unknown) => [body, utf8(JSON.stringify(body))] as const;

const utf8 = (text: string) => new TextEncoder().encode(text);

/** A page as parsed, its events as plain objects (each is an instance that says it was read from its value). */
function parsedPage(body: unknown, sent: Uint8Array) {
  const page = parseAuditEventsPage(body, sent, PAGE_WINDOW);
  return { ...page, events: page.events.map((event) => ({ ...event })) };
}

/** Asserts that parsing throws the retriable PROTOCOL error with this message. */
function assertProtocolError(body: unknown, message: string) {
  const error = archiveErrorOf(
    () => parseAuditEventsPage(body, utf8(JSON.stringify(body)), PAGE_WINDOW),
    "PROTOCOL",
  );
  assert.equal(error.retriable, true);
  assert.equal(error.message, `identity domain AuditEvents: ${message}`);
}

Deno.test("auditEventsFilter is a half-open SCIM filter on timestamp", () => {
  assert.equal(
    auditEventsFilter(PAGE_WINDOW),
    'timestamp ge "2026-11-27T10:00:00.000Z" and timestamp lt "2026-11-27T11:00:00.000Z"',
  );
});

Deno.test("auditEventsFilter joins several windows with or, each in parentheses", () => {
  const millisecond = (iso: string) => ({ start: at(iso), end: at(iso) + 1 });
  assert.equal(
    auditEventsFilter(millisecond("2026-11-27T10:00:00.007Z"), millisecond("2026-11-27T10:30:00.000Z")),
    '(timestamp ge "2026-11-27T10:00:00.007Z" and timestamp lt "2026-11-27T10:00:00.008Z") or ' +
      '(timestamp ge "2026-11-27T10:30:00.000Z" and timestamp lt "2026-11-27T10:30:00.001Z")',
  );
});

Deno.test("the most milliseconds one request reads again keep its filter under 4 KiB, URL-encoded", () => {
  const windows = Array.from({ length: IDCS_MAX_TIE_MILLISECONDS }, (_, k) => ({
    start: PAGE_WINDOW.start + k * 1001,
    end: PAGE_WINDOW.start + k * 1001 + 1,
  }));
  const encoded = new URLSearchParams({ filter: auditEventsFilter(...windows) }).toString();
  assert.ok(encoded.length < 4096, `${encoded.length} characters`);
});

Deno.test("parseAuditEventsPage with several windows accepts events in any of them, and refuses one between", () => {
  const windows = [
    { start: at("2026-11-27T10:00:00.000Z"), end: at("2026-11-27T10:00:00.001Z") },
    { start: at("2026-11-27T10:00:00.005Z"), end: at("2026-11-27T10:00:00.006Z") },
  ];
  const inside = pageOf([
    resource("e1", "2026-11-27T10:00:00.005Z"),
    resource("e2", "2026-11-27T10:00:00.000Z"),
  ]);
  assert.deepEqual(
    parseAuditEventsPage(...bodyAndText(inside), ...windows).events.map((event) => event.id),
    ["e1", "e2"],
  );
  const between = pageOf([resource("e3", "2026-11-27T10:00:00.003Z")]);
  const error = archiveErrorOf(() => parseAuditEventsPage(...bodyAndText(between), ...windows), "PROTOCOL");
  assert.equal(
    error.message,
    "identity domain AuditEvents: event e3 at 2026-11-27T10:00:00.003Z is outside the filter",
  );
});

Deno.test("parseAuditEventsPage keeps each event's text exactly as sent (escapes, nulls, spacing)", () => {
  const text = '{"schemas":["' + LIST_RESPONSE +
    '"],"totalResults":2, "Resources" : [ {"id":"e1","timestamp":"2026-11-27T10:00:00.000Z","x":"a\\/b\\u00e9","n":null} ,' +
    '{"id":"e2","timestamp":"2026-11-27T10:30:00.000Z","nested":{"a":[1,{"b":"]}"}]}}]}';
  const page = parseAuditEventsPage(JSON.parse(text), utf8(text), PAGE_WINDOW);
  assert.deepEqual(page.events.map((e) => new TextDecoder().decode(e.json)), [
    '{"id":"e1","timestamp":"2026-11-27T10:00:00.000Z","x":"a\\/b\\u00e9","n":null}',
    '{"id":"e2","timestamp":"2026-11-27T10:30:00.000Z","nested":{"a":[1,{"b":"]}"}]}}',
  ]);
});

Deno.test("parseAuditEventsPage returns every event in page order with its JSON exactly stringified", () => {
  const first = resource("e2", "2026-11-27T10:30:00.250Z");
  const second = resource("e1", "2026-11-27T10:00:00.000Z");
  assert.deepEqual(
    parsedPage(...bodyAndText(pageOf([first, second], { totalResults: 7 }))),
    {
      totalResults: 7,
      events: [
        { id: "e2", time: at("2026-11-27T10:30:00.250Z"), json: utf8(JSON.stringify(first)) },
        { id: "e1", time: at("2026-11-27T10:00:00.000Z"), json: utf8(JSON.stringify(second)) },
      ],
    },
  );
});

Deno.test("parseAuditEventsPage accepts the legacy urn:scim ListResponse schema", () => {
  const event = resource("e1", "2026-11-27T10:30:00.000Z");
  assert.deepEqual(
    parsedPage(...bodyAndText(pageOf([event], { schemas: ["urn:scim:api:messages:2.0:ListResponse"] }))),
    {
      totalResults: 1,
      events: [{ id: "e1", time: at("2026-11-27T10:30:00.000Z"), json: utf8(JSON.stringify(event)) }],
    },
  );
});

Deno.test("parseAuditEventsPage accepts a page without Resources when totalResults is 0", () => {
  assert.deepEqual(
    parseAuditEventsPage(
      ...bodyAndText({ schemas: [LIST_RESPONSE], totalResults: 0, startIndex: 1, itemsPerPage: 0 }),
      PAGE_WINDOW,
    ),
    { totalResults: 0, events: [] },
  );
});

Deno.test("parseAuditEventsPage rejects an event at the window end (outside the half-open filter)", () => {
  assertProtocolError(
    pageOf([resource("e9", "2026-11-27T11:00:00.000Z")]),
    "event e9 at 2026-11-27T11:00:00.000Z is outside the filter",
  );
});

Deno.test("parseAuditEventsPage rejects an event before the window start", () => {
  assertProtocolError(
    pageOf([resource("e0", "2026-11-27T09:59:59.999Z")]),
    "event e0 at 2026-11-27T09:59:59.999Z is outside the filter",
  );
});

Deno.test("parseAuditEventsPage rejects an event without an id", () => {
  const { id: _, ...noId } = resource("e1", "2026-11-27T10:30:00.000Z");
  assertProtocolError(pageOf([noId]), "an event has no id or timestamp");
});

Deno.test("parseAuditEventsPage rejects an event with an empty id", () => {
  assertProtocolError(pageOf([resource("", "2026-11-27T10:30:00.000Z")]), "an event has no id or timestamp");
});

Deno.test("parseAuditEventsPage rejects an event without a parseable timestamp", () => {
  assertProtocolError(pageOf([resource("e1", "not a time")]), "an event has no id or timestamp");
});

Deno.test("parseAuditEventsPage rejects a null event", () => {
  assertProtocolError(pageOf([null]), "an event has no id or timestamp");
});

Deno.test("parseAuditEventsPage rejects a totalResults that is not a non-negative integer", () => {
  for (const totalResults of ["1", 1.5, -1, null]) {
    assertProtocolError(pageOf([], { totalResults }), "no totalResults");
  }
});

Deno.test("parseAuditEventsPage rejects a body that is not a SCIM ListResponse", () => {
  assertProtocolError({ totalResults: 0 }, "not a SCIM response");
  assertProtocolError(null, "not a SCIM response");
  assertProtocolError(
    pageOf([], { schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"] }),
    "not a SCIM ListResponse",
  );
});

Deno.test("parseAuditEventsPage rejects Resources that is not an array", () => {
  assertProtocolError(pageOf([], { totalResults: 1, Resources: {} }), "Resources is not an array");
});
