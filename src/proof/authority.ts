/**
 * The trust a writer works with: which public keys vouch for records (its own key, pinned keys, the Vault's
 * versions of its key), the newest checkpoint they vouch for, and the Authority that seals and vouches records.
 *
 * @module
 */

import { newestRecordBefore } from "../archive/chains.ts";
import { encodeRecord } from "../archive/format.ts";
import { parseTimeStamp } from "../archive/names.ts";
import { type Authority, type RecordKind, signedBytes } from "../archive/seal.ts";
import type { Sink } from "../archive/sink.ts";
import { decodeBase64, encodeBase64, sha256Hex } from "../bytes.ts";
import type { PublishedVaultKey } from "../config/validate.ts";
import { ArchiveError } from "../errors.ts";
import { importPublicKey, keyIdOf, publicKeyBlocks, readVaultPublicKey } from "../keys.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import type { OciSession } from "../oci/session.ts";
import {
  type Checkpoint,
  CHECKPOINT_SUFFIX,
  checkpointClaimName,
  checkpointKeyName,
  type CheckpointKeyRecord,
  checkpointName,
  parseCheckpoint,
} from "./checkpoint.ts";
import type { CheckpointKey } from "./checkpoint_key.ts";
import { belongsTo, distrust, parseRecord } from "./seals.ts";

/** The public keys a writer trusts, by key id; never keys that only the archive names. */
export interface TrustedKeys {
  get(keyId: string): Promise<CryptoKey | undefined>;
}

/** The newest checkpoint the trusted keys vouch for, as stored and as read. */
export interface CheckpointTip {
  bytes: Uint8Array;
  checkpoint: Checkpoint;
}

/** Dated checkpoints the key does not vouch for that a tip search passes over before it gives up. */
const FORGED_CHECKPOINTS_PASSED = 64;

/**
 * The keys a writer trusts: the key it signs with, the pinned public keys (CHECKPOINT_PUBLIC_KEYS: keys it
 * signed with before a rotation), and — for a Vault key — every version of that key, read from the Vault
 * itself (the archive only says which version; the Vault says what its public key is).
 */
export async function trustedKeys(
  current: () => CheckpointKey | undefined,
  pinned: readonly string[],
  vault?: { session: OciSession; key: PublishedVaultKey; sink: Sink; prefix: string },
): Promise<TrustedKeys> {
  const known = new Map<string, Promise<CryptoKey | undefined>>();
  for (const spki of pinned.flatMap(publicKeyBlocks)) known.set(await keyIdOf(spki), importPublicKey(spki));
  const fromVault = async (keyId: string) => {
    const bytes = vault && await vault.sink.read(checkpointKeyName(vault.prefix, keyId));
    const record = bytes && parseKeyRecord(bytes);
    if (!record?.vaultKeyVersionId || record.vaultKeyId !== vault!.key.keyId) return undefined;
    const { spki } = await readVaultPublicKey(vault!.session, vault!.key, record.vaultKeyVersionId);
    return await keyIdOf(spki) === keyId ? await importPublicKey(spki) : undefined;
  };
  return {
    get(keyId) {
      const key = current();
      if (key?.keyId === keyId && !known.has(keyId)) {
        known.set(keyId, importPublicKey(decodeBase64(key.record.publicKey)));
      }
      if (!known.has(keyId)) known.set(keyId, fromVault(keyId));
      return known.get(keyId)!;
    },
  };
}

function parseKeyRecord(bytes: Uint8Array): CheckpointKeyRecord | undefined {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

/** Reports an object the key does not vouch for (level error, counted), and the error that refuses it. */
export function unauthentic(name: string, why: string): ArchiveError {
  const message =
    `${name} is not vouched for by the archiver's key (${why}): someone who can write the archive but does not hold the key may have written it, so nothing is built on it — see docs/operations.md "Objects the key does not vouch for"`;
  log("error", message, { object: name });
  metrics.add("audit_archiver_unauthentic_objects_total", {}, 1);
  return new ArchiveError("UNAUTHENTIC", message);
}

/**
 * The newest checkpoint the trusted keys vouch for: the newest dated one they vouch for (passing over, and
 * reporting, forged ones), then along the claims after it. A claim after it that they do not vouch for takes
 * the place of the next checkpoint: the sequence stops there, loudly. A writer (`complete`) also writes the
 * dated copy of each checkpoint on the way that a crash left with its claim alone.
 */
export async function checkpointTip(
  sink: Sink,
  prefix: string,
  keys: TrustedKeys,
  complete: boolean,
  now = Date.now(),
): Promise<CheckpointTip | undefined> {
  const root = `${prefix}/_checkpoints`;
  let bytes: Uint8Array | undefined;
  let before = Infinity;
  for (let passed = 0; passed <= FORGED_CHECKPOINTS_PASSED; passed++) {
    const name = await newestRecordBefore(sink, root, before, CHECKPOINT_SUFFIX);
    if (!name) break;
    const candidate = await sink.read(name);
    const why = candidate ? await distrust(candidate, keys.get, now) : "it vanished";
    if (!why) {
      bytes = candidate;
      break;
    }
    unauthentic(name, why);
    before = parseTimeStamp(name.slice(name.lastIndexOf("/") + 1, -CHECKPOINT_SUFFIX.length)) ?? -Infinity;
  }
  let claim = checkpointClaimName(prefix, bytes ? await sha256Hex(bytes) : null);
  if (!bytes) {
    const first = await sink.read(claim);
    if (!first) return undefined;
    const why = await distrust(first, keys.get, now);
    if (why) throw unauthentic(claim, why);
    bytes = first;
  }
  for (let checkpoint = parseCheckpoint(bytes); checkpoint;) {
    if (complete) await sink.createExclusive(checkpointName(prefix, Date.parse(checkpoint.time)), bytes);
    claim = checkpointClaimName(prefix, await sha256Hex(bytes));
    const next = await sink.read(claim);
    if (!next) return { bytes, checkpoint };
    const why = await distrust(next, keys.get, now);
    if (why) throw unauthentic(claim, why);
    const successor = parseCheckpoint(next);
    if (!successor) throw new ArchiveError("ARCHIVE", `${claim} is not a readable checkpoint: run verify`);
    [bytes, checkpoint] = [next, successor];
  }
  throw new ArchiveError("ARCHIVE", "the newest checkpoint is not readable: run verify");
}

/**
 * The Authority of a writer holding `key`: it seals with that key, and vouches for a record signed by a
 * trusted key — or, for records written before records were signed, one the newest authentic checkpoint
 * covers (a window up to its chain's head, the amendments it lists, the genesis of a chain it holds).
 */
export function authorityOf(
  current: () => CheckpointKey | undefined,
  keys: TrustedKeys,
  tip: () => Promise<CheckpointTip | undefined>,
): Authority {
  // Records written before seals are judged against the newest checkpoint, read at most once a minute.
  let read: { at: number; tip: Promise<CheckpointTip | undefined> } | undefined;
  const newestTip = () => {
    if (!read || Date.now() - read.at > 60_000) read = { at: Date.now(), tip: tip() };
    return read.tip;
  };
  return {
    async seal(record) {
      const key = current();
      if (!key) {
        throw new ArchiveError("CONFIG", "no checkpoint key to seal records with: a reader writes nothing");
      }
      const unsigned = { ...record, keyId: key.keyId, signature: undefined };
      const signature = await key.sign(signedBytes(unsigned));
      return encodeRecord({ ...unsigned, signature: encodeBase64(signature) });
    },
    async vouch(name: string, bytes: Uint8Array, kind: RecordKind, chain: string) {
      const record = parseRecord(bytes);
      const misplaced = record !== undefined && !belongsTo(record, chain);
      const why = misplaced ? "it is a record of another chain" : await distrust(bytes, keys.get, Date.now());
      if (!why) return;
      if (why === "it is not signed" && await namedByCheckpoint(await newestTip(), bytes, kind, chain)) {
        return;
      }
      throw unauthentic(name, why);
    },
  };
}

async function namedByCheckpoint(
  tip: CheckpointTip | undefined,
  bytes: Uint8Array,
  kind: RecordKind,
  chain: string,
): Promise<boolean> {
  const head = tip?.checkpoint.chains.find((c) => c.chain === chain);
  if (!head) return false;
  if (kind === "genesis") return true;
  const hash = await sha256Hex(bytes);
  if (kind === "amendment") return (head.amendments ?? []).some((a) => a.sha256 === hash);
  // A window at or behind the checkpointed frontier, where the chain's windows tile without room for another.
  const end = Date.parse(JSON.parse(new TextDecoder().decode(bytes)).end);
  return head.head === hash || end <= Date.parse(head.frontier);
}
