/**
 * Reconcile: re-reads committed windows from the source; what it shows only now is archived as an amendment.
 *
 * @module
 */

import { lastManifestBefore, readSegments } from "../archive/chains.ts";
import { commitWindow, completeWindow, manifestOf } from "../archive/commit.ts";
import {
  encodeWindow,
  eventIds,
  type Manifest,
  parseGenesis,
  parseManifest,
  type Segment,
} from "../archive/format.ts";
import {
  amendmentNames,
  chainPrefix,
  dayPrefix,
  MANIFEST_SUFFIX,
  parseAmendmentName,
  parseTimeStamp,
} from "../archive/names.ts";
import type { Authority } from "../archive/seal.ts";
import type { Sink } from "../archive/sink.ts";
import { sha256Hex } from "../bytes.ts";
import type { Config } from "../config/validate.ts";
import { ArchiveError } from "../errors.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import { forEachSource } from "./open.ts";
import type { Reconciliation } from "../proof/checkpoint.ts";
import type { CheckpointTip } from "../proof/authority.ts";
import type { Proof } from "./proof.ts";
import { sourceRetention } from "../sources/retention.ts";
import type { Source } from "../sources/source.ts";
import { DAY_MS } from "../time.ts";
import { describeWindow } from "../window.ts";

/** What reconcile found in one window: events in the source, in the archive, missing from it, extra in it. */
export interface WindowReconciliation {
  chain: string;
  window: string;
  inSource: number;
  archived: number;
  missing: number;
  extra: number;
  /** The amendment that now holds the missing events, this reconciler's or a concurrent one's (not with --dry-run). */
  amended?: string;
  /** Why the window could not be reconciled (it is reported, and reconcile goes on: invariant 9). */
  problem?: string;
}

/** A committed window as stored: its manifest's name, bytes and record. */
interface CommittedWindow {
  name: string;
  bytes: Uint8Array;
  manifest: Manifest;
  /**
   * The names in the window's day folder, as listed when the walk reached it: where its amendments are. Listed
   * once per day, not per window; an amendment another reconciler adds after the listing is met at its claim.
   */
  siblings: string[];
}

/** Where a segment's windows end now: the end of its newest window, or its start. */
async function frontierOf(sink: Sink, chain: string, segment: Segment): Promise<number> {
  const newest = await lastManifestBefore(sink, chain, segment.end);
  return newest ? Date.parse(parseManifest((await sink.read(newest))!)?.end ?? "") : segment.start;
}

/**
 * The committed windows of a chain that meet [from, to), oldest first, read day folder by day folder from
 * the window that holds `from`: bounded by the range, however long the archive is.
 */
async function* committedWindows(
  sink: Sink,
  chain: string,
  from: number,
  to: number,
): AsyncGenerator<CommittedWindow> {
  const first = await lastManifestBefore(sink, chain, from + 1);
  const firstStart = first
    ? parseTimeStamp(first.slice(first.lastIndexOf("/") + 1, -MANIFEST_SUFFIX.length))!
    : from;
  for (let day = Math.floor(firstStart / DAY_MS) * DAY_MS; day < to; day += DAY_MS) {
    const siblings = await sink.listChildren(dayPrefix(chain, day));
    for (const name of siblings) {
      const leaf = name.slice(name.lastIndexOf("/") + 1);
      if (
        !leaf.endsWith(MANIFEST_SUFFIX) ||
        parseTimeStamp(leaf.slice(0, -MANIFEST_SUFFIX.length)) === undefined
      ) {
        continue;
      }
      const bytes = (await sink.read(name))!;
      const manifest = parseManifest(bytes);
      if (!manifest) throw new ArchiveError("ARCHIVE", `${name} is not a readable manifest: run verify`);
      if (Date.parse(manifest.end) > from && Date.parse(manifest.start) < to) {
        yield { name, bytes, manifest, siblings };
      }
    }
  }
}

/** The ids of one archived object's events, read after completing it from its kept bytes if need be (`complete`). */
async function archivedIds(sink: Sink, manifest: Manifest, complete = true): Promise<string[]> {
  if (complete) await completeWindow(sink, manifest);
  const data = await sink.read(manifest.object);
  if (!data || await sha256Hex(data) !== manifest.sha256) {
    throw new ArchiveError(
      "ARCHIVE",
      `${manifest.object} is missing or does not match its manifest: run verify`,
    );
  }
  return await eventIds(manifest, data);
}

/** What the archive holds of a window: its events' ids, its amendments, and the record the next one chains to. */
async function archivedWindow(
  sink: Sink,
  chain: string,
  committed: CommittedWindow,
  complete: boolean,
  authority: Authority,
) {
  const start = Date.parse(committed.manifest.start);
  const ids = new Set(await archivedIds(sink, committed.manifest, complete));
  const amendments: { name: string; sha256: string }[] = [];
  let last = committed.bytes;
  const names = committed.siblings
    .filter((name) => parseAmendmentName(name)?.start === start)
    .sort((a, b) => parseAmendmentName(a)!.n - parseAmendmentName(b)!.n);
  for (const name of names) {
    const bytes = (await sink.read(name))!;
    // Events of an amendment the key does not vouch for are not counted as archived, nor built on.
    await authority.vouch(name, bytes, "amendment", chain);
    const manifest = parseManifest(bytes);
    if (manifest?.amendment !== amendments.length + 1) {
      throw new ArchiveError(
        "ARCHIVE",
        `${name} is not the next readable amendment of its window: run verify`,
      );
    }
    for (const id of await archivedIds(sink, manifest, complete)) ids.add(id);
    amendments.push({ name, sha256: await sha256Hex(bytes) });
    last = bytes;
  }
  return { ids, amendments, last };
}

/**
 * Reconciles one committed window: re-reads it from the source, compares event ids with the window and its
 * amendments, and archives the missing events as the next amendment (create-if-absent, so two reconcilers
 * never both take one number; the one that loses leaves out what the winner archived and tries the next).
 * Extra events are reported, never removed.
 */
async function reconcileWindow(
  source: Source,
  sink: Sink,
  chain: string,
  committed: CommittedWindow,
  dryRun: boolean,
  authority: Authority,
): Promise<{ result: WindowReconciliation; amendments: { name: string; sha256: string }[] }> {
  const window = { start: Date.parse(committed.manifest.start), end: Date.parse(committed.manifest.end) };
  // Only a window the key vouches for is reconciled: an amendment is never chained onto a forged one.
  await authority.vouch(committed.name, committed.bytes, "manifest", chain);
  const read = await source.readWindow(window, Infinity);
  if (read.kind !== "complete") throw new ArchiveError("HTTP", "a window read without a limit overflowed");
  // --dry-run writes nothing, not even a window's data completed from its kept bytes.
  const archived = await archivedWindow(sink, chain, committed, !dryRun, authority);
  const inSource = new Set(read.events.map((e) => e.id));
  let missing = read.events.filter((e) => !archived.ids.has(e.id));
  const result: WindowReconciliation = {
    chain,
    window: describeWindow(window),
    inSource: inSource.size,
    archived: archived.ids.size,
    missing: missing.length,
    extra: [...archived.ids].filter((id) => !inSource.has(id)).length,
  };
  while (missing.length && !dryRun) {
    const n = archived.amendments.length + 1;
    const names = amendmentNames(chain, window, n);
    const encoded = await encodeWindow(missing, { kind: source.kind, window });
    const manifest = await manifestOf(
      source,
      window,
      { ...read, count: missing.length },
      names.data,
      archived.last,
      encoded,
      { n, amends: await sha256Hex(committed.bytes) },
    );
    const commit = await commitWindow(sink, chain, names, manifest, encoded.data, authority);
    await commit.written;
    archived.last = commit.record;
    archived.amendments.push({ name: names.manifest, sha256: await sha256Hex(archived.last) });
    result.amended = names.manifest;
    if (commit.ours) {
      metrics.add(
        "audit_archiver_late_events_total",
        { source: source.name, scope: source.scope },
        missing.length,
      );
      log("warn", "late events archived as an amendment", {
        chain,
        window: result.window,
        events: missing.length,
      });
      break;
    }
    // Another reconciler took this number first: what it archived is not archived again.
    const theirs = new Set(await archivedIds(sink, commit.manifest));
    missing = missing.filter((e) => !theirs.has(e.id));
  }
  return { result, amendments: archived.amendments };
}

/** Which windows a reconcile reads: a range (`reconcile`), or those due (`once` and `run`). */
interface ReconcileScope {
  from?: number;
  to?: number;
  /** Windows committed after this are not due yet, and the walk stops at the first one (passes). */
  committedBefore?: number;
  dryRun?: boolean;
  stop?: AbortSignal;
  /** A pass's DEADLINE: no window is read after it (the rest is read by the next pass). */
  deadline?: number;
  /** What the pass read already: the newest checkpoint, and each chain's main segment. */
  known?: { tip: Promise<CheckpointTip | undefined>; mains: Map<string, Segment> };
}

/**
 * Reconciles one source's chain over a range the source still holds. The range starts at the last
 * checkpoint's reconciled time (or the main segment's start) unless given; going on from there, it moves
 * that time on to the end of the last window read.
 */
async function reconcileSource(
  source: Source,
  sink: Sink,
  config: Config,
  authority: Authority,
  scope: ReconcileScope,
  reconciledUntil: number | undefined,
): Promise<
  { results: WindowReconciliation[]; until?: number; amendments: { name: string; sha256: string }[] }
> {
  const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
  const main = scope.known?.mains.get(chain) ??
    (await readSegments(sink, chain, authority)).find((s) => s.end === Infinity);
  const results: WindowReconciliation[] = [];
  const amendments: { name: string; sha256: string }[] = [];
  if (!main) return { results, amendments };
  // A window is committed after its end and after its chain's genesis: a pass looks no further than the
  // windows it may reconcile (`committedBefore`), and a chain begun since then has none.
  const due = scope.committedBefore;
  if (due !== undefined && Date.parse(parseGenesis(main.bytes)?.createdAt ?? "") > due) {
    return { results, amendments };
  }
  const to = Math.min(scope.to ?? Infinity, due ?? await frontierOf(sink, chain, main));
  // A pass with nothing new to reconcile stops here, before asking the source for its retention.
  if ((scope.from ?? reconciledUntil ?? main.start) >= to) return { results, amendments };
  const retention = await sourceRetention(source, source.name);
  // A day's margin: the source drops its oldest events continuously, and a window half gone reads as extra.
  const held = Date.now() - (retention.days - 1) * DAY_MS;
  // Before `floor` every window is reconciled, or no longer held by the source (nothing can be read of it).
  const floor = Math.max(reconciledUntil ?? main.start, held);
  const from = Math.max(scope.from ?? floor, held);
  let until = from <= floor ? floor : undefined;
  // A window whose amendments the key does not vouch for is read again by every pass until they are dealt with.
  let blocked = false;
  for await (const committed of committedWindows(sink, chain, from, to)) {
    const window = { start: Date.parse(committed.manifest.start), end: Date.parse(committed.manifest.end) };
    if (scope.stop?.aborted || Date.now() >= (scope.deadline ?? Infinity)) break;
    if (
      scope.committedBefore !== undefined &&
      Date.parse(committed.manifest.committedAt) > scope.committedBefore
    ) {
      break;
    }
    if (window.start >= held) {
      try {
        const found = await reconcileWindow(source, sink, chain, committed, scope.dryRun ?? false, authority);
        results.push(found.result);
        amendments.push(...found.amendments);
      } catch (error) {
        if (!(error instanceof ArchiveError) || !["ARCHIVE", "UNAUTHENTIC"].includes(error.code)) throw error;
        blocked ||= error.code === "UNAUTHENTIC";
        const empty = { inSource: 0, archived: 0, missing: 0, extra: 0 };
        results.push({ chain, window: describeWindow(window), ...empty, problem: error.message });
        log("warn", "a window could not be reconciled; reconcile goes on", { chain, error: error.message });
      }
    }
    if (!blocked && until !== undefined && window.start <= until) until = window.end;
  }
  return { results, until, amendments };
}

/**
 * Reconciles every source (in a pass: the windows committed RECONCILE_AFTER ago or earlier, each once), and
 * returns what the pass's checkpoint records.
 */
export async function reconcileSources(
  config: Config,
  sources: Source[],
  sink: Sink,
  proof: Pick<Proof, "authority" | "tip">,
  scope: ReconcileScope,
): Promise<{ results: WindowReconciliation[]; reconciliation: Reconciliation }> {
  const tip = await (scope.known?.tip ?? proof.tip(false));
  const reconciliation: Reconciliation = new Map();
  const results = await forEachSource(sources, async (source) => {
    const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
    const mark = tip?.checkpoint.chains.find((c) => c.chain === chain)?.reconciled;
    const found = await reconcileSource(
      source,
      sink,
      config,
      proof.authority,
      scope,
      mark ? Date.parse(mark) : undefined,
    );
    reconciliation.set(chain, { until: found.until, amendments: found.amendments });
    return found.results;
  });
  return { results: results.flat(), reconciliation };
}
