/**
 * Backup: walk the sources, cut files into chunks, store the new ones, record
 * the directory trees and the snapshot (FORMAT.md §7-12). Files unchanged
 * since the parent snapshot (same size, mtime, inode and ctime) are not read
 * again. A file that cannot be read is recorded as failed and skipped; the
 * rest of the backup goes on.
 *
 * @module
 */

import { basename, resolve } from "node:path";
import { toHex } from "./_bytes.ts";
import { BufferPool, discard } from "./_buffer_pool.ts";
import { GarbageMeter } from "./_gc.ts";
import type { AesGcm } from "./aead.ts";
import { Limiter } from "./_limiter.ts";
import type { BlobIndex } from "./blob_index.ts";
import { BlobStore, BlobWriter } from "./blob_store.ts";
import { StreamingChunker } from "./chunker.ts";
import { type Config, decodeTree, encodeTree, type PackRef, type TreeNode } from "./format.ts";
import {
  type Snapshot,
  type SnapshotKeys,
  type StoredSnapshot,
  writeSnapshot,
} from "./snapshot.ts";
import type { Storage } from "./storage/storage.ts";
import type { BlobCrypto } from "./workers.ts";
import {
  COMPANION_SUFFIXES,
  companionStates,
  DatabaseCapturer,
  PageChunker,
  sameCompanions,
} from "./sqlite.ts";

/** Progress, reported as the backup goes. */
export interface BackupProgress {
  files: number;
  dirs: number;
  /** Bytes of files processed (read, or unchanged and skipped). */
  bytes: number;
  /** Bytes of new chunks stored. */
  newBytes: number;
  /** Bytes of packs written to the storage so far (upload speed on remote storage). */
  storedBytes: number;
  /** The file being read. */
  path: string;
}

export interface BackupOptions {
  /** Files and folders to back up. */
  paths: string[];
  tags?: string[];
  /** Glob patterns (`*`, `**`, `?`); a pattern without `/` matches names anywhere. */
  excludes?: string[];
  host?: string;
  username?: string;
  /** Packs uploaded at once (default 1); remote storage wants several (`--connections`). */
  uploads?: number;
  onProgress?: (progress: Readonly<BackupProgress>) => void;
}

/** What a backup run produced. */
export interface BackupResult {
  snapshotId: string;
  snapshot: Snapshot;
  /** Packs this run stored, and their bytes. */
  addedPacks: number;
  addedBytes: number;
}

/** Everything backup needs from an open repository (src/repository.ts supplies it). */
export interface BackupContext {
  storage: Storage;
  config: Config;
  keys: SnapshotKeys & { meta: AesGcm };
  /** Hashing and sealing, in workers or inline. */
  crypto: BlobCrypto;
  cdcSeed: bigint;
  index: BlobIndex;
  /** Every snapshot in the repository, oldest first. */
  snapshots: StoredSnapshot[];
  /**
   * The envelope the new snapshot follows (FORMAT.md §12.3: the newest,
   * tombstones included), by the hash chain links name; null for the first.
   */
  previous: { id: string; sequence: bigint } | null;
}

const READ_BUFFER_BYTES = 1024 * 1024;
/** Chunks up to this size (database pages: FORMAT.md §7.4) travel in batches... */
const SMALL_CHUNK_BYTES = 64 * 1024;
/** ...of about this many bytes: one message each way per batch instead of per chunk. */
const BATCH_BYTES = 256 * 1024;
/** Free chunk buffers kept for reuse (src/_buffer_pool.ts). */
const POOL_BYTES = 16 * 1024 * 1024;
/** Names chat apps give their databases (FORMAT.md §7.4): only the order of the walk depends on it. */
const LIKELY_DATABASE = /\.(db|db3|sqlite|sqlite3)$/i;

/** Runs one backup. */
export async function backup(
  context: BackupContext,
  options: BackupOptions,
): Promise<BackupResult> {
  const started = Date.now();
  const { storage, config, keys, index } = context;
  if (options.paths.length === 0) throw new RangeError("Cannot back up: no paths given");
  const paths = options.paths.map((p) => resolve(p));
  const names = paths.map((p) => basename(p) || "root");
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) {
    throw new RangeError(
      `Cannot back up: two paths end in "${duplicate}"; back them up in separate runs or by their parent`,
    );
  }
  const host = options.host ?? Deno.hostname();
  const username = options.username ?? (Deno.env.get("USER") ?? "");
  const { crypto } = context;
  // Chunks and their sealed blobs live in reused buffers; batched pages are
  // freed as soon as their pack holds them (src/_buffer_pool.ts).
  const buffers = new BufferPool({ maxBytes: POOL_BYTES });
  const garbage = new GarbageMeter(); // a backstop, when RSS calls for it (src/_gc.ts)
  const writer = new BlobWriter(storage, index, crypto, keys.meta, {
    uploads: options.uploads,
    buffers,
  });
  const reader = new BlobStore(storage, index, crypto);
  // Chunks in flight, across all stages: this, not file size, bounds memory.
  const window = new Limiter(3 * crypto.parallelism + 1);
  const excludes = (options.excludes ?? []).map(globToRegExp);
  const failed: { path: string; error: string }[] = [];
  const progress: BackupProgress = {
    files: 0,
    dirs: 0,
    bytes: 0,
    newBytes: 0,
    storedBytes: 0,
    path: "",
  };
  const report = () =>
    options.onProgress?.({
      ...progress,
      newBytes: writer.stats.newBytes,
      storedBytes: writer.stats.storedBytes,
    });
  // Packs the snapshot needs (FORMAT.md §12.1), collected as blobs are referenced.
  // A blob not in the index yet is new, and every new blob lands in a pack
  // this run stores: those are added at the end.
  const neededPacks = new Set<string>();
  const reference = (id: string) => {
    const location = index.get(id);
    // A blob in a withdrawn pack (FORMAT.md §14.2) is stored again: the new pack is added below.
    if (location && index.has(id)) neededPacks.add(location.pack);
  };

  // restic's rule: the parent is the newest snapshot of the same host and paths.
  const parent =
    [...context.snapshots].reverse().find((s) =>
      s.snapshot.host === host && sameList(s.snapshot.paths, paths)
    ) ?? null;
  const parentRoot = parent ? await readTree(reader, parent.snapshot.tree) : null;
  const chunker = new StreamingChunker({ ...config.chunker, seed: context.cdcSeed }, {
    // Small chunks travel in batches, copied together: a pooled buffer each would waste its room.
    allocate: (length) =>
      length > SMALL_CHUNK_BYTES ? buffers.take(length) : new Uint8Array(length),
  });
  const buffer = new Uint8Array(READ_BUFFER_BYTES);
  // FORMAT.md §7.4: databases are read from consistent copies; their companions are skipped.
  const databases = new DatabaseCapturer();
  const capturedDatabases = new Set<string>();
  const isCompanion = (path: string) =>
    COMPANION_SUFFIXES.some((suffix) =>
      path.endsWith(suffix) && capturedDatabases.has(path.slice(0, -suffix.length))
    );

  const excluded = (path: string) =>
    excludes.some((re) => re.test(path) || re.test(basename(path)));

  async function storeTree(nodes: TreeNode[]): Promise<string> {
    const id = await writer.add("tree", encodeTree(nodes));
    reference(id);
    return id;
  }

  /** One chunk through hash → dedup → seal → pack; resolves to its hex id. */
  async function storeChunk(bytes: Uint8Array): Promise<string> {
    try {
      const length = bytes.length;
      const hashed = await crypto.hash(bytes);
      const hex = toHex(hashed.id);
      if (writer.reserve(hex)) {
        const { sealed } = await crypto.seal("data", hashed.bytes, hashed.id);
        await writer.addSealed("data", hashed.id, sealed, length);
      } else buffers.give(hashed.bytes);
      reference(hex);
      return hex;
    } finally {
      window.release();
    }
  }

  /**
   * Small chunks (database pages, FORMAT.md §7.4) through the same stages as
   * one job each way: per-chunk messages would cost more than the work.
   */
  async function storeBatch(parts: Uint8Array[]): Promise<string[]> {
    try {
      const lengths = parts.map((p) => p.length);
      const hashed = await crypto.hashMany(parts);
      const hexes = hashed.ids.map(toHex);
      const fresh = hexes.flatMap((hex, i) => writer.reserve(hex) ? [i] : []);
      if (fresh.length > 0) {
        const sealed = await crypto.sealMany(
          "data",
          fresh.map((i) => hashed.parts[i]!),
          fresh.map((i) => hashed.ids[i]!),
        );
        let copied = true;
        for (const [k, i] of fresh.entries()) {
          copied = await writer.addSealed("data", hashed.ids[i]!, sealed[k]!, lengths[i]!) &&
            copied;
        }
        // In the packs' arenas now: free the batch's buffers (src/_buffer_pool.ts).
        if (copied) discard(sealed);
      }
      // The pages were copied to be hashed and sealed; none is read again.
      discard(parts);
      discard(hashed.parts);
      hexes.forEach(reference);
      return hexes;
    } finally {
      window.release();
    }
  }

  /**
   * Reads and chunks a file, handing each chunk to the pipeline; returns once
   * the file is read, with its content still being stored. The next file is
   * read meanwhile: a media library is mostly one-chunk files, and waiting
   * for each to be stored left the workers idle between files. The window
   * bounds the chunks in flight across files.
   */
  async function readFile(
    path: string,
    cutter: Pick<StreamingChunker, "push" | "finish"> = chunker,
    readBuffer: Uint8Array = buffer,
  ): Promise<{ content: Promise<string[]>; size: number }> {
    const file = await Deno.open(path, { read: true });
    const content: Promise<string[]>[] = [];
    let size = 0;
    const start = async (job: () => Promise<string[]>) => {
      await window.acquire();
      const running = job();
      running.catch(() => {}); // awaited below; this only keeps it from being "unhandled" meanwhile
      content.push(running);
    };
    const take = async (chunks: { bytes: Uint8Array }[]) => {
      let batch: Uint8Array[] = [];
      let batchBytes = 0;
      const flush = async () => {
        const parts = batch;
        batch = [];
        batchBytes = 0;
        if (parts.length > 0) await start(() => storeBatch(parts));
      };
      for (const chunk of chunks) {
        garbage.add(chunk.bytes.length);
        if (chunk.bytes.length > SMALL_CHUNK_BYTES) {
          await flush();
          await start(async () => [await storeChunk(chunk.bytes)]);
          continue;
        }
        batch.push(chunk.bytes);
        batchBytes += chunk.bytes.length;
        if (batchBytes >= BATCH_BYTES) await flush();
      }
      await flush();
    };
    try {
      for (;;) {
        const n = await file.read(readBuffer);
        if (n === null) break;
        size += n;
        progress.bytes += n;
        await take(cutter.push(readBuffer.subarray(0, n)));
        report();
      }
      await take(cutter.finish());
    } catch (error) {
      cutter.finish(); // drop the partial stream so the next file starts clean
      await Promise.allSettled(content);
      throw error;
    } finally {
      file.close();
    }
    const stored = Promise.all(content).then((ids) => ids.flat());
    stored.catch(() => {}); // the caller awaits it
    return { content: stored, size };
  }

  /** A node whose reading is done and whose storing may still run; `node` never rejects for a failed file. */
  interface Visited {
    node: Promise<TreeNode | null>;
  }
  const done = (node: TreeNode | null): Visited => ({ node: Promise.resolve(node) });
  /** A node still being stored: a failure of this file becomes a `failed` entry, as a read error does. */
  const storing = (path: string, node: Promise<TreeNode>): Visited => ({
    node: node.catch((error) => {
      failed.push({ path, error: (error as Error).message });
      return null;
    }),
  });

  /**
   * One node for `path`, or null when it was skipped (failed or a special
   * file). Returns once `path` (and all below it) is read; its node comes
   * when everything is stored.
   */
  async function visit(
    path: string,
    name: string,
    previous: TreeNode | undefined,
  ): Promise<Visited> {
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch (error) {
      failed.push({ path, error: (error as Error).message });
      return done(null);
    }
    const base = {
      name,
      mode: (info.mode ?? 0o644) & 0o7777,
      mtimeMs: info.mtime?.getTime() ?? 0,
      ...(info.ino !== null && info.ino !== undefined ? { inode: info.ino } : {}),
      ...(info.ctime ? { ctimeMs: info.ctime.getTime() } : {}),
    };
    if (info.isSymlink) {
      try {
        return done({ ...base, type: "symlink", target: await Deno.readLink(path) });
      } catch (error) {
        failed.push({ path, error: (error as Error).message });
        return done(null);
      }
    }
    if (info.isDirectory) {
      const previousNodes = previous?.type === "dir"
        ? await readTree(reader, previous.subtree)
        : null;
      const subtree = await visitDirectory(path, previousNodes);
      if (subtree === null) return done(null);
      // A tree that cannot be stored fails the backup, as before: not caught here.
      const node = subtree.tree.then((id): TreeNode => {
        progress.dirs++;
        return { ...base, type: "dir", subtree: id };
      });
      node.catch(() => {}); // awaited by the parent once its other entries are read
      return { node };
    }
    if (!info.isFile) return done(null); // sockets, FIFOs, devices: nothing to restore
    progress.path = path;
    progress.files++;
    const previousDatabase = previous?.type === "file" ? previous.sqlite : undefined;
    if (
      previous?.type === "file" &&
      (previousDatabase?.sourceSize ?? previous.size) === info.size &&
      (!previousDatabase ||
        sameCompanions(previousDatabase.companions, await companionStates(path))) &&
      previous.mtimeMs === base.mtimeMs &&
      previous.inode === base.inode && previous.ctimeMs === base.ctimeMs &&
      previous.content.every((id) => index.has(id))
    ) {
      previous.content.forEach(reference);
      progress.bytes += info.size;
      report();
      if (previousDatabase) capturedDatabases.add(path);
      return done({
        ...base,
        type: "file",
        size: previous.size,
        content: previous.content,
        ...(previousDatabase ? { sqlite: previousDatabase } : {}),
      });
    }
    // A large file: start every core now, not after the first 16 MiB (src/workers.ts).
    crypto.expect?.(info.size);
    try {
      // One copy at a time (DatabaseCapturer): a second database waits for this one's read.
      const database = await databases.capture(path, info.size);
      if (database) {
        // Now, not once read: its -wal and -journal come next in the folder.
        capturedDatabases.add(path);
        // Read beside the walk, which goes on to the media meanwhile: pages
        // keep the workers busy (zstd) while media keeps this thread busy
        // (reading, FastCDC, packing), where one after the other left a
        // core idle in each phase.
        const node = (async (): Promise<TreeNode> => {
          let read: Awaited<ReturnType<typeof readFile>>;
          try {
            read = await readFile(
              database.copy,
              new PageChunker(database.pageSize),
              new Uint8Array(READ_BUFFER_BYTES),
            );
          } finally {
            // Read whole: the copy is not needed for storing.
            await databases.release(database);
          }
          const ids = await read.content;
          return { ...base, type: "file", size: read.size, content: ids, sqlite: database.record };
        })();
        return storing(path, node);
      }
      const { content, size } = await readFile(path);
      return storing(path, content.then((ids) => ({ ...base, type: "file", size, content: ids })));
    } catch (error) {
      failed.push({ path, error: (error as Error).message });
      return done(null);
    }
  }

  /**
   * Reads a folder's entries one after another; returns once all are read,
   * with its tree's id to come once they are stored (null: unreadable).
   */
  async function visitDirectory(
    path: string,
    previous: Map<string, TreeNode> | null,
  ): Promise<{ tree: Promise<string> } | null> {
    let entries: string[];
    try {
      entries = (await Array.fromAsync(Deno.readDir(path))).map((e) => e.name);
    } catch (error) {
      failed.push({ path, error: (error as Error).message });
      return null;
    }
    // Files named like databases first, so their pages are stored beside
    // the rest of the folder (visit); the header decides what is one, and
    // a tree sorts its nodes itself (encodeTree). Companions (-wal) still
    // come after their database.
    const likely = (name: string) => LIKELY_DATABASE.test(name);
    entries.sort();
    const nodes: Promise<TreeNode | null>[] = [];
    for (const name of [...entries.filter(likely), ...entries.filter((n) => !likely(n))]) {
      const child = `${path}/${name}`;
      if (excluded(child) || isCompanion(child)) continue;
      nodes.push((await visit(child, name, previous?.get(name))).node);
    }
    const tree = Promise.all(nodes).then((all) => storeTree(all.filter((n) => n !== null)));
    tree.catch(() => {}); // awaited by the parent
    return { tree };
  }

  const pendingRoots: Promise<TreeNode | null>[] = [];
  try {
    for (let i = 0; i < paths.length; i++) {
      const { node } = await visit(paths[i]!, names[i]!, parentRoot?.get(names[i]!));
      node.catch(() => {}); // awaited below, once every path is read
      pendingRoots.push(node);
    }
  } finally {
    await Promise.allSettled(pendingRoots);
    await databases.close();
  }
  const rootNodes = (await Promise.all(pendingRoots)).filter((n) => n !== null);
  if (rootNodes.length === 0) {
    throw new Error(
      `Cannot back up: none of the paths could be read (${
        failed.map((f) => `${f.path}: ${f.error}`).join("; ")
      })`,
    );
  }
  const tree = await storeTree(rootNodes);
  await writer.finish();
  for (const pack of writer.packSizes.keys()) neededPacks.add(pack);

  const packs = await packRefs(storage, neededPacks, writer.packSizes, context.snapshots);
  const snapshot: Snapshot = {
    timeMs: Date.now(),
    host,
    username,
    paths,
    tags: options.tags ?? [],
    tree,
    parent: parent?.id ?? null,
    failed,
    ...(databases.warnings.length ? { warnings: databases.warnings } : {}),
    stats: {
      files: progress.files,
      dirs: progress.dirs,
      bytes: progress.bytes,
      newBytes: writer.stats.newBytes,
      newBlobs: writer.stats.newBlobs,
      durationMs: Date.now() - started,
    },
  };
  const snapshotId = await writeSnapshot(storage, keys, snapshot, packs, context.previous);
  return {
    snapshotId,
    snapshot,
    addedPacks: writer.stats.packs,
    addedBytes: writer.stats.storedBytes,
  };
}

/** A tree's nodes by name. */
export async function readTree(reader: BlobStore, id: string): Promise<Map<string, TreeNode>> {
  return new Map(decodeTree(await reader.read("tree", id)).map((n) => [n.name, n]));
}

/** Sizes of the needed packs: new ones, those earlier envelopes list, and a stat for the rest. */
async function packRefs(
  storage: Storage,
  needed: Set<string>,
  added: Map<string, number>,
  snapshots: StoredSnapshot[],
): Promise<PackRef[]> {
  const known = new Map(added);
  for (const s of snapshots) for (const p of s.packs) known.set(toHex(p.id), p.size);
  const refs: PackRef[] = [];
  for (const pack of needed) {
    let size = known.get(pack);
    if (size === undefined) {
      const info = await storage.stat(`data/${pack.slice(0, 2)}/${pack}`);
      if (!info) {
        throw new Error(`Cannot finish the snapshot: pack ${pack} is missing (run 'cofre check')`);
      }
      size = info.size;
    }
    refs.push({ id: Uint8Array.from(pack.match(/../g)!, (h) => parseInt(h, 16)), size });
  }
  return refs;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** `*` matches within a name, `**` across folders, `?` one character. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
