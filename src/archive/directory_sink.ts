/**
 * The directory sink: objects as files under ARCHIVE_DIR, created no-clobber.
 *
 * @module
 */

import type { Sink } from "./sink.ts";
import { ArchiveError } from "../errors.ts";

/** Files the sink creates are 0640 and folders 0750, whatever the umask: the archive is not world-readable. */
const FILE_MODE = 0o640;
const FOLDER_MODE = 0o750;

/** Fsyncs a folder, so an entry just made in it (a file, a link, a folder) survives a crash. */
async function syncFolder(path: string) {
  const folder = await Deno.open(path, { read: true });
  await folder.sync().finally(() => folder.close());
}

/**
 * A local directory; names map `/` to folders. No-clobber, crash-safe commits through hard links. Writes never
 * follow a symbolic link below the root (ARCHIVE_DIR itself may be one): a link planted in the archive cannot
 * send a write outside it.
 */
export class DirectorySink implements Sink {
  readonly description: string;
  constructor(readonly root: string) {
    this.description = `directory ${root}`;
  }

  #path(name: string) {
    return `${this.root}/${name}`;
  }

  /**
   * The folder of `name`, made (0750, each new one fsynced into its parent) one level at a time below the
   * root; a symbolic link or a file where a folder belongs is refused, naming it.
   */
  async #folderOf(name: string): Promise<string> {
    const parts = name.split("/");
    parts.pop();
    if (parts.some((part) => part === "" || part === "." || part === "..")) {
      throw new ArchiveError("ARCHIVE", `refusing to write ${this.#path(name)}: not a plain object name`);
    }
    if (!await Deno.stat(this.root).then((s) => s.isDirectory, () => false)) {
      await Deno.mkdir(this.root, { recursive: true, mode: FOLDER_MODE });
      await Deno.chmod(this.root, FOLDER_MODE);
      // The root's parent is outside the archive: the permission set may not grant reading it (the `default`
      // set grants ./archive, not .), and then the new root is made durable by the first object's sync only.
      const parent = this.root.includes("/") ? this.root.slice(0, this.root.lastIndexOf("/")) || "/" : ".";
      await syncFolder(parent).catch((error) => {
        if (!(error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied)) {
          throw error;
        }
      });
    }
    let folder = this.root;
    for (const part of parts) {
      const parent = folder;
      folder = `${folder}/${part}`;
      let info = await Deno.lstat(folder).catch((error) => {
        if (error instanceof Deno.errors.NotFound) return undefined;
        throw error;
      });
      if (!info) {
        try {
          await Deno.mkdir(folder, { mode: FOLDER_MODE });
          await Deno.chmod(folder, FOLDER_MODE);
          await syncFolder(parent);
          continue;
        } catch (error) {
          if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
          info = await Deno.lstat(folder); // made by another writer meanwhile
        }
      }
      if (info.isSymlink) {
        throw new ArchiveError(
          "ARCHIVE",
          `refusing to write through ${folder}: it is a symbolic link inside the archive (writes never follow links below ARCHIVE_DIR); remove it or replace it with a folder`,
        );
      }
      if (!info.isDirectory) {
        throw new ArchiveError("ARCHIVE", `cannot write under ${folder}: it is not a folder`);
      }
    }
    return folder;
  }

  async createExclusive(name: string, bytes: Uint8Array): Promise<boolean> {
    const path = this.#path(name);
    let temporary: string | undefined;
    try {
      const folder = await this.#folderOf(name);
      // Write and fsync a temporary file, then link it to the name: link(2) fails if the name exists, so the
      // object appears whole or not at all, and never replaces another. The temporary name ends in `.tmp`;
      // it is created with O_EXCL, which never follows a link.
      temporary = `${folder}/.${name.slice(name.lastIndexOf("/") + 1)}.${crypto.randomUUID()}.tmp`;
      const file = await Deno.open(temporary, { write: true, createNew: true, mode: FILE_MODE });
      try {
        await Deno.chmod(temporary, FILE_MODE);
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
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
        if ((await Deno.lstat(path)).isSymlink) {
          throw new ArchiveError(
            "ARCHIVE",
            `refusing to write ${path}: a symbolic link is in its place inside the archive (writes never follow links below ARCHIVE_DIR)`,
          );
        }
        return false;
      }
      await syncFolder(folder);
      return true;
    } catch (error) {
      if (error instanceof ArchiveError) throw error;
      throw new ArchiveError("ARCHIVE", `cannot write ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      if (temporary) await Deno.remove(temporary).catch(() => {});
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

  /** readdir has no starting name: the folder is read whole, and only the names from `from` on are kept. */
  async listChildren(prefix: string, from = ""): Promise<string[]> {
    const names: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.#path(prefix))) {
        const name = `${prefix}/${entry.name}`;
        if (!entry.name.startsWith(".") && name >= from) names.push(name);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw new ArchiveError("ARCHIVE", `cannot list ${this.#path(prefix)}: ${(error as Error).message}`);
    }
    return names.sort();
  }
}
