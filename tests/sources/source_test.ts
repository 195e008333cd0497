/**
 * Event order within a window, and a window's events collected by id. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ArchivedEvent, EventsById, sortEvents } from "../../src/sources/source.ts";

const at = (iso: string) => Date.parse(iso);

const utf8 = (text: string) => new TextEncoder().encode(text);

Deno.test("sortEvents orders by time, then by id", () => {
  const event = (id: string, time: number): ArchivedEvent => ({ id, time, json: utf8(`{"id":"${id}"}`) });
  const t1 = at("2026-11-27T10:00:00.000Z");
  const t2 = t1 + 1;
  assert.deepEqual(
    sortEvents([event("b", t2), event("b", t1), event("a", t2), event("A", t2), event("a", t1)]).map((e) => [
      e.id,
      e.time,
    ]),
    [["a", t1], ["b", t1], ["A", t2], ["a", t2], ["b", t2]],
  );
});

Deno.test("EventsById.merge adds every id and every body of a part read on its own", () => {
  const time = at("2026-11-27T10:00:00.000Z");
  const event = (id: string, body = id): ArchivedEvent => ({
    id,
    time,
    json: utf8(`{"id":"${id}","b":"${body}"}`),
  });
  const window = new EventsById();
  window.add(event("a"));
  window.add(event("b"));
  const tie = new EventsById();
  tie.add(event("b"));
  tie.add(event("c"));
  tie.add(event("c", "other"));
  window.merge(tie);
  assert.deepEqual(window.events().map((e) => e.id), ["a", "b", "c"]);
  // The part's second body of c still counts, as the source's totalResults counts it.
  assert.equal(window.variants, 4);
  assert.deepEqual(window.conflicts, ["c"]);
});
