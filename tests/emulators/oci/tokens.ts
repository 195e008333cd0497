/**
 * The token authority: session tokens (JWTs) of instance and resource principals and of user sessions.
 *
 * @module
 */

import { createPublicKey, generateKeyPairSync, KeyObject, sign as nodeSign } from "node:crypto";
import { fromBase64Url, toBase64Url, utf8 } from "./bytes.ts";
import { notAuthenticated } from "./errors.ts";
import { rsaVerify } from "./x509.ts";

const TOKEN_ISSUER = "authService.oracle.com";

type Claims = Record<string, unknown>;

/**
 * Issues and checks the JWTs that stand for a principal: instance principal
 * tokens from `/v1/x509`, resource principal RPSTs and user session tokens. Each carries the session
 * public key as a JWK JSON string in `jwk`, as Oracle's do; requests are then
 * signed with the session private key and keyId `ST$<jwt>`.
 */
export class TokenAuthority {
  #generated?: { publicKey: KeyObject; privateKey: KeyObject };
  /** Made on first use: key generation takes half a second, and most emulators never issue a token. */
  get #keys(): { publicKey: KeyObject; privateKey: KeyObject } {
    return this.#generated ??= generateKeyPairSync("rsa", { modulusLength: 2048 });
  }
  readonly #sessionKeys = new Map<string, KeyObject>();

  /** Synchronous (node:crypto), so `resourcePrincipalEnv()` can be. */
  issue(claims: Claims, sessionPublicKey: KeyObject, ttlSeconds: number): string {
    const now = Math.floor(Date.now() / 1000);
    const jwk = { kid: "session", ...sessionPublicKey.export({ format: "jwk" }), alg: "RS256", use: "sig" };
    const payload = {
      iss: TOKEN_ISSUER,
      aud: "oci",
      iat: now,
      exp: now + ttlSeconds,
      ...claims,
      jwk: JSON.stringify(jwk),
    };
    const signingInput = `${toBase64Url(utf8(JSON.stringify({ alg: "RS256", kid: "asw", typ: "JWT" })))}.${
      toBase64Url(utf8(JSON.stringify(payload)))
    }`;
    return `${signingInput}.${toBase64Url(nodeSign("sha256", utf8(signingInput), this.#keys.privateKey))}`;
  }

  /** The session key of a token this authority issued and that has not expired. */
  sessionKey(token: string): KeyObject {
    const parts = token.split(".");
    const signature = parts.length === 3 ? fromBase64Url(parts[2]) : undefined;
    if (!signature || !rsaVerify(this.#keys.publicKey, utf8(`${parts[0]}.${parts[1]}`), signature)) {
      throw notAuthenticated("the security token was not issued by this service");
    }
    const claims = JSON.parse(new TextDecoder().decode(fromBase64Url(parts[1]))) as Claims;
    if (typeof claims.exp !== "number" || claims.exp * 1000 <= Date.now()) {
      throw notAuthenticated("the security token has expired");
    }
    let key = this.#sessionKeys.get(token);
    if (!key) {
      key = createPublicKey({ key: JSON.parse(String(claims.jwk)), format: "jwk" });
      this.#sessionKeys.set(token, key);
    }
    return key;
  }
}
