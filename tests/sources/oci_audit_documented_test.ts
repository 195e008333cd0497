/**
 * The oci-audit source (and the identity-domain source) held to what Oracle documents, through the real
 * program and the real SDK against the emulators: ListEvents on *processing* time, ListCompartments'
 * subtree flag only on the tenancy, 404 NotAuthorizedOrNotFound for compartments the caller may not read,
 * events archived byte for byte as sent, the tenancy's retention from GetConfiguration, and resource-principal
 * credentials read from files under the production permission set.
 */

import assert from "node:assert/strict";
import { type AuditCloudEvent, generateAuditEvents, processingTimeOf } from "../emulators/oci.ts";
import { generateEvents } from "../emulators/idcs.ts";
import {
  DAY,
  duplicates,
  listFiles,
  permissionFlags,
  readArchive,
  runCli,
  runMain,
  startDomain,
} from "../harness.ts";
import { type Cloud, startCloud, TENANCY, writeResourcePrincipalFiles } from "../oci_harness.ts";
import type { OciEmulatorOptions } from "../emulators/oci.ts";

/**
 * Where OCI Container Instances gives a container its resource-principal files (version 2.2, paths in
 * OCI_RESOURCE_PRINCIPAL_RPST / _PRIVATE_PEM). Oracle's documentation does not name the folder; public code that
 * runs on the service does (`/var/oci/rp-identity/latest/session_token` and `…/private_key`,
 * kicsipixel/oci-swift-sdk-examples BucketRelay/README.md). The default permission set grants exactly it.
 */
const RESOURCE_PRINCIPAL_DIR = "/var/oci/rp-identity/latest";

const TEAM = "ocid1.compartment.oc1..aaaadocteam";
const PROD = "ocid1.compartment.oc1..aaaadocprod";
const DB = "ocid1.compartment.oc1..aaaadocdb";
const OLD = "ocid1.compartment.oc1..aaaadocold";
/** tenancy → team → prod → db (three levels), and a DELETED compartment under team. */
const TREE = [
  { id: TEAM, parentId: TENANCY, name: "team" },
  { id: PROD, parentId: TEAM, name: "prod" },
  { id: DB, parentId: PROD, name: "db" },
  { id: OLD, parentId: TEAM, name: "old", lifecycleState: "DELETED" as const },
];
const ALL = [TENANCY, TEAM, PROD, DB, OLD];
const MINUTE = 60_000;

async function setup(options: Partial<OciEmulatorOptions>, extra: Record<string, string> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-documented-" });
  const cloud: Cloud = await startCloud(dir, { compartments: TREE, ...options });
  const env: Record<string, string> = {
    AUDIT_COMPARTMENT_ID: TENANCY,
    OCI_AUTH: "config",
    OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
    OCI_AUDIT_ENDPOINT: cloud.oci.url,
    OCI_IDENTITY_ENDPOINT: cloud.oci.url,
    ARCHIVE_DIR: `${dir}/archive`,
    SINCE: "1d",
    SETTLE: "0s",
    MIN_INTERVAL: "0s",
    LOG_LEVEL: "error",
    ...extra,
  };
  const args = Object.entries(env).flatMap(([name, value]) => [
    `--${name.toLowerCase().replaceAll("_", "-")}`,
    value,
  ]);
  return {
    dir,
    cloud,
    env,
    args,
    close: async () => {
      await cloud.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Ids of `compartments`' events processed before `frontier`: what ListEvents returns, so what must be archived. */
function truth(cloud: Cloud, events: AuditCloudEvent[], frontier: number, compartments = ALL): string[] {
  return events.filter((e) =>
    compartments.includes(e.data.compartmentId) && cloud.oci.auditProcessedAt(e.eventId) < frontier
  ).map((e) => e.eventId).sort();
}

/**
 * Generated events processed within the minute they occurred (and already processed). No minute-aligned
 * window can separate such an event's eventTime from its processing time, so a test built on them measures
 * its own subject alone, not also the program's reading of ListEvents' time range (the first test's).
 */
function sameMinuteEvents(seed: number, count: number, compartmentIds = ALL): AuditCloudEvent[] {
  const now = Date.now();
  return generateAuditEvents({
    seed,
    count,
    from: now - 6 * 3_600_000,
    to: now - 10 * MINUTE,
    compartmentIds,
  })
    .filter((e) =>
      Math.floor(Date.parse(e.eventTime) / MINUTE) === Math.floor(processingTimeOf(e) / MINUTE) &&
      processingTimeOf(e) < now
    );
}

async function manifests(archiveDir: string): Promise<Record<string, unknown>[]> {
  const names = (await listFiles(archiveDir)).filter((n) => n.endsWith(".manifest.json"));
  return await Promise.all(names.map(async (n) => JSON.parse(await Deno.readTextFile(`${archiveDir}/${n}`))));
}

Deno.test("events processed in a window but with an eventTime before its start are archived", async () => {
  const now = Date.now();
  const events = generateAuditEvents({
    seed: 501,
    count: 300,
    from: now - 3 * 3_600_000,
    to: now - 30 * MINUTE,
    compartmentIds: ALL,
  });
  const crossing = events.filter((e) =>
    Math.floor(processingTimeOf(e) / MINUTE) > Math.floor(Date.parse(e.eventTime) / MINUTE) &&
    processingTimeOf(e) < now
  );
  assert.ok(crossing.length > 20, "the emulator processes many events in a later minute than they occurred");
  const { cloud, env, args, close } = await setup({ auditEvents: events });
  try {
    // Small windows, so window starts fall between events' eventTimes and processing times.
    assert.equal(await runMain("once", { args }, "--max-events-per-object", "20"), 0, "the pass succeeds");
    const archive = await readArchive(env.ARCHIVE_DIR);
    assert.ok(archive.objects >= 10, `${archive.objects} windows`);
    assert.deepEqual(duplicates(archive.ids), []);
    assert.deepEqual([...archive.ids].sort(), truth(cloud, events, archive.frontier!));
    for (const event of crossing.filter((e) => cloud.oci.auditProcessedAt(e.eventId) < archive.frontier!)) {
      assert.ok(
        archive.ids.includes(event.eventId),
        `${event.eventId} (processed a minute late) is archived`,
      );
    }
  } finally {
    await close();
  }
});

Deno.test("a middle compartment of a three-level tree as scope archives its subtree (AUDIT_SUBTREE default)", async () => {
  const events = sameMinuteEvents(502, 600);
  const { cloud, env, args, close } = await setup({ auditEvents: events }, { AUDIT_COMPARTMENT_ID: TEAM });
  try {
    assert.equal(await runMain("once", { args }), 0, "the pass succeeds");
    const archive = await readArchive(env.ARCHIVE_DIR);
    const subtree = [TEAM, PROD, DB, OLD];
    assert.deepEqual([...archive.ids].sort(), truth(cloud, events, archive.frontier!, subtree));
    const byId = new Map(events.map((e) => [e.eventId, e]));
    assert.ok(
      archive.ids.some((id) => byId.get(id)!.data.compartmentId === DB),
      "events of the third level are archived",
    );
    assert.ok(
      !archive.ids.some((id) => byId.get(id)!.data.compartmentId === TENANCY),
      "nothing above the scope",
    );
  } finally {
    await close();
  }
});

Deno.test("an unreadable (404) sub-compartment fails the pass with exit 1, names the compartment and the policy, commits nothing", async () => {
  const events = sameMinuteEvents(503, 200);
  const { env, close } = await setup({ auditEvents: events, unreadableCompartments: [PROD] });
  try {
    const result = await runCli(["once"], { env });
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(PROD), `the message names ${PROD}: ${result.stderr}`);
    assert.match(
      result.stderr,
      /read audit-events/,
      "the message gives the policy statement that is missing",
    );
    const committed = (await listFiles(env.ARCHIVE_DIR)).filter((n) =>
      n.endsWith(".ndjson.gz") || n.endsWith(".manifest.json")
    );
    assert.deepEqual(committed, [], "no window is committed without the unreadable compartment's events");
  } finally {
    await close();
  }
});

Deno.test("a DELETED compartment whose events Audit refuses is skipped and recorded in each window's manifest", async () => {
  const events = sameMinuteEvents(504, 300);
  const { cloud, env, args, close } = await setup({ auditEvents: events, deletedCompartmentEvents: "404" });
  try {
    assert.equal(await runMain("once", { args }), 0, "the pass succeeds");
    const archive = await readArchive(env.ARCHIVE_DIR);
    assert.deepEqual(
      [...archive.ids].sort(),
      truth(cloud, events, archive.frontier!, [TENANCY, TEAM, PROD, DB]),
    );
    const all = await manifests(env.ARCHIVE_DIR);
    assert.ok(all.length > 0);
    for (const manifest of all) {
      assert.ok(
        Array.isArray(manifest.skippedCompartments) && manifest.skippedCompartments.includes(OLD),
        `manifest ${manifest.start} records ${OLD} in skippedCompartments: ${JSON.stringify(manifest)}`,
      );
    }
  } finally {
    await close();
  }
});

Deno.test("archived OCI Audit lines equal the emulator's wire text byte for byte (nulls, member order, escapes)", async () => {
  const events = sameMinuteEvents(505, 400);
  const { cloud, env, args, close } = await setup({ auditEvents: events });
  try {
    assert.equal(await runMain("once", { args }), 0, "the pass succeeds");
    const archive = await readArchive(env.ARCHIVE_DIR);
    assert.ok(archive.lines.length > 100);
    const wire = archive.lines.map((line) => cloud.oci.auditWireText(JSON.parse(line).eventId));
    assert.ok(wire.some((text) => /:null[,}]/.test(text)), "some events carry null members");
    assert.ok(wire.some((text) => text.includes("\\/")), "some events are sent with \\/ escapes");
    assert.ok(wire.some((text) => /\\u00[0-9a-f]{2}|\\u0[1-9a-f]/.test(text)), "some with \\u escapes");
    const differing = archive.lines.filter((line, i) => line !== wire[i]);
    assert.equal(
      differing.length,
      0,
      `${differing.length} of ${archive.lines.length} lines differ, e.g. ${differing[0]}`,
    );
  } finally {
    await close();
  }
});

Deno.test("archived identity-domain lines equal the emulator's wire text byte for byte (nulls, member order, escapes)", async () => {
  const now = Date.now();
  const domain = await startDomain({
    events: generateEvents({ seed: 506, count: 600, from: now - 2 * DAY, to: now - MINUTE }),
  });
  try {
    assert.equal(await runMain("once", domain), 0);
    const archive = await domain.read();
    assert.ok(archive.lines.length > 500);
    const wire = archive.lines.map((line) => domain.emulator.wireText(JSON.parse(line).id));
    assert.ok(wire.some((text) => /:null[,}]/.test(text)), "some events carry null attributes");
    assert.ok(wire.some((text) => text.includes("\\/")), "some events are sent with \\/ escapes");
    const differing = archive.lines.filter((line, i) => line !== wire[i]);
    assert.equal(
      differing.length,
      0,
      `${differing.length} of ${archive.lines.length} lines differ, e.g. ${differing[0]}`,
    );
  } finally {
    await domain.close();
  }
});

/** The `status` entry of the oci-audit chain. */
async function auditStatus(env: Record<string, string>) {
  const result = await runCli(["status"], { env });
  assert.equal(result.code, 0, result.stderr);
  const status = JSON.parse(result.stdout);
  const chain = status.chains.find((c: { chain: string }) => c.chain.includes("oci-audit"));
  assert.ok(chain, `status lists the oci-audit chain: ${result.stdout}`);
  return chain as { retentionDays?: number; warnings: string[] };
}

Deno.test("status reports the tenancy's Audit retention from GetConfiguration", async () => {
  const { cloud, env, args, close } = await setup({
    auditEvents: sameMinuteEvents(507, 50),
    auditRetentionDays: 120,
  });
  try {
    assert.equal(await runMain("once", { args }), 0);
    const chain = await auditStatus(env);
    assert.equal(chain.retentionDays, 120, `retentionDays from GetConfiguration: ${JSON.stringify(chain)}`);
    assert.ok(
      (cloud.oci.stats.byOperation.GetConfiguration ?? 0) >= 1,
      "status asked Audit for its configuration",
    );
  } finally {
    await close();
  }
});

Deno.test("status assumes 90 days of Audit retention, with a warning, when GetConfiguration is refused", async () => {
  const { env, args, close } = await setup({
    auditEvents: sameMinuteEvents(508, 50),
    auditConfigurationReadable: false,
  });
  try {
    assert.equal(await runMain("once", { args }), 0);
    const chain = await auditStatus(env);
    assert.equal(chain.retentionDays, 90, `the shortest retention is assumed: ${JSON.stringify(chain)}`);
    assert.ok(
      chain.warnings.some((w) => /90/.test(w) && /retention|GetConfiguration|configuration/i.test(w)),
      `a warning says so: ${JSON.stringify(chain.warnings)}`,
    );
  } finally {
    await close();
  }
});

Deno.test("under the default permission set (plus loopback) the program reads resource-principal files where Container Instances mounts them", async () => {
  const events = sameMinuteEvents(509, 80, [TENANCY]);
  const { cloud, dir, close } = await setup({ auditEvents: events });
  const work = `${dir}/work`; // the working directory: the default set's ./archive is relative to it
  await Deno.mkdir(`${work}/keys`, { recursive: true }); // as the image has it: the checkpoint key goes there
  let created = false;
  try {
    await Deno.mkdir(RESOURCE_PRINCIPAL_DIR, { recursive: true });
    created = true;
    const principal = await writeResourcePrincipalFiles(cloud.oci, RESOURCE_PRINCIPAL_DIR, {
      rpstFile: "session_token",
      privatePemFile: "private_key",
    });
    const result = await runCli(["once"], {
      cwd: work,
      permissionFlags: await permissionFlags("default", ["127.0.0.1"]),
      env: {
        ...principal,
        OCI_AUTH: "resource_principal",
        AUDIT_COMPARTMENT_ID: TENANCY,
        AUDIT_SUBTREE: "false",
        OCI_AUDIT_ENDPOINT: cloud.oci.url,
        OCI_IDENTITY_ENDPOINT: cloud.oci.url,
        SINCE: "1d",
        SETTLE: "0s",
        MIN_INTERVAL: "0s",
        LOG_LEVEL: "error",
      },
    });
    assert.equal(result.code, 0, result.stderr);
    const archive = await readArchive(`${work}/archive`);
    assert.deepEqual([...archive.ids].sort(), truth(cloud, events, archive.frontier!, [TENANCY]));
    assert.ok(archive.ids.length > 0);
    assert.equal(cloud.oci.stats.rejectedSignatures, 0);
  } finally {
    if (created) await Deno.remove(RESOURCE_PRINCIPAL_DIR, { recursive: true }).catch(() => {});
    await close();
  }
});

Deno.test("resource-principal files elsewhere are refused under the default set with a message naming the path and the fix", async () => {
  const { cloud, dir, close } = await setup({ auditEvents: [] });
  const work = `${dir}/work`;
  await Deno.mkdir(work);
  try {
    const principal = await writeResourcePrincipalFiles(cloud.oci, `${dir}/elsewhere`);
    const result = await runCli(["once"], {
      cwd: work,
      permissionFlags: await permissionFlags("default", ["127.0.0.1"]),
      env: {
        ...principal,
        OCI_AUTH: "resource_principal",
        AUDIT_COMPARTMENT_ID: TENANCY,
        OCI_AUDIT_ENDPOINT: cloud.oci.url,
        OCI_IDENTITY_ENDPOINT: cloud.oci.url,
        LOG_LEVEL: "error",
      },
    });
    assert.equal(result.code, 2, result.stderr);
    assert.ok(result.stderr.includes(`${dir}/elsewhere`), `the message names the path: ${result.stderr}`);
    // The command that grants it: the set's whole read list with the folder added.
    assert.ok(
      result.stderr.includes(
        `--allow-read=./archive,./keys,/etc/audit-archiver,/var/oci/rp-identity,${dir}/elsewhere `,
      ),
      result.stderr,
    );
    assert.deepEqual(await listFiles(`${work}/archive`), [], "nothing is written");
  } finally {
    await close();
  }
});
