// The host half of keyed BLAKE3 (assembly/blake3.ts, ABI.md §8): pushes the
// input through one fixed I/O region of wasm memory, so memory stays bounded
// whatever the length, and copies the 32-byte hash out. The input is zeroed
// in wasm memory once hashed, and the key as soon as the context holds it.

import { acquireRegion, core, memoryBytes, type Region, releaseRegion, STATUS_OK } from "./core.ts";

/**
 * Bytes of input moved per kernel call. The kernel keeps the last four
 * chunks (4 KiB) of each call until more input or the end comes (ABI.md
 * §8), copying them once more: a large region keeps that copy small.
 */
const IO_BYTES = 256 * 1024;
/** A BLAKE3 key, and Cofre's hash length. */
export const BLAKE3_BYTES = 32;

// One I/O region for every context of this realm: the calls are synchronous,
// so no two hashes ever use it at the same time.
let shared: Region | undefined;
function io(): Region {
  shared ??= acquireRegion(IO_BYTES);
  return shared;
}

// A context dropped without `release()` is still wiped and recycled.
const orphans = new FinalizationRegistry<Region>((region) => releaseRegion(region));

function check(status: number, action: string): void {
  if (status !== STATUS_OK) {
    throw new Error(`Cannot ${action}: the core refused it (status ${status})`);
  }
}

/** A BLAKE3 key in wasm memory. Arguments are validated by src/chunk_id.ts. */
export class Blake3Context {
  readonly #context: Region;
  #released = false;

  constructor(key: Uint8Array) {
    const buffer = io();
    this.#context = acquireRegion(core.b3_context_bytes());
    try {
      memoryBytes().set(key, buffer.ptr);
      check(core.b3_init(this.#context.ptr, buffer.ptr), "set the BLAKE3 key");
    } catch (error) {
      releaseRegion(this.#context);
      this.#released = true;
      throw error;
    } finally {
      core.wipe(buffer.ptr, BLAKE3_BYTES);
    }
    orphans.register(this, this.#context, this);
  }

  /** The keyed hash of the parts' concatenation. */
  hash(parts: Iterable<Uint8Array>): Uint8Array {
    if (this.#released) throw new TypeError("Cannot hash: the BLAKE3 key was released");
    const ctx = this.#context.ptr;
    const buffer = io();
    let used = BLAKE3_BYTES;
    try {
      for (const part of parts) {
        for (let at = 0; at < part.length; at += IO_BYTES) {
          const piece = part.subarray(at, at + IO_BYTES);
          memoryBytes().set(piece, buffer.ptr);
          used = Math.max(used, piece.length);
          check(core.b3_update(ctx, buffer.ptr, piece.length), "hash");
        }
      }
      check(core.b3_finish(ctx, buffer.ptr), "hash");
      return memoryBytes().slice(buffer.ptr, buffer.ptr + BLAKE3_BYTES);
    } catch (error) {
      core.b3_finish(ctx, buffer.ptr); // drop the half-hashed message
      throw error;
    } finally {
      core.wipe(buffer.ptr, used);
    }
  }

  /** Zeroes the key and the context and returns its region; later calls throw. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    orphans.unregister(this);
    releaseRegion(this.#context);
  }
}
