/**
 * Proves the OCI emulator with the real SDK clients (oci-* 2.139.1): what they
 * send passes, what the services refuse is refused the way they refuse it, and
 * a request signed wrongly in any one way is a 401. The archiver's tests are
 * only as good as what they run against.
 *
 * Run: `deno test -A tests/emulators/oci_test.ts`
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  KeyObject,
  sign as nodeSign,
  verify as nodeVerify,
} from "node:crypto";
import * as common from "oci-common";
import { AuditClient } from "oci-audit";
import { IdentityClient } from "oci-identity";
import { KmsCryptoClient, KmsManagementClient, models as kmsModels } from "oci-keymanagement";
import { LoggingClient } from "oci-loggingingestion";
import { ObjectStorageClient } from "oci-objectstorage";
import { SecretsClient } from "oci-secrets";
import {
  type AuditCloudEvent,
  generateApiKey,
  generateAuditEvents,
  generateRsaKeyPair,
  type OciEmulator,
  type OciEmulatorOptions,
  processingTimeOf,
  startOciEmulator,
} from "./oci.ts";

const TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancy";
const USER = "ocid1.user.oc1..aaaaaaaauser";
const BUCKET = "audit-archive";
const LOCKED_BUCKET = "audit-archive-locked";
const NAMESPACE = "emulatedns";
const LOG_ID = "ocid1.log.oc1.iad.aaaaaaaalog";
const SECRET_ID = "ocid1.vaultsecret.oc1.iad.aaaaaaaasecret";
const KMS_KEY_ID = "ocid1.key.oc1.iad.aaaaaaaakey";
const COMPARTMENTS = [
  { id: "ocid1.compartment.oc1..prod", parentId: TENANCY, name: "prod" },
  { id: "ocid1.compartment.oc1..prod-db", parentId: "ocid1.compartment.oc1..prod", name: "prod-db" },
  { id: "ocid1.compartment.oc1..prod-db-backup", parentId: "ocid1.compartment.oc1..prod-db", name: "backup" },
  { id: "ocid1.compartment.oc1..dev", parentId: TENANCY, name: "dev" },
  { id: "ocid1.compartment.oc1..old", parentId: TENANCY, name: "old", lifecycleState: "DELETED" as const },
];

// One circuit breaker per client would keep timers running and hide faults behind an open circuit.
common.CircuitBreaker.EnableGlobalCircuitBreaker = false;

const apiKey = await generateApiKey(TENANCY, USER);
const kmsKeyPair = await generateRsaKeyPair();

// ---------------------------------------------------------------- helpers

async function withEmulator(
  options: Partial<OciEmulatorOptions>,
  test: (oci: OciEmulator) => Promise<void>,
): Promise<void> {
  const oci = await startOciEmulator({
    seed: 7,
    tenancy: TENANCY,
    apiKeys: [apiKey],
    buckets: [
      { name: BUCKET },
      {
        name: LOCKED_BUCKET,
        retentionRules: [{
          id: "rule-1",
          displayName: "keep a year",
          duration: { timeAmount: 1, timeUnit: "YEARS" },
        }],
      },
    ],
    secrets: [{ id: SECRET_ID, content: "-----BEGIN PRIVATE KEY-----\nMIIE…\n-----END PRIVATE KEY-----\n" }],
    kmsKeys: [{ id: KMS_KEY_ID, privateKey: kmsKeyPair.privateKey }],
    compartments: COMPARTMENTS,
    logs: [LOG_ID],
    ...options,
  });
  try {
    await test(oci);
  } finally {
    await oci.close();
  }
}

function apiKeyProvider(): common.SimpleAuthenticationDetailsProvider {
  return new common.SimpleAuthenticationDetailsProvider(
    TENANCY,
    USER,
    apiKey.fingerprint,
    apiKey.privateKeyPem,
    null,
    common.Region.US_ASHBURN_1,
  );
}

/** No retries: a fault or a refusal must reach the test as it left the emulator. */
const NO_RETRY = { retryConfiguration: common.NoRetryConfigurationDetails };

interface EndpointClient {
  endpoint: string;
}

function connect<T extends EndpointClient>(
  Client: new (params: common.AuthParams, configuration?: common.ClientConfiguration) => T,
  oci: OciEmulator,
  provider: common.AuthenticationDetailsProvider = apiKeyProvider(),
): T {
  const client = new Client({ authenticationDetailsProvider: provider }, NO_RETRY);
  // After construction: setting the region later would overwrite it (docs/oracle/oci-apis.md).
  client.endpoint = oci.url;
  return client;
}

/** An OciError from the SDK with this HTTP status and service code. */
function ociError(statusCode: number, serviceCode: string) {
  return (error: unknown): boolean => {
    const { statusCode: status, serviceCode: code } = error as common.OciError;
    assert.equal(status, statusCode, `status of ${JSON.stringify(error)}`);
    assert.equal(code, serviceCode, `serviceCode of ${JSON.stringify(error)}`);
    return true;
  };
}

function md5Base64(text: string): string {
  return createHash("md5").update(text).digest("base64");
}

async function readAll(body: unknown): Promise<string> {
  return await new Response(body as ReadableStream<Uint8Array>).text();
}

interface CraftedRequest {
  method: string;
  path: string;
  body?: string;
  keyId?: string;
  privateKeyPem?: string;
  date?: Date;
  headers?: string[];
  /** Replaces x-content-sha256 after signing, to show the digest is checked. */
  contentSha256?: string;
}

/** A request signed by hand exactly as the SDK signs (signer.js); options make it wrong in one way. */
function craftedFetch(oci: OciEmulator, request: CraftedRequest): Promise<Response> {
  const url = new URL(request.path, oci.url);
  const headers = new Headers({ host: url.host, "x-date": (request.date ?? new Date()).toUTCString() });
  const hasBody = request.body !== undefined;
  if (hasBody) {
    headers.set("content-type", "application/json");
    headers.set("content-length", String(new TextEncoder().encode(request.body).length));
    headers.set("x-content-sha256", createHash("sha256").update(request.body!).digest("base64"));
  }
  const signed = request.headers ??
    [
      "x-date",
      "(request-target)",
      "host",
      ...(hasBody ? ["content-type", "content-length", "x-content-sha256"] : []),
    ];
  const signingString = signed.map((name) =>
    name === "(request-target)"
      ? `(request-target): ${request.method.toLowerCase()} ${url.pathname}${url.search}`
      : `${name}: ${headers.get(name)}`
  ).join("\n");
  const signature = nodeSign(
    "sha256",
    new TextEncoder().encode(signingString),
    request.privateKeyPem ?? apiKey.privateKeyPem,
  )
    .toString("base64");
  headers.set(
    "authorization",
    `Signature version="1",keyId="${request.keyId ?? apiKey.keyId}",algorithm="rsa-sha256",headers="${
      signed.join(" ")
    }",signature="${signature}"`,
  );
  if (request.contentSha256) headers.set("x-content-sha256", request.contentSha256);
  return fetch(url, { method: request.method, headers, body: request.body });
}

async function expectStatus(response: Promise<Response>, status: number, code?: string): Promise<void> {
  const answer = await response;
  const text = await answer.text();
  assert.equal(answer.status, status, text);
  if (code) assert.equal(JSON.parse(text).code, code);
}

async function withEnv(env: Record<string, string>, body: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, Deno.env.get(name)]));
  for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
  try {
    await body();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
}

// ---------------------------------------------------------------- request signatures

Deno.test("a request signed by hand like the SDK passes, and one wrong in any one way is a 401", async () => {
  const stranger = await generateApiKey(TENANCY, "ocid1.user.oc1..stranger");
  await withEmulator({}, async (oci) => {
    await expectStatus(craftedFetch(oci, { method: "GET", path: "/n" }), 200);
    const body = JSON.stringify({
      keyId: KMS_KEY_ID,
      message: btoa("hi"),
      signingAlgorithm: "SHA_256_RSA_PKCS1_V1_5",
    });
    await expectStatus(craftedFetch(oci, { method: "POST", path: "/20180608/sign", body }), 200);

    const wrong: [string, CraftedRequest][] = [
      ["an unknown key", {
        method: "GET",
        path: "/n",
        keyId: stranger.keyId,
        privateKeyPem: stranger.privateKeyPem,
      }],
      ["a key id of a known key signed by another key", {
        method: "GET",
        path: "/n",
        privateKeyPem: stranger.privateKeyPem,
      }],
      ["a date 6 minutes old", { method: "GET", path: "/n", date: new Date(Date.now() - 6 * 60_000) }],
      ["a date 6 minutes ahead", { method: "GET", path: "/n", date: new Date(Date.now() + 6 * 60_000) }],
      ["host not signed", { method: "GET", path: "/n", headers: ["x-date", "(request-target)"] }],
      ["no date signed", { method: "GET", path: "/n", headers: ["(request-target)", "host"] }],
      ["a POST without the body headers signed", {
        method: "POST",
        path: "/20180608/sign",
        body,
        headers: ["x-date", "(request-target)", "host"],
      }],
      ["a body that does not match x-content-sha256", {
        method: "POST",
        path: "/20180608/sign",
        body,
        contentSha256: createHash("sha256").update("other").digest("base64"),
      }],
    ];
    for (const [why, request] of wrong) {
      const answer = await craftedFetch(oci, request);
      const text = await answer.text();
      assert.equal(answer.status, 401, `${why}: ${text}`);
      assert.equal(JSON.parse(text).code, "NotAuthenticated", why);
    }
    assert.equal(oci.stats.rejectedSignatures, wrong.length);

    const unsigned = await fetch(`${oci.url}/n`);
    assert.equal(unsigned.status, 401);
    await unsigned.body?.cancel();
  });
});

Deno.test("the SDK with an unregistered API key gets 401 NotAuthenticated", async () => {
  const stranger = await generateApiKey(TENANCY, USER);
  await withEmulator({}, async (oci) => {
    const provider = new common.SimpleAuthenticationDetailsProvider(
      TENANCY,
      USER,
      stranger.fingerprint,
      stranger.privateKeyPem,
      null,
      common.Region.US_ASHBURN_1,
    );
    const client = connect(ObjectStorageClient, oci, provider);
    await assert.rejects(client.getNamespace({}), ociError(401, "NotAuthenticated"));
  });
});

// ---------------------------------------------------------------- Object Storage

Deno.test("Object Storage: namespace, conditional PUT, MD5 check and a round trip with opc-meta", async () => {
  await withEmulator({}, async (oci) => {
    const client = connect(ObjectStorageClient, oci);
    const { value: namespace } = await client.getNamespace({});
    assert.equal(namespace, NAMESPACE);

    const content = '{"events":[]}\n';
    const put = await client.putObject({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      objectName: "2026/11/27/window-0001.json",
      putObjectBody: content,
      contentLength: content.length,
      contentMD5: md5Base64(content),
      ifNoneMatch: "*",
      opcMeta: { "events": "0", "Sha256": "abc" },
    });
    assert.ok(put.eTag);
    assert.equal(put.opcContentMd5, md5Base64(content));

    await assert.rejects(
      client.putObject({
        namespaceName: NAMESPACE,
        bucketName: BUCKET,
        objectName: "2026/11/27/window-0001.json",
        putObjectBody: "second writer",
        ifNoneMatch: "*",
      }),
      ociError(412, "IfNoneMatchFailed"),
    );
    await assert.rejects(
      client.putObject({
        namespaceName: NAMESPACE,
        bucketName: BUCKET,
        objectName: "other.json",
        putObjectBody: content,
        contentMD5: md5Base64("something else"),
      }),
      ociError(400, "UnmatchedContentMD5"),
    );
    assert.equal(oci.stats.conditionalPutConflicts, 1);

    const got = await client.getObject({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      objectName: "2026/11/27/window-0001.json",
    });
    assert.equal(await readAll(got.value), content);
    assert.equal(got.eTag, put.eTag);
    assert.equal(got.contentMd5, md5Base64(content));
    assert.equal(got.contentLength, content.length);
    // The SDK keeps the prefix in opcMeta keys, and HTTP lowercases header names.
    assert.deepEqual(got.opcMeta, { "opc-meta-events": "0", "opc-meta-sha256": "abc" });

    const head = await client.headObject({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      objectName: "2026/11/27/window-0001.json",
    });
    assert.equal(head.contentLength, content.length);
    assert.equal(head.eTag, put.eTag);

    const [stored] = oci.objects(BUCKET);
    assert.equal(stored.name, "2026/11/27/window-0001.json");
    assert.deepEqual(stored.metadata, { events: "0", sha256: "abc" });
    assert.equal(new TextDecoder().decode(stored.bytes), content);

    await assert.rejects(
      client.getObject({ namespaceName: NAMESPACE, bucketName: BUCKET, objectName: "missing.json" }),
      ociError(404, "ObjectNotFound"),
    );
    await assert.rejects(
      client.getObject({ namespaceName: NAMESPACE, bucketName: "nope", objectName: "x" }),
      ociError(404, "BucketNotFound"),
    );
    // HEAD errors have no body, so the SDK has no service code to report.
    await assert.rejects(
      client.headObject({ namespaceName: NAMESPACE, bucketName: BUCKET, objectName: "missing.json" }),
      (error: common.OciError) => error.statusCode === 404,
    );

    await client.deleteObject({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      objectName: "2026/11/27/window-0001.json",
    });
    assert.deepEqual(oci.objects(BUCKET), []);
  });
});

Deno.test("Object Storage: if-match, ranges, and names that need percent-encoding", async () => {
  await withEmulator({}, async (oci) => {
    const client = connect(ObjectStorageClient, oci);
    const name = "dir/a b+c%d é.json";
    const first = await client.putObject({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      objectName: name,
      putObjectBody: "0123456789",
    });
    await assert.rejects(
      client.putObject({
        namespaceName: NAMESPACE,
        bucketName: BUCKET,
        objectName: name,
        putObjectBody: "x",
        ifMatch: "not-the-etag",
      }),
      ociError(412, "IfMatchFailed"),
    );
    await client.putObject({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      objectName: name,
      putObjectBody: "abcdefghij",
      ifMatch: first.eTag,
    });
    const ranged = await client.getObject({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      objectName: name,
      range: new common.Range(2, 4, null),
    });
    assert.equal(await readAll(ranged.value), "cde");
    assert.deepEqual(oci.objects(BUCKET).map((object) => object.name), [name]);
  });
});

Deno.test("Object Storage: listObjects pages with nextStartWith, honours fields, start/end and the / delimiter", async () => {
  await withEmulator({}, async (oci) => {
    const names = [
      ...Array.from({ length: 23 }, (_, i) => `windows/2026-11-27/${String(i).padStart(4, "0")}.json`),
      "windows/2026-11-28/0000.json",
      "windows/2026-11-28/0001.json",
      "checkpoints/state.json",
    ];
    for (const name of names) oci.putObjectDirect(BUCKET, name, new TextEncoder().encode(name));
    const client = connect(ObjectStorageClient, oci);

    const listed: string[] = [];
    let start: string | undefined;
    let pages = 0;
    do {
      const { listObjects } = await client.listObjects({
        namespaceName: NAMESPACE,
        bucketName: BUCKET,
        prefix: "windows/",
        start,
        limit: 10,
        fields: "name,size,md5,timeCreated",
      });
      for (const object of listObjects.objects) {
        assert.equal(object.size, object.name.length);
        assert.ok(object.md5 && object.timeCreated);
        listed.push(object.name);
      }
      start = listObjects.nextStartWith;
      pages++;
    } while (start !== undefined);
    assert.deepEqual(listed, names.filter((name) => name.startsWith("windows/")).sort());
    assert.equal(pages, 3);

    const bare = await client.listObjects({ namespaceName: NAMESPACE, bucketName: BUCKET, limit: 1 });
    assert.deepEqual(bare.listObjects.objects, [{ name: "checkpoints/state.json" }], "only name by default");
    assert.equal(bare.listObjects.nextStartWith, "windows/2026-11-27/0000.json");

    const folders = await client.listObjects({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      prefix: "windows/",
      delimiter: "/",
    });
    assert.deepEqual(folders.listObjects.prefixes, ["windows/2026-11-27/", "windows/2026-11-28/"]);
    assert.deepEqual(folders.listObjects.objects, []);

    const between = await client.listObjects({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      start: "windows/2026-11-27/0021.json",
      end: "windows/2026-11-28/0001.json",
    });
    assert.deepEqual(between.listObjects.objects.map((object) => object.name), [
      "windows/2026-11-27/0021.json",
      "windows/2026-11-27/0022.json",
      "windows/2026-11-28/0000.json",
    ]);
    const after = await client.listObjects({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      startAfter: "windows/2026-11-28/0000.json",
    });
    assert.deepEqual(after.listObjects.objects.map((object) => object.name), [
      "windows/2026-11-28/0001.json",
    ]);
  });
});

Deno.test("Object Storage: a retention rule blocks overwrite and delete but not new objects", async () => {
  await withEmulator({}, async (oci) => {
    const client = connect(ObjectStorageClient, oci);
    const { retentionRuleCollection } = await client.listRetentionRules({
      namespaceName: NAMESPACE,
      bucketName: LOCKED_BUCKET,
    });
    assert.deepEqual(
      retentionRuleCollection.items.map((rule) => [rule.displayName, rule.duration]),
      [["keep a year", { timeAmount: 1, timeUnit: "YEARS" }]],
    );
    await client.putObject({
      namespaceName: NAMESPACE,
      bucketName: LOCKED_BUCKET,
      objectName: "sealed.json",
      putObjectBody: "original",
      ifNoneMatch: "*",
    });
    await assert.rejects(
      client.putObject({
        namespaceName: NAMESPACE,
        bucketName: LOCKED_BUCKET,
        objectName: "sealed.json",
        putObjectBody: "rewritten",
      }),
      ociError(409, "Conflict"),
    );
    await assert.rejects(
      client.deleteObject({ namespaceName: NAMESPACE, bucketName: LOCKED_BUCKET, objectName: "sealed.json" }),
      ociError(409, "Conflict"),
    );
    assert.equal(new TextDecoder().decode(oci.objects(LOCKED_BUCKET)[0].bytes), "original");
    // Tests tamper around the rules, as an administrator deleting the bucket's rule first would.
    oci.putObjectDirect(LOCKED_BUCKET, "sealed.json", new TextEncoder().encode("tampered"));
    assert.equal(new TextDecoder().decode(oci.objects(LOCKED_BUCKET)[0].bytes), "tampered");
    oci.deleteObjectDirect(LOCKED_BUCKET, "sealed.json");
    assert.deepEqual(oci.objects(LOCKED_BUCKET), []);
  });
});

Deno.test("Object Storage: listRetentionRules pages with opc-next-page; a future timeRuleLocked is served as given", async () => {
  // ListRetentionRules is paged with opc-next-page; timeRuleLocked is when the rule becomes locked
  // (docs/oracle/oci-apis.md, "Object Storage").
  const future = new Date(Date.now() + 10 * 86_400_000).toISOString();
  const rules = ["a", "b", "c"].map((id) => ({ id, displayName: `rule ${id}` }));
  await withEmulator({
    buckets: [{
      name: BUCKET,
      retentionRulesPageSize: 2,
      retentionRules: [...rules.slice(0, 2), { ...rules[2], timeRuleLocked: future }],
    }],
  }, async (oci) => {
    const client = connect(ObjectStorageClient, oci);
    const request = { namespaceName: NAMESPACE, bucketName: BUCKET };
    const first = await client.listRetentionRules(request);
    assert.deepEqual(first.retentionRuleCollection.items.map((rule) => rule.id), ["a", "b"]);
    assert.ok(first.opcNextPage);
    const second = await client.listRetentionRules({ ...request, page: first.opcNextPage });
    assert.deepEqual(second.retentionRuleCollection.items.map((rule) => rule.id), ["c"]);
    assert.equal(second.opcNextPage, undefined);
    assert.equal(new Date(second.retentionRuleCollection.items[0].timeRuleLocked!).toISOString(), future);
    await assert.rejects(
      client.listRetentionRules({ ...request, page: "not-a-token" }),
      ociError(400, "InvalidParameter"),
    );
  });
});

// ---------------------------------------------------------------- Vault

Deno.test("Secrets: getSecretBundle returns the content base64; an unknown secret is a 404", async () => {
  await withEmulator({}, async (oci) => {
    const client = connect(SecretsClient, oci);
    const { secretBundle } = await client.getSecretBundle({ secretId: SECRET_ID });
    assert.equal(secretBundle.versionNumber, 1);
    const content = secretBundle.secretBundleContent as { contentType: string; content: string };
    assert.equal(content.contentType, "BASE64");
    assert.match(
      new TextDecoder().decode(Uint8Array.from(atob(content.content), (c) => c.charCodeAt(0))),
      /BEGIN/,
    );
    await assert.rejects(
      client.getSecretBundle({ secretId: "ocid1.vaultsecret.oc1..nope" }),
      ociError(404, "NotAuthorizedOrNotFound"),
    );
  });
});

Deno.test("KMS: sign RAW and DIGEST messages; the signatures verify with the public key", async () => {
  await withEmulator({}, async (oci) => {
    const client = connect(KmsCryptoClient, oci);
    const message = new TextEncoder().encode('{"alg":"RS256"}.{"sub":"archiver"}');
    const publicKey = KeyObject.from(kmsKeyPair.publicKey);
    for (
      const messageType of [
        kmsModels.SignDataDetails.MessageType.Raw,
        kmsModels.SignDataDetails.MessageType.Digest,
      ]
    ) {
      const payload = messageType === "RAW" ? message : createHash("sha256").update(message).digest();
      const { signedData } = await client.sign({
        signDataDetails: {
          keyId: KMS_KEY_ID,
          message: btoa(String.fromCharCode(...payload)),
          messageType,
          signingAlgorithm: kmsModels.SignDataDetails.SigningAlgorithm.Sha256RsaPkcs1V15,
        },
      });
      assert.equal(signedData.keyId, KMS_KEY_ID);
      const signature = Uint8Array.from(atob(signedData.signature), (c) => c.charCodeAt(0));
      assert.ok(nodeVerify("sha256", message, publicKey, signature), messageType);
    }
    await assert.rejects(
      client.sign({
        signDataDetails: {
          keyId: "ocid1.key.oc1..unknown",
          message: btoa("x"),
          signingAlgorithm: kmsModels.SignDataDetails.SigningAlgorithm.Sha256RsaPkcs1V15,
        },
      }),
      ociError(404, "NotAuthorizedOrNotFound"),
    );
  });
});

Deno.test("KMS: GetKey names the current version, GetKeyVersion serves its public key; a rotation adds a version and sign follows", async () => {
  await withEmulator({}, async (oci) => {
    const management = connect(KmsManagementClient, oci);
    const crypto_ = connect(KmsCryptoClient, oci);
    const { key } = await management.getKey({ keyId: KMS_KEY_ID });
    assert.equal(key.keyShape.algorithm, "RSA");
    assert.equal(key.keyShape.length, 256, "RSA 2048 is 256 bytes (key-shape.d.ts)");
    const first = key.currentKeyVersion;
    const { keyVersion } = await management.getKeyVersion({ keyId: KMS_KEY_ID, keyVersionId: first });
    assert.equal(keyVersion.id, first);
    assert.match(keyVersion.publicKey!, /^-----BEGIN PUBLIC KEY-----\n/);
    assert.ok(Date.parse(String(keyVersion.timeCreated)) <= Date.now());

    const rotated = await generateRsaKeyPair();
    const second = oci.rotateKmsKey(KMS_KEY_ID, rotated.privateKey);
    assert.equal((await management.getKey({ keyId: KMS_KEY_ID })).key.currentKeyVersion, second);
    const message = new TextEncoder().encode("checkpoint");
    const sign = async (keyVersionId?: string) => {
      const { signedData } = await crypto_.sign({
        signDataDetails: {
          keyId: KMS_KEY_ID,
          keyVersionId,
          message: btoa(String.fromCharCode(...createHash("sha256").update(message).digest())),
          messageType: kmsModels.SignDataDetails.MessageType.Digest,
          signingAlgorithm: kmsModels.SignDataDetails.SigningAlgorithm.Sha256RsaPkcs1V15,
        },
      });
      return signedData;
    };
    const pinned = await sign(first);
    assert.equal(pinned.keyVersionId, first);
    const signature = (data: { signature: string }) =>
      Uint8Array.from(atob(data.signature), (c) => c.charCodeAt(0));
    assert.ok(
      nodeVerify("sha256", message, keyVersion.publicKey!, signature(pinned)),
      "the pinned old version",
    );
    const current = await sign();
    assert.equal(current.keyVersionId, second);
    assert.ok(nodeVerify("sha256", message, oci.kmsPublicKeyPem(KMS_KEY_ID), signature(current)));
    assert.ok(!nodeVerify("sha256", message, keyVersion.publicKey!, signature(current)));
    assert.deepEqual(oci.kmsSignatures().map((s) => s.keyVersionId), [first, second]);
    await assert.rejects(
      management.getKeyVersion({ keyId: KMS_KEY_ID, keyVersionId: `${first}-nope` }),
      ociError(404, "NotAuthorizedOrNotFound"),
    );
    await assert.rejects(
      management.getKey({ keyId: "ocid1.key.oc1..unknown" }),
      ociError(404, "NotAuthorizedOrNotFound"),
    );
  });
});

// ---------------------------------------------------------------- Audit and Identity

const HOUR_START = Date.UTC(2026, 10, 27, 10, 0);

Deno.test("Audit: listEvents pages one compartment's events in [startTime, endTime) with opc-next-page", async () => {
  const compartmentIds = COMPARTMENTS.map((compartment) => compartment.id);
  const events = generateAuditEvents({
    seed: 3,
    count: 300,
    from: HOUR_START - 10 * 60_000,
    to: HOUR_START + 70 * 60_000,
    compartmentIds,
  });
  await withEmulator({ auditEvents: events, auditPageSize: 7 }, async (oci) => {
    const client = connect(AuditClient, oci);
    const target = "ocid1.compartment.oc1..prod-db";
    // Strings, not Dates: the SDK formats a Date in local time with a "Z" (helper.formatDateToRFC3339).
    const startTime = new Date(HOUR_START).toISOString() as unknown as Date;
    const endTime = new Date(HOUR_START + 60 * 60_000).toISOString() as unknown as Date;
    const received: AuditCloudEvent[] = [];
    let page: string | undefined;
    let pages = 0;
    do {
      const response = await client.listEvents({ compartmentId: target, startTime, endTime, page });
      received.push(...(response.items as unknown as AuditCloudEvent[]));
      page = response.opcNextPage;
      pages++;
    } while (page);
    // The range is on processing time (ListEvents: "Returns events that were processed at or after …").
    const expected = events.filter((event) =>
      event.data.compartmentId === target && processingTimeOf(event) >= HOUR_START &&
      processingTimeOf(event) < HOUR_START + 60 * 60_000
    );
    assert.ok(
      received.some((event) => Date.parse(event.eventTime) < HOUR_START),
      "some events processed in the range happened before it",
    );
    assert.ok(expected.length > 20);
    assert.deepEqual(
      received.map((event) => event.eventId).sort(),
      expected.map((event) => event.eventId).sort(),
    );
    assert.equal(pages, Math.ceil(expected.length / 7));

    await assert.rejects(
      client.listEvents({
        compartmentId: target,
        startTime: "2026-11-27T10:00:30Z" as unknown as Date,
        endTime,
      }),
      ociError(400, "InvalidParameter"),
    );
  });
});

Deno.test("Audit: offset paging orders equal processing times anew per request (a skip for each repeat); a cursor never skips", async () => {
  const compartmentId = COMPARTMENTS[0].id;
  // 15 groups of 4 events processed in the same millisecond (a hand-built event is processed at its eventTime):
  // pages of 10 end inside every other group.
  const events = generateAuditEvents({
    seed: 5,
    count: 60,
    from: HOUR_START,
    to: HOUR_START + 60_000,
    compartmentIds: [compartmentId],
  }).map((event, i) => ({
    ...event,
    eventTime: new Date(HOUR_START + 1_000 * Math.floor(i / 4)).toISOString(),
  }));
  const query = {
    compartmentId,
    startTime: new Date(HOUR_START).toISOString() as unknown as Date,
    endTime: new Date(HOUR_START + 60_000).toISOString() as unknown as Date,
  };
  const list = async (client: AuditClient) => {
    const ids: string[] = [];
    let page: string | undefined;
    do {
      const response = await client.listEvents({ ...query, page });
      ids.push(...response.items.map((event) => event.eventId!));
      page = response.opcNextPage;
    } while (page);
    return ids;
  };
  const all = events.map((event) => event.eventId).sort();
  await withEmulator({ auditEvents: events, auditPageSize: 10, auditPaging: "offset" }, async (oci) => {
    const client = connect(AuditClient, oci);
    let repeated = 0;
    for (let listing = 0; listing < 5; listing++) {
      const ids = await list(client);
      // One event per position: as many sent as listed, and each one sent twice is one not sent.
      assert.equal(ids.length, all.length);
      const distinct = new Set(ids);
      assert.equal(all.filter((id) => !distinct.has(id)).length, ids.length - distinct.size);
      repeated += ids.length - distinct.size;
    }
    assert.ok(repeated > 0, "the page edges inside groups sent some events twice");
  });
  await withEmulator({ auditEvents: events, auditPageSize: 10 }, async (oci) => {
    const client = connect(AuditClient, oci);
    for (let listing = 0; listing < 3; listing++) assert.deepEqual((await list(client)).sort(), all);
  });
});

Deno.test("Audit: events added with a visibleAt are processed then, and listed only from then on", async () => {
  const compartmentId = COMPARTMENTS[0].id;
  const now = Date.now();
  const [early, late] = generateAuditEvents({
    seed: 4,
    count: 2,
    from: now - 120_000,
    to: now - 60_000,
    compartmentIds: [compartmentId],
  });
  await withEmulator({}, async (oci) => {
    // Relative to the emulator being up, with a margin no loaded machine eats between two local requests.
    const added = Date.now();
    oci.addAuditEvents([early], now - 1_000);
    oci.addAuditEvents([late], added + 1_500);
    assert.equal(oci.auditProcessedAt(late.eventId), added + 1_500);
    const client = connect(AuditClient, oci);
    const start = Math.floor((now - 1_000) / 60_000) * 60_000;
    const query = {
      compartmentId,
      startTime: new Date(start).toISOString() as unknown as Date,
      endTime: new Date(start + 120_000).toISOString() as unknown as Date,
    };
    assert.deepEqual((await client.listEvents(query)).items.map((event) => event.eventId), [early.eventId]);
    await new Promise((resolve) => setTimeout(resolve, added + 1_600 - Date.now()));
    assert.deepEqual(
      (await client.listEvents(query)).items.map((event) => event.eventId).sort(),
      [
        early.eventId,
        late.eventId,
      ].sort(),
    );
    assert.throws(() => oci.addAuditEvents([early]), /added twice/);
  });
});

Deno.test("Audit: pages vary in size without a page-size parameter; bodies are the events' wire texts", async () => {
  const compartmentId = COMPARTMENTS[0].id;
  const events = generateAuditEvents({
    seed: 11,
    count: 3000,
    from: HOUR_START,
    to: HOUR_START + 50 * 60_000,
    compartmentIds: [compartmentId],
  });
  await withEmulator({ auditEvents: events, auditMaxPageSize: 2000 }, async (oci) => {
    const client = connect(AuditClient, oci);
    const query = {
      compartmentId,
      startTime: new Date(HOUR_START).toISOString() as unknown as Date,
      endTime: new Date(HOUR_START + 120 * 60_000).toISOString() as unknown as Date,
    };
    const sizes: number[] = [];
    const ids: string[] = [];
    let page: string | undefined;
    do {
      const response = await client.listEvents({ ...query, page });
      sizes.push(response.items.length);
      ids.push(...response.items.map((event) => event.eventId!));
      page = response.opcNextPage;
    } while (page);
    assert.deepEqual(ids.sort(), events.map((event) => event.eventId).sort());
    assert.ok(new Set(sizes).size > 1 && Math.max(...sizes) > 100, `page sizes vary: ${sizes}`);
    const texts = events.map((event) => oci.auditWireText(event.eventId));
    assert.ok(
      texts.some((text) => text.includes("\\/")) && texts.some((text) => /\\u[0-9a-f]{4}/.test(text)),
    );
    assert.ok(texts.some((text) => text.includes('"identity":null')));
    for (const [i, event] of events.entries()) assert.deepEqual(JSON.parse(texts[i]), event);
  });
});

Deno.test("Audit: 404 for unreadable and (optionally) deleted compartments; GetConfiguration", async () => {
  const query = (compartmentId: string) => ({
    compartmentId,
    startTime: "2026-11-27T10:00:00Z" as unknown as Date,
    endTime: "2026-11-27T11:00:00Z" as unknown as Date,
  });
  await withEmulator({
    unreadableCompartments: ["ocid1.compartment.oc1..prod-db"],
    deletedCompartmentEvents: "404",
    auditRetentionDays: 180,
  }, async (oci) => {
    const client = connect(AuditClient, oci);
    await assert.rejects(
      client.listEvents(query("ocid1.compartment.oc1..prod-db")),
      ociError(404, "NotAuthorizedOrNotFound"),
    );
    await assert.rejects(
      client.listEvents(query("ocid1.compartment.oc1..old")),
      ociError(404, "NotAuthorizedOrNotFound"),
    );
    assert.deepEqual((await client.listEvents(query("ocid1.compartment.oc1..prod"))).items, []);
    const { configuration } = await client.getConfiguration({ compartmentId: TENANCY });
    assert.equal(configuration.retentionPeriodDays, 180);
  });
  await withEmulator({ auditConfigurationReadable: false }, async (oci) => {
    const client = connect(AuditClient, oci);
    assert.deepEqual((await client.listEvents(query("ocid1.compartment.oc1..old"))).items, []);
    await assert.rejects(
      client.getConfiguration({ compartmentId: TENANCY }),
      ociError(404, "NotAuthorizedOrNotFound"),
    );
  });
});

Deno.test("Identity: listCompartments returns the whole subtree of the tenancy, paged", async () => {
  await withEmulator({}, async (oci) => {
    const client = connect(IdentityClient, oci);
    const all = [];
    let page: string | undefined;
    do {
      const response = await client.listCompartments({
        compartmentId: TENANCY,
        compartmentIdInSubtree: true,
        accessLevel: "ANY" as never,
        limit: 2,
        page,
      });
      all.push(...response.items);
      page = response.opcNextPage;
    } while (page);
    assert.deepEqual(all.map((compartment) => compartment.name), ["prod", "prod-db", "backup", "dev", "old"]);
    assert.equal(all.find((compartment) => compartment.name === "old")?.lifecycleState, "DELETED");

    const active = await client.listCompartments({
      compartmentId: TENANCY,
      compartmentIdInSubtree: true,
      lifecycleState: "ACTIVE" as never,
    });
    assert.equal(active.items.length, 4);
    const children = await client.listCompartments({ compartmentId: "ocid1.compartment.oc1..prod" });
    assert.deepEqual(children.items.map((compartment) => compartment.name), ["prod-db"]);
    await assert.rejects(
      client.listCompartments({ compartmentId: "ocid1.compartment.oc1..prod", compartmentIdInSubtree: true }),
      ociError(400, "InvalidParameter"),
    );

    oci.setCompartments([...COMPARTMENTS, {
      id: "ocid1.compartment.oc1..new",
      parentId: TENANCY,
      name: "new",
    }]);
    const grown = await client.listCompartments({ compartmentId: TENANCY, compartmentIdInSubtree: true });
    assert.equal(grown.items.at(-1)?.name, "new");
  });
});

// ---------------------------------------------------------------- Logging

Deno.test("Logging: putLogs stores entries; an entry over 1 MB is a 400 and an unknown log a 404", async () => {
  await withEmulator({}, async (oci) => {
    const client = connect(LoggingClient, oci);
    const batch = (data: string[]) => ({
      specversion: "1.0",
      logEntryBatches: [{
        source: "audit-archiver",
        type: "com.example.audit.window",
        subject: "window 2026-11-27T10:00Z",
        defaultlogentrytime: new Date(HOUR_START),
        entries: data.map((text, i) => ({ data: text, id: `entry-${i}` })),
      }],
    });
    await client.putLogs({ logId: LOG_ID, putLogsDetails: batch(['{"a":1}', '{"b":2}']) });
    assert.deepEqual(
      oci.logEntries(LOG_ID).map((entry) => [entry.id, entry.data, entry.source, entry.time]),
      [
        ["entry-0", '{"a":1}', "audit-archiver", new Date(HOUR_START).toISOString()],
        ["entry-1", '{"b":2}', "audit-archiver", new Date(HOUR_START).toISOString()],
      ],
    );
    await assert.rejects(
      client.putLogs({ logId: LOG_ID, putLogsDetails: batch(["small", "x".repeat(1024 * 1024)]) }),
      ociError(400, "InvalidParameter"),
    );
    assert.equal(oci.logEntries(LOG_ID).length, 2, "a refused request stores nothing");
    await assert.rejects(
      client.putLogs({ logId: "ocid1.log.oc1..unknown", putLogsDetails: batch(["x"]) }),
      ociError(404, "NotAuthorizedOrNotFound"),
    );
  });
});

Deno.test("Logging: with logRequestMaxBytes, a request over that many UTF-8 bytes is a 400, however few its characters", async () => {
  // No request limit is documented (docs/oracle/oci-apis.md, "Logging ingestion"): the emulator models one in bytes.
  await withEmulator({ logRequestMaxBytes: 8_000 }, async (oci) => {
    const client = connect(LoggingClient, oci);
    const push = (data: string) =>
      client.putLogs({
        logId: LOG_ID,
        putLogsDetails: {
          specversion: "1.0",
          logEntryBatches: [{
            source: "audit-archiver",
            type: "t",
            defaultlogentrytime: new Date(HOUR_START),
            entries: [{ data, id: "e" }],
          }],
        },
      });
    await push("a".repeat(3_000));
    // 3,000 characters, 9,000 bytes.
    await assert.rejects(push("監".repeat(3_000)), ociError(400, "InvalidParameter"));
    assert.equal(oci.logEntries(LOG_ID).length, 1);
  });
});

// ---------------------------------------------------------------- principals

Deno.test("resource principal: the SDK signs with the RPST's session key and passes; an expired RPST is a 401", async () => {
  await withEmulator({}, async (oci) => {
    await withEnv(oci.resourcePrincipalEnv(), async () => {
      const provider = common.ResourcePrincipalAuthenticationDetailsProvider.builder();
      assert.equal(await provider.getStringClaim("res_tenant"), TENANCY);
      const client = connect(ObjectStorageClient, oci, provider);
      assert.equal((await client.getNamespace({})).value, NAMESPACE);
      await client.putObject({
        namespaceName: NAMESPACE,
        bucketName: BUCKET,
        objectName: "rp.json",
        putObjectBody: "{}",
      });
    });
    await withEnv(oci.resourcePrincipalEnv({ ttlSeconds: -60 }), async () => {
      const client = connect(
        ObjectStorageClient,
        oci,
        common.ResourcePrincipalAuthenticationDetailsProvider.builder(),
      );
      await assert.rejects(client.getNamespace({}), ociError(401, "NotAuthenticated"));
    });
    assert.equal(oci.stats.rejectedSignatures, 1);
  });
});

Deno.test("instance principal: the SDK builder federates with the metadata certificates and its token passes", async () => {
  await withEmulator({}, async (oci) => {
    const builder = new common.InstancePrincipalsAuthenticationDetailsProviderBuilder();
    builder.metadataBaseUrl = oci.metadataBaseUrl;
    builder.federationEndpoint = oci.federationEndpoint;
    try {
      const provider = await builder.build();
      try {
        const client = connect(ObjectStorageClient, oci, provider);
        assert.equal((await client.getNamespace({})).value, NAMESPACE);
        const secrets = connect(SecretsClient, oci, provider);
        await secrets.getSecretBundle({ secretId: SECRET_ID });
        assert.match(await provider.getKeyId(), /^ST\$/);
        assert.equal(oci.stats.byOperation.X509Federation, 1, "the token is cached while valid");
      } finally {
        provider.closeProvider();
      }
    } finally {
      // The builder makes its own circuit breakers whatever the global setting; their timers must stop.
      // (Typed as the SDK's CircuitBreaker wrapper, `circuitBreaker` is in fact the opossum circuit.)
      (builder.circuitBreaker as unknown as { shutdown(): void }).shutdown();
      builder.authCircuitBreaker.circuit?.shutdown();
    }
  });
});

Deno.test("instance metadata needs 'Authorization: Bearer Oracle'; federation checks key, chain and tenancy", async () => {
  await withEmulator({ region: "eu-frankfurt-1" }, async (oci) => {
    const denied = await fetch(`${oci.metadataBaseUrl}instance/region`);
    assert.equal(denied.status, 401);
    await denied.body?.cancel();
    const metadata = async (path: string) =>
      await (await fetch(`${oci.metadataBaseUrl}${path}`, { headers: { authorization: "Bearer Oracle" } }))
        .text();
    assert.equal(await metadata("instance/region"), "eu-frankfurt-1");
    const certificate = await metadata("identity/cert.pem");
    const leafKeyPem = await metadata("identity/key.pem");
    const intermediate = await metadata("identity/intermediate.pem");
    assert.match(certificate, /^-----BEGIN CERTIFICATE-----/);
    assert.match(leafKeyPem, /^-----BEGIN RSA PRIVATE KEY-----/);

    const base64 = (pem: string) => pem.replace(/-----[A-Z ]+-----|\s/g, "");
    const der = Uint8Array.from(atob(base64(certificate)), (c) => c.charCodeAt(0));
    const fingerprint = createHash("sha1").update(der).digest("hex").replace(/(..)(?!$)/g, "$1:");
    const sessionKey = await generateApiKey(TENANCY, "session");
    const federate = (
      options: { signer?: string; intermediates?: string[]; tenancy?: string },
    ) =>
      craftedFetch(oci, {
        method: "POST",
        path: "/v1/x509",
        body: JSON.stringify({
          certificate: base64(certificate),
          publicKey: createPublicKey(createPrivateKey(sessionKey.privateKeyPem))
            .export({ type: "spki", format: "der" }).toString("base64"),
          intermediateCertificates: options.intermediates ?? [base64(intermediate)],
          purpose: "DEFAULT",
        }),
        keyId: `${options.tenancy ?? TENANCY}/fed-x509/${fingerprint}`,
        privateKeyPem: options.signer ?? leafKeyPem,
      });

    const issued = await federate({});
    assert.equal(issued.status, 200);
    const { token } = await issued.json();
    assert.equal(JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).tenant, TENANCY);
    const forger = await generateApiKey(TENANCY, "forger");
    await expectStatus(federate({ signer: forger.privateKeyPem }), 401, "NotAuthenticated");
    await expectStatus(federate({ intermediates: [] }), 401, "NotAuthenticated");
    await expectStatus(federate({ tenancy: "ocid1.tenancy.oc1..other" }), 401, "NotAuthenticated");
    assert.equal(oci.stats.rejectedSignatures, 3);
  });
});

// ---------------------------------------------------------------- faults

Deno.test("faults: one seed replays the same 429/5xx decisions, and 429s carry Retry-After as configured", async () => {
  const run = async () => {
    const statuses: string[] = [];
    await withEmulator(
      { seed: 11, faults: { rate429: 0.3, rate5xx: 0.3, retryAfterRate: 1 } },
      async (oci) => {
        for (let i = 0; i < 30; i++) {
          const answer = await craftedFetch(oci, { method: "GET", path: "/n" });
          if (answer.status === 429) assert.equal(answer.headers.get("retry-after"), "1");
          statuses.push(
            `${answer.status}:${answer.status === 200 ? "" : JSON.parse(await answer.text()).code}`,
          );
          if (answer.status === 200) await answer.body?.cancel();
        }
        assert.equal(oci.stats.faultsInjected, statuses.filter((status) => !status.startsWith("200")).length);
      },
    );
    return statuses;
  };
  const first = await run();
  assert.deepEqual(await run(), first);
  assert.ok(first.some((status) => status === "429:TooManyRequests"));
  assert.ok(first.some((status) => /^50[03]:/.test(status)));
  assert.ok(first.some((status) => status.startsWith("200")));
});

Deno.test("faults: a 412 race stores a competing object first; a reset cuts a GET body", async () => {
  await withEmulator({ faults: { rate412: 1 } }, async (oci) => {
    const client = connect(ObjectStorageClient, oci);
    await assert.rejects(
      client.putObject({
        namespaceName: NAMESPACE,
        bucketName: BUCKET,
        objectName: "raced.json",
        putObjectBody: "mine",
        ifNoneMatch: "*",
      }),
      ociError(412, "IfNoneMatchFailed"),
    );
    const [winner] = oci.objects(BUCKET);
    assert.equal(winner.name, "raced.json");
    assert.notEqual(new TextDecoder().decode(winner.bytes), "mine");
    assert.equal(oci.stats.conditionalPutConflicts, 1);
    // Unconditional writes are not raced.
    await client.putObject({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      objectName: "plain.json",
      putObjectBody: "x",
    });

    oci.putObjectDirect(BUCKET, "big.json", new TextEncoder().encode("y".repeat(100_000)));
    oci.setFaults({ rateReset: 1 });
    const got = await client.getObject({
      namespaceName: NAMESPACE,
      bucketName: BUCKET,
      objectName: "big.json",
    });
    await assert.rejects(readAll(got.value));
    oci.setFaults({});
  });
});

Deno.test("faults: latency delays answers", async () => {
  await withEmulator({ faults: { latencyMs: 150 } }, async (oci) => {
    const started = performance.now();
    await expectStatus(craftedFetch(oci, { method: "GET", path: "/n" }), 200);
    assert.ok(performance.now() - started >= 140);
  });
});

// ---------------------------------------------------------------- test data

Deno.test("generated audit events are deterministic, ordered and spread over the compartments", () => {
  const options = {
    seed: 9,
    count: 500,
    from: HOUR_START,
    to: HOUR_START + 3_600_000,
    compartmentIds: ["a", "b"],
  };
  const events = generateAuditEvents(options);
  assert.deepEqual(generateAuditEvents(options), events);
  assert.equal(new Set(events.map((event) => event.eventId)).size, 500);
  assert.ok(events.every((event, i) => i === 0 || events[i - 1].eventTime <= event.eventTime));
  assert.ok(
    events.every((event) =>
      Date.parse(event.eventTime) >= HOUR_START && Date.parse(event.eventTime) < options.to
    ),
  );
  assert.deepEqual(new Set(events.map((event) => event.data.compartmentId)), new Set(["a", "b"]));
  assert.match(apiKey.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
});
