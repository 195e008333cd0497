/**
 * Opening what a command works on: the SDK packages it needs, the sink, the mirror and the sources.
 *
 * @module
 */

import { ObjectStorageSink } from "../archive/bucket_sink.ts";
import { DirectorySink } from "../archive/directory_sink.ts";
import { listChains } from "../archive/chains.ts";
import type { Sink } from "../archive/sink.ts";
import type { PassBudget } from "../archive/window_loop.ts";
import { type Config, sourceScope } from "../config/validate.ts";
import { ArchiveError } from "../errors.ts";
import { log } from "../log.ts";
import type { SdkPackage } from "../oci/sdk.ts";
import type { OciSession } from "../oci/session.ts";
import { IdcsSource } from "../sources/idcs.ts";
import { loadSigner } from "../sources/idcs_token.ts";
import { OciAuditSource } from "../sources/oci_audit.ts";
import type { Source } from "../sources/source.ts";

/** The OCI SDK packages the configuration uses (none: no OCI session at all). */
export function sdkPackages(config: Config, withSources: boolean): SdkPackage[] {
  const sources = withSources ? config.sources : [];
  const uses: [SdkPackage, boolean][] = [
    [
      "objectstorage",
      Boolean(config.oci.bucket) || Boolean(config.checkpointMirror?.startsWith(MIRROR_BUCKET)),
    ],
    ["loggingingestion", withSources && Boolean(config.oci.logId)],
    [
      "keymanagement",
      (withSources && Boolean(config.checkpointSigningKey)) || sources.some((s) => s.signingKeyId),
    ],
    ["secrets", sources.some((s) => s.keySecretId)],
    ["audit", sources.some((s) => s.source === "oci-audit")],
    ["identity", sources.some((s) => s.source === "oci-audit")],
  ];
  return uses.filter(([, used]) => used).map(([name]) => name);
}

/** The bucket when OCI_BUCKET is set (its protection logged), else the directory. */
export const MIRROR_BUCKET = "oci://";

/** CHECKPOINT_MIRROR as a sink: a directory, or a bucket of the same namespace (`oci://<bucket>`). */
export async function openMirror(config: Config, session: OciSession | undefined): Promise<Sink | undefined> {
  const mirror = config.checkpointMirror;
  if (mirror === undefined) return undefined;
  if (!mirror.startsWith(MIRROR_BUCKET)) return new DirectorySink(mirror);
  return await ObjectStorageSink.open(session!, mirror.slice(MIRROR_BUCKET.length), config.oci.namespace);
}

/** The sink; logs it with the sources the command reads (none for status, verify and export of an archive). */
export async function openSink(config: Config, session: OciSession | undefined): Promise<Sink> {
  const sink = config.oci.bucket
    ? await ObjectStorageSink.open(session!, config.oci.bucket, config.oci.namespace)
    : new DirectorySink(config.archiveDir);
  log("info", "sink and sources", {
    sink: sink.description,
    sources: config.sources.map((s) => `${s.source} ${sourceScope(s)}`),
  });
  return sink;
}

/**
 * The chains a reading command (status, export) works on. None means the settings point where there is no
 * archive: a CONFIG error (exit 2) naming where it looked, rather than an empty answer.
 */
export async function archivedChains(config: Config, sink: Sink): Promise<string[]> {
  const chains = await listChains(sink, config.archivePrefix);
  if (chains.length) return chains;
  if (!config.oci.bucket && !await Deno.stat(config.archiveDir).then(() => true, () => false)) {
    throw new ArchiveError(
      "CONFIG",
      `ARCHIVE_DIR ${config.archiveDir} does not exist: set ARCHIVE_DIR (or OCI_BUCKET) to where the archive is`,
    );
  }
  const where = config.oci.bucket ? `OCI_BUCKET ${config.oci.bucket}` : `ARCHIVE_DIR ${config.archiveDir}`;
  throw new ArchiveError(
    "CONFIG",
    `${where} holds no archive under ARCHIVE_PREFIX "${config.archivePrefix}": check ARCHIVE_DIR, OCI_BUCKET and ARCHIVE_PREFIX, or run once to start the archive`,
  );
}

/** Logs a bucket's retention rules while the command runs (for reporting only: the pass never waits for them). */
export async function logRetention(sink: Sink) {
  if (sink instanceof ObjectStorageSink) {
    log("info", "bucket retention", { sink: sink.description, retention: await sink.retention() });
  }
}

/** Builds the configured sources, loading keys; fails before any archive write when a key is unusable. */
export async function openSources(config: Config, session: OciSession | undefined): Promise<Source[]> {
  return await Promise.all(
    config.sources.map(async (s) =>
      s.source === "oci-audit"
        ? new OciAuditSource(s, session!, config)
        : new IdcsSource(s, await loadSigner(s, session), config)
    ),
  );
}

export const newBudget = (config: Config, stop?: AbortSignal): PassBudget => ({
  stop,
  eventsLeft: config.maxEvents ?? Infinity,
  deadline: config.deadlineMs === undefined ? Infinity : Date.now() + config.deadlineMs,
});

/** Runs `task` for every source concurrently; throws one error naming every source that failed. */
export async function forEachSource<T>(
  sources: Source[],
  task: (source: Source) => Promise<T>,
): Promise<T[]> {
  const results = await Promise.allSettled(sources.map(task));
  const failures = results.flatMap((result, i) =>
    result.status === "fulfilled"
      ? []
      : [`${sources[i].name} ${sources[i].scope}: ${(result.reason as Error).message}`]
  );
  if (failures.length === 1) throw results.find((r) => r.status === "rejected")!.reason;
  if (failures.length) {
    throw new ArchiveError("HTTP", `${failures.length} sources failed:\n  - ${failures.join("\n  - ")}`);
  }
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
