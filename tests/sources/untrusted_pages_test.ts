/**
 * Pages that could make what is stored differ from what is checked, for both sources: a member named twice in
 * one object is refused (retried like a malformed page), a pretty-printed page's events are stored one per line
 * and still equal the events, ids and times are read from the stored bytes, and an id sent with different
 * bodies keeps one body, the same on every instance. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseAuditEventsPage } from "../../src/sources/idcs.ts";
import { duplicateKey } from "../../src/sources/json_scan.ts";
import { parseAuditEvents } from "../../src/sources/oci_audit.ts";
import { EventsById } from "../../src/sources/source.ts";
import { archiveErrorOf } from "../assertions.ts";
import { mulberry32 } from "../emulators/random.ts";

const WINDOW = { start: Date.parse("2026-11-27T10:00:00.000Z"), end: Date.parse("2026-11-27T11:00:00.000Z") };
const LIST = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,';
const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Parses an identity-domain page as the fetch helper does: the body parsed, and the bytes it came from. */
const idcsPage = (page: string) => parseAuditEventsPage(JSON.parse(page), utf8(page), WINDOW);

function assertRefused(parse: () => unknown, message: RegExp) {
  const error = archiveErrorOf(parse, "PROTOCOL");
  assert.equal(error.retriable, true, "retried like a malformed page");
  assert.match(error.message, message);
}

Deno.test("an identity-domain event that names its id twice is refused (JSON.parse would check one, the archive keep both)", () => {
  assertRefused(
    () =>
      idcsPage(
        LIST + '"Resources":[{"id":"decoy","timestamp":"2026-11-27T10:00:00.000Z","id":"e1"}]}',
      ),
    /identity domain AuditEvents: an object names the member "id" twice/,
  );
});

Deno.test("an identity-domain page with two Resources members is refused (the scan and the parse could take different ones)", () => {
  assertRefused(
    () =>
      idcsPage(
        LIST + '"Resources":[{"id":"a","timestamp":"2026-11-27T10:00:00.000Z"}],' +
          '"Resources":[{"id":"b","timestamp":"2026-11-27T10:00:00.000Z"}]}',
      ),
    /the member "Resources" twice/,
  );
});

Deno.test("a member named twice deep in an event, once escaped, is refused", () => {
  assertRefused(
    () =>
      idcsPage(
        LIST +
          '"Resources":[{"id":"e1","timestamp":"2026-11-27T10:00:00.000Z","a":[{"b":{"x":1,"\\u0078":2}}]}]}',
      ),
    /the member "x" twice/,
  );
});

Deno.test("the same member name in sibling objects is not a duplicate", () => {
  const page = idcsPage(
    LIST +
      '"Resources":[{"id":"e1","timestamp":"2026-11-27T10:00:00.000Z","a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}]}]}',
  );
  assert.equal(page.events.length, 1);
});

Deno.test("an OCI Audit event that names its eventId twice is refused", () => {
  assertRefused(
    () =>
      parseAuditEvents(utf8('[{"eventId":"decoy","eventTime":"2026-11-27T10:00:00.000Z","eventId":"e1"}]')),
    /OCI Audit events: an event names the member "eventId" twice/,
  );
});

Deno.test("an OCI Audit event that names its eventTime twice is refused", () => {
  assertRefused(
    () =>
      parseAuditEvents(
        utf8(
          '[{"eventId":"e1","eventTime":"2020-01-01T00:00:00.000Z","data":{},"eventTime":"2026-11-27T10:00:00.000Z"}]',
        ),
      ),
    /the member "eventTime" twice/,
  );
});

/** A pretty-printed text of `value` (what a serializer with indentation sends), with this line break. */
const pretty = (value: unknown, lineBreak: string) =>
  JSON.stringify(value, null, 2).replaceAll("\n", lineBreak);

for (const lineBreak of ["\n", "\r\n"]) {
  const shown = JSON.stringify(lineBreak);
  const event = {
    id: "e1",
    timestamp: "2026-11-27T10:00:00.000Z",
    message: 'two words,  with {braces} and "quotes"\\n',
    nested: { list: [1, null, { k: "v w" }] },
  };

  Deno.test(`a pretty-printed identity-domain page (${shown}) is stored one event per line, equal to the event`, () => {
    const page = pretty({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
      totalResults: 1,
      Resources: [event],
    }, lineBreak);
    const [stored] = idcsPage(page).events;
    assert.ok(!stored.json.includes(10) && !stored.json.includes(13), "no line break in the stored bytes");
    assert.equal(text(stored.json), JSON.stringify(event), "only the whitespace between tokens is gone");
    assert.deepEqual([stored.id, stored.time], [event.id, Date.parse(event.timestamp)]);
  });

  Deno.test(`a pretty-printed OCI Audit page (${shown}) is stored one event per line, equal to the event`, () => {
    const audit = {
      eventId: "e1",
      eventTime: "2026-11-27T10:00:00.000Z",
      data: { "a b": " c\td ", n: null },
    };
    const [stored] = parseAuditEvents(utf8(pretty([audit], lineBreak)));
    assert.ok(!stored.json.includes(10) && !stored.json.includes(13), "no line break in the stored bytes");
    assert.equal(text(stored.json), JSON.stringify(audit));
    assert.deepEqual([stored.id, stored.time], [audit.eventId, Date.parse(audit.eventTime)]);
  });
}

Deno.test("a compact page's events keep their bytes exactly, spaces between tokens included", () => {
  const element = '{"eventId":"e1", "eventTime" : "2026-11-27T10:00:00.000Z","data":{}}';
  const [stored] = parseAuditEvents(utf8(`[${element}]`));
  assert.equal(text(stored.json), element);
});

Deno.test("an id sent with different bodies keeps the body that sorts first by bytes, whatever the order seen", () => {
  const body = (s: string) => ({ id: "e1", time: 1, json: utf8(s) });
  const orders = [["b", "a", "c", "a"], ["c", "a", "b"], ["a", "c", "b", "b"]];
  for (const order of orders) {
    const byId = new EventsById();
    for (const s of order) byId.add(body(`{"id":"e1","v":"${s}"}`));
    byId.add({ id: "e2", time: 1, json: utf8('{"id":"e2"}') });
    assert.equal(byId.size, 2);
    assert.equal(byId.variants, 4, "e1 with three bodies, e2 with one");
    assert.deepEqual(byId.conflicts, ["e1"]);
    assert.equal(text(byId.events()[0].json), '{"id":"e1","v":"a"}');
  }
});

Deno.test("a member named twice is found however its object is compared: past 32 names, after an escaped name, as bytes that are not UTF-8", () => {
  const many = Array.from({ length: 40 }, (_, k) => `"m${k}":${k}`).join(",");
  assert.equal(duplicateKey(utf8(`{${many},"m39":0}`)), "m39");
  assert.equal(duplicateKey(utf8(`{${many},"m40":0}`)), undefined);
  assert.equal(duplicateKey(utf8('{"a":1,"b":2,"\\u0062":3}')), "b");
  assert.equal(duplicateKey(utf8('{"b":{"a":1},"\\u0061":{"a":1},"c":[{"a":1,"a":2}]}')), "a");
  // Two different invalid UTF-8 bytes are both read as U+FFFD, so JSON.parse sees one name twice.
  const invalid = new Uint8Array([...utf8('{"'), 0xff, ...utf8('":1,"'), 0xfe, ...utf8('":2}')]);
  assert.equal(duplicateKey(invalid), "\ufffd");
  assert.equal(duplicateKey(utf8('{"é":1,"e":2,"é":3}')), "é");
});

Deno.test("duplicateKey agrees with JSON.parse on random objects: a name twice in one object exactly when parsing loses a member", () => {
  const random = mulberry32(21);
  const names = ["a", "b", "id", "\\u0061", "é", "\\u00e9", "x y"];
  const value = (depth: number): string => {
    const r = random();
    if (depth > 2 || r < 0.4) return String(Math.floor(random() * 10));
    if (r < 0.6) {
      return `[${Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1)).join(",")}]`;
    }
    const members = Array.from(
      { length: Math.floor(random() * 4) },
      () => `"${names[Math.floor(random() * names.length)]}":${value(depth + 1)}`,
    );
    return `{${members.join(",")}}`;
  };
  /** Whether some object of the text has fewer members once parsed than the text writes (names hold no quote). */
  const losesMember = (text: string) => {
    const written: number[] = [];
    const open: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '"') i = text.indexOf('"', i + 1);
      else if (c === "{") open.push(written.push(0) - 1);
      else if (c === "[") open.push(-1);
      else if (c === "}" || c === "]") open.pop();
      else if (c === ":") written[open.at(-1)!]++;
    }
    // Objects in document order, as the scan met them: equal counts all along unless a member was lost.
    const parsed: number[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        parsed.push(Object.keys(v).length);
        Object.values(v).forEach(walk);
      }
    };
    walk(JSON.parse(text));
    return written.some((count, k) => count !== parsed[k]);
  };
  for (let n = 0; n < 2000; n++) {
    const text = value(0);
    assert.equal(duplicateKey(utf8(text)) !== undefined, losesMember(text), text);
  }
});
