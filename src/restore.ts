/**
 * Restore: write a snapshot's files back, every chunk verified (FORMAT.md
 * §8.2). Files are written under a temporary name and renamed into place, so
 * a restore that stops halfway leaves no half-written file under a real
 * name. Existing files are kept unless `overwrite` is set.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { BufferPool, discard, isPooled } from "./_buffer_pool.ts";
import { GarbageMeter } from "./_gc.ts";
import { writeAll, writeAllSync, writeTempFile } from "./_temp_file.ts";
import { Limiter } from "./_limiter.ts";
import { readTree } from "./backup.ts";
import type { BlobStore } from "./blob_store.ts";
import type { TreeNode } from "./format.ts";

const MIB = 1024 * 1024;

export interface RestoreOptions {
  /** The folder to restore into; created if missing. */
  target: string;
  /** Restore only these paths (relative to the snapshot root, e.g. `app/db/msgstore.db`) and what is below them. */
  include?: string[];
  /** Replace existing files (default: keep them and report them as skipped). */
  overwrite?: boolean;
  onProgress?: (progress: Readonly<RestoreProgress>) => void;
}

export interface RestoreProgress {
  /** Regular files written (symlinks are not counted, as in backup). */
  files: number;
  dirs: number;
  bytes: number;
  /** Existing files left alone (no `overwrite`). */
  skipped: number;
  path: string;
}

/** Restores the tree `rootTree` (a snapshot's root) into `options.target`. */
export async function restore(
  store: BlobStore,
  rootTree: string,
  options: RestoreOptions,
): Promise<RestoreProgress> {
  const include = (options.include ?? []).map((p) => p.replace(/^\/+|\/+$/g, "")).filter((p) =>
    p !== ""
  );
  const progress: RestoreProgress = { files: 0, dirs: 0, bytes: 0, skipped: 0, path: "" };
  const report = () => options.onProgress?.({ ...progress });
  // Directories get their mode and mtime after their content: a read-only
  // folder must still be writable while it is being filled.
  const directoryFixups: { path: string; node: TreeNode }[] = [];
  // In flight at once: files, and chunks across all of them (this bounds
  // memory: chunks are 1 MiB on average, 4 MiB at most). Each chunk waits on
  // a read, a worker and a write in turn; with two per core the cores sat
  // idle between them (peers corpus, 2 cores: 3.68-3.75 s, four per core
  // 3.51-3.52 s, peak RSS the same; six gained nothing more).
  const fileSlots = new Limiter(2 * store.parallelism + 1);
  const databaseSlots = new Limiter(1);
  const chunkSlots = new Limiter(4 * store.parallelism + 2);
  const depth = store.parallelism + 1;
  // Chunks are read and opened in reused buffers, and the others freed once
  // written (src/_buffer_pool.ts); collections only when RSS calls for one.
  const buffers = new BufferPool({ maxBytes: 16 * MIB });
  const garbage = new GarbageMeter();
  const leaves: Promise<void>[] = [];

  /** True when `relative` is included, or lies on the way to an included path. */
  const wanted = (relative: string): "yes" | "partly" | "no" => {
    if (include.length === 0) return "yes";
    for (const p of include) {
      if (relative === p || relative.startsWith(p + "/")) return "yes";
    }
    return include.some((p) => p.startsWith(relative + "/")) ? "partly" : "no";
  };

  /** True for a database read pack by pack (FORMAT.md §7.4). */
  const isDatabase = (node: TreeNode) => node.type === "file" && store.isScattered(node.content);

  /**
   * Restores the wanted part of a tree: with `databases`, only its
   * databases, started at once and one at a time, beside everything else
   * (a database's pages open in batches with gaps, reads then writes, which
   * the other files' chunks fill: met in walking order, the corpus's
   * database waited for the media, restore 6.2-7.3 s against 4.8-5.2);
   * without, every other node, several files at once.
   */
  async function restoreTree(
    treeId: string,
    dir: string,
    relativeDir: string,
    all: boolean,
    databases: boolean,
  ): Promise<void> {
    const nodes = await readTree(store, treeId);
    for (const node of nodes.values()) {
      const relative = relativeDir ? `${relativeDir}/${node.name}` : node.name;
      const want = all ? "yes" : wanted(relative);
      if (want === "no") continue;
      const path = join(dir, node.name);
      if (node.type === "dir") {
        // A database's folder is made by restoreLeaf; its mode and time come last, below.
        if (!databases) await Deno.mkdir(path, { recursive: true });
        await restoreTree(node.subtree, path, relative, want === "yes", databases);
        if (want === "yes" && !databases) {
          progress.dirs++;
          directoryFixups.push({ path, node });
        }
      } else if (want === "yes" && isDatabase(node) === databases) {
        // A media library is mostly one-chunk files: several at once. The
        // walk waits for a file slot, but never for a database.
        const slots = databases ? databaseSlots : fileSlots;
        const slot = slots.acquire();
        if (!databases) await slot;
        const job = slot.then(() =>
          restoreLeaf(node, path, databases).finally(() => slots.release())
        );
        job.catch(() => {}); // awaited with the others below
        leaves.push(job);
      }
    }
  }

  /** `database`: read pack by pack (isDatabase, known from the walk). */
  async function restoreLeaf(node: TreeNode, path: string, database: boolean): Promise<void> {
    progress.path = path;
    const exists = await Deno.lstat(path).then(() => true, () => false);
    if (exists && !options.overwrite) {
      progress.skipped++;
      report();
      return;
    }
    await Deno.mkdir(dirname(path), { recursive: true });
    if (node.type === "symlink") {
      if (exists) await Deno.remove(path);
      // A symlink's own time is not restored: Deno.utime would follow the link.
      await Deno.symlink(node.target, path);
      return;
    }
    if (node.type !== "file") return;
    const temp = await writeTempFile(
      dirname(path),
      ".cofre-restore-",
      (file) => database ? writeScattered(file, node) : writeInOrder(file, node),
    );
    await Deno.chmod(temp, node.mode & 0o7777);
    await setTime(temp, node);
    await Deno.rename(temp, path);
    progress.files++;
    report();
  }

  /** Counts restored bytes as written. */
  function written(bytes: Uint8Array): void {
    progress.bytes += bytes.length;
    garbage.add(bytes.length);
    report();
  }

  /** A database's pages (FORMAT.md §7.4): read pack by pack, written where they belong. */
  async function writeScattered(file: Deno.FsFile, node: TreeNode & { type: "file" }) {
    await chunkSlots.acquire();
    try {
      // Thousands of runs, most of a few pages: each written synchronously
      // (src/_temp_file.ts `writeAllSync`), where a round trip per run cost
      // more than the rest of the restore of the database.
      await store.readScattered(node.content, (offset, bytes) => {
        file.seekSync(offset, Deno.SeekMode.Start);
        writeAllSync(file, bytes);
        written(bytes);
      }, { buffers });
    } finally {
      chunkSlots.release();
    }
  }

  /** Reads and opens chunks ahead, in parallel (bounded across all files); writes them in order. */
  async function writeInOrder(file: Deno.FsFile, node: TreeNode & { type: "file" }) {
    const ahead: Promise<Uint8Array>[] = [];
    let next = 0;
    let held = 0; // chunk slots this file holds
    const fill = async () => {
      while (next < node.content.length && ahead.length < depth) {
        // Wait for a slot only with nothing to write: a file that waited while
        // holding slots for chunks it had read could deadlock with the others.
        if (ahead.length === 0) await chunkSlots.acquire();
        else if (!chunkSlots.tryAcquire()) break;
        held++;
        const job = store.read("data", node.content[next++]!, { buffers });
        job.catch(() => {}); // awaited in order below
        ahead.push(job);
      }
    };
    try {
      await fill();
      while (ahead.length > 0) {
        const bytes = await ahead.shift()!;
        // Chunks of about 1 MiB: an asynchronous write lets the pipeline go on meanwhile.
        await writeAll(file, bytes);
        written(bytes);
        // Back to the pool, or freed: a data blob's plaintext is ours alone (BlobStore.read).
        if (isPooled(bytes)) buffers.give(bytes);
        else discard([bytes]);
        chunkSlots.release();
        held--;
        await fill();
      }
    } catch (error) {
      await Promise.allSettled(ahead);
      for (; held > 0; held--) chunkSlots.release();
      throw error;
    }
  }

  // Check every --include path before writing anything.
  const missing = [];
  for (const p of include) if (!(await exists(store, rootTree, p))) missing.push(p);
  if (missing.length > 0) {
    throw new RangeError(
      `Cannot restore ${missing.join(", ")}: not in the snapshot (see 'cofre ls')`,
    );
  }
  await Deno.mkdir(options.target, { recursive: true });
  await restoreTree(rootTree, options.target, "", false, true);
  await restoreTree(rootTree, options.target, "", false, false);
  const outcomes = await Promise.allSettled(leaves);
  const failure = outcomes.find((o) => o.status === "rejected");
  if (failure) throw (failure as PromiseRejectedResult).reason;
  for (const { path, node } of directoryFixups.reverse()) {
    await Deno.chmod(path, node.mode & 0o7777);
    await setTime(path, node);
  }
  return progress;
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
