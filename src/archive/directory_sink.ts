/**
 * The directory sink: objects as files under ARCHIVE_DIR, created no-clobber.
 *
 * @module
 */

import type { Sink } from "./sink.ts";
import { ArchiveError } from "../errors.ts";

/** A local directory; names map `/` to folders. No-clobber, crash-safe commits through hard links. */
export class DirectorySink implements Sink {
  readonly description: string;
  constructor(readonly root: string) {
    this.description = `directory ${root}`;
  }

  #path(name: string) {
    return `${this.root}/${name}`;
  }

  async createExclusive(name: string, bytes: Uint8Array): Promise<boolean> {
    const path = this.#path(name);
    const folder = path.slice(0, path.lastIndexOf("/"));
    await Deno.mkdir(folder, { recursive: true });
    // Write and fsync a temporary file, then link it to the name: link(2) fails if the name exists, so the
    // object appears whole or not at all, and never replaces another. The temporary name ends in `.tmp`.
    const temporary = `${folder}/.${name.slice(name.lastIndexOf("/") + 1)}.${crypto.randomUUID()}.tmp`;
    try {
      const file = await Deno.open(temporary, { write: true, createNew: true });
      try {
        await file.write(bytes).then(async (written) => {
          for (let offset = written; offset < bytes.length;) {
            offset += await file.write(bytes.subarray(offset));
          }
        });
        await file.sync();
      } finally {
        file.close();
      }
      try {
        await Deno.link(temporary, path);
      } catch (error) {
        if (error instanceof Deno.errors.AlreadyExists) return false;
        throw error;
      }
      const dir = await Deno.open(folder, { read: true });
      await dir.sync().finally(() => dir.close());
      return true;
    } catch (error) {
      throw new ArchiveError("ARCHIVE", `cannot write ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      await Deno.remove(temporary).catch(() => {});
    }
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      return await Deno.readFile(this.#path(name));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw new ArchiveError("ARCHIVE", `cannot read ${this.#path(name)}: ${(error as Error).message}`);
    }
  }

  async exists(name: string): Promise<boolean> {
    try {
      return (await Deno.stat(this.#path(name))).isFile;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw new ArchiveError("ARCHIVE", `cannot read ${this.#path(name)}: ${(error as Error).message}`);
    }
  }

  async listChildren(prefix: string): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.#path(prefix))) {
        if (!entry.name.startsWith(".")) names.push(`${prefix}/${entry.name}`);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw new ArchiveError("ARCHIVE", `cannot list ${this.#path(prefix)}: ${(error as Error).message}`);
    }
    return names.sort();
  }
}
