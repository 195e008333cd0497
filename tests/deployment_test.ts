/**
 * The deployments as shipped: the Dockerfile and .dockerignore (as text: no Docker engine here), the systemd
 * units of docs/deployment.md, and the program under the exact permission flags of the `default` set (what the image's
 * `-P` and the compiled binary carry) plus only the loopback grant the emulators need — what it can do (archive
 * from an identity domain, serve /healthz to the image's HEALTHCHECK) and what the set refuses (a non-Oracle
 * host, a write outside ./archive, an unlisted environment variable). That the set cannot reach a loopback
 * service through 0.0.0.0 is pinned in archive/commit_path_holes_test.ts ("the default permission set cannot reach a
 * loopback service through 0.0.0.0 …"), not repeated here.
 */

import assert from "node:assert/strict";
import { generateClientKey } from "./emulators/idcs.ts";
import {
  type Domain,
  listFiles,
  permissionFlags,
  readArchive,
  recentEvents,
  REPO,
  runCli,
  startDomain,
  verifyDir,
} from "./harness.ts";

const dockerfile = await Deno.readTextFile(`${REPO}/Dockerfile`);
const deployment = await Deno.readTextFile(`${REPO}/docs/deployment.md`);
const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));

/** The Dockerfile's instructions, continuation lines joined, comments dropped: [keyword, rest]. */
function instructions(text: string): [string, string][] {
  return text.replace(/\\\n/g, " ").split("\n").map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return [keyword.toUpperCase(), rest.join(" ")];
    });
}

const steps = instructions(dockerfile);
const all = (keyword: string) => steps.filter(([k]) => k === keyword).map(([, rest]) => rest);
/** An exec-form (JSON array) argument list; the shell form is refused: it needs a shell and splits quietly. */
function execForm(keyword: string, rest: string): string[] {
  assert.match(rest, /^\[/, `${keyword} is not in exec form (a JSON array): ${rest}`);
  return JSON.parse(rest);
}

/** The block of docs/deployment.md between `<!-- name -->` and `<!-- /name -->`, inside its code fence. */
function deploymentBlock(name: string): string {
  const parts = deployment.split(`<!-- ${name} -->`);
  assert.equal(parts.length, 2, `docs/deployment.md has no single <!-- ${name} --> block`);
  const block = parts[1].split(`<!-- /${name} -->`)[0];
  return block.split(/```\w*\n/)[1].split("```")[0];
}

/** `Key=value` lines of a systemd unit (the last wins, as systemd reads most settings). */
function unitSettings(text: string): Map<string, string> {
  const settings = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (match) settings.set(match[1], match[2]);
  }
  return settings;
}

/** A systemd time span in seconds: `30`, `30s`, `1min 30s`, `2m`. */
function seconds(span: string): number {
  const units: Record<string, number> = { "": 1, s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  let total = 0;
  for (const [, n, unit] of span.matchAll(/(\d+)\s*([a-z]*)/g)) {
    assert.ok(unit in units, `unknown unit in ${span}`);
    total += Number(n) * units[unit];
  }
  return total;
}

Deno.test("the Dockerfile pins the Deno CI installs, caches dependencies at build, runs as a non-root user with -P and --cached-only", async () => {
  const ci = await Deno.readTextFile(`${REPO}/.ci/run`);
  const ciVersion = /npm install -g deno@(\d+\.\d+\.\d+)/.exec(ci)?.[1];
  assert.ok(ciVersion, ".ci/run installs no pinned Deno");
  const from = all("FROM");
  assert.equal(from.length, 1, `one stage expected: ${from.join("; ")}`);
  assert.match(
    from[0],
    new RegExp(`^denoland/deno:${ciVersion.replaceAll(".", "\\.")}(@sha256:[0-9a-f]{64})?$`),
  );

  assert.ok(
    all("RUN").some((run) => /\bdeno install --frozen --entrypoint main\.ts\b/.test(run)),
    "dependencies are not cached at build with deno install --frozen --entrypoint main.ts",
  );
  // The user in force when the container starts: the last USER, before the ENTRYPOINT.
  const users = steps.map(([k, rest], i) => [k, rest, i] as const).filter(([k]) => k === "USER");
  assert.ok(users.length, "no USER: the container runs as root");
  const [, user, at] = users.at(-1)!;
  assert.ok(!/^(root|0)(:|$)/.test(user), `the container runs as ${user}`);
  assert.ok(at < steps.findIndex(([k]) => k === "ENTRYPOINT"), "USER comes after the ENTRYPOINT");

  const entrypoint = execForm("ENTRYPOINT", all("ENTRYPOINT").at(-1)!);
  assert.deepEqual(entrypoint.slice(0, 2), ["deno", "run"]);
  assert.ok(entrypoint.includes("-P"), `ENTRYPOINT does not use the default set (-P): ${entrypoint}`);
  assert.ok(entrypoint.includes("--cached-only"), `ENTRYPOINT may fetch at run time: ${entrypoint}`);
  const broad = entrypoint.filter((a) => /^(-A|--allow-|-P=|--permission-set)/.test(a));
  assert.deepEqual(broad, [], "ENTRYPOINT grants more than the default set");
  assert.equal(entrypoint.at(-1), "main.ts", "ENTRYPOINT runs main.ts, with the command from CMD");
  assert.deepEqual(execForm("CMD", all("CMD").at(-1)!), ["run"]);
  assert.ok(all("EXPOSE").some((e) => e.split(/\s+/).includes("8080")), "no EXPOSE 8080");
});

Deno.test("no key and no archive goes into the image: no COPY or ADD of them, .dockerignore excludes keys/ and archive/", async () => {
  for (const [keyword, rest] of steps.filter(([k]) => k === "COPY" || k === "ADD")) {
    const args = rest.startsWith("[") ? JSON.parse(rest) as string[] : rest.split(/\s+/);
    const sources = args.filter((a) => !a.startsWith("--")).slice(0, -1);
    for (const source of sources) {
      assert.ok(
        !/(^|\/)(keys|archive)(\/|$)|\.pem$|^\.\/?$|^\*$/.test(source),
        `${keyword} ${rest} puts ${source} into a layer`,
      );
    }
  }
  const ignored = (await Deno.readTextFile(`${REPO}/.dockerignore`)).split("\n").map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#")).map((l) => l.replace(/^\//, "").replace(/\/$/, ""));
  for (const folder of ["keys", "archive", ".git", "tests"]) {
    assert.ok(ignored.includes(folder), `.dockerignore does not exclude ${folder}/`);
  }
});

Deno.test("the archive and the keys folder are volumes: the checkpoint key outlives the container, as the archive does", () => {
  const volumes = all("VOLUME").flatMap((rest) =>
    rest.startsWith("[") ? JSON.parse(rest) : rest.split(/\s+/)
  );
  for (const folder of ["/app/archive", "/app/keys"]) {
    assert.ok(volumes.includes(folder), `${folder} is not a VOLUME: ${JSON.stringify(volumes)}`);
  }
  // Made and owned by the user that runs the program before VOLUME, so the volume starts writable to it.
  const made = steps.findIndex(([k, rest]) =>
    k === "RUN" && /mkdir .*\/app\/keys/.test(rest) && /chown/.test(rest)
  );
  const volume = steps.findIndex(([k, rest]) => k === "VOLUME" && rest.includes("/app/keys"));
  assert.ok(made >= 0 && made < volume, "/app/keys is made and chowned before its VOLUME");
});

/** The HEALTHCHECK's command (exec form). */
function healthcheck(): string[] {
  const healthchecks = all("HEALTHCHECK");
  assert.equal(healthchecks.length, 1, "no HEALTHCHECK (or several)");
  const command = /\bCMD\s+(\[.*\])\s*$/.exec(healthchecks[0])?.[1];
  assert.ok(command, `HEALTHCHECK has no exec-form CMD: ${healthchecks[0]}`);
  return JSON.parse(command);
}

Deno.test("the HEALTHCHECK is Deno with only a loopback grant to port 8080, fetching /healthz", () => {
  const command = healthcheck();
  // `deno eval` ignores permission flags: it always runs with every permission. So the probe must be `deno run`.
  assert.deepEqual(command.slice(0, 2), ["deno", "run"], `not deno run: ${command}`);
  const grants = command.filter((a) => /^(-A$|-P|--allow-|--permission-set)/.test(a));
  assert.deepEqual(
    grants,
    ["--allow-net=127.0.0.1:8080"],
    "the health probe is granted more than loopback:8080",
  );
  assert.ok(command.includes("--no-config"), "the probe would pick up deno.json (and its permission sets)");
  assert.match(command.at(-1)!, /http:\/\/127\.0\.0\.1:8080\/healthz/);
});

/** A working folder laid out as the deployments' (./keys with the client key, ./archive written by the program). */
async function workdir(domain: Domain): Promise<{ cwd: string; env: Record<string, string> }> {
  const cwd = await Deno.makeTempDir({ prefix: "audit-archiver-deploy-" });
  await Deno.mkdir(`${cwd}/keys`);
  await Deno.copyFile(domain.keyFile, `${cwd}/keys/client-key.pem`);
  const { ARCHIVE_DIR: _, ...env } = domain.env;
  return { cwd, env: { ...env, IDCS_PRIVATE_KEY_FILE: "./keys/client-key.pem" } };
}

Deno.test("under the default set (plus loopback) the program archives an identity domain end to end: key in ./keys, archive in ./archive", async () => {
  const domain = await startDomain({ events: recentEvents(701, 400) });
  const { cwd, env } = await workdir(domain);
  try {
    const result = await runCli(["once"], {
      cwd,
      permissionFlags: await permissionFlags("default", ["127.0.0.1"]),
      env,
    });
    assert.equal(result.code, 0, result.stderr.slice(0, 1000));
    const archive = await readArchive(`${cwd}/archive`);
    assert.ok(archive.frontier, "nothing archived");
    assert.deepEqual([...archive.ids].sort(), domain.truth(archive.frontier));
    assert.ok(archive.ids.length > 300, `only ${archive.ids.length} of 400 events before the frontier`);
    assert.deepEqual((await verifyDir(`${cwd}/archive`)).problems, []);
    const outside = (await listFiles(cwd)).filter((n) => !n.startsWith("archive/"));
    // Besides the archive, only the checkpoint key the first pass created (the client key was put there).
    assert.deepEqual(outside, ["keys/checkpoint.pem", "keys/client-key.pem"], "written outside ./archive");
    assert.equal((await Deno.stat(`${cwd}/keys/checkpoint.pem`)).mode! & 0o777, 0o600);
  } finally {
    await domain.close();
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("the image's HEALTHCHECK command succeeds against run's /healthz under the default set, and fails once it stops", async () => {
  const domain = await startDomain({ events: recentEvents(702, 50) });
  const { cwd, env } = await workdir(domain);
  // The image listens on 8080; here a free port, granted the way docs/deployment.md says another PORT is.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const probe = healthcheck().map((a) => a.replaceAll("127.0.0.1:8080", `127.0.0.1:${port}`));
  const runProbe = async () =>
    (await new Deno.Command(Deno.execPath(), {
      args: probe.slice(1),
      cwd,
      env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "" },
      clearEnv: true,
      stdout: "null",
      stderr: "null",
    }).output()).code;
  let daemon: Deno.ChildProcess | undefined;
  const exited = runCli(["run"], {
    cwd,
    permissionFlags: await permissionFlags("default", ["127.0.0.1", `0.0.0.0:${port}`]),
    env: { ...env, PORT: String(port), TRIGGER_TOKEN: "t".repeat(40), SCHEDULE: "0 0 1 1 *" },
    onSpawn: (child) => daemon = child,
  });
  try {
    let code = -1;
    for (let i = 0; i < 100 && code !== 0; i++) {
      code = await runProbe();
      if (code !== 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(code, 0, "the health probe never succeeded against the running daemon");
  } finally {
    daemon?.kill("SIGTERM");
    const result = await exited;
    assert.equal(result.code, 0, result.stderr.slice(0, 1000));
    assert.notEqual(await runProbe(), 0, "the health probe succeeds with nothing listening");
    await domain.close();
    await Deno.remove(cwd, { recursive: true });
  }
});

/** A fresh folder holding what the image's COPY steps put in /app, and nothing else. */
async function imageCopy(): Promise<string> {
  const app = await Deno.makeTempDir({ prefix: "audit-archiver-app-" });
  for (const [, rest] of steps.filter(([k]) => k === "COPY")) {
    const sources = rest.split(/\s+/);
    const destination = sources.pop()!;
    for (const source of sources) {
      const target = destination.endsWith("/") ? `${app}/${source}` : `${app}/${destination}`;
      const copied = await new Deno.Command("cp", { args: ["-r", `${REPO}/${source}`, target] }).output();
      assert.equal(copied.code, 0, new TextDecoder().decode(copied.stderr));
    }
  }
  return app;
}

Deno.test("the image's ENTRYPOINT starts in a folder laid out as /app, from the cache alone", async () => {
  const app = await imageCopy();
  try {
    const entrypoint = execForm("ENTRYPOINT", all("ENTRYPOINT").at(-1)!);
    const output = await new Deno.Command(Deno.execPath(), {
      args: [...entrypoint.slice(1), "--version"],
      cwd: app,
      env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    assert.match(text, new RegExp(`audit-archiver ${config.version.replaceAll(".", "\\.")}`));
  } finally {
    await Deno.remove(app, { recursive: true });
  }
});

Deno.test("deno task -q once with LOG_FORMAT=json writes nothing but JSON lines to stderr (no Deno warning, no task line)", async () => {
  for (const task of ["run", "once"]) {
    assert.match(config.tasks[task], /\bdeno run -q /, `the ${task} task lets Deno warn on stderr`);
  }
  assert.match(config.tasks.compile, /\bdeno compile -q /);
  const entrypoint = execForm("ENTRYPOINT", all("ENTRYPOINT").at(-1)!);
  assert.ok(entrypoint.includes("-q"), `the ENTRYPOINT lets Deno warn on stderr: ${entrypoint}`);

  const domain = await startDomain({ events: recentEvents(705, 60) });
  const app = await imageCopy();
  try {
    // The default set as shipped, plus the emulator's loopback address (as `permissionFlags` adds it).
    const shipped = JSON.parse(await Deno.readTextFile(`${app}/deno.json`));
    shipped.permissions.default.net.push(new URL(domain.emulator.url).host);
    await Deno.writeTextFile(`${app}/deno.json`, JSON.stringify(shipped));
    await Deno.mkdir(`${app}/keys`);
    await Deno.copyFile(domain.keyFile, `${app}/keys/client-key.pem`);
    const { ARCHIVE_DIR: _, ...settings } = domain.env;
    const dir = Deno.env.get("DENO_DIR");
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "once"],
      cwd: app,
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "",
        ...dir ? { DENO_DIR: dir } : {},
        ...settings,
        IDCS_PRIVATE_KEY_FILE: "./keys/client-key.pem",
        LOG_FORMAT: "json",
        LOG_LEVEL: "info",
      },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, stderr);
    const lines = stderr.split("\n").filter((line) => line !== "");
    assert.ok(lines.length >= 2, `too few log lines to tell: ${stderr}`);
    for (const line of lines) {
      assert.doesNotThrow(() => JSON.parse(line), `a stderr line that is not JSON: ${JSON.stringify(line)}`);
    }
    assert.ok(lines.some((line) => JSON.parse(line).msg === "pass finished"), stderr);
  } finally {
    await domain.close();
    await Deno.remove(app, { recursive: true });
  }
});

Deno.test("the default set refuses a non-Oracle host: the error names the net permission, nothing is written", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "audit-archiver-deploy-" });
  try {
    await Deno.mkdir(`${cwd}/keys`);
    await Deno.writeTextFile(`${cwd}/keys/client-key.pem`, (await generateClientKey()).pkcs8Pem);
    const result = await runCli(["once"], {
      cwd,
      permissionFlags: await permissionFlags("default", ["127.0.0.1"]),
      env: {
        IDCS_URL: "https://example.com",
        IDCS_CLIENT_ID: "client",
        IDCS_KEY_ID: "key",
        IDCS_PRIVATE_KEY_FILE: "./keys/client-key.pem",
        SINCE: "1d",
        MAX_RETRY_WAIT: "100ms",
      },
    });
    assert.equal(result.code, 2, "a host the permission set refuses is a bad setting");
    assert.match(
      result.stderr,
      /IDCS_URL's host example\.com:443 is not one the permission set lets the program reach/,
      result.stderr.slice(0, 1000),
    );
    // The whole net list with the host added: a lone --allow-net=example.com:443 would replace the set's list.
    assert.match(
      result.stderr,
      /--allow-net=\*\.oraclecloud\.com:443,169\.254\.169\.254:80,0\.0\.0\.0:8080,example\.com:443\b/,
    );
    assert.deepEqual(await listFiles(cwd), ["keys/client-key.pem"], "something was written");
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("the default set refuses a write outside ./archive: ARCHIVE_DIR elsewhere gets a clear error, nothing is written there", async () => {
  const domain = await startDomain({ events: recentEvents(703, 50) });
  const { cwd, env } = await workdir(domain);
  const elsewhere = `${cwd}-elsewhere`; // /tmp/…: outside the working folder, so outside ./archive
  try {
    const result = await runCli(["once"], {
      cwd,
      permissionFlags: await permissionFlags("default", ["127.0.0.1"]),
      env: { ...env, ARCHIVE_DIR: elsewhere },
    });
    // Refused at the first touch of the folder (a read, before any write), as a failed pass (exit 1) naming
    // the path and the flag; not yet as a configuration error (exit 2) naming ARCHIVE_DIR.
    assert.equal(result.code, 2, "an archive folder the permission set refuses is a bad setting");
    assert.ok(result.stderr.includes(elsewhere), `the error does not name ${elsewhere}: ${result.stderr}`);
    assert.match(
      result.stderr,
      /ARCHIVE_DIR is outside what the permission set lets the program read and write/,
    );
    assert.match(result.stderr, /--allow-write=/, result.stderr.slice(0, 1000));
    await assert.rejects(Deno.lstat(elsewhere), Deno.errors.NotFound, `${elsewhere} was created`);
    assert.deepEqual(await listFiles(cwd), ["keys/client-key.pem"], "something was written");
  } finally {
    await domain.close();
    await Deno.remove(cwd, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true }).catch(() => {});
  }
});

Deno.test("the default set does not let the process read an environment variable it does not list", async () => {
  // The program itself reads only its own settings, so it cannot be asked to read AWS_SECRET_ACCESS_KEY: this
  // probes the permission set instead — a module run with exactly the program's flags. `deno run`, not
  // `deno eval`: eval ignores permission flags and always has every permission, so it would read anything.
  const probe =
    `data:text/javascript,const read=(name)=>{try{return Deno.env.get(name)??"unset"}catch(e){return e.name}};` +
    `console.log(JSON.stringify({aws:read("AWS_SECRET_ACCESS_KEY"),idcs:read("IDCS_URL")}))`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", "--no-prompt", ...await permissionFlags("default", ["127.0.0.1"]), probe],
    env: {
      AWS_SECRET_ACCESS_KEY: "aws-secret-must-stay-unread",
      IDCS_URL: "https://idcs-x.identity.oraclecloud.com",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const seen = JSON.parse(new TextDecoder().decode(output.stdout));
  // A listed setting is readable (the probe works), the unlisted secret is refused.
  assert.equal(seen.idcs, "https://idcs-x.identity.oraclecloud.com");
  assert.equal(
    seen.aws,
    "NotCapable",
    `the default set let the process read AWS_SECRET_ACCESS_KEY: ${seen.aws}`,
  );
  assert.ok(!config.permissions.default.env.includes("AWS_*") && config.permissions.default.env !== true);
});

Deno.test("docs/deployment.md's systemd service runs the compiled binary's run, with the archive and the checkpoint key the only writable paths, and time to stop", () => {
  const unit = unitSettings(deploymentBlock("systemd-service"));
  const compileOutput = /--output\s+(\S+)/.exec(config.tasks.compile)?.[1];
  assert.ok(compileOutput && / -P /.test(config.tasks.compile), `compile: ${config.tasks.compile}`);
  const exec = /^(\S+)\s+run$/.exec(unit.get("ExecStart") ?? "");
  assert.ok(exec, `ExecStart does not run the binary's run: ${unit.get("ExecStart")}`);
  assert.ok(
    exec[1].startsWith("/") && exec[1].endsWith(`/${compileOutput}`),
    `not the compiled ${compileOutput}`,
  );
  assert.ok(seconds(unit.get("TimeoutStopSec") ?? "0") >= 15, `TimeoutStopSec ${unit.get("TimeoutStopSec")}`);
  assert.equal(unit.get("KillSignal"), "SIGTERM");
  assert.equal(unit.get("Restart"), "on-failure");
  // Exit 2 is bad configuration: restarting runs into the same refusal every RestartSec.
  assert.equal(unit.get("RestartPreventExitStatus"), "2");
  assert.equal(unit.get("User"), "audit-archiver");
  assert.equal(unit.get("NoNewPrivileges"), "yes");
  assert.equal(unit.get("ProtectSystem"), "strict");
  assert.equal(unit.get("PrivateTmp"), "yes");
  assert.match(unit.get("EnvironmentFile") ?? "", /^-?\/etc\/audit-archiver\/env$/);
  // The default set's relative paths land in WorkingDirectory; what it may write is what systemd lets it write.
  const home = unit.get("WorkingDirectory")!;
  assert.equal(home, "/var/lib/audit-archiver");
  // A file the program creates on first use (the checkpoint key) is granted by its folder: systemd cannot make a
  // path writable before it exists.
  const writable = [
    ...new Set(
      config.permissions.default.write.map((p: string) =>
        `${home}/${p.replace(/^\.\//, "").replace(/\/[^/]+\.pem$/, "")}`
      ),
    ),
  ];
  assert.deepEqual((unit.get("ReadWritePaths") ?? "").split(/\s+/), writable);
});

Deno.test("docs/deployment.md's timer runs the binary's once every 15 minutes as a oneshot service", () => {
  const text = deploymentBlock("systemd-timer");
  const [service, timer] = text.split(/^# .*\.timer$/m).map(unitSettings);
  assert.ok(timer, "no timer unit");
  assert.equal(service.get("Type"), "oneshot");
  assert.match(service.get("ExecStart") ?? "", /^\/\S+\/audit-archiver once$/);
  assert.ok(!service.has("Restart"), "a oneshot pass restarted by systemd would overlap the timer's next");
  assert.ok(seconds(service.get("TimeoutStopSec") ?? "0") >= 15);
  assert.equal(service.get("ProtectSystem"), "strict");
  assert.equal(service.get("ReadWritePaths"), "/var/lib/audit-archiver/archive /var/lib/audit-archiver/keys");
  assert.equal(timer.get("OnCalendar"), "*:0/15");
});
