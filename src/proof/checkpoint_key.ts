/**
 * The key that signs checkpoints: a local Ed25519 key file, or a Vault RSA key in the HSM; the published keys.
 *
 * @module
 */

import type { Sink } from "../archive/sink.ts";
import { decodeBase64, encodeBase64 } from "../bytes.ts";
import type { PublishedVaultKey } from "../config/validate.ts";
import { ArchiveError, type ErrorCode } from "../errors.ts";
import {
  importPublicKey,
  keyIdOf,
  kmsSigner,
  publicKeyBlocks,
  readVaultPublicKey,
  type Signer,
} from "../keys.ts";
import { log, registerSecret } from "../log.ts";
import type { OciSession } from "../oci/session.ts";
import { CHECKPOINT_FORMAT, type CheckpointKeyRecord } from "./checkpoint.ts";
import { grantAdvice } from "../permissions.ts";

/**
 * The key that signs checkpoints: the local Ed25519 key file (created on first use, never in the archive), or
 * a Vault RSA key that signs in the HSM. Its record is published beside the checkpoints.
 */
export interface CheckpointKey {
  keyId: string;
  sign: Signer;
  record: CheckpointKeyRecord;
  /** The local key file's private key as imported for signing: non-extractable (none for a Vault key). */
  signingKey?: CryptoKey;
}

/** Reads CHECKPOINT_KEY_FILE, creating it (mode 0600) when absent. */
export async function loadCheckpointKey(path: string): Promise<CheckpointKey> {
  let pem: string;
  try {
    pem = await readKeyFile(path).catch(async (error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      return await createCheckpointKey(path);
    });
  } catch (error) {
    const hint = error instanceof Deno.errors.NotCapable
      ? `the permission set does not allow it: keep it at ./keys/checkpoint.pem in an existing ./keys folder (the set grants the file, not the folder); or, in an existing folder, ${
        grantAdvice({ read: [keyFolder(path)], write: [path] })
      }`
      : (error as Error).message;
    throw new ArchiveError("CONFIG", `CHECKPOINT_KEY_FILE ${path} cannot be read or created: ${hint}`);
  }
  registerSecret(pem);
  const body = pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  let privateKey: CryptoKey;
  let x: string | undefined;
  try {
    // The key that signs is non-extractable: nothing holding it can export it again. The public half is read
    // from a second, extractable import that lives only for this (its JWK `x`, as SPKI for the record).
    privateKey = await crypto.subtle.importKey("pkcs8", decodeBase64(body), "Ed25519", false, ["sign"]);
    ({ x } = await crypto.subtle.exportKey(
      "jwk",
      await crypto.subtle.importKey("pkcs8", decodeBase64(body), "Ed25519", true, ["sign"]),
    ));
  } catch {
    throw new ArchiveError(
      "CONFIG",
      `CHECKPOINT_KEY_FILE ${path} is not an Ed25519 private key (PKCS#8 PEM)`,
    );
  }
  const publicKey = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x }, "Ed25519", true, [
    "verify",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  const keyId = await keyIdOf(spki);
  const stat = await Deno.stat(path).catch(() => undefined);
  const validFrom = new Date(stat?.birthtime ?? stat?.mtime ?? Date.now()).toISOString();
  return {
    keyId,
    signingKey: privateKey,
    sign: async (bytes) =>
      new Uint8Array(await crypto.subtle.sign("Ed25519", privateKey, bytes as Uint8Array<ArrayBuffer>)),
    record: {
      format: CHECKPOINT_FORMAT,
      keyId,
      algorithm: "Ed25519",
      publicKey: encodeBase64(spki),
      validFrom,
    },
  };
}

/**
 * The Vault key's current version as the checkpoint key: its public key read from the vault, every signature
 * made by the HSM with that version. Read again for each checkpoint, so a rotated key is picked up.
 */
export async function loadVaultCheckpointKey(
  session: OciSession,
  key: PublishedVaultKey,
): Promise<CheckpointKey> {
  const { keyVersionId, spki, timeCreated } = await readVaultPublicKey(session, key);
  if ((await importPublicKey(spki))?.algorithm.name !== "RSASSA-PKCS1-v1_5") {
    throw new ArchiveError(
      "CONFIG",
      `CHECKPOINT_SIGNING_KEY_ID ${key.keyId} is not an RSA key: checkpoints are signed with RSA keys of the vault (SHA_256_RSA_PKCS1_V1_5)`,
    );
  }
  const keyId = await keyIdOf(spki);
  return {
    keyId,
    sign: kmsSigner(session, key, keyVersionId),
    record: {
      format: CHECKPOINT_FORMAT,
      keyId,
      algorithm: "RSASSA-PKCS1-v1_5-SHA256",
      publicKey: encodeBase64(spki),
      validFrom: timeCreated,
      vaultKeyId: key.keyId,
      vaultKeyVersionId: keyVersionId,
    },
  };
}

/** The folder of a key file: it is read (does it exist?) before the file is created. Pure. */
export function keyFolder(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
}

async function createCheckpointKey(path: string): Promise<string> {
  const pair = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const lines = encodeBase64(pkcs8).match(/.{1,64}/g)!.join("\n");
  const pem = `-----BEGIN PRIVATE KEY-----\n${lines}\n-----END PRIVATE KEY-----\n`;
  // The folder is made only when missing: the permission set may grant the key file and not its folder.
  const folder = keyFolder(path);
  if (!await Deno.stat(folder).then(() => true, () => false)) await Deno.mkdir(folder, { recursive: true });
  try {
    await Deno.writeTextFile(path, pem, { createNew: true, mode: 0o600 });
    log("info", "created the checkpoint signing key; give its public key to your auditors", { path });
    return pem;
  } catch (error) {
    // Another instance created it first: use that one.
    if (error instanceof Deno.errors.AlreadyExists) return await readKeyFile(path);
    throw error;
  }
}

/** How long a reader waits for a key file that another instance is still writing. */
const KEY_FILE_WRITE_WAIT_MS = 2_000;

/**
 * Reads a key file whole: one that another instance has just created may not hold all its bytes yet (the
 * create and the write are two steps, and the permission set grants no temporary file to rename), so a PEM
 * without its END line is read again for a moment. A file that stays incomplete is reported as not a key.
 */
async function readKeyFile(path: string): Promise<string> {
  const deadline = Date.now() + KEY_FILE_WRITE_WAIT_MS;
  for (;;) {
    const text = await Deno.readTextFile(path);
    if (/-----END [A-Z ]+-----/.test(text) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * The keys verify trusts, Ed25519 or RSA: the auditor's own (`--public-key`, each PEM block of each file: one per
 * key the archive was signed with over time), else every key published beside the checkpoints.
 */
export async function checkpointKeys(
  sink: Sink,
  prefix: string,
  publicKeyPems: readonly string[] = [],
): Promise<Map<string, CryptoKey>> {
  const keys = new Map<string, CryptoKey>();
  const add = async (spki: Uint8Array, where: string, code: ErrorCode) => {
    const key = await importPublicKey(spki);
    if (!key) throw new ArchiveError(code, `${where} is not an Ed25519 or RSA public key (SPKI)`);
    keys.set(await keyIdOf(spki), key);
  };
  for (const pem of publicKeyPems) {
    const blocks = publicKeyBlocks(pem);
    const where = "a pinned public key file (--public-key, CHECKPOINT_PUBLIC_KEYS)";
    if (!blocks.length) {
      throw new ArchiveError("USAGE", `${where} holds no PEM public key (BEGIN PUBLIC KEY)`);
    }
    for (const spki of blocks) await add(spki, where, "USAGE");
  }
  if (publicKeyPems.length) return keys;
  for (const name of await sink.listChildren(`${prefix}/_checkpoints/keys`)) {
    const record = JSON.parse(new TextDecoder().decode((await sink.read(name))!)) as CheckpointKeyRecord;
    await add(decodeBase64(record.publicKey), name, "ARCHIVE");
  }
  return keys;
}
