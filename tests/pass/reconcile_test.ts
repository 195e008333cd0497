/**
 * Reconciliation against the source (docs/design.md §9, invariant 10): events the source shows for a
 * committed window only later — indexed late — are found by `reconcile` (and by every pass, RECONCILE_AFTER
 * after a window's commit) and archived exactly once as an amendment, the window's own objects untouched;
 * `verify`, `export` and `status` include amendments, and the checkpoints make removing one evident.
 * Both sources, both sinks, through the real paths: the emulators over HTTP, real files, the real OCI SDK.
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";

import { amendmentNames, parseAmendmentName } from "../../src/archive/names.ts";

import { sha256Hex } from "../../src/bytes.ts";

import type { WindowReconciliation } from "../../src/pass/reconcile.ts";

import { verifyChain } from "../../src/proof/chain.ts";

import { generateEvents } from "../emulators/idcs.ts";

import {
  DAY,
  duplicates,
  freePort,
  gzip,
  HOUR,
  listFiles,
  publicKeyOf,
  recentEvents,
  runCli,
  startDomain,
  waitFor,
} from "../harness.ts";
import { BUCKET, startCloud, withCloud } from "../oci_harness.ts";
import { type Archive, asFlags, auditArchive, idcsArchive } from "./archives.ts";

const reconcile = (archive: Archive, ...extra: string[]) =>
  runCli(["reconcile", ...extra], { env: archive.env });
const windowsOf = (stdout: string) =>
  stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line)) as WindowReconciliation[];
const sum = (rows: { missing: number }[]) => rows.reduce((n, r) => n + r.missing, 0);

for (
  const [source, sink, seed] of [
    ["idcs", "dir", 4101],
    ["idcs", "oci", 4102],
    ["oci-audit", "dir", 4103],
    ["oci-audit", "oci", 4104],
  ] as const
) {
  Deno.test(`${source} → ${sink}: reconcile finds late events in committed windows and archives them once, as amendments`, async () => {
    const archive = source === "idcs" ? await idcsArchive(sink, seed) : await auditArchive(sink, seed);
    try {
      assert.equal(await main(["once", ...asFlags(archive.env)]), 0);
      const before = await archive.read();
      assert.deepEqual([...before.ids].sort(), archive.truth(before.frontier!));
      const late = archive.addLate(7, seed + 50);
      const committed = await archive.snapshot();

      const dry = await reconcile(archive, "--dry-run");
      assert.equal(dry.code, 1, "missing events found by a dry run: exit 1\n" + dry.stderr);
      assert.equal(sum(windowsOf(dry.stdout)), 7, dry.stdout);
      assert.deepEqual(await archive.snapshot(), committed, "--dry-run writes nothing");

      const real = await reconcile(archive);
      assert.equal(real.code, 0, real.stderr);
      const rows = windowsOf(real.stdout);
      assert.equal(sum(rows), 7);
      assert.ok(rows.every((r) => r.extra === 0 && (r.missing === 0 || r.amended)), real.stdout);
      const after = await archive.read();
      assert.deepEqual(duplicates(after.ids), [], "each event in exactly one object");
      assert.deepEqual([...after.ids].sort(), archive.truth(before.frontier!), "the archive now holds them");
      for (const id of late) assert.match(after.objectOf.get(id)!, /\.amend-1\.ndjson\.gz$/);
      const now = await archive.snapshot();
      for (const [name, bytes] of committed) assert.equal(now.get(name), bytes, `${name} untouched`);

      const again = await reconcile(archive);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(sum(windowsOf(again.stdout)), 0, "a second reconcile finds nothing missing");
      const names = [...(await archive.snapshot()).keys()];
      assert.equal(names.filter((n) => n.endsWith(".ndjson.gz")).length, after.objects, "no new object");

      const verify = await runCli(["verify"], { env: archive.env });
      assert.equal(verify.code, 0, verify.stdout);
      const report = JSON.parse(verify.stdout);
      assert.ok(report.chains.reduce((n: number, c: { amendments: number }) => n + c.amendments, 0) >= 1);

      const exported = await runCli(
        ["export", "--from", new Date(Date.now() - 3 * DAY).toISOString(), "--to", new Date().toISOString()],
        { env: archive.env },
      );
      assert.equal(exported.code, 0, exported.stderr);
      const exportedIds = exported.stdout.split("\n").filter(Boolean).map((l) => {
        const event = JSON.parse(l);
        return event.id ?? event.eventId;
      });
      assert.deepEqual(duplicates(exportedIds), []);
      for (const id of late) assert.ok(exportedIds.includes(id), `export includes late event ${id}`);

      const status = JSON.parse((await runCli(["status"], { env: archive.env })).stdout);
      assert.equal(status.chains.reduce((n: number, c: { lateEvents: number }) => n + c.lateEvents, 0), 7);
    } finally {
      await archive.close();
    }
  });
}

for (
  const [source, sink, seed] of [
    ["idcs", "dir", 4121],
    ["idcs", "oci", 4122],
    ["oci-audit", "dir", 4123],
    ["oci-audit", "oci", 4124],
  ] as const
) {
  Deno.test(`${source} → ${sink}: a forged amendment is neither counted nor built on; once removed, reconcile archives the late events`, async () => {
    const archive = source === "idcs" ? await idcsArchive(sink, seed) : await auditArchive(sink, seed);
    try {
      assert.equal(await main(["once", ...asFlags(archive.env)]), 0);
      const late = archive.addLate(7, seed + 50);
      // Someone without the key takes amendment 1 of every committed window, with one event of their own.
      const snapshot = await archive.snapshot();
      const planted: string[] = [];
      const utf8 = (text: string) => new TextEncoder().encode(text);
      for (const [name, text] of snapshot) {
        if (!/\d{8}T\d{6}\.\d{3}Z\.manifest\.json$/.test(name)) continue;
        const manifest = JSON.parse(text);
        const data = await gzip(utf8('{"id":"forged","eventId":"forged"}\n'));
        const names = [
          name.replace(".manifest.json", ".amend-1.manifest.json"),
          manifest.object.replace(".ndjson.gz", ".amend-1.ndjson.gz"),
        ];
        const hash = await sha256Hex(utf8(text));
        const forged = {
          ...manifest,
          object: names[1],
          events: 1,
          bytes: data.length,
          sha256: await sha256Hex(data),
          amendment: 1,
          amends: hash,
          previous: hash,
          keyId: undefined,
          signature: undefined,
        };
        await archive.plant(names[0], utf8(JSON.stringify(forged) + "\n"));
        await archive.plant(names[1], data);
        planted.push(...names);
      }
      const blocked = await reconcile(archive);
      assert.equal(blocked.code, 1, blocked.stdout);
      assert.match(blocked.stderr, /amend-1\.manifest\.json is not vouched for by the archiver's key/);
      const held = new Set((await archive.read()).ids);
      assert.ok(late.every((id) => !held.has(id)), "nothing is archived after a forged amendment");
      const publicKey = `${archive.env.CHECKPOINT_KEY_FILE}.pub.pem`;
      await Deno.writeTextFile(publicKey, await publicKeyOf(archive.env.CHECKPOINT_KEY_FILE));
      const verify = await runCli(["verify", "--public-key", publicKey], { env: archive.env });
      assert.equal(verify.code, 1);
      assert.match(
        verify.stdout,
        /amend-1\.manifest\.json: it is not signed, and no authentic checkpoint names it/,
      );

      // The operator removes what the key does not vouch for (docs/operations.md): the late events go in.
      for (const name of planted) await archive.remove(name);
      const real = await reconcile(archive);
      assert.equal(real.code, 0, real.stderr);
      const after = new Set((await archive.read()).ids);
      assert.ok(late.every((id) => after.has(id)), "every late event archived");
      assert.equal((await runCli(["verify", "--public-key", publicKey], { env: archive.env })).code, 0);
    } finally {
      await archive.close();
    }
  });
}

Deno.test("concurrent reconcilers archive each late event exactly once", async () => {
  const archive = await idcsArchive("dir", 4110);
  try {
    assert.equal(await main(["once", ...asFlags(archive.env)]), 0);
    const { frontier } = await archive.read();
    archive.addLate(12, 4111);
    const results = await Promise.all([1, 2, 3].map(() => main(["reconcile", ...asFlags(archive.env)])));
    assert.deepEqual(results, [0, 0, 0]);
    const after = await archive.read();
    assert.deepEqual(duplicates(after.ids), []);
    assert.deepEqual([...after.ids].sort(), archive.truth(frontier!));
    const verify = await runCli(["verify"], { env: archive.env });
    assert.equal(verify.code, 0, verify.stdout);
  } finally {
    await archive.close();
  }
});

Deno.test("reconcile lists a day folder once, not once per window in it", async () => {
  // 240 events over 2 days, 3 an object: some 80 windows in three day folders of the bucket.
  let domain = await startDomain({ events: recentEvents(4120, 240, 2, 10 * 60_000) });
  const cloud = await startCloud(domain.dir);
  domain = withCloud(domain, cloud);
  try {
    assert.equal(await main(["once", ...domain.args, "--max-events-per-object", "3"]), 0);
    const windows = cloud.oci.objects(BUCKET).filter((o) => o.name.endsWith(".manifest.json")).length;
    assert.ok(windows >= 80, `${windows} windows`);
    const listings = () => cloud.oci.stats.byOperation.ListObjects ?? 0;
    const before = listings();
    assert.equal(await main(["reconcile", ...domain.args]), 0);
    // One listing per day folder of the range (the 14 days the domain serves, most of them empty) and the walks
    // to the newest manifest and checkpoint: some 35, whatever the number of windows in a day.
    assert.ok(listings() - before <= 40, `${listings() - before} ListObjects for ${windows} windows`);
  } finally {
    await domain.close();
  }
});

Deno.test("each pass reconciles the windows committed RECONCILE_AFTER ago, once; the checkpoint records the amendments", async () => {
  const archive = await idcsArchive("dir", 4120);
  try {
    const flags = asFlags(archive.env);
    assert.equal(await main(["once", ...flags]), 0);
    const { frontier } = await archive.read();
    archive.addLate(5, 4121);
    const quiet = archive.sourceRequests();
    assert.equal(await main(["once", ...flags]), 0);
    assert.ok(archive.sourceRequests() - quiet <= 2, "RECONCILE_AFTER (1d) is not due: no window is re-read");
    assert.equal((await archive.read()).ids.length, archive.truth(frontier!).length - 5);
    assert.equal(await main(["once", ...flags, "--reconcile-after", "0s"]), 0);
    const after = await archive.read();
    assert.deepEqual(duplicates(after.ids), []);
    assert.deepEqual([...after.ids].sort(), archive.truth(frontier!));
    const files = await listFiles(archive.env.ARCHIVE_DIR);
    const checkpoint = JSON.parse(
      await Deno.readTextFile(
        `${archive.env.ARCHIVE_DIR}/${files.filter((n) => n.endsWith(".checkpoint.json")).sort().at(-1)}`,
      ),
    );
    const head = checkpoint.chains[0];
    assert.ok(head.reconciled >= new Date(frontier!).toISOString(), "every committed window is reconciled");
    assert.ok(head.amendments.length >= 1, "the checkpoint names the amendments");
    // Once: a later pass re-reads nothing (the reconciled time moved on), and still carries it forward.
    // Once: a later pass re-reads only what was committed since (its own new window), not the ~15 before.
    const windows = (await listFiles(archive.env.ARCHIVE_DIR)).filter((n) => /Z\.manifest\.json$/.test(n));
    const requests = archive.sourceRequests();
    assert.equal(await main(["once", ...flags, "--reconcile-after", "0s"]), 0);
    const reread = archive.sourceRequests() - requests;
    assert.ok(
      windows.length >= 10 && reread <= 4,
      `${reread} requests for a pass over ${windows.length} windows`,
    );
  } finally {
    await archive.close();
  }
});

Deno.test("removing or adding an amendment makes verify fail", async () => {
  const archive = await idcsArchive("dir", 4130);
  const dir = archive.env.ARCHIVE_DIR;
  const verify = async () => {
    const result = await runCli(["verify"], { env: archive.env });
    return { code: result.code, problems: (JSON.parse(result.stdout).problems as string[]).join("\n") };
  };
  try {
    const flags = asFlags(archive.env);
    assert.equal(await main(["once", ...flags]), 0);
    archive.addLate(4, 4131);
    assert.equal(await main(["once", ...flags, "--reconcile-after", "0s"]), 0);
    const amendment = (await listFiles(dir)).find((n) => parseAmendmentName(`/${n}`))!;
    assert.ok(amendment, "an amendment was written");
    assert.equal((await verify()).code, 0);
    const manifestBytes = await Deno.readFile(`${dir}/${amendment}`);
    const dataName = amendment.replace(/(\d{8}T\d{6}\.\d{3}Z)\.amend-1\.manifest\.json$/, "");
    const data = (await listFiles(dir)).find((n) =>
      n.startsWith(dataName) && n.endsWith(".amend-1.ndjson.gz")
    )!;
    const dataBytes = await Deno.readFile(`${dir}/${data}`);

    // Removed (manifest and data): the checkpoint that recorded it says so.
    await Deno.remove(`${dir}/${amendment}`);
    await Deno.remove(`${dir}/${data}`);
    const removed = await verify();
    assert.equal(removed.code, 1);
    assert.match(removed.problems, /which checkpoint \d+ recorded, was removed or changed/);
    await Deno.writeFile(`${dir}/${amendment}`, manifestBytes);
    await Deno.writeFile(`${dir}/${data}`, dataBytes);
    assert.equal((await verify()).code, 0, "restored, it verifies again");

    // A second amendment added without the key to a reconciled window: in no checkpoint.
    const manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    const second = amendment.replace(".amend-1.", ".amend-2.");
    const secondData = data.replace(".amend-1.", ".amend-2.");
    const previous = await sha256Hex(manifestBytes);
    await Deno.writeFile(`${dir}/${secondData}`, dataBytes);
    await Deno.writeTextFile(
      `${dir}/${second}`,
      JSON.stringify({ ...manifest, amendment: 2, object: secondData, previous }) + "\n",
    );
    const added = await verify();
    assert.equal(added.code, 1);
    assert.match(added.problems, /is in no checkpoint although its window was reconciled/);
  } finally {
    await archive.close();
  }
});

Deno.test("verifyChain: amendments number from 1 with no gap, chain onto their window, sit under its names", async () => {
  const chain = "audit-archive/idcs/domain";
  const encode = (record: object) => new TextEncoder().encode(JSON.stringify(record) + "\n");
  const hex = sha256Hex;
  const start = Date.UTC(2026, 10, 1), end = start + HOUR;
  const genesis = encode({
    format: "audit-archiver/1",
    source: "idcs",
    scope: "domain",
    start: new Date(start).toISOString(),
  });
  const base = {
    format: "audit-archiver/1",
    source: "idcs",
    scope: "domain",
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    events: 0,
    sourceTotal: 0,
    bytes: 0,
    sha256: "0",
    ndjsonSha256: "0",
    firstEventTime: null,
    lastEventTime: null,
    version: "test",
    committedAt: new Date(end).toISOString(),
  };
  const names = (n: number) => amendmentNames(chain, { start, end }, n);
  const windowName = names(1).manifest.replace(".amend-1", "");
  const window = encode({
    ...base,
    object: names(1).data.replace(".amend-1", ""),
    previous: await hex(genesis),
  });
  const first = encode({
    ...base,
    object: names(1).data,
    amendment: 1,
    amends: await hex(window),
    previous: await hex(window),
  });
  const second = encode({
    ...base,
    object: names(2).data,
    amendment: 2,
    amends: await hex(window),
    previous: await hex(first),
  });
  const check = async (manifests: { name: string; bytes: Uint8Array }[]) =>
    (await verifyChain({
      chain,
      geneses: [{ name: `${chain}/genesis.json`, bytes: genesis }],
      manifests,
      dataNames: [],
    })).problems.join("\n");
  const all = [
    { name: windowName, bytes: window },
    { name: names(1).manifest, bytes: first },
    { name: names(2).manifest, bytes: second },
  ];
  assert.equal(await check(all), "");
  assert.match(await check([all[0], all[2]]), /amendment 1 of its window is missing/);
  assert.match(await check([all[1], all[2]]), /amends no committed window/);
  const forged = encode({ ...JSON.parse(new TextDecoder().decode(second)), previous: await hex(window) });
  assert.match(
    await check([all[0], all[1], { name: names(2).manifest, bytes: forged }]),
    /hash chain is broken/,
  );
});

Deno.test("run reconciles on its own: late events are archived, and /metrics and status count them", async () => {
  const archive = await idcsArchive("dir", 4140);
  const port = freePort();
  let child: Deno.ChildProcess | undefined;
  try {
    assert.equal(await main(["once", ...asFlags(archive.env)]), 0);
    const { frontier } = await archive.read();
    archive.addLate(6, 4141);
    const daemon = runCli(["run"], {
      env: { ...archive.env, PORT: String(port), SCHEDULE: "0 0 1 1 *", RECONCILE_AFTER: "0s" },
      onSpawn: (spawned) => child = spawned,
    });
    const late = await waitFor("the pass at start to reconcile", async () => {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => "");
      return /^audit_archiver_late_events_total\{[^}]*source="idcs"[^}]*\} 6$/m.exec(text)?.[0];
    });
    assert.ok(late);
    child!.kill("SIGTERM");
    assert.equal((await daemon).code, 0);
    const after = await archive.read();
    assert.deepEqual(duplicates(after.ids), []);
    assert.deepEqual([...after.ids].sort(), archive.truth(frontier!));
    const status = JSON.parse((await runCli(["status"], { env: archive.env })).stdout);
    assert.equal(status.chains[0].lateEvents, 6);
    assert.ok(status.chains[0].reconciledUntil >= new Date(frontier!).toISOString());
  } finally {
    try {
      child?.kill("SIGKILL");
    } catch {
      // already exited
    }
    await archive.close();
  }
});

Deno.test("amendments reach the Logging copy too, each late event once", async () => {
  const domain = await startDomain({ events: recentEvents(4150, 200, 2, 10 * 60_000) });
  const logId = "ocid1.log.oc1..aaaareconcilecopy";
  const cloud = await startCloud(domain.dir, { logs: [logId], buckets: [] });
  const flags = [
    ...domain.args,
    ...asFlags({
      OCI_AUTH: "config",
      OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
      OCI_LOG_ID: logId,
      OCI_LOGGING_ENDPOINT: cloud.oci.url,
      CHECKPOINT_KEY_FILE: `${domain.dir}/checkpoint.pem`,
      MAX_EVENTS_PER_OBJECT: "50",
    }),
  ];
  try {
    assert.equal(await main(["once", ...flags]), 0);
    const now = Date.now();
    const late = generateEvents({ seed: 4151, count: 5, from: now - DAY, to: now - 20 * 60_000 });
    domain.emulator.addEvents(late);
    // The pass that reconciles copies the amendment on the pass after (the copy follows the commit path).
    assert.equal(await main(["once", ...flags, "--reconcile-after", "0s"]), 0);
    assert.equal(await main(["once", ...flags]), 0);
    const logged = cloud.oci.logEntries(logId).map((e) => e.id);
    assert.deepEqual(duplicates(logged), []);
    for (const event of late) assert.ok(logged.includes(event.id), `${event.id} is in the log`);
    assert.equal(logged.length, 205);
  } finally {
    await cloud.close();
    await domain.close();
  }
});

Deno.test("idcs: reconcile leaves windows 15 to 29 days old alone: AuditEvents serves 14 days, so their reading empty is no loss", async () => {
  const now = Date.now();
  const events = generateEvents({ seed: 4160, count: 120, from: now - 22 * DAY, to: now - 16 * DAY });
  const domain = await startDomain({ events, since: "23d" });
  try {
    // Archived back when AuditEvents still served these events; by now they have aged out of it
    // (docs/oracle/identity-domains.md [config-audit-retention]: 14 days).
    domain.emulator.setRetentionDays(30);
    const env = { ...domain.env, CHECKPOINT_KEY_FILE: `${domain.dir}/checkpoint.pem` };
    assert.equal(await main(["once", ...asFlags(env)]), 0);
    assert.equal((await domain.read()).ids.length, 120);
    domain.emulator.setRetentionDays(14);
    const result = await runCli(["reconcile"], { env });
    const rows = windowsOf(result.stdout);
    assert.ok(
      rows.every((r) => r.extra === 0 && r.missing === 0),
      `nothing lost, nothing extra: ${result.stdout}`,
    );
    assert.ok(
      rows.every((r) => Date.parse(r.window.slice(1, 25)) >= now - 14 * DAY),
      `no window older than the 14 days AuditEvents serves is read: ${result.stdout}`,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await domain.read()).ids.length, 120, "the archive keeps what it archived");
  } finally {
    await domain.close();
  }
});
