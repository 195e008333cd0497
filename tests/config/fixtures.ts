/**
 * Settings shared by the configuration tests: a fixed clock and two identity-domain configurations.
 *
 * @module
 */

export const NOW = Date.UTC(2026, 10, 27, 10, 15, 42, 123);

export const DOMAIN = "https://idcs-0123456789abcdef.identity.oraclecloud.com";

export const KEYED = {
  IDCS_URL: `${DOMAIN}/`,
  IDCS_CLIENT_ID: "client-1",
  IDCS_KEY_ID: "archiver-cert",
  IDCS_PRIVATE_KEY_FILE: "./keys/idcs.pem",
};

export const WITH_SECRET = {
  IDCS_URL: DOMAIN,
  IDCS_CLIENT_ID: "client-1",
  IDCS_CLIENT_SECRET: "client-secret-Zq9",
};
