/**
 * Request parameters: RFC 3339 times, query strings, opaque page tokens and JSON bodies.
 *
 * @module
 */

import { type Bytes, fromBase64Url, toBase64Url, utf8 } from "./bytes.ts";
import { invalidParameter, OciError } from "./errors.ts";

export type Params = Record<string, string>;

export const DAY_MS = 24 * 60 * 60 * 1000;

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})$/i;

interface ParsedTime {
  ms: number;
  /** Seconds or fractions were given and are not zero. */
  hasSeconds: boolean;
}

/**
 * RFC 3339, as liberal as the SDK needs: its `formatDateToRFC3339` writes the
 * hour without a leading zero (`2026-01-01T5:00:00Z`) and no milliseconds.
 */
export function parseRfc3339(text: string): ParsedTime | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute] = match.slice(1, 6).map(Number);
  const second = Number(match[6] ?? 0);
  const fraction = match[7] ?? "";
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate()) {
    return undefined;
  }
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  const zone = match[8].toUpperCase();
  if (zone !== "Z") {
    const digits = zone.replace(":", "");
    offsetMinutes = (digits[0] === "-" ? -1 : 1) *
      (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) +
    Number(fraction.padEnd(3, "0").slice(0, 3)) -
    offsetMinutes * 60_000;
  return { ms, hasSeconds: second !== 0 || /[1-9]/.test(fraction) };
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The SDK sends query values unencoded but for what `fetch` escapes, so `+` is
 * a plus, not a space (docs/oracle/oci-apis.md, "Object Storage"): decode with
 * `decodeURIComponent`, never `URLSearchParams`. A repeated parameter is a 400.
 */
export function parseQuery(rawQuery: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const pair of rawQuery.split("&")) {
    if (pair === "") continue;
    const equals = pair.indexOf("=");
    const [rawName, rawValue] = equals < 0 ? [pair, ""] : [pair.slice(0, equals), pair.slice(equals + 1)];
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName);
      value = decodeURIComponent(rawValue);
    } catch {
      throw invalidParameter(`The query parameter '${rawName}' is not validly percent-encoded`);
    }
    if (params.has(name)) throw invalidParameter(`The query parameter '${name}' is repeated`);
    params.set(name, value);
  }
  return params;
}

export function parseIntegerParam(
  params: Map<string, string>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const text = params.get(name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d{1,9}$/.test(text) || value < min || value > max) {
    throw invalidParameter(`'${name}' must be an integer from ${min} to ${max}: current value is ${text}`);
  }
  return value;
}

/** Opaque page tokens: base64url JSON, checked against the query they continue. */
export function encodePageToken(value: unknown): string {
  return toBase64Url(utf8(JSON.stringify(value)));
}

export function decodePageToken<T>(token: string, isValid: (value: unknown) => value is T): T {
  const bytes = fromBase64Url(token);
  try {
    const value: unknown = bytes ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
    if (isValid(value)) return value;
  } catch {
    // falls through to the 400
  }
  throw invalidParameter(`The page token '${token}' is not valid for this request`);
}

export function parseJsonBody(body: Bytes): Record<string, unknown> {
  try {
    const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
    if (value !== null && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {
    // falls through to the 400
  }
  throw new OciError(400, "CannotParseRequest", "The request body is not a JSON object");
}
