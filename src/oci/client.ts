/**
 * SDK clients under the one retry loop, their errors mapped to ArchiveError, and request signing for fetch.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type * as Common from "oci-common";
import type { OciService } from "../config/validate.ts";
import { ArchiveError, retriableError } from "../errors.ts";
import { boundedResponse, redirectRefused, type RequestSigner } from "../http/request.ts";
import { classifyStatus, retrying } from "../http/retry.ts";
import type { OciSession } from "./session.ts";

/**
 * Where an SDK call's transport leaves the response it got: the SDK's errors drop the headers (Retry-After),
 * so `ociCall` reads them here. One slot per attempt, carried through the SDK's promises by AsyncLocalStorage.
 */
const sdkResponses = new AsyncLocalStorage<SdkAttempt>();

/**
 * One SDK attempt as the transport saw it: the response, and the error of a request this program refused
 * (a redirect, a body over MAX_RESPONSE_BYTES), kept because the SDK hands its caller a plain copy of it.
 */
interface SdkAttempt {
  response?: Response;
  refused?: ArchiveError;
}

/** An SDK client with our retry policy in charge: the SDK's own retries and circuit breaker are off. */
export function ociClient<C extends { endpoint: string; regionId?: string }>(
  session: OciSession,
  Client: new (params: Common.AuthParams, configuration: Common.ClientConfiguration) => C,
  service: OciService,
  options: { endpoint?: string; freshConnections?: boolean } = {},
): C {
  const { common } = session.sdk;
  // The SDK's own transport, signing as the client would; we only note each response for `ociCall`. A call
  // that is not idempotent gets a connection of its own each time: on a pooled connection the server closed
  // before answering, fetch sends the request again by itself, and a PutLogs would go in twice.
  const fresh = options.freshConnections
    ? { client: Deno.createHttpClient({ poolMaxIdlePerHost: 0 }) }
    : undefined;
  // Redirects are refused on every call, as on the fetch path: a request's signature goes to its host only.
  const fetchOptions = { redirect: "error" as const, ...fresh };
  const signer = new common.DefaultRequestSigner(session.provider);
  const transport = new common.FetchHttpClient(
    signer,
    null,
    fetchOptions as unknown as Common.ClientConfiguration["httpOptions"],
  );
  const httpClient: Common.HttpClient = {
    send: async (...args: Parameters<Common.HttpClient["send"]>) => {
      const [request, excludeBody] = args;
      const what = `OCI ${request.method} ${new URL(request.uri).host}`;
      const slot = sdkResponses.getStore();
      const refuse = (error: ArchiveError) => {
        if (slot) slot.refused = error;
        return error;
      };
      const refusedRedirect = (error: unknown) => {
        const redirect = redirectRefused(what, error);
        throw redirect ? refuse(redirect) : error;
      };
      // A binary body that is not signed (PutObject) is sent here: the SDK's transport first tests it for
      // emptiness with Object.keys, which for a Uint8Array names every byte — 0.7 s of CPU and most of the
      // garbage per 2 MB object, measured (docs/performance.md). Signing and sending are as the SDK's.
      const response = excludeBody && request.body instanceof Uint8Array
        ? await signer.signHttpRequest(request, true).then(() =>
          fetch(request.uri, {
            method: request.method,
            headers: request.headers,
            body: request.body,
            ...fetchOptions,
          })
        ).catch(refusedRedirect)
        : await transport.send(...args).catch(refusedRedirect);
      if (slot) slot.response = response;
      // The SDK reads the body itself: it is counted as it is read, within MAX_RESPONSE_BYTES (invariant 12).
      return boundedResponse(response, what, refuse);
    },
  };
  // The clients use both at run time (the provider for its region); the type allows only one of them.
  const params = {
    authenticationDetailsProvider: session.provider,
    httpClient,
  } as unknown as Common.AuthParams;
  const client = new Client(params, {
    retryConfiguration: common.NoRetryConfigurationDetails,
    circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
  });
  const override = options.endpoint ?? session.config.endpoints[service];
  if (override) client.endpoint = override;
  else if (session.config.region && "regionId" in client) client.regionId = session.config.region;
  return client;
}

/** Maps an SDK failure to our error through the one classifier; 401/403/404 say what to check. */
function ociError(what: string, error: unknown, response?: Response): ArchiveError {
  if (error instanceof ArchiveError) return error;
  const oci = error as { statusCode?: number; serviceCode?: string; message?: string; opcRequestId?: string };
  const status = oci.statusCode ?? 0;
  const detail = `${what}: ${status ? `HTTP ${status} ${oci.serviceCode ?? ""}`.trim() : ""} ${
    (oci.message ?? String(error)).slice(0, 300)
  }${oci.opcRequestId ? ` (opc-request-id ${oci.opcRequestId})` : ""}`;
  if (status <= 0) return retriableError("NETWORK", detail, { cause: error });
  const { code, retriable, retryAfterMs } = classifyStatus(status, response?.headers, Date.now());
  const hint = {
    AUTH: " — OCI rejected the request signature: check OCI_AUTH and the clock",
    FORBIDDEN: " — not authorized: `policies` prints what to grant",
    NOT_FOUND: " — not found, or not authorized: `policies` prints what to grant",
  }[code as string] ?? "";
  return new ArchiveError(code, detail + hint, { status, retriable, retryAfterMs, cause: error });
}

/**
 * One SDK call under the shared retry loop. `retry` narrows which retriable failures are retried, for calls
 * that are not idempotent (PutLogs): a failure it declines is thrown as it is.
 */
export function ociCall<T>(
  what: string,
  call: () => Promise<T>,
  options: { retry?: (error: ArchiveError) => boolean } = {},
): Promise<T> {
  let slot: SdkAttempt = {};
  return retrying(what, () => sdkResponses.run(slot = {}, call), (error) => {
    const archiveError = slot.refused ?? ociError(what, error, slot.response);
    if (!archiveError.retriable || (options.retry ?? (() => true))(archiveError)) return archiveError;
    return new ArchiveError(archiveError.code, archiveError.message, {
      status: archiveError.status,
      cause: archiveError.cause,
    });
  });
}

/** Signs a request as the SDK's clients do (its DefaultRequestSigner), for calls whose body we read ourselves. */
export function ociRequestSigner(session: OciSession): RequestSigner {
  const signer = new session.sdk.common.DefaultRequestSigner(session.provider);
  return (uri, method, headers) => signer.signHttpRequest({ uri, method: method as Common.Method, headers });
}
