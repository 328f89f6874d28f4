/**
 * Reading and writing blobs through packs and the index: the one place that
 * knows a blob lives at (pack, offset, length). Backup writes through a
 * `BlobWriter`; restore, ls and the parent lookup read through a `BlobStore`.
 * The CPU work (hashing, sealing, opening) goes through a `BlobCrypto`, in
 * workers or inline.
 *
 * @module
 */

import { fromHex, toHex } from "./_bytes.ts";
import { Limiter } from "./_limiter.ts";
import type { AesGcm } from "./aead.ts";
import { type BlobIndex, writeIndex } from "./blob_index.ts";
import { BlobNotFoundError, FormatError } from "./errors.ts";
import {
  type BlobType,
  CHUNK_ID_BYTES,
  CONTENT_LIST_IDS,
  decodeContentList,
  type FileContent,
  type IndexEntry,
} from "./format.ts";
import { PACK_ARENA_BYTES, PACK_TARGET_BYTES, PackBuilder, packName } from "./pack.ts";
import type { Storage } from "./storage/storage.ts";
import type { BlobCrypto } from "./workers.ts";
import { RESTORE_BLOB_FIELDS, type RestoreRange } from "./_restore_job.ts";

/** Reads blobs named by id, verifying each (FORMAT.md §8.2). */
export class BlobStore {
  readonly #storage: Storage;
  readonly #index: BlobIndex;
  readonly #crypto: BlobCrypto;
  // Trees are read again and again (ls, restore, the parent of a backup).
  readonly #trees = new Map<string, Uint8Array>();
  #treeBytes = 0;
  /** The tree cache's bound: a tree with thousands of files is hundreds of KB. */
  static readonly TREE_CACHE_BYTES = 16 * 1024 * 1024;

  readonly #reads: number;
  readonly #recover: (() => Promise<number>) | undefined;
  #recovery: Promise<number> | undefined;

  /**
   * `reads`: storage reads worth keeping in flight (remote storage: its
   * connections). `recover`: adds to the index what it can find elsewhere
   * (src/blob_index.ts `indexUnindexedPacks`), tried once, when a blob has
   * no index entry; resolves to how many packs it added.
   */
  constructor(
    storage: Storage,
    index: BlobIndex,
    crypto: BlobCrypto,
    options: { reads?: number; recover?: () => Promise<number> } = {},
  ) {
    this.#storage = storage;
    this.#index = index;
    this.#crypto = crypto;
    this.#reads = options.reads ?? 1;
    this.#recover = options.recover;
  }

  /** True when `recover` (run once for all misses) added anything. */
  async #recovered(): Promise<boolean> {
    if (!this.#recover) return false;
    this.#recovery ??= this.#recover();
    return await this.#recovery > 0;
  }

  /** How many reads may usefully be in flight: enough for the CPU and for the storage's latency. */
  get parallelism(): number {
    return Math.max(this.#crypto.parallelism, this.#reads);
  }

  /**
   * The plaintext of blob `id` (hex); FormatError when it is missing or
   * damaged. A data blob's plaintext lies in a buffer nothing else holds
   * (the caller may `discard` it); a tree's is cached and shared, unless
   * `cache` is false (content lists, read once each).
   */
  async read(
    type: BlobType,
    id: string,
    options: { cache?: boolean } = {},
  ): Promise<Uint8Array> {
    const cache = type === "tree" && options.cache !== false;
    if (cache) {
      const cached = this.#trees.get(id);
      if (cached) return cached;
    }
    const location = this.#index.get(id) ??
      (await this.#recovered() ? this.#index.get(id) : undefined);
    if (!location) throw new BlobNotFoundError(type, id);
    if (location.type !== type) {
      throw new FormatError(`Cannot read blob ${id.slice(0, 16)}: it is a ${location.type} blob`);
    }
    let sealed: Uint8Array;
    try {
      sealed = await this.#storage.get(packName(location.pack), {
        offset: location.offset,
        length: location.sealedLength,
      });
    } catch (error) {
      throw new FormatError(
        `Cannot read ${type} blob ${id.slice(0, 16)} from pack ${location.pack.slice(0, 16)}: ${
          (error as Error).message
        }`,
      );
    }
    const plaintext = await this.#crypto.open(type, fromHex(id), sealed, location.plaintextLength);
    // Two reads of one tree may both get here: it is counted once.
    if (cache && plaintext.length <= BlobStore.TREE_CACHE_BYTES / 4 && !this.#trees.has(id)) {
      this.#treeBytes += plaintext.length;
      this.#trees.set(id, plaintext);
      for (const [oldest, bytes] of this.#trees) {
        if (this.#trees.size <= 1024 && this.#treeBytes <= BlobStore.TREE_CACHE_BYTES) break;
        this.#trees.delete(oldest);
        this.#treeBytes -= bytes.length;
      }
    }
    return plaintext;
  }

  /**
   * A file's chunk ids in file order, a run at a time (FORMAT.md §11.1): its
   * content, or its content lists one by one, so that a reader holds 4096
   * ids at most however large the file.
   */
  async *chunkIds(node: FileContent): AsyncGenerator<string[]> {
    if (!node.contentLists) {
      yield node.content;
      return;
    }
    for (const list of node.contentLists) yield await this.readContentList(list);
  }

  /**
   * The chunk ids of content list `id` (FORMAT.md §11.1), read past the tree
   * cache (each is read once); FormatError naming the list when it does not
   * decode.
   */
  async readContentList(id: string): Promise<string[]> {
    const bytes = await this.read("tree", id, { cache: false });
    try {
      return decodeContentList(bytes);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      throw new FormatError(`${error.message} (content list ${id.slice(0, 16)})`);
    }
  }

  /**
   * Writes a file's content into `file` (which exists), every blob verified
   * (FORMAT.md §8.2); resolves to the bytes written. The blobs are read pack
   * by pack, not in file order: a pack's blobs lie in random order (FORMAT.md
   * §9), and a database's thousands of pages would otherwise be a read each.
   * The work goes in jobs of at most `RESTORE_JOB_BYTES` of plaintext to the
   * BlobCrypto (src/_restore_job.ts), each holding one of `slots` while it
   * runs; from a local folder a job reads its packs itself. `onWritten`
   * hears each job's bytes.
   */
  async restoreFile(
    content: FileContent,
    file: string,
    options: { slots: Limiter; onWritten?: (bytes: number) => void },
  ): Promise<number> {
    const running: Promise<number>[] = [];
    let planned = 0;
    // The first failure, a job's or a content list's: no further job starts.
    let failure: { reason: unknown } | undefined;
    try {
      for await (const ids of this.#restoreWindows(content)) {
        let plan: { jobs: RestoreRange[][]; bytes: number };
        try {
          plan = this.#planRestore(ids, planned);
        } catch (error) {
          // A blob no index names: its pack may still be there (a lost index file).
          if (!(error instanceof BlobNotFoundError) || !(await this.#recovered())) throw error;
          plan = this.#planRestore(ids, planned);
        }
        const { jobs, bytes } = plan;
        planned += bytes;
        // A large file: start every core now, not after the first 16 MiB (src/workers.ts).
        if (jobs.length > 1) this.#crypto.expect?.(jobs.length * RESTORE_JOB_BYTES);
        for (const ranges of jobs) {
          await options.slots.acquire();
          if (failure) {
            options.slots.release();
            break;
          }
          const job = (async () => {
            try {
              if (!this.#storage.localPath) await this.#fill(ranges);
              const written = await this.#crypto.restore({ file, ranges });
              options.onWritten?.(written);
              return written;
            } finally {
              options.slots.release();
            }
          })();
          job.catch((reason) => failure ??= { reason });
          running.push(job);
        }
        if (failure) break;
      }
    } catch (reason) {
      failure ??= { reason };
    }
    // Every job started settles before the file is given up or done.
    const outcomes = await Promise.allSettled(running);
    if (failure) throw failure.reason;
    return outcomes.reduce((n, o) => n + (o as PromiseFulfilledResult<number>).value, 0);
  }

  /**
   * A file's chunk ids in runs of about `RESTORE_WINDOW_IDS`, each planned
   * at once; its jobs run while the next is read. A database's parts are
   * backed up side by side, so one pack holds pages of several content lists
   * (FORMAT.md §11.1): planned a list at a time, each range read also pulled
   * in the other lists' pages between.
   */
  async *#restoreWindows(content: FileContent): AsyncGenerator<string[]> {
    let window: string[] = [];
    for await (const ids of this.chunkIds(content)) {
      window = window.length === 0 ? ids : window.concat(ids);
      if (window.length >= RESTORE_WINDOW_IDS) {
        yield window;
        window = [];
      }
    }
    if (window.length > 0) yield window;
  }

  /**
   * Jobs for a run of a file's chunks starting at byte `fileOffset`: blobs
   * by pack and offset, ranges coalesced, split by plaintext size; and the
   * run's length.
   */
  #planRestore(
    content: readonly string[],
    fileOffset: number,
  ): { jobs: RestoreRange[][]; bytes: number } {
    const blobs: PlannedBlob[] = [];
    const start = fileOffset;
    for (const id of content) {
      const location = this.#index.get(id);
      if (!location) throw new BlobNotFoundError("data", id);
      if (location.type !== "data") {
        throw new FormatError(`Cannot read blob ${id.slice(0, 16)}: it is a ${location.type} blob`);
      }
      blobs.push({ id, ...location, fileOffset });
      fileOffset += location.plaintextLength;
    }
    blobs.sort((a, b) =>
      a.pack < b.pack
        ? -1
        : a.pack > b.pack
        ? 1
        : a.offset - b.offset || a.fileOffset - b.fileOffset
    );
    const jobs: RestoreRange[][] = [];
    let job: PlannedBlob[] = [];
    let jobBytes = 0;
    for (const blob of blobs) {
      if (job.length > 0 && jobBytes + blob.plaintextLength > RESTORE_JOB_BYTES) {
        jobs.push(this.#ranges(job));
        job = [];
        jobBytes = 0;
      }
      job.push(blob);
      jobBytes += blob.plaintextLength;
    }
    if (job.length > 0) jobs.push(this.#ranges(job));
    return { jobs, bytes: fileOffset - start };
  }

  /** A job's blobs (sorted by pack and offset) as ranges worth one read each. */
  #ranges(blobs: PlannedBlob[]): RestoreRange[] {
    const ranges: RestoreRange[] = [];
    for (let i = 0; i < blobs.length;) {
      const first = blobs[i]!;
      let end = first.offset + first.sealedLength;
      let j = i + 1;
      while (j < blobs.length) {
        const blob = blobs[j]!;
        if (
          blob.pack !== first.pack || blob.offset - end > RANGE_GAP_BYTES ||
          Math.max(end, blob.offset + blob.sealedLength) - first.offset > RANGE_MAX_BYTES
        ) break;
        end = Math.max(end, blob.offset + blob.sealedLength);
        j++;
      }
      const layout = new Float64Array((j - i) * RESTORE_BLOB_FIELDS);
      const ids = new Uint8Array((j - i) * CHUNK_ID_BYTES);
      for (let k = i; k < j; k++) {
        const blob = blobs[k]!;
        layout.set(
          [blob.offset - first.offset, blob.sealedLength, blob.plaintextLength, blob.fileOffset],
          (k - i) * RESTORE_BLOB_FIELDS,
        );
        ids.set(fromHex(blob.id), (k - i) * CHUNK_ID_BYTES);
      }
      const name = packName(first.pack);
      ranges.push({
        pack: first.pack,
        ...(this.#storage.localPath ? { path: this.#storage.localPath(name) } : {}),
        offset: first.offset,
        length: end - first.offset,
        blobs: layout,
        ids,
      });
      i = j;
    }
    return ranges;
  }

  /** Reads a job's ranges from the storage (remote: the job cannot reach it). */
  async #fill(ranges: RestoreRange[]): Promise<void> {
    await Promise.all(ranges.map(async (range) => {
      try {
        range.bytes = await this.#storage.get(packName(range.pack), {
          offset: range.offset,
          length: range.length,
        });
      } catch (error) {
        throw new FormatError(
          `Cannot read ${range.blobs.length / RESTORE_BLOB_FIELDS} data blobs from pack ${
            range.pack.slice(0, 16)
          }: ${(error as Error).message}`,
        );
      }
    }));
  }
}

interface PlannedBlob {
  id: string;
  pack: string;
  offset: number;
  sealedLength: number;
  plaintextLength: number;
  /** Where the plaintext goes in the file. */
  fileOffset: number;
}

/**
 * Chunk ids planned at once in a restore: 8 content lists (32,768 chunks; 128
 * MiB of single 4 KiB pages, more of a large database's longer runs).
 * Measured on a 2 GiB database of single pages (2 cores): a list at a time
 * read 5.1 GiB at 250 MiB peak; 8 lists 2.5 GiB at 270-277 MiB, 13-15 s
 * against 22 s; 16 lists 2.3 GiB at 299 MiB.
 */
const RESTORE_WINDOW_IDS = 8 * CONTENT_LIST_IDS;
/** A restore job holds at most this much plaintext (more only for one larger chunk). */
const RESTORE_JOB_BYTES = 2 * 1024 * 1024;
/** Neighbouring blobs of a pack closer than this are read in one request... */
const RANGE_GAP_BYTES = 64 * 1024;
/** ...of at most this many bytes. */
const RANGE_MAX_BYTES = 4 * 1024 * 1024;

/** What a BlobWriter added. */
export interface WriteStats {
  newBlobs: number;
  /** Plaintext bytes of new blobs. */
  newBytes: number;
  /** Bytes of new packs stored. */
  storedBytes: number;
  packs: number;
}

/**
 * Deduplicates and packs new blobs, stores full packs, and writes an index
 * file every `INDEX_EVERY_PACKS` packs, `INDEX_EVERY_ENTRIES` entries or
 * `INDEX_EVERY_MS` and at `finish()`, so the packs of an interrupted backup
 * are known to the next one, which stores them again otherwise.
 */
export class BlobWriter {
  readonly #storage: Storage;
  readonly #index: BlobIndex;
  readonly #crypto: BlobCrypto;
  readonly #meta: AesGcm;
  /** Set while a full pack waits for an upload slot. */
  #waiting: Promise<void> | undefined;
  /** Pack arenas not in use: one fills while others upload, none is allocated twice. */
  readonly #arenas: Uint8Array[] = [];
  /** Arenas made: at most `#maxArenas`, the next pack waits for one (addSealed). */
  #arenasMade = 0;
  /**
   * Packs in memory, 16 MiB each: one filling and one per upload in flight;
   * a local folder frees its pack once written, before the sync
   * (src/storage/local.ts), so there one more is enough whatever `uploads`.
   */
  readonly #maxArenas: number;
  /** Adds waiting for an arena to come back. */
  readonly #arenaWaiters: (() => void)[] = [];
  readonly #builder = new PackBuilder({
    arena: () => {
      const arena = this.#arenas.pop();
      if (arena) return arena;
      this.#arenasMade++;
      return new Uint8Array(PACK_ARENA_BYTES);
    },
  });
  /** Ids reserved by `reserve` whose pack is not stored yet: dedup across in-flight work. */
  readonly #pending = new Set<string>();
  #unindexed: IndexEntry[] = [];
  #packsSinceIndex = 0;
  #lastIndexMs = Date.now();
  readonly #indexEveryMs: number;
  /**
   * Pack uploads in flight, at most `uploads` at once: memory holds the open
   * pack plus that many (~16 MiB each), and a slow remote is kept busy.
   */
  readonly #uploadSlots: Limiter;
  readonly #uploads = new Set<Promise<void>>();
  /** The first upload that failed: the next call rethrows it. */
  #failure: { error: unknown } | undefined;
  /** Sizes of the packs this writer stored. */
  readonly packSizes = new Map<string, number>();
  readonly stats: WriteStats = { newBlobs: 0, newBytes: 0, storedBytes: 0, packs: 0 };
  static readonly INDEX_EVERY_PACKS = 64;
  /**
   * ...or every this many entries (a 1.6 MB index file): 64 packs of a
   * database's 4 KiB pages are 256,000 entries, about 40 MB of heap held
   * until written.
   */
  static readonly INDEX_EVERY_ENTRIES = 32_768;
  /**
   * ...or once this long has passed since the last: a backup interrupted
   * after an hour of a slow upload (64 packs is 1 GiB) loses at most this
   * much of its work, not all of it.
   */
  static readonly INDEX_EVERY_MS = 60_000;

  /**
   * `uploads`: packs stored at once (default 1: one after another).
   * `indexEveryMs`: `INDEX_EVERY_MS` unless given.
   */
  constructor(
    storage: Storage,
    index: BlobIndex,
    crypto: BlobCrypto,
    meta: AesGcm,
    options: { uploads?: number; indexEveryMs?: number } = {},
  ) {
    this.#indexEveryMs = options.indexEveryMs ?? BlobWriter.INDEX_EVERY_MS;
    this.#storage = storage;
    this.#index = index;
    this.#crypto = crypto;
    this.#meta = meta;
    const uploads = Math.max(1, options.uploads ?? 1);
    this.#uploadSlots = new Limiter(uploads);
    this.#maxArenas = storage.localPath === undefined ? uploads + 1 : 2;
  }

  /** True when the repository, the open pack or in-flight work already holds blob `id`. */
  has(id: string): boolean {
    return this.#index.has(id) || this.#pending.has(id);
  }

  /**
   * Claims blob `id` for storing: true when the caller must seal and add it,
   * false when it is stored (or being stored) already.
   */
  reserve(id: string): boolean {
    if (this.has(id)) return false;
    this.#pending.add(id);
    return true;
  }

  /**
   * Adds a sealed blob that `reserve` returned true for. True when the pack
   * took a copy, so that `sealed` is free again (a backup job reuses its
   * segment); false when the pack holds `sealed` itself until stored.
   */
  async addSealed(
    type: BlobType,
    id: Uint8Array,
    sealed: Uint8Array,
    plaintextLength: number,
  ): Promise<boolean> {
    // Each wait lets other adds run: what it waited for is checked again.
    for (;;) {
      this.#throwIfFailed();
      if (this.#waiting) {
        await this.#waiting;
      } else if (
        this.#builder.count > 0 && this.#builder.size + sealed.length > PACK_TARGET_BYTES
      ) {
        // The pack closes before this blob would take it past the target
        // (FORMAT.md §9), so a pack fits its arena.
        await this.#flushPack();
      } else if (
        this.#builder.count === 0 && this.#arenas.length === 0 &&
        this.#arenasMade >= this.#maxArenas
      ) {
        // A new pack takes an arena: wait for one to come back rather than make another.
        await new Promise<void>((resolve) => this.#arenaWaiters.push(resolve));
      } else break;
    }
    const copied = this.#builder.add(
      { type, id, sealedLength: sealed.length, plaintextLength },
      sealed,
    );
    this.stats.newBlobs++;
    this.stats.newBytes += plaintextLength;
    if (this.#builder.size >= PACK_TARGET_BYTES) await this.#flushPack();
    return copied;
  }

  /** Hashes, dedups, seals and adds one blob (trees, and callers without their own pipeline). */
  async add(type: BlobType, plaintext: Uint8Array): Promise<string> {
    const length = plaintext.length;
    const { id, bytes } = await this.#crypto.hash(plaintext);
    const hex = toHex(id);
    if (!this.reserve(hex)) return hex;
    const { sealed } = await this.#crypto.seal(type, bytes, id);
    await this.addSealed(type, id, sealed, length);
    return hex;
  }

  /** Starts storing the open pack once an upload slot is free; the upload itself runs on. */
  async #flushPack(): Promise<void> {
    this.#throwIfFailed();
    if (this.#builder.count === 0) return;
    // One flush at a time, and adds wait for it (addSealed): a pack waiting
    // for an upload slot must not let the next one fill and queue behind it,
    // or memory would hold a pack per chunk in flight, not per upload.
    if (this.#waiting) return await this.#waiting;
    this.#waiting = this.#uploadSlots.acquire();
    try {
      await this.#waiting;
    } finally {
      this.#waiting = undefined;
    }
    // Emptied at once; named off the thread meanwhile (src/pack.ts), so adds go on.
    const finishing = this.#builder.finish(this.#meta);
    const upload = (async () => {
      let named = false;
      try {
        const pack = await finishing;
        named = true;
        // Free for the next pack once put reads it no more (src/storage/storage.ts):
        // a local folder is done before its sync, which held a third arena.
        let held = pack.arena !== undefined;
        const release = () => {
          if (held) this.#arenas.push(pack.arena!);
          held = false;
          for (const wake of this.#arenaWaiters.splice(0)) wake();
        };
        try {
          await this.#storage.put(pack.name, pack.parts, { onConsumed: release });
        } finally {
          release();
        }
        this.packSizes.set(toHex(pack.id), pack.size);
        this.stats.storedBytes += pack.size;
        this.stats.packs++;
        for (const entry of pack.entries) {
          this.#index.add(entry);
          this.#pending.delete(toHex(entry.id));
        }
        this.#unindexed.push(...pack.entries);
        if (
          ++this.#packsSinceIndex >= BlobWriter.INDEX_EVERY_PACKS ||
          this.#unindexed.length >= BlobWriter.INDEX_EVERY_ENTRIES ||
          Date.now() - this.#lastIndexMs >= this.#indexEveryMs
        ) await this.#flushIndex();
      } catch (error) {
        this.#failure ??= { error };
        if (!named) {
          // The pack's arena went with it: adds waiting for one must wake and fail.
          this.#arenasMade--;
          for (const wake of this.#arenaWaiters.splice(0)) wake();
        }
      } finally {
        this.#uploadSlots.release();
      }
    })();
    this.#uploads.add(upload);
    upload.finally(() => this.#uploads.delete(upload));
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }

  /** Waits for every upload in flight; rethrows the first failure. */
  async #drain(): Promise<void> {
    while (this.#uploads.size > 0) await Promise.all([...this.#uploads]);
    this.#throwIfFailed();
  }

  async #flushIndex(): Promise<void> {
    if (this.#unindexed.length === 0) return;
    const entries = this.#unindexed;
    this.#unindexed = [];
    this.#packsSinceIndex = 0;
    this.#lastIndexMs = Date.now();
    await writeIndex(this.#storage, entries, this.#meta);
  }

  /** Stores the open pack and the remaining index entries. */
  async finish(): Promise<void> {
    try {
      await this.#flushPack();
    } finally {
      // Even after a failure, let the other uploads settle: none runs on unobserved.
      await this.#drain().catch(() => {});
    }
    this.#throwIfFailed();
    await this.#flushIndex();
  }
}
