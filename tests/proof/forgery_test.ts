/**
 * Nothing unauthentic is built on (docs/design.md §6.11, §10): each attack of someone who can create objects in
 * the archive but holds neither the checkpoint key nor the source's credentials, tried as they would try it. A
 * forged window hiding events, one dated 2100, a forged amendment, a planted checkpoint claim or dated
 * checkpoint, a key published into the archive, a retired key: the writer reports and refuses each, `verify`
 * with the pinned public key fails on each, and once the operator removes the forged object (as
 * docs/operations.md says), nothing real is lost.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sha256Hex } from "../../src/bytes.ts";
import { main } from "../../main.ts";
import { generateEvents } from "../emulators/idcs.ts";
import { asFlags, auditArchive, day, forgeHead, idcsArchive, stamp } from "../pass/archives.ts";
import {
  assertCompleteArchive,
  gzip,
  listFiles,
  publicKeyOf,
  recentEvents,
  runCli,
  runMain,
  startDomain,
} from "../harness.ts";

const PREFIX = "audit-archive";

/** An archive of one pass, its checkpoint key, and the auditor's pinned public key. */
async function archived(seed: number) {
  const domain = await startDomain({ events: recentEvents(seed, 300, 2, 60_000) });
  const keyFile = `${domain.dir}/checkpoint.pem`;
  const flags = ["--checkpoint-key-file", keyFile];
  assert.equal(await runMain("once", domain, ...flags), 0);
  const publicKeyFile = `${domain.dir}/auditor-public.pem`;
  await Deno.writeTextFile(publicKeyFile, await publicKeyOf(keyFile));
  const path = (name: string) => `${domain.archiveDir}/${name}`;
  const chain = (await listFiles(domain.archiveDir)).find((n) => n.endsWith("/genesis.json"))!
    .replace(/\/genesis\.json$/, "");
  const once = () => runCli(["once", ...flags], { env: { ...domain.env, LOG_LEVEL: "error" } });
  const verify = async () => {
    const result = await runCli(["verify", "--public-key", publicKeyFile], {
      env: { ARCHIVE_DIR: domain.archiveDir },
    });
    return { code: result.code, problems: JSON.parse(result.stdout).problems.join("\n") as string };
  };
  /** The newest window's manifest, as stored. */
  const head = async () => {
    const name = (await listFiles(domain.archiveDir)).filter((n) =>
      n.startsWith(chain) && /\d{8}T\d{6}\.\d{3}Z\.manifest\.json$/.test(n)
    ).sort().at(-1)!;
    return { name, bytes: await Deno.readFile(path(name)) };
  };
  /** A window hashed onto the real head, unsigned: what someone without the key can add. */
  const forgeWindow = async (end: number, lines: string[] = []) => {
    const previous = await head();
    const manifest = JSON.parse(new TextDecoder().decode(previous.bytes));
    const start = Date.parse(manifest.end);
    const data = await gzip(new TextEncoder().encode(lines.map((l) => `${l}\n`).join("")));
    const dataName = `${chain}/${day(start)}/${stamp(start)}--${stamp(end)}.ndjson.gz`;
    const forged = {
      ...manifest,
      start: new Date(start).toISOString(),
      end: new Date(end).toISOString(),
      object: dataName,
      events: lines.length,
      bytes: data.length,
      sha256: await sha256Hex(data),
      previous: await sha256Hex(previous.bytes),
      committedAt: new Date().toISOString(),
      keyId: undefined,
      signature: undefined,
    };
    const manifestName = `${chain}/${day(start)}/${stamp(start)}.manifest.json`;
    await Deno.mkdir(path(manifestName).replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeFile(path(dataName), data);
    await Deno.writeTextFile(path(manifestName), JSON.stringify(forged) + "\n");
    return { start, names: [manifestName, dataName] };
  };
  return { domain, keyFile, flags, publicKeyFile, path, chain, once, verify, head, forgeWindow };
}

Deno.test("a forged empty window over real events: the next pass refuses it, verify fails, and once removed nothing is lost", async () => {
  const archive = await archived(501);
  try {
    const { start, names } = await archive.forgeWindow(Date.now() + 3_000);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    // Thirty real events sit at the source in the range the forged window claims.
    archive.domain.emulator.addEvents(
      generateEvents({ seed: 5011, count: 30, from: start + 100, to: start + 2_900 }),
    );
    const refused = await archive.once();
    assert.equal(refused.code, 1, "the pass fails for the chain");
    assert.match(
      refused.stderr,
      new RegExp(`${names[0]} is not vouched for by the archiver's key \\(it is not signed\\)`),
    );
    assert.equal((await archive.head()).name, names[0], "nothing was committed after the forged window");
    const status = JSON.parse(
      (await runCli(["status"], {
        env: { ARCHIVE_DIR: archive.domain.archiveDir, CHECKPOINT_KEY_FILE: archive.keyFile },
      })).stdout,
    );
    assert.match(status.chains[0].warnings.join("\n"), /is not vouched for by the archiver's key/);
    // Reconcile does not amend it either: an amendment is never chained onto a forged window.
    const reconciled = await runCli(["reconcile", ...archive.flags], { env: archive.domain.env });
    assert.equal(reconciled.code, 1);
    assert.ok(
      !(await listFiles(archive.domain.archiveDir)).some((n) => n.includes(".amend-")),
      "no amendment",
    );
    const verified = await archive.verify();
    assert.equal(verified.code, 1);
    assert.match(
      verified.problems,
      new RegExp(`${names[0]}: it is not signed, and no authentic checkpoint names it`),
    );

    // The operator removes the forged objects (docs/operations.md): the next pass archives the thirty events.
    for (const name of names) await Deno.remove(archive.path(name));
    assert.equal((await archive.once()).code, 0);
    const complete = await assertCompleteArchive(archive.domain);
    assert.equal(complete.ids.length, 330);
    assert.equal((await archive.verify()).code, 0);
  } finally {
    await archive.domain.close();
  }
});

Deno.test("a forged window ending in 2100 is refused as ahead of the clock, and no checkpoint signs it", async () => {
  const archive = await archived(502);
  try {
    const { names } = await archive.forgeWindow(Date.parse("2100-01-01T00:00:00Z"));
    const refused = await archive.once();
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is dated 2100-01-01T00:00:00\.000Z, ahead of this clock/);
    const checkpoints = (await listFiles(archive.domain.archiveDir)).filter((n) =>
      n.endsWith(".checkpoint.json")
    );
    for (const name of checkpoints) {
      const checkpoint = JSON.parse(await Deno.readTextFile(archive.path(name)));
      assert.ok(checkpoint.chains.every((c: { frontier: string }) => !c.frontier.startsWith("2100")), name);
    }
    const status = JSON.parse(
      (await runCli(["status"], {
        env: { ARCHIVE_DIR: archive.domain.archiveDir, CHECKPOINT_KEY_FILE: archive.keyFile },
      })).stdout,
    );
    assert.ok(Date.parse(status.checkpoint.time) <= Date.now(), "status follows no forged time");
    assert.match((await archive.verify()).problems, new RegExp(`${names[0]}: it is dated 2100`));
  } finally {
    await archive.domain.close();
  }
});

Deno.test("a window signed with a key the attacker published into the archive is refused; verify --public-key fails it", async () => {
  const archive = await archived(503);
  try {
    // The attacker runs the program with a key of their own on a copy, to learn how a signed window looks,
    // then publishes their key record beside the real ones and plants a window sealed with it.
    const attacker = await startDomain({ events: recentEvents(5031, 50, 1, 60_000) });
    const attackerKey = `${attacker.dir}/attacker.pem`;
    assert.equal(await runMain("once", attacker, "--checkpoint-key-file", attackerKey), 0);
    const theirs = (await listFiles(attacker.archiveDir)).filter((n) => n.includes("/_checkpoints/keys/"));
    for (const name of theirs) {
      await Deno.copyFile(`${attacker.archiveDir}/${name}`, archive.path(name));
    }
    const { names } = await archive.forgeWindow(Date.now());
    const forged = JSON.parse(await Deno.readTextFile(archive.path(names[0])));
    const sealed = JSON.parse(
      await Deno.readTextFile(
        `${attacker.archiveDir}/${
          (await listFiles(attacker.archiveDir)).find((n) => n.endsWith(".manifest.json"))
        }`,
      ),
    );
    forged.keyId = sealed.keyId;
    forged.signature = sealed.signature; // a real signature of theirs, over other bytes
    await Deno.writeTextFile(archive.path(names[0]), JSON.stringify(forged) + "\n");
    await attacker.close();

    const refused = await archive.once();
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`its key ${sealed.keyId} is not one the archiver trusts`));
    assert.match((await archive.verify()).problems, new RegExp(names[0]));
  } finally {
    await archive.domain.close();
  }
});

Deno.test("a planted dated checkpoint in 2100 is passed over; a planted claim stops the sequence loudly until removed", async () => {
  const archive = await archived(504);
  try {
    const files = await listFiles(archive.domain.archiveDir);
    const real = files.filter((n) => n.endsWith(".checkpoint.json")).sort().at(-1)!;
    const checkpoint = JSON.parse(await Deno.readTextFile(archive.path(real)));
    const planted = { ...checkpoint, sequence: checkpoint.sequence + 1, time: "2100-01-01T00:00:00.000Z" };
    const dated = `${PREFIX}/_checkpoints/2100/01/01/21000101T000000.000Z.checkpoint.json`;
    await Deno.mkdir(archive.path(dated).replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(archive.path(dated), JSON.stringify(planted) + "\n");
    const passed = await archive.once();
    assert.equal(passed.code, 0, passed.stderr);
    assert.match(passed.stderr, new RegExp(`${dated} is not vouched for`));
    const newest = (await listFiles(archive.domain.archiveDir)).filter((n) =>
      n.endsWith(".checkpoint.json") && n !== dated
    ).sort().at(-1)!;
    const written = JSON.parse(await Deno.readTextFile(archive.path(newest)));
    assert.equal(written.sequence, checkpoint.sequence + 1, "the sequence goes on from the real checkpoint");
    assert.ok(Date.parse(written.time) <= Date.now(), "dated by this clock, not after 2100");
    assert.match((await archive.verify()).problems, new RegExp(dated));
    await Deno.remove(archive.path(dated));

    // A claim on the place after the real tip: the checkpoint cannot go on there, and the pass says so.
    const tipBytes = await Deno.readFile(archive.path(newest));
    const claim = `${PREFIX}/_checkpoints/claims/${await sha256Hex(tipBytes)}.json`;
    await Deno.writeTextFile(
      archive.path(claim),
      JSON.stringify({ ...written, sequence: written.sequence + 1, time: "2100-01-01T00:00:00.000Z" }) + "\n",
    );
    const stopped = await archive.once();
    assert.equal(stopped.code, 1);
    assert.match(stopped.stderr, new RegExp(`${claim} is not vouched for`));
    await Deno.remove(archive.path(claim));
    assert.equal((await archive.once()).code, 0, "after the operator removed it, checkpoints go on");
    assert.equal((await archive.verify()).code, 0);
  } finally {
    await archive.domain.close();
  }
});

Deno.test("a checkpoint or a window signed by a key a newer one replaced is reported as signed with a retired key", async () => {
  const archive = await archived(505);
  try {
    const newKey = `${archive.domain.dir}/new-checkpoint.pem`;
    const oldPublic = archive.publicKeyFile;
    const env = { ...archive.domain.env, LOG_LEVEL: "error" };
    // Rotation: the new key builds on the old one's records once that is pinned.
    const rotated = await runCli(["once", "--checkpoint-key-file", newKey], {
      env: { ...env, CHECKPOINT_PUBLIC_KEYS: oldPublic },
    });
    assert.equal(rotated.code, 0, rotated.stderr);
    const newPublic = `${archive.domain.dir}/new-public.pem`;
    await Deno.writeTextFile(newPublic, await publicKeyOf(newKey));
    // The retired key signs again (a stolen old key file, or a forgotten instance): a checkpoint, and a window.
    const now = Date.now();
    archive.domain.emulator.addEvents(
      generateEvents({ seed: 5051, count: 5, from: now - 2_000, to: now - 1_000 }),
    );
    const retired = await runCli(["once", ...archive.flags], {
      env: { ...env, CHECKPOINT_PUBLIC_KEYS: newPublic },
    });
    assert.equal(retired.code, 0, retired.stderr);
    const result = await runCli(["verify", "--public-key", oldPublic, "--public-key", newPublic], {
      env: { ARCHIVE_DIR: archive.domain.archiveDir },
    });
    assert.equal(result.code, 1);
    const problems = JSON.parse(result.stdout).problems.join("\n");
    assert.match(
      problems,
      /checkpoint\.json is signed with key [0-9a-f]{16}, which a newer key had replaced/,
    );
    assert.match(problems, /manifest\.json is sealed with key [0-9a-f]{16}, which a newer key had replaced/);
  } finally {
    await archive.domain.close();
  }
});

Deno.test("verify without a pinned key says which keys it trusted and that they came from the archive", async () => {
  const archive = await archived(506);
  try {
    const plain = await runCli(["verify"], { env: { ARCHIVE_DIR: archive.domain.archiveDir } });
    const report = JSON.parse(plain.stdout);
    assert.equal(plain.code, 0);
    assert.equal(report.trust.from, "archive");
    assert.match(report.trust.note, /pin yours with --public-key or CHECKPOINT_PUBLIC_KEYS/);
    const pinned = await runCli(["verify"], {
      env: { ARCHIVE_DIR: archive.domain.archiveDir, CHECKPOINT_PUBLIC_KEYS: archive.publicKeyFile },
    });
    assert.equal(pinned.code, 0, pinned.stdout);
    assert.equal(JSON.parse(pinned.stdout).trust.from, "pinned");
  } finally {
    await archive.domain.close();
  }
});

for (
  const [source, sink, seed] of [
    ["idcs", "dir", 511],
    ["idcs", "oci", 512],
    ["oci-audit", "dir", 513],
    ["oci-audit", "oci", 514],
  ] as const
) {
  Deno.test(`${source} → ${sink}: a forged window on the chain's head is refused until removed, then nothing is lost`, async () => {
    const archive = source === "idcs" ? await idcsArchive(sink, seed) : await auditArchive(sink, seed);
    try {
      assert.equal(await main(["once", ...asFlags(archive.env)]), 0);
      const names = await forgeHead(archive);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const refused = await runCli(["once"], { env: archive.env });
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, new RegExp(`${names[0]} is not vouched for by the archiver's key`));
      for (const name of names) await archive.remove(name);
      assert.equal((await runCli(["once"], { env: archive.env })).code, 0);
      const held = await archive.read();
      assert.deepEqual([...held.ids].sort(), archive.truth(held.frontier!), "nothing lost, nothing twice");
    } finally {
      await archive.close();
    }
  });
}

Deno.test("a whole chain copied to another scope is never signed into a checkpoint, and verify reports its records", async () => {
  const archive = await archived(507);
  try {
    const copy = archive.chain.replace(/[^/]+$/, "idcs-fabricated");
    const copied = await new Deno.Command("cp", {
      args: ["-r", archive.path(archive.chain), archive.path(copy)],
    })
      .output();
    assert.ok(copied.success);
    assert.equal((await archive.once()).code, 0);
    const newest = (await listFiles(archive.domain.archiveDir)).filter((n) => n.endsWith(".checkpoint.json"))
      .sort()
      .at(-1)!;
    const { chains } = JSON.parse(await Deno.readTextFile(archive.path(newest)));
    assert.deepEqual(
      chains.map((c: { chain: string }) => c.chain),
      [archive.chain],
      "only the configured chain",
    );
    const verified = await archive.verify();
    assert.equal(verified.code, 1);
    assert.ok(verified.problems.includes(`${copy}/genesis.json is a record of idcs/`), verified.problems);
  } finally {
    await archive.domain.close();
  }
});
