/**
 * The store of OCI Audit events the emulator lists, per compartment in processing-time order.
 *
 * @module
 */

import { processingTimeOf } from "./audit_events.ts";
import { parseRfc3339 } from "./params.ts";
import type { AuditCloudEvent } from "./types.ts";

export interface StoredAuditEvent {
  /** Processing time (epoch ms): the basis of `startTime`/`endTime`, the order and the page cursor. */
  time: number;
  event: AuditCloudEvent;
  /** Indexed late: not listed before this time (epoch ms), although processed earlier. */
  listableAt?: number;
}

export function compareAudit(a: StoredAuditEvent, b: StoredAuditEvent): number {
  return a.time - b.time ||
    (a.event.eventId < b.event.eventId ? -1 : a.event.eventId > b.event.eventId ? 1 : 0);
}

export function lowerBound<T>(items: readonly T[], isAtOrAfter: (item: T) => boolean): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (isAtOrAfter(items[middle])) high = middle;
    else low = middle + 1;
  }
  return low;
}

/**
 * Audit events per compartment in (processing time, eventId) order. An event is listable once now ≥ its
 * processing time + the visibility lag, so the listable events of a compartment are always a prefix of its
 * sorted list, and a page cursor never skips an event that becomes listable after it was handed out.
 */
export class AuditStore {
  #byCompartment = new Map<string, StoredAuditEvent[]>();
  #unsorted = new Set<string>();
  #byId = new Map<string, StoredAuditEvent>();
  /** Whether an eventId may be added again with another body (`auditRepeatedIds`). */
  allowRepeatedIds = false;

  /** Stores events; `processedAt` maps each event's own processing time to the one it gets. */
  add(events: AuditCloudEvent[], processedAt: (own: number) => number, listableAt?: number): void {
    const batch = events.map((event) => {
      const time = typeof event.eventTime === "string" ? parseRfc3339(event.eventTime) : undefined;
      if (!time) {
        throw new TypeError(`Audit event ${event.eventId} has no RFC 3339 eventTime: ${event.eventTime}`);
      }
      if (typeof event.data?.compartmentId !== "string") {
        throw new TypeError(`Audit event ${event.eventId} has no data.compartmentId`);
      }
      // A repeated event would blur the no-duplicates checks made against this truth.
      if (this.#byId.has(event.eventId) && !this.allowRepeatedIds) {
        throw new TypeError(`Audit event ${event.eventId} is added twice`);
      }
      const stored = { time: processedAt(processingTimeOf(event)), event, listableAt };
      this.#byId.set(event.eventId, stored);
      return stored;
    });
    for (const stored of batch) {
      const compartment = stored.event.data.compartmentId;
      let list = this.#byCompartment.get(compartment);
      if (!list) this.#byCompartment.set(compartment, list = []);
      list.push(stored);
      this.#unsorted.add(compartment);
    }
  }

  /** Every event of one compartment, listable or not yet, sorted. */
  sorted(compartmentId: string): StoredAuditEvent[] {
    const list = this.#byCompartment.get(compartmentId) ?? [];
    if (this.#unsorted.delete(compartmentId)) list.sort(compareAudit);
    return list;
  }

  get(eventId: string): StoredAuditEvent {
    const stored = this.#byId.get(eventId);
    if (!stored) throw new TypeError(`The emulator has no Audit event ${eventId}`);
    return stored;
  }
}
