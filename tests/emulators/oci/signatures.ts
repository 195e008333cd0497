/**
 * Request signatures (`Authorization: Signature …`) and the API keys that make them.
 *
 * @module
 */

import { createPublicKey, KeyObject } from "node:crypto";
import { type Bytes, colonHex, digest, fromBase64, toBase64, toPem, utf8 } from "./bytes.ts";
import { notAuthenticated } from "./errors.ts";
import { rsaVerify } from "./x509.ts";

/**
 * Oracle rejects requests whose date is more than 5 minutes off (docs/oracle/oci-apis.md, "Request
 * signatures").
 */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** The SDK's digest of an empty body (signer.js EMPTY_SHA). */
const EMPTY_BODY_SHA256 = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

interface SignatureHeader {
  keyId: string;
  headers: string[];
  signature: Bytes;
}

/** `Signature version="1",keyId="…",algorithm="rsa-sha256",headers="…",signature="…"`, fields in any order. */
export function parseAuthorization(header: string | null): SignatureHeader {
  const match = /^Signature\s+(.+)$/is.exec(header ?? "");
  if (!match) throw notAuthenticated("the Authorization header must be an HTTP signature");
  const fields = new Map<string, string>();
  for (const [, name, value] of match[1].matchAll(/\s*([A-Za-z]+)\s*=\s*"([^"]*)"\s*(?:,|$)/g)) {
    if (fields.has(name)) throw notAuthenticated(`the signature field ${name} is repeated`);
    fields.set(name, value);
  }
  if (fields.get("version") !== "1") throw notAuthenticated('the signature must have version="1"');
  if (fields.get("algorithm") !== "rsa-sha256") {
    throw notAuthenticated('the signature algorithm must be "rsa-sha256"');
  }
  const keyId = fields.get("keyId");
  const headers = fields.get("headers");
  const signature = fromBase64(fields.get("signature") ?? "");
  if (!keyId || !headers || !signature || signature.length === 0) {
    throw notAuthenticated("the signature must have keyId, headers and signature");
  }
  return { keyId, headers: headers.trim().toLowerCase().split(/\s+/), signature };
}

/** The request target exactly as sent: Deno.serve keeps the raw path and query in `request.url`. */
export function rawTarget(request: Request): string {
  const url = request.url;
  const pathStart = url.indexOf("/", url.indexOf("//") + 2);
  return pathStart < 0 ? "/" : url.slice(pathStart);
}

function signingString(request: Request, headers: readonly string[]): string {
  return headers.map((name) => {
    if (name === "(request-target)") {
      return `(request-target): ${request.method.toLowerCase()} ${rawTarget(request)}`;
    }
    const value = request.headers.get(name);
    if (value === null) throw notAuthenticated(`the signed header ${name} is not in the request`);
    return `${name}: ${value}`;
  }).join("\n");
}

/**
 * What must be signed (docs/oracle/oci-apis.md): `(request-target)`, `host` and a date
 * always; for POST/PUT/PATCH also the body headers, unless the operation
 * streams its body (PutObject, UploadPart); then the digest must match.
 */
export function checkSignedHeaders(
  request: Request,
  signed: readonly string[],
  body: Bytes,
  bodySigned: boolean,
): void {
  const required = ["(request-target)", "host"];
  if (bodySigned) required.push("content-type", "content-length", "x-content-sha256");
  const missing = required.filter((name) => !signed.includes(name));
  if (!signed.includes("x-date") && !signed.includes("date")) missing.push("x-date");
  if (missing.length > 0) throw notAuthenticated(`the signature must cover ${missing.join(", ")}`);
  for (const name of ["x-date", "date"]) {
    if (!signed.includes(name)) continue;
    const value = request.headers.get(name) ?? "";
    const time = Date.parse(value);
    if (Number.isNaN(time)) throw notAuthenticated(`the ${name} header "${value}" is not an HTTP date`);
    if (Math.abs(time - Date.now()) > MAX_CLOCK_SKEW_MS) {
      throw notAuthenticated(
        `the ${name} header "${value}" is more than 5 minutes away from the server time`,
      );
    }
  }
  if (bodySigned) {
    const expected = body.length === 0 ? EMPTY_BODY_SHA256 : toBase64(digest("sha256", body));
    if (request.headers.get("x-content-sha256") !== expected) {
      throw notAuthenticated("x-content-sha256 does not match the body");
    }
    if (request.headers.get("content-length") !== String(body.length)) {
      throw notAuthenticated("content-length does not match the body");
    }
  }
}

export function verifySignatureWith(request: Request, parsed: SignatureHeader, key: KeyObject): void {
  if (!rsaVerify(key, utf8(signingString(request, parsed.headers)), parsed.signature)) {
    throw notAuthenticated("the signature does not verify");
  }
}

export function importApiKey(publicKey: CryptoKey | string): KeyObject {
  return typeof publicKey === "string" ? createPublicKey(publicKey) : KeyObject.from(publicKey);
}

/** A fresh RSA 2048 key pair, RSASSA-PKCS1-v1_5 with SHA-256: what a Vault key (`kmsKeys`) or an API key holds. */
export async function generateRsaKeyPair(extractable = false): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    extractable,
    ["sign", "verify"],
  ) as CryptoKeyPair;
}

/**
 * A fresh RSA 2048 API signing key: keyId `tenancy/user/fingerprint`, where the
 * fingerprint is the MD5 of the DER public key in colon hex, as the Console shows it.
 */
export async function generateApiKey(
  tenancy: string,
  user: string,
): Promise<{ keyId: string; fingerprint: string; privateKeyPem: string; publicKey: CryptoKey }> {
  const pair = await generateRsaKeyPair(true);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const fingerprint = colonHex(digest("md5", spki));
  const privateKeyPem = toPem(
    "PRIVATE KEY",
    new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
  );
  return {
    keyId: `${tenancy}/${user}/${fingerprint}`,
    fingerprint,
    privateKeyPem,
    publicKey: pair.publicKey,
  };
}
