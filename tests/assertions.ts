/**
 * Assertions shared by the pure tests.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ArchiveError } from "../src/errors.ts";

/** Runs `fn`, asserts it throws an ArchiveError with `code`, and returns that error. */
export function archiveErrorOf(fn: () => unknown, code: string): ArchiveError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof ArchiveError, `expected an ArchiveError, got ${String(thrown)}`);
  assert.equal(thrown.code, code);
  return thrown;
}
