/**
 * The one commit path for every window into every sink: kept bytes, claim by manifest, then data.
 *
 * @module
 */

import { buildManifest, type EncodedWindow, type Manifest, parseManifest } from "./format.ts";
import { keptName } from "./names.ts";
import type { Authority } from "./seal.ts";
import type { Sink } from "./sink.ts";
import { sha256Hex } from "../bytes.ts";
import { ArchiveError } from "../errors.ts";
import { log } from "../log.ts";
import type { Source, WindowRead } from "../sources/source.ts";
import type { Window } from "../window.ts";

/**
 * Commits one window: keeps its data bytes, creates its manifest (named by the start: the claim), then its data
 * object — each create-if-absent, so a concurrent instance can never overwrite or overlap it. A crash after
 * the claim leaves a window any instance completes from the kept bytes (`completeWindow`). When another
 * instance claimed the start first, its window is completed here too (it may have died right after its
 * claim) before this instance moves on: the commit owns the lost-claim rule.
 *
 * Returns the manifest that holds, and the write of its data object, still under way. The chain's data
 * objects go in window order (`unwritten`: the writes still under way, oldest first), and a claim waits for
 * all of them but the newest, so only a chain's two newest windows can lack their data object, and only as a
 * suffix: `readSegmentState` completes them. A bucket window then waits for one round trip, its claim, when
 * its kept bytes went in while the window before was claimed (`kept`, from the read ahead). The manifest is
 * sealed with the archiver's key, and a winner's is built on only when the key vouches for it (invariant 11).
 */
export async function commitWindow(
  sink: Sink,
  chain: string,
  names: { data: string; manifest: string },
  manifest: Manifest,
  data: Uint8Array,
  authority: Authority,
  pipeline: { kept?: Promise<void>; unwritten?: Promise<void>[] } = {},
): Promise<{ ours: boolean; manifest: Manifest; record: Uint8Array; written: Promise<void> }> {
  const { kept = writeData(sink, keptName(manifest), data, manifest.sha256), unwritten = [] } = pipeline;
  await Promise.all([kept, ...unwritten.slice(0, -1)]);
  const record = await authority.seal(manifest);
  if (await sink.createExclusive(names.manifest, record)) {
    const written = (unwritten.at(-1) ?? Promise.resolve()).then(() =>
      writeData(sink, names.data, data, manifest.sha256)
    );
    // Awaited by the next commit or the caller; a failure must not end the process as unhandled meanwhile.
    written.catch(() => {});
    return { ours: true, manifest, record, written };
  }
  // The winner chained onto this instance's windows: theirs get their data first, so the suffix rule holds.
  await Promise.all(unwritten);
  const stored = await sink.read(names.manifest);
  const winner = stored && parseManifest(stored);
  if (!winner) throw new ArchiveError("ARCHIVE", `${names.manifest} is not a readable manifest: run verify`);
  await authority.vouch(names.manifest, stored, winner.amendment ? "amendment" : "manifest", chain);
  await completeWindow(sink, winner);
  // The next window chains onto the bytes as stored (another version may have written them otherwise).
  return { ours: false, manifest: winner, record: stored, written: Promise.resolve() };
}

/** Writes an object if absent; an existing one must be byte-identical (another instance's same write). */
export async function writeData(sink: Sink, name: string, data: Uint8Array, sha256: string) {
  if (await sink.createExclusive(name, data)) return;
  const existing = await sink.read(name);
  if (!existing || await sha256Hex(existing) !== sha256) {
    throw new ArchiveError("ARCHIVE", `${name} exists with other content than its manifest: run verify`);
  }
}

/**
 * Makes sure a claimed window has its data object, copying the kept bytes where it does not. Never re-reads
 * the source (which may return other events by now). A window with neither (written before kept bytes
 * existed) is reported, by this warning and by `status` and `verify`, and the chain goes on (invariant 9).
 */
export async function completeWindow(sink: Sink, manifest: Manifest): Promise<void> {
  if (await sink.exists(manifest.object)) return;
  const kept = await sink.read(keptName(manifest));
  if (kept === undefined || await sha256Hex(kept) !== manifest.sha256) {
    log("warn", "a committed window has no data object and no kept bytes to complete it from: run verify", {
      object: manifest.object,
    });
    return;
  }
  await writeData(sink, manifest.object, kept, manifest.sha256);
  log("warn", "completed a window another instance claimed but did not finish", { object: manifest.object });
}

/** What a window's read says besides its events: how many, and the source's own account of them. */
export type ReadSummary =
  & { count: number }
  & Pick<Extract<WindowRead, { kind: "complete" }>, "sourceTotal" | "skippedCompartments">;

/** Builds the manifest that claims an encoded window, chained onto the previous record. */
export async function manifestOf(
  source: Source,
  window: Window,
  read: ReadSummary,
  object: string,
  previousRecord: Uint8Array,
  encoded: EncodedWindow,
  amendment?: { n: number; amends: string },
) {
  return buildManifest({
    source,
    window,
    object,
    encoded,
    sourceTotal: read.sourceTotal,
    skippedCompartments: read.skippedCompartments,
    amendment,
    previous: await sha256Hex(previousRecord),
    now: Date.now(),
  });
}
