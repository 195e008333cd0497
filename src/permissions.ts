/**
 * What to run when the permission set refuses something a setting names: the exact command with the grant added.
 *
 * Beside `-P`, an `--allow-read=…` (or `--allow-write=…`, `--allow-net=…`) flag REPLACES the set's whole list
 * for that permission (Deno 2.9), so advice to "add --allow-read=X" takes away ./archive and ./keys. The advice
 * here names the set's list (read from deno.json, the one place the sets are written) plus the new entries.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** The permissions a refusal can be fixed by, each with the entries it lacks. */
export type Grants = Partial<Record<"read" | "write" | "net", string[]>>;

type PermissionSet = Record<string, boolean | string[]>;
const SETS = denoJson.permissions as Record<string, PermissionSet>;

/** How many of a set's entries this process holds, or -1 when it lacks one (then it runs under another). */
function grantedEntries(set: PermissionSet): number {
  let count = 0;
  for (const [name, value] of Object.entries(set)) {
    if (value === true) {
      if (Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state !== "granted") return -1;
      count++;
    }
    if (!Array.isArray(value) || !["read", "write", "net"].includes(name)) continue;
    for (const entry of value) {
      if (Deno.permissions.querySync(descriptorOf(name, entry)).state !== "granted") return -1;
      count++;
    }
  }
  return count;
}

/** The deno.json set this process runs under: the largest whose every entry is granted, else `default`. */
function runningSet(): string {
  const fits = Object.entries(SETS).map(([name, set]) => [name, grantedEntries(set)] as const)
    .filter(([, count]) => count >= 0).sort((a, b) => b[1] - a[1]);
  return fits[0]?.[0] ?? "default";
}

/** The permission query for one entry of a list; a wildcard host through one host it covers (a query cannot name one). */
function descriptorOf(name: string, entry: string): Deno.PermissionDescriptor {
  return (name === "net"
    ? { name, host: entry.replace(/^\*\./, "any.") }
    : { name, path: entry }) as Deno.PermissionDescriptor;
}

/** Whether this process holds every entry of the grants. */
export async function holds(grants: Grants): Promise<boolean> {
  for (const [name, entries] of Object.entries(grants)) {
    for (const entry of entries ?? []) {
      if ((await Deno.permissions.query(descriptorOf(name, entry))).state !== "granted") return false;
    }
  }
  return true;
}

/** The folders that hold files (a bare name is in the working folder): what a grant names. Pure. */
export function foldersOf(paths: string[]): string[] {
  return [
    ...new Set(paths.map((path) => path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".")),
  ];
}

/** Grants that settings need and this process holds (the set's, or flags added to it): every advice keeps them. */
const kept: Grants = {};

/** Keeps grants this process holds for what its settings name, so that no advice drops them. */
export function keepGrants(grants: Grants) {
  Object.assign(kept, mergeGrants(kept, grants));
}

/** Grants as one, each entry once. Pure. */
export function mergeGrants(...all: Grants[]): Grants {
  const result: Grants = {};
  for (const grants of all) {
    for (const [name, entries] of Object.entries(grants) as [keyof Grants, string[]][]) {
      result[name] = [...new Set([...result[name] ?? [], ...entries])];
    }
  }
  return result;
}

/** Whether an entry of a set's list grants an entry (a path below a granted folder, a host a wildcard names). */
function covers(name: keyof Grants, granted: string, entry: string): boolean {
  if (name === "net") {
    const [host, port] = splitHost(entry);
    const [grantedHost, grantedPort] = splitHost(granted);
    const hostMatches = grantedHost.startsWith("*.")
      ? host.endsWith(grantedHost.slice(1))
      : host === grantedHost;
    return hostMatches && (grantedPort === undefined || grantedPort === port);
  }
  const absolute = (path: string) =>
    path.startsWith("/") ? path : `${Deno.cwd()}/${path.replace(/^\.\//, "")}`;
  const [folder, path] = [absolute(granted).replace(/\/$/, ""), absolute(entry)];
  return path === folder || path.startsWith(`${folder}/`);
}

/** `host:port` as [host, port]; a bracketed IPv6 address keeps its brackets. Pure. */
function splitHost(text: string): [string, string | undefined] {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(text);
  return match ? [match[1], match[2]] : [text, undefined];
}

/** The `--allow-…` flags of a set with the grants added: each permission's whole list. Pure. */
function grantFlags(set: PermissionSet, grants: Grants): string[] {
  return Object.entries(grants).filter(([, entries]) => entries?.length).map(([name, entries]) => {
    const listed = set[name];
    const list = Array.isArray(listed) ? listed : [];
    return `--allow-${name}=${[...new Set([...list, ...entries!])].join(",")}`;
  });
}

/** A word as a POSIX shell reads it back: quoted only when it has to be. Pure. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * This program's command line with the grants added: `deno run -q -P … main.ts <the same arguments>`; for the
 * compiled binary, which carries its permissions, the `deno compile` that rebuilds it with them.
 */
function commandWith(grants: Grants): string {
  const setName = runningSet();
  const set = SETS[setName] ?? {};
  // What the settings need and the process holds beyond the set's lists, for every permission the command names
  // or the process holds more of: a flag replaces the set's list, so each names the whole list.
  const beyond: Grants = {};
  for (const [name, entries] of Object.entries(kept) as [keyof Grants, string[]][]) {
    const listed = set[name];
    if (listed === true) continue;
    const more = entries.filter((entry) =>
      !(Array.isArray(listed) && listed.some((granted) => covers(name, granted, entry)))
    );
    if (more.length) beyond[name] = more;
  }
  const flags = [
    setName === "default" ? "-P" : `-P=${setName}`,
    ...grantFlags(set, mergeGrants(beyond, grants)),
  ];
  const binary = Deno.execPath();
  if (!/(^|\/)deno(\.exe)?$/.test(binary)) {
    const compile = ["deno", "compile", "-q", ...flags, "--output", binary, "main.ts"];
    return `${compile.map(shellWord).join(" ")} (in the folder of deno.json), then ${
      [binary, ...Deno.args].map(shellWord).join(" ")
    }`;
  }
  const main = new URL(Deno.mainModule);
  const cwd = `${Deno.cwd()}/`;
  const script = main.protocol !== "file:"
    ? main.href
    : main.pathname.startsWith(cwd)
    ? main.pathname.slice(cwd.length)
    : main.pathname;
  const words = ["deno", "run", "-q", ...flags, script, ...Deno.args];
  return words.map(shellWord).join(" ");
}

/**
 * The advice for a refusal: the complete command that runs again with the grants (the set's whole list for
 * each permission, plus them), in the same folder and environment.
 */
export function grantAdvice(grants: Grants): string {
  const names = Object.keys(grants).filter((name) => grants[name as keyof Grants]?.length);
  const lists = names.length > 1
    ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)} lists`
    : `${names[0]} list`;
  return `to grant it, run (an --allow-… flag replaces the set's list, so each names the whole ${lists}: the set's, what you added before, and this): ${
    commandWith(grants)
  }`;
}
