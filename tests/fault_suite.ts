/**
 * The randomized fault suite: for each seed, an emulated domain with seeded events (ties, late indexing) and
 * seeded faults (429 with and without Retry-After, 5xx, resets, malformed and truncated pages, reshuffled
 * ties) is archived by a seeded sequence of passes — in-process, as subprocesses killed at a random moment,
 * and several at once on the same directory. Then a clean pass catches up and the archive is compared with the
 * emulator's truth: nothing lost before the frontier (1), nothing twice (2), windows tile (3, via verify).
 * Some steps are bad input, which must fail and write nothing (5); no subprocess log line and no archived byte
 * may hold the key, an assertion or a token (6).
 *
 * Each seed runs against the directory sink (fault_suite_dir_test.ts) and the Object Storage sink through the
 * real SDK against the emulated cloud, which injects its own faults (fault_suite_oci_test.ts).
 * FAULT_SEEDS=N runs N seeds per sink (default 200 for the directory, 100 for the bucket); FAULT_SEED=S runs
 * one, to replay a failure.
 */

import assert from "node:assert/strict";
import { generateEvents } from "./emulators/idcs.ts";
import { mulberry32 } from "./emulators/random.ts";
import { startCloud, withCloud } from "./oci_harness.ts";
import {
  assertCompleteArchive,
  assertNoSecrets,
  type Domain,
  HOUR,
  runCli,
  runMain,
  startDomain,
} from "./harness.ts";

const SETTLE_MS = 3_000;

type Step = "pass" | "killed-subprocess" | "concurrent-passes" | "concurrent-subprocesses" | "bad-input";

/** Everything a seed decides, printed when it fails so it can be replayed and read. */
function scenario(seed: number) {
  const random = mulberry32(seed);
  const pick = <T>(values: T[]) => values[Math.floor(random() * values.length)];
  const steps: Step[] = Array.from({ length: 2 + Math.floor(random() * 3) }, () => {
    const r = random();
    return r < 0.3
      ? "pass"
      : r < 0.6
      ? "killed-subprocess"
      : r < 0.75
      ? "concurrent-passes"
      : r < 0.87
      ? "concurrent-subprocesses"
      : "bad-input";
  });
  return {
    seed,
    count: 50 + Math.floor(random() * 700),
    days: 0.2 + random() * 2,
    tieRate: random() * 0.6,
    lateCount: Math.floor(random() * 6),
    faults: {
      rate429: random() * 0.08,
      retryAfterRate: 0.1,
      rate5xx: random() * 0.08,
      rateReset: random() * 0.04,
      rateMalformed: random() * 0.04,
      rateTruncated: random() * 0.04,
      shuffleTies: random() < 0.7,
    },
    settings: [
      "--page-size",
      String(pick([3, 7, 20, 50, 100, 1000])),
      "--max-events-per-object",
      String(pick([5, 13, 40, 100, 250, 50000])),
      "--concurrency",
      String(1 + Math.floor(random() * 6)),
      ...(random() < 0.3 ? ["--max-events", String(20 + Math.floor(random() * 200))] : []),
    ],
    killAfterMs: Array.from(steps, () => 30 + Math.floor(random() * 500)),
    badInput: Array.from(steps, () => pick(["setting", "garbage-key", "unknown-key"] as const)),
    steps,
  };
}

/** Runs one step; returns the exit codes and everything the subprocesses logged (at debug level). */
async function runStep(domain: Domain, step: Step, plan: ReturnType<typeof scenario>, index: number) {
  const settings = plan.settings;
  const env = { ...domain.env, SETTLE: `${SETTLE_MS}ms`, LOG_LEVEL: "debug" };
  const flags = [...settings, "--settle", `${SETTLE_MS}ms`];
  const killAfterMs = plan.killAfterMs[index];
  switch (step) {
    case "pass":
      return { codes: [await runMain("once", domain, ...flags)], logs: "" };
    case "concurrent-passes":
      return { codes: await Promise.all([1, 2, 3].map(() => runMain("once", domain, ...flags))), logs: "" };
    case "killed-subprocess": {
      const result = await runCli(["once", ...settings], { env, killAfterMs });
      return { codes: [result.code], logs: result.stderr };
    }
    case "concurrent-subprocesses": {
      const results = await Promise.all(
        [0, 1].map((i) => runCli(["once", ...settings], { env, killAfterMs: killAfterMs * (i + 1) })),
      );
      return { codes: results.map((r) => r.code), logs: results.map((r) => r.stderr).join("\n") };
    }
    case "bad-input":
      return await runBadInput(domain, plan.badInput[index], env);
  }
}

/** Invariant 5: a pass with bad input fails with exit 2 (settings, key file) or 1 (rejected key), writing nothing. */
async function runBadInput(
  domain: Domain,
  kind: "setting" | "garbage-key" | "unknown-key",
  env: Record<string, string>,
) {
  const before = await domain.files();
  const badKey = `${domain.dir}/bad-key.pem`;
  if (kind === "garbage-key") {
    await Deno.writeTextFile(badKey, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
  }
  if (kind === "unknown-key") {
    const { generateClientKey } = await import("./emulators/idcs.ts");
    await Deno.writeTextFile(badKey, (await generateClientKey()).pkcs8Pem);
  }
  const result = await runCli(
    ["once"],
    {
      env: kind === "setting"
        ? { ...env, PAGE_SIZE: "0", SETTLE: "later" }
        : { ...env, IDCS_PRIVATE_KEY_FILE: badKey },
    },
  );
  assert.equal(
    result.code,
    kind === "unknown-key" ? 1 : 2,
    `bad input (${kind}) must fail: ${result.stderr}`,
  );
  assert.match(
    result.stderr,
    kind === "unknown-key" ? /rejected the client credentials/ : /must be|is not an RSA private key/,
  );
  assert.deepEqual(await domain.files(), before, `bad input (${kind}) must write nothing`);
  return { codes: [result.code], logs: result.stderr };
}

const only = Deno.env.get("FAULT_SEED");
/**
 * Registers the suite's seeded scenarios against one sink (a test file per sink, so they run in parallel).
 * `defaultSeeds` keeps CI inside its time: each bucket scenario costs about twice a directory one.
 */
export function defineFaultSuite(sink: "dir" | "oci", defaultSeeds: number) {
  const count = Number(Deno.env.get("FAULT_SEEDS") ?? defaultSeeds);
  const seeds = only ? [Number(only)] : Array.from({ length: count }, (_, i) => i + 1);
  for (const seed of seeds) defineSeed(seed, sink);
}

function defineSeed(seed: number, sink: string) {
  const plan = scenario(seed);
  Deno.test(`fault suite ${sink} seed ${seed}: ${plan.steps.join(", ")}`, async () => {
    const now = Date.now();
    const events = generateEvents({
      seed,
      count: plan.count,
      from: now - plan.days * 24 * HOUR,
      to: now - SETTLE_MS,
      tieRate: plan.tieRate,
    });
    const idcs = await startDomain({ events, faults: plan.faults, seed, since: "3d" });
    // The bucket sink: the cloud injects its own seeded 429s, 5xx and resets.
    const cloudFaults = {
      rate429: plan.faults.rate429 / 2,
      rate5xx: plan.faults.rate5xx / 2,
      rateReset: plan.faults.rateReset,
    };
    const cloud = sink === "oci" ? await startCloud(idcs.dir, { seed, faults: cloudFaults }) : undefined;
    const domain = cloud ? withCloud(idcs, cloud) : idcs;
    try {
      // Late indexing: events from the last two seconds that appear within the next second — inside SETTLE.
      domain.emulator.addEvents(
        generateEvents({ seed: seed + 1e6, count: plan.lateCount, from: now - 2_000, to: now - 1_000 }),
        now + 1_000,
      );
      let logs = "";
      for (const [i, step] of plan.steps.entries()) {
        const result = await runStep(domain, step, plan, i);
        logs += result.logs;
        for (const code of result.codes) assert.ok([0, 1, 2, 137].includes(code), `unexpected exit ${code}`);
      }
      domain.emulator.setFaults({ shuffleTies: plan.faults.shuffleTies });
      cloud?.oci.setFaults({});
      const caughtUpTo = Date.now() - SETTLE_MS;
      assert.equal(
        await runMain("once", domain, "--settle", `${SETTLE_MS}ms`, "--page-size", "50"),
        0,
        "the clean pass must succeed",
      );
      const context = JSON.stringify(plan);
      const archive = await assertCompleteArchive(domain, context);
      assert.ok(archive.frontier! >= caughtUpTo, `the clean pass did not catch up: ${context}`);
      // Invariant 6: nothing secret in what the subprocesses logged at debug level, nor in the archive.
      const tokens = domain.emulator.issuedTokens();
      assertNoSecrets(logs, domain.pkcs8Pem, tokens, "the logs");
      assertNoSecrets(await domain.text(), domain.pkcs8Pem, tokens, "the archive");
    } finally {
      await domain.close();
    }
  });
}
