/**
 * The OCI Audit source: `ListEvents` per compartment of a subtree, on Oracle's processing time.
 *
 * @module
 */

import type * as OciAudit from "oci-audit";
import type * as OciIdentity from "oci-identity";
import { mapConcurrent, UTF8 } from "../bytes.ts";
import type { Config, SourceConfig } from "../config/validate.ts";
import { ArchiveError, retriableError } from "../errors.ts";
import { request, type RequestSigner } from "../http/request.ts";
import { log } from "../log.ts";
import { ociCall, ociClient, ociRequestSigner } from "../oci/client.ts";
import type { OciSession } from "../oci/session.ts";
import { duplicateKey, oneLine, rawElements, skipSpace } from "./json_scan.ts";
import {
  type ArchivedEvent,
  eventFromValue,
  EventsById,
  reportConflicts,
  type Source,
  SOURCE_KINDS,
  type WindowRead,
} from "./source.ts";
import { floorTo } from "../time.ts";
import { describeWindow, type Window } from "../window.ts";

/** How long a compartment listing serves windows that end before it was asked for. */
const LISTING_REUSE_MS = 3_600_000;

/** Reads of one compartment's window, when its pages keep sending events twice, before the window ends. */
const COMPARTMENT_READS = 10;
/**
 * Reads in a row that brought no new event after which the last of COMPARTMENT_READS is taken as complete: a
 * page edge that moves within a tie reveals a skipped event on most reads, so this many without one means the
 * listing itself sends an event twice, and failing the window would stop the chain there for good (6.9).
 */
const COMPARTMENT_IDLE_READS = 5;

/** A pass's probe: the span it asked, and the compartments quiet in it. */
interface QuietProbe {
  span: Window;
  quiet: Promise<Set<string>>;
}

/** One compartment whose events a window reads, and whether Identity shows it deleted. */
interface AuditCompartment {
  id: string;
  deleted: boolean;
}

/**
 * OCI Audit `ListEvents` for a compartment and (AUDIT_SUBTREE) every compartment below it. The range asked for
 * is on *processing* time, to the minute (docs/oracle/oci-apis.md): an event's `eventTime` may lie before the window, and
 * is never a reason to reject it. Compartments are listed through the Identity API once per pass (and for any
 * window that ends after the listing), so one added mid-way is never missed. The API answers one compartment at a time, without
 * a total or a page size: a window that holds more than the limit is halved (on minute boundaries) until it
 * fits. A pass of several windows first asks each compartment once for its whole span, and skips the quiet
 * ones in every window of the pass (`#quietFor`). Pages are read as text, signed with the SDK's signer and
 * sent with `fetch`, so every event is archived exactly as Oracle sent it (the SDK's models drop `null`
 * members).
 */
export class OciAuditSource implements Source {
  readonly name = "oci-audit";
  readonly kind = SOURCE_KINDS["oci-audit"];
  readonly scope: string;
  readonly settleMs: number;
  readonly since: number;
  readonly #audit: OciAudit.AuditClient;
  readonly #identity: OciIdentity.IdentityClient;
  readonly #sign: RequestSigner;

  constructor(readonly config: SourceConfig, readonly session: OciSession, readonly options: Config) {
    this.scope = config.compartmentId!;
    this.settleMs = config.settleMs;
    this.since = config.since;
    this.#audit = ociClient(session, session.sdk.audit.AuditClient, "audit");
    this.#identity = ociClient(session, session.sdk.identity.IdentityClient, "identity");
    this.#sign = ociRequestSigner(session);
  }

  /**
   * The compartment and, with AUDIT_SUBTREE, every compartment below it, deleted ones too (their events stay).
   * `compartmentIdInSubtree` is accepted only on the tenancy; below any other compartment the tree is walked
   * level by level (ListCompartments API reference, docs/oracle/oci-apis.md).
   */
  async #compartments(): Promise<AuditCompartment[]> {
    const all: AuditCompartment[] = [{ id: this.scope, deleted: false }];
    if (!this.config.subtree) return all;
    if (this.scope.startsWith("ocid1.tenancy.")) return [...all, ...await this.#children(this.scope, true)];
    for (let level = [this.scope]; level.length;) {
      const children = (await mapConcurrent(level, this.options.concurrency, (id) =>
        this.#children(id, false)))
        .flat();
      all.push(...children);
      level = children.map((c) => c.id);
    }
    return all;
  }

  async #children(compartmentId: string, compartmentIdInSubtree: boolean): Promise<AuditCompartment[]> {
    const found: AuditCompartment[] = [];
    let page: string | undefined;
    do {
      const response = await ociCall("Identity compartments", () =>
        this.#identity.listCompartments({
          compartmentId,
          compartmentIdInSubtree,
          accessLevel: OCI_ACCESS_ANY,
          limit: 1000,
          page,
        }));
      found.push(
        ...response.items.map((c) => ({ id: c.id, deleted: String(c.lifecycleState) === "DELETED" })),
      );
      page = response.opcNextPage;
    } while (page);
    return found;
  }

  /** The newest listing of the compartments, and when it was asked for. */
  #listing?: { at: number; compartments: Promise<AuditCompartment[]> };

  /**
   * The compartments whose events a window can hold. One created after a listing holds no event processed
   * before it, so a listing serves every window that ends by the time it was asked for (a pass's windows end
   * before its start, where `check` lists them): one listing per pass, not per window. A listing is not used
   * past an hour, so compartments moved into the subtree are seen within one.
   */
  #compartmentsFor(window: Window): Promise<AuditCompartment[]> {
    const listing = this.#listing;
    if (listing && window.end <= listing.at && Date.now() - listing.at < LISTING_REUSE_MS) {
      return listing.compartments;
    }
    const fresh = { at: Date.now(), compartments: this.#compartments() };
    fresh.compartments.catch(() => this.#listing === fresh && (this.#listing = undefined));
    this.#listing = fresh;
    return fresh.compartments;
  }

  async check(): Promise<void> {
    this.#listing = undefined;
    this.#probe = undefined;
    await this.#compartmentsFor({ start: 0, end: 0 });
    const minute = floorTo(this.since, this.kind.granularityMs);
    const first = { start: minute, end: minute + this.kind.granularityMs };
    await this.#events(this.scope, first, Infinity, { sent: 0 });
  }

  /**
   * The tenancy's Audit retention (GetConfiguration), or undefined when the policy does not allow reading it;
   * read once per source (a daemon's passes reconcile every 15 minutes; the setting changes rarely).
   */
  #retention?: Promise<number | undefined>;

  retentionDays(): Promise<number | undefined> {
    this.#retention ??= this.#readRetention().catch((error) => {
      this.#retention = undefined;
      throw error;
    });
    return this.#retention;
  }

  async #readRetention(): Promise<number | undefined> {
    const tenancy = this.scope.startsWith("ocid1.tenancy.") ? this.scope : await tenancyOf(this.session);
    if (!tenancy) return undefined;
    try {
      const response = await ociCall(
        "OCI Audit configuration",
        () => this.#audit.getConfiguration({ compartmentId: tenancy }),
      );
      return response.configuration.retentionPeriodDays;
    } catch (error) {
      if (error instanceof ArchiveError && !error.retriable) return undefined;
      throw error;
    }
  }

  /**
   * One compartment's events processed in `window`; undefined as soon as the events the window's reads sent
   * (`counted`, shared by its compartments) exceed `limit`.
   *
   * Oracle documents neither whether `opc-next-page` is a cursor or an offset nor an order among events
   * processed at the same time (docs/oracle/oci-apis.md). Under an offset with such a group ordered anew from
   * page to page, a page edge inside it sends some of its events twice and skips as many, and ListEvents has
   * no total to tell: an event sent twice in one read is the evidence, and the compartment's window is read
   * again, its reads collected by id. A read sends one event per position of the listing, so the reads are
   * complete once they hold as many distinct events as the last one sent (at the latest, a read without a
   * repeat). After COMPARTMENT_READS the window fails, and the next pass reads it again — unless the last
   * COMPARTMENT_IDLE_READS brought no new event: then the listing itself repeats an event, and what the reads
   * hold is complete.
   */
  async #events(
    compartmentId: string,
    window: Window,
    limit: number,
    counted: { sent: number },
  ): Promise<EventsById | undefined> {
    const byId = new EventsById();
    for (let reads = 1, idle = 0;; reads++) {
      const known = byId.variants;
      let sent = 0;
      let page: string | null = null;
      do {
        const result = await this.#page(compartmentId, window, page);
        for (const event of result.events) byId.add(event);
        sent += result.events.length;
        counted.sent += result.events.length;
        if (counted.sent > limit) return undefined;
        page = result.next;
      } while (page);
      if (byId.variants >= sent) return byId;
      idle = byId.variants > known ? 0 : idle + 1;
      if (reads === COMPARTMENT_READS) {
        const problem = `OCI Audit events: ${reads} reads of compartment ${compartmentId} in ${
          describeWindow(window)
        } each sent some events twice`;
        if (idle < COMPARTMENT_IDLE_READS) {
          throw retriableError(
            "PROTOCOL",
            `${problem} and together still lack some (pages that split events processed at the same time differently): the window is not committed and the next pass reads it again`,
          );
        }
        log(
          "warn",
          `${problem}; the last ${idle} brought no new event, so the listing itself sends some events twice: each is archived once`,
          {
            compartmentId,
            window: describeWindow(window),
            sent,
            distinct: byId.variants,
          },
        );
        return byId;
      }
      counted.sent -= sent;
      log("debug", "a compartment's pages sent events twice: its window is read again", {
        compartmentId,
        window: describeWindow(window),
        sent,
        distinct: byId.variants,
      });
    }
  }

  /** One ListEvents page of a compartment's events processed in `window`, and the next page's token. */
  #page(compartmentId: string, window: Window, page: string | null) {
    return this.#ask(compartmentId, window, page, (sent, response) => ({
      events: parseAuditEvents(sent),
      next: response.headers.get("opc-next-page"),
    }));
  }

  /** Sends one ListEvents request (signed, through the retry loop) and reads its answer with `parseBytes`. */
  #ask<T>(
    compartmentId: string,
    window: Window,
    page: string | null,
    parseBytes: (sent: Uint8Array, response: Response) => T,
  ): Promise<T> {
    // The client's endpoint carries the API version (/20190901), as the SDK builds it for the region.
    const base = `${this.#audit.endpoint}/auditEvents?compartmentId=${encodeURIComponent(compartmentId)}` +
      `&startTime=${encodeURIComponent(new Date(window.start).toISOString())}` +
      `&endTime=${encodeURIComponent(new Date(window.end).toISOString())}`;
    const url = page === null ? base : `${base}&page=${encodeURIComponent(page)}`;
    return request(url, {
      what: "OCI Audit events",
      headers: { accept: "application/json" },
      sign: this.#sign,
      parseBytes,
      onStatus: (status, detail) => compartmentRefused(compartmentId, status, detail),
    });
  }

  /** This pass's probe of its compartments (`#quietFor`); `check`, run at the start of every pass, drops it. */
  #probe?: QuietProbe;

  /**
   * The compartments a window may skip: those this pass's probe found quiet, when the window lies in the span
   * it probed and is read with a limit. The probe is one ListEvents per compartment over everything the pass
   * can read, [the first window's start, now − settle), asked at the first window of a pass that has more
   * than one: only its first page is asked for, and a compartment is quiet when that page is `[]` without
   * `opc-next-page` (docs/oracle/oci-apis.md). Any other answer, and a probe that fails (after the retry loop),
   * leaves the compartment busy, to be read window by window; so does any compartment the probe did not ask
   * (one listed later).
   *
   * Why skipping loses nothing: the span ends SETTLE before the probe is asked, so the probe answers for every
   * window it serves at least SETTLE after the window's end — what a window read would have waited for. An
   * event that becomes listable in a quiet compartment after the probe is late, as one listed after its
   * window's read would be, and reconcile archives it (docs/design.md §6.10, §9): a read without a limit
   * (reconcile's, and a one-minute window's after an overflow) reads every compartment, so reconcile sees
   * what Audit lists *then*.
   */
  async #quietFor(window: Window, limit: number, compartments: AuditCompartment[]): Promise<Set<string>> {
    if (limit === Infinity) return new Set();
    const spanEnd = floorTo(Date.now() - this.settleMs, this.kind.granularityMs);
    // Worth it only when another window follows (a minute may tick between the pass's horizon and now).
    if (!this.#probe && window.end < spanEnd - this.kind.granularityMs) {
      const span = { start: window.start, end: spanEnd };
      this.#probe = { span, quiet: this.#quietIn(span, compartments) };
    }
    const probe = this.#probe;
    return probe && probe.span.start <= window.start && window.end <= probe.span.end
      ? await probe.quiet
      : new Set();
  }

  /** The compartments with no event processed in `span` (a failed probe is logged, and the compartment busy). */
  async #quietIn(span: Window, compartments: AuditCompartment[]): Promise<Set<string>> {
    const quiet = new Set<string>();
    await mapConcurrent(compartments, this.options.concurrency, async ({ id }) => {
      try {
        // A busy compartment's first page is only looked at, not parsed: its events are read per window.
        const empty = await this.#ask(
          id,
          span,
          null,
          (sent, response) => !response.headers.get("opc-next-page") && isEmptyArray(sent),
        );
        if (empty) quiet.add(id);
      } catch (error) {
        log("debug", "a compartment's probe failed: it is read window by window", {
          compartmentId: id,
          span: describeWindow(span),
          error: String(error),
        });
      }
    });
    return quiet;
  }

  async readWindow(window: Window, limit: number): Promise<WindowRead> {
    const compartments = await this.#compartmentsFor(window);
    const quiet = await this.#quietFor(window, limit, compartments);
    const byId = new EventsById();
    const counted = { sent: 0 };
    const skippedCompartments: string[] = [];
    let fits = true;
    const busy = compartments.filter(({ id }) => !quiet.has(id));
    await mapConcurrent(busy, this.options.concurrency, async ({ id, deleted }) => {
      try {
        if (!fits) return;
        const events = await this.#events(id, window, limit, counted);
        if (events) byId.merge(events);
        else fits = false;
      } catch (error) {
        // Skipped only when Identity shows it DELETED *and* Audit refuses it; recorded in the manifest.
        if (!deleted || !(error instanceof ArchiveError) || error.code !== "FORBIDDEN") throw error;
        log("warn", "a deleted compartment's events are refused: skipped, and recorded in the manifest", {
          compartmentId: id,
          window: describeWindow(window),
        });
        skippedCompartments.push(id);
      }
    });
    if (!fits) {
      const half = floorTo(window.start + (window.end - window.start) / 2, this.kind.granularityMs);
      return { kind: "overflow", cutAt: half };
    }
    reportConflicts(this, window, byId.conflicts);
    return {
      kind: "complete",
      events: byId.events(),
      sourceTotal: null,
      skippedCompartments: skippedCompartments.sort(),
    };
  }
}

const OCI_ACCESS_ANY = "ANY" as OciIdentity.requests.ListCompartmentsRequest.AccessLevel;

/** The tenancy OCID the session authenticates in: the config file's, or the resource principal's claim. */
async function tenancyOf(session: OciSession): Promise<string | undefined> {
  const provider = session.provider as {
    getTenantId?: () => string | Promise<string>;
    getStringClaim?: (key: string) => string | null | Promise<string | null>;
  };
  return (await provider.getTenantId?.()) ?? (await provider.getStringClaim?.("res_tenant")) ?? undefined;
}

/**
 * A compartment whose events Audit refuses: 401/403, or 404 NotAuthorizedOrNotFound, which means "not found,
 * or not authorized" (API errors reference). Never a silent skip: it names the compartment and the grant.
 */
function compartmentRefused(compartmentId: string, status: number, detail: string): ArchiveError | undefined {
  if (status !== 401 && status !== 403 && status !== 404) return undefined;
  return new ArchiveError(
    "FORBIDDEN",
    `${detail} — OCI Audit refused the events of compartment ${compartmentId}: no window is committed without them. Allow the archiver to "read audit-events in compartment id ${compartmentId}" (or in tenancy); \`policies\` prints the statements`,
    { status },
  );
}

/** Whether a response body is an empty JSON array (`[]`, JSON whitespace allowed). Pure. */
function isEmptyArray(sent: Uint8Array): boolean {
  const open = skipSpace(sent, 0);
  const close = skipSpace(sent, open + 1);
  return sent[open] === OPEN_BRACKET && sent[close] === CLOSE_BRACKET &&
    skipSpace(sent, close + 1) === sent.length;
}

const OPEN_BRACKET = "[".charCodeAt(0), CLOSE_BRACKET = "]".charCodeAt(0);

/**
 * Checks a ListEvents body (a JSON array of CloudEvents-shaped events) and keeps each event as sent. The
 * array is split by `rawElements` and each event parsed on its own, so a page of thousands of events is never
 * one string or one object tree (the whole body is still checked: every byte is a separator the scan checked
 * or inside an element JSON.parse accepted). An event where one object names a member twice is refused (JSON.parse
 * keeps the last, a reader of the archive may take the first); an event that spans lines (a pretty-printed page)
 * is kept on one line (`oneLine`); its id and time are read from the bytes that are kept.
 */
export function parseAuditEvents(sent: Uint8Array): ArchivedEvent[] {
  const bad = (why: string) => retriableError("PROTOCOL", `OCI Audit events: ${why}`);
  let elements: Uint8Array[];
  try {
    const array = rawElements(sent);
    if (skipSpace(sent, array.end) !== sent.length) throw new SyntaxError("text after the array");
    elements = array.elements;
  } catch {
    throw bad("the response is not a JSON array");
  }
  return elements.map((element) => {
    let event: unknown;
    let json: Uint8Array;
    try {
      json = oneLine(element);
      event = JSON.parse(UTF8.decode(json));
    } catch {
      throw bad("the response is not JSON");
    }
    const twice = duplicateKey(json);
    if (twice !== undefined) throw bad(`an event names the member ${JSON.stringify(twice)} twice`);
    // Its id and time read from the parse of its own bytes: the commit path need not parse its line again.
    const archived = eventFromValue(SOURCE_KINDS["oci-audit"], json, event);
    if (!archived) throw bad("an event has no eventId or eventTime");
    return archived;
  });
}
