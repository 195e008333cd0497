/**
 * The emulator's state: what every service reads and changes.
 *
 * @module
 */

import type { KeyObject } from "node:crypto";
import type { Random } from "../random.ts";
import type { AuditStore } from "./audit_store.ts";
import type { Bytes } from "./bytes.ts";
import type { TokenAuthority } from "./tokens.ts";
import type {
  LogEntryView,
  OciEmulator,
  OciEmulatorOptions,
  OciFaults,
  RetentionRuleOption,
} from "./types.ts";

export interface StoredObject {
  name: string;
  bytes: Bytes;
  metadata: Record<string, string>;
  md5: string;
  etag: string;
  versionId: string;
  timeCreated: number;
  lastModified: number;
  contentType: string;
  contentEncoding?: string;
  contentLanguage?: string;
  contentDisposition?: string;
  cacheControl?: string;
}

export interface Bucket {
  name: string;
  retentionRules: (RetentionRuleOption & { etag: string; timeCreated: number })[];
  retentionRulesStatus?: 403 | 404 | 501;
  retentionRulesPageSize?: number;
  objects: Map<string, StoredObject>;
  /** Names in code-unit order, rebuilt after a change; lists are frequent, writes rarer. */
  sortedNames?: string[];
}

export interface Compartment {
  id: string;
  parentId: string;
  name: string;
  lifecycleState: "ACTIVE" | "DELETED";
  timeCreated: number;
}

export interface InstanceIdentity {
  instanceId: string;
  root: { key: KeyObject; name: [string, string][] };
  intermediate: { der: Bytes; key: KeyObject };
  leaf: { der: Bytes; privateKeyPem: string };
}

export interface State {
  tenancy: string;
  region: string;
  namespace: string;
  apiKeys: Map<string, KeyObject>;
  authority: TokenAuthority;
  buckets: Map<string, Bucket>;
  secrets: Map<string, string>;
  kmsKeys: Map<string, KmsKey>;
  kmsSignatures: { keyId: string; keyVersionId: string; messageType: string }[];
  compartments: Compartment[];
  audit: AuditStore;
  auditPageSize?: number;
  auditMaxPageSize: number;
  listObjectsPageSize: number;
  auditPageRandom: Random;
  auditPaging: "cursor" | "offset";
  auditEmptyFirstPage: boolean;
  /** Orders events processed at the same time, per request, under `auditPaging: "offset"`. */
  auditOrderRandom: Random;
  auditVisibilityLagMs: number;
  unreadableCompartments: Set<string>;
  deletedCompartmentEvents: "list" | "404";
  auditPrettyPages?: "\n" | "\r\n";
  redirect?: { to: string; operations: string[] };
  auditRetentionDays: number;
  auditConfigurationReadable: boolean;
  logs: Map<string, LogEntryView[]>;
  logRequestMaxBytes?: number;
  faults: Required<OciFaults>;
  faultRandom: Random;
  dropRandom: Random;
  onRequest?: OciEmulatorOptions["onRequest"];
  idRandom: Random;
  instance?: InstanceIdentity;
  stats: OciEmulator["stats"];
}

/** A Vault key: its versions, oldest first; the newest is current (a rotation adds one). */
export interface KmsKey {
  versions: { id: string; privateKey: KeyObject; timeCreated: number }[];
}
