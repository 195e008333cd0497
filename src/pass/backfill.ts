/**
 * `backfill`: archives an older stretch still held by the source, as a segment before the archive's start.
 *
 * @module
 */

import { claimSegment, readSegments } from "../archive/chains.ts";
import { chainPrefix } from "../archive/names.ts";
import { BackfillProgress } from "../archive/progress.ts";
import type { Authority } from "../archive/seal.ts";
import type { Sink } from "../archive/sink.ts";
import { archiveSegment } from "../archive/window_loop.ts";
import type { Config } from "../config/validate.ts";
import { ArchiveError } from "../errors.ts";
import { forEachSource, newBudget } from "./open.ts";
import type { Source } from "../sources/source.ts";
import { floorTo } from "../time.ts";

/**
 * Archives [from, to) before what the chain holds, as a backfill segment that ends where the archive begins;
 * also completes backfill segments an earlier run left unfinished. On an empty archive it starts the chain at
 * `from` and archives up to `to`.
 */
export async function backfill(
  config: Config,
  sources: Source[],
  sink: Sink,
  range: { from: number; to?: number },
  authority: Authority,
  stop?: AbortSignal,
) {
  const { from, to } = range;
  const budget = newBudget(config, stop);
  const progress = new BackfillProgress(Deno.stderr.isTerminal());
  return await forEachSource(sources, async (source) => {
    const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
    await source.check();
    const start = floorTo(from, source.kind.granularityMs);
    let segments = await readSegments(sink, chain, authority);
    // An empty archive starts at --from; a `once` racing us may have started it at SINCE instead, and then
    // the stretch before it is backfilled like any other.
    const main = segments.length
      ? undefined
      : await claimSegment(sink, chain, source, start, undefined, authority);
    if (main?.start === start) {
      const segment = to === undefined ? main : { ...main, end: to };
      return [await archiveSegment(source, sink, config, budget, segment, { authority, progress })];
    }
    if (main) segments = await readSegments(sink, chain, authority);
    const earliest = segments[0].start;
    if (to !== undefined && to < earliest) {
      throw new ArchiveError(
        "USAGE",
        `--to ${new Date(to).toISOString()} would leave a gap before the archive's start ${
          new Date(earliest).toISOString()
        }: leave --to out, the backfill ends where the archive begins`,
      );
    }
    if (from < earliest) {
      await claimSegment(sink, chain, source, floorTo(from, source.kind.granularityMs), earliest, authority);
      segments = await readSegments(sink, chain, authority);
    }
    const reports = [];
    for (const segment of segments.filter((s) => s.end !== Infinity)) {
      reports.push(await archiveSegment(source, sink, config, budget, segment, { authority, progress }));
    }
    // Nothing before the start, and no earlier backfill left to finish: said, rather than a quiet exit 0.
    if (from >= earliest && reports.every((r) => r.windows === 0)) {
      throw new ArchiveError(
        "USAGE",
        `the archive of ${source.name} ${source.scope} already starts at ${
          new Date(earliest).toISOString()
        }: backfill only fills before the start (--from ${
          new Date(from).toISOString()
        } is not before it); give an earlier --from, or run once for what comes after the frontier`,
      );
    }
    return reports;
  }).finally(() => progress.end());
}
