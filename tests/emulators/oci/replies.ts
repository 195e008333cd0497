/**
 * Faults and replies: what the gateway decides for a request, and how an answer becomes a response.
 *
 * @module
 */

import { COMMON_FAULT_DEFAULTS, decideFault, type FaultModel } from "../faults.ts";
import { resetResponse } from "../http.ts";
import type { Random } from "../random.ts";
import { type Bytes, utf8 } from "./bytes.ts";
import { OciError } from "./errors.ts";
import type { OciFaults } from "./types.ts";

export type Fault =
  | { kind: "none" }
  | { kind: "429"; retryAfter: boolean }
  | { kind: "5xx"; status: 500 | 503 }
  | { kind: "reset"; variant: number };

interface Decision {
  fault: Fault;
  /** Whether a competing writer wins this request's conditional PUT, should it be one. */
  race: boolean;
}

/** OCI's fault fields, as `resolveFaults` checks and completes them. */
export const FAULT_MODEL: FaultModel<OciFaults> = {
  rates: ["rate429", "retryAfterRate", "rate5xx", "share503", "rateReset", "rate412"],
  defaults: {
    ...COMMON_FAULT_DEFAULTS,
    share503: 0.5,
    rate412: 0,
    dropAfterWork: { operations: [], rate: 0 },
  },
  exclusive: ["rate429", "rate5xx", "rateReset"],
  nestedRates: (resolved) => [["dropAfterWork.rate", resolved.dropAfterWork.rate]],
};

/** Draws exactly three numbers per request, whatever the outcome, so one seed gives one sequence of decisions. */
export function decideOciFault(random: Random, faults: Required<OciFaults>): Decision {
  const fault = decideFault<Fault>(random, (variant) => [
    [faults.rate429, () => ({ kind: "429", retryAfter: variant < faults.retryAfterRate })],
    [faults.rate5xx, () => ({ kind: "5xx", status: variant < faults.share503 ? 503 : 500 })],
    [faults.rateReset, () => ({ kind: "reset", variant })],
  ]) ?? { kind: "none" };
  return { fault, race: random() < faults.rate412 };
}

/** A response before faults and common headers are applied. */
export interface Reply {
  status: number;
  body?: string | Bytes;
  contentType?: string;
  headers?: Record<string, string>;
}

export function jsonReply(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(value), contentType: "application/json", headers };
}

export function errorReply(error: OciError): Reply {
  return jsonReply(error.status, { code: error.code, message: error.message });
}

/** What a rate limiter or load balancer answers in the service's stead. */
export function gatewayFaultReply(fault: Fault & { kind: "429" | "5xx" }): Reply {
  if (fault.kind === "429") {
    const reply = errorReply(new OciError(429, "TooManyRequests", "Too many requests for the tenancy"));
    return fault.retryAfter ? { ...reply, headers: { "retry-after": "1" } } : reply;
  }
  return fault.status === 500
    ? errorReply(new OciError(500, "InternalServerError", "Internal server error"))
    : errorReply(new OciError(503, "ServiceUnavailable", "The service is temporarily unavailable"));
}

/** Whether a reset fault can cut this reply: it needs a body of two bytes or more to cut between. */
export function cutsBody(reply: Reply, method: string): boolean {
  const length = typeof reply.body === "string" ? utf8(reply.body).length : reply.body?.length ?? 0;
  return method !== "HEAD" && reply.status !== 204 && reply.status !== 304 && length > 1;
}

/**
 * Builds the HTTP response. HEAD answers carry headers only (errors too, as
 * Object Storage's do). A reset sends part of the body (`resetResponse`).
 */
export function toResponse(reply: Reply, fault: Fault, requestId: string, method: string): Response {
  const headers = new Headers({ "opc-request-id": requestId, ...reply.headers });
  if (reply.contentType) headers.set("content-type", reply.contentType);
  const bytes = typeof reply.body === "string" ? utf8(reply.body) : reply.body ?? new Uint8Array();
  if (method === "HEAD") {
    if (!headers.has("content-length")) headers.set("content-length", "0");
    return new Response(null, { status: reply.status, headers });
  }
  if (reply.status === 204 || reply.status === 304) {
    return new Response(null, { status: reply.status, headers });
  }
  if (fault.kind === "reset" && cutsBody(reply, method)) {
    return resetResponse(bytes, fault.variant, reply.status, headers);
  }
  return new Response(bytes, { status: reply.status, headers });
}
