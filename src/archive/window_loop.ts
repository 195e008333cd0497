/**
 * The one window loop for every source: plan, read (ahead), commit, within a pass's budget.
 *
 * @module
 */

import { readSegmentState } from "./chains.ts";
import { commitWindow, manifestOf, type ReadSummary, writeData } from "./commit.ts";
import { type EncodedWindow, encodeWindow, type Segment } from "./format.ts";
import type { LoggingCopy } from "./logging_copy.ts";
import { chainPrefix, keptName, objectNames } from "./names.ts";
import type { BackfillProgress } from "./progress.ts";
import type { Authority } from "./seal.ts";
import type { Sink } from "./sink.ts";
import type { Config } from "../config/validate.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import type { Source } from "../sources/source.ts";
import { cutWindow, describeWindow, nextStride, planWindow, type Window } from "../window.ts";

/** Outcome of archiving one source in one pass. */
export interface SourceReport {
  source: string;
  scope: string;
  windows: number;
  events: number;
  frontier: string;
  stopped: "caught-up" | "max-events" | "deadline" | "min-interval" | "shutdown";
}

/** Limits shared by every source of one pass. */
export interface PassBudget {
  eventsLeft: number;
  deadline: number;
  /** Aborted on shutdown: no new window starts. */
  stop?: AbortSignal;
}

/**
 * Archives one segment of a source's chain: commits every due window from its frontier up to the horizon
 * (now − settle, and the segment's end), within the pass budget. The loop is the same for every source and sink.
 */
export async function archiveSegment(
  source: Source,
  sink: Sink,
  config: Config,
  budget: PassBudget,
  segment: Segment,
  options: {
    authority: Authority;
    minIntervalMs?: number;
    copy?: LoggingCopy;
    progress?: BackfillProgress;
    known?: PassChains;
  },
): Promise<SourceReport> {
  const chain = chainPrefix(config.archivePrefix, source.name, source.scope);
  const context = { source: source.name, scope: source.scope };
  const { authority } = options;
  let state = await readSegmentState(sink, chain, segment, authority);
  const report: SourceReport = { ...context, windows: 0, events: 0, frontier: "", stopped: "caught-up" };
  if (Date.now() - state.frontier < (options.minIntervalMs ?? 0)) report.stopped = "min-interval";
  // Fixed for the pass: a horizon that moved with the clock would chase it with ever smaller windows.
  const horizon = Math.min(Date.now() - source.settleMs, segment.end);
  let stride = Infinity;
  const ahead: AheadRead[] = [];
  const inFlight = new InFlight();
  // Reading ahead pays while windows come out as planned; after a cut window or a lost claim (another
  // instance at work) the next window is read alone, so reads are not wasted on plans that will not hold.
  let asPlanned = true;
  /** The data objects of the newest committed windows, oldest first, written while later ones are claimed. */
  let unwritten: Promise<void>[] = [];
  while ((report.stopped = budgetStop(budget, report.stopped)) === "caught-up") {
    const limit = Math.min(inFlight.windowEvents(config.maxEventsPerObject), budget.eventsLeft);
    // Under a MAX_EVENTS budget that the windows ahead could exceed, only the next window is read.
    const depth = asPlanned && budget.eventsLeft >= config.maxEventsPerObject * (READ_AHEAD + 1)
      ? READ_AHEAD + 1
      : 1;
    const plan = { source, sink, chain, frontier: state.frontier, horizon, stride, limit, inFlight };
    readAhead(ahead, depth, plan);
    const next = ahead.shift();
    if (!next) break;
    const { window, read, encoded, kept } = await next.result;
    // Reads ahead are planned from the planned end of the window before: they hold only while it was not
    // cut, and a read sized for a larger budget than is left now is read again (invariants 1-3, MAX_EVENTS).
    if (window.start !== state.frontier || (next.limit > limit && read.count > limit)) {
      dropReads([next, ...ahead.splice(0)]);
      continue;
    }
    asPlanned = window.end === next.planned.end;
    if (!asPlanned) dropReads(ahead.splice(0));
    const names = objectNames(chain, window);
    const encodedWindow = await encoded;
    // Its pages are let go once it is compressed: a window the budget held back may start now, beside the claim.
    if (asPlanned) readAhead(ahead, depth - 1, { ...plan, frontier: window.end });
    const { data } = encodedWindow;
    const manifest = await manifestOf(source, window, read, names.data, state.previousRecord, encodedWindow);
    const commit = await commitWindow(sink, chain, names, manifest, data, authority, { kept, unwritten });
    next.releaseAfter(commit.written);
    unwritten = [...unwritten, commit.written].slice(-2);
    state = {
      frontier: Date.parse(commit.manifest.end),
      previousRecord: commit.record,
      last: commit.manifest,
    };
    if (!commit.ours) {
      asPlanned = false;
      if (state.frontier !== window.end) dropReads(ahead.splice(0));
      log("info", "window claimed by another instance; continuing after it", {
        ...context,
        window: describeWindow(window),
      });
      continue;
    }
    stride = nextStride(window, read.count, inFlight.windowEvents(config.maxEventsPerObject));
    countCommit(context, read.count, data.length);
    options.progress?.window(segment, window, read.count);
    report.windows++;
    report.events += read.count;
    budget.eventsLeft -= read.count;
    log("info", "window committed", {
      ...context,
      window: describeWindow(window),
      events: read.count,
      object: names.data,
    });
    if (options.copy) {
      await commit.written.then(() => options.copy!.copyWindow(sink, { authority, chain }, names.manifest));
    }
  }
  await Promise.all(unwritten);
  if (state.last) options.known?.heads.set(chain, state.previousRecord);
  report.frontier = new Date(state.frontier).toISOString();
  return report;
}

/**
 * Windows read while the one before is encoded and committed, so a window's first page, overflow probe and
 * commit no longer wait for each other (issue 11): at most this many after the one being committed, as a
 * read planned ahead is wasted when the window before it comes out cut. Requests stay within CONCURRENCY per
 * host (`RequestGate`); commits stay strictly in window order, as `archiveSegment` takes the reads one by one.
 */
const READ_AHEAD = 2;

/**
 * The bytes a segment's windows may hold at once (issue 21: memory flat in a small container): the pages of
 * the windows being read (a window's events are views into its pages, held until it is compressed) and the
 * compressed objects waiting for their claim and their write. A window may hold one share, WINDOW_BYTES of
 * events, so READ_AHEAD + 1 windows can be read at once with a share left for the compressed objects (about
 * a tenth of their pages each). Large events make windows of fewer events than MAX_EVENTS_PER_OBJECT (about
 * 4,900 OCI Audit events of 1.7 KB, 8,000 identity-domain events of 1 KB), so the memory a pass needs does
 * not grow with the windows a backlog fills. Not a setting: it keeps a pass within the ~200 MB measured in
 * docs/performance.md#memory whatever the backlog, and CONCURRENCY already tunes how fast pages come.
 */
const IN_FLIGHT_BYTES = 32 * 1024 * 1024;
export const WINDOW_BYTES = IN_FLIGHT_BYTES / (READ_AHEAD + 2);

/** The size assumed of an event before any was read: about the largest of either source's (OCI Audit's). */
const ASSUMED_EVENT_BYTES = 2048;

/**
 * What a segment's windows hold, in bytes, against IN_FLIGHT_BYTES. A window still being read counts as the
 * most it may hold: its event limit at the largest mean event size of a window read so far in the segment.
 * A window of one granule (an OCI Audit minute) is kept whole however much it holds (`readFittingWindow`).
 */
class InFlight {
  #held = 0;
  #eventBytes = 0;

  /** The most events a window may hold: MAX_EVENTS_PER_OBJECT, or fewer that fit in WINDOW_BYTES. */
  windowEvents(maxEventsPerObject: number): number {
    return Math.max(1, Math.min(maxEventsPerObject, Math.floor(WINDOW_BYTES / this.#largestEvent())));
  }

  /** Whether a window of at most `limit` events may be read beside those held. */
  admits(limit: number): boolean {
    return this.#held + this.estimate(limit) <= IN_FLIGHT_BYTES;
  }

  /** The most a window of at most `limit` events may hold. */
  estimate(limit: number): number {
    return limit * this.#largestEvent();
  }

  /** Learns the mean size of the events of a window read: `bytes` for `events` events. */
  learn(events: number, bytes: number) {
    if (events) this.#eventBytes = Math.max(this.#eventBytes, bytes / events);
  }

  #largestEvent(): number {
    return this.#eventBytes || ASSUMED_EVENT_BYTES;
  }

  /** Holds `bytes` for one window; what it returns changes them (to 0 when the window lets them go). */
  hold(bytes: number): (now: number) => void {
    let held = bytes;
    this.#held += bytes;
    return (now) => {
      this.#held += now - held;
      held = now;
    };
  }
}

/**
 * A window being read ahead: as planned (its read may cut it), and the budget it was read for. Its data is
 * compressed as soon as it is read (`encoded`) and its kept bytes go in (`kept`), while the windows before
 * are claimed. Its events are held only until they are compressed: a window waiting for its claim holds its
 * data object, about a tenth of the pages' bytes. `releaseAfter` lets its bytes go once its data object is
 * written (or, for a read dropped, its kept bytes).
 */
interface AheadRead {
  planned: Window;
  limit: number;
  result: Promise<
    { window: Window; read: ReadSummary; encoded: Promise<EncodedWindow>; kept: Promise<void> }
  >;
  releaseAfter(done: Promise<unknown>): void;
}

/** Starts reads of the windows after the last one in `ahead` (or after the frontier) until `depth` are. */
function readAhead(
  ahead: AheadRead[],
  depth: number,
  plan: {
    source: Source;
    sink: Sink;
    chain: string;
    frontier: number;
    horizon: number;
    stride: number;
    limit: number;
    inFlight: InFlight;
  },
) {
  const { inFlight } = plan;
  while (ahead.length < depth && (ahead.length === 0 || inFlight.admits(plan.limit))) {
    const from = ahead.at(-1)?.planned.end ?? plan.frontier;
    const planned = planWindow(from, plan.horizon, plan.source.kind.granularityMs, plan.stride);
    if (!planned) return;
    const holding = inFlight.hold(inFlight.estimate(plan.limit));
    const result = readFittingWindow(plan.source, planned, plan.limit).then(({ window, read }) => {
      const bytes = read.events.reduce((sum, event) => sum + event.json.length, 0);
      inFlight.learn(read.events.length, bytes);
      holding(bytes);
      const encoded = encodeWindow(read.events, { kind: plan.source.kind, window });
      // Named by the window and the data's hash: a window planned again leaves bytes no manifest names.
      const object = objectNames(plan.chain, window).data;
      const kept = encoded.then(({ data, sha256 }) => {
        holding(data.length);
        return writeData(plan.sink, keptName({ object, sha256 }), data, sha256);
      });
      encoded.catch(() => {});
      kept.catch(() => {});
      const { sourceTotal, skippedCompartments } = read;
      return { window, read: { count: read.events.length, sourceTotal, skippedCompartments }, encoded, kept };
    });
    // A read dropped unawaited (its window was planned again) must not end the process as unhandled.
    result.catch(() => {});
    const releaseAfter = (done: Promise<unknown>) => void done.finally(() => holding(0)).catch(() => {});
    ahead.push({ planned, limit: plan.limit, result, releaseAfter });
  }
}

/** Lets go of reads that will not be committed, once they are done with their bytes. */
function dropReads(reads: AheadRead[]) {
  for (const read of reads) read.releaseAfter(read.result.then(({ kept }) => kept));
}

/** Counts one committed window for /metrics. */
function countCommit(labels: { source: string; scope: string }, events: number, bytes: number) {
  metrics.add("audit_archiver_windows_committed_total", labels);
  metrics.add("audit_archiver_events_committed_total", labels, events);
  metrics.add("audit_archiver_committed_bytes_total", labels, bytes);
}

/** Why a pass stops before its next window, or "caught-up" while it may go on. */
function budgetStop(budget: PassBudget, stopped: SourceReport["stopped"]): SourceReport["stopped"] {
  if (stopped !== "caught-up") return stopped;
  if (budget.stop?.aborted) return "shutdown";
  if (budget.eventsLeft <= 0) return "max-events";
  return Date.now() >= budget.deadline ? "deadline" : "caught-up";
}

/** Reads a window, cut (on the source's granularity) until it holds at most `limit` events. */
async function readFittingWindow(source: Source, planned: Window, limit: number) {
  let window = planned;
  let read = await source.readWindow(window, limit);
  while (read.kind === "overflow") {
    window = cutWindow(window, read.cutAt, source.kind.granularityMs);
    // One granule cannot be cut further: it is kept whole, however many events share it.
    read = await source.readWindow(
      window,
      window.end - window.start <= source.kind.granularityMs ? Infinity : limit,
    );
  }
  return { window, read };
}

/**
 * What a pass read of its chains, so that its reconcile and its checkpoint need not read it again: each
 * chain's main segment, and its newest manifest (its head) as the pass left it. A concurrent instance may have
 * committed after it: a checkpoint then records an earlier head, which verify holds to all the same.
 */
export interface PassChains {
  mains: Map<string, Segment>;
  heads: Map<string, Uint8Array>;
}
