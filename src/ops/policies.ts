/**
 * `policies`: the least-privilege IAM statements for the configuration.
 *
 * @module
 */

import type { Config, OciAuthMode } from "../config/validate.ts";
import { MIRROR_BUCKET } from "../pass/open.ts";

/** Who the policies name, for each way the program authenticates to OCI. */
const POLICY_SUBJECTS: Record<OciAuthMode, { subject: string; setup: string }> = {
  instance_principal: {
    subject: "dynamic-group audit-archiver",
    setup:
      "dynamic group audit-archiver (the VM running the compiled binary), matching rule:\n  ALL {instance.id = '<instance OCID>'}",
  },
  resource_principal: {
    subject: "dynamic-group audit-archiver",
    setup:
      "dynamic group audit-archiver (OCI Container Instances), matching rule:\n  ALL {resource.type = 'computecontainerinstance', resource.compartment.id = '<compartment OCID>'}",
  },
  config: {
    subject: "group audit-archiver",
    setup: "group audit-archiver, holding the API-key user of OCI_CONFIG_FILE (no console password)",
  },
};

/**
 * The least-privilege IAM statements for this configuration, for each auth mode: only what the configured
 * bucket, secrets and keys need, each narrowed by a condition to that one resource. Pure.
 */
export function policyStatements(config: Config): string {
  const grants = policyGrants(config);
  const lines = [
    "# audit-archiver: least-privilege IAM for this configuration. Replace <compartment> with the compartment",
    "# of each resource. No statement grants overwrite or delete: the archive is written once.",
    "#",
    "# In each identity domain archived: give the confidential application the Audit Administrator app role.",
  ];
  if (!grants.length) {
    lines.push(
      "#",
      "# Nothing in OCI is used by this configuration (local directory, key file or client secret).",
    );
    return lines.join("\n") + "\n";
  }
  // GetConfiguration (the tenancy's Audit retention, for `status`) is listed by Oracle under the permission
  // AUDIT_CONFIGURATION, with no verb that grants only reading it: optional, so no write is granted by default.
  const optional = config.sources.some((s) => s.source === "oci-audit")
    ? "{AUDIT_CONFIGURATION} in tenancy"
    : "";
  for (const mode of ["instance_principal", "resource_principal", "config"] as const) {
    const { subject, setup } = POLICY_SUBJECTS[mode];
    lines.push("", `# OCI_AUTH=${mode}: ${setup.replaceAll("\n", "\n#")}`);
    lines.push(...grants.map((grant) => `Allow ${subject} to ${grant}`));
    if (optional) {
      lines.push(
        "# Optional: lets `status` read the tenancy's Audit retention (else 90 days is assumed); the permission",
        "# may also allow changing it:",
        `# Allow ${subject} to ${optional}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** What the configured bucket, secrets, keys, sources and log need, each narrowed to that one resource. */
function policyGrants(config: Config): string[] {
  const grants: string[] = [];
  const mirror = config.checkpointMirror?.startsWith(MIRROR_BUCKET)
    ? config.checkpointMirror.slice(MIRROR_BUCKET.length)
    : undefined;
  for (const bucket of [config.oci.bucket, mirror].filter((b) => b !== undefined)) {
    const inBucket = `target.bucket.name = '${bucket}'`;
    grants.push(
      `read buckets in compartment <compartment> where ${inBucket}`, // retention rules (BUCKET_READ)
      `inspect objects in compartment <compartment> where ${inBucket}`, // listing (OBJECT_INSPECT)
      `read objects in compartment <compartment> where ${inBucket}`, // manifests, verify, export (OBJECT_READ)
      `manage objects in compartment <compartment> where all {${inBucket}, request.permission = 'OBJECT_CREATE'}`,
    );
  }
  for (const source of config.sources) {
    if (source.keySecretId) {
      grants.push(
        `read secret-bundles in compartment <compartment> where target.secret.id = '${source.keySecretId}'`,
      );
    }
    if (source.signingKeyId) grants.push(useKeyGrant(source.signingKeyId));
    if (source.source === "oci-audit") {
      const where = source.compartmentId!.startsWith("ocid1.tenancy.")
        ? "tenancy"
        : `compartment id ${source.compartmentId}`;
      grants.push(`read audit-events in ${where}`);
      if (source.subtree) grants.push(`inspect compartments in ${where}`);
    }
  }
  if (config.checkpointSigningKey) grants.push(useKeyGrant(config.checkpointSigningKey.keyId));
  if (config.oci.logId) {
    // Logging's PutLogs is authorized by `use log-content`; the log's compartment is the narrowing available.
    grants.push("use log-content in compartment <compartment of the log>");
  }
  // One key may sign both the assertion and the checkpoints: one grant.
  return [...new Set(grants)];
}

/**
 * A Vault key's grant, narrowed to that key: `use keys` allows Sign, and "the use verb for the keys
 * resource-type includes the same permissions and API operations as the read verb" (GetKey, GetKeyVersion:
 * the public key), https://docs.oracle.com/en-us/iaas/Content/Identity/Reference/keypolicyreference.htm.
 */
const useKeyGrant = (keyId: string) =>
  `use keys in compartment <compartment> where target.key.id = '${keyId}'`;
