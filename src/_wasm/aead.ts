// The host half of AES-256-GCM (assembly/gcm.ts, ABI.md §5): pushes nonce,
// associated data and text through one fixed I/O region of wasm memory, so
// memory stays bounded whatever the message length, and copies results out.
// Opening hashes the ciphertext, verifies the tag and only then decrypts
// (ABI.md §5), so a failed open leaves no plaintext in wasm memory or in
// JavaScript. Key material is zeroed in wasm memory as soon as it is used.

import {
  acquireRegion,
  core,
  memoryBytes,
  type Region,
  releaseRegion,
  STATUS_AUTH_FAILED,
  STATUS_OK,
} from "./core.ts";

const KIB = 1024;

/** Bytes of text moved per kernel call: a multiple of 16 that fits the L2 cache. */
export const IO_BYTES = 64 * KIB;
/** The AES-256 key length. */
export const KEY_BYTES = 32;
/** The GCM tag length Cofre uses (the longest, SP 800-38D §5.2.1.2). */
export const TAG_BYTES = 16;

// One I/O region for every context of this realm: the calls are synchronous,
// so no two operations ever use it at the same time. The 16 bytes past
// IO_BYTES hold a tag while text sits in front of it.
let shared: Region | undefined;
function io(): Region {
  shared ??= acquireRegion(IO_BYTES + TAG_BYTES);
  return shared;
}

// A context dropped without `release()` is still wiped and recycled.
const orphans = new FinalizationRegistry<Region>((region) => releaseRegion(region));

/** Zeroes what an operation put in the I/O region: its first `bytes` and the tag slot. */
function wipeUsed(buffer: Region, bytes: number): void {
  core.wipe(buffer.ptr, Math.min(bytes, IO_BYTES));
  core.wipe(buffer.ptr + IO_BYTES, TAG_BYTES);
}

function check(status: number, action: string): void {
  if (status !== STATUS_OK) {
    throw new Error(`Cannot ${action}: the core refused it (status ${status})`);
  }
}

/** An expanded AES-256-GCM key in wasm memory. Arguments are validated by src/aead.ts. */
export class GcmContext {
  readonly #context: Region;
  #released = false;

  constructor(key: Uint8Array) {
    const buffer = io();
    this.#context = acquireRegion(core.gcm_context_bytes());
    try {
      memoryBytes().set(key, buffer.ptr);
      check(core.gcm_init(this.#context.ptr, buffer.ptr), "set the AES-GCM key");
    } catch (error) {
      releaseRegion(this.#context);
      this.#released = true;
      throw error;
    } finally {
      core.wipe(buffer.ptr, KEY_BYTES);
    }
    orphans.register(this, this.#context, this);
  }

  /**
   * Verifies ciphertext ‖ tag and decrypts it into `out` at `offset`; false
   * (and nothing written) when the tag does not verify; src/aead.ts has
   * checked that the plaintext fits `out` at `offset`. `out` may be the
   * buffer `sealed` lies in when the plaintext lands at or before its
   * ciphertext: each segment is read before its plaintext is written. The
   * kernel always verifies before it decrypts, so `unseen` changes nothing.
   */
  openInto(
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
    out: Uint8Array,
    offset: number,
    _options: { unseen?: boolean } = {},
  ): boolean {
    const ctx = this.#live();
    const buffer = io();
    const length = sealed.length - TAG_BYTES;
    try {
      this.#begin(ctx, buffer, nonce, aad);
      const mem = memoryBytes();
      for (let at = 0; at < length; at += IO_BYTES) {
        const n = Math.min(IO_BYTES, length - at);
        mem.set(sealed.subarray(at, at + n), buffer.ptr);
        check(core.gcm_open_update(ctx, buffer.ptr, n), "open");
      }
      const tag = buffer.ptr + IO_BYTES;
      mem.set(sealed.subarray(length), tag);
      const status = core.gcm_open_finish(ctx, tag);
      if (status === STATUS_AUTH_FAILED) return false;
      check(status, "open");
      // A message that fits the region is still there: decrypt it in place.
      const resident = length <= IO_BYTES;
      for (let at = 0; at < length; at += IO_BYTES) {
        const n = Math.min(IO_BYTES, length - at);
        if (!resident) mem.set(sealed.subarray(at, at + n), buffer.ptr);
        check(core.gcm_decrypt_update(ctx, buffer.ptr, n), "open");
        out.set(mem.subarray(buffer.ptr, buffer.ptr + n), offset + at);
      }
      return true;
    } finally {
      wipeUsed(buffer, Math.max(nonce.length, aad.length, length));
    }
  }

  /**
   * Encrypts the concatenation of `parts` into `out` at `offset`
   * (ciphertext ‖ tag), without joining the parts or allocating: the
   * pipeline seals flag ‖ chunk straight behind the nonce of a blob.
   * Returns the bytes written.
   */
  sealInto(
    nonce: Uint8Array,
    parts: readonly Uint8Array[],
    aad: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): number {
    const ctx = this.#live();
    const buffer = io();
    // src/aead.ts has checked that ciphertext and tag fit `out` at `offset`.
    const total = parts.reduce((n, p) => n + p.length, 0);
    try {
      this.#begin(ctx, buffer, nonce, aad);
      const mem = memoryBytes();
      let filled = 0;
      let written = offset;
      // Only the last update may be shorter than a block multiple: fill the region whole.
      const flush = () => {
        check(core.gcm_seal_update(ctx, buffer.ptr, filled), "seal");
        out.set(mem.subarray(buffer.ptr, buffer.ptr + filled), written);
        written += filled;
        filled = 0;
      };
      for (const part of parts) {
        for (let at = 0; at < part.length;) {
          const n = Math.min(IO_BYTES - filled, part.length - at);
          mem.set(part.subarray(at, at + n), buffer.ptr + filled);
          filled += n;
          at += n;
          if (filled === IO_BYTES) flush();
        }
      }
      if (filled > 0) flush();
      const tag = buffer.ptr + IO_BYTES;
      check(core.gcm_seal_finish(ctx, tag), "seal");
      out.set(mem.subarray(tag, tag + TAG_BYTES), written);
      return written + TAG_BYTES - offset;
    } finally {
      wipeUsed(buffer, Math.max(nonce.length, aad.length, Math.min(total, IO_BYTES)));
    }
  }

  /** Zeroes the expanded key and returns its memory; the context cannot be used afterwards. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    orphans.unregister(this);
    releaseRegion(this.#context);
  }

  /** Starts a message: nonce (through a larger region if it does not fit), then the AAD. */
  #begin(ctx: number, buffer: Region, nonce: Uint8Array, aad: Uint8Array): void {
    const fits = nonce.length <= buffer.bytes;
    const place = fits ? buffer : acquireRegion(nonce.length);
    try {
      memoryBytes().set(nonce, place.ptr);
      check(core.gcm_start(ctx, place.ptr, nonce.length), "start an AES-GCM message");
    } finally {
      if (!fits) releaseRegion(place);
    }
    const mem = memoryBytes();
    for (let at = 0; at < aad.length; at += IO_BYTES) {
      const n = Math.min(IO_BYTES, aad.length - at);
      mem.set(aad.subarray(at, at + n), buffer.ptr);
      check(core.gcm_aad_update(ctx, buffer.ptr, n), "authenticate the associated data");
    }
  }

  #live(): number {
    if (this.#released) throw new TypeError("Cannot use the AES-GCM key: it was released");
    return this.#context.ptr;
  }
}
