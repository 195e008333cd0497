/**
 * How long a source keeps its events: read from OCI Audit where allowed, else the shortest documented.
 *
 * @module
 */

import type { SourceName } from "../config/settings.ts";
import { log } from "../log.ts";
import { OciAuditSource } from "./oci_audit.ts";
import { type Source, SOURCE_KINDS } from "./source.ts";

/**
 * The source's retention in days, and whether it is only assumed: OCI Audit says its tenancy's where the
 * policy allows GetConfiguration; otherwise (and for identity domains) the shortest the source may keep.
 */
export async function sourceRetention(source: Source | undefined, name: SourceName) {
  const assumed = { days: SOURCE_KINDS[name].assumedRetentionDays, assumed: true };
  if (!(source instanceof OciAuditSource)) return assumed;
  try {
    const days = await source.retentionDays();
    return days === undefined ? assumed : { days, assumed: false };
  } catch (error) {
    log("warn", "OCI Audit retention could not be read", { error: (error as Error).message });
    return assumed;
  }
}
