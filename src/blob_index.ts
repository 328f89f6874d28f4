/**
 * The index (FORMAT.md §10): which pack holds each blob. Index files are
 * append-only, one per backup run; in memory they merge into one map.
 *
 * @module
 */

import { ascii, concatBytes, fromHex, toHex } from "./_bytes.ts";
import type { AesGcm } from "./aead.ts";
import { AuthenticationError, FormatError } from "./errors.ts";
import { type BlobType, decodeIndex, encodeIndex, type IndexEntry, NONCE_BYTES } from "./format.ts";
import { isPackObject, readPackHeader } from "./pack.ts";
import { isHexName, putHashNamed, type Storage } from "./storage/storage.ts";

const INDEX_AAD = ascii("cofre v1 index");
export const INDEX_PREFIX = "index/";
const PACKS_PREFIX = "data/";

/** Where a blob is. */
export interface BlobLocation {
  type: BlobType;
  /** Hex SHA-256 of the pack. */
  pack: string;
  offset: number;
  sealedLength: number;
  plaintextLength: number;
}

const ID_BYTES = 32;
const ID_WORDS = ID_BYTES / 4;
const HEX_ID = /^[0-9a-f]{64}$/;
const FIRST_CAPACITY = 1024;
const TYPE_CODES: Record<BlobType, number> = { data: 0, tree: 1 };
const TYPES: readonly BlobType[] = ["data", "tree"];

// Uint8Array.prototype.setFromHex (ES2026) parses into a buffer without
// allocating; hosts without it parse with fromHex and copy.
const setFromHex = (Uint8Array.prototype as unknown as {
  setFromHex?: (this: Uint8Array, text: string) => { read: number; written: number };
}).setFromHex;

/**
 * All blobs the repository's index files list, by hex chunk id.
 *
 * The entries live in typed arrays, not in a Map of objects: an entry costs
 * 83 bytes instead of 279 (measured in Deno 2.9 with a million
 * entries), so a repository of millions of database pages still loads its
 * index within the memory bound, and loading makes no garbage per entry. An
 * open-addressing table keyed by the id's first four bytes finds them: chunk
 * ids are keyed BLAKE3 outputs (FORMAT.md §7.2), uniform and not chosen by
 * whoever wrote the files, so no other hashing is needed.
 */
export class BlobIndex {
  #count = 0;
  #ids = new Uint8Array(FIRST_CAPACITY * ID_BYTES);
  #idWords = new Uint32Array(this.#ids.buffer);
  #types = new Uint8Array(FIRST_CAPACITY);
  #packOf = new Uint32Array(FIRST_CAPACITY);
  #offsets = new Uint32Array(FIRST_CAPACITY);
  #sealedLengths = new Uint32Array(FIRST_CAPACITY);
  #plaintextLengths = new Uint32Array(FIRST_CAPACITY);
  /** Entry number + 1 per slot, 0 when empty; a power of two, at most half full. */
  #slots = new Int32Array(FIRST_CAPACITY * 2);
  /** Hex pack ids by pack number, and the way back. */
  readonly #packs: string[] = [];
  readonly #packNumbers = new Map<string, number>();
  /** Packs in a deletion plan (FORMAT.md §14.2): read from, never deduplicated against. */
  readonly #withdrawn = new Set<string>();
  /** `#withdrawn` by pack number. */
  #packWithdrawn: boolean[] = [];
  /** The id being looked up, as bytes and as words. */
  readonly #query = new Uint8Array(ID_BYTES);
  readonly #queryWords = new Uint32Array(this.#query.buffer);

  get size(): number {
    return this.#count;
  }

  /** The hex ids of the packs its entries name. */
  packIds(): Set<string> {
    return new Set(this.#packs);
  }

  /** True when blob `id` is stored in a pack that a backup may deduplicate against. */
  has(id: string): boolean {
    return this.usablePack(id) !== undefined;
  }

  /**
   * The pack holding blob `id` when a backup may deduplicate against it
   * (`has`), else undefined: one lookup where `get` and `has` would be two.
   */
  usablePack(id: string): string | undefined {
    const entry = this.#findHex(id);
    if (entry < 0) return undefined;
    const pack = this.#packOf[entry]!;
    return this.#packWithdrawn[pack] ? undefined : this.#packs[pack];
  }

  /** Marks packs as withdrawn (FORMAT.md §14.2): `has` no longer sees their blobs. */
  withdraw(packs: Iterable<string>): void {
    for (const pack of packs) {
      this.#withdrawn.add(pack);
      const number = this.#packNumbers.get(pack);
      if (number !== undefined) this.#packWithdrawn[number] = true;
    }
  }

  get(id: string): BlobLocation | undefined {
    const entry = this.#findHex(id);
    return entry < 0 ? undefined : this.#location(entry);
  }

  /** `pack`: the entry's pack id in hex, when the caller has it already. */
  add(entry: IndexEntry, pack: string = toHex(entry.pack)): void {
    if (entry.id.length !== ID_BYTES) {
      throw new RangeError(`Cannot index a blob: its id has ${entry.id.length} bytes, expected 32`);
    }
    this.#query.set(entry.id);
    const packNumber = this.#packNumber(pack);
    let number = this.#find();
    if (number >= 0) {
      // A blob stored twice (two concurrent backups) keeps its first location.
      if (!this.#packWithdrawn[this.#packOf[number]!]) return;
      // A blob stored again after its pack was withdrawn moves to its new pack.
      if (this.#packWithdrawn[packNumber]) return;
    } else {
      number = this.#append();
    }
    this.#types[number] = TYPE_CODES[entry.type];
    this.#packOf[number] = packNumber;
    this.#offsets[number] = entry.offset;
    this.#sealedLengths[number] = entry.sealedLength;
    this.#plaintextLengths[number] = entry.plaintextLength;
  }

  *entries(): IterableIterator<[string, BlobLocation]> {
    for (let entry = 0; entry < this.#count; entry++) {
      const id = this.#ids.subarray(entry * ID_BYTES, (entry + 1) * ID_BYTES);
      yield [toHex(id), this.#location(entry)];
    }
  }

  #location(entry: number): BlobLocation {
    return {
      type: TYPES[this.#types[entry]!]!,
      pack: this.#packs[this.#packOf[entry]!]!,
      offset: this.#offsets[entry]!,
      sealedLength: this.#sealedLengths[entry]!,
      plaintextLength: this.#plaintextLengths[entry]!,
    };
  }

  #packNumber(pack: string): number {
    let number = this.#packNumbers.get(pack);
    if (number === undefined) {
      number = this.#packs.length;
      this.#packs.push(pack);
      this.#packNumbers.set(pack, number);
      this.#packWithdrawn.push(this.#withdrawn.has(pack));
    }
    return number;
  }

  /** The entry whose id is the hex `id`, or -1 (also for anything but 64 lowercase hex digits). */
  #findHex(id: string): number {
    // Ids are lowercase everywhere (toHex, FORMAT.md §11); setFromHex would take uppercase too.
    if (!HEX_ID.test(id)) return -1;
    try {
      if (setFromHex) setFromHex.call(this.#query, id);
      else this.#query.set(fromHex(id));
    } catch {
      return -1;
    }
    return this.#find();
  }

  /** The entry whose id is in `#query`, or -1. */
  #find(): number {
    const q = this.#queryWords;
    const words = this.#idWords;
    const mask = this.#slots.length - 1;
    for (let slot = q[0]! & mask;; slot = (slot + 1) & mask) {
      const entry = this.#slots[slot]! - 1;
      if (entry < 0) return -1;
      const at = entry * ID_WORDS;
      if (
        words[at] === q[0] && words[at + 1] === q[1] && words[at + 2] === q[2] &&
        words[at + 3] === q[3] && words[at + 4] === q[4] && words[at + 5] === q[5] &&
        words[at + 6] === q[6] && words[at + 7] === q[7]
      ) return entry;
    }
  }

  /** A new entry with `#query`'s id, its slot taken; returns its number. */
  #append(): number {
    const entry = this.#count;
    if (entry === this.#types.length) this.#grow();
    if (2 * (entry + 1) > this.#slots.length) this.#rehash(this.#slots.length * 2);
    this.#ids.set(this.#query, entry * ID_BYTES);
    this.#count++;
    this.#place(entry);
    return entry;
  }

  #place(entry: number): void {
    const mask = this.#slots.length - 1;
    let slot = this.#idWords[entry * ID_WORDS]! & mask;
    while (this.#slots[slot] !== 0) slot = (slot + 1) & mask;
    this.#slots[slot] = entry + 1;
  }

  /** Half as much room again: doubling would leave up to half of a large index unused. */
  #grow(): void {
    const capacity = Math.ceil(this.#types.length * 1.5);
    const resized = <T extends Uint8Array | Uint32Array>(old: T, length: number): T => {
      const next = new (old.constructor as new (n: number) => T)(length);
      next.set(old);
      return next;
    };
    this.#ids = resized(this.#ids, capacity * ID_BYTES);
    this.#idWords = new Uint32Array(this.#ids.buffer);
    this.#types = resized(this.#types, capacity);
    this.#packOf = resized(this.#packOf, capacity);
    this.#offsets = resized(this.#offsets, capacity);
    this.#sealedLengths = resized(this.#sealedLengths, capacity);
    this.#plaintextLengths = resized(this.#plaintextLengths, capacity);
  }

  #rehash(slotCount: number): void {
    this.#slots = new Int32Array(slotCount);
    for (let entry = 0; entry < this.#count; entry++) this.#place(entry);
  }
}

/** Seals an index file's plaintext under the meta key (FORMAT.md §10). */
export function sealIndex(entries: readonly IndexEntry[], meta: AesGcm): Uint8Array {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  return concatBytes(nonce, meta.seal(nonce, encodeIndex(entries), INDEX_AAD));
}

/** Opens and decodes one index file; FormatError when it is damaged. */
export function openIndex(name: string, bytes: Uint8Array, meta: AesGcm): IndexEntry[] {
  if (bytes.length < NONCE_BYTES + 16) {
    throw new FormatError(`Cannot read ${name}: ${bytes.length} bytes`);
  }
  let plaintext: Uint8Array;
  try {
    plaintext = meta.open(bytes.subarray(0, NONCE_BYTES), bytes.subarray(NONCE_BYTES), INDEX_AAD);
  } catch (error) {
    if (error instanceof AuthenticationError) {
      throw new FormatError(`Cannot read ${name}: it does not authenticate (damaged or foreign)`);
    }
    throw error;
  }
  return decodeIndex(plaintext);
}

/** Writes an index file named by the SHA-256 of its bytes; returns the name. */
export async function writeIndex(
  storage: Storage,
  entries: readonly IndexEntry[],
  meta: AesGcm,
): Promise<string> {
  return INDEX_PREFIX + await putHashNamed(storage, INDEX_PREFIX, sealIndex(entries, meta));
}

/**
 * Adds to `index` the blobs of every pack that no entry of it names, read
 * from the packs' own sealed headers (FORMAT.md §9); returns how many packs.
 * For a reader that needs a blob no index file names: an index file was
 * lost or damaged (the packs are intact), or the pack is an interrupted
 * backup's. A pack whose header does not open is left out.
 */
export async function indexUnindexedPacks(
  storage: Storage,
  index: BlobIndex,
  meta: AesGcm,
): Promise<number> {
  const indexed = index.packIds();
  let recovered = 0;
  for await (const info of storage.list(PACKS_PREFIX)) {
    const id = info.name.slice(info.name.lastIndexOf("/") + 1);
    if (indexed.has(id) || !isPackObject(info.name, id)) continue;
    try {
      for (const entry of await readPackHeader(storage, id, info.size, meta)) index.add(entry);
      recovered++;
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
    }
  }
  return recovered;
}

/**
 * Loads every index file into one BlobIndex, with the packs of deletion plans
 * withdrawn (FORMAT.md §14). A damaged index file does not stop restores: the
 * packs no readable index names are found from their own sealed headers
 * instead (FORMAT.md §9), and `onWarning` hears about it.
 */
export async function loadIndex(
  storage: Storage,
  meta: AesGcm,
  options: { withdrawn?: Iterable<string>; onWarning?: (message: string) => void } = {},
): Promise<BlobIndex> {
  const index = new BlobIndex();
  index.withdraw(options.withdrawn ?? []);
  const damaged: string[] = [];
  for await (const info of storage.list(INDEX_PREFIX)) {
    if (!isHexName(info.name, INDEX_PREFIX)) continue; // foreign (FORMAT.md §4)
    let entries: IndexEntry[];
    try {
      entries = openIndex(info.name, await storage.get(info.name), meta);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      damaged.push(info.name);
      continue;
    }
    // An index file names each pack once (FORMAT.md §10): entries share its id.
    const hex = new Map<Uint8Array, string>();
    for (const entry of entries) {
      let pack = hex.get(entry.pack);
      if (pack === undefined) {
        pack = toHex(entry.pack);
        hex.set(entry.pack, pack);
      }
      index.add(entry, pack);
    }
  }
  if (damaged.length === 0) return index;
  const recovered = await indexUnindexedPacks(storage, index, meta);
  options.onWarning?.(
    `${damaged.length} index file(s) are damaged (${damaged.join(", ")}); the blobs of ` +
      `${recovered} pack(s) were found from the packs' headers instead (run 'cofre check')`,
  );
  return index;
}
