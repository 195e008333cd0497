/**
 * `run`: a pass at start and on SCHEDULE through Deno.cron, /healthz, /metrics, and POST /trigger behind its
 * bearer token — the program as a container runs it, under its permission set.
 */

import assert from "node:assert/strict";
import { generateEvents } from "../emulators/idcs.ts";
import {
  freePort,
  listFiles,
  readArchive,
  recentEvents,
  REPO,
  runCli,
  startDomain,
  waitFor,
} from "../harness.ts";

/** Events after what is archived already, so the next pass is the one that must pick them up. */
async function eventsAfterFrontier(archiveDir: string, seed: number, count: number) {
  const { frontier } = await readArchive(archiveDir);
  await new Promise((resolve) => setTimeout(resolve, 200));
  return generateEvents({ seed, count, from: frontier! + 1, to: Date.now() - 10, tieRate: 0 });
}

/** The value of the first series of `name` whose labels include every one of `labels` (`result="ok"`). */
const metric = (text: string, name: string, ...labels: string[]) =>
  Number(
    text.split("\n").find((line) =>
      line.startsWith(`${name}{`) && labels.every((label) => line.includes(label))
    )?.split(" ").at(-1),
  );

Deno.test("run serves health and metrics, passes at start, and on an authenticated trigger", async () => {
  const domain = await startDomain({ events: recentEvents(61, 300) });
  const port = freePort();
  const token = "trigger-token-0123456789abcdef-0123456789";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=local", "--quiet", `${REPO}/main.ts`, "run"],
    cwd: REPO,
    env: {
      ...domain.env,
      PORT: String(port),
      TRIGGER_TOKEN: token,
      SCHEDULE: "0 0 1 1 *",
      LOG_LEVEL: "info",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  try {
    const health = await waitFor("healthz", async () => {
      const response = await fetch(`${base}/healthz`);
      return response.ok ? await response.json() : undefined;
    });
    assert.equal(health.ok, true);
    const afterStart = await waitFor("the pass at start", async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return metric(text, "audit_archiver_passes_total", 'result="ok"') === 1 ? text : undefined;
    });
    assert.match(
      afterStart,
      /audit_archiver_events_committed_total\{source="idcs",scope="127\.0\.0\.1-\d+"\} 300/,
    );
    assert.equal((await readArchive(domain.archiveDir)).ids.length, 300);

    const anonymous = await fetch(`${base}/trigger`, { method: "POST" });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const wrong = await fetch(`${base}/trigger`, {
      method: "POST",
      headers: { authorization: "Bearer nope" },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();

    domain.emulator.addEvents(await eventsAfterFrontier(domain.archiveDir, 62, 20));
    const triggered = await fetch(`${base}/trigger`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(triggered.status, 202);
    await triggered.body?.cancel();
    await waitFor("the triggered pass", async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return metric(text, "audit_archiver_passes_total", 'result="ok"') === 2 ? text : undefined;
    });
    assert.equal((await readArchive(domain.archiveDir)).ids.length, 320);

    // A trigger while a pass runs is refused, not stacked: passes never overlap.
    domain.emulator.setFaults({ latencyMs: 400 });
    const slow = await fetch(`${base}/trigger`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(slow.status, 202);
    await slow.body?.cancel();
    const overlapping = await fetch(`${base}/trigger`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(overlapping.status, 409);
    await overlapping.body?.cancel();
    assert.equal(metric(await (await fetch(`${base}/metrics`)).text(), "audit_archiver_pass_running"), 1);
  } finally {
    child.kill("SIGTERM");
    const output = await child.output();
    await domain.close();
    const logs = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, logs);
    assert.doesNotMatch(logs, new RegExp(token), "the trigger token must never be logged");
  }
});

Deno.test("run takes passes on SCHEDULE through Deno.cron", async () => {
  const domain = await startDomain({ events: recentEvents(63, 50) });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=local", "--quiet", `${REPO}/main.ts`, "run"],
    cwd: REPO,
    env: { ...domain.env, SCHEDULE: "* * * * *", LOG_LEVEL: "info", LOG_FORMAT: "json" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    // The pass at start archives the 50; events added now are picked up by the next minute's scheduled pass.
    await waitFor(
      "the pass at start",
      async () => (await readArchive(domain.archiveDir)).ids.length === 50 || undefined,
    );
    domain.emulator.addEvents(await eventsAfterFrontier(domain.archiveDir, 64, 7));
    // Two minute boundaries: the events may be added just after one, whose pass then finds nothing new.
    await waitFor(
      "a scheduled pass",
      async () => (await readArchive(domain.archiveDir)).ids.length === 57 || undefined,
      150_000,
    );
  } finally {
    child.kill("SIGTERM");
    const output = await child.output();
    await domain.close();
    const lines = new TextDecoder().decode(output.stderr).split("\n").filter(Boolean).map((line) =>
      JSON.parse(line)
    );
    assert.ok(
      lines.some((l) => l.msg === "pass finished" && l.trigger === "schedule"),
      `no scheduled pass was logged: ${JSON.stringify(lines.map((l) => [l.time, l.msg, l.trigger ?? ""]))}`,
    );
  }
});

Deno.test("run refuses a SCHEDULE Deno.cron refuses before starting: exit 2 naming SCHEDULE, nothing written", async () => {
  const domain = await startDomain({ events: recentEvents(65, 5) });
  try {
    // */90: a step past the minutes' span. Deno.cron throws "Invalid cron schedule" on it (exit 1, unnamed).
    const result = await runCli(["run"], {
      env: { ...domain.env, SCHEDULE: "*/90 * * * *" },
      killAfterMs: 30_000,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /SCHEDULE must be a five-field cron expression that Deno\.cron accepts/);
    assert.doesNotMatch(result.stderr, /Invalid cron schedule/);
    assert.deepEqual(await listFiles(domain.archiveDir).catch(() => []), []);
  } finally {
    await domain.close();
  }
});

Deno.test("policies takes a SCHEDULE with weekday names, as Deno.cron does", async () => {
  const domain = await startDomain({ events: recentEvents(66, 5) });
  try {
    const result = await runCli(["policies"], { env: { ...domain.env, SCHEDULE: "0 3 * * MON-FRI" } });
    assert.equal(result.code, 0, result.stderr);
  } finally {
    await domain.close();
  }
});
