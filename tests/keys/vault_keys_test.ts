/**
 * Keys that never touch disk: the client assertion signed with a key read from an OCI Vault secret (a whole PEM
 * or the blog's header-less body; PKCS#8 or PKCS#1), or signed by the Vault's HSM through KMS `sign` — through
 * the real SDK against the emulated cloud, with the identity domain verifying every assertion.
 */

import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { generateClientKey, startIdcsEmulator } from "../emulators/idcs.ts";
import {
  archiveText,
  assertNoSecrets,
  CLIENT_ID,
  KEY_ID,
  listFiles,
  readArchive,
  recentEvents,
  runCli,
  TEST_RETRY_WAIT,
} from "../harness.ts";
import { startCloud } from "../oci_harness.ts";

const SECRET_ID = "ocid1.vaultsecret.oc1..aaaaclientkey";
const KMS_KEY_ID = "ocid1.key.oc1..aaaasigningkey";

/** A domain whose registered key lives only in the cloud (no key file anywhere). */
async function keyInCloud(secretContent: (pem: { pkcs8: string; pkcs1: string }) => string | undefined) {
  const key = await generateClientKey();
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-vault-" });
  const idcs = await startIdcsEmulator({
    clientId: CLIENT_ID,
    keyId: KEY_ID,
    publicKey: key.publicKey,
    events: recentEvents(101, 200),
  });
  const content = secretContent({ pkcs8: key.pkcs8Pem, pkcs1: key.pkcs1Pem });
  const privateKey = await crypto.subtle.importKey(
    "pkcs8",
    createPrivateKey(key.pkcs8Pem).export({ type: "pkcs8", format: "der" }),
    { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const cloud = await startCloud(dir, {
    buckets: [],
    secrets: content ? [{ id: SECRET_ID, content }] : [],
    kmsKeys: [{ id: KMS_KEY_ID, privateKey }],
  });
  const env = {
    IDCS_URL: idcs.url,
    IDCS_CLIENT_ID: CLIENT_ID,
    IDCS_KEY_ID: KEY_ID,
    ARCHIVE_DIR: `${dir}/archive`,
    SINCE: "4d",
    SETTLE: "0s",
    MIN_INTERVAL: "0s",
    MAX_RETRY_WAIT: TEST_RETRY_WAIT,
    LOG_LEVEL: "debug",
    OCI_AUTH: "config",
    OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
    OCI_SECRETS_ENDPOINT: cloud.oci.url,
  };
  return {
    idcs,
    cloud,
    dir,
    env,
    pkcs8: key.pkcs8Pem,
    close: async () => {
      await cloud.close();
      await idcs.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const body = (pem: string) => pem.split("\n").filter((line) => line && !line.startsWith("-----")).join("\n");

for (
  const [what, content] of [
    ["a whole PKCS#8 PEM", (pem: { pkcs8: string }) => pem.pkcs8],
    ["a base64-encoded whole PEM", (pem: { pkcs8: string }) => btoa(pem.pkcs8)],
    ["a whole PKCS#1 PEM", (pem: { pkcs1: string }) => pem.pkcs1],
    ["the blog's header-less PKCS#8 body", (pem: { pkcs8: string }) => body(pem.pkcs8)],
    ["a header-less PKCS#1 body", (pem: { pkcs1: string }) => body(pem.pkcs1)],
  ] as const
) {
  Deno.test(`a key held in a Vault secret as ${what} signs the assertion and never reaches disk or logs`, async () => {
    const setup = await keyInCloud(content as (pem: { pkcs8: string; pkcs1: string }) => string);
    try {
      const result = await runCli(["once"], { env: { ...setup.env, IDCS_PRIVATE_KEY_SECRET_ID: SECRET_ID } });
      assert.equal(result.code, 0, result.stderr);
      assert.equal((await readArchive(setup.env.ARCHIVE_DIR)).ids.length, 200);
      assert.equal(setup.cloud.oci.stats.byOperation.GetSecretBundle, 1);
      assert.equal(setup.cloud.oci.stats.rejectedSignatures, 0);
      const tokens = setup.idcs.issuedTokens();
      assertNoSecrets(result.stderr + result.stdout, setup.pkcs8, tokens, "the logs");
      assertNoSecrets(await archiveText(setup.env.ARCHIVE_DIR), setup.pkcs8, tokens, "the archive");
      // Nothing but the archive and the OCI API key of the test's own config file is on disk.
      const files = (await listFiles(setup.dir)).filter((name) => !name.startsWith("archive/"));
      assert.deepEqual(files, ["oci-api-key.pem", "oci-config"]);
    } finally {
      await setup.close();
    }
  });
}

Deno.test("the Vault's HSM signs the assertion through KMS sign: no private key in the process", async () => {
  const setup = await keyInCloud(() => undefined);
  try {
    const result = await runCli(["once"], {
      env: { ...setup.env, IDCS_SIGNING_KEY_ID: KMS_KEY_ID, IDCS_SIGNING_KEY_ENDPOINT: setup.cloud.oci.url },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await readArchive(setup.env.ARCHIVE_DIR)).ids.length, 200);
    assert.equal(setup.cloud.oci.stats.byOperation.Sign, 1, "one assertion, one KMS sign");
    assert.equal(setup.idcs.stats.rejectedAssertions, 0);
  } finally {
    await setup.close();
  }
});

Deno.test("a missing Vault secret is a clear error before anything is written", async () => {
  const setup = await keyInCloud(() => undefined);
  try {
    const result = await runCli(["once"], { env: { ...setup.env, IDCS_PRIVATE_KEY_SECRET_ID: SECRET_ID } });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /Vault secret: HTTP 404.*not found, or not authorized: `policies` prints what to grant/,
    );
    assert.deepEqual(await listFiles(setup.env.ARCHIVE_DIR), []);
  } finally {
    await setup.close();
  }
});
