/**
 * Event order within a window. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ArchivedEvent, sortEvents } from "../../src/sources/source.ts";

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
