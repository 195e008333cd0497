/**
 * The OCI SDK's per-service packages, loaded only when the configuration uses them.
 *
 * @module
 */

import process from "node:process";
import type * as Common from "oci-common";
import { log } from "../log.ts";
import { keepGrants } from "../permissions.ts";

/**
 * The OCI SDK's per-service packages, each loaded only when a setting needs it (`sdkPackages`): together they
 * cost 0.3 s at start, and a dependency prints a `punycode` deprecation warning into the log stream.
 */
const SDK_PACKAGES = {
  objectstorage: () => import("oci-objectstorage"),
  secrets: () => import("oci-secrets"),
  keymanagement: () => import("oci-keymanagement"),
  audit: () => import("oci-audit"),
  identity: () => import("oci-identity"),
  loggingingestion: () => import("oci-loggingingestion"),
};

export type SdkPackage = keyof typeof SDK_PACKAGES;

export type Sdk =
  & { common: typeof Common }
  & { [P in SdkPackage]: Awaited<ReturnType<(typeof SDK_PACKAGES)[P]>> };

/** oci-common and `packages`; using a package that was not loaded is a bug in `sdkPackages`, said as such. */
export async function loadSdk(packages: SdkPackage[]): Promise<Sdk> {
  const sdk: Record<string, unknown> = { common: await import("oci-common") };
  await Promise.all(packages.map(async (name) => sdk[name] = await SDK_PACKAGES[name]()));
  for (const name of Object.keys(SDK_PACKAGES).filter((name) => !(name in sdk))) {
    Object.defineProperty(sdk, name, {
      get: () => {
        throw new Error(`internal: OCI SDK package ${name} not loaded (sdkPackages)`);
      },
    });
  }
  return sdk as Sdk;
}

/**
 * What the process must look like before the SDK loads; called by `main()`, as it changes process-wide state.
 * A dependency prints a `punycode` deprecation warning, and the SDK prints plain-text warnings ("Request cannot
 * be retried…"): as debug log lines they keep stderr one JSON object per line (nothing else here writes with
 * console.warn).
 */
export function prepareProcessForSdk() {
  process.noDeprecation = true;
  console.warn = (...parts: unknown[]) =>
    log("debug", "OCI SDK", { message: parts.map(String).join(" ").slice(0, 500) });
}

/**
 * Gives the SDK a home folder it may read, and returns the user's (what `~` means in our settings). The SDK
 * probes ~/.oci/{config,regions-config.json,…}, and a probe of a path the permission set does not grant is an
 * error; a set cannot name a home folder, so where ~/.oci is not granted the SDK's "~" is the program's own
 * configuration folder, which the set grants.
 */
export function pointSdkHome(): string | undefined {
  const home = Deno.env.get("HOME") || undefined;
  if (!home || Deno.permissions.querySync({ name: "read", path: `${home}/.oci` }).state !== "granted") {
    Deno.env.set("HOME", CONFIG_FOLDER);
  } else {
    keepGrants({ read: [`${home}/.oci`] }); // granted by a flag added to -P: later advice keeps it
  }
  return home;
}

/** Where the default permission set lets the program read its OCI configuration: `.oci/config` below it. */
export const CONFIG_FOLDER = "/etc/audit-archiver";
