/**
 * Writes tests/fault_suite_costs.json — the seconds each fault-suite seed took, per source × sink — from the
 * output of a soak, which the fast slice uses to choose cheap seeds (tests/fault_suite.ts, `fastSlice`):
 *
 *     deno task test:soak 2>&1 | deno run -R=/dev/stdin -W=tests/fault_suite_costs.json tools/fault_costs.ts
 *
 * Only the test lines are read ("fault suite idcs → dir seed 7: … ok (12s)"); a seed that failed or did not
 * run keeps no time, and the slice treats it as the dearest.
 *
 * @module
 */

const LINE = /fault suite (\S+) → (\S+) seed (\d+):.* \.\.\. ok \((?:(\d+)m)?(\d+(?:\.\d+)?)(ms|s)\)/;

const seconds: Record<string, Record<string, number>> = {};
const text = new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer());
// deno test colours its output even into a pipe: its escape sequences are dropped first.
// deno-lint-ignore no-control-regex
for (const line of text.replaceAll(/\x1b\[[0-9;]*m/g, "").split("\n")) {
  const match = LINE.exec(line);
  if (!match) continue;
  const [, source, sink, seed, minutes, amount, unit] = match;
  const taken = Number(minutes ?? 0) * 60 + Number(amount) / (unit === "ms" ? 1000 : 1);
  (seconds[`${source} → ${sink}`] ??= {})[seed] = Math.round(taken * 10) / 10;
}
if (Object.keys(seconds).length === 0) {
  console.error("no fault-suite test lines on stdin: pipe the output of `deno task test:soak` into this");
  Deno.exit(2);
}
const file = new URL("../tests/fault_suite_costs.json", import.meta.url);
await Deno.writeTextFile(file, JSON.stringify(seconds, null, 2) + "\n");
console.error(`wrote ${Object.values(seconds).map((s) => Object.keys(s).length).join(" + ")} seeds`);
