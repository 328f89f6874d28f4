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
import { type BufferPool, discard } from "./_buffer_pool.ts";
import { Limiter } from "./_limiter.ts";
import type { AesGcm } from "./aead.ts";
import { type BlobIndex, writeIndex } from "./blob_index.ts";
import { FormatError } from "./errors.ts";
import type { BlobType, IndexEntry } from "./format.ts";
import { PACK_ARENA_BYTES, PACK_TARGET_BYTES, PackBuilder, packName } from "./pack.ts";
import type { Storage } from "./storage/storage.ts";
import type { BlobCrypto } from "./workers.ts";

/** Reads blobs named by id, verifying each (FORMAT.md §8.2). */
export class BlobStore {
  readonly #storage: Storage;
  readonly #index: BlobIndex;
  readonly #crypto: BlobCrypto;
  // Trees are read again and again (ls, restore, the parent of a backup).
  readonly #trees = new Map<string, Uint8Array>();

  readonly #reads: number;

  /** `reads`: storage reads worth keeping in flight (remote storage: its connections). */
  constructor(
    storage: Storage,
    index: BlobIndex,
    crypto: BlobCrypto,
    options: { reads?: number } = {},
  ) {
    this.#storage = storage;
    this.#index = index;
    this.#crypto = crypto;
    this.#reads = options.reads ?? 1;
  }

  /** How many reads may usefully be in flight: enough for the CPU and for the storage's latency. */
  get parallelism(): number {
    return Math.max(this.#crypto.parallelism, this.#reads);
  }

  /**
   * The plaintext of blob `id` (hex); FormatError when it is missing or
   * damaged. `buffers`: a data blob is read and opened in one of the pool's
   * buffers, which the caller gives back once done with the plaintext. A
   * data blob's plaintext lies in a buffer nothing else holds (the caller
   * may `discard` it); a tree's is cached and shared.
   */
  async read(
    type: BlobType,
    id: string,
    options: { buffers?: BufferPool } = {},
  ): Promise<Uint8Array> {
    if (type === "tree") {
      const cached = this.#trees.get(id);
      if (cached) return cached;
    }
    const location = this.#index.get(id);
    if (!location) {
      throw new FormatError(
        `Cannot read ${type} blob ${id.slice(0, 16)}: no index entry (run 'cofre check')`,
      );
    }
    if (location.type !== type) {
      throw new FormatError(`Cannot read blob ${id.slice(0, 16)}: it is a ${location.type} blob`);
    }
    let sealed: Uint8Array;
    try {
      // A tree is cached, so never in a pool's buffer.
      const into = type === "data" ? options.buffers?.take(location.sealedLength) : undefined;
      sealed = await this.#storage.get(packName(location.pack), {
        offset: location.offset,
        length: location.sealedLength,
      }, { into });
    } catch (error) {
      throw new FormatError(
        `Cannot read ${type} blob ${id.slice(0, 16)} from pack ${location.pack.slice(0, 16)}: ${
          (error as Error).message
        }`,
      );
    }
    const plaintext = await this.#crypto.open(type, fromHex(id), sealed, location.plaintextLength);
    if (type === "tree") {
      if (this.#trees.size >= 1024) this.#trees.delete(this.#trees.keys().next().value!);
      this.#trees.set(id, plaintext);
    }
    return plaintext;
  }

  /**
   * True when `content` is many small chunks (a database's pages, FORMAT.md
   * §7.4), which `readScattered` reads far faster than one `read` each.
   */
  isScattered(content: readonly string[]): boolean {
    if (content.length < SCATTERED_MIN_CHUNKS) return false;
    return content.every((id) => {
      const location = this.#index.get(id);
      return location !== undefined && location.plaintextLength <= SCATTERED_CHUNK_BYTES;
    });
  }

  /**
   * Reads a file's data blobs pack by pack instead of chunk by chunk: each
   * pack's blobs in a few coalesced ranged reads (blobs sit in a pack in
   * random order, so file order would mean one request per blob), opened and
   * verified in batches, two ranges in flight. The plaintexts are gathered,
   * a pack (or at most 16 MiB) at a time, and handed to `write` as runs of
   * consecutive file bytes (up to 1 MiB), so a database restores in a few
   * large writes. `write` must be done with its bytes when it resolves: a
   * run lies in a buffer that is reused.
   */
  async readScattered(
    content: readonly string[],
    write: (fileOffset: number, bytes: Uint8Array) => void | Promise<void>,
    options: { buffers?: BufferPool } = {},
  ): Promise<void> {
    const packs = new Map<string, Map<string, ScatteredBlob>>();
    let fileOffset = 0;
    for (const id of content) {
      const location = this.#index.get(id);
      if (!location || location.type !== "data") {
        throw new FormatError(
          `Cannot read data blob ${id.slice(0, 16)}: no index entry (run 'cofre check')`,
        );
      }
      const blobs = packs.get(location.pack) ?? new Map<string, ScatteredBlob>();
      packs.set(location.pack, blobs);
      const blob = blobs.get(id) ?? { id, ...location, fileOffsets: [] };
      blobs.set(id, blob);
      blob.fileOffsets.push(fileOffset);
      fileOffset += location.plaintextLength;
    }
    const ranges = [...packs].flatMap(([pack, blobs]) =>
      coalesce([...blobs.values()]).map((range) => ({ pack, blobs: range }))
    );
    // Thousands of pages: start every core now, not after the first 16 MiB.
    this.#crypto.expect?.(fileOffset);
    let pieces: { offset: number; bytes: Uint8Array }[] = [];
    let piecesBytes = 0;
    // Runs of consecutive pages are gathered here, one buffer for the whole file.
    let staging: Uint8Array | undefined;
    const flush = async () => {
      pieces.sort((a, b) => a.offset - b.offset);
      for (let i = 0; i < pieces.length;) {
        let j = i + 1;
        let end = pieces[i]!.offset + pieces[i]!.bytes.length;
        while (
          j < pieces.length && pieces[j]!.offset === end &&
          end + pieces[j]!.bytes.length - pieces[i]!.offset <= SCATTERED_RUN_BYTES
        ) end += pieces[j++]!.bytes.length;
        if (j - i === 1) await write(pieces[i]!.offset, pieces[i]!.bytes);
        else {
          staging ??= new Uint8Array(SCATTERED_RUN_BYTES);
          let at = 0;
          for (let k = i; k < j; k++) {
            staging.set(pieces[k]!.bytes, at);
            at += pieces[k]!.bytes.length;
          }
          await write(pieces[i]!.offset, staging.subarray(0, at));
        }
        i = j;
      }
      // Written, and a range's pieces are flushed together: their batches' buffers are free.
      discard(pieces.map((piece) => piece.bytes));
      pieces = [];
      piecesBytes = 0;
    };
    const inFlight: Promise<{ blob: ScatteredBlob; plaintext: Uint8Array }[]>[] = [];
    let next = 0;
    const startNext = () => {
      if (next >= ranges.length) return;
      const { pack, blobs } = ranges[next++]!;
      const job = this.#openRange(pack, blobs, options.buffers);
      job.catch(() => {}); // awaited in order below
      inFlight.push(job);
    };
    startNext();
    startNext();
    let pack = ranges[0]?.pack;
    while (inFlight.length > 0) {
      // A pack's pages are mostly one stretch of the file: write it when the next pack starts.
      if (ranges[next - inFlight.length]!.pack !== pack) {
        await flush();
        pack = ranges[next - inFlight.length]!.pack;
      }
      const opened = await inFlight.shift()!;
      startNext();
      for (const { blob, plaintext } of opened) {
        for (const offset of blob.fileOffsets) pieces.push({ offset, bytes: plaintext });
        piecesBytes += plaintext.length * blob.fileOffsets.length;
      }
      if (piecesBytes >= SCATTERED_WRITE_BYTES) await flush();
    }
    await flush();
  }

  /** One coalesced range of a pack: read, then its blobs opened in parallel batches. */
  async #openRange(
    pack: string,
    blobs: ScatteredBlob[],
    buffers: BufferPool | undefined,
  ): Promise<{ blob: ScatteredBlob; plaintext: Uint8Array }[]> {
    const start = blobs[0]!.offset;
    const last = blobs.at(-1)!;
    const length = last.offset + last.sealedLength - start;
    let bytes: Uint8Array;
    try {
      bytes = await this.#storage.get(packName(pack), { offset: start, length }, {
        into: buffers?.take(length),
      });
    } catch (error) {
      throw new FormatError(
        `Cannot read ${blobs.length} data blobs from pack ${pack.slice(0, 16)}: ${
          (error as Error).message
        }`,
      );
    }
    const batches: ScatteredBlob[][] = [[]];
    let batchBytes = 0;
    for (const blob of blobs) {
      if (batchBytes >= OPEN_BATCH_BYTES) {
        batches.push([]);
        batchBytes = 0;
      }
      batches.at(-1)!.push(blob);
      batchBytes += blob.sealedLength;
    }
    const opened = await Promise.all(batches.map((batch) =>
      this.#crypto.openMany(
        "data",
        batch.map((b) => fromHex(b.id)),
        batch.map((b) => bytes.subarray(b.offset - start, b.offset - start + b.sealedLength)),
        batch.map((b) => b.plaintextLength),
      )
    ));
    // The jobs copied what they needed (src/workers.ts): the range's buffer is free.
    buffers?.give(bytes);
    return batches.flatMap((batch, i) =>
      batch.map((blob, k) => ({ blob, plaintext: opened[i]![k]! }))
    );
  }
}

/** A pack's blobs, by offset, in ranges worth one request each. */
function coalesce(blobs: ScatteredBlob[]): ScatteredBlob[][] {
  blobs.sort((a, b) => a.offset - b.offset);
  const ranges: ScatteredBlob[][] = [];
  let range: ScatteredBlob[] = [];
  for (const blob of blobs) {
    const first = range[0];
    const previous = range.at(-1);
    if (
      first && previous &&
      (blob.offset - (previous.offset + previous.sealedLength) > RANGE_GAP_BYTES ||
        blob.offset + blob.sealedLength - first.offset > RANGE_MAX_BYTES)
    ) {
      ranges.push(range);
      range = [];
    }
    range.push(blob);
  }
  if (range.length > 0) ranges.push(range);
  return ranges;
}

/** Chunks up to this size are read pack by pack when a file has many (FORMAT.md §7.4 pages). */
const SCATTERED_CHUNK_BYTES = 64 * 1024;
/** ...and a file needs at least this many of them. */
const SCATTERED_MIN_CHUNKS = 16;
/** Neighbouring blobs of a pack closer than this are read in one request... */
const RANGE_GAP_BYTES = 64 * 1024;
/** ...of at most this many bytes. */
const RANGE_MAX_BYTES = 4 * 1024 * 1024;
/**
 * Restored plaintext is gathered a pack at a time, up to this size, then
 * written as runs of consecutive bytes... A pack's blobs are shuffled
 * (FORMAT.md §9), so part of a pack is pages scattered over its stretch of
 * the file: flushing three ranges of four made runs of four pages (1249
 * writes for 5138 pages, 280 ms); a whole pack is a few runs of 1 MiB.
 */
const SCATTERED_WRITE_BYTES = 48 * 1024 * 1024;
/** ...of at most this many bytes each. */
const SCATTERED_RUN_BYTES = 1024 * 1024;
/** Blobs are opened in jobs of about this many sealed bytes. */
const OPEN_BATCH_BYTES = 256 * 1024;

interface ScatteredBlob {
  id: string;
  offset: number;
  sealedLength: number;
  plaintextLength: number;
  /** Where the plaintext goes in the file (a page may repeat). */
  fileOffsets: number[];
}

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
 * file every `INDEX_EVERY_PACKS` packs and at `finish()`, so the packs of an
 * interrupted backup are known to the next one.
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
  readonly #builder = new PackBuilder({
    arena: () => this.#arenas.pop() ?? new Uint8Array(PACK_ARENA_BYTES),
  });
  /** Ids reserved by `reserve` whose pack is not stored yet: dedup across in-flight work. */
  readonly #pending = new Set<string>();
  #unindexed: IndexEntry[] = [];
  #packsSinceIndex = 0;
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

  /** Where stored blobs' buffers go back to (src/_buffer_pool.ts). */
  readonly #buffers: BufferPool | undefined;

  /**
   * `uploads`: packs stored at once (default 1: one after another).
   * `buffers`: the pool the sealed blobs' buffers return to once their pack is stored.
   */
  constructor(
    storage: Storage,
    index: BlobIndex,
    crypto: BlobCrypto,
    meta: AesGcm,
    options: { uploads?: number; buffers?: BufferPool } = {},
  ) {
    this.#buffers = options.buffers;
    this.#storage = storage;
    this.#index = index;
    this.#crypto = crypto;
    this.#meta = meta;
    this.#uploadSlots = new Limiter(Math.max(1, options.uploads ?? 1));
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
   * took a copy, so that `sealed` is free again (a pool's buffer goes back
   * to the pool); false when the pack holds `sealed` itself until stored.
   */
  async addSealed(
    type: BlobType,
    id: Uint8Array,
    sealed: Uint8Array,
    plaintextLength: number,
  ): Promise<boolean> {
    while (this.#waiting) await this.#waiting;
    const copied = this.#builder.add(
      { type, id, sealedLength: sealed.length, plaintextLength },
      sealed,
    );
    if (copied) this.#buffers?.give(sealed);
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
      try {
        const pack = await finishing;
        try {
          await this.#storage.put(pack.name, pack.parts);
        } finally {
          // Settled, put reads the parts no more (src/storage/storage.ts).
          if (pack.arena) this.#arenas.push(pack.arena);
        }
        if (this.#buffers) { for (const part of pack.parts) this.#buffers.give(part); }
        this.packSizes.set(toHex(pack.id), pack.size);
        this.stats.storedBytes += pack.size;
        this.stats.packs++;
        for (const entry of pack.entries) {
          this.#index.add(entry);
          this.#pending.delete(toHex(entry.id));
        }
        this.#unindexed.push(...pack.entries);
        if (++this.#packsSinceIndex >= BlobWriter.INDEX_EVERY_PACKS) await this.#flushIndex();
      } catch (error) {
        this.#failure ??= { error };
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
