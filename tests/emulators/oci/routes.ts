/**
 * Routing: a method and raw path to the operation that serves it.
 *
 * @module
 */

import { invalidParameter, OciError } from "./errors.ts";
import type { Params } from "./params.ts";

export type Operation =
  | "GetNamespace"
  | "ListObjects"
  | "GetObject"
  | "HeadObject"
  | "PutObject"
  | "DeleteObject"
  | "ListRetentionRules"
  | "GetSecretBundle"
  | "Sign"
  | "GetKey"
  | "GetKeyVersion"
  | "ListEvents"
  | "GetConfiguration"
  | "ListCompartments"
  | "PutLogs"
  | "InstanceMetadata"
  | "X509Federation";

export interface Routed {
  operation: Operation;
  params: Params;
}

/** Percent-decodes one path parameter as the SDK encodes it (`encodeURIComponent`). */
function decodePathParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalidParameter(`The path parameter '${raw}' is not validly percent-encoded`);
  }
}

/** Maps a method and raw path to an operation; 404 NotFound / 405 MethodNotAllowed otherwise. */
export function route(method: string, path: string): Routed {
  const found = (operation: Operation, params: Params = {}): Routed => ({ operation, params });
  const byMethod = (methods: Partial<Record<string, Operation>>, params: Params = {}): Routed => {
    const operation = methods[method];
    if (!operation) {
      throw new OciError(405, "MethodNotAllowed", `The method ${method} is not allowed on ${path}`);
    }
    return found(operation, params);
  };
  let match: RegExpExecArray | null;
  if (path === "/n" || path === "/n/") return byMethod({ GET: "GetNamespace" });
  if ((match = /^\/n\/([^/]+)\/b\/([^/]+)\/o\/?$/.exec(path))) {
    return byMethod({ GET: "ListObjects" }, {
      namespace: decodePathParam(match[1]),
      bucket: decodePathParam(match[2]),
    });
  }
  if ((match = /^\/n\/([^/]+)\/b\/([^/]+)\/o\/(.+)$/.exec(path))) {
    return byMethod(
      { GET: "GetObject", HEAD: "HeadObject", PUT: "PutObject", DELETE: "DeleteObject" },
      {
        namespace: decodePathParam(match[1]),
        bucket: decodePathParam(match[2]),
        object: decodePathParam(match[3]),
      },
    );
  }
  if ((match = /^\/n\/([^/]+)\/b\/([^/]+)\/retentionRules\/?$/.exec(path))) {
    return byMethod({ GET: "ListRetentionRules" }, {
      namespace: decodePathParam(match[1]),
      bucket: decodePathParam(match[2]),
    });
  }
  if ((match = /^\/20190301\/secretbundles\/([^/]+)$/.exec(path))) {
    return byMethod({ GET: "GetSecretBundle" }, { secretId: decodePathParam(match[1]) });
  }
  if (path === "/20180608/sign") return byMethod({ POST: "Sign" });
  // The management endpoint's paths (oci-keymanagement lib/client.js KmsManagementClient getKey, getKeyVersion).
  if ((match = /^\/20180608\/keys\/([^/]+)$/.exec(path))) {
    return byMethod({ GET: "GetKey" }, { keyId: decodePathParam(match[1]) });
  }
  if ((match = /^\/20180608\/keys\/([^/]+)\/keyVersions\/([^/]+)$/.exec(path))) {
    return byMethod({ GET: "GetKeyVersion" }, {
      keyId: decodePathParam(match[1]),
      keyVersionId: decodePathParam(match[2]),
    });
  }
  if (path === "/20190901/auditEvents") return byMethod({ GET: "ListEvents" });
  if (path === "/20190901/configuration") return byMethod({ GET: "GetConfiguration" });
  if (path === "/20160918/compartments") return byMethod({ GET: "ListCompartments" });
  if ((match = /^\/20200831\/logs\/([^/]+)\/actions\/push$/.exec(path))) {
    return byMethod({ POST: "PutLogs" }, { logId: decodePathParam(match[1]) });
  }
  if ((match = /^\/opc\/v2\/(instance\/region|identity\/(?:cert|key|intermediate)\.pem)$/.exec(path))) {
    return byMethod({ GET: "InstanceMetadata" }, { resource: match[1] });
  }
  if (path === "/v1/x509") return byMethod({ POST: "X509Federation" });
  throw new OciError(
    404,
    "NotFound",
    `There is no operation supported at the URI path and HTTP method you specified: ${method} ${path}`,
  );
}
