/**
 * Instance and resource principals: the instance metadata service, its certificate chain, and the `/v1/x509`
 * federation endpoint.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { randomHex } from "../random.ts";
import { type Bytes, colonHex, digest, fromBase64, randomUuid, toPem, utf8 } from "./bytes.ts";
import { invalidParameter, notAuthenticated } from "./errors.ts";
import { DAY_MS, type Params, parseJsonBody } from "./params.ts";
import { jsonReply, type Reply } from "./replies.ts";
import { checkSignedHeaders, parseAuthorization, verifySignatureWith } from "./signatures.ts";
import type { InstanceIdentity, State } from "./state.ts";
import { buildCertificate, OID, parseCertificate, type ParsedCertificate, rsaVerify } from "./x509.ts";

/** Instance principal session tokens live 20 minutes, as Oracle's do; the SDK refreshes them. */
const INSTANCE_TOKEN_TTL_SECONDS = 20 * 60;

export function regionShortCode(region: string): string {
  const known: Record<string, string> = {
    "us-ashburn-1": "iad",
    "us-phoenix-1": "phx",
    "eu-frankfurt-1": "fra",
  };
  return known[region] ?? region;
}

/**
 * The instance's identity, as the metadata service serves it: a leaf
 * certificate whose subject holds `opc-tenant:<tenancy>` (what
 * AuthUtils.getTenantIdFromCertificate reads), its private key, and the
 * intermediate that signed it. Built on first use: key generation is slow.
 */
function instanceIdentity(state: State): InstanceIdentity {
  if (state.instance) return state.instance;
  const random = state.idRandom;
  const instanceId = `ocid1.instance.oc1.${regionShortCode(state.region)}.emulated${randomHex(random, 40)}`;
  const rootName: [string, string][] = [[OID.commonName, "PKISVC Identity Root (emulated)"], [
    OID.organization,
    "Oracle",
  ]];
  const intermediateName: [string, string][] = [
    [OID.commonName, "PKISVC Identity Intermediate r2 (emulated)"],
    [OID.organization, "Oracle"],
  ];
  const now = Date.now();
  const rootKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const intermediateKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const leafKeys = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const intermediate = buildCertificate({
    serial: utf8(randomHex(random, 16)),
    issuer: rootName,
    subject: intermediateName,
    notBefore: now - DAY_MS,
    notAfter: now + 365 * DAY_MS,
    publicKey: intermediateKeys.publicKey,
    signingKey: rootKeys.privateKey,
    isCa: true,
  });
  const leaf = buildCertificate({
    serial: utf8(randomHex(random, 16)),
    issuer: intermediateName,
    subject: [
      [OID.commonName, instanceId],
      [OID.organizationalUnit, "opc-certtype:instance"],
      [OID.organizationalUnit, `opc-compartment:${state.tenancy}`],
      [OID.organizationalUnit, `opc-instance:${instanceId}`],
      [OID.organizationalUnit, `opc-tenant:${state.tenancy}`],
    ],
    notBefore: now - 60 * 60 * 1000,
    notAfter: now + 30 * DAY_MS,
    publicKey: leafKeys.publicKey,
    signingKey: intermediateKeys.privateKey,
    isCa: false,
  });
  state.instance = {
    instanceId,
    root: { key: rootKeys.publicKey, name: rootName },
    intermediate: { der: intermediate, key: intermediateKeys.publicKey },
    // The metadata service serves a PKCS#1 key ("BEGIN RSA PRIVATE KEY").
    leaf: {
      der: leaf,
      privateKeyPem: leafKeys.privateKey.export({ type: "pkcs1", format: "pem" }) as string,
    },
  };
  return state.instance;
}

/** `GET /opc/v2/instance/region` and `/opc/v2/identity/{cert,key,intermediate}.pem` (IMDS v2 needs the header). */
export function instanceMetadata(state: State, request: Request, params: Params): Reply {
  if (request.headers.get("authorization") !== "Bearer Oracle") {
    return {
      status: 401,
      body: "Unauthorized: the header 'Authorization: Bearer Oracle' is required",
      contentType: "text/plain",
    };
  }
  const text = (body: string): Reply => ({ status: 200, body, contentType: "text/plain" });
  if (params.resource === "instance/region") return text(state.region);
  const identity = instanceIdentity(state);
  if (params.resource === "identity/cert.pem") return text(toPem("CERTIFICATE", identity.leaf.der));
  if (params.resource === "identity/intermediate.pem") {
    return text(toPem("CERTIFICATE", identity.intermediate.der));
  }
  return text(identity.leaf.privateKeyPem);
}

/**
 * `POST /v1/x509`: the body's leaf certificate must chain to the emulator's
 * root through one of `intermediateCertificates`, be current, name the tenancy
 * of the keyId, have the SHA-1 fingerprint of the keyId, and its key must have
 * signed the request (`<tenancy>/fed-x509/<fingerprint>`). Returns a session
 * token bound to `publicKey`.
 */
export function federateX509(state: State, request: Request, body: Bytes): Reply {
  const identity = instanceIdentity(state);
  const parsed = parseAuthorization(request.headers.get("authorization"));
  const keyId = /^(.+)\/fed-x509\/([0-9A-Fa-f:]+)$/.exec(parsed.keyId);
  if (!keyId) throw notAuthenticated("the keyId must be <tenancy>/fed-x509/<certificate fingerprint>");
  checkSignedHeaders(request, parsed.headers, body, true);
  const details = parseJsonBody(body);
  if (details.purpose !== "DEFAULT") {
    throw invalidParameter(`purpose must be DEFAULT: current value is ${details.purpose}`);
  }
  const certificateDer = typeof details.certificate === "string"
    ? fromBase64(details.certificate)
    : undefined;
  const sessionKeyDer = typeof details.publicKey === "string" ? fromBase64(details.publicKey) : undefined;
  if (!certificateDer || !sessionKeyDer) {
    throw invalidParameter("certificate and publicKey must be base64 DER");
  }
  let leaf: ParsedCertificate;
  let sessionKey: KeyObject;
  try {
    leaf = parseCertificate(certificateDer);
    sessionKey = createPublicKey({ key: Buffer.from(sessionKeyDer), format: "der", type: "spki" });
  } catch (error) {
    throw notAuthenticated(`the certificate or public key cannot be parsed: ${(error as Error).message}`);
  }
  if (colonHex(digest("sha1", certificateDer)) !== keyId[2].toLowerCase()) {
    throw notAuthenticated("the keyId fingerprint is not the certificate's SHA-1 fingerprint");
  }
  const intermediates = Array.isArray(details.intermediateCertificates)
    ? details.intermediateCertificates
    : [];
  const chained = intermediates.some((text) => {
    const intermediateDer = typeof text === "string" ? fromBase64(text) : undefined;
    if (!intermediateDer) return false;
    try {
      const intermediate = parseCertificate(intermediateDer);
      return rsaVerify(identity.root.key, intermediate.tbs, intermediate.signature) &&
        rsaVerify(intermediate.publicKey, leaf.tbs, leaf.signature);
    } catch {
      return false;
    }
  });
  if (!chained) throw notAuthenticated("the certificate does not chain to a trusted root");
  const now = Date.now();
  if (now < leaf.notBefore || now > leaf.notAfter) {
    throw notAuthenticated("the certificate is not currently valid");
  }
  const tenant = leaf.subject.find((value) => value.startsWith("opc-tenant:"))?.slice("opc-tenant:".length);
  if (tenant !== state.tenancy || keyId[1] !== tenant) {
    throw notAuthenticated("the certificate's tenancy is not the keyId's tenancy or this tenancy");
  }
  verifySignatureWith(request, parsed, leaf.publicKey);
  const instanceId = leaf.subject.find((value) => value.startsWith("opc-instance:"))?.slice(
    "opc-instance:".length,
  );
  const token = state.authority.issue(
    {
      sub: instanceId,
      tenant: state.tenancy,
      "opc-tenant": state.tenancy,
      "opc-instance": instanceId,
      "opc-compartment": state.tenancy,
      "opc-certtype": "instance",
      ptype: "instance",
      ttype: "x509",
      jti: randomUuid(state.idRandom),
    },
    sessionKey,
    INSTANCE_TOKEN_TTL_SECONDS,
  );
  return jsonReply(200, { token });
}
