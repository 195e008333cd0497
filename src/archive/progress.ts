/**
 * The backfill's progress line on a terminal.
 *
 * @module
 */

import type { Segment } from "./format.ts";
import { drawStatusLine, endStatusLine } from "../log.ts";
import type { Window } from "../window.ts";

/**
 * Backfill progress: on a terminal, one line redrawn after each window (events, windows, rate, how far through
 * the stretch, and the time left at this rate) below the log lines (src/log.ts keeps them apart); elsewhere
 * the JSON log of each window says it all.
 */
export class BackfillProgress {
  readonly #started = Date.now();
  #events = 0;
  #windows = 0;
  constructor(readonly terminal: boolean) {}

  window(segment: Segment, window: Window, events: number) {
    this.#events += events;
    this.#windows++;
    if (!this.terminal) return;
    const end = segment.end === Infinity ? Date.now() : segment.end;
    const fraction = Math.min(1, (window.end - segment.start) / Math.max(1, end - segment.start));
    const line = progressLine({
      events: this.#events,
      windows: this.#windows,
      elapsedMs: Date.now() - this.#started,
      fraction,
    });
    drawStatusLine(line);
  }

  end() {
    if (this.terminal) endStatusLine();
  }
}

/** `12,345 events, 17 windows, 2,100 events/s, 42% — about 3 min left`. Pure. */
export function progressLine(
  p: { events: number; windows: number; elapsedMs: number; fraction: number },
): string {
  const rate = p.events / Math.max(p.elapsedMs / 1000, 0.001);
  const leftMs = p.fraction > 0 ? p.elapsedMs * (1 - p.fraction) / p.fraction : Infinity;
  const left = !Number.isFinite(leftMs)
    ? "time left unknown"
    : leftMs < 60_000
    ? `about ${Math.ceil(leftMs / 1000)} s left`
    : leftMs < 2 * 3_600_000
    ? `about ${Math.round(leftMs / 60_000)} min left`
    : `about ${Math.round(leftMs / 3_600_000)} h left`;
  const number = (n: number) => Math.round(n).toLocaleString("en-US");
  return `${number(p.events)} events, ${number(p.windows)} windows, ${number(rate)} events/s, ${
    Math.floor(p.fraction * 100)
  }% — ${left}`;
}
