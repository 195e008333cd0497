/**
 * backfill's progress line as a terminal shows it: the program runs in a real pseudo-terminal (tmux), against
 * the identity-domain emulator, and the test reads the screen tmux holds. A log line written while the
 * progress line is shown must start on a line of its own, and the progress line stay whole below the log.
 */

import assert from "node:assert/strict";
import { DAY, recentEvents, REPO, runCli, startDomain } from "../harness.ts";

const PROGRESS =
  /^[\d,]+ events, [\d,]+ windows, [\d,]+ events\/s, \d+% — (about \d+ (s|min|h) left|time left unknown)$/;

/** Runs `tmux` on a server of this test's own (its own socket file), so no other session is touched. */
async function tmux(socket: string, ...args: string[]): Promise<string> {
  const output = await new Deno.Command("tmux", {
    args: ["-S", socket, ...args],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, `tmux ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  return text;
}

Deno.test("on a terminal, backfill's log lines never run into its progress line, which stays whole at the bottom", async () => {
  const domain = await startDomain({ events: recentEvents(931, 900, 5), since: "1d" });
  const socketDir = await Deno.makeTempDir({ prefix: "audit-archiver-tmux-" });
  const socket = `${socketDir}/socket`;
  try {
    const once = await runCli(["once"], { env: domain.env });
    assert.equal(once.code, 0, once.stderr);
    const env = {
      ...domain.env,
      LOG_FORMAT: "text",
      LOG_LEVEL: "info",
      MAX_EVENTS_PER_OBJECT: "50", // many windows: many log lines between redraws
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    };
    const from = new Date(Date.now() - 5 * DAY).toISOString().slice(0, 10) + "T00:00:00Z";
    const quote = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`;
    const command = [
      "env",
      "-i",
      ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
      Deno.execPath(),
      "run",
      "-q",
      `--config=${REPO}/deno.json`,
      "-P=local",
      `${REPO}/main.ts`,
      "backfill",
      "--from",
      from,
    ].map(quote).join(" ");
    // The pane stays open after the program exits (sleep) so that the screen can be read.
    await tmux(
      socket,
      "new-session",
      "-d",
      "-x",
      "250",
      "-y",
      "50",
      `${command}; echo "exit $?"; tmux -S ${socket} wait-for -S done; sleep 120`,
    );
    const timeout = setTimeout(() => tmux(socket, "kill-server").catch(() => {}), 90_000);
    await tmux(socket, "wait-for", "done");
    clearTimeout(timeout);
    const screen = (await tmux(socket, "capture-pane", "-p", "-J", "-S", "-")).split("\n").map((l) =>
      l.trimEnd()
    );
    assert.ok(screen.includes("exit 0"), screen.join("\n"));
    const progress = screen.filter((line) => line.includes("events/s"));
    assert.ok(progress.length, `no progress line on the screen:\n${screen.join("\n")}`);
    for (const line of progress) {
      assert.match(line, PROGRESS, `a line mixes progress and log:\n${screen.join("\n")}`);
    }
    const committed = screen.filter((line) => line.includes("window committed"));
    assert.ok(
      committed.length > 3,
      `too few log lines while the progress line was shown:\n${screen.join("\n")}`,
    );
    for (const line of committed) assert.match(line, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}window committed /);
  } finally {
    await tmux(socket, "kill-server").catch(() => {});
    await Deno.remove(socketDir, { recursive: true });
    await domain.close();
  }
});
