/**
 * Writing each pass's checkpoint after the newest one: every chain's head, signed.
 *
 * @module
 */

import { lastManifestBefore } from "../archive/chains.ts";
import { encodeRecord, parseManifest } from "../archive/format.ts";
import { type Authority, signedBytes } from "../archive/seal.ts";
import type { Sink } from "../archive/sink.ts";
import { encodeBase64, mapConcurrent, sha256Hex } from "../bytes.ts";
import { ArchiveError } from "../errors.ts";
import { requestConcurrency } from "../http/retry.ts";
import {
  type Cadence,
  type ChainHead,
  type Checkpoint,
  CHECKPOINT_FORMAT,
  checkpointClaimName,
  checkpointKeyName,
  checkpointName,
  ON_DEMAND,
  parseCheckpoint,
  type Reconciliation,
  scheduledCadence,
} from "./checkpoint.ts";
import { type CheckpointTip, checkpointTip, type TrustedKeys } from "./authority.ts";
import type { CheckpointKey } from "./checkpoint_key.ts";
import { VERSION } from "../version.ts";

/**
 * The heads a checkpoint signs: each configured chain's newest manifest as the pass left it (`known`) or as
 * the key vouches for it in the sink, and every other chain the checkpoint before named, carried forward as it
 * was — never a chain that only the archive names (a chain someone else made is not signed into evidence).
 */
async function chainHeads(
  sink: Sink,
  authority: Authority,
  chains: readonly string[],
  before: Checkpoint | undefined,
  known = new Map<string, Uint8Array>(),
): Promise<ChainHead[]> {
  const carried = (chain: string) => before?.chains.find((c) => c.chain === chain);
  const heads = await mapConcurrent([...chains], requestConcurrency(), async (chain) => {
    const name = known.has(chain) ? undefined : await lastManifestBefore(sink, chain, Infinity);
    const bytes = known.get(chain) ?? (name ? await sink.read(name) : undefined);
    const manifest = bytes && parseManifest(bytes);
    if (!manifest) return carried(chain);
    if (name) {
      const vouched = await authority.vouch(name, bytes, "manifest", chain).then(() => true, () => false);
      if (!vouched) return carried(chain);
    }
    return { chain, head: await sha256Hex(bytes), frontier: manifest.end };
  });
  const others = (before?.chains ?? []).filter((c) => !chains.includes(c.chain));
  return [...heads.filter((head) => head !== undefined), ...others].map(({ chain, head, frontier }) => ({
    chain,
    head,
    frontier,
  }));
}

/**
 * The heads with what the pass reconciled: the reconciled time carried forward from the checkpoint before (the
 * later of the two), and the amendments of the windows it read. Pure.
 */
function withReconciliation(
  heads: ChainHead[],
  before: Checkpoint | undefined,
  reconciliation: Reconciliation = new Map(),
): ChainHead[] {
  return heads.map((head) => {
    const carried = before?.chains.find((c) => c.chain === head.chain)?.reconciled;
    const found = reconciliation.get(head.chain);
    const until = Math.max(carried ? Date.parse(carried) : -Infinity, found?.until ?? -Infinity);
    return {
      ...head,
      ...(Number.isFinite(until) ? { reconciled: new Date(until).toISOString() } : {}),
      ...(found?.amendments.length ? { amendments: found.amendments } : {}),
    };
  });
}

/**
 * What a writer declares of its cadence: passes on a schedule, on demand, or (`carried`) the cadence of the
 * checkpoint it follows — on demand for the first, none after one that declared none.
 */
export type CadenceDeclaration = { schedule: string } | typeof ON_DEMAND | "carried";

/** The cadence a checkpoint after `before` declares, as of `now`. Pure. */
function declaredCadence(
  declaration: CadenceDeclaration,
  before: Checkpoint | undefined,
  now: number,
): Cadence | undefined {
  if (declaration === "carried") return before ? before.cadence : ON_DEMAND;
  return declaration === ON_DEMAND ? declaration : scheduledCadence(declaration.schedule, now);
}

/** Places a checkpoint writer may lose in a row (one per source of a `run`, and other instances, racing). */
const CHECKPOINT_ATTEMPTS = 64;

/**
 * Writes the checkpoint of a pass (also of one that found nothing new): every chain's head, signed, after the
 * newest checkpoint, with the cadence the writer declares. The place after a checkpoint is claimed
 * create-if-absent, so concurrent instances never fork the sequence: one that loses goes on after the winner.
 */
export async function writeCheckpoint(
  sink: Sink,
  prefix: string,
  key: CheckpointKey,
  trust: {
    keys: TrustedKeys;
    authority: Authority;
    chains: readonly string[];
    cadence: CadenceDeclaration;
  },
  mirror?: Sink,
  pass: PassProof = {},
): Promise<Checkpoint> {
  const keyRecord = await trust.authority.seal(key.record);
  // The key and the tip are read and written at once, and while the pass reconciles: in a bucket each is a
  // walk of folder listings, and one after another they were most of a pass's tail (docs/performance.md).
  const [firstTip] = await Promise.all([
    pass.tip ?? checkpointTip(sink, prefix, trust.keys, true),
    sink.createExclusive(checkpointKeyName(prefix, key.keyId), keyRecord),
    mirror?.createExclusive(checkpointKeyName(prefix, key.keyId), keyRecord),
  ]);
  const heads = await chainHeads(sink, trust.authority, trust.chains, firstTip?.checkpoint, pass.heads);
  const reconciled = await pass.reconciliation;
  // A lost place means another writer made progress, so this ends; the bound only guards against a bug.
  for (let attempt = 1; attempt <= CHECKPOINT_ATTEMPTS; attempt++) {
    const tip = attempt === 1 ? firstTip : await checkpointTip(sink, prefix, trust.keys, true);
    // Strictly later than the one it follows, so dated names never collide and sort as the sequence does.
    const time = Math.max(Date.now(), tip ? Date.parse(tip.checkpoint.time) + 1 : 0);
    const cadence = declaredCadence(trust.cadence, tip?.checkpoint, time);
    const unsigned: Checkpoint = {
      format: CHECKPOINT_FORMAT,
      sequence: (tip?.checkpoint.sequence ?? 0) + 1,
      previous: tip ? await sha256Hex(tip.bytes) : null,
      time: new Date(time).toISOString(),
      version: VERSION,
      keyId: key.keyId,
      ...(cadence ? { cadence } : {}),
      chains: withReconciliation(heads, tip?.checkpoint, reconciled),
    };
    const signature = await key.sign(signedBytes(unsigned));
    const bytes = encodeRecord({ ...unsigned, signature: encodeBase64(signature) });
    if (await sink.createExclusive(checkpointClaimName(prefix, unsigned.previous), bytes)) {
      await sink.createExclusive(checkpointName(prefix, time), bytes);
      // The mirror keeps the evidence out of reach of whoever can write the archive.
      await mirror?.createExclusive(checkpointName(prefix, time), bytes);
      return parseCheckpoint(bytes)!;
    }
  }
  throw new ArchiveError(
    "ARCHIVE",
    `checkpoint: other writers took ${CHECKPOINT_ATTEMPTS} places in a row; the next pass writes it`,
  );
}

/**
 * Signs one checkpoint of every chain's head, recording what the pass reconciled (awaited last), from what the
 * pass read already: the newest checkpoint, and the heads it left.
 */
export type CheckpointWriter = (pass?: PassProof) => Promise<Checkpoint>;

interface PassProof {
  reconciliation?: Promise<Reconciliation | undefined>;
  tip?: Promise<CheckpointTip | undefined>;
  heads?: Map<string, Uint8Array>;
}
