/**
 * No window is claimed whose bytes `verify` would reject: the commit path holds a window's lines to the same
 * check as `verifyData` before its kept bytes or claim are written. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { buildManifest, encodeWindow } from "../../src/archive/format.ts";
import { ArchiveError } from "../../src/errors.ts";
import { verifyData } from "../../src/proof/chain.ts";
import { type ArchivedEvent, SOURCE_KINDS } from "../../src/sources/source.ts";

const KIND = SOURCE_KINDS.idcs;
const WINDOW = { start: Date.parse("2026-11-27T10:00:00.000Z"), end: Date.parse("2026-11-27T11:00:00.000Z") };
const SOURCE = { name: "idcs" as const, scope: "test", kind: KIND };

const event = (id: string, timestamp: string, json = JSON.stringify({ id, timestamp })): ArchivedEvent => ({
  id,
  time: Date.parse(timestamp),
  json: new TextEncoder().encode(json),
});

/** What verify says of the window as the commit path would have encoded it without the check. */
async function verifyProblems(events: ArchivedEvent[]) {
  const encoded = await encodeWindow(events);
  const manifest = buildManifest({
    source: SOURCE,
    window: WINDOW,
    object: "x.ndjson.gz",
    encoded,
    sourceTotal: null,
    previous: "00".repeat(32),
    now: WINDOW.end,
  });
  return verifyData(manifest, encoded.data);
}

const cases: [string, ArchivedEvent[]][] = [
  ["an event spanning two lines", [
    event("e1", "2026-11-27T10:00:00.000Z", '{"id":"e1",\n"timestamp":"2026-11-27T10:00:00.000Z"}'),
  ]],
  ["an id twice", [event("e1", "2026-11-27T10:00:00.000Z"), event("e1", "2026-11-27T10:00:00.001Z")]],
  ["an event outside the window", [event("e1", "2026-11-27T11:00:00.000Z")]],
  ["events out of (time, id) order", [
    event("e2", "2026-11-27T10:00:00.001Z"),
    event("e1", "2026-11-27T10:00:00.000Z"),
  ]],
  ["an id the bytes do not hold", [
    event("e1", "2026-11-27T10:00:00.000Z", '{"timestamp":"2026-11-27T10:00:00.000Z"}'),
  ]],
];

for (const [what, events] of cases) {
  Deno.test(`a window with ${what} fails before its claim, as verify would fail it`, async () => {
    assert.notDeepEqual(await verifyProblems(events), [], "verify rejects these bytes");
    const error = await encodeWindow(events, { kind: KIND, window: WINDOW }).then(() => undefined, (e) => e);
    assert.ok(error instanceof ArchiveError, `refused before the claim: ${error}`);
    assert.match(error.message, /which is not claimed/);
  });
}

Deno.test("a window verify accepts is encoded by the commit path as by encodeWindow alone", async () => {
  const events = [event("e1", "2026-11-27T10:00:00.000Z"), event("e2", "2026-11-27T10:00:00.000Z")];
  assert.deepEqual(await verifyProblems(events), []);
  const checked = await encodeWindow(events, { kind: KIND, window: WINDOW });
  assert.deepEqual(checked.data, (await encodeWindow(events)).data);
});
