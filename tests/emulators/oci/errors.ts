/**
 * The errors OCI services answer with.
 *
 * @module
 */

/** A request the service refuses: `{code, message}` JSON, as every OCI service answers. */
export class OciError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export function notAuthenticated(detail: string): OciError {
  return new OciError(
    401,
    "NotAuthenticated",
    `The required information to complete authentication was not provided or was incorrect: ${detail}`,
  );
}

export function invalidParameter(message: string): OciError {
  return new OciError(400, "InvalidParameter", message);
}

export function missingParameter(name: string): OciError {
  return new OciError(400, "MissingParameter", `Missing required parameter '${name}'`);
}
