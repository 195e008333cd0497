/**
 * The --config file: global settings and per-source entries, and what it refuses. Pure: no network, no files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseConfigFile } from "../../src/config/validate.ts";
import { archiveErrorOf } from "../assertions.ts";

Deno.test("parseConfigFile splits top-level settings from per-source entries, values as strings", () => {
  const text = JSON.stringify({
    ARCHIVE_DIR: "/srv/audit",
    PAGE_SIZE: 500,
    IDCS_CLIENT_ID: "client-1",
    sources: [{ IDCS_URL: "https://idcs-aaa.identity.oraclecloud.com", SINCE: "7d" }, {
      IDCS_URL: "https://idcs-bbb.identity.oraclecloud.com",
    }],
  });
  assert.deepEqual(parseConfigFile(text, "cfg.json"), {
    global: { ARCHIVE_DIR: "/srv/audit", PAGE_SIZE: "500", IDCS_CLIENT_ID: "client-1" },
    sources: [
      { IDCS_URL: "https://idcs-aaa.identity.oraclecloud.com", SINCE: "7d" },
      { IDCS_URL: "https://idcs-bbb.identity.oraclecloud.com" },
    ],
  });
});

Deno.test("parseConfigFile rejects an unknown top-level key", () => {
  const error = archiveErrorOf(() => parseConfigFile('{"ARCHIVE_DIRECTORY": "/srv"}', "cfg.json"), "CONFIG");
  assert.equal(
    error.message,
    '--config cfg.json:\n  - --config: unknown setting "ARCHIVE_DIRECTORY" (settings are named as the environment variables)',
  );
});

Deno.test("parseConfigFile rejects a global setting inside sources[]", () => {
  const text = '{"sources": [{"IDCS_URL": "https://idcs-aaa.identity.oraclecloud.com", "PAGE_SIZE": "10"}]}';
  const error = archiveErrorOf(() => parseConfigFile(text, "cfg.json"), "CONFIG");
  assert.equal(
    error.message,
    '--config cfg.json:\n  - sources[0]: unknown setting "PAGE_SIZE" (settings are named as the environment variables)',
  );
});

Deno.test("parseConfigFile rejects sources that is not an array and values that are objects", () => {
  const error = archiveErrorOf(
    () => parseConfigFile('{"ARCHIVE_DIR": {"path": "/srv"}, "sources": {}}', "cfg.json"),
    "CONFIG",
  );
  assert.equal(
    error.message,
    "--config cfg.json:\n  - --config: ARCHIVE_DIR must be a string, number or boolean\n  - --config: sources must be an array of objects",
  );
});

Deno.test("parseConfigFile rejects a file that is not JSON", () => {
  const error = archiveErrorOf(() => parseConfigFile("ARCHIVE_DIR=/srv", "cfg.json"), "CONFIG");
  assert.match(error.message, /^--config cfg\.json is not valid JSON: /);
});

Deno.test({
  name: "parseConfigFile does not quote a secret from a file that is not JSON",
  // Regression: parseConfigFile('{"TRIGGER_TOKEN": hunter2-secret-value}', "cfg.json") throws CONFIG with the
  // JSON.parse message appended, and V8 quotes the text near the error:
  // `...Unexpected token 'h', ..."R_TOKEN": hunter2-se"... is not valid JSON` — part of the secret reaches
  // the log (invariant 6). The message should give only the position, not the source text.

  fn: () => {
    const error = archiveErrorOf(
      () => parseConfigFile('{"TRIGGER_TOKEN": hunter2-secret-value}', "cfg.json"),
      "CONFIG",
    );
    assert.equal(error.message.includes("hunter2"), false, error.message);
  },
});

Deno.test({
  name: "parseConfigFile rejects a JSON null file with a CONFIG error",
  // Regression: parseConfigFile("null", "cfg.json") throws TypeError "Cannot read properties of null (reading
  // 'sources')" instead of ArchiveError CONFIG "--config cfg.json:\n  - --config must be a JSON object"
  // (exit 1 instead of 2).

  fn: () => {
    const error = archiveErrorOf(() => parseConfigFile("null", "cfg.json"), "CONFIG");
    assert.equal(error.message, "--config cfg.json:\n  - --config must be a JSON object");
  },
});
