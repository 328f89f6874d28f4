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
import { collectGarbage } from "./_gc.ts";
import { Limiter } from "./_limiter.ts";
import type { AesGcm } from "./aead.ts";
import { type BlobIndex, writeIndex } from "./blob_index.ts";
import { FormatError } from "./errors.ts";
import type { BlobType, IndexEntry } from "./format.ts";
import { PACK_TARGET_BYTES, PackBuilder, packName } from "./pack.ts";
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

  /** The plaintext of blob `id` (hex); FormatError when it is missing or damaged. */
  async read(type: BlobType, id: string): Promise<Uint8Array> {
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
    if (type === "tree") {
      if (this.#trees.size >= 1024) this.#trees.delete(this.#trees.keys().next().value!);
      this.#trees.set(id, plaintext);
    }
    return plaintext;
  }
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
  readonly #builder = new PackBuilder();
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

  /** `uploads`: packs stored at once (default 1: one after another). */
  constructor(
    storage: Storage,
    index: BlobIndex,
    crypto: BlobCrypto,
    meta: AesGcm,
    options: { uploads?: number } = {},
  ) {
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

  /** Adds a sealed blob that `reserve` returned true for. */
  async addSealed(
    type: BlobType,
    id: Uint8Array,
    sealed: Uint8Array,
    plaintextLength: number,
  ): Promise<void> {
    this.#builder.add({ type, id, sealedLength: sealed.length, plaintextLength }, sealed);
    this.stats.newBlobs++;
    this.stats.newBytes += plaintextLength;
    if (this.#builder.size >= PACK_TARGET_BYTES) await this.#flushPack();
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
    // Take the blobs now, so adds go on into a new pack while this one waits and uploads.
    const pack = this.#builder.finish(this.#meta);
    await this.#uploadSlots.acquire();
    const upload = (async () => {
      try {
        await this.#storage.put(pack.name, pack.parts);
        this.packSizes.set(toHex(pack.id), pack.size);
        this.stats.storedBytes += pack.size;
        this.stats.packs++;
        for (const entry of pack.entries) {
          this.#index.add(entry);
          this.#pending.delete(toHex(entry.id));
        }
        this.#unindexed.push(...pack.entries);
        // The pack's 16 MiB of sealed blobs are garbage now: return them at once (src/_gc.ts).
        collectGarbage();
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
