// Files written whole or not at all (FORMAT.md §4 for objects, restore for
// files): written under a temporary name, synced, then renamed or linked
// into place by the caller. Shared by LocalStorage and restore.

import { join } from "node:path";
import { gathered, toHex } from "./_bytes.ts";

/** Writes all of `bytes` at the file's position (a write may take only part). */
export async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at));
}

/**
 * `writeAll` without leaving the thread: the bytes go to the page cache,
 * which takes microseconds, while an asynchronous write is a round trip
 * through a blocking-pool thread that, with a worker busy on every core,
 * waits for one to be free. Measured on a restore of the peers database
 * (9,210 runs of 4 KiB to 1 MiB, 2 cores): 1.86 s of writes asynchronously,
 * 0.30 s like this.
 */
export function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
}

/** Reads until `into` is full or the file ends; the bytes read (a short count: the end). */
export function readAllSync(file: Deno.FsFile, into: Uint8Array): number {
  let at = 0;
  while (at < into.length) {
    const n = file.readSync(into.subarray(at));
    if (n === null) break;
    at += n;
  }
  return at;
}

/**
 * Writes `parts` one after another, gathering runs of small ones in
 * `staging` first (src/_bytes.ts `gathered`): a pack of 4 KiB database
 * pages is thousands of parts, and one write each cost more than the
 * pipeline's crypto.
 */
export async function writeParts(
  file: Deno.FsFile,
  parts: readonly Uint8Array[],
  staging: Uint8Array,
): Promise<void> {
  await gathered(parts, staging, (bytes) => writeAll(file, bytes));
}

/**
 * Temporary files not yet renamed, linked or removed by their caller: what a
 * cancelled run (Ctrl-C) removes before it exits (`removeTempFilesSync`).
 */
const pending = new Set<string>();

/** True when `name` is one `writeTempFile` gives with `prefix`: the prefix and 16 hex digits. */
function isTempFileName(name: string, prefix: string): boolean {
  return name.length === prefix.length + 16 && name.startsWith(prefix) &&
    /^[0-9a-f]{16}$/.test(name.slice(prefix.length));
}

/**
 * Removes from `dir` (not below it) the temporary files `writeTempFile`
 * named with `prefix` that a killed process left: untouched for over
 * `olderThanMs` (a writer still at work touches its file as it goes) and not
 * this process's own. Best effort: a folder that cannot be listed, or a file
 * that cannot be removed, is passed over. Returns what it removed.
 */
export async function removeStaleTempFiles(
  dir: string,
  prefix: string,
  olderThanMs: number,
): Promise<{ files: number; bytes: number }> {
  const removed = { files: 0, bytes: 0 };
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !isTempFileName(entry.name, prefix)) continue;
      const path = join(dir, entry.name);
      if (pending.has(path)) continue;
      const info = await Deno.stat(path).catch(() => null);
      if (!info || Date.now() - (info.mtime?.getTime() ?? Date.now()) <= olderThanMs) continue;
      try {
        await Deno.remove(path);
        removed.files++;
        removed.bytes += info.size;
      } catch {
        // Removed meanwhile, or not ours to remove.
      }
    }
  } catch {
    // A folder that is missing or cannot be listed has nothing to remove.
  }
  return removed;
}

/** The caller is done with `path` (renamed, linked or removed it): a cancel leaves it be. */
export function settleTempFile(path: string): void {
  pending.delete(path);
}

/**
 * Removes every temporary file still pending, synchronously: for a signal
 * handler about to exit (cli/main.ts), so that a cancelled backup or
 * restore leaves no `.tmp-…` or `.cofre-restore-…` file behind.
 */
export function removeTempFilesSync(): void {
  for (const path of pending) {
    try {
      Deno.removeSync(path);
    } catch {
      // Gone already, or not ours to remove any more.
    }
  }
  pending.clear();
}

/**
 * Creates a new file `prefix` + random hex in `dir` (mode 0600), lets `body`
 * write it, and syncs its data. On any failure the file is closed and
 * removed, so nothing half-written stays behind. `body` may also write the
 * file by its path (a restore worker does). Returns the temporary path,
 * pending until the caller's `settleTempFile` (a cancel removes it).
 */
export async function writeTempFile(
  dir: string,
  prefix: string,
  body: (file: Deno.FsFile, path: string) => Promise<void>,
): Promise<string> {
  const temp = join(dir, prefix + toHex(crypto.getRandomValues(new Uint8Array(8))));
  // Pending before it exists: a signal handled right after the open still finds it.
  pending.add(temp);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
  } catch (error) {
    pending.delete(temp);
    throw error;
  }
  try {
    await body(file, temp);
    await file.syncData();
  } catch (error) {
    file.close();
    await Deno.remove(temp).catch(() => {});
    pending.delete(temp);
    throw error;
  }
  file.close();
  return temp;
}
