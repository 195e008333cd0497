/** `policies` prints only what the configuration uses, each grant narrowed to its one resource, per auth mode. */

import assert from "node:assert/strict";
import { validateConfig } from "../../src/config/validate.ts";
import { policyStatements } from "../../src/ops/policies.ts";

const NOW = Date.UTC(2026, 10, 27);
const DOMAIN = {
  IDCS_URL: "https://idcs-abc.identity.oraclecloud.com",
  IDCS_CLIENT_ID: "c",
  IDCS_KEY_ID: "k",
};

Deno.test("a bucket and a Vault secret get conditioned grants for each auth mode, and nothing more", () => {
  const text = policyStatements(
    validateConfig(
      { ...DOMAIN, IDCS_PRIVATE_KEY_SECRET_ID: "ocid1.vaultsecret.oc1..s1", OCI_BUCKET: "audit" },
      [],
      NOW,
    ),
  );
  const grants = text.split("\n").filter((line) => line.startsWith("Allow "));
  assert.equal(grants.length, 15, "5 grants for each of 3 auth modes");
  assert.equal(grants.filter((g) => g.startsWith("Allow dynamic-group audit-archiver ")).length, 10);
  assert.equal(grants.filter((g) => g.startsWith("Allow group audit-archiver ")).length, 5);
  assert.ok(grants.includes(
    "Allow group audit-archiver to manage objects in compartment <compartment> where all {target.bucket.name = 'audit', request.permission = 'OBJECT_CREATE'}",
  ));
  assert.ok(
    grants.some((g) =>
      g.endsWith(
        "read secret-bundles in compartment <compartment> where target.secret.id = 'ocid1.vaultsecret.oc1..s1'",
      )
    ),
  );
  for (const grant of grants) assert.match(grant, / where /, `every grant is conditioned: ${grant}`);
  assert.doesNotMatch(text, /OBJECT_DELETE|OBJECT_OVERWRITE|manage buckets|use keys/);
  assert.match(text, /resource\.type = 'computecontainerinstance'/);
  assert.match(text, /Audit Administrator/);
});

Deno.test("a KMS signing key gets `use keys` on that key only", () => {
  const text = policyStatements(
    validateConfig(
      {
        ...DOMAIN,
        IDCS_SIGNING_KEY_ID: "ocid1.key.oc1..k1",
        IDCS_SIGNING_KEY_ENDPOINT: "https://abc-crypto.kms.us-ashburn-1.oraclecloud.com",
      },
      [],
      NOW,
    ),
  );
  const grants = text.split("\n").filter((line) => line.startsWith("Allow "));
  assert.equal(grants.length, 3);
  assert.ok(
    grants.every((g) =>
      g.endsWith("use keys in compartment <compartment> where target.key.id = 'ocid1.key.oc1..k1'")
    ),
  );
});

Deno.test("a Vault key that signs the checkpoints gets `use keys` on that key only (which covers reading its public key)", () => {
  const vault = {
    CHECKPOINT_SIGNING_KEY_ID: "ocid1.key.oc1..cp",
    CHECKPOINT_SIGNING_KEY_ENDPOINT: "https://abc-crypto.kms.us-ashburn-1.oraclecloud.com",
    CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT: "https://abc-management.kms.us-ashburn-1.oraclecloud.com",
  };
  const grantsOf = (settings: Record<string, string>) =>
    policyStatements(validateConfig(settings, [], NOW)).split("\n").filter((line) =>
      line.startsWith("Allow ")
    );
  const alone = grantsOf({ ...DOMAIN, IDCS_PRIVATE_KEY_FILE: "./keys/k.pem", ...vault });
  assert.equal(alone.length, 3, "one grant for each of 3 auth modes");
  assert.ok(
    alone.every((g) =>
      g.endsWith("use keys in compartment <compartment> where target.key.id = 'ocid1.key.oc1..cp'")
    ),
  );
  const kms = { IDCS_SIGNING_KEY_ENDPOINT: "https://abc-crypto.kms.us-ashburn-1.oraclecloud.com" };
  const both = grantsOf({ ...DOMAIN, IDCS_SIGNING_KEY_ID: "ocid1.key.oc1..k1", ...kms, ...vault });
  assert.equal(both.length, 6, "the assertion's key and the checkpoints' key, each narrowed to itself");
  assert.equal(both.filter((g) => g.endsWith("target.key.id = 'ocid1.key.oc1..k1'")).length, 3);
  const shared = grantsOf({ ...DOMAIN, IDCS_SIGNING_KEY_ID: "ocid1.key.oc1..cp", ...kms, ...vault });
  assert.equal(shared.length, 3, "one key for both: one grant");
});

Deno.test("a local-only configuration needs no OCI grant", () => {
  const text = policyStatements(
    validateConfig({ ...DOMAIN, IDCS_PRIVATE_KEY_FILE: "./keys/k.pem" }, [], NOW),
  );
  assert.equal(text.split("\n").filter((line) => line.startsWith("Allow ")).length, 0);
  assert.match(text, /Nothing in OCI is used/);
});

Deno.test("policies: a checkpoint mirror bucket gets the same narrowed grants as the archive's bucket, nothing more", () => {
  const text = policyStatements(
    validateConfig(
      {
        SOURCE: "oci-audit",
        AUDIT_COMPARTMENT_ID: "ocid1.tenancy.oc1..aaaaexample",
        OCI_BUCKET: "audit-archive",
        CHECKPOINT_MIRROR: "oci://audit-evidence",
      },
      [],
      Date.now(),
    ),
  );
  assert.match(
    text,
    /manage objects in compartment <compartment> where all \{target\.bucket\.name = 'audit-evidence', request\.permission = 'OBJECT_CREATE'\}/,
  );
  assert.doesNotMatch(text, /OBJECT_DELETE|OBJECT_OVERWRITE|manage objects in compartment <compartment>\n/);
});
