/**
 * Seals: the archiver's key vouches for each record it writes (manifests, amendments, genesis records), so a
 * writer builds only on records the key vouches for, whoever else can write the archive (invariant 11).
 *
 * @module
 */

import { encodeRecord } from "./format.ts";

/** How far ahead of this clock a time read from the archive may be (Oracle refuses request skew past 5 min). */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** A record that carries its writer's proof: the id of the key that signed it and the signature (base64). */
export interface Sealed {
  keyId?: string;
  signature?: string;
}

/** What a record is to the archive: the kinds a writer reads back and builds on. */
export type RecordKind = "manifest" | "amendment" | "genesis";

/**
 * The archiver's key as the archive layer uses it: it seals what this writer commits, and says whether it
 * vouches for what the writer reads back (or throws UNAUTHENTIC, naming the object).
 */
export interface Authority {
  /** The record's bytes with `keyId` and `signature` added last. */
  seal(record: object): Promise<Uint8Array>;
  /** Returns when the key vouches for the record stored under `name`; throws UNAUTHENTIC otherwise. */
  vouch(name: string, bytes: Uint8Array, kind: RecordKind, chain: string): Promise<void>;
}

/** The bytes a record's signature covers: the record without its signature (its keyId included). */
export const signedBytes = (record: object) => encodeRecord({ ...record, signature: undefined });

/**
 * The times a record claims, each of which must not lie ahead of the clock: a window's end and commit time,
 * a genesis' creation. Pure.
 */
export function recordTimes(record: Record<string, unknown>): number[] {
  return ["end", "committedAt", "createdAt", "time"].map((field) => record[field])
    .filter((value): value is string => typeof value === "string").map(Date.parse)
    .filter((time) => !Number.isNaN(time));
}
