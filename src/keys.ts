/**
 * Private keys: PEM files, Vault secrets and Vault (KMS) signing keys, shared by the identity domain and checkpoints.
 *
 * @module
 */

import { createPrivateKey } from "node:crypto";
import { decodeBase64, encodeBase64, sha256Hex } from "./bytes.ts";
import type { PublishedVaultKey, VaultKey } from "./config/validate.ts";
import { ArchiveError } from "./errors.ts";
import { registerSecret } from "./log.ts";
import { ociCall, ociClient } from "./oci/client.ts";
import type { OciSession } from "./oci/session.ts";

/** Signs bytes: the JWT signing input (RS256) with a local key or the Vault's HSM, or a checkpoint. */
export type Signer = (input: Uint8Array) => Promise<Uint8Array>;

/**
 * Imports a PEM RSA private key (PKCS#8 or PKCS#1) as a non-extractable signing key: node:crypto reads either
 * form and gives PKCS#8, which WebCrypto imports.
 */
export async function importPrivateKey(pem: string, where: string): Promise<CryptoKey> {
  const match = /-----BEGIN ((?:RSA |ENCRYPTED )?PRIVATE KEY)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!match) throw new ArchiveError("CONFIG", `${where} holds no PEM private key (BEGIN PRIVATE KEY)`);
  if (match[1] === "ENCRYPTED PRIVATE KEY" || /Proc-Type:\s*4,ENCRYPTED/.test(match[2])) {
    throw new ArchiveError(
      "CONFIG",
      `${where} is an encrypted key: give an unencrypted PKCS#8 or PKCS#1 key`,
    );
  }
  if (!/^[A-Za-z0-9+/=\s]*$/.test(match[2])) {
    throw new ArchiveError("CONFIG", `${where}: the PEM body is not base64`);
  }
  try {
    const key = createPrivateKey(match[0]);
    if (key.asymmetricKeyType !== "rsa") throw new TypeError("not RSA");
    const pkcs8 = new Uint8Array(key.export({ type: "pkcs8", format: "der" }));
    return await crypto.subtle.importKey(
      "pkcs8",
      pkcs8,
      { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      false,
      [
        "sign",
      ],
    );
  } catch {
    throw new ArchiveError("CONFIG", `${where} is not an RSA private key usable for RS256`);
  }
}

/** RS256 with a key held in this process (non-extractable). */
export const localSigner = (key: CryptoKey): Signer => async (input) =>
  new Uint8Array(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, input as Uint8Array<ArrayBuffer>));

/** The private key from an OCI Vault secret: a whole PEM, or (as in the original blog) the PEM body alone. */
export async function loadSecretKey(session: OciSession, secretId: string): Promise<CryptoKey> {
  const client = ociClient(session, session.sdk.secrets.SecretsClient, "secrets");
  const bundle = await ociCall("Vault secret", () => client.getSecretBundle({ secretId }));
  const content = (bundle.secretBundle.secretBundleContent as { content?: string } | undefined)?.content;
  if (!content) throw new ArchiveError("CONFIG", `IDCS_PRIVATE_KEY_SECRET_ID ${secretId} holds no content`);
  let text = new TextDecoder().decode(decodeBase64(content)).trim();
  // A PEM stored base64-encoded once more (some consoles and scripts do) is unwrapped.
  if (!text.includes("-----BEGIN") && /^[A-Za-z0-9+/=\s]+$/.test(text)) {
    const inner = new TextDecoder().decode(decodeBase64(text.replace(/\s+/g, "")));
    if (inner.includes("-----BEGIN")) text = inner.trim();
  }
  registerSecret(text);
  const where = `IDCS_PRIVATE_KEY_SECRET_ID ${secretId}`;
  if (text.includes("-----BEGIN")) return await importPrivateKey(text, where);
  // A header-less body: PKCS#8 is what the blog stored; PKCS#1 is tried when that does not parse.
  try {
    return await importPrivateKey(`-----BEGIN PRIVATE KEY-----\n${text}\n-----END PRIVATE KEY-----`, where);
  } catch {
    return await importPrivateKey(
      `-----BEGIN RSA PRIVATE KEY-----\n${text}\n-----END RSA PRIVATE KEY-----`,
      where,
    );
  }
}

/**
 * Signs with an OCI Vault RSA key (RSASSA-PKCS1-v1_5 SHA-256): the HSM signs, the private key never enters
 * this process. The SHA-256 digest is sent (messageType DIGEST), as a RAW message may be at most 4096 bytes
 * ("To sign a larger message, provide the message digest": oci-keymanagement lib/model/sign-data-details.d.ts)
 * and a checkpoint of many chains is longer; the signature is the same either way (RFC 8017 §8.2.1).
 * `keyVersionId` pins the version whose public key was published: during a rotation the service may sign
 * with the current or a newer version intermittently (lib/model/key.d.ts, `currentKeyVersion`).
 */
export function kmsSigner(session: OciSession, key: VaultKey, keyVersionId?: string): Signer {
  const { keymanagement } = session.sdk;
  const client = ociClient(session, keymanagement.KmsCryptoClient, "kms", { endpoint: key.cryptoEndpoint });
  return async (input) => {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input as Uint8Array<ArrayBuffer>));
    const response = await ociCall("Vault KMS sign", () =>
      client.sign({
        signDataDetails: {
          keyId: key.keyId,
          keyVersionId,
          message: encodeBase64(digest),
          messageType: keymanagement.models.SignDataDetails.MessageType.Digest,
          signingAlgorithm: keymanagement.models.SignDataDetails.SigningAlgorithm.Sha256RsaPkcs1V15,
        },
      }));
    return decodeBase64(response.signedData.signature!);
  };
}

/**
 * A Vault key's current version and its public key (SPKI DER), read on the vault's management endpoint:
 * GetKey gives `currentKeyVersion`, GetKeyVersion its `publicKey` ("Use the GetKeyVersion API with the
 * Management Endpoint to get the public key in PEM format for RSA and ECDSA keys":
 * https://docs.oracle.com/en-us/iaas/Content/KeyManagement/Tasks/usingkeys_topic-To_view_the_public_key_of_an_asymmetric_key.htm;
 * oci-keymanagement lib/client.js KmsManagementClient getKey, getKeyVersion; lib/model/key-version.d.ts).
 */
export async function readVaultPublicKey(
  session: OciSession,
  key: PublishedVaultKey,
  version?: string,
): Promise<{ keyVersionId: string; spki: Uint8Array; timeCreated: string }> {
  const client = ociClient(session, session.sdk.keymanagement.KmsManagementClient, "kms", {
    endpoint: key.managementEndpoint,
  });
  const { keyId } = key;
  const keyVersionId = version ?? (await ociCall("Vault GetKey", () => client.getKey({ keyId }))).key
    .currentKeyVersion;
  const { keyVersion } = await ociCall(
    "Vault GetKeyVersion",
    () => client.getKeyVersion({ keyId, keyVersionId }),
  );
  const body = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(
    keyVersion.publicKey ?? "",
  );
  if (!body) {
    throw new ArchiveError(
      "CONFIG",
      `CHECKPOINT_SIGNING_KEY_ID ${keyId} has no public key: give an RSA key of the vault (an asymmetric key)`,
    );
  }
  const created = new Date(keyVersion.timeCreated ?? NaN);
  if (Number.isNaN(created.getTime())) {
    throw new ArchiveError(
      "PROTOCOL",
      `Vault GetKeyVersion ${keyVersionId}: the response has no timeCreated`,
    );
  }
  return {
    keyVersionId,
    spki: decodeBase64(body[1].replace(/\s+/g, "")),
    timeCreated: created.toISOString(),
  };
}

/** How WebCrypto names each signing algorithm the archive uses: Ed25519 (key files), RSA PKCS#1 v1.5 (Vault). */
const PUBLIC_KEY_ALGORITHMS: (AlgorithmIdentifier | RsaHashedImportParams)[] = [
  "Ed25519",
  { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
];

/**
 * A public key (SPKI) as a verifying key of its own algorithm: WebCrypto refuses an SPKI whose algorithm is
 * another, so the first that imports is the key's. Undefined when it is neither Ed25519 nor RSA.
 */
export async function importPublicKey(spki: Uint8Array): Promise<CryptoKey | undefined> {
  for (const algorithm of PUBLIC_KEY_ALGORITHMS) {
    try {
      return await crypto.subtle.importKey("spki", spki as Uint8Array<ArrayBuffer>, algorithm, false, [
        "verify",
      ]);
    } catch {
      // Another algorithm's key: try the next.
    }
  }
  return undefined;
}

/** Verifies a signature with the key's own algorithm (its hash, for RSA, fixed when it was imported). */
export const verifySignature = (key: CryptoKey, signature: Uint8Array, bytes: Uint8Array) =>
  crypto.subtle.verify(
    key.algorithm.name,
    key,
    signature as Uint8Array<ArrayBuffer>,
    bytes as Uint8Array<ArrayBuffer>,
  );

/** A public key's id: the first 16 hex digits of its SPKI's SHA-256. */
export const keyIdOf = async (spki: Uint8Array) => (await sha256Hex(spki)).slice(0, 16);

/** The SPKI of every `BEGIN PUBLIC KEY` block of a PEM text. */
export const publicKeyBlocks = (pem: string) =>
  [...pem.matchAll(/-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/g)].map((block) =>
    decodeBase64(block[1].replace(/\s+/g, ""))
  );
