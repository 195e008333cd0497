/**
 * Checkpoints signed by an OCI Vault key in the HSM (CHECKPOINT_SIGNING_KEY_ID): the program runs against the
 * emulated Vault over real HTTP with the real SDK, KMS `sign` makes every signature, the key's public key is
 * read from the vault and published beside the checkpoints, and `verify --public-key` proves them with the
 * auditor's own copy — also across a rotation from a key file to the Vault, and to a new key version.
 */

import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { generateEvents } from "../emulators/idcs.ts";
import { generateRsaKeyPair } from "../emulators/oci.ts";
import { listFiles, recentEvents, runCli, runMain, startDomain } from "../harness.ts";
import { startCloud } from "../oci_harness.ts";

const PREFIX = "audit-archive";
const VAULT_KEY_ID = "ocid1.key.oc1..aaaacheckpointkey";
const OTHER_VAULT_KEY_ID = "ocid1.key.oc1..aaaaotherkey";

const rsaKey = async () => (await generateRsaKeyPair()).privateKey;

/** A domain to archive, a Vault holding two RSA keys, and the settings that sign checkpoints with the first. */
async function vaultSigned(seed: number) {
  const domain = await startDomain({ events: recentEvents(seed, 120, 2, 120_000) });
  const cloud = await startCloud(domain.dir, {
    buckets: [],
    kmsKeys: [{ id: VAULT_KEY_ID, privateKey: await rsaKey() }, {
      id: OTHER_VAULT_KEY_ID,
      privateKey: await rsaKey(),
    }],
  });
  const vaultEnv = (keyId = VAULT_KEY_ID) => ({
    ...domain.env,
    OCI_AUTH: "config",
    OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
    CHECKPOINT_SIGNING_KEY_ID: keyId,
    CHECKPOINT_SIGNING_KEY_ENDPOINT: cloud.oci.url,
    CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT: cloud.oci.url,
  });
  // The working directory is the test's own: a key file created by mistake (./keys/checkpoint.pem) shows.
  const once = (env: Record<string, string>) => runCli(["once"], { env, cwd: domain.dir });
  const verify = async (...extra: string[]) => {
    const result = await runCli(["verify", ...extra], { env: { ARCHIVE_DIR: domain.archiveDir } });
    return {
      code: result.code,
      report: JSON.parse(result.stdout),
      problems: JSON.parse(result.stdout).problems,
    };
  };
  /** Writes a PEM the auditor was given into the test folder; returns its path. */
  const auditorFile = async (name: string, pem: string) => {
    await Deno.writeTextFile(`${domain.dir}/${name}`, pem);
    return `${domain.dir}/${name}`;
  };
  const addEvents = (seedOffset: number) => {
    const now = Date.now();
    domain.emulator.addEvents(
      generateEvents({ seed: seed * 10 + seedOffset, count: 20, from: now - 50_000, to: now - 30_000 }),
    );
  };
  return {
    domain,
    cloud,
    vaultEnv,
    once,
    verify,
    auditorFile,
    addEvents,
    close: async () => {
      await cloud.close();
      await domain.close();
    },
  };
}

const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(path));
const keyRecordsOf = (files: string[]) => files.filter((n) => n.startsWith(`${PREFIX}/_checkpoints/keys/`));
const checkpointsOf = (files: string[]) => files.filter((n) => n.endsWith(".checkpoint.json")).sort();

Deno.test("a pass signs its checkpoint through KMS sign, publishes the Vault key's public key, and verifies with it", async () => {
  const setup = await vaultSigned(401);
  try {
    const result = await setup.once(setup.vaultEnv());
    assert.equal(result.code, 0, result.stderr);
    const signatures = setup.cloud.oci.kmsSignatures();
    const windows = (await listFiles(setup.domain.archiveDir)).filter((n) => n.endsWith(".manifest.json"));
    assert.ok(windows.length >= 1);
    assert.deepEqual(
      signatures,
      Array(windows.length + 3).fill({
        keyId: VAULT_KEY_ID,
        keyVersionId: "ocid1.keyversion.oc1..aaaacheckpointkey.v1",
        messageType: "DIGEST",
      }),
      "each record the pass wrote (genesis, windows, key record, checkpoint) sealed in the HSM, by its digest, by the version whose public key was read",
    );
    assert.equal(setup.cloud.oci.stats.byOperation.GetKeyVersion, 1);
    assert.equal(setup.cloud.oci.stats.rejectedSignatures, 0);
    assert.equal(
      await Deno.stat(`${setup.domain.dir}/keys`).catch(() => undefined),
      undefined,
      "no key file",
    );

    const files = await listFiles(setup.domain.archiveDir);
    const records = keyRecordsOf(files);
    assert.equal(records.length, 1);
    const record = await readJson(`${setup.domain.archiveDir}/${records[0]}`);
    assert.equal(record.algorithm, "RSASSA-PKCS1-v1_5-SHA256");
    assert.equal(record.vaultKeyId, VAULT_KEY_ID);
    assert.equal(record.vaultKeyVersionId, "ocid1.keyversion.oc1..aaaacheckpointkey.v1");
    assert.ok(Date.parse(record.validFrom) <= Date.now());

    const vaultPem = await setup.auditorFile(
      "vault-public.pem",
      setup.cloud.oci.kmsPublicKeyPem(VAULT_KEY_ID),
    );
    const plain = await setup.verify();
    assert.deepEqual(plain.problems, []);
    assert.equal(plain.report.checkpoints, 1);
    const audited = await setup.verify("--public-key", vaultPem);
    assert.equal(audited.code, 0, audited.problems.join("\n"));
    const otherPem = await setup.auditorFile(
      "other.pem",
      setup.cloud.oci.kmsPublicKeyPem(OTHER_VAULT_KEY_ID),
    );
    const wrong = await setup.verify("--public-key", otherPem);
    assert.equal(wrong.code, 1, "another key proves nothing");
    assert.match(wrong.problems.join("\n"), /the signature does not verify \(no trusted key/);
  } finally {
    await setup.close();
  }
});

Deno.test("chains that only the archive names are not signed into checkpoints; every HSM signature is of a digest", async () => {
  const setup = await vaultSigned(405);
  try {
    assert.equal((await setup.once(setup.vaultEnv())).code, 0);
    // Forty more chains beside the real one (copies of it, by someone who can write the archive): the next
    // checkpoint records the configured chain only. KMS signs messages of up to 4096 bytes; every record is
    // signed by its SHA-256 digest, whatever its length.
    const sourceDir = `${setup.domain.archiveDir}/${PREFIX}/idcs`;
    const [chain] = [...Deno.readDirSync(sourceDir)].map((entry) => entry.name);
    for (let i = 1; i <= 40; i++) {
      const copy = await new Deno.Command("cp", {
        args: ["-r", `${sourceDir}/${chain}`, `${sourceDir}/${chain}-${i}`],
      })
        .output();
      assert.ok(copy.success);
    }
    assert.equal((await setup.once(setup.vaultEnv())).code, 0);
    const newest = checkpointsOf(await listFiles(setup.domain.archiveDir)).at(-1)!;
    const { chains } = await readJson(`${setup.domain.archiveDir}/${newest}`);
    assert.deepEqual(chains.map((c: { chain: string }) => c.chain), [`${PREFIX}/idcs/${chain}`]);
    assert.deepEqual(new Set(setup.cloud.oci.kmsSignatures().map((s) => s.messageType)), new Set(["DIGEST"]));
    const vaultPem = await setup.auditorFile(
      "vault-public.pem",
      setup.cloud.oci.kmsPublicKeyPem(VAULT_KEY_ID),
    );
    const { report, problems } = await setup.verify("--public-key", vaultPem);
    assert.equal(report.checkpoints, 2);
    assert.deepEqual(
      problems.filter((p: string) => p.includes("checkpoint.json")),
      [],
      "both signatures verify",
    );
  } finally {
    await setup.close();
  }
});

Deno.test("checkpoints re-signed with another Vault key, or altered, fail verify --public-key", async () => {
  const setup = await vaultSigned(402);
  try {
    assert.equal((await setup.once(setup.vaultEnv())).code, 0);
    const vaultPem = await setup.auditorFile(
      "vault-public.pem",
      setup.cloud.oci.kmsPublicKeyPem(VAULT_KEY_ID),
    );
    // Whoever can write the archive drops the checkpoints and key records and runs the program with a key of
    // theirs to re-sign: it refuses to build on windows that key never signed, and signs nothing.
    await Deno.remove(`${setup.domain.archiveDir}/${PREFIX}/_checkpoints`, { recursive: true });
    const refused = await setup.once(setup.vaultEnv(OTHER_VAULT_KEY_ID));
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is not vouched for by the archiver's key/);
    const resigned = await setup.verify("--public-key", vaultPem);
    assert.equal(resigned.code, 1);
    assert.match(resigned.problems.join("\n"), /no checkpoint found/);

    // A checkpoint of the trusted key whose recorded content is changed: its RSA signature no longer holds.
    assert.equal((await setup.once(setup.vaultEnv())).code, 0);
    const name = checkpointsOf(await listFiles(setup.domain.archiveDir))[0];
    const checkpoint = await readJson(`${setup.domain.archiveDir}/${name}`);
    checkpoint.chains[0].frontier = new Date(Date.parse(checkpoint.chains[0].frontier) + 60_000)
      .toISOString();
    await Deno.writeTextFile(`${setup.domain.archiveDir}/${name}`, JSON.stringify(checkpoint));
    const altered = await setup.verify("--public-key", vaultPem);
    assert.equal(altered.code, 1);
    assert.ok(
      altered.problems.includes(`${name}: the signature does not verify`),
      altered.problems.join("\n"),
    );
  } finally {
    await setup.close();
  }
});

Deno.test("rotating from a key file to the Vault, and to a new key version, keeps every checkpoint verifiable", async () => {
  const setup = await vaultSigned(403);
  try {
    const keyFile = `${setup.domain.dir}/checkpoint.pem`;
    assert.equal(await runMain("once", setup.domain, "--checkpoint-key-file", keyFile), 0);
    const filePem = await setup.auditorFile(
      "file-public.pem",
      createPublicKey(createPrivateKey(await Deno.readTextFile(keyFile))).export({
        type: "spki",
        format: "pem",
      })
        .toString(),
    );
    setup.addEvents(1);
    // The Vault key builds on what the key file signed only once that key is pinned (CHECKPOINT_PUBLIC_KEYS).
    const unpinned = await setup.once(setup.vaultEnv());
    assert.equal(unpinned.code, 1);
    assert.match(unpinned.stderr, /its key [0-9a-f]{16} is not one the archiver trusts/);
    const pinned = { ...setup.vaultEnv(), CHECKPOINT_PUBLIC_KEYS: filePem };
    assert.equal((await setup.once(pinned)).code, 0);
    const second = setup.cloud.oci.rotateKmsKey(VAULT_KEY_ID, await rsaKey());
    setup.addEvents(2);
    // A new version of the Vault key trusts the old one: the Vault serves its public key.
    assert.equal((await setup.once(pinned)).code, 0);
    assert.equal(setup.cloud.oci.kmsSignatures().at(-1)!.keyVersionId, second, "the new version signs");

    const files = await listFiles(setup.domain.archiveDir);
    assert.equal(checkpointsOf(files).length, 3);
    assert.equal(keyRecordsOf(files).length, 3, "each key published once: the file's, and two versions");
    const plain = await setup.verify();
    assert.deepEqual(plain.problems, [], "the published keys prove every checkpoint");

    const firstPem = await setup.auditorFile(
      "vault-v1.pem",
      setup.cloud.oci.kmsPublicKeyPem(VAULT_KEY_ID, "ocid1.keyversion.oc1..aaaacheckpointkey.v1"),
    );
    const secondPem = await setup.auditorFile("vault-v2.pem", setup.cloud.oci.kmsPublicKeyPem(VAULT_KEY_ID));
    const all = await setup.verify(
      "--public-key",
      filePem,
      "--public-key",
      firstPem,
      "--public-key",
      secondPem,
    );
    assert.equal(all.code, 0, all.problems.join("\n"));
    // One file may hold several keys, too.
    const bundle = await setup.auditorFile(
      "bundle.pem",
      [filePem, firstPem, secondPem].map((path) => Deno.readTextFileSync(path)).join(""),
    );
    assert.equal((await setup.verify("--public-key", bundle)).code, 0);

    const newestOnly = await setup.verify("--public-key", secondPem);
    assert.equal(newestOnly.code, 1);
    const unproven = newestOnly.problems.filter((p: string) => /no trusted key/.test(p));
    assert.equal(unproven.length, 2, "checkpoints 1 and 2 need the keys that signed them");
  } finally {
    await setup.close();
  }
});

for (
  const [what, settings, message] of [
    [
      "the key without its endpoints",
      { CHECKPOINT_SIGNING_KEY_ID: VAULT_KEY_ID },
      /CHECKPOINT_SIGNING_KEY_ID, CHECKPOINT_SIGNING_KEY_ENDPOINT and CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT go together: set all or none \(CHECKPOINT_SIGNING_KEY_ENDPOINT and CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT are not set\)/,
    ],
    [
      "the endpoints without the key",
      {
        CHECKPOINT_SIGNING_KEY_ENDPOINT: "https://abc-crypto.kms.us-ashburn-1.oraclecloud.com",
        CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT: "https://abc-management.kms.us-ashburn-1.oraclecloud.com",
      },
      /go together: set all or none \(CHECKPOINT_SIGNING_KEY_ID is not set\)/,
    ],
    [
      "a plain-http endpoint that is not loopback",
      {
        CHECKPOINT_SIGNING_KEY_ID: VAULT_KEY_ID,
        CHECKPOINT_SIGNING_KEY_ENDPOINT: "http://abc-crypto.kms.us-ashburn-1.oraclecloud.com",
        CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT: "https://abc-management.kms.us-ashburn-1.oraclecloud.com",
      },
      /CHECKPOINT_SIGNING_KEY_ENDPOINT must be an https URL \(plain http is allowed only for loopback hosts\): current value is \\"http:\/\/abc-crypto/,
    ],
    [
      "a key file named too",
      {
        CHECKPOINT_KEY_FILE: "./keys/checkpoint.pem",
        CHECKPOINT_SIGNING_KEY_ID: VAULT_KEY_ID,
        CHECKPOINT_SIGNING_KEY_ENDPOINT: "https://abc-crypto.kms.us-ashburn-1.oraclecloud.com",
        CHECKPOINT_SIGNING_KEY_MANAGEMENT_ENDPOINT: "https://abc-management.kms.us-ashburn-1.oraclecloud.com",
      },
      /CHECKPOINT_KEY_FILE and CHECKPOINT_SIGNING_KEY_ID are both set: keep one/,
    ],
  ] as const
) {
  Deno.test(`checkpoint Vault key settings: ${what} exits 2 with what to fix, and writes nothing`, async () => {
    const setup = await vaultSigned(404);
    try {
      const result = await setup.once({ ...setup.domain.env, OCI_AUTH: "config", ...settings });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /"1 bad setting:/, "one problem, said once");
      assert.deepEqual(await listFiles(setup.domain.archiveDir), [], "nothing archived");
      assert.equal(
        await Deno.stat(`${setup.domain.dir}/keys`).catch(() => undefined),
        undefined,
        "no key file",
      );
      assert.equal(setup.cloud.oci.stats.requests, 0, "no request to the Vault");
    } finally {
      await setup.close();
    }
  });
}
