/**
 * The program's version, written into manifests, checkpoints and `--version`.
 *
 * @module
 */

export const VERSION = "0.1.0";
