/**
 * OCI Audit events as the emulator serves them: their hidden processing time, their wire text, and
 * realistic generated ones.
 *
 * @module
 */

import { mulberry32, pick, type Random, randomHex } from "../random.ts";
import { PLAIN_WIRE, renderWire, type WireStyle } from "../wire.ts";
import { colonHex, randomUuid, utf8 } from "./bytes.ts";
import { isoTime } from "./params.ts";
import type { AuditCloudEvent } from "./types.ts";

/** How an event's wire text is serialised (tests/emulators/wire.ts): both escape styles, and plain. */
export type AuditWireStyle = WireStyle;

const generatedAudit = new WeakMap<AuditCloudEvent, { processedAt: number; style: AuditWireStyle }>();

/**
 * The processing time `generateAuditEvents` gave `event` (epoch ms); an event built by hand is processed at
 * its `eventTime`. `listEvents` selects on this time (ListEvents: "Returns events that were processed at or
 * after this start date and time" / "…processed before this end date and time").
 */
export function processingTimeOf(event: AuditCloudEvent): number {
  return generatedAudit.get(event)?.processedAt ?? Date.parse(event.eventTime);
}

/** The exact JSON text `listEvents` sends for `event` (its generated wire style, else plain `JSON.stringify`). */
export function wireTextOf(event: AuditCloudEvent): string {
  return renderWire(event, generatedAudit.get(event)?.style ?? PLAIN_WIRE);
}

/** Kinds of audited calls: CloudEvents type, source service, HTTP action, path template, resource kind. */
const AUDIT_KINDS = [
  ["com.oraclecloud.ComputeApi.GetInstance", "ComputeApi", "GET", "/20160918/instances/{id}", "instance"],
  ["com.oraclecloud.ComputeApi.LaunchInstance", "ComputeApi", "POST", "/20160918/instances", "instance"],
  [
    "com.oraclecloud.ComputeApi.TerminateInstance",
    "ComputeApi",
    "DELETE",
    "/20160918/instances/{id}",
    "instance",
  ],
  [
    "com.oraclecloud.VirtualNetworkApi.UpdateSecurityList",
    "VirtualNetworkApi",
    "PUT",
    "/20160918/securityLists/{id}",
    "securitylist",
  ],
  ["com.oraclecloud.objectstorage.createbucket", "ObjectStorage", "POST", "/n/{ns}/b", "bucket"],
  [
    "com.oraclecloud.objectstorage.getobject",
    "ObjectStorage",
    "GET",
    "/n/{ns}/b/{name}/o/report.csv",
    "bucket",
  ],
  [
    "com.oraclecloud.identityControlPlane.UpdatePolicy",
    "identityControlPlane",
    "PUT",
    "/20160918/policies/{id}",
    "policy",
  ],
  [
    "com.oraclecloud.identityControlPlane.CreateUser",
    "identityControlPlane",
    "POST",
    "/20160918/users",
    "user",
  ],
] as const;

const PRINCIPAL_NAMES = [
  "alice@example.com",
  "bob@example.com",
  "carol@example.com",
  "Łukasz Żółć",
  "李小龍",
];
const USER_AGENTS = [
  "Oracle-JavaSDK/3.44.0",
  "Oracle-PythonSDK/2.126.0",
  "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
  "Terraform/1.9.5",
];

interface AuditPrincipal {
  name: string;
  id: string;
  authType: string;
  ipAddress: string;
  userAgent: string;
  credentials: string;
}

/** Who acts and on what: few principals and resources, shared by many events, as in a real tenancy. */
function auditDirectory(random: Random, tenancy: string) {
  const principal = (name: string, authType: string): AuditPrincipal => {
    const id = authType === "instance"
      ? `ocid1.instance.oc1.iad.aaaa${randomHex(random, 52)}`
      : `ocid1.user.oc1..aaaa${randomHex(random, 52)}`;
    return {
      name,
      id,
      authType,
      ipAddress: `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${
        1 + Math.floor(random() * 254)
      }`,
      userAgent: pick(random, USER_AGENTS),
      credentials: authType === "instance"
        ? `ST$${randomHex(random, 24)}`
        : `${tenancy}/${id}/${colonHex(utf8(randomHex(random, 16)))}`,
    };
  };
  const principals = [
    ...PRINCIPAL_NAMES.map((name) => principal(name, "natv")),
    principal("ops-automation", "instance"),
  ];
  const resources = new Map(
    [...new Set(AUDIT_KINDS.map((kind) => kind[4]))].map((kind) => [
      kind,
      Array.from({ length: 20 }, (_, i) => ({
        id: `ocid1.${kind}.oc1.iad.aaaa${randomHex(random, 52)}`,
        name: `${kind}-${String(i).padStart(2, "0")}`,
      })),
    ]),
  );
  return { principals, resources };
}

/**
 * A processing delay after the eventTime: Oracle appends new activity "usually within 15 minutes of the API
 * call, though processing time can vary" (Audit docs, viewing events; docs/oracle/oci-apis.md "OCI Audit").
 * Mostly seconds, a tail of minutes, a few past 15 minutes; many cross a minute boundary, so their
 * processing-time window is later than their eventTime's.
 */
function processingDelayMs(random: Random): number {
  const r = random();
  if (r < 0.75) return 200 + Math.floor(random() * 20_000);
  if (r < 0.95) return 20_000 + Math.floor(random() * 160_000);
  if (r < 0.99) return 3 * 60_000 + Math.floor(random() * 12 * 60_000);
  return 15 * 60_000 + Math.floor(random() * 10 * 60_000);
}

/**
 * Members of `data` that Oracle may send as `null` (the SDK turns them into `undefined`:
 * docs/oracle/oci-apis.md).
 */
const NULLABLE_AUDIT_MEMBERS = [
  "identity",
  "request",
  "response",
  "stateChange",
  "additionalDetails",
  "compartmentName",
  "resourceName",
  "availabilityDomain",
  "freeformTags",
  "definedTags",
] as const;

/** The CloudEvents members in another order: the order Oracle's serializer uses is undocumented (both kept). */
const REORDERED_AUDIT_MEMBERS = [
  "eventId",
  "eventTime",
  "eventType",
  "source",
  "data",
  "cloudEventsVersion",
  "eventTypeVersion",
  "contentType",
] as const;

/**
 * Realistic OCI Audit events in eventTime order, deterministic from `seed`,
 * spread over [from, to) and over the given compartments. Each has a hidden
 * processing time (`processingTimeOf`) a delay after its eventTime, which may
 * be after `to`, and a wire text (`wireTextOf`): some events carry `null`
 * members, some list members in another order, some are sent with `\/` or
 * `\u00e9` escapes — what Oracle does there is undocumented, so both occur.
 */
export function generateAuditEvents(
  options: { seed: number; count: number; from: number; to: number; compartmentIds: string[] },
): AuditCloudEvent[] {
  const { seed, count, from, to, compartmentIds } = options;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`'count' must be a non-negative integer: current value is ${count}`);
  }
  if (!(to > from)) throw new RangeError(`'to' must be after 'from': current values are ${from} and ${to}`);
  if (compartmentIds.length === 0) throw new RangeError("'compartmentIds' must not be empty");
  const random = mulberry32(seed);
  const tenancy = `ocid1.tenancy.oc1..aaaa${randomHex(random, 52)}`;
  const directory = auditDirectory(random, tenancy);
  const times = Array.from({ length: count }, () => from + Math.floor(random() * (to - from)));
  times.sort((a, b) => a - b);
  // Own generators for what was added later, so the events' contents stay those of earlier versions.
  const delayRandom = mulberry32(seed ^ 0x5bd1e995);
  const shapeRandom = mulberry32(seed ^ 0xc2b2ae35);
  const events = times.map((time) => {
    const [eventType, source, action, pathTemplate, resourceKind] = pick(random, AUDIT_KINDS);
    const eventName = eventType.slice(eventType.lastIndexOf(".") + 1);
    const compartmentId = pick(random, compartmentIds);
    const resource = pick(random, directory.resources.get(resourceKind)!);
    const principal = pick(random, directory.principals);
    const status = random() < 0.9
      ? (action === "DELETE" ? "204" : "200")
      : pick(random, ["400", "404", "409"]);
    const succeeded = status.startsWith("2");
    const requestId = randomHex(random, 32).toUpperCase();
    return {
      eventType,
      cloudEventsVersion: "0.1",
      eventTypeVersion: "2.0",
      source,
      eventId: randomUuid(random),
      eventTime: isoTime(time),
      contentType: "application/json",
      data: {
        eventGroupingId: requestId,
        eventName,
        compartmentId,
        compartmentName: `compartment-${compartmentId.slice(-6)}`,
        resourceName: resource.name,
        resourceId: resource.id,
        availabilityDomain: "AD1",
        freeformTags: {},
        definedTags: {},
        identity: {
          principalName: principal.name,
          principalId: principal.id,
          authType: principal.authType,
          callerName: null,
          callerId: null,
          tenantId: tenancy,
          ipAddress: principal.ipAddress,
          credentials: principal.credentials,
          userAgent: principal.userAgent,
          consoleSessionId: null,
        },
        request: {
          id: requestId,
          path: pathTemplate.replace("{id}", resource.id).replace("{ns}", "emulatedns").replace(
            "{name}",
            resource.name,
          ),
          action,
          parameters: {},
          headers: { "opc-request-id": [requestId] },
        },
        response: {
          status,
          responseTime: isoTime(time + 20 + Math.floor(random() * 500)),
          headers: {},
          payload: succeeded ? { id: resource.id } : {},
          message: succeeded ? `${eventName} succeeded` : `${eventName} failed`,
        },
        stateChange: { previous: null, current: null },
        additionalDetails: {},
      },
    } as AuditCloudEvent;
  });
  return events.map((plain, index) => {
    let event = plain;
    if (shapeRandom() < 0.15) {
      for (const member of NULLABLE_AUDIT_MEMBERS) {
        if (shapeRandom() < 0.35) event.data[member] = null;
      }
    }
    if (shapeRandom() < 0.2) {
      event = Object.fromEntries(
        REORDERED_AUDIT_MEMBERS.map((member) => [member, plain[member]]),
      ) as unknown as AuditCloudEvent;
    }
    const r = shapeRandom();
    const style = r < 0.5
      ? PLAIN_WIRE
      : r < 0.7
      ? { escapeNonAscii: true, escapeSlash: false }
      : r < 0.85
      ? { escapeNonAscii: false, escapeSlash: true }
      : { escapeNonAscii: true, escapeSlash: true };
    generatedAudit.set(event, { processedAt: times[index] + processingDelayMs(delayRandom), style });
    return event;
  });
}
