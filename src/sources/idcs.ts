/**
 * The identity domain source: `GET /admin/v1/AuditEvents`, paged by startIndex, on the event timestamp.
 *
 * @module
 */

import { mapConcurrent } from "../bytes.ts";
import { type Config, type SourceConfig, sourceScope } from "../config/validate.ts";
import { ArchiveError, retriableError } from "../errors.ts";
import { request } from "../http/request.ts";
import type { Signer } from "../keys.ts";
import { log } from "../log.ts";
import { IdcsTokens } from "./idcs_token.ts";
import { arrayMemberAsSent } from "./json_scan.ts";
import {
  type ArchivedEvent,
  eventFromValue,
  EventsById,
  reportConflicts,
  type Source,
  SOURCE_KINDS,
  type WindowRead,
} from "./source.ts";
import { describeWindow, type Window } from "../window.ts";

/** Reads of one window in a row that bring no new event before it is called inconsistent (one that does is free). */
const IDCS_IDLE_READS = 6;

/** Reads of one window at most, however many bring new events (a tie group far larger than a page). */
const IDCS_MAX_READS = 60;

/**
 * Pages one read of a window may request at most. `totalResults` decides how many pages a read asks for; a
 * value no identity domain could mean (10,000 pages of PAGE_SIZE events in one window, where a window holds at
 * most MAX_EVENTS_PER_OBJECT unless it is one millisecond) fails the read instead of planning without bound.
 */
export const IDCS_MAX_PAGES = 10_000;

/**
 * Milliseconds whose split ties one request reads again together, at most. Each adds about 110 characters to
 * the URL-encoded filter; Oracle documents no limit on a URL's length (docs/oracle/identity-domains.md), so
 * the filter stays under 4 KiB, half the 8 KiB request line common HTTP servers and proxies accept.
 */
export const IDCS_MAX_TIE_MILLISECONDS = 32;

/**
 * The SCIM filter for half-open windows on the event timestamp: one window's comparisons joined by `and`,
 * several windows' each in parentheses joined by `or` (Oracle's "Query Parameters" page,
 * docs/oracle/identity-domains.md [query-params]).
 */
export function auditEventsFilter(...windows: Window[]): string {
  const filterOf = (window: Window) =>
    `timestamp ge "${new Date(window.start).toISOString()}" and timestamp lt "${
      new Date(window.end).toISOString()
    }"`;
  return windows.length === 1
    ? filterOf(windows[0])
    : windows.map((window) => `(${filterOf(window)})`).join(" or ");
}

/** The windows of one read, for logs and errors. */
const describeWindows = (windows: Window[]) => windows.map(describeWindow).join(" or ");

interface AuditEventsPage {
  totalResults: number;
  events: ArchivedEvent[];
}

/**
 * Checks a SCIM ListResponse page as documented; every event must carry an id and a timestamp in one of the
 * windows the filter named.
 * Each event is kept as the bytes the domain sent (`sent`, the body `body` was parsed from), on one line
 * (`arrayMemberAsSent`), and its id and timestamp are the members `body` holds for those bytes. A page where
 * one object names a member twice is refused: JSON.parse and the byte scan could read different members.
 */
export function parseAuditEventsPage(body: unknown, sent: Uint8Array, ...windows: Window[]): AuditEventsPage {
  const page = body as { schemas?: unknown; totalResults?: unknown; Resources?: unknown };
  const bad = (why: string) => retriableError("PROTOCOL", `identity domain AuditEvents: ${why}`);
  if (typeof page !== "object" || page === null || !Array.isArray(page.schemas)) {
    throw bad("not a SCIM response");
  }
  if (
    !page.schemas.includes("urn:ietf:params:scim:api:messages:2.0:ListResponse") &&
    !page.schemas.includes("urn:scim:api:messages:2.0:ListResponse")
  ) throw bad("not a SCIM ListResponse");
  if (!Number.isInteger(page.totalResults) || (page.totalResults as number) < 0) throw bad("no totalResults");
  const resources = page.Resources ?? [];
  if (!Array.isArray(resources)) throw bad("Resources is not an array");
  const { elements: raw, twice } = arrayMemberAsSent(sent, body, "Resources");
  if (twice !== undefined) throw bad(`an object names the member ${JSON.stringify(twice)} twice`);
  if (raw.length !== resources.length) throw bad("Resources could not be read as sent");
  // The page's parse read each element's value from the bytes kept: no second parse per event.
  const events = raw.map((json, i) => {
    const event = eventFromValue(SOURCE_KINDS.idcs, json, resources[i]);
    if (!event) throw bad("an event has no id or timestamp");
    if (!windows.some((window) => event.time >= window.start && event.time < window.end)) {
      throw bad(`event ${event.id} at ${resources[i].timestamp} is outside the filter`);
    }
    return event;
  });
  return { totalResults: page.totalResults as number, events };
}

/**
 * The ties a read's pages split: the times of the events sent more than once, each with its number of
 * events. Positions in the timestamp order are fixed while the events are, so an event seen on two pages is
 * a tie split by a page edge and read in two orders, and the tie holds as many events as the pages sent
 * events at its time, repeats included.
 */
function splitTies(pages: AuditEventsPage[]): Map<number, number> {
  const seen = new Set<string>();
  const sizes = new Map<number, number>();
  const repeated = new Set<number>();
  for (const page of pages) {
    for (const { id, time } of page.events) {
      sizes.set(time, (sizes.get(time) ?? 0) + 1);
      if (seen.has(id)) repeated.add(time);
      else seen.add(id);
    }
  }
  return new Map([...repeated].map((time) => [time, sizes.get(time)!]));
}

/** A window's last page read by time: its filter, and the events it holds. */
interface Tail {
  window: Window;
  events: number;
}

/**
 * The last page of a window, read by time instead of position: every event from the time the other pages
 * reached (a tie that a page edge then cannot split) to the window's end, when they fit one page with room to
 * spare for split ties. Positions in the timestamp order are fixed, so the positions after the pages' hold
 * events from that time on, and the pages sent as many at that time as it has before them.
 */
function planTail(
  window: Window,
  pages: AuditEventsPage[],
  total: number,
  pageSize: number,
): Tail | undefined {
  const from = pages.at(-1)?.events.at(-1)?.time;
  if (from === undefined) return undefined;
  let positions = 0;
  let atFrom = 0;
  for (const page of pages) {
    positions += page.events.length;
    for (const { time } of page.events) if (time === from) atFrom++;
  }
  const events = total - positions + atFrom;
  return events < pageSize ? { window: { start: from, end: window.end }, events } : undefined;
}

/**
 * Groups split ties into reads of at most one page of events and IDCS_MAX_TIE_MILLISECONDS milliseconds, first
 * fit in time order (after the reads given, which already hold `events`): a read within one page has no page
 * edge to split a tie again. A tie larger than a page is a read of its own.
 */
function packTies(
  ties: Map<number, number>,
  pageSize: number,
  reads: { times: number[]; events: number }[],
): number[][] {
  for (const [time, events] of [...ties].sort(([a], [b]) => a - b)) {
    const read = reads.find((read) =>
      read.events + events <= pageSize && read.times.length < IDCS_MAX_TIE_MILLISECONDS
    );
    if (read) {
      read.times.push(time);
      read.events += events;
    } else reads.push({ times: [time], events });
  }
  return reads.map((read) => read.times);
}

/** Identity domain `GET /admin/v1/AuditEvents`, paged by startIndex (no cursor is documented). */
export class IdcsSource implements Source {
  readonly name = "idcs";
  readonly kind = SOURCE_KINDS.idcs;
  readonly scope: string;
  readonly settleMs: number;
  readonly since: number;
  readonly #tokens: IdcsTokens;

  constructor(readonly config: SourceConfig, sign: Signer | undefined, readonly options: Config) {
    this.scope = sourceScope(config);
    this.settleMs = config.settleMs;
    this.since = config.since;
    this.#tokens = new IdcsTokens(config, sign);
  }

  async #page(windows: Window[], startIndex: number, count: number): Promise<AuditEventsPage> {
    const query = new URLSearchParams({
      filter: auditEventsFilter(...windows),
      sortBy: "timestamp",
      sortOrder: "ascending",
      startIndex: String(startIndex),
      count: String(count),
    });
    for (let attempt = 1;; attempt++) {
      const token = await this.#tokens.get();
      try {
        return await request(`${this.config.idcsUrl}/admin/v1/AuditEvents?${query}`, {
          what: "identity domain AuditEvents",
          headers: { authorization: `Bearer ${token}`, accept: "application/json" },
          parse: (body, sent) => parseAuditEventsPage(body, sent, ...windows),
          onStatus: (status, detail) =>
            status === 403
              ? new ArchiveError(
                "FORBIDDEN",
                `${detail} — the confidential application lacks the Audit Administrator app role: grant it in the identity domain`,
              )
              : undefined,
        });
      } catch (error) {
        // A 401 with a cached token may mean it was revoked early: fetch a fresh one once.
        if (error instanceof ArchiveError && error.code === "AUTH" && attempt === 1) {
          this.#tokens.invalidate();
          continue;
        }
        throw error;
      }
    }
  }

  async check(): Promise<void> {
    await this.#page([{ start: this.since, end: this.since + 1 }], 1, 1);
  }

  /**
   * Reads every event of the window. Order among equal timestamps is not stable between requests, so pages
   * can overlap or skip within a tie: events are collected by id across pages and attempts until their
   * number matches the `totalResults` every page agreed on; the ties page edges split are read again on their
   * own (`#collectTies`) before the whole window is.
   */
  async readWindow(window: Window, limit: number): Promise<WindowRead> {
    const byId = new EventsById();
    const read = await this.#collect([window], limit, byId);
    if (read.kind === "complete") reportConflicts(this, window, byId.conflicts);
    return read;
  }

  /** Collects the events of `windows` (one filter) into `byId` until they are all there (see `readWindow`). */
  async #collect(windows: Window[], limit: number, byId: EventsById): Promise<WindowRead> {
    const pageSize = this.options.pageSize;
    // Paging through a group of equal timestamps larger than a page sees a different slice on every read, so
    // reads go on while they bring new events (up to IDCS_MAX_READS), and stop after IDCS_IDLE_READS without.
    // A count the pages then contradict (no event at the position it promises), for the error if it persists.
    let unmet: { total: number; position: number } | undefined;
    for (let attempt = 1, idle = 0; attempt <= IDCS_MAX_READS && idle < IDCS_IDLE_READS; attempt++) {
      const known = byId.size;
      const first = await this.#page(windows, 1, pageSize);
      const total = first.totalResults;
      if (total > limit) {
        // The event at position limit+1 (ascending time) names the first millisecond that does not fit.
        const beyond = await this.#page(windows, limit + 1, 1);
        if (beyond.events.length === 1) return { kind: "overflow", cutAt: beyond.events[0].time };
        unmet = { total, position: limit + 1 };
        idle++;
        continue;
      }
      unmet = undefined;
      if (Math.ceil(total / pageSize) > IDCS_MAX_PAGES) {
        throw new ArchiveError(
          "PROTOCOL",
          `identity domain AuditEvents: ${
            describeWindows(windows)
          } reports totalResults ${total}, more than ${IDCS_MAX_PAGES} pages of ${pageSize}: not read (a larger PAGE_SIZE reads more per page)`,
        );
      }
      const starts: number[] = [];
      for (let start = 1 + pageSize; start <= total; start += pageSize) starts.push(start);
      // A window's last page with room to spare is read after the others, by time (`planTail`), and carries
      // the ties their edges split.
      const last = windows.length === 1 && total % pageSize !== 0 ? starts.pop() : undefined;
      const pages = [
        first,
        ...await mapConcurrent(starts, this.options.concurrency, (s) => this.#page(windows, s, pageSize)),
      ];
      const tail = last === undefined ? undefined : planTail(windows[0], pages, total, pageSize);
      if (last !== undefined && !tail) pages.push(await this.#page(windows, last, pageSize));
      for (const page of pages) for (const event of page.events) byId.add(event);
      const agreed = pages.every((page) => page.totalResults === total);
      // An id sent with different bodies counts once as an id, and once per body in totalResults.
      const complete = () => agreed && (byId.size === total || byId.variants === total);
      if (agreed && (tail || !complete())) await this.#collectTies(windows, splitTies(pages), byId, tail);
      if (complete()) return { kind: "complete", events: byId.events(), sourceTotal: total };
      idle = byId.size > known ? 0 : idle + 1;
      log("debug", "window read again", {
        window: describeWindows(windows),
        total,
        received: byId.size,
        attempt,
      });
    }
    throw new ArchiveError(
      "PROTOCOL",
      unmet
        ? `identity domain AuditEvents: ${
          describeWindows(windows)
        } reports totalResults ${unmet.total} but sends no event at position ${unmet.position}: not read (its count and its pages disagree)`
        : `identity domain AuditEvents: ${
          describeWindows(windows)
        } did not return a consistent set of events: ${byId.size} distinct events received before reads stopped bringing new ones`,
    );
  }

  /**
   * Reads the milliseconds of `ties` (time → events) again, and the window's `tail` if any, and adds their
   * events to `byId`. Where a read's pages sent an event twice, a page edge fell inside that millisecond's tie
   * and the pages saw it in different orders, so as many of its events were skipped: reading those
   * milliseconds alone finds them. They are read together, a page of whole ties per request (`packTies`, their
   * windows joined by `or`), the first page being the tail's where it has room, so the split ties of a read
   * cost no request or one instead of the whole window again (issue 21). Within one millisecond there is no
   * narrower window: a tie larger than a page is read again whole, as any window is.
   */
  async #collectTies(
    windows: Window[],
    ties: Map<number, number>,
    byId: EventsById,
    tail?: Tail,
  ): Promise<void> {
    const granularity = this.kind.granularityMs;
    if (!tail && (!ties.size || windows.every((window) => window.end - window.start <= granularity))) return;
    const before = tail ? new Map([...ties].filter(([time]) => time < tail.window.start)) : ties;
    if (before.size) {
      log("debug", "ties read again", { window: describeWindows(windows), milliseconds: before.size });
    }
    const filters = packTies(before, this.options.pageSize, tail ? [{ times: [], events: tail.events }] : [])
      .map((times, index) => {
        const milliseconds = times.map((time) => ({ start: time, end: time + granularity }));
        return tail && index === 0 ? [...milliseconds, tail.window] : milliseconds;
      });
    const read = await mapConcurrent(filters, this.options.concurrency, async (filter) => {
      const tie = new EventsById();
      await this.#collect(filter, Infinity, tie);
      return tie;
    });
    for (const tie of read) byId.merge(tie);
  }
}
