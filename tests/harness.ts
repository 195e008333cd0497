/**
 * Shared test harness: an emulated identity domain with a registered key on disk, the program run for real
 * (in-process through `main()` or as a `deno run -P=local` subprocess), and readers of what it archived.
 *
 * @module
 */

import { main } from "../main.ts";
import { DirectorySink } from "../src/archive/directory_sink.ts";
import { gunzip, parseManifest } from "../src/archive/format.ts";
import { verifyArchive, type VerifyReport } from "../src/proof/verify.ts";
import {
  type AuditEvent,
  generateClientKey,
  generateEvents,
  type IdcsEmulator,
  type IdcsEmulatorOptions,
  type IdcsFaults,
  startIdcsEmulator,
} from "./emulators/idcs.ts";

export const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const CLIENT_ID = "audit-archiver-test-client";
export const KEY_ID = "archiver-cert";
export const HOUR = 3_600_000;
export const DAY = 86_400_000;
/** MAX_RETRY_WAIT for every test run: the program's own setting, so retries under faults do not sleep for seconds. */
export const TEST_RETRY_WAIT = "100ms";

export interface Domain {
  emulator: IdcsEmulator;
  /** A fresh temporary folder holding the key file and the archive. */
  dir: string;
  archiveDir: string;
  keyFile: string;
  pkcs8Pem: string;
  /** The settings that point the program at this domain and archive, as flags. */
  args: string[];
  /** The same settings as environment variables. */
  env: Record<string, string>;
  /** What the archive holds, read from its store directly (not through the program's readers). */
  read(): Promise<ArchiveContents>;
  /** The program's own verify of the archive: its problems. */
  verify(): Promise<string[]>;
  /** Ids the source returns for times before `frontier`: what the archive must hold exactly. */
  truth(frontier: number): string[];
  /** The names of every stored file or object. */
  files(): Promise<string[]>;
  /** Every stored byte as text, data decompressed: what must hold no secret. */
  text(): Promise<string>;
  close(): Promise<void>;
}

/** Starts an emulated domain with `events` and writes its client key (PKCS#1 when asked) to a temp folder. */
let clientKey: ReturnType<typeof generateClientKey> | undefined;
/**
 * The client key of every domain a test process starts: generating an RSA key takes half a second of CPU, and
 * each domain is its own emulator, so sharing the key across them proves nothing less. A test that needs a key
 * the domain does not know calls generateClientKey itself.
 */
const domainClientKey = () => clientKey ??= generateClientKey();

export async function startDomain(options: {
  events?: AuditEvent[];
  faults?: IdcsFaults;
  seed?: number;
  pkcs1?: boolean;
  since?: string;
  /** Authenticate with this client secret instead of the key. */
  clientSecret?: string;
  extraArgs?: string[];
  /** Further emulator options (`prettyPages`, `redirectTo`, `claimedTotalResults`, …). */
  emulator?: Partial<IdcsEmulatorOptions>;
} = {}): Promise<Domain> {
  const key = await domainClientKey();
  const dir = await Deno.makeTempDir({ prefix: "audit-archiver-test-" });
  const keyFile = `${dir}/client-key.pem`;
  await Deno.writeTextFile(keyFile, options.pkcs1 ? key.pkcs1Pem : key.pkcs8Pem);
  const emulator = await startIdcsEmulator({
    clientId: CLIENT_ID,
    keyId: KEY_ID,
    publicKey: key.publicKey,
    events: options.events ?? [],
    faults: options.faults,
    seed: options.seed ?? 1,
    clientSecret: options.clientSecret,
    ...options.emulator,
  });
  const archiveDir = `${dir}/archive`;
  const env: Record<string, string> = {
    IDCS_URL: emulator.url,
    IDCS_CLIENT_ID: CLIENT_ID,
    ...(options.clientSecret
      ? { IDCS_CLIENT_SECRET: options.clientSecret }
      : { IDCS_KEY_ID: KEY_ID, IDCS_PRIVATE_KEY_FILE: keyFile }),
    ARCHIVE_DIR: archiveDir,
    SINCE: options.since ?? "4d",
    SETTLE: "0s",
    // Passes back to back: the default MIN_INTERVAL (1m) would skip a pass whose frontier is SETTLE (0s) old.
    MIN_INTERVAL: "0s",
    MAX_RETRY_WAIT: TEST_RETRY_WAIT,
    LOG_LEVEL: "error",
  };
  // A secret is never a flag (the program refuses it: a command line is visible in ps): it goes in --config.
  const { IDCS_CLIENT_SECRET: secret, ...flagged } = env;
  const secretArgs: string[] = [];
  if (secret !== undefined) {
    await Deno.writeTextFile(`${dir}/secrets.json`, JSON.stringify({ IDCS_CLIENT_SECRET: secret }));
    secretArgs.push("--config", `${dir}/secrets.json`);
  }
  const args = [
    ...Object.entries(flagged).flatMap((
      [name, value],
    ) => [`--${name.toLowerCase().replaceAll("_", "-")}`, value]),
    ...secretArgs,
  ];
  return {
    emulator,
    dir,
    archiveDir,
    keyFile,
    pkcs8Pem: key.pkcs8Pem,
    args: [...args, ...(options.extraArgs ?? [])],
    env,
    read: () => readArchive(archiveDir),
    verify: async () => (await verifyDir(archiveDir)).problems,
    truth: (frontier) => truthBefore(emulator, frontier),
    files: () => listFiles(archiveDir),
    text: () => archiveText(archiveDir),
    close: async () => {
      await emulator.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Events spread over the last `days` days up to `endBackMs` before now, many sharing a millisecond. */
export function recentEvents(seed: number, count: number, days = 3, endBackMs = 60_000, tieRate = 0.3) {
  const now = Date.now();
  return generateEvents({ seed, count, from: now - days * DAY, to: now - endBackMs, tieRate });
}

/** Runs one command in-process through the program's own `main()`. */
export function runMain(command: string, domain: { args: string[] }, ...extra: string[]): Promise<number> {
  return main([command, ...domain.args, ...extra]);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  killed: boolean;
}

/**
 * Runs the program as an operator would: `deno run -P=local main.ts …` (the production permission set plus
 * loopback and /tmp), optionally killed with SIGKILL after `killAfterMs`.
 */
export async function runCli(
  args: string[],
  options: {
    env?: Record<string, string>;
    killAfterMs?: number;
    permissionSet?: string;
    /** Explicit permission flags instead of a named set (see `permissionFlags`). */
    permissionFlags?: string[];
    /** Working directory (relative paths of a permission set resolve against it). @default REPO */
    cwd?: string;
    /** Called with the process once it is spawned: a test can signal it at a moment of its choosing. */
    onSpawn?: (child: Deno.ChildProcess) => void;
  } = {},
): Promise<CliResult> {
  const permissions = options.permissionFlags ?? [`-P=${options.permissionSet ?? "local"}`];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", `--config=${REPO}/deno.json`, ...permissions, "--quiet", `${REPO}/main.ts`, ...args],
    cwd: options.cwd ?? REPO,
    // Only what Deno itself needs to find its cache, plus the test's settings.
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...denoDir(), ...options.env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  options.onSpawn?.(child);
  let killed = false;
  const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, options.killAfterMs);
  const output = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    killed,
  };
}

/**
 * The flags of a named permission set of deno.json, with `extraNet` hosts added to its network list: e.g. the
 * production `default` set plus loopback, so the program can reach the emulators and nothing more.
 */
export async function permissionFlags(set: string, extraNet: string[] = []): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${REPO}/deno.json`));
  const permissions = config.permissions?.[set] as Record<string, boolean | string[]> | undefined;
  if (!permissions) throw new TypeError(`deno.json has no permission set ${set}`);
  const flags: string[] = [];
  for (const [name, value] of Object.entries({ ...permissions, net: permissions.net ?? [] })) {
    const list = name === "net" && Array.isArray(value) ? [...value, ...extraNet] : value;
    if (list === true) flags.push(`--allow-${name}`);
    else if (Array.isArray(list) && list.length) flags.push(`--allow-${name}=${list.join(",")}`);
  }
  return flags;
}

export function denoDir(): Record<string, string> {
  const dir = Deno.env.get("DENO_DIR");
  return dir ? { DENO_DIR: dir } : {};
}

/** Every file below a folder, with paths relative to it. */
export async function listFiles(root: string, prefix = ""): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${root}/${prefix}`)) {
      const name = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory) names.push(...await listFiles(root, name));
      else names.push(name);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

export interface ArchiveContents {
  /** Every archived event id, once per time it is stored (duplicates stay visible). */
  ids: string[];
  /** The raw lines, in storage order. */
  lines: string[];
  objects: number;
  /** The data object each event is stored in. */
  objectOf: Map<string, string>;
  /** The end of the last committed window (of the main segment), or undefined. */
  frontier?: number;
}

/** Reads the archive straight from disk (not through the program's own readers). */
export async function readArchive(archiveDir: string): Promise<ArchiveContents> {
  const files = await listFiles(archiveDir);
  const contents: ArchiveContents = { ids: [], lines: [], objects: 0, objectOf: new Map() };
  for (const name of files.filter((n) => n.endsWith(".ndjson.gz"))) {
    const text = new TextDecoder().decode(await gunzip(await Deno.readFile(`${archiveDir}/${name}`)));
    const lines = text.split("\n").filter(Boolean);
    contents.lines.push(...lines);
    for (const line of lines) {
      const event = JSON.parse(line);
      const id = event.id ?? event.eventId; // identity-domain events carry id, OCI Audit events eventId
      contents.ids.push(id);
      contents.objectOf.set(id, name);
    }
    contents.objects++;
  }
  for (const name of files.filter((n) => n.endsWith(".manifest.json"))) {
    const manifest = parseManifest(await Deno.readFile(`${archiveDir}/${name}`))!;
    const end = Date.parse(manifest.end);
    if (contents.frontier === undefined || end > contents.frontier) contents.frontier = end;
  }
  return contents;
}

/** Ids the emulator returns for times before `frontier`: what the archive must hold exactly. */
export function truthBefore(emulator: IdcsEmulator, frontier: number): string[] {
  return emulator.visibleEvents().filter((e) => Date.parse(e.timestamp) < frontier).map((e) => e.id).sort();
}

/** The program's own verification of an archive folder. */
export function verifyDir(archiveDir: string): Promise<VerifyReport> {
  return verifyArchive(new DirectorySink(archiveDir), "audit-archive");
}

/**
 * Invariants 1–3 for one archive: no id twice (2), exactly the source's events before the frontier (1), and
 * the program's own verify finds nothing (3). `context` is printed on failure (a fault suite scenario).
 */
export async function assertCompleteArchive(
  domain: Pick<Domain, "read" | "verify" | "truth">,
  context = "",
): Promise<ArchiveContents> {
  const archive = await domain.read();
  const suffix = context ? `: ${context}` : "";
  if (duplicates(archive.ids).length) {
    throw new Error(`events stored twice: ${duplicates(archive.ids).slice(0, 5)}${suffix}`);
  }
  const stored = [...archive.ids].sort();
  const truth = archive.frontier === undefined ? [] : domain.truth(archive.frontier);
  const storedIds = new Set(stored);
  const missing = truth.filter((id) => !storedIds.has(id));
  if (missing.length || stored.length !== truth.length) {
    throw new Error(
      `archive differs from the source: ${missing.length} missing, ${stored.length} stored, ${truth.length} expected${suffix}`,
    );
  }
  const problems = await domain.verify();
  if (problems.length) throw new Error(`verify failed: ${problems.slice(0, 5).join("; ")}${suffix}`);
  return archive;
}

/** Ids that occur more than once. */
export function duplicates(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => seen.has(id) || !seen.add(id));
}

/**
 * Fails when `text` holds anything secret of this domain: a line of the private key, a client assertion or any
 * other JWT, a bearer credential, or one of `extra` (client secrets, tokens the emulator issued).
 */
export function assertNoSecrets(text: string, keyPem: string, extra: string[] = [], where = "output") {
  const keyLines = keyPem.split("\n").filter((line) => line.length >= 40 && !line.startsWith("-----"));
  for (const line of keyLines) {
    if (text.includes(line)) throw new Error(`${where} contains a line of the private key`);
  }
  if (/eyJ[A-Za-z0-9_-]{8,}\.eyJ/.test(text)) throw new Error(`${where} contains a JWT (client assertion)`);
  if (/Bearer [A-Za-z0-9]|Basic [A-Za-z0-9+/=]{8}|client_assertion=|access_token/.test(text)) {
    throw new Error(`${where} contains a credential`);
  }
  for (const secret of extra) if (text.includes(secret)) throw new Error(`${where} contains a secret value`);
}

/** Every byte the archive holds, data decompressed, as text: what must hold no secret. */
export async function archiveText(archiveDir: string): Promise<string> {
  const parts: string[] = [];
  for (const name of await listFiles(archiveDir)) {
    const bytes = await Deno.readFile(`${archiveDir}/${name}`);
    parts.push(new TextDecoder().decode(name.endsWith(".gz") ? await gunzip(bytes) : bytes));
  }
  return parts.join("\n");
}

/** Waits for `probe` to give a value (a failed probe counts as none), up to `timeoutMs`; says what it waited for. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A loopback port nothing listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Settings as the program's flags: `{ OCI_LOG_ID: x }` → `["--oci-log-id", x]`. */
export const asFlags = (settings: Record<string, string>) =>
  Object.entries(settings).flatMap((
    [name, value],
  ) => [`--${name.toLowerCase().replaceAll("_", "-")}`, value]);

/** gzip of bytes, as a test writes its own objects (the program only ever decompresses what it reads). */
export const gzip = async (bytes: Uint8Array) =>
  new Uint8Array(
    await new Response(
      new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip")),
    )
      .arrayBuffer(),
  );

/** The public key of an Ed25519 key file as SPKI PEM: what the auditor pins. */
export async function publicKeyOf(keyFile: string): Promise<string> {
  const body = (await Deno.readTextFile(keyFile)).replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  const privateKey = await crypto.subtle.importKey("pkcs8", der, "Ed25519", true, ["sign"]);
  const { x } = await crypto.subtle.exportKey("jwk", privateKey);
  const publicKey = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x }, "Ed25519", true, [
    "verify",
  ]);
  const spki = btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.exportKey("spki", publicKey))));
  return `-----BEGIN PUBLIC KEY-----\n${spki.match(/.{1,64}/g)!.join("\n")}\n-----END PUBLIC KEY-----\n`;
}
