/**
 * The fetch helper: timeouts, retries through the one loop, and error mapping for every non-SDK call.
 *
 * @module
 */

import { UTF8 } from "../bytes.ts";
import { ArchiveError, retriableError } from "../errors.ts";
import { classifyStatus, gateOf, retrying } from "./retry.ts";
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
  const response = await fetch(url, {
    method,
    headers,
    body: options.body,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  // The whole body is read inside the retry loop: a reset or truncated body is retried like a 5xx.
  const sent = new Uint8Array(await response.arrayBuffer());
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
