/**
 * `deno task demo`: the whole flow on a machine with no Oracle account. Starts an emulated identity domain
 * holding three days of realistic audit events, writes its client key to ./keys, then runs the real program
 * (`deno run -P=local main.ts …`, the production permission set plus loopback) to archive them into ./archive,
 * and prints `status` and `verify`. Run it again later: it resumes from the archive's frontier.
 *
 * @module
 */

import { generateClientKey, generateEvents, startIdcsEmulator } from "./emulators/idcs.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DEMO_PORT = 8642; // fixed, so the archive chain (named after the domain's host) is the same on every run
const DAY = 86_400_000;

function heading(text: string) {
  console.log(`\n\x1b[1m── ${text}\x1b[0m`);
}

async function program(args: string[], env: Record<string, string>) {
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=local", "--quiet", `${REPO}/main.ts`, ...args],
    cwd: REPO,
    env,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(stdout).trim();
  if (text) console.log(text);
  return code;
}

if (import.meta.main) {
  const key = await generateClientKey();
  await Deno.mkdir(`${REPO}/keys`, { recursive: true });
  const keyFile = `${REPO}/keys/demo-client.pem`;
  await Deno.writeTextFile(keyFile, key.pkcs8Pem, { mode: 0o600 });
  const now = Date.now();
  const events = generateEvents({
    seed: now % 100_000,
    count: 4_000,
    from: now - 3 * DAY,
    to: now - 60_000,
    tieRate: 0.2,
  });
  const idcs = await startIdcsEmulator({
    clientId: "demo-archiver",
    keyId: "demo-cert",
    publicKey: key.publicKey,
    events,
    port: DEMO_PORT,
    faults: { rate429: 0.02, shuffleTies: true },
  });
  const env = {
    IDCS_URL: idcs.url,
    IDCS_CLIENT_ID: "demo-archiver",
    IDCS_KEY_ID: "demo-cert",
    IDCS_PRIVATE_KEY_FILE: "./keys/demo-client.pem",
    ARCHIVE_DIR: "./archive",
    SINCE: "4d",
    SETTLE: "30s",
    MAX_EVENTS_PER_OBJECT: "1000",
    LOG_FORMAT: "text",
  };
  try {
    heading(`emulated identity domain at ${idcs.url}: ${events.length} audit events over 3 days`);
    heading("deno run -P=local main.ts once");
    const once = await program(["once"], env);
    heading("deno run -P=local main.ts status");
    await program(["status"], env);
    heading("deno run -P=local main.ts verify");
    const verify = await program(["verify"], env);
    heading(
      verify === 0 && once === 0 ? "the archive is complete and verified" : "something failed: see above",
    );
    console.log("Archived into ./archive. Try:");
    console.log("  deno run -P=local main.ts export --from 2026-01-01T00:00:00Z --to 2030-01-01T00:00:00Z");
    console.log("  find archive -name '*.ndjson.gz' | head; zcat <one of them> | head -1");
    Deno.exitCode = once || verify;
  } finally {
    await idcs.close();
  }
}
