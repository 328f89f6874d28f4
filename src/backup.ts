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
import { concatBytes, toHex } from "./_bytes.ts";
import type { BackupJob, BackupSink } from "./_backup_job.ts";
import { GarbageMeter } from "./_gc.ts";
import type { AesGcm } from "./aead.ts";
import { Limiter } from "./_limiter.ts";
import type { BlobIndex } from "./blob_index.ts";
import { BlobStore, BlobWriter } from "./blob_store.ts";
import {
  CHUNK_ID_BYTES,
  CONTENT_LIST_IDS,
  decodeTree,
  encodeContentList,
  encodeTree,
  type FileContent,
  type PackRef,
  sameFileContent,
  type TreeNode,
} from "./format.ts";
import {
  type Snapshot,
  type SnapshotKeys,
  type StoredSnapshot,
  writeSnapshot,
} from "./snapshot.ts";
import type { Storage } from "./storage/storage.ts";
import type { BlobCrypto } from "./workers.ts";
import {
  type CapturedDatabase,
  COMPANION_SUFFIXES,
  companionStates,
  DatabaseCapturer,
  databaseChunkBytes,
  databaseChunkLimit,
  probeDatabase,
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
  /** Glob patterns (`*`, `**`, `?`, `[...]`), matched as `excludeMatcher` says. */
  excludes?: string[];
  host?: string;
  username?: string;
  /** Packs uploaded at once (default 1); remote storage wants several (`--connections`). */
  uploads?: number;
  /**
   * At most this many chunks per database (FORMAT.md §7.4; default
   * `MAX_DATABASE_CHUNKS`, 2^17): a smaller limit bounds a backup's memory
   * harder, at the price of coarser chunks for large databases.
   */
  maxDatabaseChunks?: number;
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
  keys: SnapshotKeys & { meta: AesGcm };
  /** Reading, chunking, hashing and sealing files (its chunker seeded already), in workers or inline. */
  crypto: BlobCrypto;
  index: BlobIndex;
  /** Every snapshot in the repository, oldest first. */
  snapshots: StoredSnapshot[];
  /**
   * The envelope the new snapshot follows (FORMAT.md §12.3: the newest,
   * tombstones included), by the hash chain links name; null for the first.
   */
  previous: { id: string; sequence: bigint } | null;
  /** For a blob the index does not name (the parent's trees, an index file lost): src/blob_store.ts. */
  recover?: () => Promise<number>;
}

/** A folder's tree in the parent snapshot: its id and its nodes by name. */
interface PreviousTree {
  id: string;
  nodes: Map<string, TreeNode>;
}

/** True when `nodes` are exactly `previous`'s (an unchanged file's node shares its content list). */
function sameNodes(nodes: TreeNode[], previous: Map<string, TreeNode>): boolean {
  return nodes.length === previous.size && nodes.every((node) => {
    const before = previous.get(node.name);
    if (
      !before || before.type !== node.type || before.mode !== node.mode ||
      before.mtimeMs !== node.mtimeMs || before.inode !== node.inode ||
      before.ctimeMs !== node.ctimeMs
    ) return false;
    if (node.type === "dir") return before.type === "dir" && before.subtree === node.subtree;
    if (node.type === "symlink") return before.type === "symlink" && before.target === node.target;
    return before.type === "file" && before.size === node.size &&
      sameFileContent(before, node) &&
      JSON.stringify(before.sqlite) === JSON.stringify(node.sqlite);
  });
}

/** The coarsest ctime a platform gives (Deno's: whole seconds), FORMAT.md §11. */
const CTIME_GRAIN_MS = 1000;

/** A file's node (FORMAT.md §11). */
type FileNode = Extract<TreeNode, { type: "file" }>;

/** What every node of a path has (FORMAT.md §11), whatever its type. */
type NodeBase = { name: string; mode: number; mtimeMs: number; inode?: number; ctimeMs?: number };

/** Names chat apps give their databases (FORMAT.md §7.4): only the order of the walk depends on it. */
const LIKELY_DATABASE = /\.(db|db3|sqlite|sqlite3)$/i;

/**
 * Chunks of a database per worker job (4 MiB of single pages). Jobs go to
 * the least busy worker when they are queued, and a database's jobs were
 * the last of a corpus backup: with 16 MiB jobs, one core compressed pages
 * for the last second of a profiled run (6.1 s) while the other had
 * nothing. Measured without the profiler, the gain is within the machine's
 * noise (the database alone: median 2.74 s against 2.83 s).
 */
const DATABASE_JOB_CHUNKS = 1024;

/** Runs one backup. */
export async function backup(
  context: BackupContext,
  options: BackupOptions,
): Promise<BackupResult> {
  const started = Date.now();
  const { storage, keys, index } = context;
  if (options.paths.length === 0) throw new RangeError("Cannot back up: no paths given");
  // Checked before any work (FORMAT.md §7.4), not at the first database.
  const maxDatabaseChunks = databaseChunkLimit(options.maxDatabaseChunks);
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
  const writer = new BlobWriter(storage, index, crypto, keys.meta, { uploads: options.uploads });
  const reader = new BlobStore(storage, index, crypto, { recover: context.recover });
  // Files in flight, each a job on a worker (src/_backup_job.ts) that holds
  // at most three segments of 3 MiB (filling, sealing, being packed): this,
  // not file size, bounds memory. Two a core: one runs while the next waits.
  const jobSlots = new Limiter(2 * crypto.parallelism);
  const excluded = excludeMatcher(options.excludes ?? []);
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
    // A blob in a withdrawn pack (FORMAT.md §14.2) is stored again: the new pack is added below.
    const pack = index.usablePack(id);
    if (pack) neededPacks.add(pack);
  };

  // restic's rule: the parent is the newest snapshot of the same host and paths.
  const parent =
    [...context.snapshots].reverse().find((s) =>
      s.snapshot.host === host && sameList(s.snapshot.paths, paths)
    ) ?? null;
  const parentRoot = parent ? await readTree(reader, parent.snapshot.tree) : null;
  // When the parent backup began: it looked at every file after this (FORMAT.md §11).
  const parentStartMs = parent
    ? parent.snapshot.timeMs - parent.snapshot.stats.durationMs
    : -Infinity;
  // FORMAT.md §7.4: databases are read from consistent copies; their companions are skipped.
  const databases = new DatabaseCapturer({
    copy: (path, to, size) => crypto.captureDatabase(path, to, size),
  });
  // Databases met by the walk: whether each was captured (then its
  // companions are skipped), known once its copy is made.
  const captured = new Map<string, Promise<boolean>>();
  /** For a companion (-wal, -journal, -shm) of a database met, whether that one was captured. */
  const companionOf = (path: string) => {
    const suffix = COMPANION_SUFFIXES.find((suffix) => path.endsWith(suffix));
    return suffix ? captured.get(path.slice(0, -suffix.length)) : undefined;
  };

  /**
   * Stores a folder's tree, or names the parent snapshot's when nothing in
   * it changed: encoding and hashing it again would only find that blob
   * stored (FORMAT.md §11: the encoding is canonical), and a folder of
   * unchanged files is what most backups meet (the corpus's root tree took
   * 45 ms to build when it still held the database's 36,643 chunk ids;
   * content lists, FORMAT.md §11.1, now keep such trees small).
   */
  async function storeTree(nodes: TreeNode[], previous: PreviousTree | null): Promise<string> {
    if (previous && index.has(previous.id) && sameNodes(nodes, previous.nodes)) {
      reference(previous.id);
      return previous.id;
    }
    const id = await writer.add("tree", encodeTree(nodes));
    reference(id);
    return id;
  }

  // This thread's own garbage (ids, promises, messages) grows with the
  // chunks, not the bytes: a backstop once RSS nears the budget (src/_gc.ts).
  const garbage = new GarbageMeter();
  /** Where a file's job sends its chunks: dedup against the index and packs (FORMAT.md §9). */
  const sink: BackupSink = {
    reserve(ids, bytesRead) {
      progress.bytes += bytesRead;
      garbage.add(bytesRead);
      report();
      return Promise.resolve(ids.map((id) => writer.reserve(toHex(id))));
    },
    async add(chunks, segment) {
      let copied = true;
      for (const chunk of chunks) {
        copied = await writer.addSealed("data", chunk.id, chunk.sealed, chunk.plaintextLength) &&
          copied;
      }
      // Copied into packs: the job may reuse the segment.
      return copied ? segment : undefined;
    },
  };

  /**
   * Starts backing up a file's content as one job (src/_backup_job.ts, on a
   * worker); returns once it started, with its chunk ids and size to come.
   * The walk goes on meanwhile: a media library is mostly one-chunk files,
   * and waiting for each left the workers idle between them.
   */
  async function storeFile(
    job: BackupJob,
  ): Promise<{ stored: Promise<{ ids: Uint8Array; size: number }> }> {
    await jobSlots.acquire();
    const running = (async () => {
      try {
        return await crypto.backup(job, sink);
      } finally {
        jobSlots.release();
      }
    })();
    running.catch(() => {}); // the caller awaits it
    return { stored: running };
  }

  /** The hex ids of `ids` (32 bytes each) from `start` to `end`, each referenced. */
  function hexIds(ids: Uint8Array, start: number, end: number): string[] {
    const out: string[] = [];
    for (let i = start; i < end; i++) {
      const hex = toHex(ids.subarray(i * CHUNK_ID_BYTES, (i + 1) * CHUNK_ID_BYTES));
      reference(hex);
      out.push(hex);
    }
    return out;
  }

  /** Stores a run of 1..4096 chunk ids as a content list (FORMAT.md §11.1); its id. */
  async function storeList(ids: string[]): Promise<string> {
    const id = await writer.add("tree", encodeContentList(ids));
    reference(id);
    return id;
  }

  /**
   * A file's content from its chunk ids (FORMAT.md §11): listed in its node,
   * or, past 4096 chunks, in content lists of 4096 stored once the file's
   * jobs are done.
   */
  async function contentOf(ids: Uint8Array): Promise<FileContent> {
    const count = ids.length / CHUNK_ID_BYTES;
    if (count <= CONTENT_LIST_IDS) return { content: hexIds(ids, 0, count) };
    const contentLists: string[] = [];
    for (let start = 0; start < count; start += CONTENT_LIST_IDS) {
      contentLists.push(
        await storeList(hexIds(ids, start, Math.min(count, start + CONTENT_LIST_IDS))),
      );
    }
    return { contentLists };
  }

  /**
   * True when an unchanged file's chunks are all still stored (not in a
   * withdrawn pack, FORMAT.md §14.2), and then its blobs are referenced. A
   * file's content lists are read for it one at a time; one that cannot be
   * read means the file is read again, as does a node of more than 4096
   * ids written before content lists (FORMAT.md §11.1: it must be listed).
   */
  async function stillStored(node: FileContent): Promise<boolean> {
    if (node.content && node.content.length > CONTENT_LIST_IDS) return false;
    const packs = new Set<string>();
    const take = (id: string) => {
      const pack = index.usablePack(id);
      if (pack) packs.add(pack);
      return pack !== undefined;
    };
    if (node.contentLists) {
      for (const list of node.contentLists) {
        if (!take(list)) return false;
        let ids: string[];
        try {
          ids = await reader.readContentList(list);
        } catch {
          return false;
        }
        if (!ids.every(take)) return false;
      }
    } else if (!node.content.every(take)) return false;
    for (const pack of packs) neededPacks.add(pack);
    return true;
  }

  /** A node whose reading is done and whose storing may still run; `node` never rejects for a failed file. */
  interface Visited {
    node: Promise<TreeNode | null>;
  }
  const done = (node: TreeNode | null): Visited => ({ node: Promise.resolve(node) });
  /**
   * A file's node still being stored: a failure of this file becomes a
   * `failed` entry, as a read error does, and the file is not counted.
   */
  const storing = (path: string, node: Promise<TreeNode>): Visited => ({
    node: node.catch((error) => {
      failed.push({ path, error: (error as Error).message });
      progress.files--;
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
    const base: NodeBase = {
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
      const previousTree = previous?.type === "dir"
        ? { id: previous.subtree, nodes: await readTree(reader, previous.subtree) }
        : null;
      const subtree = await visitDirectory(path, previousTree);
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
      // FORMAT.md §11: a ctime within a second of the parent's start cannot vouch for the file.
      (previous.ctimeMs === undefined || previous.ctimeMs + CTIME_GRAIN_MS <= parentStartMs) &&
      await stillStored(previous)
    ) {
      progress.bytes += info.size;
      report();
      if (previousDatabase) captured.set(path, Promise.resolve(true));
      return done({
        ...base,
        type: "file",
        size: previous.size,
        ...(previous.contentLists
          ? { contentLists: previous.contentLists }
          : { content: previous.content }),
        ...(previousDatabase ? { sqlite: previousDatabase } : {}),
      });
    }
    try {
      if (await probeDatabase(path) !== null) {
        // Copied beside the walk, which goes on to the media meanwhile (one
        // copy at a time: DatabaseCapturer); its companions wait for it.
        const database = databases.capture(path, info.size);
        captured.set(path, database.then((d) => d !== null, () => false));
        const node = database.then(async (database): Promise<TreeNode> => {
          if (!database) return await storeContent(base, { path, size: info.size });
          try {
            return await storePages(base, database, previousDatabase?.chunkBytes);
          } finally {
            await databases.release(database);
          }
        });
        return storing(path, node);
      }
      return storing(path, storeContent(base, { path, size: info.size }));
    } catch (error) {
      failed.push({ path, error: (error as Error).message });
      progress.files--;
      return done(null);
    }
  }

  /** A file's node, once its content is stored. */
  async function storeContent(base: NodeBase, job: BackupJob): Promise<FileNode> {
    const { ids, size } = await (await storeFile(job)).stored;
    return { ...base, type: "file", size, ...(await contentOf(ids)) };
  }

  /**
   * A captured database's node (FORMAT.md §7.4): its pages cut in jobs of
   * `DATABASE_JOB_CHUNKS` chunks, stored at once on every core (pages cut
   * apart stay apart, so the jobs' ids, in order, are the whole file's; one
   * job of a 150 MB database kept one core busy while the others finished
   * the media), then listed as any file's (`contentOf`). The ids wait in
   * memory until the last job: at most `maxDatabaseChunks` of them, 4 MiB at
   * the default limit. `previousChunkBytes`: the parent snapshot's cut, kept
   * while it fits (FORMAT.md §7.4).
   */
  async function storePages(
    base: NodeBase,
    database: CapturedDatabase,
    previousChunkBytes: number | undefined,
  ): Promise<FileNode> {
    const { size } = await Deno.stat(database.copy);
    const chunkBytes = databaseChunkBytes({
      pageSize: database.pageSize,
      size,
      previous: previousChunkBytes,
      maxChunks: maxDatabaseChunks,
    });
    const jobBytes = DATABASE_JOB_CHUNKS * chunkBytes;
    const jobs: Promise<{ ids: Uint8Array; size: number }>[] = [];
    let failed = false;
    for (let offset = 0; offset < size; offset += jobBytes) {
      const length = Math.min(jobBytes, size - offset);
      const { stored } = await storeFile({
        path: database.copy,
        chunkBytes,
        range: { offset, length },
        size: length,
      });
      stored.catch(() => failed = true); // settled below
      jobs.push(stored);
      // A job that failed fails the file: the rest of a large database is not read for nothing.
      if (failed) break;
    }
    // Every job settles before the copy goes (the caller releases it).
    const outcomes = await Promise.allSettled(jobs);
    const failure = outcomes.find((outcome) => outcome.status === "rejected");
    if (failure) throw (failure as PromiseRejectedResult).reason;
    const done = outcomes.map((outcome) =>
      (outcome as PromiseFulfilledResult<{ ids: Uint8Array; size: number }>).value
    );
    return {
      ...base,
      type: "file",
      size: done.reduce((n, job) => n + job.size, 0),
      ...(await contentOf(concatBytes(...done.map((job) => job.ids)))),
      sqlite: { ...database.record, chunkBytes },
    };
  }

  /**
   * Reads a folder's entries one after another; returns once all are read,
   * with its tree's id to come once they are stored (null: unreadable).
   */
  async function visitDirectory(
    path: string,
    previousTree: PreviousTree | null,
  ): Promise<{ tree: Promise<string> } | null> {
    const previous = previousTree?.nodes;
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
      if (excluded(child)) continue;
      // A captured database's companions are in its copy; those of one read
      // byte for byte are backed up as they are.
      const database = companionOf(child);
      if (database) {
        const node = database.then(async (skip) =>
          skip ? null : await (await visit(child, name, previous?.get(name))).node
        );
        node.catch(() => {}); // awaited with the others
        nodes.push(node);
        continue;
      }
      nodes.push((await visit(child, name, previous?.get(name))).node);
    }
    const tree = Promise.all(nodes).then((all) =>
      storeTree(all.filter((n) => n !== null), previousTree)
    );
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
  const tree = await storeTree(
    rootNodes,
    parent && parentRoot ? { id: parent.snapshot.tree, nodes: parentRoot } : null,
  );
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

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((x, i) => x === b[i]));
}

/**
 * `*` matches within a name, `**` across folders, `?` one character,
 * `[abc]`, `[a-z]` and `[!abc]` one of (or none of) a set; anything else
 * itself. The whole string must match.
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    const negated = c === "[" && glob[i + 1] === "!";
    // A set's first character may be `]` itself: its end is searched after it.
    const close = c === "[" ? glob.indexOf("]", i + (negated ? 3 : 2)) : -1;
    if (c === "*" && glob[i + 1] === "*" && glob[i + 2] === "/") {
      re += "(?:.*/)?"; // `**/`: any folders, none included (`a/**/b` matches `a/b`)
      i += 2;
    } else if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (close > 0) {
      // A set: `!` negates it; its characters stand for themselves (a range keeps its
      // `-`); it never matches `/`, as `?` does not.
      const body = glob.slice(negated ? i + 2 : i + 1, close).replace(/[\\\]^]/g, "\\$&");
      re += negated ? `[^/${body}]` : `(?!/)[${body}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  try {
    return new RegExp(`^${re}$`);
  } catch (error) {
    // A set whose range runs backwards (`[z-a]`).
    throw new RangeError(`Cannot use the pattern "${glob}": ${(error as Error).message}`);
  }
}

/**
 * A test of absolute paths against `--exclude` patterns, restic's way:
 * a pattern starting with `/` is matched against the whole path; one
 * without a `/` against each name (`*.tmp`, `cache`); and one with a `/`
 * inside against the path's last names (`media/*.tmp` excludes
 * `/home/me/app/media/a.tmp`). A trailing `/` is dropped: `cache/` is
 * `cache` (a file of that name is left out too). RangeError for a pattern
 * that cannot be used (`[z-a]`).
 *
 * @example
 * ```ts
 * import { excludeMatcher } from "./backup.ts";
 * const excluded = excludeMatcher(["*.tmp", "media/cache"]);
 * if (!excluded("/home/me/app/a.tmp") || !excluded("/home/me/app/media/cache")) throw new Error();
 * if (excluded("/home/me/app/cache")) throw new Error();
 * ```
 */
export function excludeMatcher(patterns: readonly string[]): (path: string) => boolean {
  const tests = patterns.map((raw) => {
    const pattern = raw.length > 1 ? raw.replace(/\/+$/, "") : raw;
    if (pattern.startsWith("/")) {
      const re = globToRegExp(pattern);
      return (path: string) => re.test(path);
    }
    if (!pattern.includes("/")) {
      const re = globToRegExp(pattern);
      return (path: string) => re.test(basename(path));
    }
    // Any run of whole trailing names: `**/` before the pattern (any folders, or none).
    const re = globToRegExp(`**/${pattern}`);
    return (path: string) => re.test(path);
  });
  return (path) => tests.some((test) => test(path));
}
