/**
 * The fault model both emulators share. Each emulator names its own fault
 * fields, their defaults and its fault bands; this module checks the fields,
 * fills in the defaults and picks a band from one draw, the same way for both.
 *
 * A fault is decided by a fixed number of draws per request, whatever the
 * outcome, so one seed replays one sequence of decisions.
 *
 * @module
 */

import type { Random } from "./random.ts";

/** How an emulator's faults are checked and completed. */
export interface FaultModel<F extends { latencyMs?: number }> {
  /** The fields that are probabilities, checked in this order when set. */
  rates: readonly (keyof F & string)[];
  /** What every field is when not set. */
  defaults: Required<F>;
  /**
   * The rates of faults that exclude each other (a request gets at most one of
   * them), added in this order: their sum must be at most 1.
   */
  exclusive: readonly (keyof F & string)[];
  /** Probabilities inside a completed field, as [name, value]; checked after the defaults are filled in. */
  nestedRates?: (resolved: Required<F>) => [string, number][];
}

/**
 * The defaults of the faults every emulator injects the same way: latency,
 * a gateway's 429 (with `Retry-After` half the time) or 5xx, and a connection
 * reset mid-body; all off.
 */
export const COMMON_FAULT_DEFAULTS = {
  latencyMs: 0,
  rate429: 0,
  retryAfterRate: 0.5,
  rate5xx: 0,
  rateReset: 0,
} as const;

/** One fault band: its rate, and how to build the fault when the draw lands in it. */
export type Band<T> = readonly [rate: number, fault: () => T];

function invalid(field: string, requirement: string, value: unknown): RangeError {
  return new RangeError(
    `Cannot inject faults as '${field}' must be ${requirement}: current value is ${value}`,
  );
}

/**
 * Checks `faults` against `model` (rate fields in [0, 1], `latencyMs` a
 * non-negative number, exclusive rates adding up to at most 1) and returns
 * them with the defaults filled in; throws a RangeError naming the first
 * field that is wrong.
 */
export function resolveFaults<F extends { latencyMs?: number }>(
  faults: F,
  model: FaultModel<F>,
): Required<F> {
  for (const field of model.rates) {
    const value = faults[field] as number | undefined;
    if (value !== undefined && !(value >= 0 && value <= 1)) throw invalid(field, "between 0 and 1", value);
  }
  const latency = faults.latencyMs;
  if (latency !== undefined && !(Number.isFinite(latency) && latency >= 0)) {
    throw invalid("latencyMs", "a non-negative number", latency);
  }
  const resolved: Required<F> = { ...model.defaults, ...faults };
  for (const [field, value] of model.nestedRates?.(resolved) ?? []) {
    if (!(value >= 0 && value <= 1)) throw invalid(field, "between 0 and 1", value);
  }
  let total = 0;
  for (const field of model.exclusive) total += resolved[field] as number;
  if (total > 1) {
    throw new RangeError(
      `Cannot inject faults as ${
        model.exclusive.join(" + ")
      } must add up to at most 1: current sum is ${total}`,
    );
  }
  return resolved;
}

/**
 * Draws exactly two numbers, whatever the outcome: the first picks a band by
 * cumulative rate, the second is the variant handed to the bands (a status,
 * whether `Retry-After` is sent, where a body is cut). Undefined when the draw
 * lands past every band: no fault.
 */
export function decideFault<T>(
  random: Random,
  bands: (variant: number) => readonly Band<T>[],
): T | undefined {
  const draw = random();
  const variant = random();
  let threshold = 0;
  for (const [rate, fault] of bands(variant)) {
    threshold += rate;
    if (draw < threshold) return fault();
  }
  return undefined;
}

/** Waits the injected latency; no timer when there is none. */
export function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
