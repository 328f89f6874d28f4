// Chunk buffers: the room a blob needs to be sealed where its chunk lies
// (FORMAT.md §8.2: the nonce and flag before the chunk, the tag after it;
// a backup job's segments give each chunk that room, src/_backup_job.ts),
// freeing dead buffers at once, and which views may travel to a worker with
// their whole buffer (src/workers.ts transfers it instead of copying).

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

/** True when `view`'s whole buffer may travel with it (marked, or a view of all of it). */
export function ownsBuffer(view: Uint8Array): boolean {
  if (view.buffer instanceof SharedArrayBuffer) return false;
  return whole.has(view.buffer) ||
    (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength);
}

/** Marks a buffer that came back from a worker as wholly its view's again. */
export function markOwned(view: Uint8Array): void {
  whole.add(view.buffer);
}
