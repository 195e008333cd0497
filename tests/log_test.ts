/**
 * Log lines in the text format cannot be forged or carry terminal escapes: control characters inside a logged
 * value (ESC, CR, LF) are escaped, as the JSON format escapes them. The real program, its real stderr.
 */

import assert from "node:assert/strict";
import { registerSecret, scrub } from "../src/log.ts";
import { recentEvents, runCli, startDomain } from "./harness.ts";

Deno.test("text logs escape ESC, CR and LF inside values: one line per entry, no terminal escapes", async () => {
  for (const format of ["text", "json"]) {
    // Each format its own archive: a second key would not build on the first one's records.
    const domain = await startDomain({ events: recentEvents(83, 10) });
    try {
      // The key file's path is logged when the key is created: a name that carries a fake log line and colours.
      const keyFile = `${domain.dir}/key\x1b[31m\r\n2026-01-01T00:00:00.000Z ERROR forged line\x1b[0m.pem`;
      const result = await runCli(["once"], {
        env: {
          ...domain.env,
          LOG_FORMAT: format,
          LOG_LEVEL: "info",
          CHECKPOINT_KEY_FILE: `${keyFile}.${format}`,
        },
      });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(!result.stderr.includes("\x1b"), `a terminal escape in the ${format} log`);
      assert.ok(!result.stderr.includes("\r"), `a carriage return in the ${format} log`);
      const lines = result.stderr.trimEnd().split("\n");
      const forged = lines.filter((line) => line.startsWith("2026-01-01T00:00:00.000Z"));
      assert.deepEqual(forged, [], `a forged ${format} line`);
      const created = lines.find((line) => line.includes("created the checkpoint signing key"));
      assert.ok(
        created?.includes("\\u001b[31m\\r\\n2026-01-01T00:00:00.000Z ERROR forged line"),
        String(created),
      );
      if (format === "json") lines.forEach((line) => JSON.parse(line));
    } finally {
      await domain.close();
    }
  }
});

Deno.test("a replaced secret stays scrubbed until four newer took its slot; then the set of scrubbed values stops growing", () => {
  const tokens = Array.from({ length: 10 }, (_, i) => `token-${i}-${crypto.randomUUID()}`);
  for (const token of tokens) registerSecret(token, "log test token");
  const line = tokens.join(" ");
  const scrubbed = scrub(line).split(" ");
  assert.deepEqual(scrubbed.slice(6), ["[redacted]", "[redacted]", "[redacted]", "[redacted]"]);
  assert.deepEqual(scrubbed.slice(0, 6), tokens.slice(0, 6), "the six oldest, expired, are let go");
  const key = `key-${crypto.randomUUID()}`;
  registerSecret(key);
  for (const token of tokens) registerSecret(token, "log test token");
  assert.equal(scrub(key), "[redacted]", "a secret without a slot is scrubbed for good");
});
