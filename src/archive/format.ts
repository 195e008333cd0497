/**
 * The archive's records: encoding a window to gzip NDJSON, manifests, genesis and segments, event keys.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createGzip } from "node:zlib";
import type { SourceName } from "../config/settings.ts";
import { ArchiveError } from "../errors.ts";
import {
  type ArchivedEvent,
  eventKey,
  eventTime,
  readFromValue,
  type Source,
  SOURCE_KINDS,
  type SourceKind,
} from "../sources/source.ts";
import { VERSION } from "../version.ts";
import type { Window } from "../window.ts";

export { eventKey, eventTime };

export const FORMAT = "audit-archiver/1";

/** A window's manifest: what was committed, and the hash of the manifest before it (the chain). */
export interface Manifest {
  format: string;
  source: string;
  scope: string;
  /** The clock `start` and `end` are on (absent in archives written before OCI Audit windows were). */
  basis?: SourceKind["basis"];
  start: string;
  end: string;
  object: string;
  events: number;
  sourceTotal: number | null;
  bytes: number;
  sha256: string;
  ndjsonSha256: string;
  firstEventTime: string | null;
  lastEventTime: string | null;
  /** OCI Audit: deleted compartments whose events Audit refused for this window (none were lost unseen). */
  skippedCompartments?: string[];
  /**
   * An amendment (events the source showed for the window only later): its number n, from 1, and the SHA-256
   * of the window's manifest. Its `previous` is that manifest's hash for n = 1, else amendment n − 1's.
   */
  amendment?: number;
  amends?: string;
  previous: string;
  version: string;
  committedAt: string;
  /** The key that vouches for the manifest, and its signature (docs/design.md §8; invariant 11). */
  keyId?: string;
  signature?: string;
}

/**
 * The first record of a chain segment: where it starts. Its hash is the first manifest's `previous`. The main
 * segment (`genesis.json`) runs on without end; a backfill segment (`genesis-until-….json`) ends where the
 * archive began before it, so segments tile like windows.
 */
export interface Genesis {
  format: string;
  source: string;
  scope: string;
  start: string;
  end?: string;
  version: string;
  createdAt: string;
  keyId?: string;
  signature?: string;
}

const ENCODE_BATCH = 1000;

async function pipeBytes(bytes: Uint8Array, transform: DecompressionStream) {
  return new Uint8Array(
    await new Response(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(transform))
      .arrayBuffer(),
  );
}

export const gunzip = (bytes: Uint8Array) => pipeBytes(bytes, new DecompressionStream("gzip"));

/**
 * zlib level of data objects. Level 6 (zlib's default) spent more of a pass's CPU than parsing pages; level 4
 * takes a third less time for 8% more bytes (105 → 113 bytes per identity-domain event), measured on the
 * emulator's events (docs/performance.md).
 */
const GZIP_LEVEL = 4;

const NEWLINE = 10;

/** A window's data object, with what its manifest says of it: the window's events are not needed after it. */
export interface EncodedWindow {
  data: Uint8Array;
  sha256: string;
  ndjsonSha256: string;
  count: number;
  firstEventTime: number | null;
  lastEventTime: number | null;
}

/**
 * The data object: gzip of UTF-8 NDJSON, one event per line, in (time, id) order. Lines are compressed and
 * hashed in batches as they stream, so the uncompressed window never exists in memory as one string.
 *
 * With `checked` (the commit path), the lines are first held to what `verify` holds a data object to
 * (`lineProblems`), and a window that would fail it is refused before anything is written: no window is ever
 * claimed whose bytes `verify` would reject.
 */
export async function encodeWindow(
  events: ArchivedEvent[],
  checked?: { kind: SourceKind; window: Window },
): Promise<EncodedWindow> {
  if (checked) {
    const problems = windowProblems(events, checked.kind, checked.window);
    if (problems.length) {
      throw new ArchiveError(
        "PROTOCOL",
        `${problems.length} problem(s) in the events read for the window, which is not claimed: ${
          problems.slice(0, 5).join("; ")
        }`,
      );
    }
  }
  const gzip = createGzip({ level: GZIP_LEVEL });
  const parts: Uint8Array[] = [];
  const dataHash = createHash("sha256");
  gzip.on("data", (part: Uint8Array) => (parts.push(part), dataHash.update(part)));
  const ended = new Promise((resolve, reject) => gzip.on("end", resolve).on("error", reject));
  const hash = createHash("sha256");
  for (let i = 0; i < events.length; i += ENCODE_BATCH) {
    const batch = events.slice(i, i + ENCODE_BATCH);
    const bytes = new Uint8Array(batch.reduce((size, event) => size + event.json.length + 1, 0));
    batch.reduce((offset, event) => {
      bytes.set(event.json, offset);
      bytes[offset + event.json.length] = NEWLINE;
      return offset + event.json.length + 1;
    }, 0);
    hash.update(bytes);
    if (!gzip.write(bytes)) await new Promise((resolve) => gzip.once("drain", resolve));
  }
  gzip.end();
  await ended;
  const data = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  parts.reduce((offset, part) => (data.set(part, offset), offset + part.length), 0);
  return {
    data,
    sha256: dataHash.digest("hex"),
    ndjsonSha256: hash.digest("hex"),
    count: events.length,
    firstEventTime: events[0]?.time ?? null,
    lastEventTime: events.at(-1)?.time ?? null,
  };
}

/**
 * What `verify` would find wrong with the lines of `events` as `encodeWindow` writes them. An event read from
 * the value its bytes hold (`readFromValue`: one line, and the id and time verify reads from it) is checked by
 * that id and time; any other is decoded and parsed as verify parses its line. Pure.
 */
function windowProblems(events: ArchivedEvent[], kind: SourceKind, window: Window): string[] {
  const problems: string[] = [];
  const decoder = new TextDecoder();
  const keys = events.map((event) => {
    if (readFromValue(event)) return event;
    if (event.json.includes(NEWLINE) || event.json.includes(CARRIAGE_RETURN)) {
      problems.push(`event ${event.id} spans more than one line`);
    }
    return lineKey(kind, decoder.decode(event.json));
  });
  // On processing time, verify holds the lines to the first and last event time the manifest records.
  const range = kind.basis === "event-time"
    ? window
    : { start: events[0]?.time ?? 0, end: (events.at(-1)?.time ?? 0) + 1 };
  return [...problems, ...keyProblems("the window", range, keys)];
}

const CARRIAGE_RETURN = 13;

/**
 * What `verify` finds wrong with a data object's lines, one per problem: a line that is not an event, an id
 * twice, a time outside [start, end), or lines out of (time, id) order. Shared by `verifyData` and the commit
 * path (`encodeWindow`), so what is committed is what verify accepts. Pure.
 */
export function lineProblems(
  name: string,
  kind: SourceKind | undefined,
  range: { start: number; end: number },
  lines: Iterable<string>,
): string[] {
  return keyProblems(name, range, Iterator.from(lines).map((line) => lineKey(kind, line)));
}

/** A line's id and time as verify reads them; undefined when the line is not an event. Pure. */
function lineKey(kind: SourceKind | undefined, line: string): LineKey | undefined {
  let event;
  try {
    event = JSON.parse(line);
  } catch {
    return undefined;
  }
  const id = kind && typeof event === "object" && event !== null ? eventKey(kind, event) : undefined;
  return id === undefined ? undefined : { id, time: eventTime(kind, event) };
}

interface LineKey {
  id: string;
  time: number | undefined;
}

/** `lineProblems` of lines read as their keys (undefined: not an event). Pure. */
function keyProblems(
  name: string,
  range: { start: number; end: number },
  keys: Iterable<LineKey | undefined>,
): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  let previous = { time: -Infinity, id: "" };
  let index = 0;
  for (const key of keys) {
    index++;
    if (key === undefined) {
      problems.push(`${name}: line ${index} is not an event`);
      continue;
    }
    const { id, time } = key;
    if (ids.has(id)) problems.push(`${name}: event ${id} appears twice`);
    ids.add(id);
    if (time === undefined || !(time >= range.start && time < range.end)) {
      problems.push(`${name}: event ${id} is outside the window`);
    } else if (time < previous.time || (time === previous.time && id < previous.id)) {
      problems.push(`${name}: event ${id} is out of (time, id) order`);
    } else previous = { time, id };
  }
  return problems;
}

/** Serializes a record as the bytes that are stored and hashed: one JSON line. */
export const encodeRecord = (record: object) => new TextEncoder().encode(JSON.stringify(record) + "\n");

export function buildManifest(input: {
  source: Pick<Source, "name" | "scope" | "kind">;
  window: Window;
  object: string;
  encoded: EncodedWindow;
  sourceTotal: number | null;
  skippedCompartments?: string[];
  amendment?: { n: number; amends: string };
  previous: string;
  now: number;
}): Manifest {
  const { encoded } = input;
  const time = (ms: number | null) => ms === null ? null : new Date(ms).toISOString();
  return {
    format: FORMAT,
    source: input.source.name,
    scope: input.source.scope,
    basis: input.source.kind.basis,
    start: new Date(input.window.start).toISOString(),
    end: new Date(input.window.end).toISOString(),
    object: input.object,
    events: encoded.count,
    sourceTotal: input.sourceTotal,
    bytes: encoded.data.length,
    sha256: encoded.sha256,
    ndjsonSha256: encoded.ndjsonSha256,
    firstEventTime: time(encoded.firstEventTime),
    lastEventTime: time(encoded.lastEventTime),
    ...(input.skippedCompartments ? { skippedCompartments: input.skippedCompartments } : {}),
    ...(input.amendment ? { amendment: input.amendment.n, amends: input.amendment.amends } : {}),
    previous: input.previous,
    version: VERSION,
    committedAt: new Date(input.now).toISOString(),
  };
}

/** Parses a stored manifest; undefined when it is not one (verify reports that). */
export function parseManifest(bytes: Uint8Array): Manifest | undefined {
  try {
    const m = JSON.parse(new TextDecoder().decode(bytes));
    const ok = m?.format === FORMAT && typeof m.start === "string" && typeof m.end === "string" &&
      typeof m.object === "string" && Number.isInteger(m.events) && typeof m.sha256 === "string" &&
      typeof m.previous === "string" && !Number.isNaN(Date.parse(m.start)) &&
      !Number.isNaN(Date.parse(m.end));
    return ok ? m as Manifest : undefined;
  } catch {
    return undefined;
  }
}

/** A chain segment: its genesis record, where it starts, and where it ends (Infinity for the main segment). */
export interface Segment {
  name: string;
  bytes: Uint8Array;
  start: number;
  end: number;
}

/** The one reading of a stored genesis as a segment; undefined when it is not one. Pure. */
export function parseSegment(name: string, bytes: Uint8Array): Segment | undefined {
  const record = parseGenesis(bytes);
  if (!record) return undefined;
  return {
    name,
    bytes,
    start: Date.parse(record.start),
    end: record.end ? Date.parse(record.end) : Infinity,
  };
}

export function parseGenesis(bytes: Uint8Array): Genesis | undefined {
  try {
    const g = JSON.parse(new TextDecoder().decode(bytes));
    return g?.format === FORMAT && typeof g.start === "string" && !Number.isNaN(Date.parse(g.start))
      ? g as Genesis
      : undefined;
  } catch {
    return undefined;
  }
}

/** The ids of the events in an object that verifies against its manifest. */
export async function eventIds(manifest: Manifest, data: Uint8Array): Promise<string[]> {
  const kind = kindOf(manifest)!;
  return new TextDecoder().decode(await gunzip(data)).split("\n").filter(Boolean).map((line) =>
    eventKey(kind, JSON.parse(line))!
  );
}

/** The source kind of an archived window (undefined for a source this version does not know). */
export const kindOf = (manifest: Manifest): SourceKind | undefined =>
  SOURCE_KINDS[manifest.source as SourceName];
