/**
 * Cofre: end-to-end encrypted, deduplicated backups. The storage sees only
 * ciphertext; a password or a 64-digit recovery key, never stored, opens it.
 *
 * This module is the public API; the `cofre` CLI (cli/main.ts) is built on it.
 *
 * @example
 * ```ts
 * import { cutPoints } from "./mod.ts";
 * const data = crypto.getRandomValues(new Uint8Array(60_000));
 * const ends = cutPoints(data, { minSize: 1024, avgSize: 4096, maxSize: 16384 });
 * console.log(`${ends.length} chunks`);
 * ```
 *
 * @module
 */

export * from "./src/account.ts";
export * from "./src/aead.ts";
export * from "./src/backup.ts";
export * from "./src/bench.ts";
export * from "./src/blob.ts";
export * from "./src/blob_index.ts";
export * from "./src/blob_store.ts";
export * from "./src/cancel.ts";
export * from "./src/chain.ts";
export * from "./src/check.ts";
export * from "./src/chunk_id.ts";
export * from "./src/chunker.ts";
export * from "./src/compress.ts";
export * from "./src/diff.ts";
export * from "./src/errors.ts";
export * from "./src/forget.ts";
export * from "./src/format.ts";
export * from "./src/keys.ts";
export * from "./src/lock.ts";
export * from "./src/pack.ts";
export * from "./src/password.ts";
export * from "./src/pin.ts";
export * from "./src/prune.ts";
export * from "./src/repository.ts";
export * from "./src/restore.ts";
export * from "./src/schedule.ts";
export * from "./src/settings.ts";
export * from "./src/snapshot.ts";
export * from "./src/storage/local.ts";
export * from "./src/storage/memory.ts";
export * from "./src/storage/storage.ts";
export * from "./src/version.ts";
export * from "./src/workers.ts";
export { DEFAULT_ARGON2ID, deriveArgon2id, hkdf } from "./src/kdf.ts";
export * from "./src/storage/s3.ts";
export * from "./src/storage/rclone.ts";
