/**
 * `verify`: proves the archive offline — tiling, hashes, the chain, and the signed checkpoints.
 *
 * @module
 */

import { listChains, listTree, readChain } from "../archive/chains.ts";
import { eventIds, parseManifest } from "../archive/format.ts";
import { parseAmendmentName } from "../archive/names.ts";
import type { Sink } from "../archive/sink.ts";
import { sha256Hex } from "../bytes.ts";
import { overlaps, verifyChain, verifyData } from "./chain.ts";
import {
  CHECKPOINT_SUFFIX,
  checkpointClaimName,
  judgeNewest,
  type NewestCheckpoint,
  parseCheckpoint,
  verifyCheckpoints,
} from "./checkpoint.ts";
import { checkpointKeys } from "./checkpoint_key.ts";
import { unvouchedRecords } from "./seals.ts";

export interface VerifyReport {
  /** How many checkpoints were checked. */
  checkpoints?: number;
  /** The keys whose signatures were accepted, and where they came from: pinned by the auditor, or the archive. */
  trust?: { keys: string[]; from: "pinned" | "archive"; note?: string };
  /** The newest authentic checkpoint: its age, its writer's cadence, and whether passes stopped. */
  newestCheckpoint?: NewestCheckpoint;
  chains: {
    chain: string;
    windows: number;
    /** Amendments: events the source showed for committed windows only later. */
    amendments: number;
    events: number;
    checkedObjects: number;
    from: string | null;
    to: string | null;
  }[];
  problems: string[];
}

/**
 * Proves the archive: for every chain, the tiling and hash chain over all manifests, and each data object in
 * [from, to) against its manifest. A missing data object is a problem too.
 */
export async function verifyArchive(
  sink: Sink,
  prefix: string,
  from = -Infinity,
  to = Infinity,
  proof: {
    publicKeyPems?: string[];
    /** `--max-staleness`: the auditor's own bound, instead of the cadence the writer declared. */
    maxStalenessMs?: number;
    /** The verifier's SCHEDULE interval: bounds only checkpoints that declare no cadence (older writers). */
    scheduleIntervalMs?: number;
    now?: number;
    mirror?: Sink;
  } = {},
): Promise<VerifyReport> {
  const report: VerifyReport = { chains: [], problems: [] };
  const chains = await listChains(sink, prefix);
  const manifestHashes = new Map<string, Set<string>>();
  const stored = new Map<string, Awaited<ReturnType<typeof readChain>>>();
  const amendmentsByChain = new Map<string, { name: string; sha256: string; windowEnd: number }[]>();
  // An empty answer must not read as "verified": a mistyped ARCHIVE_DIR would otherwise pass.
  if (!chains.length) report.problems.push(`no archive found under ${sink.description}, prefix ${prefix}`);
  for (const chain of chains) {
    const links = await readChain(sink, chain);
    stored.set(chain, links);
    manifestHashes.set(chain, new Set(await Promise.all(links.manifests.map((l) => sha256Hex(l.bytes)))));
    const { problems, windows, amendments } = await verifyChain({ chain, ...links });
    amendmentsByChain.set(
      chain,
      await Promise.all(
        links.manifests.filter((l) => parseAmendmentName(l.name)).map(async (l) => ({
          name: l.name,
          sha256: await sha256Hex(l.bytes),
          windowEnd: Date.parse(parseManifest(l.bytes)?.end ?? ""),
        })),
      ),
    );
    const present = new Set(links.dataNames);
    let events = 0, checkedObjects = 0;
    // Each event in exactly one object: a window's amendments hold none of its own events, nor each other's.
    const idsByWindow = new Map<string, Set<string>>();
    for (const manifest of [...windows, ...amendments].filter((m) => overlaps(m, from, to))) {
      if (!present.has(manifest.object)) {
        problems.push(`${manifest.object} is missing (its manifest exists)`);
        continue;
      }
      const data = (await sink.read(manifest.object))!;
      const dataProblems = await verifyData(manifest, data);
      problems.push(...dataProblems);
      events += manifest.events;
      checkedObjects++;
      if (dataProblems.length || !amendments.some((a) => a.start === manifest.start)) continue;
      const seen = idsByWindow.get(manifest.start) ?? new Set();
      for (const id of await eventIds(manifest, data)) {
        if (seen.has(id)) {
          problems.push(`${manifest.object}: event ${id} is also in another object of its window`);
        }
        seen.add(id);
      }
      idsByWindow.set(manifest.start, seen);
    }
    report.problems.push(...problems);
    report.chains.push({
      chain,
      windows: windows.length,
      amendments: amendments.length,
      events,
      checkedObjects,
      from: windows[0]?.start ?? null,
      to: windows.at(-1)?.end ?? null,
    });
  }
  const checkpointNames = async (from: Sink) =>
    (await listTree(from, `${prefix}/_checkpoints`)).filter((n) => n.endsWith(CHECKPOINT_SUFFIX));
  // With a mirror, its checkpoints are the evidence; any of them the archive lost was removed from it.
  const evidence = proof.mirror ?? sink;
  const names = await checkpointNames(evidence);
  const lost: string[] = [];
  if (proof.mirror) {
    const archived = new Set(await checkpointNames(sink));
    lost.push(...names.filter((n) => !archived.has(n)));
    for (const name of lost) {
      report.problems.push(`${name} is in the checkpoint mirror but not in the archive: it was removed`);
    }
  }
  // Checkpoints without chains are evidence too: the chains they name were removed.
  if (chains.length || names.length) {
    report.checkpoints = names.length;
    const now = proof.now ?? Date.now();
    const pinned = Boolean(proof.publicKeyPems?.length);
    const keys = await checkpointKeys(evidence, prefix, proof.publicKeyPems);
    report.trust = {
      keys: [...keys.keys()],
      from: pinned ? "pinned" : "archive",
      ...(pinned ? {} : {
        note:
          "the keys came from the archive itself: whoever can write the archive can add one — pin yours with --public-key or CHECKPOINT_PUBLIC_KEYS",
      }),
    };
    const checked = await verifyCheckpoints({
      checkpoints: await Promise.all(
        names.map(async (name) => ({ name, bytes: (await evidence.read(name))! })),
      ),
      keys,
      manifestHashes,
      amendments: amendmentsByChain,
      now,
    });
    report.problems.push(...checked.problems);
    if (checked.newest) {
      // A claim after the newest holds its successor: a later checkpoint was written.
      const claim = await evidence.read(checkpointClaimName(prefix, await sha256Hex(checked.newest.bytes)));
      const judged = judgeNewest({
        newest: parseCheckpoint(checked.newest.bytes)!,
        now,
        maxStalenessMs: proof.maxStalenessMs,
        undeclaredIntervalMs: proof.scheduleIntervalMs ?? DEFAULT_SCHEDULE_INTERVAL_MS,
        removed: checked.gaps || lost.length > 0,
        claimed: claim && parseCheckpoint(claim)?.sequence,
        mirrored: Boolean(proof.mirror),
      });
      report.newestCheckpoint = judged.newest;
      if (judged.problem) report.problems.push(judged.problem);
    }
    for (const [chain, links] of stored) {
      report.problems.push(
        ...await unvouchedRecords({ chain, ...links, keys, vouched: checked.vouched, now }),
      );
    }
  }
  return report;
}

/** The default SCHEDULE's interval (15 min), for checkpoints that declare no cadence. */
const DEFAULT_SCHEDULE_INTERVAL_MS = 15 * 60_000;
