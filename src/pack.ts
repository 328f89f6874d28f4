/**
 * Packs (FORMAT.md §9): many sealed blobs in one storage object, in random
 * order, followed by their sealed header. The storage sees only the pack's
 * size; its name is the SHA-256 of its bytes, so anyone can detect damage.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { nativeSha256Async } from "./_native/libcrypto.ts";
import { ascii, concatBytes, toHex } from "./_bytes.ts";
import type { AesGcm } from "./aead.ts";
import { AuthenticationError, FormatError } from "./errors.ts";
import {
  decodePackHeader,
  encodePackHeader,
  type IndexEntry,
  MAX_PACK_BYTES,
  NONCE_BYTES,
  type PackEntry,
} from "./format.ts";
import type { Storage } from "./storage/storage.ts";

/** FORMAT.md §9: packs are closed near this size. */
export const PACK_TARGET_BYTES = 16 * 1024 * 1024;
const HEADER_AAD = ascii("cofre v1 pack header");
const TAG_BYTES = 16;
/** The smallest sealed header: nonce, magic, version, count, one entry, tag. */
const MIN_SEALED_HEADER_BYTES = NONCE_BYTES + 13 + 41 + TAG_BYTES;

/** The object name of a pack (FORMAT.md §4). */
export function packName(id: Uint8Array | string): string {
  const hex = typeof id === "string" ? id : toHex(id);
  return `data/${hex.slice(0, 2)}/${hex}`;
}

/**
 * True when `name` is pack `id`'s object: 64 hex digits, in its folder
 * (FORMAT.md §4). `data/no/notes` is someone else's, never a pack.
 */
export function isPackObject(name: string, id: string): boolean {
  return /^[0-9a-f]{64}$/.test(id) && name === packName(id);
}

/** A finished pack, ready to store. */
export interface FinishedPack {
  id: Uint8Array;
  name: string;
  /** The pack's bytes, in parts (blobs, sealed header, length): never copied into one buffer. */
  parts: Uint8Array[];
  /** Total bytes. */
  size: number;
  /** Where each blob landed, for the index. */
  entries: IndexEntry[];
  /** The arena the parts lie in, if any: free again once the pack is stored. */
  arena?: Uint8Array;
}

/**
 * Bytes of a pack arena: a backup closes a pack before a blob would take it
 * past PACK_TARGET_BYTES (src/blob_store.ts), so this holds every pack but
 * one of a single larger blob (kept as it is).
 */
export const PACK_ARENA_BYTES = PACK_TARGET_BYTES;

/**
 * Collects sealed blobs until the pack is full, then lays them out. With
 * `arena`, blobs are copied into one reused buffer as they come (a blob
 * that does not fit is kept as it is), so their own buffers are free at
 * once and a pack allocates nothing.
 */
export class PackBuilder {
  #blobs: { entry: PackEntry; sealed: Uint8Array }[] = [];
  #bytes = 0;
  readonly #newArena: (() => Uint8Array) | undefined;
  #arena: Uint8Array | undefined;
  #used = 0;

  /** `arena`: hands out a buffer (PACK_ARENA_BYTES) for the next pack's blobs. */
  constructor(options: { arena?: () => Uint8Array } = {}) {
    this.#newArena = options.arena;
  }

  /** Adds a blob; true when it was copied, and `sealed`'s buffer is free again. */
  add(entry: PackEntry, sealed: Uint8Array): boolean {
    if (sealed.length !== entry.sealedLength) {
      throw new RangeError("Cannot add the blob to a pack: its length differs from its entry");
    }
    if (this.#bytes + sealed.length > MAX_PACK_BYTES - (1 << 26)) {
      throw new RangeError("Cannot add the blob to a pack: the pack would reach 4 GiB");
    }
    let kept = sealed;
    if (this.#newArena) {
      this.#arena ??= this.#newArena();
      if (this.#used + sealed.length <= this.#arena.length) {
        kept = this.#arena.subarray(this.#used, this.#used + sealed.length);
        kept.set(sealed);
        this.#used += sealed.length;
      }
    }
    this.#blobs.push({ entry, sealed: kept });
    this.#bytes += sealed.length;
    return kept !== sealed;
  }

  /** Bytes of sealed blobs so far. */
  get size(): number {
    return this.#bytes;
  }

  get count(): number {
    return this.#blobs.length;
  }

  /**
   * Shuffles the blobs (FORMAT.md §9: the order reveals nothing about files),
   * seals the header under the meta key and returns the pack. The builder
   * is empty again when this returns, before the pack is named: the next
   * pack may fill meanwhile.
   */
  async finish(meta: AesGcm): Promise<FinishedPack> {
    if (this.#blobs.length === 0) throw new RangeError("Cannot finish an empty pack");
    const blobs = shuffle(this.#blobs);
    const arena = this.#arena;
    this.#blobs = [];
    this.#bytes = 0;
    this.#arena = undefined;
    this.#used = 0;
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const sealedHeader = concatBytes(
      nonce,
      meta.seal(nonce, encodePackHeader(blobs.map((b) => b.entry)), HEADER_AAD),
    );
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, sealedHeader.length, true);
    const parts = [...blobs.map((b) => b.sealed), sealedHeader, length];
    // Hashed part by part: a 16 MiB pack is never copied whole. Off this
    // thread where libcrypto is at hand: in a backup, it is the busiest.
    const size = parts.reduce((n, part) => n + part.length, 0);
    const id = (await nativeSha256Async(parts)) ?? streamedSha256(parts);
    const entries: IndexEntry[] = [];
    let offset = 0;
    for (const { entry } of blobs) {
      entries.push({ ...entry, pack: id, offset });
      offset += entry.sealedLength;
    }
    return { id, name: packName(id), parts, size, entries, arena };
  }
}

/** SHA-256 of `parts` through node:crypto, where libcrypto is not at hand (src/_native/). */
function streamedSha256(parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** getRandomValues fills at most 64 KiB a call (WebCrypto's quota). */
const RANDOM_CALL_WORDS = 65536 / 4;

/** Fisher–Yates with a CSPRNG. */
function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  const random = new Uint32Array(out.length);
  // A pack of well-compressed pages can hold far more than 16384 blobs.
  for (let at = 0; at < random.length; at += RANDOM_CALL_WORDS) {
    crypto.getRandomValues(random.subarray(at, at + RANDOM_CALL_WORDS));
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = random[i]! % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Reads and opens a pack's header: the entries with their offsets. Throws
 * FormatError naming the pack when it is truncated, or its header does not
 * open or does not add up.
 */
export async function readPackHeader(
  storage: Storage,
  id: string,
  size: number,
  meta: AesGcm,
): Promise<IndexEntry[]> {
  const name = packName(id);
  const fail = (reason: string): never => {
    throw new FormatError(`Cannot read pack ${id}: ${reason}`);
  };
  if (size < 4 + MIN_SEALED_HEADER_BYTES) fail(`${size} bytes is too short to be a pack`);
  const tail = await storage.get(name, { offset: size - 4, length: 4 });
  const headerLength = new DataView(tail.buffer, tail.byteOffset, 4).getUint32(0, true);
  if (headerLength < MIN_SEALED_HEADER_BYTES || headerLength > size - 4) {
    fail(`its header length ${headerLength} does not fit its ${size} bytes`);
  }
  const sealed = await storage.get(name, { offset: size - 4 - headerLength, length: headerLength });
  let plaintext: Uint8Array;
  try {
    plaintext = meta.open(
      sealed.subarray(0, NONCE_BYTES),
      sealed.subarray(NONCE_BYTES),
      HEADER_AAD,
    );
  } catch (error) {
    if (error instanceof AuthenticationError) {
      fail("its header does not authenticate (damaged or foreign)");
    }
    throw error;
  }
  const entries = decodePackHeader(plaintext);
  const packId = Uint8Array.from(id.match(/../g)!, (h) => parseInt(h, 16));
  let offset = 0;
  const out: IndexEntry[] = [];
  for (const entry of entries) {
    out.push({ ...entry, pack: packId, offset });
    offset += entry.sealedLength;
  }
  if (offset !== size - 4 - headerLength) {
    fail(`its blobs add up to ${offset} bytes, but ${size - 4 - headerLength} precede the header`);
  }
  return out;
}
