/**
 * OCI_AUTH: resource principal (Container Instances), instance principal (a VM, the compiled binary) and the
 * config file, each making signed requests the emulated cloud verifies; `auto` picks among them in docs/configuration.md's
 * order and logs which it chose and why.
 */

import assert from "node:assert/strict";
import { recentEvents, runCli, startDomain } from "../harness.ts";
import { readBucketArchive, startCloud } from "../oci_harness.ts";

async function setup() {
  const domain = await startDomain({ events: recentEvents(111, 120) });
  const cloud = await startCloud(domain.dir);
  const base = {
    ...domain.env,
    OCI_BUCKET: cloud.env.OCI_BUCKET,
    OCI_OBJECT_STORAGE_ENDPOINT: cloud.oci.url,
    LOG_LEVEL: "info",
  };
  return {
    domain,
    cloud,
    base,
    close: async () => {
      await cloud.close();
      await domain.close();
    },
  };
}

/** The log line in which the program says which OCI authentication it chose and why. */
function chosenAuth(stderr: string): { mode: string; why: string } {
  const line = stderr.split("\n").find((l) => l.includes("OCI authentication chosen"));
  assert.ok(line, `no auth log line in ${stderr}`);
  return JSON.parse(line);
}

Deno.test("resource principal (RPST 2.2 from the environment) archives into the bucket; auto chooses it", async () => {
  const { cloud, base, close } = await setup();
  try {
    for (const auth of ["resource_principal", "auto"]) {
      const result = await runCli(["once"], {
        env: { ...base, ...cloud.oci.resourcePrincipalEnv(), OCI_AUTH: auth },
      });
      assert.equal(result.code, 0, result.stderr);
      const chosen = chosenAuth(result.stderr);
      assert.equal(chosen.mode, "resource_principal");
      if (auth === "auto") assert.match(chosen.why, /OCI_RESOURCE_PRINCIPAL_VERSION is set/);
    }
    assert.equal((await readBucketArchive(cloud.oci)).ids.length, 120);
    assert.equal(cloud.oci.stats.rejectedSignatures, 0);
  } finally {
    await close();
  }
});

Deno.test("instance principal (metadata certificates, X.509 federation) archives into the bucket; auto chooses it", async () => {
  const { cloud, base, close } = await setup();
  try {
    const endpoints = {
      OCI_METADATA_ENDPOINT: cloud.oci.metadataBaseUrl.replace(/\/$/, ""),
      OCI_FEDERATION_ENDPOINT: cloud.oci.federationEndpoint,
    };
    for (const auth of ["instance_principal", "auto"]) {
      const result = await runCli(["once"], { env: { ...base, ...endpoints, OCI_AUTH: auth } });
      assert.equal(result.code, 0, result.stderr);
      const chosen = chosenAuth(result.stderr);
      assert.equal(chosen.mode, "instance_principal");
      if (auth === "auto") assert.match(chosen.why, /metadata service answered/);
    }
    assert.equal((await readBucketArchive(cloud.oci)).ids.length, 120);
    assert.equal(cloud.oci.stats.rejectedSignatures, 0);
  } finally {
    await close();
  }
});

Deno.test("auto falls back to the config file when neither principal is available", async () => {
  const { cloud, base, close } = await setup();
  try {
    const closedPort = "http://127.0.0.1:9";
    const result = await runCli(["once"], {
      env: {
        ...base,
        OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
        OCI_AUTH: "auto",
        OCI_METADATA_ENDPOINT: closedPort,
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(chosenAuth(result.stderr).mode, "config");
    assert.equal((await readBucketArchive(cloud.oci)).ids.length, 120);
  } finally {
    await close();
  }
});

Deno.test("a config file naming a key the cloud does not know is refused with a hint; nothing is written", async () => {
  const { cloud, base, domain, close } = await setup();
  try {
    const config = await Deno.readTextFile(cloud.env.OCI_CONFIG_FILE);
    await Deno.writeTextFile(
      cloud.env.OCI_CONFIG_FILE,
      config.replace(/fingerprint=.*/, "fingerprint=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"),
    );
    const result = await runCli(["once"], {
      env: { ...base, OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE, OCI_AUTH: "config" },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /OCI rejected the request signature/);
    assert.equal(cloud.oci.objects(cloud.env.OCI_BUCKET).length, 0);
    assert.ok(domain);
  } finally {
    await close();
  }
});

Deno.test("a config file profile whose key is passphrase-protected authenticates (OCI_PROFILE)", async () => {
  const { cloud, base, close } = await setup();
  try {
    const config = await Deno.readTextFile(cloud.env.OCI_CONFIG_FILE);
    const keyFile = /key_file=(.*)/.exec(config)![1];
    const { createPrivateKey } = await import("node:crypto");
    const encrypted = createPrivateKey(await Deno.readTextFile(keyFile))
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "correct horse" }) as string;
    await Deno.writeTextFile(`${keyFile}.enc`, encrypted);
    const profile = config.replace("[DEFAULT]", "[ARCHIVER]").replace(
      /key_file=.*/,
      `key_file=${keyFile}.enc\npass_phrase=correct horse`,
    );
    await Deno.writeTextFile(
      cloud.env.OCI_CONFIG_FILE,
      `[DEFAULT]\nuser=ocid1.user.oc1..nobody\n\n${profile}`,
    );
    const result = await runCli(["once"], {
      env: {
        ...base,
        OCI_CONFIG_FILE: cloud.env.OCI_CONFIG_FILE,
        OCI_AUTH: "config",
        OCI_PROFILE: "ARCHIVER",
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await readBucketArchive(cloud.oci)).ids.length, 120);
    assert.doesNotMatch(result.stderr, /correct horse/);
  } finally {
    await close();
  }
});
