/**
 * ListEvents bodies: each event's bytes kept as sent, bodies cut short refused. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseAuditEvents } from "../../src/sources/oci_audit.ts";
import { archiveErrorOf } from "../assertions.ts";

const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test("parseAuditEvents keeps each ListEvents event's bytes as sent, parsing one event at a time", () => {
  const text = ' [ {"eventId":"a","eventTime":"2026-11-27T10:00:00Z","data":{"x":"é\\"]"}} ,\n' +
    '{"eventId":"b","eventTime":"2026-11-27T10:00:01Z","data":null}] ';
  const events = parseAuditEvents(utf8(text));
  assert.deepEqual(events.map((e) => [e.id, new TextDecoder().decode(e.json)]), [
    ["a", '{"eventId":"a","eventTime":"2026-11-27T10:00:00Z","data":{"x":"é\\"]"}}'],
    ["b", '{"eventId":"b","eventTime":"2026-11-27T10:00:01Z","data":null}'],
  ]);
  assert.deepEqual(parseAuditEvents(utf8("[]")), []);
});

Deno.test("parseAuditEvents rejects a ListEvents body that is cut short, unseparated or followed by more", () => {
  const event = '{"eventId":"a","eventTime":"2026-11-27T10:00:00Z"}';
  for (
    const text of [`[${event}`, `[${event.slice(0, 20)}`, `[${event} ${event}]`, `[${event}] x`, `{}`, `[,]`]
  ) {
    const error = archiveErrorOf(() => parseAuditEvents(utf8(text)), "PROTOCOL");
    assert.equal(error.retriable, true, text);
  }
});
