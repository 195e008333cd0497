/**
 * HTTP helpers both emulators share.
 *
 * @module
 */

/** Where a fault cuts a body of `length` bytes: at least one byte sent, at least one missing. */
export function cutPoint(length: number, variant: number): number {
  return 1 + Math.floor(variant * Math.max(length - 1, 1));
}

/**
 * A response whose connection drops mid-body: it declares the full
 * Content-Length of `bytes` and ends the stream after the cut that `variant`
 * picks, so Deno closes the connection and the client's body read throws.
 * (Erroring the stream does the same but makes Deno.serve log the error on
 * every injected drop.)
 */
export function resetResponse(
  bytes: Uint8Array<ArrayBuffer>,
  variant: number,
  status: number,
  headers: Headers,
): Response {
  const sent = bytes.subarray(0, cutPoint(bytes.length, variant));
  headers.set("content-length", String(bytes.length));
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(sent);
      controller.close();
    },
  });
  return new Response(body, { status, headers });
}
