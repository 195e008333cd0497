/**
 * The source contract: what a source reads for a window, and what each kind of source is.
 *
 * @module
 */

import type { SourceName } from "../config/settings.ts";
import type { Window } from "../window.ts";

/**
 * One event: its id and time for ordering and checks, and its JSON exactly as the API returned it, as the
 * UTF-8 bytes it came in (a view into the page: half the memory of a string of a page with any non-Latin-1
 * character, which V8 holds two bytes a character, and nothing to encode again when the window is written).
 */
export interface ArchivedEvent {
  id: string;
  time: number;
  json: Uint8Array;
}

/** A window's events, or the time the window must end before so it holds at most `limit` events. */
export type WindowRead =
  | { kind: "complete"; events: ArchivedEvent[]; sourceTotal: number | null; skippedCompartments?: string[] }
  | { kind: "overflow"; cutAt: number };

/** What the archive needs to know of each source's events and API, in one place (docs/design.md §5). */
export interface SourceKind {
  /** The member that identifies an event, and the one that says when it occurred. */
  idField: "id" | "eventId";
  timeField: "timestamp" | "eventTime";
  /** The clock a window is on: the event's own time, or when Oracle processed it (OCI Audit). */
  basis: "event-time" | "processing-time";
  /** Smallest time step the API distinguishes; windows start and end on it. */
  granularityMs: number;
  /** The retention assumed when the source does not say (status warns before it runs out). */
  assumedRetentionDays: number;
}

export const SOURCE_KINDS: Readonly<Record<SourceName, SourceKind>> = {
  // AuditEvents filters on `timestamp` to the millisecond. A domain may keep its audit 30 to 90 days, but
  // AuditEvents serves only the last 14 (older ones only through OCI Audit): docs/oracle/identity-domains.md
  // [config-audit-retention].
  "idcs": {
    idField: "id",
    timeField: "timestamp",
    basis: "event-time",
    granularityMs: 1,
    assumedRetentionDays: 14,
  },
  // ListEvents ranges are on processing time, to the minute; tenancies keep 90 to 365 days (docs/oracle/oci-apis.md).
  "oci-audit": {
    idField: "eventId",
    timeField: "eventTime",
    basis: "processing-time",
    granularityMs: 60_000,
    assumedRetentionDays: 90,
  },
};

export interface Source {
  readonly name: SourceName;
  readonly kind: SourceKind;
  /** Identity domain or compartment: one archive chain per (name, scope). */
  readonly scope: string;
  readonly settleMs: number;
  readonly since: number;
  readWindow(window: Window, limit: number): Promise<WindowRead>;
  /** Proves the credentials and permissions work, before a new chain writes anything. */
  check(): Promise<void>;
}

/** Orders events by (time, id), the archive's line order. */
export function sortEvents(events: ArchivedEvent[]): ArchivedEvent[] {
  return events.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
