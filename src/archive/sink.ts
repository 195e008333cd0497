/**
 * The sink contract: create-if-absent, read, exists and listing; nothing is ever overwritten.
 *
 * @module
 */

export interface Sink {
  readonly description: string;
  /** Creates the object only if no object of that name exists; false when one does (never overwrites). */
  createExclusive(name: string, bytes: Uint8Array): Promise<boolean>;
  /** The object's bytes, or undefined when there is none. */
  read(name: string): Promise<Uint8Array | undefined>;
  /** Whether the object exists, read without its bytes. */
  exists(name: string): Promise<boolean>;
  /**
   * The names directly under a folder (`a/b` → `a/b/c`, `a/b/d.json`), sorted; with `from`, only those that
   * sort at or after it.
   */
  listChildren(prefix: string, from?: string): Promise<string[]>;
}
