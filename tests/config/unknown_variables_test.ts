/**
 * A misspelled variable with one of the settings' prefixes is named with the setting it resembles (exit 2,
 * nothing written), run the way a user runs the program; the OCI CLI's, the OCI SDK's and the platform's own
 * variables with those prefixes are left alone.
 */

import assert from "node:assert/strict";
import { listFiles, recentEvents, REPO, runCli, startDomain } from "../harness.ts";
import { SETTING_PREFIXES } from "../../src/config/validate.ts";

Deno.test("OCI_BUCKKET is refused naming OCI_BUCKET (exit 2) instead of archiving into ./archive", async () => {
  const domain = await startDomain({ events: recentEvents(61, 5) });
  const cwd = await Deno.makeTempDir();
  try {
    const { ARCHIVE_DIR: _, ...env } = domain.env;
    const result = await runCli(["once"], { env: { ...env, OCI_BUCKKET: "audit" }, cwd });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /OCI_BUCKKET is not a setting — did you mean OCI_BUCKET\?/);
    assert.deepEqual(await listFiles(cwd), [], "nothing may be written");
  } finally {
    await Deno.remove(cwd, { recursive: true });
    await domain.close();
  }
});

Deno.test("every misspelling is named at once, under the production permission set too", async () => {
  const result = await runCli(["policies"], {
    permissionSet: "default",
    env: {
      AUDIT_COMPARTMENT_ID: "ocid1.compartment.oc1..aaaa",
      ARCHIVE_DIRR: "/srv/archive",
      CHECKPOINT_KEYFILE: "./keys/k.pem",
      IDCS_CLIENTID: "client",
    },
  });
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /ARCHIVE_DIRR is not a setting — did you mean ARCHIVE_DIR\?/);
  assert.match(result.stderr, /CHECKPOINT_KEYFILE is not a setting — did you mean CHECKPOINT_KEY_FILE\?/);
  assert.match(result.stderr, /IDCS_CLIENTID is not a setting — did you mean IDCS_CLIENT_ID\?/);
  assert.match(result.stderr, /3 bad settings/);
});

Deno.test("the OCI CLI's, the OCI SDK's and the resource principal's variables are not refused", async () => {
  const result = await runCli(["policies"], {
    permissionSet: "default",
    env: {
      AUDIT_COMPARTMENT_ID: "ocid1.compartment.oc1..aaaa",
      OCI_CLI_PROFILE: "AUDIT",
      OCI_CLI_CONFIG_FILE: "/etc/audit-archiver/.oci/config",
      OCI_CLI_REGION: "eu-frankfurt-1",
      OCI_RESOURCE_PRINCIPAL_VERSION: "2.2",
      OCI_RESOURCE_PRINCIPAL_REGION: "eu-frankfurt-1",
      OCI_SDK_APPEND_USER_AGENT: "archiver",
      OCI_REGION_METADATA: "{}",
      OCI_DEFAULT_REALM: "oraclecloud.com",
    },
  });
  assert.equal(result.code, 0, result.stderr);
});

Deno.test("the settings' prefixes are the wildcards of every production permission set's env list", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
  for (const set of ["default", "local"]) {
    const wildcards = (config.permissions[set].env as string[]).filter((name) => name.endsWith("*"));
    assert.deepEqual(wildcards.map((name) => name.slice(0, -1)).sort(), [...SETTING_PREFIXES].sort(), set);
  }
});
