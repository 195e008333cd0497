/**
 * The program's advice when the permission set refuses a setting, taken literally. Each test runs the program
 * as a user does (`deno task -q once`, `deno run -P main.ts …`) from a copy of the app (main.ts, src/,
 * deno.json, deno.lock: the set's relative paths resolve against its folder), provokes a refusal against the
 * emulators, runs exactly what the message says to run, and sees that command succeed. A `--allow-…` flag
 * beside `-P` replaces the set's whole list for that permission (Deno 2.9): advice to "add --allow-read=X"
 * takes ./archive and ./keys away, so it is followed literally too (as flags added to the user's command) and
 * would fail here.
 */

import assert from "node:assert/strict";
import { denoDir, freePort, publicKeyOf, recentEvents, REPO, startDomain } from "./harness.ts";
import { type Cloud, startCloud, TENANCY, writeResourcePrincipalFiles } from "./oci_harness.ts";

/** A copy of what the image holds (no keys, no archive), in a fresh folder. */
async function appCopy(): Promise<string> {
  const app = await Deno.makeTempDir({ prefix: "audit-archiver-advice-" });
  for (const file of ["main.ts", "deno.json", "deno.lock"]) {
    await Deno.copyFile(`${REPO}/${file}`, `${app}/${file}`);
  }
  await copyTree(`${REPO}/src`, `${app}/src`);
  return app;
}

async function copyTree(from: string, to: string) {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

interface Run {
  code: number;
  stderr: string;
  /** The command line as the user typed it (words). */
  words: string[];
}

/** `deno …` in `cwd` with only the settings given (and what Deno needs to find its cache). */
function denoCommand(words: string[], cwd: string, env: Record<string, string>, stdout: "piped" | "null") {
  assert.equal(words[0], "deno", `not a deno command: ${words.join(" ")}`);
  return new Deno.Command(Deno.execPath(), {
    args: words.slice(1),
    cwd,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...denoDir(), ...env },
    clearEnv: true,
    stdout,
    stderr: "piped",
  });
}

/** Runs `deno …` in `cwd` with only the settings given. */
async function run(words: string[], cwd: string, env: Record<string, string>): Promise<Run> {
  const output = await denoCommand(words, cwd, env, "piped").output();
  return { code: output.code, stderr: new TextDecoder().decode(output.stderr), words };
}

/** The messages of the error log lines (JSON), else the stderr text itself. */
function errorMessages(stderr: string): string {
  return stderr.split("\n").map((line) => {
    try {
      const parsed = JSON.parse(line);
      return [parsed.msg, parsed.error].filter(Boolean).join("\n");
    } catch {
      return line;
    }
  }).join("\n");
}

/** A shell command line split into words (single quotes as POSIX shells read them). Pure. */
function shellWords(text: string): string[] {
  return [...text.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => m[1]?.replaceAll(`'\\''`, "'") ?? m[2]);
}

/**
 * What the refusal says to run, literally: the whole command it names; or, where it only names flags to add,
 * the user's command with those flags added before the script.
 */
function followAdvice(refused: Run): string[] {
  const text = errorMessages(refused.stderr);
  const command = /(?:^|\s)(deno run [^\n]*)$/m.exec(text)?.[1];
  if (command) return shellWords(command);
  const flags = [...text.matchAll(/--allow-[a-z]+=(\S+?)(?=:?(?:\s|$))/g)].map((m) => m[0]);
  assert.ok(flags.length, `the refusal gives no advice to follow:\n${text}`);
  // A task takes no flags: they go to the command it runs.
  const words = refused.words[1] === "task"
    ? ["deno", "run", "-P", "main.ts", refused.words.at(-1)!]
    : refused.words;
  const script = words.indexOf("main.ts");
  return [...words.slice(0, script), ...new Set(flags), ...words.slice(script)];
}

Deno.test("once under -P: every setting the set refuses is named, with one command that grants them all; run literally, it archives", async () => {
  const app = await appCopy();
  const domain = await startDomain({ events: recentEvents(811, 120) });
  try {
    for (const folder of ["secrets", "data", "mirror", "signing"]) await Deno.mkdir(`${app}/${folder}`);
    await Deno.copyFile(domain.keyFile, `${app}/secrets/client-key.pem`);
    const env = {
      ...domain.env,
      IDCS_PRIVATE_KEY_FILE: "./secrets/client-key.pem", // outside ./keys
      ARCHIVE_DIR: "./data", // outside ./archive
      CHECKPOINT_MIRROR: "./mirror",
      CHECKPOINT_KEY_FILE: "./signing/checkpoint.pem", // outside ./keys/checkpoint.pem
      LOG_FORMAT: "json",
    };
    const refused = await run(["deno", "task", "-q", "once"], app, env);
    assert.equal(refused.code, 2, refused.stderr);
    await assert.rejects(
      Deno.lstat(`${app}/data/audit-archive`),
      Deno.errors.NotFound,
      "written when refused",
    );

    const granted = await run(followAdvice(refused), app, env);
    assert.equal(granted.code, 0, `${granted.words.join(" ")}\n${granted.stderr}`);
    assert.ok((await Array.fromAsync(Deno.readDir(`${app}/data`))).length, "nothing archived in ./data");
    await Deno.stat(`${app}/signing/checkpoint.pem`);
    const host = new URL(domain.emulator.url).host;
    for (
      const problem of [
        `IDCS_URL's host ${host} is not one the permission set lets the program reach`,
        "ARCHIVE_DIR is outside what the permission set lets the program read and write",
        "CHECKPOINT_MIRROR is a folder the permission set does not let the program read and write",
        "IDCS_PRIVATE_KEY_FILE cannot be read (the Deno permission set does not allow reading it)",
        "CHECKPOINT_KEY_FILE is a file the permission set does not let the program create and read",
      ]
    ) assert.ok(refused.stderr.includes(problem), `no "${problem}" in:\n${refused.stderr}`);

    // The auditor's copy and their pinned public key, both outside what the set reads (the issue's case).
    await Deno.writeTextFile(`${app}/auditor.pem`, await publicKeyOf(`${app}/signing/checkpoint.pem`));
    const verifyEnv = { ARCHIVE_DIR: "./data", LOG_FORMAT: "json" };
    const verifyRefused = await run(
      ["deno", "run", "-P", "main.ts", "verify", "--public-key", "auditor.pem"],
      app,
      verifyEnv,
    );
    assert.equal(verifyRefused.code, 2, verifyRefused.stderr);
    assert.match(
      verifyRefused.stderr,
      /ARCHIVE_DIR is outside what the permission set lets the program read/,
    );
    assert.match(verifyRefused.stderr, /--public-key cannot be read \(the Deno permission set/);
    const verified = await run(followAdvice(verifyRefused), app, verifyEnv);
    assert.equal(verified.code, 0, `${verified.words.join(" ")}\n${verified.stderr}`);

    // export --out into a folder the set does not write, after the archive folder's grant: the command keeps it.
    await Deno.mkdir(`${app}/out`);
    const range = [
      "--from",
      new Date(Date.now() - 5 * 86_400_000).toISOString(),
      "--to",
      new Date().toISOString(),
    ];
    const exportRefused = await run(
      followAdvice(verifyRefused).slice(0, -3).concat(["export", ...range, "--out", "out/days.ndjson"]),
      app,
      verifyEnv,
    );
    assert.equal(exportRefused.code, 2, exportRefused.stderr);
    assert.match(
      exportRefused.stderr,
      /--out out\/days\.ndjson cannot be created: the permission set does not let/,
    );
    const exported = await run(followAdvice(exportRefused), app, verifyEnv);
    assert.equal(exported.code, 0, `${exported.words.join(" ")}\n${exported.stderr}`);
    assert.ok((await Deno.readTextFile(`${app}/out/days.ndjson`)).length > 0, "nothing exported");
  } finally {
    await domain.close();
    await Deno.remove(app, { recursive: true });
  }
});

Deno.test("run under -P with PORT other than 8080: the refusal's command listens there and serves /healthz", async () => {
  const app = await appCopy();
  const domain = await startDomain({ events: recentEvents(812, 40) });
  const port = freePort();
  try {
    await Deno.mkdir(`${app}/keys`);
    await Deno.copyFile(domain.keyFile, `${app}/keys/client-key.pem`);
    const { ARCHIVE_DIR: _, ...settings } = domain.env;
    const env = {
      ...settings,
      IDCS_PRIVATE_KEY_FILE: "./keys/client-key.pem",
      PORT: String(port),
      TRIGGER_TOKEN: "t".repeat(40),
      LOG_FORMAT: "json",
    };
    const refused = await run(["deno", "run", "-P", "main.ts", "run"], app, env);
    assert.equal(refused.code, 2, refused.stderr);
    const words = followAdvice(refused);
    const child = denoCommand(words, app, env, "null").spawn();
    const stderr = new Response(child.stderr).text();
    let healthy: number | undefined;
    for (let i = 0; i < 300 && healthy === undefined; i++) {
      healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      }, () => undefined);
      if (healthy === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (healthy !== undefined) child.kill("SIGTERM");
    const status = await child.status;
    assert.ok(healthy !== undefined, `never listened on ${port}: ${words.join(" ")}\n${await stderr}`);
    assert.equal(status.code, 0, await stderr);
    assert.match(
      refused.stderr,
      new RegExp(`LISTEN and PORT name an address .*: current value is \\\\"0\\.0\\.0\\.0:${port}`),
    );
  } finally {
    await domain.close();
    await Deno.remove(app, { recursive: true });
  }
});

/** OCI Audit of the emulated tenancy alone, a day back, authenticated by `auth`, logging JSON. */
function auditEnv(cloud: Cloud, auth: Record<string, string>): Record<string, string> {
  return {
    ...auth,
    AUDIT_COMPARTMENT_ID: TENANCY,
    AUDIT_SUBTREE: "false",
    OCI_AUDIT_ENDPOINT: cloud.oci.url,
    OCI_IDENTITY_ENDPOINT: cloud.oci.url,
    SINCE: "1d",
    SETTLE: "0s",
    LOG_FORMAT: "json",
  };
}

Deno.test("once and status under -P=local with resource-principal files outside its folders: the refusal's command reads them and succeeds", async () => {
  const app = await appCopy();
  const cloud = await startCloud(app);
  // Outside every folder the `local` set reads (it reads /tmp).
  const elsewhere = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "audit-archiver-rp-" });
  try {
    const principal = await writeResourcePrincipalFiles(cloud.oci, elsewhere);
    const env = auditEnv(cloud, { ...principal, OCI_AUTH: "resource_principal" });
    // once: found with the other settings; status (it reads OCI Audit's retention): when the session opens.
    for (const command of ["once", "status"]) {
      const refused = await run(["deno", "run", "-P=local", "main.ts", command], app, env);
      assert.equal(refused.code, 2, refused.stderr);
      assert.ok(
        refused.stderr.includes(elsewhere),
        `the refusal does not name ${elsewhere}: ${refused.stderr}`,
      );
      const granted = await run(followAdvice(refused), app, env);
      assert.equal(granted.code, 0, `${granted.words.join(" ")}\n${granted.stderr}`);
    }
    assert.equal(cloud.oci.stats.rejectedSignatures, 0);
  } finally {
    await cloud.close();
    await Deno.remove(elsewhere, { recursive: true });
    await Deno.remove(app, { recursive: true });
  }
});

Deno.test("once under -P=local with the OCI config's key_file outside its folders: the refusal's command reads it and archives", async () => {
  const app = await appCopy();
  const cloud = await startCloud(app);
  const elsewhere = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "audit-archiver-api-key-" });
  try {
    // The config file is readable (/tmp); the key it names is not.
    const configFile = `${app}/oci-config`;
    const config = await Deno.readTextFile(configFile);
    const keyFile = /^key_file=(.*)$/m.exec(config)![1];
    await Deno.rename(keyFile, `${elsewhere}/oci-api-key.pem`);
    await Deno.writeTextFile(configFile, config.replace(keyFile, `${elsewhere}/oci-api-key.pem`));
    const env = auditEnv(cloud, { OCI_AUTH: "config", OCI_CONFIG_FILE: configFile });
    const refused = await run(["deno", "run", "-P=local", "main.ts", "once"], app, env);
    assert.equal(refused.code, 2, refused.stderr);
    const granted = await run(followAdvice(refused), app, env);
    assert.equal(granted.code, 0, `${granted.words.join(" ")}\n${granted.stderr}`);
    assert.ok(refused.stderr.includes(`${elsewhere}/oci-api-key.pem`), refused.stderr);
  } finally {
    await cloud.close();
    await Deno.remove(elsewhere, { recursive: true });
    await Deno.remove(app, { recursive: true });
  }
});

Deno.test("the README's quick start on a workstation: deno task -q once with the OCI config in ~/.oci gets the command that reads it, and archives", async () => {
  const app = await appCopy();
  const home = await Deno.makeTempDir({ prefix: "audit-archiver-home-" });
  const cloud = await startCloud(home); // writes oci-config and its key into HOME
  try {
    // ~/.oci/config naming ~/.oci/oci_api_key.pem, as `oci setup config` writes them.
    await Deno.mkdir(`${home}/.oci`);
    const config = await Deno.readTextFile(`${home}/oci-config`);
    const keyFile = /^key_file=(.*)$/m.exec(config)![1];
    await Deno.rename(keyFile, `${home}/.oci/oci_api_key.pem`);
    await Deno.writeTextFile(`${home}/.oci/config`, config.replace(keyFile, "~/.oci/oci_api_key.pem"));
    // The shipped default set, plus the emulator's loopback address (the real endpoints are *.oraclecloud.com).
    const shipped = JSON.parse(await Deno.readTextFile(`${app}/deno.json`));
    shipped.permissions.default.net.push(new URL(cloud.oci.url).host);
    await Deno.writeTextFile(`${app}/deno.json`, JSON.stringify(shipped));
    const env = {
      HOME: home,
      AUDIT_COMPARTMENT_ID: TENANCY,
      AUDIT_SUBTREE: "false",
      OCI_AUDIT_ENDPOINT: cloud.oci.url,
      OCI_IDENTITY_ENDPOINT: cloud.oci.url,
      OCI_METADATA_ENDPOINT: "http://127.0.0.1:9", // no metadata service here: auto falls to the config file
      // Deno's cache stays where it is when HOME moves.
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
      SINCE: "1d",
      SETTLE: "0s",
      LOG_FORMAT: "json",
    };
    // The quick start's steps: without ./keys it is refused with `mkdir -p ./keys` to run.
    const noKeys = await run(["deno", "task", "-q", "once"], app, env);
    assert.equal(noKeys.code, 2, noKeys.stderr);
    assert.match(
      noKeys.stderr,
      /CHECKPOINT_KEY_FILE's folder \.\/keys does not exist: create it \(mkdir -p \.\/keys\)/,
    );
    await Deno.mkdir(`${app}/keys`);
    const refused = await run(["deno", "task", "-q", "once"], app, env);
    assert.equal(refused.code, 2, refused.stderr);
    const granted = await run(followAdvice(refused), app, env);
    assert.equal(granted.code, 0, `${granted.words.join(" ")}\n${granted.stderr}`);

    // Refusals one after another (the archive folder, found with the settings; ~/.oci, when the session
    // opens): each command keeps what the one before added, so following them in turn ends in a pass.
    await Deno.mkdir(`${app}/data`);
    const elsewhere = { ...env, ARCHIVE_DIR: "./data" };
    const first = await run(["deno", "task", "-q", "once"], app, elsewhere);
    assert.match(first.stderr, /ARCHIVE_DIR is outside/);
    const second = await run(followAdvice(first), app, elsewhere);
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, /does not allow reading the OCI config file \S+\/\.oci\/config/);
    const third = await run(followAdvice(second), app, elsewhere);
    assert.equal(third.code, 0, `${third.words.join(" ")}\n${third.stderr}`);
  } finally {
    await cloud.close();
    await Deno.remove(home, { recursive: true });
    await Deno.remove(app, { recursive: true });
  }
});
