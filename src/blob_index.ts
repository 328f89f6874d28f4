/**
 * The index (FORMAT.md §10): which pack holds each blob. Index files are
 * append-only, one per backup run; in memory they merge into one map.
 *
 * @module
 */

import { ascii, concatBytes, toHex } from "./_bytes.ts";
import type { AesGcm } from "./aead.ts";
import { AuthenticationError, FormatError } from "./errors.ts";
import { type BlobType, decodeIndex, encodeIndex, type IndexEntry, NONCE_BYTES } from "./format.ts";
import { packName, readPackHeader } from "./pack.ts";
import { putHashNamed, type Storage } from "./storage/storage.ts";

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

/** All blobs the repository's index files list, by hex chunk id. */
export class BlobIndex {
  readonly #blobs = new Map<string, BlobLocation>();
  /** Packs in a deletion plan (FORMAT.md §14.2): read from, never deduplicated against. */
  readonly #withdrawn = new Set<string>();

  get size(): number {
    return this.#blobs.size;
  }

  /** True when blob `id` is stored in a pack that a backup may deduplicate against. */
  has(id: string): boolean {
    // Most repositories have no deletion plan: then a lookup is all it takes
    // (an unchanged database's tens of thousands of pages are checked so).
    if (this.#withdrawn.size === 0) return this.#blobs.has(id);
    const location = this.#blobs.get(id);
    return location !== undefined && !this.#withdrawn.has(location.pack);
  }

  /** Marks packs as withdrawn (FORMAT.md §14.2): `has` no longer sees their blobs. */
  withdraw(packs: Iterable<string>): void {
    for (const pack of packs) this.#withdrawn.add(pack);
  }

  get(id: string): BlobLocation | undefined {
    return this.#blobs.get(id);
  }

  /** `pack`: the entry's pack id in hex, when the caller has it already. */
  add(entry: IndexEntry, pack: string = toHex(entry.pack)): void {
    // A blob stored twice (two concurrent backups) keeps its first location.
    const id = toHex(entry.id);
    if (this.has(id)) return;
    // A blob stored again after its pack was withdrawn moves to its new pack.
    if (this.#blobs.has(id) && this.#withdrawn.has(pack)) return;
    this.#blobs.set(id, {
      type: entry.type,
      pack,
      offset: entry.offset,
      sealedLength: entry.sealedLength,
      plaintextLength: entry.plaintextLength,
    });
  }

  entries(): IterableIterator<[string, BlobLocation]> {
    return this.#blobs.entries();
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
  const indexed = new Set<string>();
  for await (const info of storage.list(INDEX_PREFIX)) {
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
        indexed.add(pack);
      }
      index.add(entry, pack);
    }
  }
  if (damaged.length === 0) return index;
  let recovered = 0;
  for await (const info of storage.list(PACKS_PREFIX)) {
    const id = info.name.slice(info.name.lastIndexOf("/") + 1);
    if (indexed.has(id) || info.name !== packName(id)) continue;
    try {
      for (const entry of await readPackHeader(storage, id, info.size, meta)) index.add(entry);
      recovered++;
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
    }
  }
  options.onWarning?.(
    `${damaged.length} index file(s) are damaged (${damaged.join(", ")}); the blobs of ` +
      `${recovered} pack(s) were found from the packs' headers instead (run 'cofre check')`,
  );
  return index;
}
