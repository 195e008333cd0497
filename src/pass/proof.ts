/**
 * What a command proves with: the checkpoint key, the public keys it trusts, the Authority that seals and
 * vouches records, the newest checkpoint those keys vouch for, and the checkpoint writer.
 *
 * @module
 */

import { chainPrefix } from "../archive/names.ts";
import type { Authority } from "../archive/seal.ts";
import type { Sink } from "../archive/sink.ts";
import type { Config } from "../config/validate.ts";
import { ArchiveError } from "../errors.ts";
import type { OciSession } from "../oci/session.ts";
import {
  authorityOf,
  type CheckpointTip,
  checkpointTip,
  type TrustedKeys,
  trustedKeys,
} from "../proof/authority.ts";
import { ON_DEMAND } from "../proof/checkpoint.ts";
import { type CheckpointKey, loadCheckpointKey, loadVaultCheckpointKey } from "../proof/checkpoint_key.ts";
import {
  type CadenceDeclaration,
  type CheckpointWriter,
  writeCheckpoint,
} from "../proof/checkpoint_writer.ts";
import type { Source } from "../sources/source.ts";
import { openMirror } from "./open.ts";
import { grantAdvice } from "../permissions.ts";

/** A writer's proof: every record it commits is sealed, and it builds only on what its keys vouch for. */
export interface Proof {
  authority: Authority;
  keys: TrustedKeys;
  /** The newest checkpoint the keys vouch for; a writer (`complete`) also writes dated copies a crash left out. */
  tip(complete: boolean): Promise<CheckpointTip | undefined>;
  /** Signs a pass's checkpoint of the configured sources' chains. */
  checkpoint: CheckpointWriter;
}

/** Reads the pinned public key files (CHECKPOINT_PUBLIC_KEYS, `verify --public-key`). */
export async function readPublicKeyFiles(paths: readonly string[], what: string): Promise<string[]> {
  return await Promise.all(paths.map(async (path) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      const why = error instanceof Deno.errors.NotCapable
        ? `the permission set does not allow reading it: ${grantAdvice({ read: [path] })}`
        : (error as Error).message;
      throw new ArchiveError("USAGE", `${what} ${path} cannot be read: ${why}`);
    }
  }));
}

/**
 * What a reader that writes nothing (`status`) trusts: the checkpoint key where one exists already (a key file
 * is not created), the Vault key's versions, and the pinned keys — the newest checkpoint they vouch for, and
 * an Authority that vouches (and never seals).
 */
export async function readerTrust(
  config: Config,
  sink: Sink,
  session: OciSession | undefined,
): Promise<Pick<Proof, "authority" | "tip">> {
  const vaultKey = config.checkpointSigningKey;
  const exists = await Deno.stat(config.checkpointKeyFile).then(() => true, () => false);
  const key = vaultKey
    ? await loadVaultCheckpointKey(session!, vaultKey)
    : exists
    ? await loadCheckpointKey(config.checkpointKeyFile)
    : undefined;
  const pinned = await readPublicKeyFiles(config.checkpointPublicKeys, "CHECKPOINT_PUBLIC_KEYS");
  const prefix = config.archivePrefix;
  const keys = await trustedKeys(
    () => key,
    pinned,
    vaultKey && { session: session!, key: vaultKey, sink, prefix },
  );
  const tip = (complete: boolean) => checkpointTip(sink, prefix, keys, complete);
  return { tip, authority: authorityOf(() => key, keys, () => tip(false)) };
}

/** The commands that write checkpoints. */
export type Writer = "run" | "once" | "reconcile" | "backfill";

/**
 * The cadence a writer declares in its checkpoints (docs/design.md §8): `run` its SCHEDULE; any other its
 * SCHEDULE when one is given (a timer runs it), else `once` on demand, and `reconcile` and `backfill` — which
 * are not the passes — the cadence of the checkpoint they follow, so one between two passes of `run` never
 * lifts the staleness bound.
 */
function cadenceOf(config: Config, writer: Writer): CadenceDeclaration {
  if (writer === "run" || config.scheduleGiven) return { schedule: config.schedule };
  return writer === "once" ? ON_DEMAND : "carried";
}

/**
 * Loads the checkpoint key (creating a key file on first use) and what it trusts. A Vault key is read again for
 * each checkpoint, so a rotated key version signs from then on; its earlier versions stay trusted (the Vault
 * serves their public keys).
 */
export async function openProof(
  config: Config,
  sink: Sink,
  session: OciSession | undefined,
  sources: readonly Source[],
  writer: Writer,
): Promise<Proof> {
  const vaultKey = config.checkpointSigningKey;
  const loadKey = () =>
    vaultKey ? loadVaultCheckpointKey(session!, vaultKey) : loadCheckpointKey(config.checkpointKeyFile);
  let key: CheckpointKey = await loadKey();
  let fresh = true;
  const prefix = config.archivePrefix;
  const pinned = await readPublicKeyFiles(config.checkpointPublicKeys, "CHECKPOINT_PUBLIC_KEYS");
  const keys = await trustedKeys(
    () => key,
    pinned,
    vaultKey && { session: session!, key: vaultKey, sink, prefix },
  );
  const tip = (complete: boolean) => checkpointTip(sink, prefix, keys, complete);
  const authority = authorityOf(() => key, keys, () => tip(false));
  const mirror = await openMirror(config, session);
  const chains = sources.map((source) => chainPrefix(prefix, source.name, source.scope));
  return {
    authority,
    keys,
    tip,
    checkpoint: async (pass) => {
      if (!fresh) key = await loadKey();
      fresh = false;
      const trust = { keys, authority, chains, cadence: cadenceOf(config, writer) };
      return await writeCheckpoint(sink, prefix, key, trust, mirror, pass);
    },
  };
}
