/**
 * Checkpoints as records, pure: names, the signed bytes, parsing and verification of the sequence.
 *
 * @module
 */

import type { ChainLink } from "../archive/chains.ts";
import { dayPrefix, timeStamp } from "../archive/names.ts";
import { CLOCK_SKEW_MS, signedBytes } from "../archive/seal.ts";
import { decodeBase64, sha256Hex } from "../bytes.ts";
import { parseCron, scheduleInterval } from "../cron.ts";
import { verifySignature } from "../keys.ts";

/** A signed checkpoint: every chain's head at one moment, chained to the one before (docs/design.md §5). */
export interface Checkpoint {
  format: string;
  sequence: number;
  /** SHA-256 of the previous checkpoint's bytes; null for the first. */
  previous: string | null;
  time: string;
  version: string;
  keyId: string;
  /** How often passes come, as the writer declared it; absent in checkpoints written before it was. */
  cadence?: Cadence;
  /** Each chain's newest manifest (its SHA-256) and the frontier it ends at, and what reconcile found. */
  chains: ChainHead[];
  signature?: string;
}

/**
 * The cadence a writer declares (docs/design.md §8): passes on a SCHEDULE, with the longest gap it leaves
 * between two passes, or on demand (no pass is due at any time).
 */
export type Cadence = typeof ON_DEMAND | { schedule: string; intervalSeconds: number };

export const ON_DEMAND = "on-demand";

/** The cadence of passes on `schedule`, as of `now`. Pure. */
export function scheduledCadence(schedule: string, now: number): Cadence {
  return { schedule, intervalSeconds: scheduleInterval(parseCron(schedule)!, now) / 1000 };
}

/** How old the newest checkpoint may be with passes every `intervalMs`: one missed pass is tolerated, two not. */
export const stalenessBound = (intervalMs: number) => 2 * intervalMs + 15 * 60_000;

/** Absent (an older writer), on demand, or a schedule with a positive interval. */
function isCadence(c: unknown): boolean {
  if (c === undefined || c === ON_DEMAND) return true;
  const { schedule, intervalSeconds } = (c ?? {}) as Record<string, unknown>;
  return typeof schedule === "string" && typeof intervalSeconds === "number" && intervalSeconds > 0 &&
    Number.isFinite(intervalSeconds);
}

/** One chain in a checkpoint. */
export interface ChainHead {
  chain: string;
  head: string;
  frontier: string;
  /** Every window of the main segment that ends by this time has been reconciled (carried forward). */
  reconciled?: string;
  /** The amendments of the windows the pass reconciled: removing or changing one is evident. */
  amendments?: { name: string; sha256: string }[];
}

/** A checkpoint key's public half, published beside the checkpoints for auditors. */
export interface CheckpointKeyRecord {
  format: string;
  keyId: string;
  /** Ed25519 for a key file; RSASSA-PKCS1-v1_5 with SHA-256 for a Vault key. */
  algorithm: CheckpointAlgorithm;
  /** SPKI, base64. */
  publicKey: string;
  /**
   * When the archiver first signed with it (a Vault key version: when it was created); a newer key's validFrom
   * ends its period, and checkpoints it signed before that stay verifiable.
   */
  validFrom: string;
  /** A Vault key's OCID and the version that signs: where an auditor reads the same public key from Oracle. */
  vaultKeyId?: string;
  vaultKeyVersionId?: string;
}

export type CheckpointAlgorithm = "Ed25519" | "RSASSA-PKCS1-v1_5-SHA256";

export const CHECKPOINT_FORMAT = "audit-archiver/checkpoint-1";

export const CHECKPOINT_SUFFIX = ".checkpoint.json";

/** `{prefix}/_checkpoints/{YYYY}/{MM}/{DD}/{time}.checkpoint.json` (docs/design.md §5). */
export const checkpointName = (prefix: string, time: number) =>
  `${dayPrefix(`${prefix}/_checkpoints`, time)}/${timeStamp(time)}${CHECKPOINT_SUFFIX}`;

/**
 * The claim on the place after a checkpoint: created if absent and holding the successor's bytes, so two
 * instances can never both follow one checkpoint (no fork), and a successor whose dated copy a crash left
 * unwritten is still found and completed.
 */
export const checkpointClaimName = (prefix: string, previous: string | null) =>
  `${prefix}/_checkpoints/claims/${previous ?? "first"}.json`;

export const checkpointKeyName = (prefix: string, keyId: string) =>
  `${prefix}/_checkpoints/keys/${keyId}.json`;

export function parseCheckpoint(bytes: Uint8Array): Checkpoint | undefined {
  try {
    const c = JSON.parse(new TextDecoder().decode(bytes));
    const ok = c?.format === CHECKPOINT_FORMAT && Number.isInteger(c.sequence) && c.sequence >= 1 &&
      (c.previous === null || typeof c.previous === "string") && typeof c.keyId === "string" &&
      typeof c.signature === "string" && Array.isArray(c.chains) && !Number.isNaN(Date.parse(c.time)) &&
      isCadence(c.cadence);
    return ok ? c as Checkpoint : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks a sequence of checkpoints: each readable, signed by a key it names (from `keys`: the auditor's own, or
 * the published ones), numbered 1, 2, 3… with no gap, each naming the previous one's SHA-256; every chain a
 * checkpoint names still exists and still holds the head it recorded (so no window after it was removed and
 * the chain was not rewritten). Returns the problems found, what the authentic ones vouch for, the newest
 * authentic one (its age is judged by `judgeNewest`) and whether checkpoints are missing from the sequence.
 */
export async function verifyCheckpoints(input: {
  checkpoints: ChainLink[];
  keys: Map<string, CryptoKey>;
  /** Each chain's manifest hashes, amendments' included. */
  manifestHashes: Map<string, Set<string>>;
  /** Each chain's amendments: their names, hashes and where their window ends. */
  amendments?: Map<string, { name: string; sha256: string; windowEnd: number }[]>;
  now: number;
}): Promise<{ problems: string[]; vouched: Vouched; newest?: ChainLink; gaps: boolean }> {
  const problems: string[] = [];
  const vouched: Vouched = {
    heads: new Set(),
    amendments: new Set(),
    chains: new Set(),
    retiredAt: new Map(),
  };
  const parsed = input.checkpoints.map((link) => ({ link, checkpoint: parseCheckpoint(link.bytes) }));
  for (const { link } of parsed.filter((p) => !p.checkpoint)) {
    problems.push(`${link.name} is not a readable checkpoint`);
  }
  const valid = parsed.filter((p) => p.checkpoint).sort((a, b) =>
    a.checkpoint!.sequence - b.checkpoint!.sequence
  );
  if (!valid.length) {
    return {
      problems: [...problems, "no checkpoint found: the archive's newest windows cannot be proven"],
      vouched,
      gaps: false,
    };
  }
  let previous: string | null = null;
  let newest: ChainLink | undefined;
  let gaps = false;
  const covered = new Set<string>();
  /** Keys in the order they took over signing: a key a newer one replaced is retired. */
  const succession: string[] = [];
  for (const [index, { link, checkpoint }] of valid.entries()) {
    const c = checkpoint!;
    if (c.sequence !== index + 1) {
      gaps = true;
      problems.push(
        `checkpoint ${index + 1} is missing (the sequence goes on at ${c.sequence}, ${link.name})`,
      );
    } else if (c.previous !== previous) {
      problems.push(`${link.name} does not follow checkpoint ${index}: the checkpoint chain was changed`);
    }
    previous = await sha256Hex(link.bytes);
    const key = input.keys.get(c.keyId);
    const signature = decodeBase64(c.signature!);
    const authentic = Boolean(key) &&
      await verifySignature(key!, signature, signedBytes(c)).catch(() => false);
    if (!authentic) {
      problems.push(
        `${link.name}: the signature does not verify${key ? "" : ` (no trusted key ${c.keyId})`}`,
      );
    } else if (succession.includes(c.keyId) && succession.at(-1) !== c.keyId) {
      problems.push(
        `${link.name} is signed with key ${c.keyId}, which a newer key had replaced: a retired key`,
      );
    } else if (succession.at(-1) !== c.keyId) {
      // The key before this one is retired from the time this one first signed.
      if (succession.length) vouched.retiredAt.set(succession.at(-1)!, Date.parse(c.time));
      succession.push(c.keyId);
    }
    if (Date.parse(c.time) > input.now + CLOCK_SKEW_MS) {
      problems.push(`${link.name} is dated ${c.time}, ahead of this clock`);
    }
    // A retired key's checkpoint is not trusted either: its cadence and time say nothing.
    if (authentic && succession.at(-1) === c.keyId) newest = link;
    if (authentic) {
      for (const head of c.chains) {
        vouched.chains.add(head.chain);
        vouched.heads.add(head.head);
        for (const amendment of head.amendments ?? []) vouched.amendments.add(amendment.sha256);
      }
    }
    for (const head of c.chains) {
      const hashes = input.manifestHashes.get(head.chain);
      if (!hashes) problems.push(`${head.chain}, which checkpoint ${c.sequence} names, is missing`);
      else if (!hashes.has(head.head)) {
        problems.push(
          `${head.chain} no longer holds the head checkpoint ${c.sequence} recorded (frontier ${head.frontier}): windows were removed or the chain was rewritten`,
        );
      }
      for (const amendment of head.amendments ?? []) {
        covered.add(amendment.sha256);
        if (hashes && !hashes.has(amendment.sha256)) {
          problems.push(
            `${amendment.name}, which checkpoint ${c.sequence} recorded, was removed or changed`,
          );
        }
      }
    }
  }
  problems.push(...uncoveredAmendments(valid.at(-1)!.checkpoint!, covered, input.amendments));
  return { problems, vouched, newest, gaps };
}

/** The newest authentic checkpoint as `verify` reports it: its age against the cadence its writer declared. */
export interface NewestCheckpoint {
  sequence: number;
  time: string;
  ageMinutes: number;
  /** As its writer declared it (signed); "undeclared" in a checkpoint written before writers declared one. */
  cadence: Cadence | "undeclared";
  /** How old it may be (none for an on-demand archive unless --max-staleness gives one), and what says so. */
  maxAgeMinutes?: number;
  boundBy: "cadence" | "--max-staleness" | "the verifier's SCHEDULE";
  verdict:
    | "recent"
    | "on demand"
    | "passes stopped"
    | "checkpoints removed"
    | "passes stopped or checkpoints removed";
}

/**
 * Judges the newest authentic checkpoint's age. The bound is `--max-staleness` when the auditor gives one,
 * else the cadence its writer declared (signed: not relaxed without the key; on demand: none), else — a
 * checkpoint older than declared cadences — the verifier's SCHEDULE. The evidence decides between "passes
 * stopped" and "checkpoints removed": checkpoints `removed` (missing from the sequence, or lost from the
 * archive while the mirror holds them), a `claimed` later checkpoint (its claim is there, its dated copy not),
 * and whether the checkpoints came from the mirror, which whoever writes the archive cannot change. Pure.
 */
export function judgeNewest(input: {
  newest: Checkpoint;
  now: number;
  maxStalenessMs?: number;
  undeclaredIntervalMs: number;
  removed: boolean;
  claimed?: number;
  mirrored: boolean;
}): { newest: NewestCheckpoint; problem?: string } {
  const { newest, now } = input;
  const cadence = newest.cadence ?? "undeclared";
  const [maxAgeMs, boundBy, bound]: [number | undefined, NewestCheckpoint["boundBy"], string] =
    input.maxStalenessMs !== undefined
      ? [input.maxStalenessMs, "--max-staleness", "--max-staleness"]
      : cadence === ON_DEMAND
      ? [undefined, "cadence", "its on-demand cadence"]
      : cadence === "undeclared"
      ? [
        stalenessBound(input.undeclaredIntervalMs),
        "the verifier's SCHEDULE",
        "the verifier's SCHEDULE (the checkpoint, from an older writer, declares no cadence)",
      ]
      : [
        stalenessBound(cadence.intervalSeconds * 1000),
        "cadence",
        `its writer's schedule ${cadence.schedule}`,
      ];
  const age = now - Date.parse(newest.time);
  const stale = maxAgeMs !== undefined && age > maxAgeMs;
  const claimed = stale && input.claimed !== undefined;
  const verdict: NewestCheckpoint["verdict"] = input.removed || claimed
    ? "checkpoints removed"
    : !stale
    ? maxAgeMs === undefined ? "on demand" : "recent"
    : input.mirrored
    ? "passes stopped"
    : "passes stopped or checkpoints removed";
  const minutes = (ms: number) => Math.round(ms / 60_000);
  const report: NewestCheckpoint = {
    sequence: newest.sequence,
    time: newest.time,
    ageMinutes: minutes(age),
    cadence,
    ...(maxAgeMs === undefined ? {} : { maxAgeMinutes: minutes(maxAgeMs) }),
    boundBy,
    verdict,
  };
  if (!stale) return { newest: report };
  const cause = claimed
    ? `newer checkpoints were removed: a claim holds checkpoint ${input.claimed}, whose dated copy is gone (or its writer stopped between the two and no pass came since)`
    : input.mirrored
    ? "passes stopped (the mirror, which the archive's writers cannot change, holds nothing newer)"
    : "passes stopped, or newer checkpoints were removed together with their claims: only the checkpoint mirror (verify --mirror) tells them apart";
  return {
    newest: report,
    problem: `the newest checkpoint (${newest.sequence}, ${newest.time}) is ${
      minutes(age)
    } min old, more than ${bound} allows (${minutes(maxAgeMs!)} min): ${cause}`,
  };
}

/** What authentic checkpoints name: chain heads, amendments and chains (records written before seals). */
export interface Vouched {
  heads: Set<string>;
  amendments: Set<string>;
  chains: Set<string>;
  /** When each key a newer one replaced stopped being allowed to sign (key validity periods). */
  retiredAt: Map<string, number>;
}

/**
 * Amendments no checkpoint recorded although their window ends before the newest checkpoint's reconciled
 * time: every reconcile of such a window records its amendments, so these were added without the key.
 */
function uncoveredAmendments(
  newest: Checkpoint,
  covered: Set<string>,
  amendments: Map<string, { name: string; sha256: string; windowEnd: number }[]> = new Map(),
): string[] {
  const problems: string[] = [];
  for (const head of newest.chains) {
    const reconciled = head.reconciled ? Date.parse(head.reconciled) : -Infinity;
    for (const amendment of amendments.get(head.chain) ?? []) {
      if (amendment.windowEnd <= reconciled && !covered.has(amendment.sha256)) {
        problems.push(
          `${amendment.name} is in no checkpoint although its window was reconciled: it was added without the signing key, or (rarely) its reconciler stopped before signing while another went on — \`reconcile\` over that window records it if the source still shows its events`,
        );
      }
    }
  }
  return problems;
}

/**
 * What passes reconciled, per chain, for their checkpoint: how far the main segment is now reconciled (when
 * they went on from the last checkpoint's time) and the amendments of the windows they read.
 */
export type Reconciliation = Map<string, { until?: number; amendments: { name: string; sha256: string }[] }>;
