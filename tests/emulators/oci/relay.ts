/**
 * The TCP relay that lets the emulator drop a client's connection without an answer.
 *
 * @module
 */

/**
 * A TCP relay in front of the HTTP server, so the emulator can close one client's connection without an answer
 * (Deno.serve always sends a status line before it fails a body). Each client connection gets its own
 * upstream connection; the server sees the upstream's local port as the remote port, which names the pair.
 */
export class Relay {
  #listener?: Deno.Listener;
  readonly #pairs = new Map<number, { client: Deno.Conn; upstream: Deno.Conn; done: Promise<unknown> }>();
  #accepting?: Promise<void>;

  /** Listens on 127.0.0.1:`port` and relays to `upstreamPort`; returns the port it listens on. */
  start(upstreamPort: number, port: number): number {
    const listener = this.#listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.#accepting = (async () => {
      try {
        for await (const client of listener) this.#relay(client, upstreamPort).catch(() => client.close());
      } catch {
        // the listener was closed
      }
    })();
    return (listener.addr as Deno.NetAddr).port;
  }

  async #relay(client: Deno.Conn, upstreamPort: number) {
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
    const key = (upstream.localAddr as Deno.NetAddr).port;
    const closeBoth = () => {
      this.#pairs.delete(key);
      for (const conn of [client, upstream]) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    };
    const copy = async (from: Deno.Conn, to: Deno.Conn) => {
      const buffer = new Uint8Array(64 * 1024);
      try {
        for (;;) {
          const n = await from.read(buffer);
          if (n === null) break;
          let offset = 0;
          while (offset < n) offset += await to.write(buffer.subarray(offset, n));
        }
      } catch {
        // either side closed
      }
      closeBoth();
    };
    const done = Promise.all([copy(client, upstream), copy(upstream, client)]);
    this.#pairs.set(key, { client, upstream, done });
    await done;
  }

  /** Closes the client connection relayed through upstream local port `key`, before any answer reaches it. */
  drop(key: number) {
    const pair = this.#pairs.get(key);
    if (!pair) return;
    this.#pairs.delete(key);
    for (const conn of [pair.client, pair.upstream]) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  }

  stopListening() {
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
  }

  async close() {
    this.stopListening();
    await this.#accepting;
    for (const key of [...this.#pairs.keys()]) this.drop(key);
  }
}
