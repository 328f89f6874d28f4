/**
 * Keyed BLAKE3: ChunkIds (FORMAT.md §8.1) and the nonces of compressed
 * blobs (FORMAT.md §8.2). Both are `BLAKE3-keyed(subkey, bytes)` with
 * different subkeys, so one class serves both: create it once per key, then
 * hash synchronously.
 *
 * Two engines give the same bytes (tests/chunk_id_test.ts checks them
 * against BLAKE3's official vectors and against each other):
 *
 * - "wasm", the default: Cofre's WebAssembly core (assembly/blake3.ts,
 *   ABI.md §8), four chunks at once in SIMD lanes, about twice
 *   hash-wasm's speed (bench/chunk_id_bench.ts). Its key lives in a context
 *   in wasm memory that `dispose()` zeroes.
 * - "hash-wasm": hash-wasm's BLAKE3, the reference (DESIGN.md §2). `create`
 *   copies the key, hands the copy to hash-wasm and zeroes it once the keyed
 *   initial state is captured. Two copies remain that only `dispose()` or
 *   the garbage collector end: the captured state (ours; `dispose()` zeroes
 *   it) and the state inside hash-wasm's own WebAssembly instance, which
 *   hash-wasm does not expose and so cannot be wiped; it lives until the
 *   instance is garbage-collected. BLAKE3's keyed state holds the key itself
 *   as the first chaining value.
 *
 * @module
 */

import { createBLAKE3, type IHasher } from "hash-wasm";
import { Blake3Context } from "./_wasm/blake3.ts";

/** Bytes in a BLAKE3 key. */
export const BLAKE3_KEY_BYTES = 32;
/** Bytes of a compressed blob's nonce (FORMAT.md §8.2): an AES-GCM nonce. */
export const BLOB_NONCE_BYTES = 12;

/** Which implementation computes BLAKE3 (see the module doc). */
export type HasherEngine = "wasm" | "hash-wasm";

/** Options for `KeyedHasher.create`. */
export interface KeyedHasherOptions {
  /** "hash-wasm" insists on the reference; the default is Cofre's wasm core. */
  engine?: HasherEngine;
}

/**
 * BLAKE3 in keyed-hash mode with one fixed 32-byte key, 32-byte output.
 *
 * @example
 * ```ts
 * import { KeyedHasher } from "./chunk_id.ts";
 * const key = new TextEncoder().encode("whats the Elvish word for friend");
 * using hasher = await KeyedHasher.create(key);
 * const id = hasher.hash(new Uint8Array([0]));
 * // The first bytes of the official keyed_hash vector for a 1-byte input.
 * if (id[0] !== 0x6d || id[1] !== 0x78 || id.length !== 32) throw new Error("wrong id");
 * ```
 */
export class KeyedHasher {
  /** The engine that computes this hasher's hashes. */
  readonly engine: HasherEngine;
  #context: Blake3Context | null;
  #hasher: IHasher | null;
  #initial: Uint8Array | null;
  #disposed = false;

  private constructor(
    engine: HasherEngine,
    context: Blake3Context | null,
    hasher: IHasher | null,
    initial: Uint8Array | null,
  ) {
    this.engine = engine;
    this.#context = context;
    this.#hasher = hasher;
    this.#initial = initial;
  }

  /** Creates a hasher for `key` (32 bytes); the caller keeps, and may wipe, its own key. */
  static async create(key: Uint8Array, options: KeyedHasherOptions = {}): Promise<KeyedHasher> {
    if (!(key instanceof Uint8Array)) {
      throw new TypeError("Cannot create a keyed hasher: the key must be a Uint8Array");
    }
    if (key.length !== BLAKE3_KEY_BYTES) {
      throw new RangeError(
        `Cannot create a keyed hasher: the key is ${key.length} bytes, expected ${BLAKE3_KEY_BYTES}`,
      );
    }
    if ((options.engine ?? "wasm") === "wasm") {
      return new KeyedHasher("wasm", new Blake3Context(key), null, null);
    }
    // hash-wasm keeps a view of the key it is given and rereads it on every
    // init(); giving it a private copy, and never calling init() again
    // (load() restores the captured state instead), lets the copy be zeroed
    // now and keeps a caller's later wipe from silently changing the key.
    const copy = key.slice();
    try {
      const hasher = await createBLAKE3(256, copy);
      return new KeyedHasher("hash-wasm", null, hasher, hasher.save());
    } finally {
      copy.fill(0);
    }
  }

  /** The 32-byte keyed hash of `data`. */
  hash(data: Uint8Array): Uint8Array {
    return this.hashParts([data]);
  }

  /** The keyed hash of the parts' concatenation, without concatenating them. */
  hashParts(parts: Iterable<Uint8Array>): Uint8Array {
    if (this.#disposed) throw new Error("Cannot hash: the keyed hasher was disposed");
    if (this.#context) return this.#context.hash(checked(parts));
    const hasher = this.#hasher!;
    hasher.load(this.#initial!);
    for (const part of checked(parts)) hasher.update(part);
    return hasher.digest("binary");
  }

  /** Zeroes the key state; the hasher cannot be used afterwards. */
  dispose(): void {
    this.#context?.release();
    this.#initial?.fill(0);
    this.#disposed = true;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Yields `parts`, refusing anything but a Uint8Array. */
function* checked(parts: Iterable<Uint8Array>): Generator<Uint8Array> {
  for (const part of parts) {
    if (!(part instanceof Uint8Array)) {
      throw new TypeError("Cannot hash: data must be a Uint8Array");
    }
    yield part;
  }
}

/**
 * FORMAT.md §8.2: the nonce of a zstd-compressed blob,
 * `BLAKE3-keyed(nonce subkey, payload)[0..12]`, where `nonceHasher` holds the
 * `nonce` subkey and `payload` is the flag byte followed by the frame.
 *
 * @example
 * ```ts
 * import { blobNonce, KeyedHasher } from "./chunk_id.ts";
 * using nonceHasher = await KeyedHasher.create(new Uint8Array(32));
 * const nonce = blobNonce(nonceHasher, new Uint8Array([1, 0x28, 0xb5, 0x2f, 0xfd]));
 * if (nonce.length !== 12) throw new Error("a nonce is 12 bytes");
 * ```
 */
export function blobNonce(nonceHasher: KeyedHasher, payload: Uint8Array): Uint8Array {
  return nonceHasher.hash(payload).slice(0, BLOB_NONCE_BYTES);
}
