/**
 * A daemon's day: every pass adds a window to today's folder of its chain and a checkpoint to today's folder
 * of checkpoints, and the next pass finds both heads again. It must not list those folders whole each time,
 * or a pass's listing grows through the day (issue 21, target 5): it lists from the newest record it saw.
 */

import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { freePort, recentEvents, startDomain, waitFor } from "../harness.ts";
import { cloudArgs, startCloud } from "../oci_harness.ts";

const PASSES = 50;
/** A pass after the catch-up at start, whose listing the last pass's is compared with. */
const EARLY_PASS = 5;
const TOKEN = "passes-in-a-day-trigger-token-0123456789";

/** The ok passes /metrics counts. */
async function passesDone(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const ok = /^audit_archiver_passes_total\{.*result="ok".*\} (\d+)$/m.exec(text);
  return Number(ok?.[1] ?? 0);
}

/** Asks for a pass until the daemon starts one (409 while the one before is still running). */
async function trigger(base: string) {
  await waitFor("a pass started by POST /trigger", async () => {
    const response = await fetch(`${base}/trigger`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await response.body?.cancel();
    return response.status === 202 ? true : undefined;
  });
}

Deno.test("run's passes through a day list the bucket no more at pass 50 than at pass 5", async () => {
  const domain = await startDomain({ events: recentEvents(2101, 40, 1) });
  const cloud = await startCloud(domain.dir);
  await Deno.writeTextFile(`${domain.dir}/trigger.json`, JSON.stringify({ TRIGGER_TOKEN: TOKEN }));
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const stop = new AbortController();
  const running = main([
    "run",
    ...cloudArgs(domain, cloud),
    "--config",
    `${domain.dir}/trigger.json`,
    "--listen",
    "127.0.0.1",
    "--port",
    String(port),
    "--schedule",
    "0 0 1 1 *",
  ], stop.signal);
  const stats = cloud.oci.stats;
  const listed: { requests: number; entries: number }[] = [];
  try {
    for (let pass = 1; pass <= PASSES; pass++) {
      const before = { requests: stats.byOperation.ListObjects ?? 0, entries: stats.listedEntries };
      if (pass > 1) await trigger(base);
      await waitFor(`pass ${pass}`, async () => await passesDone(base) >= pass ? true : undefined);
      listed.push({
        requests: stats.byOperation.ListObjects - before.requests,
        entries: stats.listedEntries - before.entries,
      });
    }
  } finally {
    stop.abort();
    await running;
    await cloud.close();
    await domain.close();
  }
  const [early, last] = [listed[EARLY_PASS - 1], listed[PASSES - 1]];
  // Each pass added a window (three objects) and a checkpoint to today's folders: 180 more names by pass 50
  // when a pass lists them whole.
  assert.ok(
    last.entries <= early.entries,
    `names listed at pass ${EARLY_PASS}: ${early.entries}, at pass ${PASSES}: ${last.entries}`,
  );
  assert.ok(last.requests <= early.requests, JSON.stringify({ early, last }));
});
