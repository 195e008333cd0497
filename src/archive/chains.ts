/**
 * Where each chain and its segments stand, read from the sink (bounded work however long the archive).
 *
 * @module
 */

import { completeWindow } from "./commit.ts";
import { FORMAT, type Genesis, type Manifest, parseManifest, parseSegment, type Segment } from "./format.ts";
import { DATA_SUFFIX, GENESIS_PATTERN, genesisName, MANIFEST_SUFFIX, parseTimeStamp } from "./names.ts";
import type { Authority } from "./seal.ts";
import type { Sink } from "./sink.ts";
import { ArchiveError } from "../errors.ts";
import { type Source, SOURCE_KINDS } from "../sources/source.ts";
import { VERSION } from "../version.ts";

/** One stored manifest with its hash, as verification needs it. */
export interface ChainLink {
  name: string;
  bytes: Uint8Array;
}

/** Every name below a folder, depth first, sorted: the chain's folders are year/month/day. */
export async function listTree(sink: Sink, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for (const child of await sink.listChildren(prefix)) {
    if (/\/\d{2,4}$/.test(child)) names.push(...await listTree(sink, child));
    else names.push(child);
  }
  return names;
}

/** The earliest time a year, month or day folder (`…/2026/11/27`) can hold, from its last parts. */
function folderStart(parts: string[]): number {
  const [year, month = "01", day = "01"] = parts;
  return Date.UTC(Number(year), Number(month) - 1, Number(day));
}

/**
 * The last manifest of a chain whose window starts before `before`, found by walking year/month/day folders
 * from the newest and skipping those that start later: bounded work however long the archive is.
 */
export async function lastManifestBefore(
  sink: Sink,
  chain: string,
  before: number,
): Promise<string | undefined> {
  return await newestRecordBefore(sink, chain, before, MANIFEST_SUFFIX);
}

/**
 * The newest record each search below a root found last, by sink (a name, never its bytes: whoever builds on
 * a record reads it and has the key vouch for it). The next search lists that record's day folder from it on,
 * not whole, so the passes of a day do not each list again every window and checkpoint the ones before added.
 */
const lastFound = new WeakMap<Sink, Map<string, string>>();

function lastFoundIn(sink: Sink): Map<string, string> {
  let found = lastFound.get(sink);
  if (!found) lastFound.set(sink, found = new Map());
  return found;
}

/** The newest record named `{time}{suffix}` below `root`'s year/month/day folders whose time is before `before`. */
export async function newestRecordBefore(
  sink: Sink,
  root: string,
  before: number,
  suffix: string,
): Promise<string | undefined> {
  const found = lastFoundIn(sink);
  const key = `${root}/*${suffix}`;
  const known = found.get(key);
  const timeOf = (leaf: string) =>
    leaf.endsWith(suffix) ? parseTimeStamp(leaf.slice(0, -suffix.length)) : undefined;
  let knownGone = false;
  const listDay = async (folder: string) => {
    if (known?.startsWith(`${folder}/`) && timeOf(known.slice(folder.length + 1))! < before) {
      const names = await sink.listChildren(folder, known);
      // While the record is there, no name before it can be a newer one.
      if (names[0] === known) return names;
      knownGone = true;
    }
    return await sink.listChildren(folder);
  };
  const walk = async (prefix: string, parts: string[]): Promise<string | undefined> => {
    const children = parts.length < 3 ? await sink.listChildren(prefix) : await listDay(prefix);
    for (const child of children.reverse()) {
      const leaf = child.slice(child.lastIndexOf("/") + 1);
      if (parts.length < 3) {
        if (!/^\d{2,4}$/.test(leaf) || folderStart([...parts, leaf]) >= before) continue;
        const newest = await walk(child, [...parts, leaf]);
        if (newest) return newest;
      } else {
        const start = timeOf(leaf);
        if (start !== undefined && start < before) return child;
      }
    }
    return undefined;
  };
  const newest = await walk(root, []);
  if (newest && (knownGone || known === undefined || newest > known)) found.set(key, newest);
  else if (knownGone) found.delete(key);
  return newest;
}

/** The chain's segments, oldest first. */
export async function readSegments(sink: Sink, chain: string, authority?: Authority): Promise<Segment[]> {
  const names = (await sink.listChildren(chain)).filter((name) => GENESIS_PATTERN.test(name));
  const segments = await Promise.all(names.map(async (name) => {
    const segment = parseSegment(name, (await sink.read(name))!);
    if (!segment) throw new ArchiveError("ARCHIVE", `${name} is not a readable genesis: run verify`);
    // A writer builds only on segments the key vouches for; readers (verify, status) judge them themselves.
    await authority?.vouch(name, segment.bytes, "genesis", chain);
    return segment;
  }));
  return segments.sort((a, b) => a.start - b.start);
}

/** Where a segment stands: the end of its last window (the frontier) and the record the next one chains to. */
interface SegmentState {
  frontier: number;
  /** The bytes of the newest manifest (or the genesis): the next manifest's `previous` is their SHA-256. */
  previousRecord: Uint8Array;
  last?: Manifest;
}

/**
 * Where a segment stands, read from the archive. Its newest windows are completed first when a crashed or
 * killed instance left them claimed without data (`completeNewest`): a chain goes on only from whole windows.
 */
export async function readSegmentState(
  sink: Sink,
  chain: string,
  segment: Segment,
  authority: Authority,
): Promise<SegmentState> {
  const newest = await newestManifest(sink, chain, segment, segment.end);
  if (!newest) return { frontier: segment.start, previousRecord: segment.bytes };
  // The newest window is built on only when the key vouches for it (its ancestors by the hash chain).
  await authority.vouch(newest.name, newest.bytes, "manifest", chain);
  await completeNewest(sink, chain, segment, newest.manifest);
  return { frontier: Date.parse(newest.manifest.end), previousRecord: newest.bytes, last: newest.manifest };
}

/** The segment's last window that starts before `before`, read. */
async function newestManifest(sink: Sink, chain: string, segment: Segment, before: number) {
  const name = await lastManifestBefore(sink, chain, before);
  const bytes = name ? await sink.read(name) : undefined;
  const manifest = bytes && parseManifest(bytes);
  if (name && !manifest) throw new ArchiveError("ARCHIVE", `${name} is not a readable manifest: run verify`);
  return manifest && Date.parse(manifest.start) >= segment.start
    ? { name: name!, bytes: bytes!, manifest }
    : undefined;
}

/**
 * Completes a segment's newest window when it lacks its data object, and the window before it first when that
 * one lacks its data too: data objects go in window order and a claim waits for all but the newest
 * (`commitWindow`), so the windows without one are at most the two newest. Oldest first, so a crash here again
 * leaves only a suffix.
 */
async function completeNewest(sink: Sink, chain: string, segment: Segment, manifest: Manifest) {
  if (await sink.exists(manifest.object)) return;
  const before = await newestManifest(sink, chain, segment, Date.parse(manifest.start));
  if (before) await completeWindow(sink, before.manifest);
  await completeWindow(sink, manifest);
}

/** Creates a segment's genesis unless another instance did; returns the segment that holds under that name. */
export async function claimSegment(
  sink: Sink,
  chain: string,
  source: Source,
  start: number,
  end: number | undefined,
  authority: Authority,
): Promise<Segment> {
  const record: Genesis = {
    format: FORMAT,
    source: source.name,
    scope: source.scope,
    start: new Date(start).toISOString(),
    ...(end === undefined ? {} : { end: new Date(end).toISOString() }),
    version: VERSION,
    createdAt: new Date().toISOString(),
  };
  const name = genesisName(chain, end);
  const bytes = await authority.seal(record);
  const ours = await sink.createExclusive(name, bytes);
  const held = ours ? bytes : await sink.read(name);
  if (!held) throw new ArchiveError("ARCHIVE", `${name} vanished after it was created`);
  if (!ours) await authority.vouch(name, held, "genesis", chain);
  const segment = parseSegment(name, held);
  if (!segment) throw new ArchiveError("ARCHIVE", `${name} is not a readable genesis: run verify`);
  return segment;
}

/** The archive chains present in the sink: `{prefix}/{source}/{scope}` folders. */
export async function listChains(sink: Sink, prefix: string): Promise<string[]> {
  // `_checkpoints` (and anything else not named like a source) holds no chain.
  const sources = (await sink.listChildren(prefix)).filter((name) =>
    name.slice(name.lastIndexOf("/") + 1) in SOURCE_KINDS
  );
  return (await Promise.all(sources.map((source) => sink.listChildren(source)))).flat();
}

/** A chain's stored records, split by kind. */
export async function readChain(sink: Sink, chain: string) {
  const names = [
    ...await sink.listChildren(chain),
    ...(await listTree(sink, chain)).filter((n) => !GENESIS_PATTERN.test(n)),
  ];
  const unique = [...new Set(names)].filter((n) => !/\/\d{2,4}$/.test(n));
  const read = async (name: string): Promise<ChainLink> => ({ name, bytes: (await sink.read(name))! });
  return {
    geneses: await Promise.all(unique.filter((n) => GENESIS_PATTERN.test(n)).map(read)),
    manifests: await Promise.all(unique.filter((n) => n.endsWith(MANIFEST_SUFFIX)).map(read)),
    dataNames: unique.filter((n) => n.endsWith(DATA_SUFFIX)),
    /** Every name, for what sits beside the records (the Logging copy's markers). */
    names: unique,
  };
}
