/**
 * The optional OCI Logging copy of each committed window: at most once, retried on later passes.
 *
 * @module
 */

import type * as OciLogging from "oci-loggingingestion";
import { encodeRecord, eventKey, eventTime, gunzip, kindOf, type Manifest, parseManifest } from "./format.ts";
import { dayPrefix, MANIFEST_SUFFIX, parseAmendmentName } from "./names.ts";
import type { Authority } from "./seal.ts";
import type { Sink } from "./sink.ts";
import { ArchiveError } from "../errors.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import { ociCall, ociClient } from "../oci/client.ts";
import type { OciSession } from "../oci/session.ts";
import { DAY_MS } from "../time.ts";

/** What the copy needs to judge a window before copying it: the Authority, and the window's chain. */
interface Trust {
  authority: Authority;
  chain: string;
}
/**
 * Logging ingestion truncates any field over 10,000 characters ("Any log data field cannot be more than 10,000
 * characters … truncated during ingestion", LogEntry model): longer lines go as parts of at most this many
 * characters (counted in UTF-16 code units, never more than characters).
 */
const LOG_FIELD_MAX_CHARS = 10_000;

/**
 * The largest request body the program sends, in UTF-8 bytes as sent: Oracle documents no request limit (only
 * entries under 1 MB: docs/oracle/oci-apis.md, "Logging ingestion"), so requests stay well under any plausible
 * one. A field of 10,000 characters may be 40,000 bytes, and more once JSON-escaped.
 */
const LOG_REQUEST_MAX_BYTES = 4 * 1024 * 1024;
/** Room left in each request for what surrounds the entries: specversion, source, type, subject, time. */
const LOG_ENVELOPE_BYTES = 4 * 1024;

/** How far back each pass looks for windows whose copy failed or never ran (a Logging outage up to a week). */
export const LOG_CATCH_UP_DAYS = 7;

/** One Logging entry: the archived event line, its id and time. */
interface LogEntry {
  id: string;
  time: string;
  data: string;
}

/**
 * The Logging entries of one archived line: the line itself, or, over LOG_FIELD_MAX_CHARS, its parts in order
 * with ids `{id}#{k}/{n}`, so the copy is never silently cut: joined, the parts are the archived line. Parts are
 * cut between code points. Pure.
 */
function logEntries(id: string, time: string, line: string): LogEntry[] {
  if (line.length <= LOG_FIELD_MAX_CHARS) return [{ id, time, data: line }];
  const parts: string[] = [];
  let part = "";
  for (const codePoint of line) {
    if (part.length + codePoint.length > LOG_FIELD_MAX_CHARS) {
      parts.push(part);
      part = "";
    }
    part += codePoint;
  }
  parts.push(part);
  return parts.map((data, k) => ({ id: `${id}#${k + 1}/${parts.length}`, time, data }));
}

const utf8 = new TextEncoder();

/**
 * Splits entries into batches, in order, whose `entries` array is at most `maxBytes` of UTF-8 as sent (JSON
 * escapes included; a string's `length` counts UTF-16 code units, a third of the bytes of a CJK text). Pure.
 */
export function logBatches(
  entries: LogEntry[],
  maxBytes = LOG_REQUEST_MAX_BYTES - LOG_ENVELOPE_BYTES,
): LogEntry[][] {
  const batches: LogEntry[][] = [];
  let batch: LogEntry[] = [], size = 2; // the array's brackets
  for (const entry of entries) {
    const bytes = utf8.encode(JSON.stringify(entry)).length + 1; // and its comma
    if (batch.length && size + bytes > maxBytes) {
      batches.push(batch);
      batch = [];
      size = 2;
    }
    batch.push(entry);
    size += bytes;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

/**
 * A window's Logging attempts, from the names beside its manifest: attempt n is claimed by
 * `{start}.log-{n}.json` before it pushes anything, and ends in `….log-{n}.done.json` or `….log-{n}.failed.json`
 * (which records how many batches went in). Pure.
 */
export function logCopyState(manifestName: string, names: string[]):
  | { kind: "none" }
  | { kind: "done" }
  | { kind: "failed"; attempt: number }
  | { kind: "unknown"; attempt: number } {
  const base = manifestName.slice(0, -MANIFEST_SUFFIX.length);
  let attempt = 0;
  for (const name of names) {
    const match = name.startsWith(`${base}.log-`) && /\.log-(\d+)\.json$/.exec(name);
    if (match) attempt = Math.max(attempt, Number(match[1]));
  }
  if (!attempt) return { kind: "none" };
  if (names.includes(`${base}.log-${attempt}.done.json`)) return { kind: "done" };
  if (names.includes(`${base}.log-${attempt}.failed.json`)) return { kind: "failed", attempt };
  return { kind: "unknown", attempt };
}

const logMarker = (manifestName: string, attempt: number, outcome?: "done" | "failed") =>
  `${manifestName.slice(0, -MANIFEST_SUFFIX.length)}.log-${attempt}${outcome ? `.${outcome}` : ""}.json`;

/**
 * Whether a failed request certainly did nothing: refused before it was taken in (429 TooManyRequests, 503
 * ServiceUnavailable) or rejected as invalid (another 4xx). A network error or another 5xx may have come after
 * the service did the work.
 */
const refusedUntouched = (error: unknown) => {
  const status = error instanceof ArchiveError ? error.status ?? 0 : 0;
  return status === 429 || status === 503 || (status >= 400 && status < 500);
};

/**
 * Pushes committed windows to an OCI Logging custom log. The archive stays the record: a failure is logged and
 * left for a later pass, never thrown into the commit path. An attempt is claimed (create-if-absent) before its
 * first request, so two instances never push one window, and a crash mid-push leaves the window marked
 * unknown (status reports it) rather than pushed again. PutLogs is not idempotent: a push whose answer was lost
 * (a network error, a 5xx) may have gone in, so it is never retried, and its attempt stays unknown too.
 */
export class LoggingCopy {
  readonly #client: OciLogging.LoggingClient;
  /** Set at the first failure of a pass: the rest waits for the next pass rather than failing one by one. */
  #down = false;
  constructor(session: OciSession, readonly logId: string) {
    this.#client = ociClient(session, session.sdk.loggingingestion.LoggingClient, "logging", {
      freshConnections: true, // PutLogs is not idempotent
    });
  }

  /** Copies the windows of the last week before `frontier` that were not copied, or whose copy failed. */
  async catchUp(sink: Sink, chain: string, frontier: number, authority: Authority) {
    this.#down = false;
    for (let day = frontier - LOG_CATCH_UP_DAYS * DAY_MS; day <= frontier && !this.#down; day += DAY_MS) {
      const names = await this.#contained("list", () => sink.listChildren(dayPrefix(chain, day)));
      for (const name of (names ?? []).filter((n) => n.endsWith(MANIFEST_SUFFIX))) {
        await this.copyWindow(sink, { authority, chain }, name, names);
      }
    }
  }

  /** Copies one committed window unless it is copied, claimed by another attempt, or in an unknown state. */
  async copyWindow(sink: Sink, trust: Trust, manifestName: string, known?: string[]) {
    if (this.#down) return;
    await this.#contained(manifestName, () => this.#copy(sink, trust, manifestName, known));
  }

  /** Runs one step of the copy; any failure is logged and ends this pass's copying, never the pass. */
  async #contained<T>(what: string, step: () => Promise<T>): Promise<T | undefined> {
    try {
      return await step();
    } catch (error) {
      this.#down = true;
      log("error", "Logging copy failed; the next pass retries it", {
        what,
        error: (error as Error).message,
      });
      return undefined;
    }
  }

  async #copy(sink: Sink, trust: Trust, manifestName: string, known?: string[]) {
    const names = known ?? await sink.listChildren(manifestName.slice(0, manifestName.lastIndexOf("/")));
    const state = logCopyState(manifestName, names);
    if (state.kind === "done" || state.kind === "unknown") return;
    // Only what the key vouches for is copied: a manifest someone else added stops this pass's copying, loudly.
    const stored = (await sink.read(manifestName))!;
    const kind = parseAmendmentName(manifestName) ? "amendment" : "manifest";
    await trust.authority.vouch(manifestName, stored, kind, trust.chain);
    const attempt = state.kind === "failed" ? state.attempt + 1 : 1;
    const skip = state.kind === "failed" ? await this.#batchesPushed(sink, manifestName, state.attempt) : 0;
    // Unique to this attempt: a create-if-absent that finds identical bytes takes them for its own retried write,
    // so two claims made in the same millisecond must still differ.
    const claim = encodeRecord({
      logId: this.logId,
      claimedAt: new Date().toISOString(),
      claimant: crypto.randomUUID(),
    });
    if (!await sink.createExclusive(logMarker(manifestName, attempt), claim)) return; // another instance has it
    const manifest = parseManifest(stored)!;
    const batches = logBatches(await this.#entries(sink, manifest));
    let pushed = skip;
    try {
      for (const batch of batches.slice(skip)) {
        await this.#push(manifest, batch);
        pushed++;
      }
    } catch (error) {
      if (!refusedUntouched(error)) {
        metrics.add("audit_archiver_logging_copies_total", { outcome: "unknown" });
        throw error; // the attempt stays unknown: the push may have gone in
      }
      metrics.add("audit_archiver_logging_copies_total", { outcome: "failed" });
      await sink.createExclusive(
        logMarker(manifestName, attempt, "failed"),
        encodeRecord({ batchesPushed: pushed, error: (error as Error).message.slice(0, 300) }),
      );
      throw error;
    }
    await sink.createExclusive(logMarker(manifestName, attempt, "done"), encodeRecord({ batches: pushed }));
    metrics.add("audit_archiver_logging_copies_total", { outcome: "done" });
  }

  async #batchesPushed(sink: Sink, manifestName: string, attempt: number): Promise<number> {
    const marker = await sink.read(logMarker(manifestName, attempt, "failed"));
    return JSON.parse(new TextDecoder().decode(marker)).batchesPushed;
  }

  /** The window's archived lines as Logging entries (long ones in parts), read back from the archive. */
  async #entries(sink: Sink, manifest: Manifest): Promise<LogEntry[]> {
    const kind = kindOf(manifest)!;
    const text = new TextDecoder().decode(await gunzip((await sink.read(manifest.object))!));
    return text.split("\n").filter(Boolean).flatMap((line) => {
      const event = JSON.parse(line);
      return logEntries(eventKey(kind, event)!, new Date(eventTime(kind, event)!).toISOString(), line);
    });
  }

  /** One PutLogs request. Retried only when Logging refused it untouched (429, 503). */
  async #push(manifest: Manifest, batch: LogEntry[]) {
    await ociCall("Logging push", () =>
      this.#client.putLogs({
        logId: this.logId,
        putLogsDetails: {
          specversion: "1.0",
          logEntryBatches: [{
            entries: batch as unknown as OciLogging.models.LogEntry[],
            source: "audit-archiver",
            type: `audit-archiver.${manifest.source}`,
            subject: manifest.scope,
            defaultlogentrytime: manifest.end as unknown as Date,
          }],
        },
      }), { retry: refusedUntouched });
  }
}
