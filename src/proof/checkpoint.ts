/**
 * Checkpoints as records, pure: names, the signed bytes, parsing and verification of the sequence.
 *
 * @module
 */

import type { ChainLink } from "../archive/chains.ts";
import { dayPrefix, timeStamp } from "../archive/names.ts";
import { CLOCK_SKEW_MS, signedBytes } from "../archive/seal.ts";
import { decodeBase64, sha256Hex } from "../bytes.ts";
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
  /** Each chain's newest manifest (its SHA-256) and the frontier it ends at, and what reconcile found. */
  chains: ChainHead[];
  signature?: string;
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
      typeof c.signature === "string" && Array.isArray(c.chains) && !Number.isNaN(Date.parse(c.time));
    return ok ? c as Checkpoint : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Checks a sequence of checkpoints: each readable, signed by a key it names (from `keys`: the auditor's own, or
 * the published ones), numbered 1, 2, 3… with no gap, each naming the previous one's SHA-256; every chain a
 * checkpoint names still exists and still holds the head it recorded (so no window after it was removed and
 * the chain was not rewritten); the newest not older than `maxStalenessMs`. Returns the problems found.
 */
export async function verifyCheckpoints(input: {
  checkpoints: ChainLink[];
  keys: Map<string, CryptoKey>;
  /** Each chain's manifest hashes, amendments' included. */
  manifestHashes: Map<string, Set<string>>;
  /** Each chain's amendments: their names, hashes and where their window ends. */
  amendments?: Map<string, { name: string; sha256: string; windowEnd: number }[]>;
  now: number;
  maxStalenessMs: number;
}): Promise<{ problems: string[]; vouched: Vouched }> {
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
    };
  }
  let previous: string | null = null;
  const covered = new Set<string>();
  /** Keys in the order they took over signing: a key a newer one replaced is retired. */
  const succession: string[] = [];
  for (const [index, { link, checkpoint }] of valid.entries()) {
    const c = checkpoint!;
    if (c.sequence !== index + 1) {
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
  const newest = valid.at(-1)!.checkpoint!;
  const age = input.now - Date.parse(newest.time);
  if (age > input.maxStalenessMs) {
    problems.push(
      `the newest checkpoint (${newest.sequence}, ${newest.time}) is ${
        Math.round(age / 60_000)
      } min old, more than the schedule allows (${
        Math.round(input.maxStalenessMs / 60_000)
      } min): newer checkpoints were removed, or passes stopped`,
    );
  }
  return { problems, vouched };
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
