/**
 * The identity domain's OAuth client credentials: a signed JWT client assertion, tokens reused until they expire.
 *
 * @module
 */

import * as jose from "jose";
import type { SourceConfig } from "../config/validate.ts";
import { ArchiveError, retriableError } from "../errors.ts";
import { request } from "../http/request.ts";
import { importPrivateKey, kmsSigner, loadSecretKey, localSigner, type Signer } from "../keys.ts";
import { registerSecret } from "../log.ts";
import type { OciSession } from "../oci/session.ts";
import { grantAdvice } from "../permissions.ts";

const IDCS_SCOPE = "urn:opc:idm:__myscopes__";

const LEGACY_AUDIENCE = "https://identity.oraclecloud.com/";

const ASSERTION_LIFETIME_S = 300;

const TOKEN_REFRESH_MARGIN_MS = 60_000;

/** Builds the client assertion (RFC 7523 §3): iss = sub = client id, both audiences, short expiry. */
export async function signAssertion(
  claims: { clientId: string; keyId: string; domainUrl: string; now: number },
  sign: Signer,
): Promise<string> {
  const iat = Math.floor(claims.now / 1000);
  const encode = (value: unknown) => jose.base64url.encode(JSON.stringify(value));
  const input = `${encode({ alg: "RS256", typ: "JWT", kid: claims.keyId })}.${
    encode({
      iss: claims.clientId,
      sub: claims.clientId,
      aud: [claims.domainUrl, LEGACY_AUDIENCE],
      iat,
      exp: iat + ASSERTION_LIFETIME_S,
      jti: crypto.randomUUID(),
    })
  }`;
  const signature = await sign(new TextEncoder().encode(input));
  return `${input}.${jose.base64url.encode(signature)}`;
}

/** Access tokens for one identity domain, reused until shortly before they expire. */
export class IdcsTokens {
  #token?: { value: string; expires: number };
  #pending?: Promise<string>;
  constructor(
    readonly config: SourceConfig,
    readonly sign?: Signer,
  ) {}

  get(): Promise<string> {
    if (this.#token && Date.now() < this.#token.expires - TOKEN_REFRESH_MARGIN_MS) {
      return Promise.resolve(this.#token.value);
    }
    this.#pending ??= this.#fetch().finally(() => this.#pending = undefined);
    return this.#pending;
  }

  /** Drops the cached token (after a 401, it may have been revoked). */
  invalidate() {
    this.#token = undefined;
  }

  async #fetch(): Promise<string> {
    const { keyId, clientSecret } = this.config;
    const idcsUrl = this.config.idcsUrl!, clientId = this.config.clientId!;
    const form = new URLSearchParams({ grant_type: "client_credentials", scope: IDCS_SCOPE });
    const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
    if (this.sign) {
      const assertion = await signAssertion(
        { clientId, keyId: keyId!, domainUrl: idcsUrl, now: Date.now() },
        this.sign,
      );
      registerSecret(assertion, `${idcsUrl} assertion`);
      form.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
      form.set("client_assertion", assertion);
    } else {
      headers.authorization = `Basic ${
        btoa(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret!)}`)
      }`;
    }
    const token = await request(`${idcsUrl}/oauth2/v1/token`, {
      what: "identity domain token",
      method: "POST",
      headers,
      body: form.toString(),
      parse: (body) => {
        const { access_token, expires_in } = body as { access_token?: unknown; expires_in?: unknown };
        if (typeof access_token !== "string" || !access_token || typeof expires_in !== "number") {
          throw retriableError(
            "PROTOCOL",
            "identity domain token: the response has no access_token/expires_in",
          );
        }
        return { value: access_token, expires: Date.now() + expires_in * 1000 };
      },
      onStatus: (status, detail) =>
        status === 400 || status === 401
          ? new ArchiveError(
            "AUTH",
            `${detail} — the identity domain rejected the client credentials: check IDCS_CLIENT_ID, IDCS_KEY_ID (the certificate alias) and that the key matches the uploaded certificate`,
          )
          : undefined,
    });
    registerSecret(token.value, `${idcsUrl} token`);
    this.#token = token;
    return token.value;
  }
}

/** Loads the key named by the config and returns its signer, or undefined for a client secret. */
export async function loadSigner(
  config: SourceConfig,
  session: OciSession | undefined,
): Promise<Signer | undefined> {
  registerSecret(config.clientSecret);
  if (config.signingKeyId) {
    return kmsSigner(session!, { keyId: config.signingKeyId, cryptoEndpoint: config.signingKeyEndpoint! });
  }
  if (config.keySecretId) return localSigner(await loadSecretKey(session!, config.keySecretId));
  if (!config.privateKeyFile) return undefined;
  let pem: string;
  try {
    pem = await Deno.readTextFile(config.privateKeyFile);
  } catch (error) {
    const hint = error instanceof Deno.errors.NotCapable
      ? `the Deno permission set does not allow reading it: keep keys under ./keys; or, ${
        grantAdvice({ read: [config.privateKeyFile] })
      }`
      : (error as Error).message;
    throw new ArchiveError(
      "CONFIG",
      `IDCS_PRIVATE_KEY_FILE ${config.privateKeyFile} cannot be read: ${hint}`,
    );
  }
  return localSigner(await importPrivateKey(pem, `IDCS_PRIVATE_KEY_FILE ${config.privateKeyFile}`));
}
