/**
 * Which records of a chain the archiver's keys vouch for, as `verify` judges it: each manifest, amendment and
 * genesis is signed by a trusted key — or, written before records were signed, named by an authentic
 * checkpoint (a head and the windows before it, an amendment it lists, a chain it names).
 *
 * @module
 */

import type { ChainLink } from "../archive/chains.ts";
import { parseAmendmentName } from "../archive/names.ts";
import { CLOCK_SKEW_MS, recordTimes, type Sealed, signedBytes } from "../archive/seal.ts";
import { decodeBase64, sha256Hex } from "../bytes.ts";
import { verifySignature } from "../keys.ts";
import type { Vouched } from "./checkpoint.ts";

/** The problems with a chain's records that no trusted key signed and no authentic checkpoint names. */
export async function unvouchedRecords(input: {
  chain: string;
  geneses: ChainLink[];
  manifests: ChainLink[];
  keys: Map<string, CryptoKey>;
  vouched: Vouched;
  now: number;
}): Promise<string[]> {
  const problems: string[] = [];
  const windows = input.manifests.filter((link) => !parseAmendmentName(link.name));
  const hashes = new Map(
    await Promise.all(input.manifests.map(async (link) => [link.name, await sha256Hex(link.bytes)] as const)),
  );
  // Windows up to the newest head an authentic checkpoint names are vouched for by the hash chain.
  const vouchedUpTo = windows.filter((link) => input.vouched.heads.has(hashes.get(link.name)!))
    .map((link) => link.name).sort().at(-1) ?? "";
  const judge = async (link: ChainLink, named: boolean) => {
    const why = await distrust(link.bytes, (keyId) => input.keys.get(keyId), input.now);
    if (why && !(named && why === "it is not signed")) {
      problems.push(
        `${link.name}: ${why}, and no authentic checkpoint names it — it was written without the archiver's key`,
      );
    }
    const record = parseRecord(link.bytes);
    const misplaced = record && !belongsTo(record, input.chain);
    if (misplaced) {
      problems.push(`${link.name} is a record of ${record.source}/${record.scope}, not of this chain`);
    }
    const retired = record?.keyId ? input.vouched.retiredAt.get(record.keyId) : undefined;
    const committed = Date.parse(String(record?.committedAt ?? record?.createdAt));
    if (retired !== undefined && committed > retired) {
      problems.push(
        `${link.name} is sealed with key ${record!.keyId}, which a newer key had replaced: a retired key`,
      );
    }
  };
  for (const link of input.geneses) await judge(link, input.vouched.chains.has(input.chain));
  for (const link of input.manifests) {
    const named = parseAmendmentName(link.name)
      ? input.vouched.amendments.has(hashes.get(link.name)!)
      : link.name <= vouchedUpTo;
    await judge(link, named);
  }
  return problems;
}

/** A stored record as JSON, or undefined. */
export function parseRecord(bytes: Uint8Array): (Record<string, unknown> & Sealed) | undefined {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

/** Whether a record (its `source` and `scope`) belongs to the chain it is stored in: a seal binds it there. */
export const belongsTo = (record: Record<string, unknown>, chain: string) =>
  chain.endsWith(`/${record.source}/${record.scope}`);

/** Why the keys do not vouch for a record's own seal (or its times); undefined when a trusted key signed it. */
export async function distrust(
  bytes: Uint8Array,
  keyOf: (keyId: string) => CryptoKey | undefined | Promise<CryptoKey | undefined>,
  now: number,
): Promise<string | undefined> {
  const record = parseRecord(bytes);
  if (!record) return "it is not a JSON record";
  const ahead = recordTimes(record).find((time) => time > now + CLOCK_SKEW_MS);
  if (ahead !== undefined) return `it is dated ${new Date(ahead).toISOString()}, ahead of this clock`;
  if (typeof record.signature !== "string" || typeof record.keyId !== "string") return "it is not signed";
  const key = await keyOf(record.keyId);
  if (!key) return `its key ${record.keyId} is not one the archiver trusts`;
  const valid = await verifySignature(key, decodeBase64(record.signature), signedBytes(record)).catch(() =>
    false
  );
  return valid ? undefined : "its signature does not verify";
}
