/**
 * The emulated cloud for tests: an OCI emulator with a bucket, an API key in an OCI CLI config file, and
 * readers of what the program archived into the bucket (straight from the emulator's store).
 *
 * @module
 */

import { gunzip, parseManifest } from "../src/archive/format.ts";
import {
  generateApiKey,
  type OciEmulator,
  type OciEmulatorOptions,
  startOciEmulator,
} from "./emulators/oci.ts";
import { type ArchiveContents, type Domain, runCli, TEST_RETRY_WAIT } from "./harness.ts";

export const TENANCY = "ocid1.tenancy.oc1..aaaatesttenancy";
export const USER = "ocid1.user.oc1..aaaatestuser";
export const BUCKET = "audit-archive-test";

export interface Cloud {
  oci: OciEmulator;
  /** The signature keyId of the DEFAULT config's API key (what the emulator sees in `onRequest`). */
  keyId: string;
  /** Further users asked for with `extraUsers`: each its own API key and OCI config file. */
  users: Record<string, { keyId: string; configFile: string }>;
  /** Settings that point the program at the emulated cloud with API-key (config file) auth. */
  env: Record<string, string>;
  close(): Promise<void>;
}

const apiKeys = new Map<string, ReturnType<typeof generateApiKey>>();
/**
 * One API key per user per test process: generating an RSA key takes half a second of CPU, and each cloud is
 * its own emulator, so reusing a user's key across them proves nothing less (users still differ in keys).
 */
function apiKeyOf(user: string) {
  if (!apiKeys.has(user)) apiKeys.set(user, generateApiKey(TENANCY, user));
  return apiKeys.get(user)!;
}

/** Writes an API key and an OCI CLI config file naming it into `dir`; `suffix` tells several apart. */
async function writeApiKeyConfig(dir: string, user: string, suffix = "") {
  const key = await apiKeyOf(user);
  const keyFile = `${dir}/oci-api-key${suffix}.pem`;
  await Deno.writeTextFile(keyFile, key.privateKeyPem);
  const configFile = `${dir}/oci-config${suffix}`;
  await Deno.writeTextFile(
    configFile,
    `[DEFAULT]\nuser=${user}\nfingerprint=${key.fingerprint}\ntenancy=${TENANCY}\nregion=us-ashburn-1\nkey_file=${keyFile}\n`,
  );
  return { key, configFile };
}

/**
 * Starts the OCI emulator with one bucket and writes an OCI config file for an API key into `dir`;
 * `extraUsers` (user OCIDs) get an API key and a config file each, so the emulator can tell instances apart.
 */
export async function startCloud(
  dir: string,
  options: Partial<OciEmulatorOptions> & { extraUsers?: string[] } = {},
): Promise<Cloud> {
  const { extraUsers = [], ...emulatorOptions } = options;
  const { key, configFile } = await writeApiKeyConfig(dir, USER);
  const extra = await Promise.all(extraUsers.map((user, i) => writeApiKeyConfig(dir, user, `-${i + 2}`)));
  const oci = await startOciEmulator({
    tenancy: TENANCY,
    apiKeys: [key, ...extra.map((e) => e.key)].map((k) => ({ keyId: k.keyId, publicKey: k.publicKey })),
    buckets: [{ name: BUCKET }],
    ...emulatorOptions,
  });
  return {
    oci,
    keyId: key.keyId,
    users: Object.fromEntries(
      extraUsers.map((user, i) => [user, { keyId: extra[i].key.keyId, configFile: extra[i].configFile }]),
    ),
    env: {
      OCI_AUTH: "config",
      OCI_CONFIG_FILE: configFile,
      OCI_BUCKET: BUCKET,
      OCI_OBJECT_STORAGE_ENDPOINT: oci.url,
      OCI_SECRETS_ENDPOINT: oci.url,
    },
    close: () => oci.close(),
  };
}

/** Settings of an OCI Audit source over the whole tenancy of `cloud` (API-key auth), archived into `archiveDir`. */
export function auditSettings(cloud: Cloud, archiveDir: string, since = "3d"): Record<string, string> {
  return {
    AUDIT_COMPARTMENT_ID: TENANCY,
    OCI_AUTH: "config",
    OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
    OCI_AUDIT_ENDPOINT: cloud.oci.url,
    OCI_IDENTITY_ENDPOINT: cloud.oci.url,
    ARCHIVE_DIR: archiveDir,
    SINCE: since,
    SETTLE: "0s",
    MIN_INTERVAL: "0s",
    MAX_RETRY_WAIT: TEST_RETRY_WAIT,
    LOG_LEVEL: "error",
  };
}

/** The domain's settings with the archive in the cloud's bucket instead of a directory. */
export function cloudArgs(domain: Domain, cloud: Cloud): string[] {
  return [
    ...domain.args,
    ...Object.entries(cloud.env).flatMap((
      [name, value],
    ) => [`--${name.toLowerCase().replaceAll("_", "-")}`, value]),
  ];
}

/** Reads the archive from the bucket's store (not through the program's own readers). */
export async function readBucketArchive(oci: OciEmulator, bucket = BUCKET): Promise<ArchiveContents> {
  const contents: ArchiveContents = { ids: [], lines: [], objects: 0, objectOf: new Map() };
  for (const object of oci.objects(bucket)) {
    if (object.name.endsWith(".ndjson.gz")) {
      const lines = new TextDecoder().decode(await gunzip(object.bytes)).split("\n").filter(Boolean);
      for (const line of lines) {
        const event = JSON.parse(line);
        const id = event.id ?? event.eventId; // identity-domain events carry id, OCI Audit events eventId
        contents.ids.push(id);
        contents.lines.push(line);
        contents.objectOf.set(id, object.name);
      }
      contents.objects++;
    } else if (object.name.endsWith(".manifest.json")) {
      const end = Date.parse(parseManifest(object.bytes)!.end);
      if (contents.frontier === undefined || end > contents.frontier) contents.frontier = end;
    }
  }
  return contents;
}

/** The domain with its archive in the cloud's bucket: settings, readers and verify all switched over. */
export function withCloud(domain: Domain, cloud: Cloud): Domain {
  const env = { ...domain.env, ...cloud.env };
  const objects = () => cloud.oci.objects(BUCKET);
  return {
    ...domain,
    args: cloudArgs(domain, cloud),
    env,
    read: () => readBucketArchive(cloud.oci),
    verify: async () => {
      const result = await runCli(["verify"], { env: { ...env, LOG_LEVEL: "error" } });
      return JSON.parse(result.stdout).problems;
    },
    files: () => Promise.resolve(objects().map((o) => o.name)),
    text: async () => {
      const parts = await Promise.all(
        objects().map(async (o) =>
          new TextDecoder().decode(o.name.endsWith(".gz") ? await gunzip(o.bytes) : o.bytes)
        ),
      );
      return parts.join("\n");
    },
    close: async () => {
      await cloud.close();
      await domain.close();
    },
  };
}

/**
 * Writes a fresh resource-principal session token (RPST) and its session private key into files under `dir`,
 * as a service mounts them, and returns the resource-principal environment naming them by absolute path. The
 * SDK reads (and refreshes from) the files when a value is an absolute path, else takes it as the literal
 * token or key (oci-common lib/auth/resource-principal-authentication-details-provider.js `build_2_2`:
 * `path.isAbsolute(...)` → FileBasedKeySupplier / FileBasedResourcePrincipalFederationClient).
 */
export async function writeResourcePrincipalFiles(
  oci: OciEmulator,
  dir: string,
  options: { ttlSeconds?: number; rpstFile?: string; privatePemFile?: string } = {},
): Promise<Record<string, string>> {
  const env = oci.resourcePrincipalEnv({ ttlSeconds: options.ttlSeconds });
  const rpstFile = `${dir}/${options.rpstFile ?? "rpst"}`;
  const pemFile = `${dir}/${options.privatePemFile ?? "private.pem"}`;
  if (!rpstFile.startsWith("/") || !pemFile.startsWith("/")) {
    throw new TypeError(`resource principal files need absolute paths: ${rpstFile}, ${pemFile}`);
  }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(rpstFile, env.OCI_RESOURCE_PRINCIPAL_RPST);
  await Deno.writeTextFile(pemFile, env.OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM, { mode: 0o600 });
  return { ...env, OCI_RESOURCE_PRINCIPAL_RPST: rpstFile, OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM: pemFile };
}
