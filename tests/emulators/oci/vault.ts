/**
 * Vault: secret bundles, and KMS keys (`sign`, `getKey`, `getKeyVersion`, rotation).
 *
 * @module
 */

import {
  constants as cryptoConstants,
  createPublicKey,
  KeyObject,
  privateEncrypt,
  sign as nodeSign,
} from "node:crypto";
import { type Bytes, concatBytes, fromBase64, toBase64, utf8 } from "./bytes.ts";
import { invalidParameter, missingParameter, OciError } from "./errors.ts";
import { isoTime, type Params, parseJsonBody } from "./params.ts";
import { jsonReply, type Reply } from "./replies.ts";
import type { KmsKey, State } from "./state.ts";

/** KMS `sign`: "You can have a message up to 4096 bytes in size" (SignDataDetails). */
const KMS_MAX_MESSAGE_BYTES = 4096;

/** DigestInfo prefix of SHA-256 (RFC 8017 §9.2 note 1), for KMS DIGEST signing. */
const SHA256_DIGEST_INFO_PREFIX = Uint8Array.from(
  "3031300d060960864801650304020105000420".match(/../g)!,
  (hex) => parseInt(hex, 16),
);

export function getSecretBundle(state: State, query: Map<string, string>, params: Params): Reply {
  const content = state.secrets.get(params.secretId);
  const versionNumber = query.get("versionNumber");
  const stage = query.get("stage");
  // One version per secret: version 1, stages CURRENT and LATEST.
  if (
    content === undefined || (versionNumber !== undefined && versionNumber !== "1") ||
    (stage !== undefined && stage !== "CURRENT" && stage !== "LATEST")
  ) {
    throw new OciError(
      404,
      "NotAuthorizedOrNotFound",
      `Secret bundle for '${params.secretId}' not found or not authorized`,
    );
  }
  return jsonReply(200, {
    secretId: params.secretId,
    versionNumber: 1,
    stages: ["CURRENT", "LATEST"],
    timeCreated: isoTime(0),
    secretBundleContent: { contentType: "BASE64", content: toBase64(utf8(content)) },
  });
}

export function kmsKeyVersion(keyId: string, privateKey: KeyObject, number: number) {
  const id = `${keyId.replace(/^ocid1\.key\./, "ocid1.keyversion.")}.v${number}`;
  return { id, privateKey, timeCreated: Date.now() };
}

/** 404 `NotAuthorizedOrNotFound` for an unknown key or version (API errors reference: "not found, or not authorized"). */
export function kmsKeyOf(state: State, keyId: string): KmsKey {
  const key = state.kmsKeys.get(keyId);
  if (!key) throw new OciError(404, "NotAuthorizedOrNotFound", `Key '${keyId}' not found or not authorized`);
  return key;
}

export function kmsVersionOf(state: State, keyId: string, versionId: string | undefined) {
  const key = kmsKeyOf(state, keyId);
  const version = versionId === undefined
    ? key.versions.at(-1)
    : key.versions.find((v) => v.id === versionId);
  if (!version) {
    throw new OciError(
      404,
      "NotAuthorizedOrNotFound",
      `Key version '${versionId}' not found or not authorized`,
    );
  }
  return version;
}

const vaultIdOf = (keyId: string) => keyId.replace(/^ocid1\.key\./, "ocid1.vault.");
export const publicPemOf = (privateKey: KeyObject) =>
  createPublicKey(privateKey).export({ type: "spki", format: "pem" }) as string;

/**
 * KMS management `GetKey` (`GET /20180608/keys/{keyId}` on the vault's management endpoint): the Key model
 * of oci-keymanagement 2.139.1 (lib/model/key.d.ts; required: compartmentId, currentKeyVersion, displayName,
 * id, keyShape, lifecycleState, timeCreated, vaultId). keyShape.length is in bytes (key-shape.d.ts: RSA 256,
 * 384 or 512). https://docs.oracle.com/iaas/api/#/en/key/release/Key/GetKey
 */
export function kmsGetKey(state: State, params: Params): Reply {
  const key = kmsKeyOf(state, params.keyId);
  const current = key.versions.at(-1)!;
  return jsonReply(200, {
    compartmentId: state.tenancy,
    currentKeyVersion: current.id,
    displayName: "checkpoint-signing",
    id: params.keyId,
    keyShape: {
      algorithm: "RSA",
      length: (current.privateKey.asymmetricKeyDetails?.modulusLength ?? 2048) / 8,
    },
    protectionMode: "HSM",
    lifecycleState: "ENABLED",
    timeCreated: isoTime(key.versions[0].timeCreated),
    vaultId: vaultIdOf(params.keyId),
  });
}

/**
 * KMS management `GetKeyVersion` (`GET /20180608/keys/{keyId}/keyVersions/{keyVersionId}`): the KeyVersion
 * model (lib/model/key-version.d.ts: "publicKey — The public key in PEM format. (This value pertains only to
 * RSA and ECDSA keys.)"); Oracle: "Use the GetKeyVersion API with the Management Endpoint to get the public
 * key in PEM format for RSA and ECDSA keys" (https://docs.oracle.com/en-us/iaas/Content/KeyManagement/Tasks/usingkeys_topic-To_view_the_public_key_of_an_asymmetric_key.htm).
 */
export function kmsGetKeyVersion(state: State, params: Params): Reply {
  const version = kmsVersionOf(state, params.keyId, params.keyVersionId);
  return jsonReply(200, {
    compartmentId: state.tenancy,
    id: version.id,
    keyId: params.keyId,
    publicKey: publicPemOf(version.privateKey),
    lifecycleState: "ENABLED",
    origin: "INTERNAL",
    timeCreated: isoTime(version.timeCreated),
    vaultId: vaultIdOf(params.keyId),
  });
}

/** KMS `sign` with RSASSA-PKCS1-v1_5 SHA-256: RAW messages are hashed here, DIGESTs are signed as given. */
export function kmsSign(state: State, body: Bytes): Reply {
  const details = parseJsonBody(body);
  for (const name of ["keyId", "message", "signingAlgorithm"]) {
    if (typeof details[name] !== "string") throw missingParameter(name);
  }
  const keyId = details.keyId as string;
  if (details.keyVersionId !== undefined && typeof details.keyVersionId !== "string") {
    throw invalidParameter("keyVersionId must be a string");
  }
  // "keyVersionId — The OCID of the key version used to sign the message" (SignDataDetails); else the current.
  const version = kmsVersionOf(state, keyId, details.keyVersionId as string | undefined);
  const key = version.privateKey;
  if (details.signingAlgorithm !== "SHA_256_RSA_PKCS1_V1_5") {
    throw invalidParameter(`signingAlgorithm ${details.signingAlgorithm} is not supported by this key`);
  }
  const messageType = details.messageType ?? "RAW";
  const message = fromBase64(details.message as string);
  if (!message) throw invalidParameter("message must be base64");
  let signature: Uint8Array;
  if (messageType === "RAW") {
    if (message.length > KMS_MAX_MESSAGE_BYTES) {
      throw invalidParameter(`message must be at most ${KMS_MAX_MESSAGE_BYTES} bytes: sign a DIGEST instead`);
    }
    signature = nodeSign("sha256", message, key);
  } else if (messageType === "DIGEST") {
    if (message.length !== 32) throw invalidParameter("a SHA-256 DIGEST message must be 32 bytes");
    signature = privateEncrypt(
      { key, padding: cryptoConstants.RSA_PKCS1_PADDING },
      concatBytes([SHA256_DIGEST_INFO_PREFIX, message]),
    );
  } else {
    throw invalidParameter(`messageType must be RAW or DIGEST: current value is ${messageType}`);
  }
  state.kmsSignatures.push({ keyId, keyVersionId: version.id, messageType: messageType as string });
  return jsonReply(200, {
    keyId,
    keyVersionId: version.id,
    signature: toBase64(signature),
    signingAlgorithm: "SHA_256_RSA_PKCS1_V1_5",
  });
}
