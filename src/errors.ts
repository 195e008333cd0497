/**
 * One error type with a code; `main()` maps the codes to exit statuses 1 and 2.
 *
 * @module
 */

export type ErrorCode =
  | "USAGE" // bad command line: exit 2
  | "CONFIG" // bad settings, keys or files: exit 2
  | "AUTH" // the service rejected our credentials (401)
  | "FORBIDDEN" // authenticated, not permitted (403)
  | "NOT_FOUND" // 404: for OCI "not found, or not authorized" (NotAuthorizedOrNotFound)
  | "CONFLICT" // 412: a create-if-absent found the name taken
  | "HTTP" // an unexpected status, or retries exhausted
  | "PROTOCOL" // a response that is not what the API documents
  | "NETWORK" // unreachable, reset, timed out
  | "ARCHIVE" // the archive is inconsistent or cannot be written
  | "UNAUTHENTIC" // an archive object the key does not vouch for: never built on (invariant 11)
  | "VERIFY";

// verify or export found a problem
export class ArchiveError extends Error {
  override name = "ArchiveError";
  /** Whether sending the same request again may succeed. */
  readonly retriable: boolean;
  /** How long the service asked us to wait (Retry-After). */
  readonly retryAfterMs?: number;
  /** The HTTP status behind the error, where there was one. */
  readonly status?: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options: { cause?: unknown; retriable?: boolean; retryAfterMs?: number; status?: number } = {},
  ) {
    super(message, { cause: options.cause });
    this.retriable = options.retriable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
  }
}

export const retriableError = (
  code: ErrorCode,
  message: string,
  options: { cause?: unknown; retryAfterMs?: number; status?: number } = {},
) => new ArchiveError(code, message, { ...options, retriable: true });

export const exitCodeOf = (error: unknown) =>
  error instanceof ArchiveError && (error.code === "CONFIG" || error.code === "USAGE") ? 2 : 1;
