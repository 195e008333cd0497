/**
 * The process's counters and histograms, rendered in Prometheus' text format for `/metrics`.
 *
 * @module
 */

import { VERSION } from "./version.ts";

/**
 * Every metric, once: its type and HELP line. Prometheus naming (prometheus.io/docs/practices/naming): a counter
 * ends in `_total`, a base unit is the name's last word before it (`_seconds_total`, `_bytes_total`).
 */
const METRICS = {
  audit_archiver_build_info: ["gauge", "Always 1; the version label says which build runs."],
  audit_archiver_passes_total: ["counter", "Archive passes per source, by result (ok, failed, skipped)."],
  audit_archiver_windows_committed_total: ["counter", "Windows committed, by source and scope."],
  audit_archiver_events_committed_total: ["counter", "Events committed, by source and scope."],
  audit_archiver_committed_bytes_total: ["counter", "Compressed data bytes committed, by source and scope."],
  audit_archiver_requests_total: ["counter", "API requests, every attempt, by API and status class."],
  audit_archiver_retries_total: ["counter", "Requests sent again after a retriable failure, by API."],
  audit_archiver_retry_wait_seconds_total: [
    "counter",
    "Time waited before retries, by API and by what set the wait (backoff or retry-after).",
  ],
  audit_archiver_logging_copies_total: ["counter", "Logging copy attempts of a window, by outcome."],
  audit_archiver_unauthentic_objects_total: [
    "counter",
    "Archive objects found that the archiver's key does not vouch for (never built on).",
  ],
  audit_archiver_late_events_total: [
    "counter",
    "Events reconcile found in the source for committed windows, archived as amendments.",
  ],
  audit_archiver_conflicting_event_ids_total: [
    "counter",
    "Event ids a source sent with different bodies in one window read (one body is kept), by source and scope.",
  ],
  audit_archiver_frontier_timestamp_seconds: [
    "gauge",
    "End of the newest committed window (processing time for oci-audit), by source and scope.",
  ],
  audit_archiver_lag_seconds: ["gauge", "Now minus the frontier, by source and scope."],
  audit_archiver_source_up: ["gauge", "1 when the source's last pass succeeded, else 0."],
  audit_archiver_last_success_timestamp_seconds: ["gauge", "When a pass of the source last succeeded."],
  audit_archiver_pass_running: ["gauge", "1 while a pass of the source runs."],
  audit_archiver_pass_duration_seconds: ["histogram", "How long passes took, by source and scope."],
  audit_archiver_checkpoint_timestamp_seconds: [
    "gauge",
    "When the newest checkpoint this process wrote was signed.",
  ],
  audit_archiver_checkpoint_sequence: [
    "gauge",
    "The sequence number of the newest checkpoint this process wrote.",
  ],
} as const;

type MetricName = keyof typeof METRICS;

const PASS_DURATION_BUCKETS = [1, 5, 15, 60, 300, 900, 3600] as const;

/** A label set rendered as Prometheus text: `{a="x",b="y"}`, values escaped as the exposition format says. */
function labelText(labels: Record<string, string>): string {
  const escape = (value: string) =>
    value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escape(value)}"`);
  return pairs.length ? `{${pairs.join(",")}}` : "";
}

/**
 * The process's counters and gauges, rendered for /metrics. It only counts: the pass runners own what runs,
 * and each call site says what happened. One process, one set (module state, like the log settings).
 */
class Metrics {
  readonly #series = new Map<MetricName, Map<string, number>>();

  add(name: MetricName, labels: Record<string, string>, by = 1) {
    const series = this.#series.get(name) ?? new Map<string, number>();
    this.#series.set(name, series);
    const key = labelText(labels);
    series.set(key, (series.get(key) ?? 0) + by);
  }

  set(name: MetricName, labels: Record<string, string>, value: number) {
    const series = this.#series.get(name) ?? new Map<string, number>();
    this.#series.set(name, series);
    series.set(labelText(labels), value);
  }

  value(name: MetricName, labels: Record<string, string>): number | undefined {
    return this.#series.get(name)?.get(labelText(labels));
  }

  /** Records one pass's duration into the histogram's cumulative buckets. */
  observePass(labels: Record<string, string>, seconds: number) {
    // Every bucket is added to, by 0 when the pass was longer: each is a series from the first pass on.
    for (const le of [...PASS_DURATION_BUCKETS, Infinity]) {
      this.add("audit_archiver_pass_duration_seconds", {
        ...labels,
        le: le === Infinity ? "+Inf" : String(le),
      }, seconds <= le ? 1 : 0);
    }
    this.add("audit_archiver_pass_duration_seconds", { ...labels, part: "sum" }, seconds);
    this.add("audit_archiver_pass_duration_seconds", { ...labels, part: "count" });
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, [type, help]] of Object.entries(METRICS) as [MetricName, readonly [string, string]][]) {
      const series = this.#series.get(name);
      if (!series?.size) continue;
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of series) lines.push(`${seriesName(name, labels)} ${value}`);
    }
    return lines.join("\n") + "\n";
  }
}

/** A histogram's series are `_bucket{…,le}`, `_sum` and `_count`; the `part` label says which. */
function seriesName(name: MetricName, labels: string): string {
  const part = /,?part="(sum|count)"/.exec(labels);
  if (part) return `${name}_${part[1]}${labels.replace(part[0], "").replace("{,", "{").replace("{}", "")}`;
  return labels.includes('le="') ? `${name}_bucket${labels}` : `${name}${labels}`;
}

export const metrics = new Metrics();
metrics.set("audit_archiver_build_info", { version: VERSION }, 1);
