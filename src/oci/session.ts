/**
 * OCI authentication: config file, instance principal or resource principal, chosen once.
 *
 * @module
 */

import type * as Common from "oci-common";
import type { OciAuthMode, OciConfig } from "../config/validate.ts";
import { ArchiveError } from "../errors.ts";
import { log } from "../log.ts";
import { loadSdk, type Sdk, type SdkPackage, userOciFoldersRefused } from "./sdk.ts";
import { grantAdvice } from "../permissions.ts";

/** An authenticated OCI session: the SDK, its provider, and how it was chosen. */
export interface OciSession {
  sdk: Sdk;
  provider: Common.AuthenticationDetailsProvider;
  mode: OciAuthMode;
  config: OciConfig;
}

const METADATA_URL = "http://169.254.169.254/opc/v2";

/**
 * `auto` as docs/configuration.md orders it: resource principal when its variables are set (Container Instances,
 * Functions), else instance principal when the metadata service answers (a VM), else the config file.
 */
async function chooseOciAuth(config: OciConfig): Promise<{ mode: OciAuthMode; why: string }> {
  if (config.auth !== "auto") return { mode: config.auth, why: "OCI_AUTH" };
  if (Deno.env.get("OCI_RESOURCE_PRINCIPAL_VERSION")) {
    return { mode: "resource_principal", why: "OCI_RESOURCE_PRINCIPAL_VERSION is set" };
  }
  const metadata = config.endpoints.metadata ?? METADATA_URL;
  try {
    const response = await fetch(`${metadata}/instance/region`, {
      headers: { authorization: "Bearer Oracle" },
      redirect: "error",
      signal: AbortSignal.timeout(1_000),
    });
    await response.body?.cancel();
    if (response.ok) return { mode: "instance_principal", why: "the instance metadata service answered" };
  } catch {
    // Not on an OCI instance: fall through to the config file.
  }
  return { mode: "config", why: "no resource principal variables and no instance metadata service" };
}

export async function openOciSession(config: OciConfig, packages: SdkPackage[]): Promise<OciSession> {
  const sdk = await loadSdk(packages);
  const { common } = sdk;
  const { mode, why } = await chooseOciAuth(config);
  log("info", "OCI authentication chosen", { mode, why });
  try {
    let provider: Common.AuthenticationDetailsProvider;
    if (mode === "resource_principal") {
      provider = await common.ResourcePrincipalAuthenticationDetailsProvider.builder();
    } else if (mode === "instance_principal") {
      const builder = new common.InstancePrincipalsAuthenticationDetailsProviderBuilder();
      if (config.endpoints.metadata) builder.metadataBaseUrl = config.endpoints.metadata;
      if (config.endpoints.federation) builder.federationEndpoint = config.endpoints.federation;
      provider = await builder.build();
    } else {
      provider = new common.ConfigFileAuthenticationDetailsProvider(config.configFile, config.profile);
    }
    return { sdk, provider, mode, config };
  } catch (error) {
    // The SDK throws strings too (a key file it cannot read), and wraps a refused read in an Error of its own.
    const message = error instanceof Error ? error.message : String(error);
    if (
      mode === "resource_principal" &&
      (error instanceof Deno.errors.NotCapable || /\bNotCapable\b/.test(message))
    ) {
      throw new ArchiveError("CONFIG", resourcePrincipalUnreadable());
    }
    const refused = mode === "config" ? refusedConfigFiles(common, config) : [];
    if (refused.length) {
      throw new ArchiveError(
        "CONFIG",
        `OCI authentication (config) failed: the permission set does not allow reading ${
          refused.join(" and ")
        }, which the OCI config file names — keep the config and its key under /etc/audit-archiver/.oci; or, ${
          grantAdvice({ read: refused })
        }`,
      );
    }
    const userFolders = userOciFoldersRefused();
    if (mode === "config" && !config.configFile && userFolders.length) {
      throw new ArchiveError(
        "CONFIG",
        `OCI authentication (config) failed: ${message.trim()} — the permission set reads the OCI config from /etc/audit-archiver/.oci, not ${
          userFolders[0]
        }: copy the config and its key there (or set OCI_CONFIG_FILE); or, to use ${userFolders[0]}, ${
          grantAdvice({ read: userFolders })
        }`,
      );
    }
    const hint = {
      resource_principal: "check the OCI_RESOURCE_PRINCIPAL_* variables (version 2.2)",
      instance_principal: "check that this VM is in a dynamic group and its metadata service is reachable",
      config:
        "check OCI_CONFIG_FILE and OCI_PROFILE (the permission set must allow reading the file and its key)",
    }[mode];
    throw new ArchiveError(
      "CONFIG",
      `OCI authentication (${mode}) failed: ${message} — ${hint}`,
    );
  }
}

/** The files the OCI config file's profile names (key_file, security_token_file) that this process may not read. */
function refusedConfigFiles(common: Sdk["common"], config: OciConfig): string[] {
  try {
    const reader = common.ConfigFileReader;
    const file = config.configFile
      ? reader.parseFileFromPath(config.configFile, config.profile)
      : reader.parseDefault(config.profile);
    return ["key_file", "security_token_file"].map((key) => file.get(key))
      .filter((path): path is string => Boolean(path))
      .map((path) => reader.expandUserHome(path))
      .filter((path) => Deno.permissions.querySync({ name: "read", path }).state !== "granted");
  } catch {
    return []; // an unreadable or malformed config file is the SDK's error to report
  }
}

/**
 * Where OCI Container Instances mounts the resource principal's files, which the `default` permission set
 * grants: Oracle documents only that they are files named by OCI_RESOURCE_PRINCIPAL_RPST / _PRIVATE_PEM; this
 * folder is where public code running on the service finds them (kicsipixel/oci-swift-sdk-examples).
 */
const RESOURCE_PRINCIPAL_FOLDER = "/var/oci/rp-identity";

/**
 * The resource principal's files: its variables name them by absolute path (else they hold the token and key
 * themselves), and the SDK reads them then.
 */
export function resourcePrincipalFiles(): string[] {
  return ["OCI_RESOURCE_PRINCIPAL_RPST", "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"]
    .map((name) => Deno.env.get(name) ?? "")
    .filter((value) => value.startsWith("/"));
}

/** The folders that hold files: what a grant names (the SDK may find a refreshed file beside one). Pure. */
export function foldersOf(paths: string[]): string[] {
  return [...new Set(paths.map((path) => path.slice(0, path.lastIndexOf("/")) || "/"))];
}

/** The message for resource-principal files the permission set does not grant: which paths, and the fix. */
function resourcePrincipalUnreadable(): string {
  const paths = resourcePrincipalFiles();
  const folders = foldersOf(paths);
  return `OCI authentication (resource_principal) failed: the permission set does not allow reading ${
    paths.join(" and ")
  } — the default set grants ${RESOURCE_PRINCIPAL_FOLDER} (where Container Instances mounts them); elsewhere, ${
    grantAdvice({ read: folders })
  }`;
}
