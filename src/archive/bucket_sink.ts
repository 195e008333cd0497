/**
 * The Object Storage sink: objects created with `If-None-Match: *`, retention rules reported.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type * as ObjectStorage from "oci-objectstorage";
import type { Sink } from "./sink.ts";
import { encodeBase64 } from "../bytes.ts";
import type { ArchiveError } from "../errors.ts";
import { log } from "../log.ts";
import { ociCall, ociClient } from "../oci/client.ts";
import type { OciSession } from "../oci/session.ts";

/**
 * An Object Storage bucket: the same names as the directory. Creates are conditional (`If-None-Match: *`,
 * with `Content-MD5`), so a committed object is never overwritten, also in a bucket whose retention rules
 * forbid overwrite and delete; listings are one folder level (`delimiter=/`), paged with `nextStartWith`.
 */
export class ObjectStorageSink implements Sink {
  readonly description: string;
  readonly #client: ObjectStorage.ObjectStorageClient;
  constructor(session: OciSession, readonly namespace: string, readonly bucket: string) {
    this.description = `bucket ${bucket} (namespace ${namespace})`;
    this.#client = ociClient(session, session.sdk.objectstorage.ObjectStorageClient, "objectStorage");
  }

  /** Looks the namespace up when OCI_NAMESPACE is unset. */
  static async open(session: OciSession, bucket: string, namespace?: string): Promise<ObjectStorageSink> {
    if (namespace) return new ObjectStorageSink(session, namespace, bucket);
    const client = ociClient(session, session.sdk.objectstorage.ObjectStorageClient, "objectStorage");
    const response = await ociCall("Object Storage namespace", () => client.getNamespace({}));
    return new ObjectStorageSink(session, response.value, bucket);
  }

  async createExclusive(name: string, bytes: Uint8Array): Promise<boolean> {
    const md5 = encodeBase64(new Uint8Array(createHash("md5").update(bytes).digest()));
    try {
      await ociCall(`put ${name}`, () =>
        this.#client.putObject({
          namespaceName: this.namespace,
          bucketName: this.bucket,
          objectName: name,
          putObjectBody: bytes,
          contentLength: bytes.length,
          contentMD5: md5,
          ifNoneMatch: "*",
        }));
      return true;
    } catch (error) {
      if ((error as ArchiveError).code !== "CONFLICT") throw error;
      // 412: the name exists. It is ours when a retried PUT had in fact succeeded: the same bytes.
      const existing = await this.read(name);
      return existing !== undefined && existing.length === bytes.length &&
        existing.every((b, i) => b === bytes[i]);
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      const response = await ociCall(`get ${name}`, async () => {
        const object = await this.#client.getObject({
          namespaceName: this.namespace,
          bucketName: this.bucket,
          objectName: name,
        });
        // The body is read inside the retried call: a reset mid-body is retried like a 5xx.
        return new Uint8Array(await new Response(object.value as ReadableStream).arrayBuffer());
      });
      return response;
    } catch (error) {
      if ((error as ArchiveError).code === "NOT_FOUND") return undefined;
      throw error;
    }
  }

  /** HeadObject: OBJECT_READ, like GetObject (objectstoragepolicyreference.htm), which `read objects` grants. */
  async exists(name: string): Promise<boolean> {
    try {
      await ociCall(
        `head ${name}`,
        () =>
          this.#client.headObject({
            namespaceName: this.namespace,
            bucketName: this.bucket,
            objectName: name,
          }),
      );
      return true;
    } catch (error) {
      if ((error as ArchiveError).code === "NOT_FOUND") return false;
      throw error;
    }
  }

  async listChildren(prefix: string, from?: string): Promise<string[]> {
    const names: string[] = [];
    // ListObjects `start` "Returns object names which are lexicographically greater than or equal to this
    // parameter" (docs/oracle/oci-apis.md, "Object Storage"); a later page starts at the `nextStartWith` before.
    let start = from;
    do {
      const { listObjects } = await ociCall(`list ${prefix}/`, () =>
        this.#client.listObjects({
          namespaceName: this.namespace,
          bucketName: this.bucket,
          prefix: `${prefix}/`,
          delimiter: "/",
          fields: "name",
          start,
        }));
      names.push(
        ...listObjects.objects.map((o) => o.name),
        ...(listObjects.prefixes ?? []).map((p) => p.slice(0, -1)),
      );
      start = listObjects.nextStartWith;
    } while (start);
    return names.filter((name) => !name.slice(prefix.length + 1).startsWith(".")).sort();
  }

  /**
   * The bucket's retention rules, every page of them (`opc-next-page`), as `status` and the start of a pass
   * report them, for reporting only: a refusal (a policy without `read buckets`; a 404 may mean "not
   * authorized") or an Object Storage without the endpoint gives a warning, never a failed pass. A rule is
   * locked only once its `timeRuleLocked` has passed; a later one means it will lock then
   * (docs/oracle/oci-apis.md, "Object Storage").
   */
  async retention(now = Date.now()): Promise<string> {
    const items: ObjectStorage.models.RetentionRuleSummary[] = [];
    try {
      let page: string | undefined;
      do {
        const response = await ociCall(
          "retention rules",
          () =>
            this.#client.listRetentionRules({ namespaceName: this.namespace, bucketName: this.bucket, page }),
        );
        items.push(...response.retentionRuleCollection.items);
        page = response.opcNextPage;
      } while (page);
    } catch (error) {
      log("warn", "the bucket's retention rules could not be read (reported as unknown)", {
        error: (error as Error).message,
      });
      return "unknown: the retention rules could not be read (grant `read buckets`, see `policies`)";
    }
    const rules = items.map((rule) => {
      const period = rule.duration
        ? `${rule.duration.timeAmount} ${rule.duration.timeUnit.toLowerCase()}`
        : "indefinite";
      return `${rule.displayName}: ${period}${lockOf(rule.timeRuleLocked, now)}`;
    });
    return rules.length ? `WORM: ${rules.join("; ")}` : "not protected: the bucket has no retention rule";
  }
}

/**
 * How a rule's `timeRuleLocked` reads at `now`: ", locked" once it has passed, ", locks at <time>" before (the
 * rule can still be shortened or deleted until then), nothing when absent. The SDK hands it over as the JSON
 * string, whatever its type says.
 */
function lockOf(timeRuleLocked: Date | string | undefined, now: number): string {
  if (timeRuleLocked === undefined || timeRuleLocked === null) return "";
  const at = new Date(timeRuleLocked).getTime();
  if (Number.isNaN(at)) return `, locks at ${String(timeRuleLocked)}`;
  return at <= now ? ", locked" : `, locks at ${new Date(at).toISOString()}`;
}
