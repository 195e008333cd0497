/**
 * Identity: the compartment tree and `ListCompartments`.
 *
 * @module
 */

import { invalidParameter, missingParameter, OciError } from "./errors.ts";
import { decodePageToken, encodePageToken, isoTime, parseIntegerParam } from "./params.ts";
import { jsonReply, type Reply } from "./replies.ts";
import type { Compartment, State } from "./state.ts";
import type { OciEmulatorOptions } from "./types.ts";

const IDENTITY_DEFAULT_LIMIT = 100;
const IDENTITY_MAX_LIMIT = 1000;

function isOffsetToken(value: unknown): value is { o: number; q: string } {
  const token = value as { o: number; q: string };
  return typeof token === "object" && token !== null && Number.isInteger(token.o) && token.o >= 0 &&
    typeof token.q === "string";
}

/**
 * ListCompartments. Direct children of `compartmentId`, ACTIVE and DELETED alike, or with
 * `compartmentIdInSubtree=true` the whole tree — accepted only when `compartmentId` is the tenancy: 400
 * otherwise ("Can only be set to true when performing ListCompartments on the tenancy", ListCompartments API
 * reference; docs/oracle/oci-apis.md, "OCI Audit").
 * Every lifecycle state is returned unless `lifecycleState` filters: the API
 * reference describes lifecycleState as "A filter to only return resources
 * that match the given lifecycle state".
 */
export function listCompartments(state: State, query: Map<string, string>): Reply {
  const parent = query.get("compartmentId");
  if (parent === undefined) throw missingParameter("compartmentId");
  const inSubtree = query.get("compartmentIdInSubtree");
  if (inSubtree !== undefined && inSubtree !== "true" && inSubtree !== "false") {
    throw invalidParameter("compartmentIdInSubtree must be true or false");
  }
  const accessLevel = query.get("accessLevel");
  if (accessLevel !== undefined && accessLevel !== "ANY" && accessLevel !== "ACCESSIBLE") {
    throw invalidParameter("accessLevel must be ANY or ACCESSIBLE");
  }
  if (parent !== state.tenancy && !state.compartments.some((compartment) => compartment.id === parent)) {
    throw new OciError(404, "NotAuthorizedOrNotFound", `Compartment '${parent}' not found or not authorized`);
  }
  if (inSubtree === "true" && parent !== state.tenancy) {
    throw invalidParameter("compartmentIdInSubtree can only be true when compartmentId is the tenancy");
  }
  const lifecycleState = query.get("lifecycleState")?.toUpperCase();
  const name = query.get("name");
  const selected =
    (inSubtree === "true" ? subtree(state, parent) : state.compartments.filter((c) => c.parentId === parent))
      .filter((c) => lifecycleState === undefined || c.lifecycleState === lifecycleState)
      .filter((c) => name === undefined || c.name === name);
  const limit = parseIntegerParam(query, "limit", 1, IDENTITY_MAX_LIMIT) ?? IDENTITY_DEFAULT_LIMIT;
  const queryKey = [parent, inSubtree, lifecycleState, name].join("|");
  const page = query.get("page");
  const token = page === undefined ? { o: 0, q: queryKey } : decodePageToken(page, isOffsetToken);
  const offset = token.o;
  if (token.q !== queryKey) {
    throw invalidParameter("The page token belongs to another query");
  }
  const items = selected.slice(offset, offset + limit).map((c) => ({
    id: c.id,
    compartmentId: c.parentId,
    name: c.name,
    description: c.name,
    timeCreated: isoTime(c.timeCreated),
    lifecycleState: c.lifecycleState,
    isAccessible: true,
    freeformTags: {},
    definedTags: {},
  }));
  const next = offset + limit < selected.length
    ? { "opc-next-page": encodePageToken({ o: offset + limit, q: queryKey }) }
    : undefined;
  return jsonReply(200, items, next);
}

/** Every compartment whose ancestry reaches `rootId`, in the order they were given. */
function subtree(state: State, rootId: string): Compartment[] {
  const byId = new Map(state.compartments.map((c) => [c.id, c]));
  const reaches = (compartment: Compartment): boolean => {
    const seen = new Set<string>();
    for (let current: Compartment | undefined = compartment; current; current = byId.get(current.parentId)) {
      if (current.parentId === rootId) return true;
      if (seen.has(current.id)) return false;
      seen.add(current.id);
    }
    return false;
  };
  return state.compartments.filter(reaches);
}

export function toCompartments(list: OciEmulatorOptions["compartments"], now: number): Compartment[] {
  return (list ?? []).map((c, index) => ({
    id: c.id,
    parentId: c.parentId,
    name: c.name,
    lifecycleState: c.lifecycleState ?? "ACTIVE",
    timeCreated: now - (list!.length - index) * 60_000,
  }));
}
