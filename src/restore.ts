/**
 * Restore: write a snapshot's files back, every chunk verified (FORMAT.md
 * §8.2). Files are written under a temporary name and renamed into place, so
 * a restore that stops halfway leaves no half-written file under a real
 * name. Existing files are kept unless `overwrite` is set.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { removeStaleTempFiles, settleTempFile, writeTempFile } from "./_temp_file.ts";
import { Limiter } from "./_limiter.ts";
import { readTree } from "./backup.ts";
import type { BlobStore } from "./blob_store.ts";
import type { TreeNode } from "./format.ts";
import { FormatError, RestoreConflictError } from "./errors.ts";

export interface RestoreOptions {
  /** The folder to restore into; created if missing. */
  target: string;
  /** Restore only these paths (relative to the snapshot root, e.g. `app/db/msgstore.db`) and what is below them. */
  include?: string[];
  /** Replace existing files (default: keep them and report them as skipped). */
  overwrite?: boolean;
  onProgress?: (progress: Readonly<RestoreProgress>) => void;
  /** Bytes the restore covers, when the caller knows (a whole snapshot's): reported for an ETA. */
  totalBytes?: number;
}

export interface RestoreProgress {
  /** Regular files written (symlinks are not counted, as in backup). */
  files: number;
  dirs: number;
  bytes: number;
  /** Existing files left alone (no `overwrite`), and folders kept where something else stood. */
  skipped: number;
  /** The skipped files' sizes in the snapshot. */
  skippedBytes: number;
  /** `RestoreOptions.totalBytes`, when given. */
  totalBytes?: number;
  path: string;
}

/** Bytes of a file written between two syncs while it is restored. */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

/** Restores the tree `rootTree` (a snapshot's root) into `options.target`. */
export async function restore(
  store: BlobStore,
  rootTree: string,
  options: RestoreOptions,
): Promise<RestoreProgress> {
  const include = (options.include ?? []).map((p) => p.replace(/^\/+|\/+$/g, "")).filter((p) =>
    p !== ""
  );
  const progress: RestoreProgress = {
    files: 0,
    dirs: 0,
    bytes: 0,
    skipped: 0,
    skippedBytes: 0,
    ...(options.totalBytes !== undefined ? { totalBytes: options.totalBytes } : {}),
    path: "",
  };
  const report = () => options.onProgress?.({ ...progress });
  // Directories get their mode and mtime after their content: a read-only
  // folder must still be writable while it is being filled.
  const directoryFixups: { path: string; node: TreeNode }[] = [];
  // In flight at once: files being written (one more than the jobs, so a
  // job is always ready), and jobs across all of them (src/blob_store.ts
  // restoreFile; a job holds at most 2 MiB of plaintext, so this bounds
  // memory). Two jobs a core: one runs while the next is planned, or read
  // from remote storage. A file's syncs and renames run on after its slot.
  const fileSlots = new Limiter(2 * store.parallelism + 1);
  /** What could not be restored: the rest is, and one of these (`namedFailure`) is thrown at the end. */
  const failures: { path: string; error: unknown }[] = [];
  const jobSlots = new Limiter(2 * store.parallelism);
  const leaves: Promise<void>[] = [];

  /** True when `relative` is included, or lies on the way to an included path. */
  const wanted = (relative: string): "yes" | "partly" | "no" => {
    if (include.length === 0) return "yes";
    for (const p of include) {
      if (relative === p || relative.startsWith(p + "/")) return "yes";
    }
    return include.some((p) => p.startsWith(relative + "/")) ? "partly" : "no";
  };

  /** Restores the wanted part of a tree, several files at once. */
  async function restoreTree(
    treeId: string,
    dir: string,
    relativeDir: string,
    all: boolean,
  ): Promise<void> {
    const nodes = await readTree(store, treeId);
    for (const node of nodes.values()) {
      const relative = relativeDir ? `${relativeDir}/${node.name}` : node.name;
      const want = all ? "yes" : wanted(relative);
      if (want === "no") continue;
      const path = join(dir, node.name);
      if (node.type === "dir") {
        let folder: Awaited<ReturnType<typeof folderAt>>;
        try {
          folder = await folderAt(path);
          if (folder === "kept") continue;
          await restoreTree(node.subtree, path, relative, want === "yes");
        } catch (error) {
          // A damaged tree, a folder that cannot be made: the rest goes on.
          failures.push({ path, error });
          continue;
        }
        if (want === "yes") progress.dirs++;
        // A folder on the way to an --include path gets its mode and time when
        // this restore made it; one that was there already is left as it was.
        if (want === "yes" || folder === "made") directoryFixups.push({ path, node });
      } else if (want === "yes") {
        // A media library is mostly one-chunk files: several at once.
        await fileSlots.acquire();
        let held = true;
        const release = () => {
          if (held) fileSlots.release();
          held = false;
        };
        const job = restoreLeaf(node, path, release).finally(release);
        job.catch((error) => void failures.push({ path, error })); // awaited with the others below
        leaves.push(job);
      }
    }
  }

  /**
   * Makes `path` a real folder to restore into: "existed" or "made"; "kept"
   * when something else is in its place and stays (no `overwrite`), counted
   * as skipped. A
   * symlink there is never followed: what it points to may lie outside the
   * target. With `overwrite`, a symlink or file in the folder's place is
   * removed (a symlink itself, not what it points to).
   */
  async function folderAt(path: string): Promise<"existed" | "made" | "kept"> {
    const existing = await Deno.lstat(path).catch(() => null);
    if (existing?.isDirectory) {
      await removeStaleTemps(path);
      return "existed";
    }
    if (existing) {
      if (!options.overwrite) {
        progress.skipped++;
        report();
        return "kept";
      }
      await Deno.remove(path);
    }
    await Deno.mkdir(path);
    return "made";
  }

  /**
   * `written`: called once the file's content is written, before it is
   * synced and renamed: the disk flushes one file while the next is written
   * (the syncs, one after the other with the writes, took a fifth of a
   * restore of the peers corpus).
   */
  async function restoreLeaf(node: TreeNode, path: string, written: () => void): Promise<void> {
    progress.path = path;
    const existing = await Deno.lstat(path).catch(() => null);
    if (existing && !options.overwrite) {
      progress.skipped++;
      if (node.type === "file") progress.skippedBytes += node.size;
      report();
      return;
    }
    if (existing?.isDirectory) {
      // A folder is never removed to make room for a file, even with --overwrite.
      throw new RestoreConflictError(
        `Cannot restore ${path}: a folder is in the place of this ${node.type}; ` +
          "move or remove it, or restore into another --target",
      );
    }
    if (node.type === "symlink") {
      if (existing) await Deno.remove(path);
      // A symlink's own time is not restored: Deno.utime would follow the link.
      await Deno.symlink(node.target, path);
      return;
    }
    if (node.type !== "file") return;
    const temp = await writeTempFile(dirname(path), TEMP_PREFIX, async (file, temp) => {
      // A large file is flushed as it is written, one sync at a time, so
      // that the sync before its rename has only the last part left: the
      // database, restored last, was otherwise synced whole while the rest
      // of the restore waited.
      let unsynced = 0;
      let syncing: Promise<void> | null = null;
      // A failed sync reports its error once (Linux): kept for the file's end.
      const failures: unknown[] = [];
      await store.restoreFile(node, temp, {
        slots: jobSlots,
        onWritten: (bytes) => {
          progress.bytes += bytes;
          report();
          unsynced += bytes;
          if (unsynced >= SYNC_EVERY_BYTES && syncing === null) {
            unsynced = 0;
            syncing = file.syncData()
              .catch((error) => void failures.push(error))
              .finally(() => syncing = null);
          }
        },
      });
      await syncing;
      if (failures.length > 0) throw failures[0];
      written();
    });
    try {
      await Deno.chmod(temp, node.mode & 0o7777);
      await setTime(temp, node);
      await Deno.rename(temp, path);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    } finally {
      settleTempFile(temp);
    }
    progress.files++;
    report();
  }

  // Check every --include path before writing anything.
  const missing = [];
  for (const p of include) if (!(await exists(store, rootTree, p))) missing.push(p);
  if (missing.length > 0) {
    throw new RangeError(
      `Cannot restore ${missing.join(", ")}: not in the snapshot (see 'cofre ls')`,
    );
  }
  await targetFolder(options.target);
  await removeStaleTemps(options.target);
  let walkFailure: { reason: unknown } | undefined;
  try {
    await restoreTree(rootTree, options.target, "", false);
  } catch (reason) {
    walkFailure = { reason };
  }
  // Every file started is finished or cleaned up (its temporary file removed) before any error.
  await Promise.allSettled(leaves);
  if (walkFailure) throw walkFailure.reason;
  for (const { path, node } of directoryFixups.reverse()) {
    await Deno.chmod(path, node.mode & 0o7777);
    await setTime(path, node);
  }
  if (failures.length > 0) throw namedFailure(failures);
  return progress;
}

/**
 * The first failure, its message naming the path and how many others
 * failed, in its own class (the CLI's exit code and advice go by it).
 */
function namedFailure(failures: { path: string; error: unknown }[]): unknown {
  // Damage first: its class brings the CLI's advice to run 'cofre check'.
  const { path, error } = failures.find((f) => f.error instanceof FormatError) ?? failures[0]!;
  if (!(error instanceof Error)) return error;
  const others = failures.length - 1;
  const prefix = `Cannot restore ${path}`;
  error.message =
    (error.message.startsWith(prefix) ? error.message : `${prefix}: ${error.message}`) +
    (others > 0 ? ` (and ${others} other path(s): everything else was restored)` : "");
  return error;
}

/** A restore's temporary files' prefix (src/_temp_file.ts adds 16 hex digits). */
const TEMP_PREFIX = ".cofre-restore-";

/**
 * A temporary file untouched this long is a killed restore's: one still
 * running writes its files as it goes (a sync or a stalled download takes
 * seconds, not this).
 */
const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * Removes what a restore that was killed (not cancelled: that cleans up)
 * left in `dir`. Another restore into the same target at the same time
 * keeps its files (src/_temp_file.ts `removeStaleTempFiles`).
 */
async function removeStaleTemps(dir: string): Promise<void> {
  await removeStaleTempFiles(dir, TEMP_PREFIX, STALE_TEMP_MS);
}

/** Creates the target folder if missing; one clear error when that cannot be done. */
async function targetFolder(target: string): Promise<void> {
  // The target itself may be a symlink to a folder: the person chose it.
  const info = await Deno.stat(target).catch(() => null);
  if (info && !info.isDirectory) {
    throw new RestoreConflictError(
      `Cannot restore into ${target}: it is a file, not a folder; choose another --target`,
    );
  }
  if (info) return;
  try {
    await Deno.mkdir(target, { recursive: true });
  } catch (error) {
    // The system's own error (permission, a file on the way, no space), with what was asked.
    if (error instanceof Error) {
      error.message = `Cannot create the target folder ${target}: ${error.message}`;
    }
    throw error;
  }
}

/** True when `path` (relative to the root) names a node of the tree. */
async function exists(store: BlobStore, root: string, path: string): Promise<boolean> {
  let tree = root;
  const parts = path.split("/");
  for (const [i, part] of parts.entries()) {
    const node = (await readTree(store, tree)).get(part);
    if (!node) return false;
    if (i === parts.length - 1) return true;
    if (node.type !== "dir") return false;
    tree = node.subtree;
  }
  return false;
}

async function setTime(path: string, node: TreeNode): Promise<void> {
  const mtime = new Date(node.mtimeMs);
  await Deno.utime(path, mtime, mtime);
}
