// Chunk buffers, reused. Backup and restore move every chunk through a
// buffer of its own; allocating one per chunk made each isolate pile up
// dead megabytes until a forced full collection (src/_gc.ts), and those
// collections were a third of the time (measured: 5 of 15 s to restore the
// 768 MiB peers corpus). A pool hands the same few buffers round instead.
//
// Each buffer has room for a blob to be sealed or opened where it lies
// (FORMAT.md §8.2): the nonce and flag before the chunk, the tag after it.
// A view from the pool travels to a worker and back whole (src/workers.ts
// transfers its buffer instead of copying the view), so the pool marks the
// buffers whose every byte belongs to the view's holder.

import { NONCE_BYTES } from "./format.ts";

/** Bytes before a chunk: its blob's nonce and flag (FORMAT.md §8.2). */
export const ROOM_BEFORE = NONCE_BYTES + 1;
/** Bytes after a chunk: its blob's tag. */
export const ROOM_AFTER = 16;

/**
 * Frees the memory under dead views now, instead of at the next full
 * collection: each view's buffer is detached (ArrayBuffer.prototype
 * .transfer(0)), which releases its backing store at once. V8 keeps a dead
 * buffer that lived a little while until a mark-compact, and forcing those
 * cost a fifth of a restore (src/_gc.ts). The caller asserts that it holds
 * every view of these buffers and reads none of them again; views that
 * share a buffer may all be passed. Shared, WebAssembly and already
 * detached buffers are left alone.
 */
export function discard(views: Iterable<Uint8Array>): void {
  for (const view of views) {
    const buffer = view.buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.detached) continue;
    try {
      buffer.transfer(0);
    } catch {
      // A WebAssembly memory cannot be detached; it was never garbage anyway.
    }
  }
}

// Buffers whose holder owns every byte, so moving the whole buffer moves
// nothing that anyone else still reads.
const whole = new WeakSet<ArrayBufferLike>();

/** True when `view`'s whole buffer may travel with it (a pooled buffer, or a view of all of it). */
export function ownsBuffer(view: Uint8Array): boolean {
  if (view.buffer instanceof SharedArrayBuffer) return false;
  return whole.has(view.buffer) ||
    (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength);
}

/** True for a view of a pool's buffer (its holder may reuse the buffer in place). */
export function isPooled(view: Uint8Array): boolean {
  return whole.has(view.buffer);
}

/** Marks a buffer that came back from a worker as wholly its view's again. */
export function markOwned(view: Uint8Array): void {
  whole.add(view.buffer);
}

/** Rounding for buffer sizes, so chunks of similar length share buffers. */
const GRAIN = 64 * 1024;

/**
 * A free list of chunk buffers, at most `maxBytes` of them kept; a buffer
 * given back to a full list is freed at once (`discard`). Buffers that do
 * not come back (a failed job) are simply garbage.
 */
export class BufferPool {
  readonly #free: ArrayBuffer[] = [];
  readonly #maxBytes: number;
  #freeBytes = 0;

  constructor(options: { maxBytes: number }) {
    this.#maxBytes = options.maxBytes;
  }

  /** A view of `length` bytes with ROOM_BEFORE and ROOM_AFTER spare bytes around it. */
  take(length: number): Uint8Array<ArrayBuffer> {
    const need = ROOM_BEFORE + length + ROOM_AFTER;
    let best = -1;
    for (let i = 0; i < this.#free.length; i++) {
      const size = this.#free[i]!.byteLength;
      // Best fit, and never more than half again: a page must not hold a video's buffer.
      if (size >= need && size <= need + need / 2 + GRAIN) {
        if (best < 0 || size < this.#free[best]!.byteLength) best = i;
      }
    }
    let buffer: ArrayBuffer;
    if (best >= 0) {
      buffer = this.#free[best]!;
      this.#free[best] = this.#free.at(-1)!;
      this.#free.pop();
      this.#freeBytes -= buffer.byteLength;
    } else {
      buffer = new ArrayBuffer(Math.ceil(need / GRAIN) * GRAIN);
      whole.add(buffer);
    }
    return new Uint8Array(buffer, ROOM_BEFORE, length);
  }

  /**
   * Gives a view's buffer back once nothing reads the view any more. Only
   * views from `take` (possibly back from a worker) belong here; others are
   * ignored. Chunk sizes that shift (photos, then a video's larger chunks)
   * make new buffers, and those a full list has no room for are freed.
   */
  give(view: Uint8Array): void {
    const buffer = view.buffer;
    if (!(buffer instanceof ArrayBuffer) || buffer.byteLength === 0 || !whole.has(buffer)) return;
    if (this.#free.includes(buffer)) return;
    if (this.#freeBytes + buffer.byteLength > this.#maxBytes) return discard([view]);
    this.#free.push(buffer);
    this.#freeBytes += buffer.byteLength;
  }
}
