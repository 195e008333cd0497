/**
 * The checkpoint key file: created (0600) on first use, and imported for signing as a non-extractable key, so
 * nothing that holds the signer can export the private key again.
 */

import assert from "node:assert/strict";
import { loadCheckpointKey } from "../../src/proof/checkpoint_key.ts";
import { importPublicKey } from "../../src/keys.ts";
import { decodeBase64 } from "../../src/bytes.ts";

Deno.test("the checkpoint private key is imported non-extractable, and still signs what its published key verifies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-test-" });
  try {
    const path = `${dir}/checkpoint.pem`;
    const created = await loadCheckpointKey(path);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    for (const key of [created, await loadCheckpointKey(path)]) {
      assert.ok(key.signingKey, "the key file's key");
      assert.equal(key.signingKey.extractable, false);
      await assert.rejects(crypto.subtle.exportKey("pkcs8", key.signingKey));
      await assert.rejects(crypto.subtle.exportKey("jwk", key.signingKey));
      assert.equal(key.keyId, created.keyId);
      const bytes = new TextEncoder().encode("checkpoint");
      const publicKey = (await importPublicKey(decodeBase64(key.record.publicKey)))!;
      assert.ok(
        await crypto.subtle.verify(
          "Ed25519",
          publicKey,
          (await key.sign(bytes)) as Uint8Array<ArrayBuffer>,
          bytes,
        ),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
