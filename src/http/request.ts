/**
 * The fetch helper: timeouts, retries through the one loop, and error mapping for every non-SDK call.
 *
 * @module
 */

import { UTF8 } from "../bytes.ts";
import { ArchiveError, retriableError } from "../errors.ts";
import { classifyStatus, gateOf, maxResponseBytes, retrying } from "./retry.ts";
import { log } from "../log.ts";

const REQUEST_TIMEOUT_MS = 30_000;

/** Adds the authorization of one request to its headers, in place. */
export type RequestSigner = (url: string, method: string, headers: Headers) => Promise<void>;

type RequestOptions<T> =
  & RequestBase
  & (
    | {
      /**
       * Checks the parsed JSON body (and the UTF-8 bytes it was parsed from, for callers that keep it as sent)
       * and returns it typed; throws a PROTOCOL error when it is not as documented.
       */
      parse: (body: unknown, sent: Uint8Array, response: Response) => T;
    }
    | {
      /**
       * Checks the body's bytes itself, never parsed whole: an OCI Audit page can hold thousands of events, and
       * parsing them one at a time keeps no page-sized string or object tree alive (docs/oracle/oci-apis.md).
       */
      parseBytes: (sent: Uint8Array, response: Response) => T;
    }
  );

interface RequestBase {
  /** What the call is, for errors and logs: "identity domain token". */
  what: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Signs each attempt afresh (OCI request signatures carry the time). */
  sign?: RequestSigner;
  /** Maps a non-2xx status that the caller understands (401, 403) to an error; undefined = default mapping. */
  onStatus?: (status: number, detail: string) => ArchiveError | undefined;
}

/** Sends one request with retries; returns the parsed body of the first good response. */
export function request<T>(url: string, options: RequestOptions<T>): Promise<T> {
  return retrying(
    options.what,
    () => attemptRequest(url, options),
    (error) => error instanceof ArchiveError ? error : networkError(options.what, error as Error),
    gateOf(url),
  );
}

/** A failed connection or timeout, with the reason `fetch` keeps in its cause ("fetch failed" alone says nothing). */
function networkError(what: string, error: Error): ArchiveError {
  const reason = error.name === "TimeoutError"
    ? `no response within ${REQUEST_TIMEOUT_MS / 1000} s`
    : (error.cause as Error | undefined)?.message ?? error.message;
  return retriableError("NETWORK", `${what}: ${reason} (check the URL, DNS and egress rules)`, {
    cause: error,
  });
}

async function attemptRequest<T>(url: string, options: RequestOptions<T>): Promise<T> {
  const method = options.method ?? "GET";
  const headers = new Headers(options.headers);
  await options.sign?.(url, method, headers);
  // Redirects are refused: the signature or token of a request goes to the configured host only.
  const response = await fetch(url, {
    method,
    headers,
    body: options.body,
    redirect: "error",
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  }).catch((error) => {
    throw redirectRefused(options.what, error) ?? error;
  });
  // The whole body is read inside the retry loop: a reset or truncated body is retried like a 5xx. A body
  // over MAX_RESPONSE_BYTES is not read further, and fails the request for good.
  const sent = await readBounded(response, options.what);
  const ecid = response.headers.get("x-oracle-dms-ecid") ?? undefined;
  if (!response.ok) {
    const detail = errorDetail(UTF8.decode(sent));
    const where = `${options.what}: HTTP ${response.status}${detail ? ` ${detail}` : ""}${
      ecid ? ` (ecid ${ecid})` : ""
    }`;
    if (ecid) log("debug", "request failed", { what: options.what, status: response.status, ecid });
    const mapped = options.onStatus?.(response.status, where);
    if (mapped) throw mapped;
    const { code, retriable, retryAfterMs } = classifyStatus(response.status, response.headers, Date.now());
    throw new ArchiveError(code, where, { retriable, retryAfterMs, status: response.status });
  }
  if ("parseBytes" in options) return options.parseBytes(sent, response);
  let json: unknown;
  try {
    json = JSON.parse(UTF8.decode(sent));
  } catch {
    throw retriableError("PROTOCOL", `${options.what}: the response is not JSON (${sent.length} bytes)`);
  }
  return options.parse(json, sent, response);
}

/**
 * A `fetch` that failed because the service answered with a redirect (every call sets `redirect: "error"`):
 * not retried, since the same request gets the same answer; undefined for any other failure.
 */
export function redirectRefused(what: string, error: unknown): ArchiveError | undefined {
  if (!(error instanceof TypeError) || !/redirect/i.test(error.message)) return undefined;
  return new ArchiveError(
    "PROTOCOL",
    `${what}: the service answered with a redirect, which is refused (credentials go only to the configured host): check the URL or endpoint setting`,
    { cause: error },
  );
}

/** The failure of a response whose body is larger than MAX_RESPONSE_BYTES: not retried. */
export function responseTooLarge(what: string, limit: number, size: string): ArchiveError {
  return new ArchiveError(
    "PROTOCOL",
    `${what}: the response body is larger than MAX_RESPONSE_BYTES (${limit} bytes; ${size}): it is not read, and the request is not retried. Narrow the request (a smaller PAGE_SIZE, or MAX_EVENTS_PER_OBJECT for OCI Audit) or raise MAX_RESPONSE_BYTES`,
  );
}

/**
 * A response's body, read as a stream and counted: a declared Content-Length over MAX_RESPONSE_BYTES fails
 * before any of it is read, and a body that grows past it fails as soon as it does, so no response can fill
 * the memory (invariant 12).
 */
export async function readBounded(response: Response, what: string): Promise<Uint8Array> {
  const limit = maxResponseBytes();
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    await response.body?.cancel().catch(() => {});
    throw responseTooLarge(what, limit, `Content-Length ${declared}`);
  }
  if (!response.body) return new Uint8Array();
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw responseTooLarge(what, limit, `more than ${limit} bytes sent`);
    }
    parts.push(value);
  }
  if (parts.length === 1) return parts[0];
  const sent = new Uint8Array(size);
  parts.reduce((offset, part) => (sent.set(part, offset), offset + part.length), 0);
  return sent;
}

/**
 * The same bound on a response that someone else reads (the OCI SDK): a declared size over it fails at once;
 * otherwise the body is counted as it is read, and errors when it grows past the bound. `refused` sees the
 * error first (the SDK replaces thrown errors with plain objects: its caller keeps the original there).
 */
export function boundedResponse(
  response: Response,
  what: string,
  refused: (error: ArchiveError) => ArchiveError = (error) => error,
): Response {
  const limit = maxResponseBytes();
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    response.body?.cancel().catch(() => {});
    throw refused(responseTooLarge(what, limit, `Content-Length ${declared}`));
  }
  if (!response.body) return response;
  let size = 0;
  const counted = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.length;
        if (size > limit) {
          controller.error(refused(responseTooLarge(what, limit, `more than ${limit} bytes sent`)));
        } else controller.enqueue(chunk);
      },
    }),
  );
  const bounded = new Response(counted, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  return bounded;
}

/** The human part of an error body: SCIM `detail`, OAuth `error_description`, OCI `message`. */
function errorDetail(text: string): string {
  try {
    const body = JSON.parse(text);
    const detail = body?.detail ?? body?.error_description ?? body?.message ?? body?.error;
    return typeof detail === "string" ? detail.slice(0, 300) : "";
  } catch {
    return "";
  }
}
