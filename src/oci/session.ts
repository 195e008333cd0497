/**
 * OCI authentication: config file, instance principal or resource principal, chosen once.
 *
 * @module
 */

import * as jose from "jose";
import type * as Common from "oci-common";
import type { OciAuthMode, OciConfig } from "../config/validate.ts";
import { ArchiveError } from "../errors.ts";
import { log, registerSecret } from "../log.ts";
import { CONFIG_FOLDER, loadSdk, pointSdkHome, type Sdk, type SdkPackage } from "./sdk.ts";
import { foldersOf, grantAdvice } from "../permissions.ts";

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
  const home = pointSdkHome();
  const sdk = await loadSdk(packages);
  const { common } = sdk;
  const { mode, why } = await chooseOciAuth(config);
  log("info", "OCI authentication chosen", { mode, why });
  try {
    let provider: Common.AuthenticationDetailsProvider;
    if (mode === "resource_principal") {
      checkResourcePrincipalFiles();
      provider = await common.ResourcePrincipalAuthenticationDetailsProvider.builder();
    } else if (mode === "instance_principal") {
      const builder = new common.InstancePrincipalsAuthenticationDetailsProviderBuilder();
      if (config.endpoints.metadata) builder.metadataBaseUrl = config.endpoints.metadata;
      if (config.endpoints.federation) builder.federationEndpoint = config.endpoints.federation;
      provider = await builder.build();
    } else {
      provider = configFileProvider(common, config, home);
    }
    return { sdk, provider, mode, config };
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    const hint = {
      resource_principal: "check the OCI_RESOURCE_PRINCIPAL_* variables (version 2.2)",
      instance_principal: "check that this VM is in a dynamic group and its metadata service is reachable",
      config: `check profile ${config.profile} of the OCI config file (OCI_CONFIG_FILE, OCI_PROFILE)`,
    }[mode];
    throw new ArchiveError(
      "CONFIG",
      `OCI authentication (${mode}) failed: ${(error as Error).message} — ${hint}`,
    );
  }
}

/**
 * The provider of a profile of the OCI CLI's config file: an API key (its `pass_phrase` kept out of the log),
 * or a session token from `oci session authenticate` (`security_token_file`), which signs with keyId
 * `ST$<token>` (oci-common lib/auth/session-auth-details-provider.js). Every file is checked first, so a
 * refusal names the file and the fix rather than the SDK's "does not exist".
 */
function configFileProvider(
  common: typeof Common,
  config: OciConfig,
  home: string | undefined,
): Common.AuthenticationDetailsProvider {
  const path = chooseConfigFile(config, home);
  const profile = common.ConfigFileReader.parseFileFromPath(path, config.profile);
  // The SDK expands `~` in the profile's paths with its own home folder (see pointSdkHome).
  const named = (key: string) => {
    const value = profile.get(key);
    return value ? common.ConfigFileReader.expandUserHome(value) : undefined;
  };
  const keyFile = named("key_file");
  if (keyFile) checkReadable(`key_file ${keyFile} (profile ${config.profile} of ${path})`, keyFile);
  registerSecret(profile.get("pass_phrase") ?? undefined);
  const tokenFile = named("security_token_file");
  if (!tokenFile) return new common.ConfigFileAuthenticationDetailsProvider(path, config.profile);
  checkReadable(`security_token_file ${tokenFile} (profile ${config.profile} of ${path})`, tokenFile);
  const currentToken = sessionTokenReader(tokenFile, config.profile);
  currentToken();
  const provider = new common.SessionAuthDetailProvider(path, config.profile);
  // The SDK reads the token once; `getKeyId` asks this for it on every request (session-auth-details-provider.js).
  provider.getSecurityToken = () => Promise.resolve(currentToken());
  return provider;
}

/**
 * The token as its file holds it now, checked unexpired: `oci session refresh` rewrites the file with a new
 * token for the same session key, and a `run` longer than one token's life goes on with it. The file is small:
 * it is read for each request.
 */
function sessionTokenReader(file: string, profile: string): () => string {
  return () => {
    const token = Deno.readTextFileSync(file).trim();
    checkSessionToken(token, profile);
    return token;
  };
}

/**
 * OCI_CONFIG_FILE (or OCI_CLI_CONFIG_FILE) with `~` expanded; else ~/.oci/config as the OCI CLI has it, or
 * where a server keeps it, /etc/audit-archiver/.oci/config: the first that can be read.
 */
function chooseConfigFile(config: OciConfig, home: string | undefined): string {
  const expand = (path: string) =>
    home && (path === "~" || path.startsWith("~/")) ? home + path.slice(1) : path;
  if (config.configFile) {
    const path = expand(config.configFile);
    checkReadable(`the OCI config file ${path}`, path);
    return path;
  }
  const candidates = [
    ...(home ? [`${home}/.oci/config`] : []),
    `${CONFIG_FOLDER}/.oci/config`,
  ];
  const found = candidates.find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
  if (found) return found;
  if (home && !readGranted(candidates[0])) {
    checkReadable(`the OCI config file ${candidates[0]}`, candidates[0]);
  }
  throw new ArchiveError(
    "CONFIG",
    `OCI authentication (config): no OCI config file at ${
      candidates.join(" or ")
    }: run \`oci setup config\` (an API key) or \`oci session authenticate\` (a session token), or set OCI_CONFIG_FILE`,
  );
}

const readGranted = (path: string) => Deno.permissions.querySync({ name: "read", path }).state === "granted";

/** Throws what to do when `path` cannot be read: the command that grants it, or that it is missing. */
function checkReadable(what: string, path: string): void {
  try {
    Deno.statSync(path); // in a terminal, Deno asks the user for this one file
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) {
      throw new ArchiveError(
        "CONFIG",
        `OCI authentication (config): the permission set does not allow reading ${what}: ${
          grantHint([path])
        }`,
      );
    }
    throw new ArchiveError(
      "CONFIG",
      `OCI authentication (config): ${what} cannot be read (${
        error instanceof Deno.errors.NotFound ? "no such file" : (error as Error).message
      })`,
    );
  }
}

/**
 * How to let the program read files: the command that grants their folders (the SDK expands `~` in a profile's
 * paths only where ~/.oci is granted, see pointSdkHome) — never a bare --allow-read beside -P, which replaces
 * the set's whole read list (Deno 2.9); src/permissions.ts names the whole list.
 */
function grantHint(paths: string[]): string {
  return grantAdvice({ read: foldersOf(paths) });
}

/**
 * A session token lives 5 to 60 minutes and can be refreshed within 24 hours
 * (https://docs.oracle.com/en-us/iaas/Content/API/SDKDocs/clitoken.htm); the SDK does not refresh it, so an
 * expired one is said before any request rather than as a rejected signature.
 */
function checkSessionToken(token: string, profile: string): void {
  registerSecret(token, `session token ${profile}`);
  let expires: number | undefined;
  try {
    expires = jose.decodeJwt(token).exp;
  } catch {
    // Not a JWT: the service is the judge of it.
  }
  if (typeof expires === "number" && expires * 1000 <= Date.now()) {
    throw new ArchiveError(
      "CONFIG",
      `OCI authentication (config): the session token of profile ${profile} expired at ${
        new Date(expires * 1000).toISOString()
      }: run \`oci session refresh --profile ${profile}\` (within 24 hours of signing in), else \`oci session authenticate\` again`,
    );
  }
}

/**
 * The resource principal's files: its variables name them by absolute path (else they hold the token and key
 * themselves), and the SDK reads them then.
 */
export function resourcePrincipalFiles(): string[] {
  return ["OCI_RESOURCE_PRINCIPAL_RPST", "OCI_RESOURCE_PRINCIPAL_PRIVATE_PEM"]
    .map((name) => Deno.env.get(name) ?? "")
    .filter((value) => value.startsWith("/"));
}

/**
 * Where OCI Container Instances mounts the resource principal's files, which the `default` permission set
 * grants: Oracle documents only that they are files named by OCI_RESOURCE_PRINCIPAL_RPST / _PRIVATE_PEM; this
 * folder is where public code running on the service finds them (kicsipixel/oci-swift-sdk-examples).
 */
const RESOURCE_PRINCIPAL_FOLDER = "/var/oci/rp-identity";

/**
 * Resource-principal files the permission set does not grant, refused with their paths and the fix (the SDK
 * would say only "Failed to read file contents"). A value that is not a path is the token or key itself.
 */
function checkResourcePrincipalFiles(): void {
  const paths = resourcePrincipalFiles().filter((path) => !readGranted(path));
  if (!paths.length) return;
  throw new ArchiveError(
    "CONFIG",
    `OCI authentication (resource_principal) failed: the permission set does not allow reading ${
      paths.join(" and ")
    } — the default set grants ${RESOURCE_PRINCIPAL_FOLDER} (where Container Instances mounts them); elsewhere, ${
      grantHint(paths)
    }`,
  );
}
