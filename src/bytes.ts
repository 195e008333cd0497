/**
 * Byte helpers shared by every layer: UTF-8, base64 and SHA-256.
 *
 * @module
 */

/** Decodes response bodies as `Response.text()` does: UTF-8, a leading byte order mark dropped. */
export const UTF8 = new TextDecoder();

/** Runs `task` over `items` with at most `limit` in flight; results in input order. */
export async function mapConcurrent<I, O>(
  items: I[],
  limit: number,
  task: (item: I) => Promise<O>,
): Promise<O[]> {
  const results: O[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export const encodeBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

export const decodeBase64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
