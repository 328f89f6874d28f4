/**
 * AES-256-GCM (NIST SP 800-38D), the AEAD that seals every chunk and object
 * Cofre stores (FORMAT.md). The reference runs inside the WebAssembly core,
 * bitsliced and constant time, so every host seals the same bytes the same
 * way. Where the host offers it, the system's OpenSSL libcrypto (AES-NI)
 * does the same work with the same bytes, 18 times faster to seal (`deno bench`)
 * (src/_native/libcrypto.ts, DESIGN.md §2's host-native stage); `engine`
 * says which one a key uses, and `{ engine: "wasm" }` insists on the kernel.
 *
 * Sealed data is ciphertext ‖ 16-byte tag. A failed open throws
 * `AuthenticationError` and releases no plaintext: the kernel verifies the
 * tag before it decrypts anything, and so does libcrypto when it opens into
 * the caller's buffer (`openInto`). Where no one else reads the output
 * (`open`'s new buffer, or `openInto` with `unseen`, as a blob opened in its
 * own buffer is), libcrypto decrypts in one pass and wipes the plaintext
 * when the tag fails.
 *
 * @module
 */

import {
  MAX_NATIVE_NONCE_BYTES,
  nativeGcmAvailable,
  NativeGcmContext,
} from "./_native/libcrypto.ts";
import { GcmContext, KEY_BYTES, TAG_BYTES } from "./_wasm/aead.ts";
import { AuthenticationError } from "./errors.ts";

/** AES-256 key length in bytes. */
export const AES_GCM_KEY_BYTES = KEY_BYTES;
/** Tag length in bytes, appended to every ciphertext. */
export const AES_GCM_TAG_BYTES = TAG_BYTES;
/** The recommended nonce length in bytes (the fast path; any length ≥ 1 works). */
export const AES_GCM_NONCE_BYTES = 12;
/** The longest plaintext GCM allows: 2^39 - 256 bits (SP 800-38D §5.2.1.1). */
export const AES_GCM_MAX_PLAINTEXT_BYTES = 2 ** 36 - 32;

const EMPTY = new Uint8Array(0);

/** Which implementation runs AES-256-GCM: the wasm kernel, or OpenSSL's libcrypto. */
export type AesGcmEngine = "wasm" | "libcrypto";

/** Options for `AesGcm`. */
export interface AesGcmOptions {
  /** "wasm" insists on the reference kernel; the default takes libcrypto where it is usable. */
  engine?: AesGcmEngine | "auto";
}

/**
 * The engine a new `AesGcm` uses by default in this realm: "libcrypto" when
 * the native stage loads and passes its known answers, else "wasm".
 *
 * @example
 * ```ts
 * import { defaultAesGcmEngine } from "./aead.ts";
 * if (!["wasm", "libcrypto"].includes(defaultAesGcmEngine())) throw new Error("unknown engine");
 * ```
 */
export function defaultAesGcmEngine(): AesGcmEngine {
  return nativeGcmAvailable() ? "libcrypto" : "wasm";
}

function bytes(value: unknown, name: string, action: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`Cannot ${action}: ${name} must be a Uint8Array`);
  }
  return value;
}

function checkNonce(nonce: unknown, action: string): Uint8Array {
  const n = bytes(nonce, "the nonce", action);
  if (n.length === 0) throw new RangeError(`Cannot ${action}: the nonce is empty`);
  return n;
}

/**
 * An AES-256-GCM key, expanded once in WebAssembly memory, for sealing and
 * opening many messages. Dispose of it (`using`, or `[Symbol.dispose]()`) to
 * zero the expanded key.
 *
 * @example
 * ```ts
 * import { AesGcm } from "./aead.ts";
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const nonce = crypto.getRandomValues(new Uint8Array(12));
 * using aead = new AesGcm(key);
 * const sealed = aead.seal(nonce, new TextEncoder().encode("hello"));
 * const opened = aead.open(nonce, sealed);
 * if (new TextDecoder().decode(opened) !== "hello") throw new Error("round trip failed");
 * ```
 */
export class AesGcm {
  readonly #context: GcmContext;
  // Nonces libcrypto does not take (over 128 bytes) still go to the kernel.
  readonly #native: NativeGcmContext | null;

  /** Throws `TypeError` unless `key` is a Uint8Array, `RangeError` unless it has 32 bytes. */
  constructor(key: Uint8Array, options: AesGcmOptions = {}) {
    const k = bytes(key, "the key", "set the AES-GCM key");
    if (k.length !== KEY_BYTES) {
      throw new RangeError(`Cannot set the AES-GCM key: ${k.length} bytes, expected ${KEY_BYTES}`);
    }
    const engine = options.engine ?? "auto";
    if (engine === "libcrypto" && !nativeGcmAvailable()) {
      throw new Error("Cannot set the AES-GCM key: libcrypto's AES-GCM is not usable here");
    }
    this.#context = new GcmContext(k);
    try {
      this.#native = engine !== "wasm" && nativeGcmAvailable() ? new NativeGcmContext(k) : null;
    } catch (error) {
      this.#context.release();
      throw error;
    }
  }

  /** The implementation this key seals and opens 12-byte-nonce messages with. */
  get engine(): AesGcmEngine {
    return this.#native === null ? "wasm" : "libcrypto";
  }

  #for(nonce: Uint8Array): GcmContext | NativeGcmContext {
    return this.#native !== null && nonce.length <= MAX_NATIVE_NONCE_BYTES
      ? this.#native
      : this.#context;
  }

  /**
   * Encrypts and authenticates `plaintext` and authenticates `aad`; returns
   * ciphertext ‖ 16-byte tag. Never reuse a nonce with the same key for a
   * different message.
   */
  seal(
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array = EMPTY,
  ): Uint8Array<ArrayBuffer> {
    const action = "seal";
    const n = checkNonce(nonce, action);
    const p = bytes(plaintext, "the plaintext", action);
    const a = bytes(aad, "the associated data", action);
    if (p.length > AES_GCM_MAX_PLAINTEXT_BYTES) {
      throw new RangeError(`Cannot seal: ${p.length} bytes exceed the GCM limit`);
    }
    const out = new Uint8Array(p.length + TAG_BYTES);
    this.#for(n).sealInto(n, [p], a, out, 0);
    return out;
  }

  /**
   * Verifies and decrypts ciphertext ‖ tag. Throws `AuthenticationError` when
   * anything (key, nonce, aad, ciphertext, tag) differs from the seal, and
   * `RangeError` for sealed input shorter than a tag.
   */
  open(
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array = EMPTY,
  ): Uint8Array<ArrayBuffer> {
    const action = "open";
    const n = checkNonce(nonce, action);
    const s = bytes(sealed, "the sealed data", action);
    const a = bytes(aad, "the associated data", action);
    if (s.length < TAG_BYTES) {
      throw new RangeError(`Cannot open: ${s.length} bytes, expected at least ${TAG_BYTES}`);
    }
    if (s.length - TAG_BYTES > AES_GCM_MAX_PLAINTEXT_BYTES) throw new AuthenticationError();
    // A message longer than the I/O region is read twice, to verify and then
    // to decrypt; memory another thread can write must not change in between.
    const stable = s.buffer instanceof ArrayBuffer ? s : s.slice();
    // A new buffer no one else holds: the engine may decrypt into it before
    // the verdict, wiping it on a failure (libcrypto then reads once, not twice).
    const plaintext = new Uint8Array(s.length - TAG_BYTES);
    if (!this.#for(n).openInto(n, stable, a, plaintext, 0, { unseen: true })) {
      throw new AuthenticationError();
    }
    return plaintext;
  }

  /**
   * Verifies ciphertext ‖ tag and decrypts it into `out` at `offset`, without
   * allocating; returns the plaintext's length. Throws `AuthenticationError`
   * (having written nothing) when it does not verify, and `RangeError` when
   * `out` lacks the room. `out` may be the very buffer `sealed` lies in, with
   * the plaintext landing at or before its ciphertext: a pipeline opens a
   * blob where it was read. `unseen`: nothing else reads `out` until this
   * returns, so an engine may decrypt before the verdict, in one pass,
   * and on a failure the plaintext's place is wiped (zeros) instead of left
   * untouched.
   *
   * @example
   * ```ts
   * import { AesGcm } from "./aead.ts";
   * using aead = new AesGcm(new Uint8Array(32));
   * const nonce = new Uint8Array(12);
   * const buffer = aead.seal(nonce, new Uint8Array([1, 2, 3]));
   * const n = aead.openInto(nonce, buffer, new Uint8Array(), buffer, 0);
   * if (n !== 3 || buffer[2] !== 3) throw new Error("not opened in place");
   * ```
   */
  openInto(
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
    out: Uint8Array,
    offset: number,
    options: { unseen?: boolean } = {},
  ): number {
    const action = "open";
    const n = checkNonce(nonce, action);
    const s = bytes(sealed, "the sealed data", action);
    const a = bytes(aad, "the associated data", action);
    const o = bytes(out, "the output", action);
    if (s.length < TAG_BYTES) {
      throw new RangeError(`Cannot open: ${s.length} bytes, expected at least ${TAG_BYTES}`);
    }
    if (s.length - TAG_BYTES > AES_GCM_MAX_PLAINTEXT_BYTES) throw new AuthenticationError();
    if (!Number.isInteger(offset) || offset < 0 || o.length - offset < s.length - TAG_BYTES) {
      throw new RangeError(
        `Cannot open: ${s.length - TAG_BYTES} bytes do not fit at offset ${offset}`,
      );
    }
    // As in open(): memory another thread can write must not change between verifying and decrypting.
    if (!(s.buffer instanceof ArrayBuffer) || !(o.buffer instanceof ArrayBuffer)) {
      const plaintext = this.open(n, s, a);
      o.set(plaintext, offset);
      return plaintext.length;
    }
    if (!this.#for(n).openInto(n, s, a, o, offset, { unseen: options.unseen === true })) {
      throw new AuthenticationError();
    }
    return s.length - TAG_BYTES;
  }

  /**
   * Seals the concatenation of `parts` into `out` at `offset` (ciphertext ‖
   * tag) without joining them; returns the bytes written (their total + 16).
   * Throws `RangeError` when `out` lacks the room.
   *
   * @example
   * ```ts
   * import { AesGcm } from "./aead.ts";
   * using aead = new AesGcm(new Uint8Array(32));
   * const nonce = new Uint8Array(12);
   * const out = new Uint8Array(12 + 3 + 16);
   * out.set(nonce);
   * aead.sealInto(nonce, [new Uint8Array([1]), new Uint8Array([2, 3])], out, 12);
   * ```
   */
  sealInto(
    nonce: Uint8Array,
    parts: readonly Uint8Array[],
    out: Uint8Array,
    offset: number,
    aad: Uint8Array = EMPTY,
  ): number {
    const action = "seal";
    const n = checkNonce(nonce, action);
    for (const part of parts) bytes(part, "the plaintext", action);
    const o = bytes(out, "the output", action);
    const a = bytes(aad, "the associated data", action);
    const total = parts.reduce((sum, p) => sum + p.length, 0);
    if (total > AES_GCM_MAX_PLAINTEXT_BYTES) {
      throw new RangeError("Cannot seal: the plaintext exceeds the GCM limit");
    }
    // Checked here for both engines, before either writes anything.
    if (!Number.isInteger(offset) || offset < 0 || o.length - offset < total + TAG_BYTES) {
      throw new RangeError(
        `Cannot seal: ${total + TAG_BYTES} bytes do not fit at offset ${offset}`,
      );
    }
    return this.#for(n).sealInto(n, parts, a, o, offset);
  }

  /** Zeroes the expanded key; the object cannot be used afterwards. */
  [Symbol.dispose](): void {
    this.#context.release();
    this.#native?.release();
  }
}

/**
 * Seals `plaintext` under a 32-byte key: ciphertext ‖ 16-byte tag.
 *
 * @example
 * ```ts
 * import { aesGcmOpen, aesGcmSeal } from "./aead.ts";
 * const key = new Uint8Array(32);
 * const nonce = new Uint8Array(12);
 * const sealed = aesGcmSeal(key, nonce, new Uint8Array(16));
 * // NIST SP 800-38D test case 14 (AES-256, all-zero key, IV and plaintext).
 * const hex = Array.from(sealed, (b) => b.toString(16).padStart(2, "0")).join("");
 * if (hex !== "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919") {
 *   throw new Error("wrong ciphertext");
 * }
 * if (aesGcmOpen(key, nonce, sealed).length !== 16) throw new Error("round trip failed");
 * ```
 */
export function aesGcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad?: Uint8Array,
): Uint8Array<ArrayBuffer> {
  using aead = new AesGcm(key);
  return aead.seal(nonce, plaintext, aad);
}

/**
 * Opens ciphertext ‖ tag sealed by `aesGcmSeal`; throws `AuthenticationError`
 * if it does not verify.
 *
 * @example
 * ```ts
 * import { aesGcmOpen, aesGcmSeal, AuthenticationError } from "../mod.ts";
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * const nonce = crypto.getRandomValues(new Uint8Array(12));
 * const sealed = aesGcmSeal(key, nonce, new Uint8Array([1, 2, 3]), new Uint8Array([9]));
 * try {
 *   aesGcmOpen(key, nonce, sealed, new Uint8Array([8]));
 *   throw new Error("opened with the wrong associated data");
 * } catch (error) {
 *   if (!(error instanceof AuthenticationError)) throw error;
 * }
 * ```
 */
export function aesGcmOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad?: Uint8Array,
): Uint8Array<ArrayBuffer> {
  using aead = new AesGcm(key);
  return aead.open(nonce, sealed, aad);
}
