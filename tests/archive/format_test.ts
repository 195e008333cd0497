/**
 * The archive format of main.ts, pure over names and bytes: time stamps and object names, the gzip NDJSON data
 * object, manifests and their encoding, chain verification (tiling, hash chain, names, segments), data
 * verification, private key import and the JWT client assertion. No network, no files.
 *
 * Run: `deno test -A tests/archive/format_test.ts`
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash, createPrivateKey } from "node:crypto";
import { jwtVerify } from "npm:jose@6.2.18";
import type { ChainLink } from "../../src/archive/chains.ts";
import {
  buildManifest,
  encodeRecord,
  encodeWindow,
  type Genesis,
  gunzip,
  type Manifest,
  parseManifest,
} from "../../src/archive/format.ts";
import { dayPrefix, genesisName, objectNames, parseTimeStamp, timeStamp } from "../../src/archive/names.ts";
import { sha256Hex } from "../../src/bytes.ts";
import { ArchiveError } from "../../src/errors.ts";
import { importPrivateKey } from "../../src/keys.ts";
import { verifyChain, verifyData } from "../../src/proof/chain.ts";
import { signAssertion } from "../../src/sources/idcs_token.ts";
import { type ArchivedEvent, type Source, SOURCE_KINDS } from "../../src/sources/source.ts";
import { VERSION } from "../../src/version.ts";
import type { Window } from "../../src/window.ts";

/** gzip of bytes, as a test writes its own objects (the program only ever decompresses what it reads). */
const gzip = async (bytes: Uint8Array) =>
  new Uint8Array(
    await new Response(
      new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip")),
    )
      .arrayBuffer(),
  );

const FORMAT = "audit-archiver/1";
const CHAIN = "audit-archive/idcs/idcs-0123456789abcdef";
const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const bytesOf = (text: string) => new TextEncoder().encode(text);
const textOf = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
/** SHA-256 by node:crypto, independent of main.ts's sha256Hex. */
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** buildManifest reads only the source's name and scope; these tests never read from a source. */
const SOURCE = { name: "idcs", scope: "idcs-0123456789abcdef", kind: SOURCE_KINDS.idcs } as Source;

/** An archived identity-domain event as parseAuditEventsPage produces it. */
function event(id: string, timestamp: string): ArchivedEvent {
  const json = JSON.stringify({ id, timestamp, eventId: "sso.session.create.success", actorName: "alice" });
  return { id, time: at(timestamp), json: utf8(json) };
}

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Asserts that `promise` rejects with an ArchiveError of `code` and returns it. */
async function archiveErrorOf(promise: Promise<unknown>, code: string): Promise<ArchiveError> {
  let thrown: unknown;
  try {
    await promise;
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof ArchiveError, `expected an ArchiveError, got ${String(thrown)}`);
  assert.equal(thrown.code, code);
  return thrown;
}

// ─────────────────────────────────────────────────────────────── time stamps and names

Deno.test("timeStamp is the ISO-8601 basic format with milliseconds", () => {
  assert.equal(timeStamp(Date.UTC(2026, 10, 27, 10, 15, 0, 7)), "20261127T101500.007Z");
});

Deno.test("parseTimeStamp inverts timeStamp", () => {
  const times = [0, Date.UTC(2026, 10, 27, 10, 15, 0, 7), Date.UTC(2099, 11, 31, 23, 59, 59, 999)];
  assert.deepEqual(times.map((t) => parseTimeStamp(timeStamp(t))), times);
});

Deno.test("parseTimeStamp rejects extended ISO, missing milliseconds and garbage", () => {
  assert.deepEqual(
    ["2026-11-27T10:15:00.000Z", "20261127T101500Z", "20261127T101500.000", "", "genesis"].map(
      parseTimeStamp,
    ),
    [undefined, undefined, undefined, undefined, undefined],
  );
});

Deno.test("timeStamp sorts lexically in time order", () => {
  const times = [
    Date.UTC(2026, 10, 27, 10, 15, 0, 7),
    Date.UTC(2026, 10, 27, 10, 15, 0, 70),
    Date.UTC(2026, 10, 27, 9, 59, 59, 999),
    Date.UTC(2026, 1, 1),
    Date.UTC(2025, 11, 31, 23, 59, 59, 999),
    Date.UTC(2026, 10, 3),
  ];
  const byTime = [...times].sort((a, b) => a - b).map(timeStamp);
  const byName = times.map(timeStamp).sort();
  assert.deepEqual(byName, byTime);
});

Deno.test("dayPrefix is the chain's YYYY/MM/DD folder of the UTC day", () => {
  assert.equal(dayPrefix(CHAIN, Date.UTC(2026, 0, 5, 23, 59, 59, 999)), `${CHAIN}/2026/01/05`);
});

Deno.test("objectNames gives the data object and the manifest named by the window", () => {
  const window = { start: at("2026-11-27T10:15:00.000Z"), end: at("2026-11-28T00:00:00.000Z") };
  assert.deepEqual(objectNames(CHAIN, window), {
    data: `${CHAIN}/2026/11/27/20261127T101500.000Z--20261128T000000.000Z.ndjson.gz`,
    manifest: `${CHAIN}/2026/11/27/20261127T101500.000Z.manifest.json`,
  });
});

Deno.test("genesisName names the main segment genesis.json", () => {
  assert.equal(genesisName(CHAIN), `${CHAIN}/genesis.json`);
});

Deno.test("genesisName names a backfill segment by where it ends", () => {
  assert.equal(
    genesisName(CHAIN, at("2026-11-27T00:00:00.000Z")),
    `${CHAIN}/genesis-until-20261127T000000.000Z.json`,
  );
});

// ─────────────────────────────────────────────────────────────── data objects

const EVENTS = [
  event("e1", "2026-11-27T10:00:00.000Z"),
  event("e2", "2026-11-27T10:00:00.000Z"),
  event("e3", "2026-11-27T10:30:00.500Z"),
];
const NDJSON = EVENTS.map((e) => text(e.json) + "\n").join("");

Deno.test("sha256Hex is the lowercase hex SHA-256", async () => {
  assert.equal(
    await sha256Hex(bytesOf("abc")),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("encodeWindow's data is gzip of one NDJSON line per event", async () => {
  const { data } = await encodeWindow(EVENTS);
  assert.deepEqual([data[0], data[1]], [0x1f, 0x8b]);
  assert.equal(textOf(await gunzip(data)), NDJSON);
});

Deno.test("encodeWindow keeps the given order of events", async () => {
  const { data } = await encodeWindow([EVENTS[2], EVENTS[0], EVENTS[1]]);
  assert.equal(
    textOf(await gunzip(data)),
    [EVENTS[2], EVENTS[0], EVENTS[1]].map((e) => text(e.json) + "\n").join(""),
  );
});

Deno.test("encodeWindow's ndjsonSha256 is the SHA-256 of the uncompressed NDJSON", async () => {
  const { ndjsonSha256 } = await encodeWindow(EVENTS);
  assert.equal(ndjsonSha256, sha256(bytesOf(NDJSON)));
});

Deno.test("encodeWindow's sha256 is the SHA-256 of the data object", async () => {
  const { data, sha256: dataSha256 } = await encodeWindow(EVENTS);
  assert.equal(dataSha256, sha256(data));
});

Deno.test("encodeWindow of no events is an empty NDJSON", async () => {
  const { data, ndjsonSha256 } = await encodeWindow([]);
  assert.equal(ndjsonSha256, EMPTY_SHA256);
  assert.equal((await gunzip(data)).length, 0);
});

Deno.test("encodeWindow gives identical bytes for the same events", async () => {
  const first = await encodeWindow(EVENTS);
  const second = await encodeWindow(EVENTS.map((e) => ({ ...e })));
  assert.deepEqual(second.data, first.data);
});

Deno.test("gunzip inverts gzip", async () => {
  const bytes = new Uint8Array(100_000);
  for (let offset = 0; offset < bytes.length; offset += 65_536) {
    crypto.getRandomValues(bytes.subarray(offset, offset + 65_536));
  }
  assert.deepEqual(await gunzip(await gzip(bytes)), bytes);
});

// ─────────────────────────────────────────────────────────────── manifests

const WINDOW: Window = { start: at("2026-11-27T10:00:00.000Z"), end: at("2026-11-27T11:00:00.000Z") };
const COMMITTED_AT = at("2026-11-27T11:02:03.456Z");
const PREVIOUS = "ab".repeat(32);

/** A manifest and data object for `events` in `window`, as archiveSegment builds them. */
async function windowOf(window: Window, events: ArchivedEvent[], previous = PREVIOUS) {
  const names = objectNames(CHAIN, window);
  const encoded = await encodeWindow(events);
  const { data } = encoded;
  const manifest = buildManifest({
    source: SOURCE,
    window,
    object: names.data,
    encoded,
    sourceTotal: events.length,
    previous,
    now: COMMITTED_AT,
  });
  return { names, data, manifest };
}

Deno.test("buildManifest records the window, counts, hashes, chain link, version and commit time", async () => {
  const { names, data, manifest } = await windowOf(WINDOW, EVENTS);
  assert.deepEqual(manifest, {
    format: FORMAT,
    source: "idcs",
    scope: "idcs-0123456789abcdef",
    basis: "event-time",
    start: "2026-11-27T10:00:00.000Z",
    end: "2026-11-27T11:00:00.000Z",
    object: names.data,
    events: 3,
    sourceTotal: 3,
    bytes: data.length,
    sha256: sha256(data),
    ndjsonSha256: sha256(bytesOf(NDJSON)),
    firstEventTime: "2026-11-27T10:00:00.000Z",
    lastEventTime: "2026-11-27T10:30:00.500Z",
    previous: PREVIOUS,
    version: VERSION,
    committedAt: "2026-11-27T11:02:03.456Z",
  });
});

Deno.test("buildManifest of an empty window has no event times", async () => {
  const { manifest } = await windowOf(WINDOW, []);
  assert.deepEqual(
    [manifest.events, manifest.firstEventTime, manifest.lastEventTime, manifest.ndjsonSha256],
    [0, null, null, EMPTY_SHA256],
  );
});

Deno.test("encodeRecord is the record's JSON on one line ending in a newline", async () => {
  const { manifest } = await windowOf(WINDOW, EVENTS);
  assert.equal(textOf(encodeRecord(manifest)), JSON.stringify(manifest) + "\n");
  assert.equal(textOf(encodeRecord(manifest)).split("\n").length, 2);
});

Deno.test("parseManifest reads back what encodeRecord stored", async () => {
  const { manifest } = await windowOf(WINDOW, EVENTS);
  assert.deepEqual(parseManifest(encodeRecord(manifest)), manifest);
});

Deno.test("parseManifest rejects bytes that are not JSON", () => {
  assert.equal(parseManifest(bytesOf("not json")), undefined);
  assert.equal(parseManifest(new Uint8Array([0x1f, 0x8b, 0x08, 0x00])), undefined);
  assert.equal(parseManifest(bytesOf("null")), undefined);
});

Deno.test("parseManifest rejects a record of another format", async () => {
  const { manifest } = await windowOf(WINDOW, EVENTS);
  assert.equal(parseManifest(encodeRecord({ ...manifest, format: "audit-archiver/0" })), undefined);
});

Deno.test("parseManifest rejects a manifest missing any required field", async () => {
  const { manifest } = await windowOf(WINDOW, EVENTS);
  const required = ["format", "start", "end", "object", "events", "sha256", "previous"] as const;
  const parsed = required.map((field) => {
    const { [field]: _, ...rest } = manifest;
    return parseManifest(bytesOf(JSON.stringify(rest)));
  });
  assert.deepEqual(parsed, required.map(() => undefined));
});

Deno.test("parseManifest rejects a non-integer event count and unparseable times", async () => {
  const { manifest } = await windowOf(WINDOW, EVENTS);
  assert.equal(parseManifest(bytesOf(JSON.stringify({ ...manifest, events: "3" }))), undefined);
  assert.equal(parseManifest(bytesOf(JSON.stringify({ ...manifest, events: 2.5 }))), undefined);
  assert.equal(parseManifest(bytesOf(JSON.stringify({ ...manifest, start: "yesterday" }))), undefined);
  assert.equal(parseManifest(bytesOf(JSON.stringify({ ...manifest, end: "tomorrow" }))), undefined);
});

// ─────────────────────────────────────────────────────────────── verifyChain

const DAY_START = at("2026-11-27T00:00:00.000Z");

function genesisLink(start: number, end?: number): ChainLink {
  const record: Genesis = {
    format: FORMAT,
    source: "idcs",
    scope: "idcs-0123456789abcdef",
    start: iso(start),
    ...(end === undefined ? {} : { end: iso(end) }),
    version: VERSION,
    createdAt: "2026-11-27T00:00:01.000Z",
  };
  return { name: genesisName(CHAIN, end), bytes: encodeRecord(record) };
}

interface Committed {
  link: ChainLink;
  manifest: Manifest;
  dataName: string;
}

/** Commits windows one after another as archiveSegment does: each manifest names the previous record's hash. */
async function commitAll(genesis: ChainLink, windows: Window[]): Promise<Committed[]> {
  const committed: Committed[] = [];
  let previous = genesis.bytes;
  for (const [i, window] of windows.entries()) {
    const events = [event(`${window.start}-${i}`, iso(window.start))];
    const { names, manifest } = await windowOf(window, events, await sha256Hex(previous));
    const bytes = encodeRecord(manifest);
    committed.push({ link: { name: names.manifest, bytes }, manifest, dataName: names.data });
    previous = bytes;
  }
  return committed;
}

const hours = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ start: from + i * HOUR, end: from + (i + 1) * HOUR }));

/** The verifyChain input for these geneses and committed windows, every data object present. */
const chainOf = (geneses: ChainLink[], committed: Committed[]) => ({
  chain: CHAIN,
  geneses,
  manifests: committed.map((c) => c.link),
  dataNames: committed.map((c) => c.dataName),
});

Deno.test("verifyChain finds no problem in a chain of three abutting windows", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, hours(DAY_START, 3));
  assert.deepEqual(await verifyChain(chainOf([genesis], committed)), {
    problems: [],
    windows: committed.map((c) => c.manifest),
    amendments: [],
  });
});

Deno.test("verifyChain finds no problem in a genesis without windows", async () => {
  assert.deepEqual(await verifyChain(chainOf([genesisLink(DAY_START)], [])), {
    problems: [],
    windows: [],
    amendments: [],
  });
});

Deno.test("verifyChain reports a gap between two windows", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, [
    { start: DAY_START, end: DAY_START + HOUR },
    { start: DAY_START + 2 * HOUR, end: DAY_START + 3 * HOUR },
  ]);
  const { problems } = await verifyChain(chainOf([genesis], committed));
  assert.deepEqual(problems, [
    `gap: nothing covers [2026-11-27T01:00:00.000Z, 2026-11-27T02:00:00.000Z) before ${
      committed[1].link.name
    }`,
  ]);
});

Deno.test("verifyChain reports a gap between the genesis start and the first window", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, [{ start: DAY_START + HOUR, end: DAY_START + 2 * HOUR }]);
  const { problems } = await verifyChain(chainOf([genesis], committed));
  assert.deepEqual(problems, [
    `gap: nothing covers [2026-11-27T00:00:00.000Z, 2026-11-27T01:00:00.000Z) before ${
      committed[0].link.name
    }`,
  ]);
});

Deno.test("verifyChain reports two overlapping windows", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, [
    { start: DAY_START, end: DAY_START + HOUR },
    { start: DAY_START + HOUR / 2, end: DAY_START + 2 * HOUR },
  ]);
  const { problems } = await verifyChain(chainOf([genesis], committed));
  assert.deepEqual(problems, [
    `overlap: ${committed[1].link.name} starts at 2026-11-27T00:30:00.000Z, before 2026-11-27T01:00:00.000Z`,
  ]);
});

Deno.test("verifyChain reports a manifest whose previous is not the previous record's hash", async () => {
  const genesis = genesisLink(DAY_START);
  const [first, second, third] = hours(DAY_START, 3);
  const [c1] = await commitAll(genesis, [first]);
  // The second manifest names a wrong previous; the third chains correctly to the second as stored.
  const wrong = await windowOf(second, [event("w2", iso(second.start))], "00".repeat(32));
  const c2: Committed = {
    link: { name: wrong.names.manifest, bytes: encodeRecord(wrong.manifest) },
    manifest: wrong.manifest,
    dataName: wrong.names.data,
  };
  const [c3] = await commitAll(c2.link, [third]);
  const { problems } = await verifyChain(chainOf([genesis], [c1, c2, c3]));
  assert.deepEqual(problems, [
    `${c2.link.name}: the hash chain is broken (the record before it was changed or removed)`,
  ]);
});

Deno.test("verifyChain reports a changed manifest through the next manifest's previous", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, hours(DAY_START, 3));
  const changed = { ...committed[1].manifest, events: 0 };
  committed[1] = { ...committed[1], link: { name: committed[1].link.name, bytes: encodeRecord(changed) } };
  const { problems } = await verifyChain(chainOf([genesis], committed));
  assert.deepEqual(problems, [
    `${committed[2].link.name}: the hash chain is broken (the record before it was changed or removed)`,
  ]);
});

Deno.test("verifyChain reports a changed genesis through the first manifest's previous", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, hours(DAY_START, 2));
  const changed = {
    name: genesis.name,
    bytes: bytesOf(textOf(genesis.bytes).replace("00:00:01", "00:00:02")),
  };
  const { problems } = await verifyChain(chainOf([changed], committed));
  assert.deepEqual(problems, [
    `${committed[0].link.name}: the hash chain is broken (the record before it was changed or removed)`,
  ]);
});

Deno.test("verifyChain reports a manifest stored under another window's name", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, hours(DAY_START, 3));
  const wrongName =
    objectNames(CHAIN, { start: DAY_START + 2 * HOUR + 1, end: DAY_START + 3 * HOUR }).manifest;
  committed[2] = { ...committed[2], link: { name: wrongName, bytes: committed[2].link.bytes } };
  const { problems } = await verifyChain(chainOf([genesis], committed));
  assert.deepEqual(problems, [
    `${wrongName} describes [2026-11-27T02:00:00.000Z, 2026-11-27T03:00:00.000Z) but is not stored under that window's name`,
  ]);
});

Deno.test("verifyChain reports a data object that no manifest claims (added)", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, hours(DAY_START, 3));
  const added = objectNames(CHAIN, { start: DAY_START + 3 * HOUR, end: DAY_START + 4 * HOUR }).data;
  const input = chainOf([genesis], committed);
  const { problems } = await verifyChain({ ...input, dataNames: [...input.dataNames, added] });
  assert.deepEqual(problems, [`${added} is not claimed by any manifest (added or renamed)`]);
});

Deno.test("verifyChain reports a data object that no manifest claims (renamed)", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, hours(DAY_START, 3));
  const renamed = committed[1].dataName.replace(".ndjson.gz", ".old.ndjson.gz");
  const input = chainOf([genesis], committed);
  const { problems } = await verifyChain({
    ...input,
    dataNames: input.dataNames.map((n) => n === committed[1].dataName ? renamed : n),
  });
  assert.deepEqual(problems, [`${renamed} is not claimed by any manifest (added or renamed)`]);
});

Deno.test("verifyChain reports a missing genesis when manifests are present", async () => {
  const committed = await commitAll(genesisLink(DAY_START), hours(DAY_START, 3));
  assert.deepEqual(await verifyChain(chainOf([], committed)), {
    problems: [`${CHAIN}/genesis.json is missing: the chain has no declared start`],
    windows: [],
    amendments: [],
  });
});

Deno.test("verifyChain finds no problem in an empty chain", async () => {
  assert.deepEqual(await verifyChain(chainOf([], [])), { problems: [], windows: [], amendments: [] });
});

Deno.test("verifyChain reports a genesis stored under the wrong name", async () => {
  const genesis = genesisLink(DAY_START);
  const misnamed = { name: `${CHAIN}/genesis-until-20261127T000000.000Z.json`, bytes: genesis.bytes };
  const { problems } = await verifyChain(chainOf([misnamed], []));
  assert.deepEqual(problems, [`${misnamed.name} is not a readable genesis`]);
});

Deno.test("verifyChain reports a manifest that is not readable", async () => {
  const genesis = genesisLink(DAY_START);
  const committed = await commitAll(genesis, hours(DAY_START, 1));
  const input = chainOf([genesis], committed);
  const unreadable = { name: committed[0].link.name, bytes: bytesOf("{}") };
  const { problems } = await verifyChain({ ...input, manifests: [unreadable] });
  assert.deepEqual(problems, [
    `${unreadable.name} is not a readable manifest`,
    `${committed[0].dataName} is not claimed by any manifest (added or renamed)`,
  ]);
});

const BACKFILL_START = DAY_START - 2 * HOUR;

Deno.test("verifyChain finds no problem in a backfill segment that tiles into the main genesis", async () => {
  const backfill = genesisLink(BACKFILL_START, DAY_START);
  const main = genesisLink(DAY_START);
  const before = await commitAll(backfill, hours(BACKFILL_START, 2));
  const after = await commitAll(main, hours(DAY_START, 2));
  const { problems, windows } = await verifyChain(chainOf([main, backfill], [...after, ...before]));
  assert.deepEqual(problems, []);
  assert.deepEqual(windows, [...before, ...after].map((c) => c.manifest));
});

Deno.test("verifyChain reports a gap where a backfill segment stops short of the main genesis", async () => {
  const backfill = genesisLink(BACKFILL_START, DAY_START);
  const main = genesisLink(DAY_START);
  const before = await commitAll(backfill, hours(BACKFILL_START, 1));
  const after = await commitAll(main, hours(DAY_START, 2));
  const { problems } = await verifyChain(chainOf([main, backfill], [...before, ...after]));
  assert.deepEqual(problems, [
    `gap: nothing covers [2026-11-26T23:00:00.000Z, 2026-11-27T00:00:00.000Z) before ${CHAIN}/genesis.json`,
  ]);
});

Deno.test("verifyChain reports a backfill segment that ends where no segment starts", async () => {
  const backfill = genesisLink(BACKFILL_START, DAY_START - HOUR);
  const main = genesisLink(DAY_START);
  const { problems } = await verifyChain(chainOf([main, backfill], []));
  assert.deepEqual(problems, [
    `${backfill.name} does not end where ${main.name} starts`,
    `gap: nothing covers [2026-11-26T22:00:00.000Z, 2026-11-27T00:00:00.000Z) before ${main.name}`,
  ]);
});

// ─────────────────────────────────────────────────────────────── verifyData

Deno.test("verifyData finds no problem in a data object that matches its manifest", async () => {
  const { data, manifest } = await windowOf(WINDOW, EVENTS);
  assert.deepEqual(await verifyData(manifest, data), []);
});

Deno.test("verifyData finds no problem in an empty window", async () => {
  const { data, manifest } = await windowOf(WINDOW, []);
  assert.deepEqual(await verifyData(manifest, data), []);
});

Deno.test("verifyData reports one changed byte as a hash mismatch", async () => {
  const { data, manifest } = await windowOf(WINDOW, EVENTS);
  const changed = data.slice();
  changed[Math.floor(changed.length / 2)] ^= 0x01;
  assert.deepEqual(await verifyData(manifest, changed), [
    `${manifest.object}: content does not match its manifest's SHA-256 (changed)`,
  ]);
});

Deno.test("verifyData reports a manifest whose event count is wrong", async () => {
  const { data, manifest } = await windowOf(WINDOW, EVENTS);
  assert.deepEqual(await verifyData({ ...manifest, events: 2 }, data), [
    `${manifest.object}: 3 events, the manifest says 2`,
  ]);
});

Deno.test("verifyData reports a manifest whose NDJSON hash is wrong", async () => {
  const { data, manifest } = await windowOf(WINDOW, EVENTS);
  assert.deepEqual(await verifyData({ ...manifest, ndjsonSha256: EMPTY_SHA256 }, data), [
    `${manifest.object}: NDJSON hash differs from the manifest`,
  ]);
});

Deno.test("verifyData reports an event id that appears twice in one object", async () => {
  const twice = [EVENTS[0], event("e1", "2026-11-27T10:20:00.000Z")];
  const { data, manifest } = await windowOf(WINDOW, twice);
  assert.deepEqual(await verifyData(manifest, data), [`${manifest.object}: event e1 appears twice`]);
});

Deno.test("verifyData reports an event at the window end as outside the window", async () => {
  const { data, manifest } = await windowOf(WINDOW, [...EVENTS, event("late", "2026-11-27T11:00:00.000Z")]);
  assert.deepEqual(await verifyData(manifest, data), [
    `${manifest.object}: event late is outside the window`,
  ]);
});

Deno.test("verifyData reports an event before the window start as outside the window", async () => {
  const { data, manifest } = await windowOf(WINDOW, [event("early", "2026-11-27T09:59:59.999Z"), ...EVENTS]);
  assert.deepEqual(await verifyData(manifest, data), [
    `${manifest.object}: event early is outside the window`,
  ]);
});

Deno.test({
  name: "verifyData reports a line that is not a JSON object instead of throwing",
  // Regression: for a data object whose hashes match its manifest but which holds a line that is not JSON
  // (here "not json"), verifyData throws SyntaxError from JSON.parse instead of returning a problem, so
  // `verify` crashes (exit 1, no report) rather than listing it; a "null" line throws TypeError likewise.
  // It should return e.g. ["…ndjson.gz: line 2 is not a JSON event"] (exact wording is the code's choice).

  fn: async () => {
    const broken = [EVENTS[0], { id: "x", time: EVENTS[1].time, json: utf8("not json") }];
    const { data, manifest } = await windowOf(WINDOW, broken);
    const problems = await verifyData(manifest, data);
    assert.equal(problems.length, 1);
  },
});

// ─────────────────────────────────────────────────────────────── private keys

const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const keyPair = await crypto.subtle.generateKey(
  { ...RSA, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
  true,
  ["sign", "verify"],
);
const pkcs8Der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keyPair.privateKey));
const base64 = (der: Uint8Array) => btoa(String.fromCharCode(...der));
const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${base64(der).replace(/.{64}/g, "$&\n")}\n-----END ${label}-----\n`;
const PKCS8_PEM = pem("PRIVATE KEY", pkcs8Der);
const PKCS1_PEM = createPrivateKey(PKCS8_PEM).export({ type: "pkcs1", format: "pem" }) as string;
/** A stretch of the key's base64 body, to check error messages never quote it. */
const KEY_MATERIAL = base64(pkcs8Der).slice(100, 140);

const signWith = async (key: CryptoKey, data: Uint8Array) =>
  new Uint8Array(await crypto.subtle.sign(RSA, key, data as Uint8Array<ArrayBuffer>));
const verifies = (signature: Uint8Array, data: Uint8Array) =>
  crypto.subtle.verify(
    RSA,
    keyPair.publicKey,
    signature as Uint8Array<ArrayBuffer>,
    data as Uint8Array<ArrayBuffer>,
  );

Deno.test("importPrivateKey imports a PKCS#8 PEM whose signatures verify with the public key", async () => {
  const key = await importPrivateKey(PKCS8_PEM, "IDCS_PRIVATE_KEY_FILE ./keys/k.pem");
  const data = bytesOf("signing input");
  assert.equal(await verifies(await signWith(key, data), data), true);
});

Deno.test("importPrivateKey imports a PKCS#1 PEM whose signatures verify with the public key", async () => {
  assert.match(PKCS1_PEM, /^-----BEGIN RSA PRIVATE KEY-----\n/);
  const key = await importPrivateKey(PKCS1_PEM, "IDCS_PRIVATE_KEY_FILE ./keys/k.pem");
  const data = bytesOf("signing input");
  assert.equal(await verifies(await signWith(key, data), data), true);
});

Deno.test("importPrivateKey gives a non-extractable RS256 signing key", async () => {
  const key = await importPrivateKey(PKCS1_PEM, "K");
  assert.deepEqual(
    [
      key.type,
      key.extractable,
      key.algorithm.name,
      (key.algorithm as RsaHashedKeyAlgorithm).hash.name,
      key.usages,
    ],
    ["private", false, "RSASSA-PKCS1-v1_5", "SHA-256", ["sign"]],
  );
});

Deno.test("importPrivateKey rejects an encrypted PKCS#8 key with CONFIG, without quoting it", async () => {
  const error = await archiveErrorOf(importPrivateKey(pem("ENCRYPTED PRIVATE KEY", pkcs8Der), "K"), "CONFIG");
  assert.equal(error.message, "K is an encrypted key: give an unencrypted PKCS#8 or PKCS#1 key");
});

Deno.test({
  name: "importPrivateKey says a legacy encrypted PKCS#1 key (Proc-Type: 4,ENCRYPTED) is encrypted",
  // Regression: a traditional OpenSSL encrypted key ("BEGIN RSA PRIVATE KEY" with "Proc-Type: 4,ENCRYPTED" and
  // "DEK-Info" headers, as `openssl genrsa -aes256` (1.x) or `ssh-keygen -m PEM` write it) gives CONFIG
  // "K: the PEM body is not base64" — not a clear error; it should say, like the PKCS#8 case, that the key
  // is encrypted and must be given unencrypted.

  fn: async () => {
    const legacy = PKCS1_PEM.replace(
      "-----\n",
      "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,0123456789ABCDEF0123456789ABCDEF\n\n",
    );
    const error = await archiveErrorOf(importPrivateKey(legacy, "K"), "CONFIG");
    assert.match(error.message, /encrypted/);
  },
});

Deno.test("importPrivateKey rejects text without a PEM private key with CONFIG", async () => {
  const error = await archiveErrorOf(importPrivateKey("ssh-rsa AAAAB3NzaC1yc2E alice@host", "K"), "CONFIG");
  assert.equal(error.message, "K holds no PEM private key (BEGIN PRIVATE KEY)");
});

Deno.test("importPrivateKey rejects a PEM body that is not base64 with CONFIG", async () => {
  const error = await archiveErrorOf(
    importPrivateKey("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n", "K"),
    "CONFIG",
  );
  assert.equal(error.message, "K: the PEM body is not base64");
});

Deno.test("importPrivateKey rejects a truncated key with CONFIG, without quoting it", async () => {
  const truncated = pem("PRIVATE KEY", pkcs8Der.subarray(0, 600));
  const error = await archiveErrorOf(importPrivateKey(truncated, "K"), "CONFIG");
  assert.equal(error.message, "K is not an RSA private key usable for RS256");
  assert.equal(error.message.includes(KEY_MATERIAL), false);
});

Deno.test("importPrivateKey rejects an EC key with CONFIG", async () => {
  const ec = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const ecPem = pem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", ec.privateKey)));
  const error = await archiveErrorOf(importPrivateKey(ecPem, "K"), "CONFIG");
  assert.equal(error.message, "K is not an RSA private key usable for RS256");
});

// ─────────────────────────────────────────────────────────────── client assertion

const CLAIMS = {
  clientId: "0123456789abcdef0123456789abcdef",
  keyId: "archiver-cert",
  domainUrl: "https://idcs-0123456789abcdef.identity.oraclecloud.com",
  now: Date.UTC(2026, 10, 27, 10, 15, 42, 678),
};
const signer = (input: Uint8Array) => signWith(keyPair.privateKey, input);

/** Verifies an assertion as the identity domain would: RS256 with our public key, issuer, subject, audience. */
const verifyAssertion = (token: string) =>
  jwtVerify(token, keyPair.publicKey, {
    algorithms: ["RS256"],
    issuer: CLAIMS.clientId,
    subject: CLAIMS.clientId,
    audience: CLAIMS.domainUrl,
    currentDate: new Date(CLAIMS.now),
  });

Deno.test("signAssertion's header is RS256 JWT with the key id as kid", async () => {
  const { protectedHeader } = await verifyAssertion(await signAssertion(CLAIMS, signer));
  assert.deepEqual(protectedHeader, { alg: "RS256", typ: "JWT", kid: "archiver-cert" });
});

Deno.test("signAssertion's claims: iss = sub = client id, both audiences, 300 s lifetime from now", async () => {
  const { payload } = await verifyAssertion(await signAssertion(CLAIMS, signer));
  const { jti, ...rest } = payload;
  assert.deepEqual(rest, {
    iss: CLAIMS.clientId,
    sub: CLAIMS.clientId,
    aud: [CLAIMS.domainUrl, "https://identity.oraclecloud.com/"],
    iat: Math.floor(CLAIMS.now / 1000),
    exp: Math.floor(CLAIMS.now / 1000) + 300,
  });
  assert.match(String(jti), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
});

Deno.test("signAssertion gives each assertion its own jti", async () => {
  const first = await verifyAssertion(await signAssertion(CLAIMS, signer));
  const second = await verifyAssertion(await signAssertion(CLAIMS, signer));
  assert.notEqual(first.payload.jti, second.payload.jti);
});

Deno.test("signAssertion signed with a key from importPrivateKey (PKCS#1) verifies", async () => {
  const key = await importPrivateKey(PKCS1_PEM, "K");
  const { payload } = await verifyAssertion(await signAssertion(CLAIMS, (input) => signWith(key, input)));
  assert.equal(payload.iss, CLAIMS.clientId);
});
