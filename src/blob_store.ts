/**
 * Reading and writing blobs through packs and the index: the one place that
 * knows a blob lives at (pack, offset, length). Backup writes through a
 * `BlobWriter`; restore, ls and the parent lookup read through a `BlobStore`.
 *
 * @module
 */

import { fromHex, toHex } from "./_bytes.ts";
import type { AesGcm } from "./aead.ts";
import { type BlobKeys, openBlob, sealBlob } from "./blob.ts";
import { type BlobIndex, writeIndex } from "./blob_index.ts";
import { FormatError } from "./errors.ts";
import type { BlobType, IndexEntry } from "./format.ts";
import { PACK_TARGET_BYTES, PackBuilder, packName } from "./pack.ts";
import type { Storage } from "./storage/storage.ts";

/** Reads blobs named by id, verifying each (FORMAT.md §8.2). */
export class BlobStore {
  readonly #storage: Storage;
  readonly #index: BlobIndex;
  readonly #keys: BlobKeys;
  // Trees are read again and again (ls, restore, the parent of a backup).
  readonly #trees = new Map<string, Uint8Array>();

  constructor(storage: Storage, index: BlobIndex, keys: BlobKeys) {
    this.#storage = storage;
    this.#index = index;
    this.#keys = keys;
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
    const plaintext = openBlob(type, fromHex(id), sealed, location.plaintextLength, this.#keys);
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
 * Deduplicates, seals and packs new blobs, stores full packs, and writes an
 * index file every `indexEvery` packs and at `finish()`, so the packs of an
 * interrupted backup are known to the next one.
 */
export class BlobWriter {
  readonly #storage: Storage;
  readonly #index: BlobIndex;
  readonly #keys: BlobKeys;
  readonly #level: number;
  readonly #builder = new PackBuilder();
  /** Ids sealed into the open pack: dedup before the pack is stored. */
  readonly #pending = new Set<string>();
  #unindexed: IndexEntry[] = [];
  #packsSinceIndex = 0;
  /** Sizes of the packs this writer stored. */
  readonly packSizes = new Map<string, number>();
  readonly stats: WriteStats = { newBlobs: 0, newBytes: 0, storedBytes: 0, packs: 0 };
  static readonly INDEX_EVERY_PACKS = 64;

  constructor(storage: Storage, index: BlobIndex, keys: BlobKeys, options: { level: number }) {
    this.#storage = storage;
    this.#index = index;
    this.#keys = keys;
    this.#level = options.level;
  }

  /** True when the repository (or the open pack) already holds blob `id`. */
  has(id: string): boolean {
    return this.#index.has(id) || this.#pending.has(id);
  }

  /**
   * Adds a blob unless it is already stored; returns its hex id. `id` may be
   * given when the caller computed it.
   */
  async add(type: BlobType, plaintext: Uint8Array, id?: Uint8Array): Promise<string> {
    const binaryId = id ?? this.#keys.id.hash(plaintext);
    const hex = toHex(binaryId);
    if (this.has(hex)) return hex;
    const blob = sealBlob(type, plaintext, this.#keys, { level: this.#level, id: binaryId });
    this.#builder.add(
      { type, id: binaryId, sealedLength: blob.sealed.length, plaintextLength: plaintext.length },
      blob.sealed,
    );
    this.#pending.add(hex);
    this.stats.newBlobs++;
    this.stats.newBytes += plaintext.length;
    if (this.#builder.size >= PACK_TARGET_BYTES) await this.#flushPack();
    return hex;
  }

  async #flushPack(): Promise<void> {
    if (this.#builder.count === 0) return;
    const pack = await this.#builder.finish(this.#keys.meta as AesGcm);
    await this.#storage.put(pack.name, pack.bytes);
    const hex = toHex(pack.id);
    this.packSizes.set(hex, pack.bytes.length);
    this.stats.storedBytes += pack.bytes.length;
    this.stats.packs++;
    for (const entry of pack.entries) this.#index.add(entry);
    this.#pending.clear();
    this.#unindexed.push(...pack.entries);
    if (++this.#packsSinceIndex >= BlobWriter.INDEX_EVERY_PACKS) await this.#flushIndex();
  }

  async #flushIndex(): Promise<void> {
    if (this.#unindexed.length === 0) return;
    await writeIndex(this.#storage, this.#unindexed, this.#keys.meta);
    this.#unindexed = [];
    this.#packsSinceIndex = 0;
  }

  /** Stores the open pack and the remaining index entries. */
  async finish(): Promise<void> {
    await this.#flushPack();
    await this.#flushIndex();
  }
}
