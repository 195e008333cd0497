/**
 * Which OCI SDK packages a configuration loads. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { validateConfig } from "../../src/config/validate.ts";
import { sdkPackages } from "../../src/pass/open.ts";
import { KEYED, NOW, WITH_SECRET } from "../config/fixtures.ts";

Deno.test("sdkPackages loads only the OCI SDK packages the configuration uses (issue 11, idle pass)", () => {
  const packages = (settings: Record<string, string>, withSources = true) =>
    sdkPackages(validateConfig(settings, [], NOW), withSources);
  const vault = "https://vault-crypto.kms.eu-frankfurt-1.oraclecloud.com";
  const tenancy = "ocid1.tenancy.oc1..aaaa";
  assert.deepEqual(packages(KEYED), []);
  assert.deepEqual(packages({ ...KEYED, OCI_BUCKET: "audit" }), ["objectstorage"]);
  assert.deepEqual(packages({ AUDIT_COMPARTMENT_ID: tenancy }), ["audit", "identity"]);
  assert.deepEqual(packages({ AUDIT_COMPARTMENT_ID: tenancy }, false), []);
  assert.deepEqual(
    packages({
      ...WITH_SECRET,
      OCI_LOG_ID: "ocid1.log.oc1..aaaa",
      CHECKPOINT_SIGNING_KEY_ID: "ocid1.key.oc1..k",
      CHECKPOINT_SIGNING_KEY_ENDPOINT: vault,
      CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT: vault.replace("crypto", "management"),
    }),
    ["loggingingestion", "keymanagement"],
  );
  assert.deepEqual(
    packages({ ...KEYED, IDCS_PRIVATE_KEY_FILE: "", IDCS_PRIVATE_KEY_SECRET_ID: "ocid1.vaultsecret.oc1..s" }),
    ["secrets"],
  );
});
