/**
 * Finding a chain's newest record (docs/design.md §5): a later search lists the day folder from the record the
 * one before found (a name, never trusted as being there), and finds what listing every folder whole would,
 * in a directory and in a bucket, when records are added, removed, or searched for before an earlier time.
 */

import assert from "node:assert/strict";
import { ObjectStorageSink } from "../../src/archive/bucket_sink.ts";
import { newestRecordBefore } from "../../src/archive/chains.ts";
import { DirectorySink } from "../../src/archive/directory_sink.ts";
import type { Sink } from "../../src/archive/sink.ts";
import { validateConfig } from "../../src/config/validate.ts";
import { openOciSession } from "../../src/oci/session.ts";
import { BUCKET, startCloud } from "../oci_harness.ts";

const SUFFIX = ".manifest.json";
const ROOT = "audit-archive/idcs/scope";
const record = (day: number, hour: number) =>
  `${ROOT}/2026/11/0${day}/202611${String(day).padStart(2, "0")}T${
    String(hour).padStart(2, "0")
  }0000.000Z${SUFFIX}`;
const dataBeside = (name: string) => name.replace(SUFFIX, "--20261231T000000.000Z.ndjson.gz");

/** Adds records and removes them through the sink's own store, and searches after each change. */
async function searchesFind(sink: Sink, remove: (name: string) => Promise<void>) {
  const add = (name: string) => sink.createExclusive(name, new TextEncoder().encode("{}\n"));
  const newest = (before = Infinity) => newestRecordBefore(sink, ROOT, before, SUFFIX);
  await add(record(1, 1));
  await add(record(1, 2));
  assert.equal(await newest(), record(1, 2));
  // Added after the record found: listed from it on.
  await add(dataBeside(record(1, 3)));
  await add(record(1, 3));
  assert.equal(await newest(), record(1, 3));
  // Removed: the folder is listed whole again, and the one before it found.
  await remove(record(1, 3));
  assert.equal(await newest(), record(1, 2));
  // A record of an earlier hour added later is not the newest.
  await add(record(1, 0));
  assert.equal(await newest(), record(1, 2));
  await add(record(2, 5));
  assert.equal(await newest(), record(2, 5));
  // Before the record found last: its folder and the one before are listed whole.
  assert.equal(await newest(Date.UTC(2026, 10, 2)), record(1, 2));
  assert.equal(await newest(Date.UTC(2026, 10, 1, 2)), record(1, 1));
  await remove(record(2, 5));
  await remove(record(1, 2));
  assert.equal(await newest(), record(1, 1));
  assert.equal(await newest(), record(1, 1));
}

Deno.test("a directory's newest record is found as a whole listing would find it, however records come and go", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-test-" });
  try {
    await searchesFind(new DirectorySink(dir), (name) => Deno.remove(`${dir}/${name}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bucket's newest record is found as a whole listing would find it, however records come and go", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-test-" });
  const cloud = await startCloud(dir);
  try {
    const config = validateConfig(cloud.env, [], Date.now(), { needsSources: false });
    const session = await openOciSession(config.oci, ["objectstorage"]);
    const sink = await ObjectStorageSink.open(session, BUCKET);
    await searchesFind(sink, (name) => Promise.resolve(cloud.oci.deleteObjectDirect(BUCKET, name)));
  } finally {
    await cloud.close();
    await Deno.remove(dir, { recursive: true });
  }
});
