/**
 * No secret leaves memory (docs/design.md §6.6): the private key, a client secret, access tokens, client assertions
 * and the trigger token never reach logs (at debug level), errors, files or the archive — on success, under
 * retries, and on the error paths where a careless message would quote them.
 */

import assert from "node:assert/strict";
import { archiveText, assertNoSecrets, listFiles, recentEvents, runCli, startDomain } from "../harness.ts";

const CLIENT_SECRET = "cs-7f3a9c1e5b2d4f6a8c0e2b4d6f8a0c2e";

Deno.test("debug logs of a pass under faults hold no key, assertion or token", async () => {
  const domain = await startDomain({
    events: recentEvents(71, 400),
    faults: { rate429: 0.1, rate5xx: 0.1, rateTruncated: 0.05, retryAfterRate: 0 },
  });
  try {
    const result = await runCli(["once", "--page-size", "50"], {
      env: { ...domain.env, LOG_LEVEL: "debug" },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /"level":"debug"/, "debug logging must be on for this test to mean anything");
    const tokens = domain.emulator.issuedTokens();
    assert.ok(tokens.length >= 1);
    assertNoSecrets(result.stderr + result.stdout, domain.pkcs8Pem, tokens, "the logs");
    assertNoSecrets(await archiveText(domain.archiveDir), domain.pkcs8Pem, tokens, "the archive");
  } finally {
    await domain.close();
  }
});

Deno.test("a client secret never appears, also when the domain rejects it", async () => {
  const domain = await startDomain({ events: recentEvents(72, 50), clientSecret: CLIENT_SECRET });
  try {
    const ok = await runCli(["once"], { env: { ...domain.env, LOG_LEVEL: "debug" } });
    assert.equal(ok.code, 0, ok.stderr);
    const rejected = await runCli(["once"], {
      env: { ...domain.env, IDCS_CLIENT_SECRET: "wrong-" + CLIENT_SECRET, LOG_LEVEL: "debug" },
    });
    assert.equal(rejected.code, 1);
    assert.match(rejected.stderr, /rejected the client credentials/);
    const bad = await runCli(["once"], { env: { ...domain.env, PAGE_SIZE: "0", LOG_LEVEL: "debug" } });
    assert.equal(bad.code, 2);
    const secrets = [CLIENT_SECRET, btoa(`${domain.env.IDCS_CLIENT_ID}:`), ...domain.emulator.issuedTokens()];
    for (const output of [ok, rejected, bad]) {
      assertNoSecrets(output.stderr + output.stdout, domain.pkcs8Pem, secrets);
    }
    assertNoSecrets(await archiveText(domain.archiveDir), domain.pkcs8Pem, secrets, "the archive");
  } finally {
    await domain.close();
  }
});

Deno.test("no file outside the archive is written, and the key file is left as it was", async () => {
  const domain = await startDomain({ events: recentEvents(73, 100) });
  try {
    const before = await Deno.readTextFile(domain.keyFile);
    const result = await runCli(["once"], { env: domain.env });
    assert.equal(result.code, 0, result.stderr);
    const files = await listFiles(domain.dir);
    assert.deepEqual(files.filter((name) => !name.startsWith("archive/")), ["client-key.pem"]);
    assert.equal(await Deno.readTextFile(domain.keyFile), before);
  } finally {
    await domain.close();
  }
});
