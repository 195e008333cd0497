/**
 * Verification of a chain, pure over names and bytes: tiling, hashes, links, amendments and data.
 *
 * @module
 */

import type { ChainLink } from "../archive/chains.ts";
import {
  gunzip,
  kindOf,
  lineProblems,
  type Manifest,
  parseManifest,
  parseSegment,
  type Segment,
} from "../archive/format.ts";
import { amendmentNames, genesisName, objectNames, parseAmendmentName } from "../archive/names.ts";
import { sha256Hex } from "../bytes.ts";
import { describeWindow } from "../window.ts";

/**
 * Checks the chain's shape, pure over names and record bytes: segments tile, each manifest sits at its start's
 * name, starts where the previous window ended, names the previous record's hash (the previous manifest, or
 * the genesis of the segment it opens), and every data object is claimed by exactly one manifest.
 * Returns the problems found (empty when it holds) and the windows in order.
 */
export async function verifyChain(input: {
  chain: string;
  geneses: ChainLink[];
  manifests: ChainLink[];
  dataNames: string[];
}): Promise<{ problems: string[]; windows: Manifest[]; amendments: Manifest[] }> {
  const problems: string[] = [];
  const windows: Manifest[] = [];
  const segments: Segment[] = [];
  const amendmentLinks = input.manifests.filter((link) => parseAmendmentName(link.name));
  for (const link of input.geneses) {
    const segment = parseSegment(link.name, link.bytes);
    if (
      !segment || link.name !== genesisName(input.chain, segment.end === Infinity ? undefined : segment.end)
    ) {
      problems.push(`${link.name} is not a readable genesis`);
    } else segments.push(segment);
  }
  segments.sort((a, b) => a.start - b.start);
  if (!segments.length) {
    if (input.manifests.length || input.dataNames.length) {
      problems.push(`${genesisName(input.chain)} is missing: the chain has no declared start`);
    }
    return { problems, windows, amendments: [] };
  }
  const at = (ms: number) => new Date(ms).toISOString();
  const expect = (actual: number, expected: number, what: string) => {
    if (actual > expected) {
      problems.push(`gap: nothing covers [${at(expected)}, ${at(actual)}) before ${what}`);
    }
    if (actual < expected) problems.push(`overlap: ${what} starts at ${at(actual)}, before ${at(expected)}`);
  };
  let segment = 0;
  let expectedStart = segments[0].start;
  let previous = await sha256Hex(segments[0].bytes);
  const enterSegmentsUpTo = async (time: number) => {
    while (segment + 1 < segments.length && segments[segment + 1].start <= time) {
      const next = segments[segment + 1];
      if (segments[segment].end !== next.start) {
        problems.push(`${segments[segment].name} does not end where ${next.name} starts`);
      }
      expect(next.start, expectedStart, next.name);
      segment++;
      expectedStart = next.start;
      previous = await sha256Hex(next.bytes);
    }
  };
  const claimed = new Set<string>();
  const hashes = new Map<string, string>();
  const windowLinks = input.manifests.filter((link) => !parseAmendmentName(link.name));
  for (const link of windowLinks.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const manifest = parseManifest(link.bytes);
    if (!manifest) {
      problems.push(`${link.name} is not a readable manifest`);
      continue;
    }
    const window = { start: Date.parse(manifest.start), end: Date.parse(manifest.end) };
    await enterSegmentsUpTo(window.start);
    const names = objectNames(input.chain, window);
    if (names.manifest !== link.name || names.data !== manifest.object) {
      problems.push(
        `${link.name} describes ${describeWindow(window)} but is not stored under that window's name`,
      );
    }
    expect(window.start, expectedStart, link.name);
    if (manifest.previous !== previous) {
      problems.push(`${link.name}: the hash chain is broken (the record before it was changed or removed)`);
    }
    if (window.end <= window.start) problems.push(`${link.name}: the window is empty or reversed`);
    claimed.add(manifest.object);
    windows.push(manifest);
    expectedStart = window.end;
    previous = await sha256Hex(link.bytes);
    hashes.set(link.name, previous);
  }
  await enterSegmentsUpTo(Infinity);
  const last = segments[segments.length - 1];
  if (last.end !== Infinity) expect(last.end, expectedStart, `the end of ${last.name}`);
  const amendments = await verifyAmendments(input.chain, amendmentLinks, windows, hashes, problems);
  for (const amendment of amendments) claimed.add(amendment.object);
  for (const name of input.dataNames) {
    if (!claimed.has(name)) problems.push(`${name} is not claimed by any manifest (added or renamed)`);
  }
  return { problems, windows, amendments };
}

/**
 * Checks each window's amendments, pure: numbered 1, 2, 3… with no gap, stored under their window's names,
 * naming the window's manifest, each chained onto the one before (amendment 1 onto the window's manifest).
 * Adds what it finds to `problems`; returns the readable amendments.
 */
async function verifyAmendments(
  chain: string,
  links: ChainLink[],
  windows: Manifest[],
  windowHashes: Map<string, string>,
  problems: string[],
): Promise<Manifest[]> {
  const amendments: Manifest[] = [];
  const byName = new Map(links.map((link) => [link.name, link]));
  for (
    const link of [...links].sort((a, b) => parseAmendmentName(a.name)!.n - parseAmendmentName(b.name)!.n)
  ) {
    const { start, n } = parseAmendmentName(link.name)!;
    const manifest = parseManifest(link.bytes);
    const window = windows.find((w) => Date.parse(w.start) === start);
    if (!manifest || manifest.amendment !== n) {
      problems.push(`${link.name} is not a readable amendment`);
      continue;
    }
    const windowName = window && objectNames(chain, { start, end: Date.parse(window.end) }).manifest;
    if (!window || manifest.end !== window.end || manifest.amends !== windowHashes.get(windowName!)) {
      problems.push(`${link.name} amends no committed window (the window's manifest is missing or changed)`);
      continue;
    }
    const names = amendmentNames(chain, { start, end: Date.parse(window.end) }, n);
    if (names.manifest !== link.name || names.data !== manifest.object) {
      problems.push(`${link.name} is not stored under its own name`);
    }
    const before = n === 1 ? undefined : byName.get(amendmentNames(chain, { start, end: 0 }, n - 1).manifest);
    if (n > 1 && !before) {
      problems.push(`${link.name}: amendment ${n - 1} of its window is missing (removed)`);
    } else if (manifest.previous !== (before ? await sha256Hex(before.bytes) : manifest.amends)) {
      problems.push(`${link.name}: the hash chain is broken (the amendment before it was changed)`);
    }
    amendments.push(manifest);
  }
  return amendments;
}

/**
 * Checks one data object against its manifest: size, hashes, line count, ids unique, lines in (time, id)
 * order, times from the manifest's first to last event time and, on event time, inside the window.
 */
export async function verifyData(manifest: Manifest, data: Uint8Array): Promise<string[]> {
  const problems: string[] = [];
  const name = manifest.object;
  if (data.length !== manifest.bytes || await sha256Hex(data) !== manifest.sha256) {
    return [`${name}: content does not match its manifest's SHA-256 (changed)`];
  }
  const ndjson = await gunzip(data);
  if (await sha256Hex(ndjson) !== manifest.ndjsonSha256) {
    problems.push(`${name}: NDJSON hash differs from the manifest`);
  }
  const lines = new TextDecoder().decode(ndjson).split("\n");
  if (lines.pop() !== "") problems.push(`${name}: the last line is not terminated`);
  if (lines.length !== manifest.events) {
    problems.push(`${name}: ${lines.length} events, the manifest says ${manifest.events}`);
  }
  const kind = kindOf(manifest);
  const onEventTime = (manifest.basis ?? "event-time") === "event-time";
  const start = onEventTime ? Date.parse(manifest.start) : Date.parse(manifest.firstEventTime ?? "");
  const end = onEventTime ? Date.parse(manifest.end) : Date.parse(manifest.lastEventTime ?? "") + 1;
  problems.push(...lineProblems(name, kind, { start, end }, lines));
  return problems;
}

/** Whether a window's range (on its own clock) meets [from, to): what `verify --from --to` checks. */
export const overlaps = (manifest: Manifest, from: number, to: number) =>
  Date.parse(manifest.start) < to && Date.parse(manifest.end) > from;

/**
 * Whether a window may hold events whose *event time* is in [from, to), from its first and last event time:
 * on processing time a window's events may have occurred well before it, so `export` cannot go by its range.
 */
export const holdsEventsIn = (manifest: Manifest, from: number, to: number) =>
  manifest.events > 0 && Date.parse(manifest.firstEventTime!) < to &&
  Date.parse(manifest.lastEventTime!) >= from;
