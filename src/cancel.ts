/**
 * What a cancelled process does before it exits (Ctrl-C, SIGTERM): removes
 * the temporary files of the writes it has in progress, a backup's packs
 * and a restore's files, so that nothing half-written stays behind.
 *
 * @module
 */

import { removeTempFilesSync } from "./_temp_file.ts";

/**
 * Removes every temporary file this process is still writing, synchronously
 * (for a signal handler about to exit). Files already renamed or linked into
 * place are not touched.
 *
 * @example
 * ```ts
 * import { removePendingWritesSync } from "./cancel.ts";
 * // In a SIGINT handler, before Deno.exit(130) (cli/main.ts); nothing is pending here.
 * removePendingWritesSync();
 * ```
 */
export function removePendingWritesSync(): void {
  removeTempFilesSync();
}
