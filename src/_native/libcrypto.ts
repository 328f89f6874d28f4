// AES-256-GCM through the system's OpenSSL 3 libcrypto (EVP interface), a
// host-native stage beside the WebAssembly kernel (DESIGN.md §2). GCM is
// deterministic, so both seal the same bytes; tests/native_test.ts checks
// that on random messages, and the NIST and Wycheproof vectors run through
// both. OpenSSL's x86-64 GCM uses AES-NI and carry-less multiplication (the
// same hardware path restic's Go and borg's OpenSSL take): constant time,
// 18 times the wasm kernel's sealing speed here. Without those
// instructions OpenSSL would fall back to table lookups, so this stage is
// offered only when the CPU lists both ("aes", "pclmulqdq").
//
// Opening keeps the wasm kernel's contract (src/aead.ts): nothing is
// written to the output unless the tag verifies. OpenSSL only verifies
// after decrypting, so a message is opened twice: first into a scratch
// buffer (wiped afterwards) to learn the verdict, then, only if it holds,
// into the output. The second pass costs less than a tenth of what the wasm
// kernel spends on one. An output no one else reads (`unseen`) is opened
// in one pass instead, and wiped when the tag fails.

import { equalBytes, fromHex, gathered } from "../_bytes.ts";
import { cpuFlags, openLibrary, overlaps } from "./host.ts";

const KIB = 1024;
const TAG_BYTES = 16;
/** OpenSSL 3's GCM takes nonces of 1..128 bytes (GCM_IV_MAX_SIZE); longer ones go to the wasm kernel. */
export const MAX_NATIVE_NONCE_BYTES = 128;
/** Text that would overlap its output unevenly moves through this scratch, a slice at a time. */
const SCRATCH_BYTES = 64 * KIB;

// <openssl/evp.h>
const EVP_CTRL_GCM_SET_IVLEN = 0x9;
const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;
const ENCRYPT = 1;
const DECRYPT = 0;
const KEEP = -1; // EVP_CipherInit_ex: keep the direction set before
const EMPTY = new Uint8Array(0);

const SYMBOLS = {
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  // (ctx, cipher, engine, key, iv, enc)
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // (ctx, type, arg, ptr)
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  // (ctx, out, outl, in, inl): out = NULL feeds associated data
  EVP_CipherUpdate: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  // (ctx, out, outl): for decryption, 1 only when the tag set before verifies
  EVP_CipherFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_sha256: { parameters: [], result: "pointer" },
  EVP_MD_CTX_new: { parameters: [], result: "pointer" },
  EVP_MD_CTX_free: { parameters: ["pointer"], result: "void" },
  // (ctx, md, engine)
  EVP_DigestInit_ex: { parameters: ["pointer", "pointer", "pointer"], result: "i32" },
  EVP_DigestUpdate: { parameters: ["pointer", "buffer", "usize"], result: "i32" },
  // The same, on a thread of Deno's blocking pool (a promise): see nativeSha256Async.
  EVP_DigestUpdate_async: {
    name: "EVP_DigestUpdate",
    parameters: ["pointer", "buffer", "usize"],
    result: "i32",
    nonblocking: true,
  },
  // (ctx, md, size): size may be NULL
  EVP_DigestFinal_ex: { parameters: ["pointer", "buffer", "pointer"], result: "i32" },
} as const;

type Library = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

interface Loaded {
  lib: Library;
  cipher: Deno.PointerValue;
}

let loaded: Loaded | null | undefined;
// A context dropped without `release()` still has its key schedule freed (and wiped).
const orphans = new FinalizationRegistry<{ lib: Library; contexts: Deno.PointerValue[] }>(
  ({ lib, contexts }) => {
    for (const ctx of contexts) if (ctx !== null) lib.EVP_CIPHER_CTX_free(ctx);
  },
);
const outLength = new Int32Array(1);
const scratch = new Uint8Array(SCRATCH_BYTES);
const tagBuffer = new Uint8Array(TAG_BYTES);

function load(): Loaded | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const flags = cpuFlags();
  if (!flags.has("aes") || !flags.has("pclmulqdq")) return null;
  const library = openLibrary("libcrypto.so.3", SYMBOLS);
  if (library === null) return null;
  const candidate = { lib: library.symbols, cipher: library.symbols.EVP_aes_256_gcm() };
  if (candidate.cipher === null || !knownAnswers(candidate)) {
    library.close();
    return null;
  }
  loaded = candidate;
  return loaded;
}

// NIST SP 800-38D test case 15 (AES-256, 64 bytes), as in assembly/self_test.ts.
const KAT_KEY = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
const KAT_NONCE = "cafebabefacedbaddecaf888";
const KAT_PLAINTEXT = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const KAT_SEALED = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad" +
  "b094dac5d93471bdec1a502270e3cc6c";

const KAT_SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

/** The known answers, before any data goes through the library: a seal, an open, a refused flip, a digest. */
function knownAnswers(candidate: Loaded): boolean {
  try {
    const context = new NativeGcmContext(fromHex(KAT_KEY), candidate);
    try {
      const nonce = fromHex(KAT_NONCE);
      const plaintext = fromHex(KAT_PLAINTEXT);
      const sealed = new Uint8Array(plaintext.length + TAG_BYTES);
      context.sealInto(nonce, [plaintext], EMPTY, sealed, 0);
      if (!equalBytes(sealed, fromHex(KAT_SEALED))) return false;
      // Both ways of opening: verified first, and in one pass into a new buffer.
      for (const unseen of [false, true]) {
        const opened = new Uint8Array(plaintext.length);
        if (!context.openInto(nonce, sealed, EMPTY, opened, 0, { unseen })) return false;
        if (!equalBytes(opened, plaintext)) return false;
      }
      // ...and in place, the plaintext landing 13 bytes before its ciphertext (a blob's own buffer).
      const buffer = new Uint8Array(13 + sealed.length);
      buffer.set(sealed, 13);
      if (!context.openInto(nonce, buffer.subarray(13), EMPTY, buffer, 0, { unseen: true })) {
        return false;
      }
      if (!equalBytes(buffer.subarray(0, plaintext.length), plaintext)) return false;
      sealed[sealed.length - 1]! ^= 1;
      for (const unseen of [false, true]) {
        const opened = new Uint8Array(plaintext.length);
        if (context.openInto(nonce, sealed, EMPTY, opened, 0, { unseen })) return false;
        if (opened.some((b) => b !== 0)) return false; // wiped, or never written
      }
      // FIPS 180-4's "abc", in two parts.
      const abc = digestWith(candidate, [new Uint8Array([0x61]), new Uint8Array([0x62, 0x63])]);
      return equalBytes(abc, fromHex(KAT_SHA256_ABC));
    } finally {
      context.release();
    }
  } catch {
    return false;
  }
}

/** SHA-256 of the concatenation of `parts`, on this thread: for the known answer at load. */
function digestWith(candidate: Loaded, parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const { lib } = candidate;
  const context = newDigest(lib);
  try {
    for (const part of parts) {
      if (part.length > 0) check(lib.EVP_DigestUpdate(context, part, BigInt(part.length)), "hash");
    }
    return finishDigest(lib, context);
  } finally {
    lib.EVP_MD_CTX_free(context);
  }
}

/** A SHA-256 context, started; the caller frees it. */
function newDigest(lib: Library): Deno.PointerObject {
  const context = lib.EVP_MD_CTX_new();
  const md = lib.EVP_sha256();
  if (context === null || md === null) throw new Error("Cannot hash: libcrypto has no SHA-256");
  try {
    check(lib.EVP_DigestInit_ex(context, md, null), "hash");
  } catch (error) {
    lib.EVP_MD_CTX_free(context);
    throw error;
  }
  return context;
}

function finishDigest(lib: Library, context: Deno.PointerObject): Uint8Array<ArrayBuffer> {
  const digest = new Uint8Array(32);
  check(lib.EVP_DigestFinal_ex(context, digest, null), "hash");
  return digest;
}

/** Small parts are gathered into this much before each call off the thread. */
const GATHER_BYTES = 1024 * KIB;
/** Gathering buffers not in use, one per pack being named at once. */
const gatherBuffers: Uint8Array[] = [];

/**
 * SHA-256 (FIPS 180-4, SHA-NI where the CPU has it) of the concatenation
 * of `parts`, hashed off the calling thread, or null when libcrypto is not
 * usable here. Pack names (FORMAT.md §9) hash every stored byte, and a
 * backup's main thread is its pipeline's narrowest stage (it walks, answers
 * which chunks are new and packs for every worker): naming packs was the largest thing on it,
 * 0.65 s of a backup of 650 MB of media. Each update runs on a thread of
 * Deno's blocking pool, with a context of its own, so packs may be named
 * at once; small parts (database pages) are gathered first (src/_bytes.ts
 * `gathered`). `parts` must not change until the promise settles.
 */
export async function nativeSha256Async(
  parts: readonly Uint8Array[],
): Promise<Uint8Array<ArrayBuffer> | null> {
  const candidate = load();
  if (candidate === null) return null;
  const { lib } = candidate;
  const context = newDigest(lib);
  // Reused: a megabyte of garbage per pack piled up between collections.
  const staging = gatherBuffers.pop() ?? new Uint8Array(GATHER_BYTES);
  try {
    await gathered(parts, staging, async (bytes) => {
      check(await lib.EVP_DigestUpdate_async(context, bytes, BigInt(bytes.length)), "hash");
    });
    return finishDigest(lib, context);
  } finally {
    lib.EVP_MD_CTX_free(context);
    gatherBuffers.push(staging);
  }
}

/** True when libcrypto's AES-256-GCM is usable here (loads it on first call). */
export function nativeGcmAvailable(): boolean {
  return load() !== null;
}

function check(result: number, action: string): void {
  if (result !== 1) throw new Error(`Cannot ${action}: libcrypto refused it`);
}

/**
 * An AES-256-GCM key held in two OpenSSL contexts (one per direction), with
 * the wasm kernel's `GcmContext` methods. src/aead.ts validates arguments
 * and sends nonces over `MAX_NATIVE_NONCE_BYTES` to the wasm kernel.
 */
export class NativeGcmContext {
  readonly #lib: Library;
  #seal: Deno.PointerValue;
  #open: Deno.PointerValue;
  #nonceBytes = [12, 12];

  /** Expects `nativeGcmAvailable()` to have returned true (or the loader's candidate). */
  constructor(key: Uint8Array, candidate: Loaded | null = load()) {
    if (candidate === null) {
      throw new Error("Cannot set the AES-GCM key: libcrypto is not available");
    }
    this.#lib = candidate.lib;
    this.#seal = this.#lib.EVP_CIPHER_CTX_new();
    this.#open = this.#lib.EVP_CIPHER_CTX_new();
    try {
      if (this.#seal === null || this.#open === null) throw new Error("out of memory");
      // The key schedule lives in OpenSSL's memory from here; EVP_CIPHER_CTX_free wipes it.
      check(
        this.#lib.EVP_CipherInit_ex(this.#seal, candidate.cipher, null, key, null, ENCRYPT),
        "set the AES-GCM key",
      );
      check(
        this.#lib.EVP_CipherInit_ex(this.#open, candidate.cipher, null, key, null, DECRYPT),
        "set the AES-GCM key",
      );
    } catch (error) {
      this.release();
      throw error;
    }
    orphans.register(this, { lib: this.#lib, contexts: [this.#seal, this.#open] }, this);
  }

  /**
   * Verifies ciphertext ‖ tag and only then decrypts it into `out` at
   * `offset`; false (and nothing written) when the tag does not verify. As
   * with the wasm kernel, the plaintext may land at or before its
   * ciphertext in one buffer.
   *
   * OpenSSL gives its verdict only after decrypting, so this reads the
   * ciphertext twice. `unseen`: no one else reads `out` until this returns
   * (AesGcm.open's new buffer, or a blob's own buffer opened in place), so
   * the plaintext goes straight into it, in one pass, and is wiped if the
   * tag fails (`deno bench`, open 1 MiB pieces: 1650 → 2700 MB/s; 64 KiB:
   * 41 → 25 µs).
   */
  openInto(
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad: Uint8Array,
    out: Uint8Array,
    offset: number,
    options: { unseen?: boolean } = {},
  ): boolean {
    const ctx = this.#live(this.#open);
    const length = sealed.length - TAG_BYTES;
    const ciphertext = sealed.subarray(0, length);
    const plaintext = out.subarray(offset, offset + length);
    // One pass is safe when writing the plaintext never reaches ciphertext
    // still unread: apart from it, or at or before it in the same buffer.
    const behind = ciphertext.buffer === plaintext.buffer &&
      plaintext.byteOffset <= ciphertext.byteOffset;
    if (options.unseen && (behind || !overlaps(ciphertext, plaintext))) {
      this.#begin(ctx, 1, nonce, aad);
      // Through the scratch a slice at a time where they overlap unevenly,
      // each slice landing over ciphertext already read.
      this.#transform(ctx, ciphertext, plaintext);
      if (this.#verdict(ctx, sealed.subarray(length))) return true;
      plaintext.fill(0);
      return false;
    }
    // Pass 1: the verdict, the plaintext going to the scratch and then wiped.
    this.#begin(ctx, 1, nonce, aad);
    let verified: boolean;
    try {
      for (let at = 0; at < length; at += SCRATCH_BYTES) {
        const n = Math.min(SCRATCH_BYTES, length - at);
        this.#update(ctx, scratch, ciphertext.subarray(at, at + n));
      }
      verified = this.#verdict(ctx, sealed.subarray(length));
    } finally {
      scratch.fill(0, 0, Math.min(length, SCRATCH_BYTES));
    }
    if (!verified) return false;
    // Pass 2: the same keystream again, into the output (no tag to check).
    this.#begin(ctx, 1, nonce, EMPTY);
    this.#transform(ctx, ciphertext, plaintext);
    return true;
  }

  /**
   * Encrypts the concatenation of `parts` into `out` at `offset`
   * (ciphertext ‖ tag); returns the bytes written. A part may be the very
   * bytes its ciphertext replaces (a blob sealed in place), or lie after
   * them.
   */
  sealInto(
    nonce: Uint8Array,
    parts: readonly Uint8Array[],
    aad: Uint8Array,
    out: Uint8Array,
    offset: number,
  ): number {
    const ctx = this.#live(this.#seal);
    // src/aead.ts has checked that ciphertext and tag fit `out` at `offset`.
    this.#begin(ctx, 0, nonce, aad);
    let written = offset;
    for (const part of parts) {
      this.#transform(ctx, part, out.subarray(written, written + part.length));
      written += part.length;
    }
    check(this.#lib.EVP_CipherFinal_ex(ctx, scratch, outLength), "seal");
    check(this.#lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, tagBuffer), "seal");
    out.set(tagBuffer, written);
    tagBuffer.fill(0);
    return written + TAG_BYTES - offset;
  }

  /** Frees both contexts; OpenSSL wipes the key schedules as it does. */
  release(): void {
    orphans.unregister(this);
    if (this.#seal !== null) this.#lib.EVP_CIPHER_CTX_free(this.#seal);
    if (this.#open !== null) this.#lib.EVP_CIPHER_CTX_free(this.#open);
    this.#seal = null;
    this.#open = null;
  }

  /** Starts a message in `ctx` (`which`: 0 seal, 1 open): nonce length, nonce, then the AAD. */
  #begin(ctx: Deno.PointerObject, which: 0 | 1, nonce: Uint8Array, aad: Uint8Array): void {
    if (this.#nonceBytes[which] !== nonce.length) {
      check(
        this.#lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, nonce.length, null),
        "start an AES-GCM message",
      );
      this.#nonceBytes[which] = nonce.length;
    }
    check(
      this.#lib.EVP_CipherInit_ex(ctx, null, null, null, nonce, KEEP),
      "start an AES-GCM message",
    );
    if (aad.length > 0) {
      check(
        this.#lib.EVP_CipherUpdate(ctx, null, outLength, aad, aad.length),
        "authenticate the associated data",
      );
    }
  }

  /** Checks `tag` against the message `ctx` has decrypted: true when it verifies. */
  #verdict(ctx: Deno.PointerObject, tag: Uint8Array): boolean {
    tagBuffer.set(tag);
    try {
      check(this.#lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tagBuffer), "open");
      return this.#lib.EVP_CipherFinal_ex(ctx, scratch, outLength) === 1;
    } finally {
      tagBuffer.fill(0);
    }
  }

  /** One update of `input.length` bytes into `output` (OpenSSL writes as much as it reads, in GCM). */
  #update(ctx: Deno.PointerObject, output: Uint8Array, input: Uint8Array): void {
    if (input.length === 0) return;
    check(this.#lib.EVP_CipherUpdate(ctx, output, outLength, input, input.length), "run AES-GCM");
  }

  /**
   * `input` through the cipher into `output` (of the same length): in one
   * call when the two are the same bytes or apart, which OpenSSL allows;
   * through the scratch a slice at a time when they overlap unevenly.
   */
  #transform(ctx: Deno.PointerObject, input: Uint8Array, output: Uint8Array): void {
    const aliased = input.buffer === output.buffer && input.byteOffset === output.byteOffset;
    if (aliased || !overlaps(input, output)) {
      this.#update(ctx, output, input);
      return;
    }
    try {
      for (let at = 0; at < input.length; at += SCRATCH_BYTES) {
        const n = Math.min(SCRATCH_BYTES, input.length - at);
        this.#update(ctx, scratch, input.subarray(at, at + n));
        output.set(scratch.subarray(0, n), at);
      }
    } finally {
      scratch.fill(0);
    }
  }

  #live(ctx: Deno.PointerValue): Deno.PointerObject {
    if (ctx === null) throw new TypeError("Cannot use the AES-GCM key: it was released");
    return ctx;
  }
}
