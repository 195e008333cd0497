/**
 * `status`: per chain, the frontier, lag, objects and next run, with warnings near the source's retention.
 *
 * @module
 */

import { ObjectStorageSink } from "../archive/bucket_sink.ts";
import { lastManifestBefore, readChain } from "../archive/chains.ts";
import { type Manifest, parseManifest, parseSegment, type Segment } from "../archive/format.ts";
import { LOG_CATCH_UP_DAYS, logCopyState } from "../archive/logging_copy.ts";
import type { Sink } from "../archive/sink.ts";
import type { SourceName } from "../config/settings.ts";
import type { Config } from "../config/validate.ts";
import { nextCronTime, parseCron } from "../cron.ts";
import type { CheckpointTip } from "../proof/authority.ts";
import type { Authority } from "../archive/seal.ts";
import { CLOCK_SKEW_MS } from "../archive/seal.ts";
import { sourceRetention } from "../sources/retention.ts";
import { type Source, SOURCE_KINDS } from "../sources/source.ts";
import { DAY_MS } from "../time.ts";
import { archivedChains } from "../pass/open.ts";

/** What `status` knows of one chain: its records, where it stands, and its source's retention. */
interface ChainFacts {
  source: SourceName;
  manifests: Manifest[];
  segments: Segment[];
  dataNames: Set<string>;
  names: string[];
  manifestNames: string[];
  frontier: string | null;
  lagMs: number | null;
  retention: { days: number; assumed: boolean };
  logId?: string;
  now: number;
}

/** The checks `status` makes of each chain, each a list of warnings (empty when all is well). */
const STATUS_CHECKS: ((facts: ChainFacts) => string[])[] = [
  function assumedRetention({ source, retention }) {
    return source === "oci-audit" && retention.assumed
      ? [
        `OCI Audit retention assumed to be ${retention.days} days, the shortest a tenancy can set: the tenancy's own (GetConfiguration) could not be read (see \`policies\`)`,
      ]
      : [];
  },
  function aheadOfClock({ frontier, lagMs }) {
    return lagMs !== null && lagMs < -CLOCK_SKEW_MS
      ? [
        `the frontier ${frontier} lies ahead of this clock: a forged window, or a wrong clock (docs/operations.md)`,
      ]
      : [];
  },
  function nearRetention({ frontier, lagMs, retention }) {
    if (lagMs === null || lagMs <= retention.days * DAY_MS * 0.8) return [];
    return [
      `unarchived events since ${frontier} are ${
        Math.round(lagMs / DAY_MS)
      } days old, near the source's ${retention.days}-day retention: run a pass now or they will be lost`,
    ];
  },
  function retiredFeed({ source, manifests, now }) {
    const week = manifests.filter((m) => now - Date.parse(m.end) < 7 * DAY_MS);
    return source === "idcs" && week.length && week.every((m) => m.events === 0)
      ? [
        "no events archived in the last 7 days: Oracle stopped feeding identity-domain events to AuditEvents (December 2024); they are in OCI Audit",
      ]
      : [];
  },
  function missingData({ manifests, dataNames }) {
    const missing = manifests.filter((m) => !dataNames.has(m.object)).map((m) => m.object);
    if (!missing.length) return [];
    return [
      `${missing.length} window(s) lack their data object (${missing.slice(0, 3).join(", ")}${
        missing.length > 3 ? ", …" : ""
      }): a pass completes those whose kept bytes exist; run verify`,
    ];
  },
  function loggingCopies({ logId, manifestNames, names }) {
    if (!logId) return [];
    const states = manifestNames.map((name) => logCopyState(name, names).kind);
    const unknown = states.filter((k) => k === "unknown").length;
    const failed = states.filter((k) => k === "failed" || k === "none").length;
    return [
      ...(unknown
        ? [
          `${unknown} window(s) have a Logging copy in an unknown state (a pass stopped while pushing, or a push's answer was lost): compare the log with the archive; they are not pushed again`,
        ]
        : []),
      ...(failed
        ? [
          `${failed} window(s) are not copied to Logging yet: each pass retries those of the last ${LOG_CATCH_UP_DAYS} days`,
        ]
        : []),
    ];
  },
  function incompleteBackfills({ segments, manifests }) {
    return segments
      .filter((g) => g.end !== Infinity && !manifests.some((m) => Date.parse(m.end) === g.end))
      .map((g) => {
        const [start, end] = [g.start, g.end].map((ms) => new Date(ms).toISOString());
        return `backfill [${start}, ${end}) is incomplete: run backfill again`;
      });
  },
];

/** Reads what status needs of one chain. */
async function chainFacts(sink: Sink, chain: string, config: Config, sources: Source[], now: number) {
  const stored = await readChain(sink, chain);
  const manifests = stored.manifests.map((l) => parseManifest(l.bytes)).filter((m) => m !== undefined);
  manifests.sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
  const segments = stored.geneses.map((l) => parseSegment(l.name, l.bytes)).filter((g) => g !== undefined);
  const main = segments.find((g) => g.end === Infinity);
  const frontier = manifests.at(-1)?.end ?? (main ? new Date(main.start).toISOString() : null);
  const [source, scope] = chain.split("/").slice(-2) as [SourceName, string];
  const configured = sources.find((s) => s.name === source && s.scope === scope);
  return {
    source,
    manifests,
    segments,
    dataNames: new Set(stored.dataNames),
    names: stored.names,
    manifestNames: stored.manifests.map((l) => l.name),
    frontier,
    lagMs: frontier ? now - Date.parse(frontier) : null,
    retention: await sourceRetention(configured, source),
    logId: config.oci.logId,
    now,
  };
}

/** Why the keys do not vouch for a chain's newest window, which no pass will build on; undefined when they do. */
async function headProblem(sink: Sink, chain: string, authority: Authority): Promise<string | undefined> {
  const name = await lastManifestBefore(sink, chain, Infinity);
  const bytes = name && await sink.read(name);
  if (!name || !bytes) return undefined;
  return await authority.vouch(name, bytes, "manifest", chain).then(
    () => undefined,
    (error) => error.message,
  );
}

/** `status`: per chain, where it stands on both clocks, what it holds, and every warning its checks raise. */
export async function archiveStatus(
  config: Config,
  sink: Sink,
  now: number,
  sources: Source[],
  trust: { authority: Authority; tip(complete: boolean): Promise<CheckpointTip | undefined> },
) {
  const nextRun = nextCronTime(parseCron(config.schedule)!, now);
  let tipProblem: string | undefined;
  const tip = await trust.tip(false).catch((error) => void (tipProblem = (error as Error).message));
  const chains = [];
  for (const chain of await archivedChains(config, sink)) {
    const facts = await chainFacts(sink, chain, config, sources, now);
    const { manifests, lagMs, retention } = facts;
    const unauthentic = await headProblem(sink, chain, trust.authority);
    const amendments = manifests.filter((m) => m.amendment);
    const lastEventTime = manifests.findLast((m) => m.lastEventTime)?.lastEventTime ?? null;
    chains.push({
      chain,
      basis: SOURCE_KINDS[facts.source]?.basis ?? null,
      frontier: facts.frontier,
      // On processing time (OCI Audit) the frontier and the newest event's own time are two clocks: both lags.
      lagSeconds: lagMs === null ? null : Math.round(lagMs / 1000),
      eventLagSeconds: lastEventTime === null ? null : Math.round((now - Date.parse(lastEventTime)) / 1000),
      objects: facts.dataNames.size,
      events: manifests.reduce((n, m) => n + m.events, 0),
      // Late events: what reconcile found in the source for committed windows, archived as amendments.
      amendments: amendments.length,
      lateEvents: amendments.reduce((n, m) => n + m.events, 0),
      reconciledUntil: tip?.checkpoint.chains.find((c) => c.chain === chain)?.reconciled ?? null,
      lastEventTime,
      retentionDays: retention.days,
      retentionAssumed: retention.assumed,
      warnings: [...STATUS_CHECKS.flatMap((check) => check(facts)), ...(unauthentic ? [unauthentic] : [])],
    });
  }
  const protection = sink instanceof ObjectStorageSink
    ? await sink.retention(now)
    : "not WORM: a local directory; protect it with file permissions, or archive to a bucket with a retention rule";
  const checkpoint = tip
    ? {
      sequence: tip.checkpoint.sequence,
      time: tip.checkpoint.time,
      ageSeconds: Math.round((now - Date.parse(tip.checkpoint.time)) / 1000),
      keyId: tip.checkpoint.keyId,
    }
    : tipProblem
    ? { problem: tipProblem }
    : null;
  return { sink: sink.description, protection, nextRun: new Date(nextRun).toISOString(), checkpoint, chains };
}
