/**
 * `deno task demo`: the whole flow on a machine with no Oracle account. Starts an emulated identity domain
 * holding three days of realistic audit events, writes its client key to ./demo/keys, then runs the real
 * program (`deno run -q -P=demo main.ts …`: loopback only, writes under ./demo only) to archive them into
 * ./demo/archive, and prints `status` and `verify`, then the commands to look at the demo's archive yourself.
 * Run it again later: it resumes from the archive's frontier. Everything it writes stays under ./demo, apart
 * from production's ./archive and ./keys/checkpoint.pem, so `deno task run` never builds on the demo's chain.
 *
 * `deno task demo cloud`: the same flow as production runs it, against the emulated cloud — the client key in
 * a Vault secret (nothing on disk), the program authenticated as a resource principal (as on Container
 * Instances), the archive in a bucket with a retention rule, and OCI Audit archived beside the identity domain.
 *
 * @module
 */

import { generateClientKey, generateEvents, startIdcsEmulator } from "../tests/emulators/idcs.ts";
import { generateAuditEvents, startOciEmulator } from "../tests/emulators/oci.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** The demo's own place, relative to the project (the "demo" permission set grants it and nothing else to write). */
const DEMO = "./demo";
/** The settings that keep the program's files under ./demo: its archive and its checkpoint key. */
const DEMO_FILES = { ARCHIVE_DIR: `${DEMO}/archive`, CHECKPOINT_KEY_FILE: `${DEMO}/keys/checkpoint.pem` };
const DEMO_PORT = 8642; // fixed, so the archive chain (named after the domain's host) is the same on every run
const DAY = 86_400_000;
const TENANCY = "ocid1.tenancy.oc1..aaaademotenancy";
const SECRET_ID = "ocid1.vaultsecret.oc1..aaaademoclientkey";

function heading(text: string) {
  console.log(`\n\x1b[1m── ${text}\x1b[0m`);
}

/** Runs the program under the demo's permission set, with the demo's settings only (none from the shell). */
async function program(args: string[], env: Record<string, string>) {
  const inherited = ["PATH", "HOME", "DENO_DIR"].flatMap((name) => {
    const value = Deno.env.get(name);
    return value === undefined ? [] : [[name, value]];
  });
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=demo", "--quiet", `${REPO}/main.ts`, ...args],
    cwd: REPO,
    env: { ...Object.fromEntries(inherited), ...DEMO_FILES, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(stdout).trim();
  if (text) console.log(text);
  return code;
}

/** once, status, verify for one configuration; the exit status of the worst. */
async function archiveAndProve(label: string, env: Record<string, string>) {
  heading(`${label}: deno run -q -P=demo main.ts once`);
  const once = await program(["once"], env);
  heading(`${label}: status`);
  await program(["status"], env);
  heading(`${label}: verify`);
  const verify = await program(["verify"], env);
  return once || verify;
}

/** What to run next on the demo's archive: the same settings and permission set the demo used. */
function printTryCommands(now: number) {
  const files =
    `--archive-dir ${DEMO_FILES.ARCHIVE_DIR} --checkpoint-key-file ${DEMO_FILES.CHECKPOINT_KEY_FILE}`;
  const [from, to] = [new Date(now - 4 * DAY), new Date(now)].map((d) => d.toISOString().slice(0, 10));
  console.log(`
The demo's archive is ${DEMO_FILES.ARCHIVE_DIR}, signed by ${DEMO_FILES.CHECKPOINT_KEY_FILE}: apart from
production's ./archive and ./keys. Look at it with the demo's permission set (it writes under ${DEMO} only):
  deno run -q -P=demo main.ts status ${files}
  deno run -q -P=demo main.ts verify ${files}
  deno run -q -P=demo main.ts export ${files} --from ${from}T00:00:00Z --to ${to}T23:59:59Z --out ${DEMO}/export-${now}.ndjson`);
}

if (import.meta.main) {
  const cloudMode = Deno.args.includes("cloud");
  const key = await generateClientKey();
  const now = Date.now();
  const events = generateEvents({
    seed: now % 100_000,
    count: 4_000,
    from: now - 3 * DAY,
    to: now - 60_000,
    tieRate: 0.2,
  });
  const idcs = await startIdcsEmulator({
    clientId: "demo-archiver",
    keyId: "demo-cert",
    publicKey: key.publicKey,
    events,
    port: DEMO_PORT,
    faults: { rate429: 0.02, shuffleTies: true },
  });
  const domain = {
    IDCS_URL: idcs.url,
    IDCS_CLIENT_ID: "demo-archiver",
    IDCS_KEY_ID: "demo-cert",
    SINCE: "4d",
    SETTLE: "30s",
    MAX_EVENTS_PER_OBJECT: "1000",
    LOG_FORMAT: "text",
  };
  let status = 0;
  try {
    heading(`emulated identity domain at ${idcs.url}: ${events.length} audit events over 3 days`);
    if (!cloudMode) {
      await Deno.mkdir(`${REPO}/${DEMO}/keys`, { recursive: true });
      await Deno.writeTextFile(`${REPO}/${DEMO}/keys/demo-client.pem`, key.pkcs8Pem, { mode: 0o600 });
      status = await archiveAndProve(`identity domain → ${DEMO_FILES.ARCHIVE_DIR}`, {
        ...domain,
        IDCS_PRIVATE_KEY_FILE: `${DEMO}/keys/demo-client.pem`,
      });
      printTryCommands(now);
    } else {
      const compartment = "ocid1.compartment.oc1..aaaademoprod";
      const auditEvents = generateAuditEvents({
        seed: 7,
        count: 2_000,
        from: now - 2 * DAY,
        to: now - 15 * 60_000,
        compartmentIds: [TENANCY, compartment],
      });
      const oci = await startOciEmulator({
        tenancy: TENANCY,
        buckets: [{
          name: "audit-archive",
          retentionRules: [{
            id: "worm",
            displayName: "keep 7 years",
            duration: { timeAmount: 7, timeUnit: "YEARS" },
          }],
        }],
        secrets: [{ id: SECRET_ID, content: key.pkcs8Pem }],
        compartments: [{ id: compartment, parentId: TENANCY, name: "prod" }],
        auditEvents,
      });
      try {
        const cloud = {
          ...oci.resourcePrincipalEnv(),
          OCI_AUTH: "auto",
          OCI_BUCKET: "audit-archive",
          OCI_OBJECT_STORAGE_ENDPOINT: oci.url,
          OCI_SECRETS_ENDPOINT: oci.url,
          OCI_AUDIT_ENDPOINT: oci.url,
          OCI_IDENTITY_ENDPOINT: oci.url,
        };
        heading(
          `emulated cloud at ${oci.url}: bucket with a 7-year retention rule, the key in a Vault secret, ${auditEvents.length} OCI Audit events`,
        );
        const fromDomain = await archiveAndProve("identity domain → bucket", {
          ...domain,
          ...cloud,
          IDCS_PRIVATE_KEY_SECRET_ID: SECRET_ID,
        });
        const fromAudit = await archiveAndProve("OCI Audit → bucket", {
          ...cloud,
          AUDIT_COMPARTMENT_ID: TENANCY,
          SINCE: "3d",
          LOG_FORMAT: "text",
        });
        status = fromDomain || fromAudit;
        heading("least-privilege IAM for this setup: deno run -q -P=demo main.ts policies");
        await program(["policies"], { ...domain, ...cloud, IDCS_PRIVATE_KEY_SECRET_ID: SECRET_ID });
      } finally {
        await oci.close();
      }
    }
    heading(status === 0 ? "the archive is complete and verified" : "something failed: see above");
    Deno.exitCode = status;
  } finally {
    await idcs.close();
  }
}
