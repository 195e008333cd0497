/**
 * One source archived into one sink, for tests that act on the archive as someone else would: both sources
 * (the emulated identity domain and OCI Audit), into a directory or the emulated bucket.
 *
 * @module
 */

import { sha256Hex } from "../../src/bytes.ts";
import { generateEvents } from "../emulators/idcs.ts";

import { type AuditCloudEvent, generateAuditEvents, type OciEmulator } from "../emulators/oci.ts";

import {
  type ArchiveContents,
  DAY,
  gzip,
  HOUR,
  listFiles,
  readArchive,
  recentEvents,
  startDomain,
} from "../harness.ts";
import { auditSettings, BUCKET, readBucketArchive, startCloud, TENANCY, withCloud } from "../oci_harness.ts";

const TEAM = "ocid1.compartment.oc1..aaaareconcileteam";
export const asFlags = (env: Record<string, string>) =>
  Object.entries(env).flatMap(([name, value]) => [`--${name.toLowerCase().replaceAll("_", "-")}`, value]);

/** An archive of one source in one sink, and a way to make the source show more events for committed windows. */
export interface Archive {
  env: Record<string, string>;
  read(): Promise<ArchiveContents>;
  /** Every stored name and its bytes. */
  snapshot(): Promise<Map<string, string>>;
  /** Adds `count` events to committed windows, listed from now on; returns their ids. */
  addLate(count: number, seed: number): string[];
  /** Every id the source now lists before `frontier`. */
  truth(frontier: number): string[];
  /** Requests the source has served so far. */
  sourceRequests(): number;
  /** Stores an object as someone who can write the archive but holds no key would, or removes one. */
  plant(name: string, bytes: Uint8Array): Promise<void>;
  remove(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function idcsArchive(sink: "dir" | "oci", seed: number): Promise<Archive> {
  let domain = await startDomain({ events: recentEvents(seed, 240, 2, 10 * 60_000) });
  const cloud = sink === "oci" ? await startCloud(domain.dir) : undefined;
  if (cloud) domain = withCloud(domain, cloud);
  return {
    env: { ...domain.env, CHECKPOINT_KEY_FILE: `${domain.dir}/checkpoint.pem`, MAX_EVENTS_PER_OBJECT: "50" },
    read: () => domain.read(),
    snapshot: () => snapshotOf(sink === "oci" ? undefined : domain.archiveDir, cloud?.oci),
    addLate: (count, lateSeed) => {
      const now = Date.now();
      // Inside the archived range (which ends 10 min ago), as if the domain indexed them only now.
      const late = generateEvents({ seed: lateSeed, count, from: now - DAY, to: now - 20 * 60_000 });
      domain.emulator.addEvents(late);
      return late.map((e) => e.id);
    },
    truth: (frontier) => domain.truth(frontier),
    sourceRequests: () => domain.emulator.stats.auditRequests,
    ...writerOf(sink === "oci" ? undefined : domain.archiveDir, cloud?.oci),
    close: async () => {
      await cloud?.close();
      await domain.close();
    },
  };
}

export async function auditArchive(sink: "dir" | "oci", seed: number): Promise<Archive> {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-reconcile-" });
  const compartmentIds = [TENANCY, TEAM];
  const events = generateAuditEvents({
    seed,
    count: 240,
    from: Date.now() - 2 * DAY,
    to: Date.now() - 30 * 60_000,
    compartmentIds,
  });
  const cloud = await startCloud(dir, {
    compartments: [{ id: TEAM, parentId: TENANCY, name: "team" }],
    auditEvents: events,
  });
  const all: AuditCloudEvent[] = [...events];
  const env: Record<string, string> = {
    ...auditSettings(cloud, `${dir}/archive`),
    CHECKPOINT_KEY_FILE: `${dir}/checkpoint.pem`,
    MAX_EVENTS_PER_OBJECT: "50",
    ...(sink === "oci" ? cloud.env : {}),
  };
  return {
    env,
    read: () => sink === "oci" ? readBucketArchive(cloud.oci) : readArchive(env.ARCHIVE_DIR),
    snapshot: () => snapshotOf(sink === "oci" ? undefined : env.ARCHIVE_DIR, cloud.oci),
    addLate: (count, lateSeed) => {
      const now = Date.now();
      const late = generateAuditEvents({
        seed: lateSeed,
        count,
        from: now - DAY,
        to: now - 2 * HOUR,
        compartmentIds,
      });
      // Processed an hour ago — inside a committed processing-time window — but listed only from now on.
      for (const [i, event] of late.entries()) {
        cloud.oci.addLateAuditEvents([event], { processedAt: now - HOUR - i * 60_000, listableAt: now });
      }
      all.push(...late);
      return late.map((e) => e.eventId);
    },
    truth: (frontier) =>
      all.filter((e) => cloud.oci.auditProcessedAt(e.eventId) < frontier).map((e) => e.eventId).sort(),
    sourceRequests: () => cloud.oci.stats.byOperation.ListEvents ?? 0,
    ...writerOf(sink === "oci" ? undefined : env.ARCHIVE_DIR, cloud.oci),
    close: async () => {
      await cloud.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Plants and removes objects behind the program's back: files under the archive folder, or bucket objects. */
function writerOf(
  archiveDir: string | undefined,
  oci: Pick<OciEmulator, "putObjectDirect" | "deleteObjectDirect"> | undefined,
): Pick<Archive, "plant" | "remove"> {
  return {
    plant: async (name, bytes) => {
      if (!archiveDir) return oci!.putObjectDirect(BUCKET, name, bytes);
      await Deno.mkdir(`${archiveDir}/${name}`.replace(/\/[^/]+$/, ""), { recursive: true });
      await Deno.writeFile(`${archiveDir}/${name}`, bytes);
    },
    remove: async (name) =>
      archiveDir ? await Deno.remove(`${archiveDir}/${name}`) : oci!.deleteObjectDirect(BUCKET, name),
  };
}

async function snapshotOf(
  archiveDir: string | undefined,
  oci: { objects(bucket: string): { name: string; bytes: Uint8Array }[] } | undefined,
) {
  const snapshot = new Map<string, string>();
  if (archiveDir) {
    for (const name of await listFiles(archiveDir)) {
      snapshot.set(name, new TextDecoder("latin1").decode(await Deno.readFile(`${archiveDir}/${name}`)));
    }
  } else {
    for (const object of oci!.objects(BUCKET)) {
      snapshot.set(object.name, new TextDecoder("latin1").decode(object.bytes));
    }
  }
  return snapshot;
}

/** A time as object names spell it, and its day folder. */
export const stamp = (ms: number) => new Date(ms).toISOString().replace(/[-:]/g, "");
export const day = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll("-", "/");

/**
 * Plants a window hashed onto the chain's head, unsigned and empty, a minute long: what someone who can write
 * the archive but holds no key can add. Returns its manifest's and data object's names.
 */
export async function forgeHead(archive: Archive): Promise<string[]> {
  const utf8 = (text: string) => new TextEncoder().encode(text);
  const snapshot = await archive.snapshot();
  const head = [...snapshot.keys()].filter((n) => /\d{8}T\d{6}\.\d{3}Z\.manifest\.json$/.test(n)).sort()
    .at(-1)!;
  const manifest = JSON.parse(snapshot.get(head)!);
  const start = Date.parse(manifest.end);
  const end = start + 60_000;
  const data = await gzip(new Uint8Array());
  const chain = head.replace(/\/\d{4}\/\d{2}\/\d{2}\/[^/]+$/, "");
  const names = [
    `${chain}/${day(start)}/${stamp(start)}.manifest.json`,
    `${chain}/${day(start)}/${stamp(start)}--${stamp(end)}.ndjson.gz`,
  ];
  const forged = {
    ...manifest,
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    object: names[1],
    events: 0,
    bytes: data.length,
    sha256: await sha256Hex(data),
    previous: await sha256Hex(utf8(snapshot.get(head)!)),
    keyId: undefined,
    signature: undefined,
  };
  await archive.plant(names[0], utf8(JSON.stringify(forged) + "\n"));
  await archive.plant(names[1], data);
  return names;
}
