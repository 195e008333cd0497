/**
 * Window planning, pure: where the next window starts and ends, and where a full one is cut.
 *
 * @module
 */

import { DAY_MS, floorTo } from "./time.ts";

/** A half-open time range [start, end) in epoch milliseconds. */
export interface Window {
  start: number;
  end: number;
}

/** `ms` rounded down to a multiple of `step`: window bounds sit on the source's granularity. */
export const describeWindow = (w: Window) =>
  `[${new Date(w.start).toISOString()}, ${new Date(w.end).toISOString()})`;

/**
 * The next window after the frontier: it ends at the horizon (now − settle), rounded down to the source's
 * granularity, but never past the next UTC midnight, so every object belongs to one day's folder, nor longer
 * than `strideMs` (at least one granule). Undefined when nothing is due.
 */
export function planWindow(
  frontier: number,
  horizon: number,
  granularityMs: number,
  strideMs = Infinity,
): Window | undefined {
  const nextMidnight = (Math.floor(frontier / DAY_MS) + 1) * DAY_MS;
  const longest = floorTo(frontier + Math.max(strideMs, granularityMs), granularityMs);
  const end = Math.min(floorTo(horizon, granularityMs), nextMidnight, longest);
  return end > frontier ? { start: frontier, end } : undefined;
}

/** The share of MAX_EVENTS_PER_OBJECT a planned window aims at: room for the density to vary. */
const STRIDE_FILL = 0.8;

/**
 * How long the next window may be, from the density of the last: long enough for STRIDE_FILL of the limit at
 * that density (unbounded after an empty window). A busy backlog then costs about one read per window instead
 * of cutting down from the whole backlog every time. Pure.
 */
export function nextStride(window: Window, events: number, limit: number): number {
  return events === 0 ? Infinity : (window.end - window.start) * STRIDE_FILL * limit / events;
}

/**
 * Shrinks a window to end at `cutAt`, the time of the first event that does not fit, so the cut falls between
 * two distinct times and never inside a group of events sharing one. When the very first time is already over
 * the limit, that whole group is kept: the window spans exactly one granule.
 */
export function cutWindow(window: Window, cutAt: number, granularityMs: number): Window {
  const end = Math.floor(cutAt / granularityMs) * granularityMs;
  return {
    start: window.start,
    end: end > window.start ? Math.min(end, window.end) : Math.min(window.start + granularityMs, window.end),
  };
}
