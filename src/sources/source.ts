/**
 * The source contract: what a source reads for a window, and what each kind of source is.
 *
 * @module
 */

import type { SourceName } from "../config/settings.ts";
import { log } from "../log.ts";
import { metrics } from "../metrics.ts";
import { describeWindow, type Window } from "../window.ts";

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

/** The id an archived event is known by: its source's id member. */
export function eventKey(kind: SourceKind, event: Record<string, unknown>): string | undefined {
  const id = event[kind.idField];
  return typeof id === "string" && id ? id : undefined;
}

/** When an archived event occurred: its source's time member. */
export function eventTime(kind: SourceKind | undefined, event: Record<string, unknown>): number | undefined {
  const text = kind && event[kind.timeField];
  const ms = typeof text === "string" ? Date.parse(text) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * An event whose id and time were read from the JSON value its bytes hold, as `verify` reads them from its
 * line (`eventKey`, `eventTime`), by `eventFromValue`; frozen, so they stay that. The commit path checks such
 * an event's line without parsing it again. A class with a private brand rather than a set of such events:
 * a third of the CPU, and nothing for the garbage collector to trace.
 */
class EventFromValue implements ArchivedEvent {
  readonly #fromValue = true;
  constructor(readonly id: string, readonly time: number, readonly json: Uint8Array) {
    Object.freeze(this);
  }

  static is(event: ArchivedEvent): boolean {
    return #fromValue in event;
  }
}

/**
 * The event whose bytes are `json`, one line, and whose JSON value is `value` (JSON.parse of them, or the same
 * value parsed as part of its page), or undefined when the value has no id or time of `kind`. Pure.
 */
export function eventFromValue(
  kind: SourceKind,
  json: Uint8Array,
  value: unknown,
): ArchivedEvent | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const id = eventKey(kind, value as Record<string, unknown>);
  const time = eventTime(kind, value as Record<string, unknown>);
  return id === undefined || time === undefined ? undefined : new EventFromValue(id, time, json);
}

/** Whether the event's id and time are those its bytes hold (`eventFromValue`): its line needs no parse. */
export const readFromValue = (event: ArchivedEvent): boolean => EventFromValue.is(event);

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
  /**
   * A window's events, or where to cut it to hold at most `limit`. A read without a limit (Infinity) asks the
   * source afresh for every event of the window: reconcile relies on it (docs/design.md §9).
   */
  readWindow(window: Window, limit: number): Promise<WindowRead>;
  /** Proves the credentials and permissions work, before a new chain writes anything. */
  check(): Promise<void>;
}

/** Orders events by (time, id), the archive's line order. */
export function sortEvents(events: ArchivedEvent[]): ArchivedEvent[] {
  return events.sort((a, b) => a.time - b.time || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Whether two events' bytes are the same. Pure. */
const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((byte, i) => byte === b[i]);

/** Orders bytes as unsigned byte strings. Pure. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/**
 * A window's events by id, as pages bring them. The same event seen again (a page read twice, a tie split
 * differently) is one event. An id the source sent with *different* bodies is an anomaly the archive cannot
 * resolve: one body per id is kept — the one whose bytes sort first, so every instance keeps the same, exactly
 * as the source sent it — and the others are counted (`variants`) and named (`conflicts`) so the read can be
 * complete and the anomaly reported, never a window that cannot be committed.
 */
export class EventsById {
  readonly #byId = new Map<string, ArchivedEvent>();
  /** Each conflicting id's other bodies seen. */
  readonly #others = new Map<string, ArchivedEvent[]>();

  add(event: ArchivedEvent) {
    const known = this.#byId.get(event.id);
    if (!known) return void this.#byId.set(event.id, event);
    if (sameBytes(known.json, event.json)) return;
    const others = this.#others.get(event.id) ?? [];
    this.#others.set(event.id, others);
    const [kept, other] = compareBytes(event.json, known.json) < 0 ? [event, known] : [known, event];
    this.#byId.set(event.id, kept);
    if (!others.some((seen) => sameBytes(seen.json, other.json))) others.push(other);
  }

  /** Adds every (id, body) `other` holds: a part of the window read on its own. */
  merge(other: EventsById) {
    for (const event of other.#byId.values()) this.add(event);
    for (const others of other.#others.values()) for (const event of others) this.add(event);
  }

  /** Distinct ids. */
  get size(): number {
    return this.#byId.size;
  }

  /** Distinct (id, body) pairs: what a source's count of its events counts when an id has several bodies. */
  get variants(): number {
    let extra = 0;
    for (const others of this.#others.values()) extra += others.length;
    return this.#byId.size + extra;
  }

  /** The ids sent with different bodies. */
  get conflicts(): string[] {
    return [...this.#others.keys()].sort();
  }

  events(): ArchivedEvent[] {
    return sortEvents([...this.#byId.values()]);
  }
}

/** Reports the ids a window's read got with different bodies: a warning and a counter (source, scope). */
export function reportConflicts(source: Pick<Source, "name" | "scope">, window: Window, conflicts: string[]) {
  if (!conflicts.length) return;
  log(
    "warn",
    "the source sent event ids with different bodies: one body of each is kept (the first by bytes)",
    {
      source: source.name,
      scope: source.scope,
      window: describeWindow(window),
      ids: conflicts.slice(0, 20),
      count: conflicts.length,
    },
  );
  metrics.add(
    "audit_archiver_conflicting_event_ids_total",
    { source: source.name, scope: source.scope },
    conflicts.length,
  );
}
