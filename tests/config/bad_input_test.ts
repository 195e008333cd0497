/**
 * Bad input gets a clear error that says what to do, and nothing is written (docs/design.md §6.5): bad settings,
 * bad keys, bad URLs, unreachable hosts, rejected credentials, a missing app role, undocumented responses.
 */

import assert from "node:assert/strict";
import { listFiles, recentEvents, runCli, startDomain } from "../harness.ts";
import { generateClientKey } from "../emulators/idcs.ts";

async function assertNothingWritten(archiveDir: string) {
  assert.deepEqual(await listFiles(archiveDir), [], "nothing may be written on bad input");
}

Deno.test("every bad setting is named at once with how to fix it; exit 2; nothing written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const result = await runCli(["once"], {
      env: {
        IDCS_URL: "ftp://idcs.example.com",
        IDCS_CLIENT_ID: "client",
        IDCS_CLIENT_SECRET: "hunter2-secret-value",
        PAGE_SIZE: "5000",
        SETTLE: "soon",
        MAX_EVENTS: "-3",
        SCHEDULE: "every minute",
        ARCHIVE_DIR: `${dir}/archive`,
      },
    });
    assert.equal(result.code, 2, result.stderr);
    for (const name of ["IDCS_URL", "PAGE_SIZE", "SETTLE", "MAX_EVENTS", "SCHEDULE"]) {
      assert.match(result.stderr, new RegExp(`${name} must`), `${name} is not named in ${result.stderr}`);
    }
    assert.match(result.stderr, /5 bad settings/);
    assert.match(result.stderr, /current value is \\"5000\\"/);
    assert.doesNotMatch(result.stderr, /hunter2/);
    await assertNothingWritten(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("plain http to a non-loopback host is refused: TLS always", async () => {
  const result = await runCli(["once"], {
    env: {
      IDCS_URL: "http://idcs-abc.identity.oraclecloud.com",
      IDCS_CLIENT_ID: "c",
      IDCS_CLIENT_SECRET: "s3cret-123",
    },
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /IDCS_URL must be an https URL/);
});

Deno.test("a secret given as a flag (visible in ps) exits 2 naming the environment variable; nothing written", async () => {
  const domain = await startDomain({ events: recentEvents(79, 10) });
  try {
    for (
      const [flag, env] of [["--trigger-token", "TRIGGER_TOKEN"], [
        "--idcs-client-secret",
        "IDCS_CLIENT_SECRET",
      ]]
    ) {
      const result = await runCli(["run", flag, "flag-secret-0123456789-0123456789-0123"], {
        env: domain.env,
      });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, new RegExp(`${flag} is refused.*environment variable ${env}`));
      assert.doesNotMatch(result.stderr, /flag-secret/);
      await assertNothingWritten(domain.archiveDir);
    }
  } finally {
    await domain.close();
  }
});

Deno.test("a usage error names the problem and exits 2", async () => {
  for (
    const args of [["archive-now"], ["once", "--no-such-flag"], [
      "export",
      "--from",
      "yesterday",
      "--to",
      "2026-01-01T00:00:00Z",
    ]]
  ) {
    const result = await runCli(args);
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.ok(result.stderr.length > 20);
  }
});

Deno.test("an unreadable, garbage or encrypted key file exits 2 before anything is written", async () => {
  const domain = await startDomain({ events: recentEvents(41, 10) });
  try {
    const cases: [string, RegExp][] = [
      ["not a key at all", /holds no PEM private key/],
      ["-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n", /encrypted key/],
      [
        "-----BEGIN PRIVATE KEY-----\nMIIBVAIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n",
        /not an RSA private key/,
      ],
    ];
    for (const [content, expected] of cases) {
      await Deno.writeTextFile(domain.keyFile, content);
      const result = await runCli(["once"], { env: domain.env });
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, expected);
      assert.doesNotMatch(result.stderr, /MIIB/, "key material must not be echoed");
    }
    const missing = await runCli(["once"], {
      env: { ...domain.env, IDCS_PRIVATE_KEY_FILE: `${domain.dir}/nope.pem` },
    });
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /IDCS_PRIVATE_KEY_FILE cannot be read \(no such file\): current value is .*nope\.pem/,
    );
    await assertNothingWritten(domain.archiveDir);
  } finally {
    await domain.close();
  }
});

Deno.test("the production permission set refuses a key outside ./keys with a message saying so", async () => {
  const domain = await startDomain();
  try {
    const result = await runCli(["once"], { env: domain.env, permissionSet: "default" });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /permission set does not allow reading it/);
  } finally {
    await domain.close();
  }
});

Deno.test("a key the domain does not know is rejected as bad credentials; exit 1; nothing written", async () => {
  const domain = await startDomain({ events: recentEvents(42, 10) });
  const unknownKey = `${domain.dir}/unknown-key.pem`;
  await Deno.writeTextFile(unknownKey, (await generateClientKey()).pkcs8Pem);
  try {
    const result = await runCli(["once"], { env: { ...domain.env, IDCS_PRIVATE_KEY_FILE: unknownKey } });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /rejected the client credentials: check IDCS_CLIENT_ID, IDCS_KEY_ID/);
    assert.equal(domain.emulator.stats.rejectedAssertions, 1);
    await assertNothingWritten(domain.archiveDir);
  } finally {
    await domain.close();
  }
});

Deno.test("an unreachable identity domain fails with a network error; nothing written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const result = await runCli(["once"], {
      env: {
        IDCS_URL: `http://127.0.0.1:${port}`,
        IDCS_CLIENT_ID: "c",
        IDCS_CLIENT_SECRET: "s3cret-123",
        ARCHIVE_DIR: `${dir}/archive`,
      },
    });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /identity domain token: .*(refused|connect).*check the URL/i);
    await assertNothingWritten(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * Runs a pass against a server that speaks OAuth correctly but answers AuditEvents with `auditResponse`;
 * asserts that nothing was written and returns what the program printed.
 */
async function passAgainst(auditResponse: () => Response) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname === "/oauth2/v1/token") {
      return Response.json({ access_token: "opaque-token-value", token_type: "Bearer", expires_in: 3600 });
    }
    return auditResponse();
  });
  const dir = await Deno.makeTempDir();
  try {
    const result = await runCli(["once"], {
      env: {
        IDCS_URL: `http://127.0.0.1:${server.addr.port}`,
        IDCS_CLIENT_ID: "c",
        IDCS_CLIENT_SECRET: "s3cret-123",
        ARCHIVE_DIR: `${dir}/archive`,
      },
    });
    await assertNothingWritten(dir);
    return result;
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a 403 says the app lacks the Audit Administrator role; exit 1; nothing written", async () => {
  const result = await passAgainst(() =>
    Response.json({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
      status: "403",
      detail: "Forbidden",
    }, {
      status: 403,
      headers: { "x-oracle-dms-ecid": "ecid-123" },
    })
  );
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Audit Administrator app role/);
  assert.match(result.stderr, /ecid-123/);
});

Deno.test("a 200 that is not a SCIM ListResponse is never archived; exit 1; nothing written", async () => {
  const result = await passAgainst(() => Response.json({ items: [{ id: "x" }] }));
  assert.equal(result.code, 1);
  assert.match(result.stderr, /not a SCIM response/);
});
