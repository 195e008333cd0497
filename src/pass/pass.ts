/**
 * One pass of `once` and `run`: archive every due window, reconcile, and sign the checkpoint.
 *
 * @module
 */

import { claimSegment, readSegments, readSegmentState } from "../archive/chains.ts";
import type { LoggingCopy } from "../archive/logging_copy.ts";
import { chainPrefix } from "../archive/names.ts";
import type { Authority } from "../archive/seal.ts";
import type { Sink } from "../archive/sink.ts";
import { archiveSegment, type PassChains, type SourceReport } from "../archive/window_loop.ts";
import type { Config } from "../config/validate.ts";
import { metrics } from "../metrics.ts";
import { forEachSource, newBudget } from "./open.ts";
import type { Proof } from "./proof.ts";
import { reconcileSources } from "./reconcile.ts";
import type { Checkpoint } from "../proof/checkpoint.ts";

import type { Source } from "../sources/source.ts";
import { floorTo } from "../time.ts";

/** One archive pass over every source: the main segment of each chain, from its frontier. */
async function archivePass(
  config: Config,
  sources: Source[],
  sink: Sink,
  authority: Authority,
  copy?: LoggingCopy,
  stop?: AbortSignal,
  known: PassChains = { mains: new Map(), heads: new Map() },
): Promise<SourceReport[]> {
  const budget = newBudget(config, stop);
  return await forEachSource(sources, async (source) => {
    const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
    // Credentials and permissions are proven before anything is written (invariant 5): a pass with a bad key
    // completes no window and copies nothing.
    const [, segments] = await Promise.all([source.check(), readSegments(sink, chain, authority)]);
    let main = segments.find((s) => s.end === Infinity);
    const since = floorTo(source.since, source.kind.granularityMs);
    main ??= await claimSegment(sink, chain, source, since, undefined, authority);
    known.mains.set(chain, main);
    // Windows whose copy failed (or never ran) on an earlier pass go first.
    await copy?.catchUp(
      sink,
      chain,
      (await readSegmentState(sink, chain, main, authority)).frontier,
      authority,
    );
    return await archiveSegment(source, sink, config, budget, main, {
      authority,
      minIntervalMs: config.minIntervalMs,
      copy,
      known,
    });
  });
}

/**
 * One pass of `once` and of `run`: archive every due window, reconcile the windows committed RECONCILE_AFTER
 * ago (each once), and sign the checkpoint that records both. A failed reconcile still gets its checkpoint
 * (the archive pass's windows are proven) and fails the pass after it; its windows are read again next pass.
 */
export async function provenPass(
  config: Config,
  sources: Source[],
  sink: Sink,
  copy: LoggingCopy | undefined,
  proof: Proof,
  stop?: AbortSignal,
): Promise<{ reports: SourceReport[]; checkpoint: Checkpoint }> {
  const started = Date.now();
  const known: PassChains = { mains: new Map(), heads: new Map() };
  const reports = await archivePass(config, sources, sink, proof.authority, copy, stop, known);
  let failure: unknown;
  // Read once for both the reconcile and the checkpoint, which then run side by side.
  const tip = proof.tip(true);
  tip.catch(() => {});
  const reconciliation = reconcileSources(config, sources, sink, proof, {
    committedBefore: Date.now() - config.reconcileAfterMs,
    stop,
    deadline: started + (config.deadlineMs ?? Infinity),
    known: { tip, mains: known.mains },
  }).then((result) => result.reconciliation, (error) => void (failure = error));
  const signed = await proof.checkpoint({ reconciliation, tip, heads: known.heads });
  metrics.set("audit_archiver_checkpoint_timestamp_seconds", {}, Date.parse(signed.time) / 1000);
  metrics.set("audit_archiver_checkpoint_sequence", {}, signed.sequence);
  if (failure) throw failure;
  return { reports, checkpoint: signed };
}
