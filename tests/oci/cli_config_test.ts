/**
 * The OCI CLI's own configuration, run the way a user runs it: `deno run` under the `default` permission set
 * (plus loopback) in a working folder, HOME pointing at a folder holding `.oci/config` — API keys, a profile
 * chosen by OCI_CLI_PROFILE, a file named by OCI_CLI_CONFIG_FILE with `~`, session tokens from
 * `oci session authenticate` — each signing real requests the emulated cloud verifies.
 */

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { freePort, permissionFlags, recentEvents, runCli, startDomain, waitFor } from "../harness.ts";
import type { OciEmulatorOptions } from "../emulators/oci.ts";
import { readBucketArchive, startCloud, TENANCY, USER } from "../oci_harness.ts";

/** A user's machine: HOME with `.oci/config` copied from the cloud's, the program's folder with ./keys. */
async function setup(options: Partial<OciEmulatorOptions> = {}) {
  const domain = await startDomain({ events: recentEvents(121, 30) });
  const cloud = await startCloud(domain.dir, options);
  const cwd = await Deno.makeTempDir({ prefix: "audit-archiver-cli-config-" });
  const home = `${cwd}/home`;
  await Deno.mkdir(`${home}/.oci/sessions/ARCHIVER`, { recursive: true });
  await Deno.mkdir(`${cwd}/keys`);
  await Deno.copyFile(domain.keyFile, `${cwd}/keys/client-key.pem`);
  const config = await Deno.readTextFile(cloud.env.OCI_CONFIG_FILE);
  const keyFile = /key_file=(.*)/.exec(config)![1];
  await Deno.copyFile(keyFile, `${home}/.oci/oci_api_key.pem`);
  await Deno.writeTextFile(
    `${home}/.oci/config`,
    config.replace(/key_file=.*/, `key_file=${home}/.oci/oci_api_key.pem`),
  );
  const { ARCHIVE_DIR: _, ...domainEnv } = domain.env;
  const env = {
    ...domainEnv,
    IDCS_PRIVATE_KEY_FILE: "./keys/client-key.pem",
    OCI_BUCKET: cloud.env.OCI_BUCKET,
    OCI_OBJECT_STORAGE_ENDPOINT: cloud.oci.url,
    OCI_AUTH: "config",
    HOME: home,
    // Deno's own cache is below the real HOME; only the program's HOME is the user's.
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    LOG_LEVEL: "debug",
  };
  return {
    cloud,
    cwd,
    home,
    env,
    close: async () => {
      await cloud.close();
      await domain.close();
      await Deno.remove(cwd, { recursive: true });
    },
  };
}

/** The `default` set plus loopback, with `extraRead` added to its read list as a set entry would. */
async function defaultSet(extraRead: string[] = []): Promise<string[]> {
  return (await permissionFlags("default", ["127.0.0.1"])).map((flag) =>
    flag.startsWith("--allow-read=") && extraRead.length ? `${flag},${extraRead.join(",")}` : flag
  );
}

/** Writes the profile `oci session authenticate --profile-name ARCHIVER` writes, with a token `ttlSeconds` long. */
async function writeSessionProfile(
  cloud: Awaited<ReturnType<typeof setup>>["cloud"],
  home: string,
  ttl = 3600,
) {
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const folder = `${home}/.oci/sessions/ARCHIVER`;
  const publicPem = pair.publicKey.export({ type: "spki", format: "pem" }) as string;
  await Deno.writeTextFile(
    `${folder}/oci_api_key.pem`,
    pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  );
  /** What `oci session refresh` does: a new token for the same session key, written over the old one. */
  const refresh = async (ttlSeconds: number) => {
    const token = cloud.oci.userSessionToken(USER, publicPem, { ttlSeconds });
    await Deno.writeTextFile(`${folder}/token`, token);
    return token;
  };
  await refresh(ttl);
  await Deno.writeTextFile(
    `${home}/.oci/config`,
    `\n[ARCHIVER]\nfingerprint=00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\nkey_file=~/.oci/sessions/ARCHIVER/oci_api_key.pem\ntenancy=${TENANCY}\nregion=us-ashburn-1\nsecurity_token_file=~/.oci/sessions/ARCHIVER/token\n`,
    { append: true },
  );
  return refresh;
}

Deno.test("~/.oci/config the permission set does not grant is refused naming the file and the command that grants its folder; nothing is written", async () => {
  const { cloud, cwd, home, env, close } = await setup();
  try {
    const result = await runCli(["once"], { env, cwd, permissionFlags: await defaultSet() });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, new RegExp(`${home}/\\.oci/config`));
    // The set's whole read list with the folder added: a bare --allow-read beside -P drops the set's list.
    assert.match(
      result.stderr,
      new RegExp(
        `--allow-read=\\./archive,\\./keys,/etc/audit-archiver,/var/oci/rp-identity,${home}/\\.oci `,
      ),
    );
    assert.equal(cloud.oci.objects(cloud.env.OCI_BUCKET).length, 0);
  } finally {
    await close();
  }
});

Deno.test("~/.oci/config and its DEFAULT profile, granted by a set entry, archive into the bucket", async () => {
  const { cloud, cwd, home, env, close } = await setup();
  try {
    const result = await runCli(["once"], { env, cwd, permissionFlags: await defaultSet([`${home}/.oci`]) });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await readBucketArchive(cloud.oci)).ids.length, 30);
    assert.equal(cloud.oci.stats.rejectedSignatures, 0);
  } finally {
    await close();
  }
});

Deno.test("OCI_CLI_CONFIG_FILE (with ~) and OCI_CLI_PROFILE choose the file and profile; OCI_CONFIG_FILE and OCI_PROFILE win over them", async () => {
  const { cloud, cwd, home, env, close } = await setup();
  try {
    const config = await Deno.readTextFile(`${home}/.oci/config`);
    await Deno.writeTextFile(
      `${home}/.oci/cli-config`,
      `[DEFAULT]\nuser=ocid1.user.oc1..nobody\n\n${config.replace("[DEFAULT]", "[ARCHIVER]")}`,
    );
    await Deno.remove(`${home}/.oci/config`);
    const flags = await defaultSet([`${home}/.oci`]);
    const cli = { OCI_CLI_CONFIG_FILE: "~/.oci/cli-config", OCI_CLI_PROFILE: "ARCHIVER" };
    const result = await runCli(["once"], { env: { ...env, ...cli }, cwd, permissionFlags: flags });
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await readBucketArchive(cloud.oci)).ids.length, 30);
    const ours = await runCli(["once"], {
      env: { ...env, ...cli, OCI_CONFIG_FILE: `${home}/.oci/missing`, OCI_PROFILE: "OTHER" },
      cwd,
      permissionFlags: flags,
    });
    assert.equal(ours.code, 2, ours.stderr);
    assert.match(ours.stderr, new RegExp(`${home}/\\.oci/missing`));
  } finally {
    await close();
  }
});

Deno.test("a session token profile (oci session authenticate) signs with ST$<token> and archives; the token never reaches the log", async () => {
  const keyIds = new Set<string>();
  const { cloud, cwd, home, env, close } = await setup({
    onRequest: (request) => void keyIds.add(request.keyId.slice(0, 3)),
  });
  try {
    await writeSessionProfile(cloud, home);
    const result = await runCli(["once"], {
      env: { ...env, OCI_CLI_PROFILE: "ARCHIVER" },
      cwd,
      permissionFlags: await defaultSet([`${home}/.oci`]),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual([...keyIds], ["ST$"]);
    assert.equal((await readBucketArchive(cloud.oci)).ids.length, 30);
    const token = await Deno.readTextFile(`${home}/.oci/sessions/ARCHIVER/token`);
    assert.ok(!result.stderr.includes(token.split(".")[2]));
  } finally {
    await close();
  }
});

Deno.test("an expired session token is refused before any request, saying to run oci session refresh or authenticate", async () => {
  const { cloud, cwd, home, env, close } = await setup();
  try {
    await writeSessionProfile(cloud, home, -60);
    const result = await runCli(["once"], {
      env: { ...env, OCI_CLI_PROFILE: "ARCHIVER" },
      cwd,
      permissionFlags: await defaultSet([`${home}/.oci`]),
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /session token .*expired/);
    assert.match(result.stderr, /oci session refresh --profile ARCHIVER/);
    assert.match(result.stderr, /oci session authenticate/);
    assert.equal(cloud.oci.objects(cloud.env.OCI_BUCKET).length, 0);
  } finally {
    await close();
  }
});

Deno.test("a key file outside the granted folders is refused naming it; a passphrase is never logged", async () => {
  const { cloud, cwd, home, env, close } = await setup();
  try {
    const { createPrivateKey } = await import("node:crypto");
    const outside = `${cwd}/elsewhere`;
    await Deno.mkdir(outside);
    const encrypted = createPrivateKey(await Deno.readTextFile(`${home}/.oci/oci_api_key.pem`))
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "correct horse" }) as string;
    await Deno.writeTextFile(`${outside}/key.pem`, encrypted);
    const config = await Deno.readTextFile(`${home}/.oci/config`);
    await Deno.writeTextFile(
      `${home}/.oci/config`,
      config.replace(/key_file=.*/, `key_file=${outside}/key.pem\npass_phrase=correct horse`),
    );
    const refused = await runCli(["once"], { env, cwd, permissionFlags: await defaultSet([`${home}/.oci`]) });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, new RegExp(`key_file ${outside}/key\\.pem`));
    // The command keeps ~/.oci, granted before, beside the set's list and the key's folder.
    assert.match(
      refused.stderr,
      new RegExp(
        `--allow-read=\\./archive,\\./keys,/etc/audit-archiver,/var/oci/rp-identity,${home}/\\.oci,${outside} `,
      ),
    );
    const granted = await runCli(["once"], {
      env,
      cwd,
      permissionFlags: await defaultSet([`${home}/.oci`, outside]),
    });
    assert.equal(granted.code, 0, granted.stderr);
    assert.equal((await readBucketArchive(cloud.oci)).ids.length, 30);
    assert.doesNotMatch(refused.stderr + granted.stderr, /correct horse/);
  } finally {
    await close();
  }
});

Deno.test("run keeps up with oci session refresh: an expired token fails a pass with the advice, the refreshed one is used without a restart", async () => {
  const keyIds: string[] = [];
  const { cloud, cwd, home, env, close } = await setup({
    onRequest: (request) => void keyIds.push(request.keyId),
  });
  const port = freePort();
  const trigger = "trigger-token-0123456789-0123456789";
  let child: Deno.ChildProcess | undefined;
  try {
    const refresh = await writeSessionProfile(cloud, home);
    const daemon = runCli(["run"], {
      env: {
        ...env,
        OCI_CLI_PROFILE: "ARCHIVER",
        PORT: String(port),
        TRIGGER_TOKEN: trigger,
        SCHEDULE: "0 0 1 1 *",
      },
      cwd,
      permissionFlags: (await defaultSet([`${home}/.oci`])).map((flag) =>
        flag.startsWith("--allow-net=") ? `${flag},0.0.0.0:${port}` : flag
      ),
      onSpawn: (spawned) => child = spawned,
    });
    const passes = (result: string) => async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const count = new RegExp(`audit_archiver_passes_total\\{[^}]*result="${result}"[^}]*\\} (\\d+)`).exec(
        text,
      );
      return count ? Number(count[1]) : undefined;
    };
    const triggerPass = async (result: string, count: number) => {
      const response = await fetch(`http://127.0.0.1:${port}/trigger`, {
        method: "POST",
        headers: { authorization: `Bearer ${trigger}` },
      });
      assert.equal(response.status, 202);
      await response.body?.cancel();
      await waitFor(
        `${count} ${result} passes`,
        async () => (await passes(result)()) === count ? true : undefined,
      );
    };
    await waitFor("the pass at start", async () => (await passes("ok")()) === 1 ? true : undefined);
    // The token file now holds one that expired a minute ago: time passing, without the test waiting for it
    // (a short-lived token could expire during the first pass on a busy machine).
    await refresh(-60);
    const signedBeforeExpiry = keyIds.length;
    await triggerPass("failed", 1);
    assert.equal(keyIds.length, signedBeforeExpiry, "no request is signed with an expired token");
    const refreshed = await refresh(3600);
    await triggerPass("ok", 2);
    assert.ok(keyIds.includes(`ST$${refreshed}`), "the refreshed token signs the next pass");
    child!.kill("SIGTERM");
    const result = await daemon;
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /session token of profile ARCHIVER expired .*oci session refresh --profile ARCHIVER/,
    );
    assert.equal(cloud.oci.stats.rejectedSignatures, 0);
    assert.ok(!result.stderr.includes(refreshed.split(".")[2]), "the token is not logged");
  } finally {
    try {
      child?.kill("SIGKILL");
    } catch {
      // already exited
    }
    await close();
  }
});
