/**
 * `deno task demo`: the whole flow on a machine with no Oracle account. Starts an emulated identity domain
 * holding three days of realistic audit events, writes its client key to ./keys, then runs the real program
 * (`deno run -P=local main.ts …`, the production permission set plus loopback) to archive them into ./archive,
 * and prints `status` and `verify`. Run it again later: it resumes from the archive's frontier.
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
const DEMO_PORT = 8642; // fixed, so the archive chain (named after the domain's host) is the same on every run
const DAY = 86_400_000;
const TENANCY = "ocid1.tenancy.oc1..aaaademotenancy";
const SECRET_ID = "ocid1.vaultsecret.oc1..aaaademoclientkey";

function heading(text: string) {
  console.log(`\n\x1b[1m── ${text}\x1b[0m`);
}

async function program(args: string[], env: Record<string, string>) {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=local", "--quiet", `${REPO}/main.ts`, ...args],
    cwd: REPO,
    env,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(stdout).trim();
  if (text) console.log(text);
  return code;
}

/** once, status, verify for one configuration; the exit status of the worst. */
async function archiveAndProve(label: string, env: Record<string, string>) {
  heading(`${label}: deno run -P=local main.ts once`);
  const once = await program(["once"], env);
  heading(`${label}: status`);
  await program(["status"], env);
  heading(`${label}: verify`);
  const verify = await program(["verify"], env);
  return once || verify;
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
      await Deno.mkdir(`${REPO}/keys`, { recursive: true });
      await Deno.writeTextFile(`${REPO}/keys/demo-client.pem`, key.pkcs8Pem, { mode: 0o600 });
      status = await archiveAndProve("identity domain → ./archive", {
        ...domain,
        IDCS_PRIVATE_KEY_FILE: "./keys/demo-client.pem",
        ARCHIVE_DIR: "./archive",
      });
      console.log(
        "\nTry: deno run -P=local main.ts export --from 2026-01-01T00:00:00Z --to 2030-01-01T00:00:00Z",
      );
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
        heading("least-privilege IAM for this setup: deno run -P=local main.ts policies");
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
