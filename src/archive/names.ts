/**
 * Object names, pure: chains, day folders, windows, amendments, kept bytes and genesis records.
 *
 * @module
 */

import type { Manifest } from "./format.ts";
import type { Window } from "../window.ts";

/** `20261127T101500.000Z`: ISO-8601 basic format, fixed width, so names sort in time order. */
export function timeStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "");
}

export function parseTimeStamp(stamp: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/.exec(stamp);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]) : undefined;
}

/** The folder of one archive chain: `{prefix}/{source}/{scope}`. */
export const chainPrefix = (prefix: string, source: string, scope: string) => `${prefix}/${source}/${scope}`;

/** The day folder of a window start: `…/YYYY/MM/DD`. */
export function dayPrefix(chain: string, start: number): string {
  const iso = new Date(start).toISOString();
  return `${chain}/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}`;
}

/**
 * Names of a window's objects. The manifest is named by the start alone: it is the claim on the window, so two
 * instances that planned different ends for the same start cannot both commit.
 */
export function objectNames(chain: string, window: Window): { data: string; manifest: string } {
  const day = dayPrefix(chain, window.start);
  return {
    data: `${day}/${timeStamp(window.start)}--${timeStamp(window.end)}.ndjson.gz`,
    manifest: `${day}/${timeStamp(window.start)}.manifest.json`,
  };
}

/**
 * Names of a window's amendment n (docs/design.md §5): `…/{start}.amend-{n}.manifest.json`, the claim, and
 * `…/{start}--{end}.amend-{n}.ndjson.gz`, beside the window's own objects, which it never touches.
 */
export function amendmentNames(chain: string, window: Window, n: number): { data: string; manifest: string } {
  const names = objectNames(chain, window);
  return {
    data: names.data.replace(/\.ndjson\.gz$/, `.amend-${n}.ndjson.gz`),
    manifest: names.manifest.replace(/\.manifest\.json$/, `.amend-${n}.manifest.json`),
  };
}

const AMENDMENT_NAME = /\/(\d{8}T\d{6}\.\d{3}Z)\.amend-(\d+)\.manifest\.json$/;

/** The window start and number of an amendment's manifest name; undefined for any other name. Pure. */
export function parseAmendmentName(name: string): { start: number; n: number } | undefined {
  const match = AMENDMENT_NAME.exec(name);
  const start = match ? parseTimeStamp(match[1]) : undefined;
  return start === undefined ? undefined : { start, n: Number(match![2]) };
}

/**
 * Where a window's exact data bytes are kept before its claim (docs/design.md §5): named by the window and the data's
 * SHA-256, so the manifest that claims it leads straight to them, and never ending in `.ndjson.gz`.
 */
export function keptName(manifest: Pick<Manifest, "object" | "sha256">): string {
  return `${manifest.object.slice(0, -DATA_SUFFIX.length)}.${manifest.sha256.slice(0, 32)}.kept`;
}

/** Named by where the segment ends (none: the main one), so two backfills of one stretch claim one name. */
export const genesisName = (chain: string, until?: number) =>
  until === undefined ? `${chain}/genesis.json` : `${chain}/genesis-until-${timeStamp(until)}.json`;

export const GENESIS_PATTERN = /\/genesis(-until-\d{8}T\d{6}\.\d{3}Z)?\.json$/;

export const MANIFEST_SUFFIX = ".manifest.json";

export const DATA_SUFFIX = ".ndjson.gz";
