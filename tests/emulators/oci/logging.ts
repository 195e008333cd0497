/**
 * Logging ingestion: `PutLogs` into custom logs.
 *
 * @module
 */

import { type Bytes, utf8 } from "./bytes.ts";
import { invalidParameter, missingParameter, OciError } from "./errors.ts";
import { type Params, parseJsonBody, parseRfc3339 } from "./params.ts";
import type { Reply } from "./replies.ts";
import type { State } from "./state.ts";
import type { LogEntryView } from "./types.ts";

/** Logging ingestion: each entry must be under 1 MB (docs/oracle/oci-apis.md). */
const LOG_ENTRY_MAX_BYTES = 1024 * 1024;
/**
 * "Any log data field cannot be more than 10,000 characters. If your data exceeds this limit, the field is
 * truncated during ingestion." (oci-loggingingestion model/log-entry.d.ts, LogEntry;
 * docs/oracle/oci-apis.md). Counted here in Unicode code points; silently, as the service does.
 */
const LOG_FIELD_MAX_CHARS = 10_000;

function truncateLogField(text: string): string {
  if (text.length <= LOG_FIELD_MAX_CHARS) return text;
  const points = [...text];
  return points.length <= LOG_FIELD_MAX_CHARS ? text : points.slice(0, LOG_FIELD_MAX_CHARS).join("");
}

export function putLogs(state: State, body: Bytes, params: Params): Reply {
  const entries = state.logs.get(params.logId);
  if (!entries) {
    throw new OciError(404, "NotAuthorizedOrNotFound", `Log '${params.logId}' not found or not authorized`);
  }
  if (state.logRequestMaxBytes !== undefined && body.length > state.logRequestMaxBytes) {
    throw invalidParameter(
      `The request body is ${body.length} bytes, more than the ${state.logRequestMaxBytes} bytes allowed`,
    );
  }
  const details = parseJsonBody(body);
  if (details.specversion !== "1.0") {
    throw invalidParameter(`specversion must be "1.0": current value is ${details.specversion}`);
  }
  const batches = details.logEntryBatches;
  if (!Array.isArray(batches) || batches.length === 0) {
    throw invalidParameter("logEntryBatches must be a non-empty array");
  }
  const accepted: LogEntryView[] = [];
  for (const batch of batches as Record<string, unknown>[]) {
    for (const name of ["source", "type", "defaultlogentrytime"]) {
      if (typeof batch?.[name] !== "string") throw missingParameter(`logEntryBatches[].${name}`);
    }
    if (!parseRfc3339(batch.defaultlogentrytime as string)) {
      throw invalidParameter("defaultlogentrytime must be RFC 3339");
    }
    if (batch.subject !== undefined && typeof batch.subject !== "string") {
      throw invalidParameter("subject must be a string");
    }
    if (!Array.isArray(batch.entries) || batch.entries.length === 0) {
      throw invalidParameter("entries must be a non-empty array");
    }
    for (const entry of batch.entries as Record<string, unknown>[]) {
      if (typeof entry?.data !== "string") throw missingParameter("entries[].data");
      if (typeof entry.id !== "string") throw missingParameter("entries[].id");
      if (entry.time !== undefined && (typeof entry.time !== "string" || !parseRfc3339(entry.time))) {
        throw invalidParameter("entries[].time must be RFC 3339");
      }
      if (utf8(JSON.stringify(entry)).length > LOG_ENTRY_MAX_BYTES) {
        throw invalidParameter(`The log entry ${entry.id} is larger than 1 MB`);
      }
      accepted.push({
        id: truncateLogField(entry.id),
        time: (entry.time as string | undefined) ?? (batch.defaultlogentrytime as string),
        data: truncateLogField(entry.data),
        source: batch.source as string,
        type: batch.type as string,
        ...(batch.subject !== undefined ? { subject: batch.subject as string } : {}),
      });
    }
  }
  // All or nothing: a request refused halfway stores none of its entries.
  entries.push(...accepted);
  return { status: 200 };
}
