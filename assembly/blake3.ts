// BLAKE3 in keyed-hash mode (O'Connor, Aumasson, Neves, Wilcox-O'Hearn,
// "BLAKE3: one function, fast everywhere", 2020, §2 and §5), 32-byte output:
// the chunk ids and blob nonces of FORMAT.md §8.1-§8.2. hash-wasm's BLAKE3
// stays the reference (src/chunk_id.ts); this kernel must give the same bytes
// (tests/chunk_id_test.ts) and exists for speed: hash-wasm is BLAKE3's portable
// C, one block at a time (about 670 MB/s here), while this one compresses
// four chunks at once, one per 32-bit lane of a v128, as the reference's
// SSE4.1 code does (BLAKE3 paper §5.3, "multiple chunks in parallel").
//
// A context (`b3_context_bytes()`, from `alloc`) holds the key, the chaining
// values of completed subtrees (the paper's CV stack, §5.1.2) and up to four
// chunks of pending input. Input is hashed four chunks at a time only when
// more input is known to follow, because the last chunk of a message is
// compressed differently when it is the root (a message of at most one
// chunk); `b3_finish` hashes what is pending. There are no branches or memory
// indices that depend on the key or the data, only on lengths.

import { STATUS_BAD_ARGUMENT, STATUS_OK } from "./status";

const CHUNK_BYTES: u32 = 1024;
const BLOCK_BYTES: u32 = 64;
/** Four chunks: what the four-lane kernel consumes at once. */
const GROUP_BYTES: u32 = 4 * CHUNK_BYTES;
/** 54 entries hold the subtrees of any message below 2^64 bytes (paper §5.1.2). */
const MAX_DEPTH: u32 = 54;

// Domain flags (paper Table 3).
const CHUNK_START: u32 = 1;
const CHUNK_END: u32 = 2;
const PARENT: u32 = 4;
const ROOT: u32 = 8;
const KEYED_HASH: u32 = 16;

// IV (paper §2.2): SHA-256's initial hash value.
const IV0: u32 = 0x6a09e667;
const IV1: u32 = 0xbb67ae85;
const IV2: u32 = 0x3c6ef372;
const IV3: u32 = 0xa54ff53a;

// Context layout (bytes).
const CTX_KEY: usize = 0; // 8 × u32: the key words, each message's first chaining value
const CTX_KEYED: usize = 32; // u32: KEYED once b3_init has run
const CTX_STACK_LEN: usize = 36; // u32: entries on the CV stack
const CTX_CHUNKS: usize = 40; // u64: chunks hashed so far (the next chunk's counter)
const CTX_PENDING: usize = 48; // u32: bytes waiting in CTX_BUFFER
const CTX_BLOCK: usize = 64; // 64 bytes: a zero-padded last block, or a parent's two CVs
const CTX_MSG: usize = 128; // 16 × v128: one block of four chunks, word j of each in lane order
const CTX_CVS: usize = 384; // 4 × 32 bytes: the four-lane kernel's chaining values
const CTX_CV: usize = 512; // 32 bytes: a chaining value on its way to the stack
const CTX_STACK: usize = 544; // MAX_DEPTH × 32 bytes
const CTX_BUFFER: usize = CTX_STACK + <usize>MAX_DEPTH * 32; // GROUP_BYTES of pending input
const CONTEXT_BYTES: u32 = <u32>CTX_BUFFER + GROUP_BYTES;
/** CTX_KEYED's value in a keyed context ("B3ky"): a zeroed region has no key. */
const KEYED: u32 = 0x796b3342;

/** Bytes the host must `alloc` for one BLAKE3 context. */
export function b3_context_bytes(): u32 {
  return CONTEXT_BYTES;
}

/**
 * Keys the context with the 32 bytes at `key` (the context keeps a copy:
 * `wipe` it when done) and starts a message. Always STATUS_OK.
 */
export function b3_init(ctx: usize, key: usize): i32 {
  // The region may hold anything (another context, a reused buffer): clear it all.
  memory.fill(ctx, 0, CONTEXT_BYTES);
  memory.copy(ctx + CTX_KEY, key, 32);
  store<u32>(ctx + CTX_KEYED, KEYED);
  return STATUS_OK;
}

/**
 * Adds the `len` bytes at `ptr` to the message. STATUS_BAD_ARGUMENT (and
 * nothing done) for a context without a key.
 */
export function b3_update(ctx: usize, ptr: usize, len: u32): i32 {
  let pending = load<u32>(ctx + CTX_PENDING);
  if (load<u32>(ctx + CTX_KEYED) != KEYED || pending > GROUP_BYTES) return STATUS_BAD_ARGUMENT;
  while (len > 0) {
    if (pending == GROUP_BYTES) {
      // Full, and more input follows: none of these chunks is the root.
      group(ctx, ctx + CTX_BUFFER, 4);
      pending = 0;
    }
    if (pending == 0) {
      // Straight from the input while more than a group remains.
      while (len > GROUP_BYTES) {
        group(ctx, ptr, 4);
        ptr += GROUP_BYTES;
        len -= GROUP_BYTES;
      }
    }
    const take = min(GROUP_BYTES - pending, len);
    memory.copy(ctx + CTX_BUFFER + pending, ptr, take);
    pending += take;
    ptr += take;
    len -= take;
  }
  store<u32>(ctx + CTX_PENDING, pending);
  return STATUS_OK;
}

/**
 * Writes the message's 32-byte keyed hash at `out` and starts the next
 * message under the same key. STATUS_BAD_ARGUMENT for a context without a key.
 */
export function b3_finish(ctx: usize, out: usize): i32 {
  const pending = load<u32>(ctx + CTX_PENDING);
  if (load<u32>(ctx + CTX_KEYED) != KEYED || pending > GROUP_BYTES) return STATUS_BAD_ARGUMENT;
  const buffer = ctx + CTX_BUFFER;
  if (load<u64>(ctx + CTX_CHUNKS) == 0 && pending <= CHUNK_BYTES) {
    // One chunk (perhaps empty): it is the root.
    chunk(ctx, buffer, pending, 0, ROOT, out);
  } else {
    // Every pending chunk is a leaf; the last one's chaining value is merged
    // up the stack, and the last merge is the root (paper §5.1.2).
    const last = ctx + CTX_CV;
    if (pending == GROUP_BYTES) {
      group(ctx, buffer, 3);
      memory.copy(last, ctx + CTX_CVS + 96, 32);
    } else {
      let at: u32 = 0;
      while (pending - at > CHUNK_BYTES) {
        chunk(ctx, buffer + at, CHUNK_BYTES, load<u64>(ctx + CTX_CHUNKS), 0, last);
        pushChunk(ctx, last);
        at += CHUNK_BYTES;
      }
      chunk(ctx, buffer + at, pending - at, load<u64>(ctx + CTX_CHUNKS), 0, last);
    }
    let depth = load<u32>(ctx + CTX_STACK_LEN);
    while (depth > 1) {
      depth--;
      parent(ctx, ctx + CTX_STACK + <usize>depth * 32, last, 0, last);
    }
    parent(ctx, ctx + CTX_STACK, last, ROOT, out);
  }
  reset(ctx);
  return STATUS_OK;
}

/** Forgets the message (the pending bytes are zeroed); keeps the key. */
function reset(ctx: usize): void {
  memory.fill(ctx + CTX_BUFFER, 0, load<u32>(ctx + CTX_PENDING));
  memory.fill(ctx + CTX_BLOCK, 0, <usize>(CTX_STACK - CTX_BLOCK) + <usize>MAX_DEPTH * 32);
  store<u32>(ctx + CTX_STACK_LEN, 0);
  store<u64>(ctx + CTX_CHUNKS, 0);
  store<u32>(ctx + CTX_PENDING, 0);
}

/**
 * Pushes the chaining value at `cv` of the chunk just hashed (counted in
 * CTX_CHUNKS), first merging every pair of subtrees it completes: the
 * reference implementation's `add_chunk_chaining_value` (paper §5.1.2).
 * `cv` is overwritten.
 */
function pushChunk(ctx: usize, cv: usize): void {
  let total = load<u64>(ctx + CTX_CHUNKS) + 1;
  store<u64>(ctx + CTX_CHUNKS, total);
  let depth = load<u32>(ctx + CTX_STACK_LEN);
  while ((total & 1) == 0) {
    depth--;
    parent(ctx, ctx + CTX_STACK + <usize>depth * 32, cv, 0, cv);
    total >>= 1;
  }
  memory.copy(ctx + CTX_STACK + <usize>depth * 32, cv, 32);
  store<u32>(ctx + CTX_STACK_LEN, depth + 1);
}

/** The chaining value (or, with ROOT, the hash) of a parent: `left` ‖ `right`. */
function parent(ctx: usize, left: usize, right: usize, flags: u32, out: usize): void {
  const block = ctx + CTX_BLOCK;
  memory.copy(block, left, 32);
  memory.copy(block + 32, right, 32);
  compress(ctx + CTX_KEY, block, 0, BLOCK_BYTES, KEYED_HASH | PARENT | flags, out);
}

/**
 * The chaining value of one chunk of `len` bytes (at most CHUNK_BYTES; 0
 * only for the empty message) at `ptr`, with counter `counter`, written at
 * `out`; `root` (0 or ROOT) marks its last block as the root.
 */
function chunk(ctx: usize, ptr: usize, len: u32, counter: u64, root: u32, out: usize): void {
  memory.copy(out, ctx + CTX_KEY, 32);
  let flags = KEYED_HASH | CHUNK_START;
  let left = len;
  while (left > BLOCK_BYTES) {
    compress(out, ptr, counter, BLOCK_BYTES, flags, out);
    flags = KEYED_HASH;
    ptr += BLOCK_BYTES;
    left -= BLOCK_BYTES;
  }
  const block = ctx + CTX_BLOCK;
  memory.fill(block, 0, BLOCK_BYTES);
  memory.copy(block, ptr, left);
  compress(out, block, counter, left, flags | CHUNK_END | root, out);
}

// Both kernels are unrolled: each round's message words are named directly,
// in the order the schedule gives (paper §2.2: round r + 1 reads the words
// of round r permuted by 2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15,
// 8). Measured in Deno 2.9 (V8): the four-lane kernel went from 1.38 to
// 1.52 GB/s, the one-block one from 105 to 84 ns a block, against loops over
// a schedule table.

/**
 * The compression function (paper §2.2), truncated to its first eight
 * output words: the chaining value at `cv`, the 64-byte block at `block`,
 * written at `out` (which may be `cv`).
 */
function compress(cv: usize, block: usize, counter: u64, len: u32, flags: u32, out: usize): void {
  let v0 = load<u32>(cv, 0);
  let v1 = load<u32>(cv, 4);
  let v2 = load<u32>(cv, 8);
  let v3 = load<u32>(cv, 12);
  let v4 = load<u32>(cv, 16);
  let v5 = load<u32>(cv, 20);
  let v6 = load<u32>(cv, 24);
  let v7 = load<u32>(cv, 28);
  let v8 = IV0;
  let v9 = IV1;
  let v10 = IV2;
  let v11 = IV3;
  let v12 = <u32>counter;
  let v13 = <u32>(counter >> 32);
  let v14 = len;
  let v15 = flags;
  const m0 = load<u32>(block, 0);
  const m1 = load<u32>(block, 4);
  const m2 = load<u32>(block, 8);
  const m3 = load<u32>(block, 12);
  const m4 = load<u32>(block, 16);
  const m5 = load<u32>(block, 20);
  const m6 = load<u32>(block, 24);
  const m7 = load<u32>(block, 28);
  const m8 = load<u32>(block, 32);
  const m9 = load<u32>(block, 36);
  const m10 = load<u32>(block, 40);
  const m11 = load<u32>(block, 44);
  const m12 = load<u32>(block, 48);
  const m13 = load<u32>(block, 52);
  const m14 = load<u32>(block, 56);
  const m15 = load<u32>(block, 60);
  // Round 1
  // G(0, 4, 8, 12)
  v0 += v4 + m0;
  v12 = rotr<u32>(v12 ^ v0, 16);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 12);
  v0 += v4 + m1;
  v12 = rotr<u32>(v12 ^ v0, 8);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 7);
  // G(1, 5, 9, 13)
  v1 += v5 + m2;
  v13 = rotr<u32>(v13 ^ v1, 16);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 12);
  v1 += v5 + m3;
  v13 = rotr<u32>(v13 ^ v1, 8);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 7);
  // G(2, 6, 10, 14)
  v2 += v6 + m4;
  v14 = rotr<u32>(v14 ^ v2, 16);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 12);
  v2 += v6 + m5;
  v14 = rotr<u32>(v14 ^ v2, 8);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 7);
  // G(3, 7, 11, 15)
  v3 += v7 + m6;
  v15 = rotr<u32>(v15 ^ v3, 16);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 12);
  v3 += v7 + m7;
  v15 = rotr<u32>(v15 ^ v3, 8);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 7);
  // G(0, 5, 10, 15)
  v0 += v5 + m8;
  v15 = rotr<u32>(v15 ^ v0, 16);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 12);
  v0 += v5 + m9;
  v15 = rotr<u32>(v15 ^ v0, 8);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 7);
  // G(1, 6, 11, 12)
  v1 += v6 + m10;
  v12 = rotr<u32>(v12 ^ v1, 16);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 12);
  v1 += v6 + m11;
  v12 = rotr<u32>(v12 ^ v1, 8);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 7);
  // G(2, 7, 8, 13)
  v2 += v7 + m12;
  v13 = rotr<u32>(v13 ^ v2, 16);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 12);
  v2 += v7 + m13;
  v13 = rotr<u32>(v13 ^ v2, 8);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 7);
  // G(3, 4, 9, 14)
  v3 += v4 + m14;
  v14 = rotr<u32>(v14 ^ v3, 16);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 12);
  v3 += v4 + m15;
  v14 = rotr<u32>(v14 ^ v3, 8);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 7);

  // Round 2
  // G(0, 4, 8, 12)
  v0 += v4 + m2;
  v12 = rotr<u32>(v12 ^ v0, 16);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 12);
  v0 += v4 + m6;
  v12 = rotr<u32>(v12 ^ v0, 8);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 7);
  // G(1, 5, 9, 13)
  v1 += v5 + m3;
  v13 = rotr<u32>(v13 ^ v1, 16);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 12);
  v1 += v5 + m10;
  v13 = rotr<u32>(v13 ^ v1, 8);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 7);
  // G(2, 6, 10, 14)
  v2 += v6 + m7;
  v14 = rotr<u32>(v14 ^ v2, 16);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 12);
  v2 += v6 + m0;
  v14 = rotr<u32>(v14 ^ v2, 8);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 7);
  // G(3, 7, 11, 15)
  v3 += v7 + m4;
  v15 = rotr<u32>(v15 ^ v3, 16);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 12);
  v3 += v7 + m13;
  v15 = rotr<u32>(v15 ^ v3, 8);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 7);
  // G(0, 5, 10, 15)
  v0 += v5 + m1;
  v15 = rotr<u32>(v15 ^ v0, 16);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 12);
  v0 += v5 + m11;
  v15 = rotr<u32>(v15 ^ v0, 8);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 7);
  // G(1, 6, 11, 12)
  v1 += v6 + m12;
  v12 = rotr<u32>(v12 ^ v1, 16);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 12);
  v1 += v6 + m5;
  v12 = rotr<u32>(v12 ^ v1, 8);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 7);
  // G(2, 7, 8, 13)
  v2 += v7 + m9;
  v13 = rotr<u32>(v13 ^ v2, 16);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 12);
  v2 += v7 + m14;
  v13 = rotr<u32>(v13 ^ v2, 8);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 7);
  // G(3, 4, 9, 14)
  v3 += v4 + m15;
  v14 = rotr<u32>(v14 ^ v3, 16);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 12);
  v3 += v4 + m8;
  v14 = rotr<u32>(v14 ^ v3, 8);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 7);

  // Round 3
  // G(0, 4, 8, 12)
  v0 += v4 + m3;
  v12 = rotr<u32>(v12 ^ v0, 16);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 12);
  v0 += v4 + m4;
  v12 = rotr<u32>(v12 ^ v0, 8);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 7);
  // G(1, 5, 9, 13)
  v1 += v5 + m10;
  v13 = rotr<u32>(v13 ^ v1, 16);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 12);
  v1 += v5 + m12;
  v13 = rotr<u32>(v13 ^ v1, 8);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 7);
  // G(2, 6, 10, 14)
  v2 += v6 + m13;
  v14 = rotr<u32>(v14 ^ v2, 16);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 12);
  v2 += v6 + m2;
  v14 = rotr<u32>(v14 ^ v2, 8);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 7);
  // G(3, 7, 11, 15)
  v3 += v7 + m7;
  v15 = rotr<u32>(v15 ^ v3, 16);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 12);
  v3 += v7 + m14;
  v15 = rotr<u32>(v15 ^ v3, 8);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 7);
  // G(0, 5, 10, 15)
  v0 += v5 + m6;
  v15 = rotr<u32>(v15 ^ v0, 16);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 12);
  v0 += v5 + m5;
  v15 = rotr<u32>(v15 ^ v0, 8);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 7);
  // G(1, 6, 11, 12)
  v1 += v6 + m9;
  v12 = rotr<u32>(v12 ^ v1, 16);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 12);
  v1 += v6 + m0;
  v12 = rotr<u32>(v12 ^ v1, 8);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 7);
  // G(2, 7, 8, 13)
  v2 += v7 + m11;
  v13 = rotr<u32>(v13 ^ v2, 16);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 12);
  v2 += v7 + m15;
  v13 = rotr<u32>(v13 ^ v2, 8);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 7);
  // G(3, 4, 9, 14)
  v3 += v4 + m8;
  v14 = rotr<u32>(v14 ^ v3, 16);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 12);
  v3 += v4 + m1;
  v14 = rotr<u32>(v14 ^ v3, 8);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 7);

  // Round 4
  // G(0, 4, 8, 12)
  v0 += v4 + m10;
  v12 = rotr<u32>(v12 ^ v0, 16);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 12);
  v0 += v4 + m7;
  v12 = rotr<u32>(v12 ^ v0, 8);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 7);
  // G(1, 5, 9, 13)
  v1 += v5 + m12;
  v13 = rotr<u32>(v13 ^ v1, 16);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 12);
  v1 += v5 + m9;
  v13 = rotr<u32>(v13 ^ v1, 8);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 7);
  // G(2, 6, 10, 14)
  v2 += v6 + m14;
  v14 = rotr<u32>(v14 ^ v2, 16);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 12);
  v2 += v6 + m3;
  v14 = rotr<u32>(v14 ^ v2, 8);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 7);
  // G(3, 7, 11, 15)
  v3 += v7 + m13;
  v15 = rotr<u32>(v15 ^ v3, 16);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 12);
  v3 += v7 + m15;
  v15 = rotr<u32>(v15 ^ v3, 8);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 7);
  // G(0, 5, 10, 15)
  v0 += v5 + m4;
  v15 = rotr<u32>(v15 ^ v0, 16);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 12);
  v0 += v5 + m0;
  v15 = rotr<u32>(v15 ^ v0, 8);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 7);
  // G(1, 6, 11, 12)
  v1 += v6 + m11;
  v12 = rotr<u32>(v12 ^ v1, 16);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 12);
  v1 += v6 + m2;
  v12 = rotr<u32>(v12 ^ v1, 8);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 7);
  // G(2, 7, 8, 13)
  v2 += v7 + m5;
  v13 = rotr<u32>(v13 ^ v2, 16);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 12);
  v2 += v7 + m8;
  v13 = rotr<u32>(v13 ^ v2, 8);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 7);
  // G(3, 4, 9, 14)
  v3 += v4 + m1;
  v14 = rotr<u32>(v14 ^ v3, 16);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 12);
  v3 += v4 + m6;
  v14 = rotr<u32>(v14 ^ v3, 8);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 7);

  // Round 5
  // G(0, 4, 8, 12)
  v0 += v4 + m12;
  v12 = rotr<u32>(v12 ^ v0, 16);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 12);
  v0 += v4 + m13;
  v12 = rotr<u32>(v12 ^ v0, 8);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 7);
  // G(1, 5, 9, 13)
  v1 += v5 + m9;
  v13 = rotr<u32>(v13 ^ v1, 16);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 12);
  v1 += v5 + m11;
  v13 = rotr<u32>(v13 ^ v1, 8);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 7);
  // G(2, 6, 10, 14)
  v2 += v6 + m15;
  v14 = rotr<u32>(v14 ^ v2, 16);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 12);
  v2 += v6 + m10;
  v14 = rotr<u32>(v14 ^ v2, 8);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 7);
  // G(3, 7, 11, 15)
  v3 += v7 + m14;
  v15 = rotr<u32>(v15 ^ v3, 16);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 12);
  v3 += v7 + m8;
  v15 = rotr<u32>(v15 ^ v3, 8);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 7);
  // G(0, 5, 10, 15)
  v0 += v5 + m7;
  v15 = rotr<u32>(v15 ^ v0, 16);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 12);
  v0 += v5 + m2;
  v15 = rotr<u32>(v15 ^ v0, 8);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 7);
  // G(1, 6, 11, 12)
  v1 += v6 + m5;
  v12 = rotr<u32>(v12 ^ v1, 16);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 12);
  v1 += v6 + m3;
  v12 = rotr<u32>(v12 ^ v1, 8);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 7);
  // G(2, 7, 8, 13)
  v2 += v7 + m0;
  v13 = rotr<u32>(v13 ^ v2, 16);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 12);
  v2 += v7 + m1;
  v13 = rotr<u32>(v13 ^ v2, 8);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 7);
  // G(3, 4, 9, 14)
  v3 += v4 + m6;
  v14 = rotr<u32>(v14 ^ v3, 16);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 12);
  v3 += v4 + m4;
  v14 = rotr<u32>(v14 ^ v3, 8);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 7);

  // Round 6
  // G(0, 4, 8, 12)
  v0 += v4 + m9;
  v12 = rotr<u32>(v12 ^ v0, 16);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 12);
  v0 += v4 + m14;
  v12 = rotr<u32>(v12 ^ v0, 8);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 7);
  // G(1, 5, 9, 13)
  v1 += v5 + m11;
  v13 = rotr<u32>(v13 ^ v1, 16);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 12);
  v1 += v5 + m5;
  v13 = rotr<u32>(v13 ^ v1, 8);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 7);
  // G(2, 6, 10, 14)
  v2 += v6 + m8;
  v14 = rotr<u32>(v14 ^ v2, 16);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 12);
  v2 += v6 + m12;
  v14 = rotr<u32>(v14 ^ v2, 8);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 7);
  // G(3, 7, 11, 15)
  v3 += v7 + m15;
  v15 = rotr<u32>(v15 ^ v3, 16);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 12);
  v3 += v7 + m1;
  v15 = rotr<u32>(v15 ^ v3, 8);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 7);
  // G(0, 5, 10, 15)
  v0 += v5 + m13;
  v15 = rotr<u32>(v15 ^ v0, 16);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 12);
  v0 += v5 + m3;
  v15 = rotr<u32>(v15 ^ v0, 8);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 7);
  // G(1, 6, 11, 12)
  v1 += v6 + m0;
  v12 = rotr<u32>(v12 ^ v1, 16);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 12);
  v1 += v6 + m10;
  v12 = rotr<u32>(v12 ^ v1, 8);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 7);
  // G(2, 7, 8, 13)
  v2 += v7 + m2;
  v13 = rotr<u32>(v13 ^ v2, 16);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 12);
  v2 += v7 + m6;
  v13 = rotr<u32>(v13 ^ v2, 8);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 7);
  // G(3, 4, 9, 14)
  v3 += v4 + m4;
  v14 = rotr<u32>(v14 ^ v3, 16);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 12);
  v3 += v4 + m7;
  v14 = rotr<u32>(v14 ^ v3, 8);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 7);

  // Round 7
  // G(0, 4, 8, 12)
  v0 += v4 + m11;
  v12 = rotr<u32>(v12 ^ v0, 16);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 12);
  v0 += v4 + m15;
  v12 = rotr<u32>(v12 ^ v0, 8);
  v8 += v12;
  v4 = rotr<u32>(v4 ^ v8, 7);
  // G(1, 5, 9, 13)
  v1 += v5 + m5;
  v13 = rotr<u32>(v13 ^ v1, 16);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 12);
  v1 += v5 + m0;
  v13 = rotr<u32>(v13 ^ v1, 8);
  v9 += v13;
  v5 = rotr<u32>(v5 ^ v9, 7);
  // G(2, 6, 10, 14)
  v2 += v6 + m1;
  v14 = rotr<u32>(v14 ^ v2, 16);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 12);
  v2 += v6 + m9;
  v14 = rotr<u32>(v14 ^ v2, 8);
  v10 += v14;
  v6 = rotr<u32>(v6 ^ v10, 7);
  // G(3, 7, 11, 15)
  v3 += v7 + m8;
  v15 = rotr<u32>(v15 ^ v3, 16);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 12);
  v3 += v7 + m6;
  v15 = rotr<u32>(v15 ^ v3, 8);
  v11 += v15;
  v7 = rotr<u32>(v7 ^ v11, 7);
  // G(0, 5, 10, 15)
  v0 += v5 + m14;
  v15 = rotr<u32>(v15 ^ v0, 16);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 12);
  v0 += v5 + m10;
  v15 = rotr<u32>(v15 ^ v0, 8);
  v10 += v15;
  v5 = rotr<u32>(v5 ^ v10, 7);
  // G(1, 6, 11, 12)
  v1 += v6 + m2;
  v12 = rotr<u32>(v12 ^ v1, 16);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 12);
  v1 += v6 + m12;
  v12 = rotr<u32>(v12 ^ v1, 8);
  v11 += v12;
  v6 = rotr<u32>(v6 ^ v11, 7);
  // G(2, 7, 8, 13)
  v2 += v7 + m3;
  v13 = rotr<u32>(v13 ^ v2, 16);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 12);
  v2 += v7 + m4;
  v13 = rotr<u32>(v13 ^ v2, 8);
  v8 += v13;
  v7 = rotr<u32>(v7 ^ v8, 7);
  // G(3, 4, 9, 14)
  v3 += v4 + m7;
  v14 = rotr<u32>(v14 ^ v3, 16);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 12);
  v3 += v4 + m13;
  v14 = rotr<u32>(v14 ^ v3, 8);
  v9 += v14;
  v4 = rotr<u32>(v4 ^ v9, 7);

  store<u32>(out, v0 ^ v8, 0);
  store<u32>(out, v1 ^ v9, 4);
  store<u32>(out, v2 ^ v10, 8);
  store<u32>(out, v3 ^ v11, 12);
  store<u32>(out, v4 ^ v12, 16);
  store<u32>(out, v5 ^ v13, 20);
  store<u32>(out, v6 ^ v14, 24);
  store<u32>(out, v7 ^ v15, 28);
}

// Rotations of each 32-bit lane right by 16, 12, 8 and 7 bits (the G
// function's). 16 and 8 are whole bytes, so one byte shuffle each.
@inline
function rot16(x: v128): v128 {
  return i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
@inline
function rot12(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 12), i32x4.shl(x, 20));
}
@inline
function rot8(x: v128): v128 {
  return i8x16.shuffle(x, x, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12);
}
@inline
function rot7(x: v128): v128 {
  return v128.or(i32x4.shr_u(x, 7), i32x4.shl(x, 25));
}

/**
 * Hashes the four whole chunks at `ptr` (GROUP_BYTES), the next four of the
 * message, into CTX_CVS, and pushes the first `push` chaining values: 4, or
 * 3 when the fourth chunk ends the message (b3_finish merges it itself, as
 * the root's child: an eager merge would miss the ROOT flag).
 */
function group(ctx: usize, ptr: usize, push: u32): void {
  const counter = load<u64>(ctx + CTX_CHUNKS);
  let counterLo = i32x4.splat(<i32>counter);
  counterLo = i32x4.replace_lane(counterLo, 1, <i32>(counter + 1));
  counterLo = i32x4.replace_lane(counterLo, 2, <i32>(counter + 2));
  counterLo = i32x4.replace_lane(counterLo, 3, <i32>(counter + 3));
  let counterHi = i32x4.splat(<i32>(counter >> 32));
  counterHi = i32x4.replace_lane(counterHi, 1, <i32>((counter + 1) >> 32));
  counterHi = i32x4.replace_lane(counterHi, 2, <i32>((counter + 2) >> 32));
  counterHi = i32x4.replace_lane(counterHi, 3, <i32>((counter + 3) >> 32));
  const key = ctx + CTX_KEY;
  let h0 = i32x4.splat(load<i32>(key, 0));
  let h1 = i32x4.splat(load<i32>(key, 4));
  let h2 = i32x4.splat(load<i32>(key, 8));
  let h3 = i32x4.splat(load<i32>(key, 12));
  let h4 = i32x4.splat(load<i32>(key, 16));
  let h5 = i32x4.splat(load<i32>(key, 20));
  let h6 = i32x4.splat(load<i32>(key, 24));
  let h7 = i32x4.splat(load<i32>(key, 28));
  const msg = ctx + CTX_MSG;
  for (let b: u32 = 0; b < 16; b++) {
    // Word j of this block of each chunk, one chunk per lane.
    const p = ptr + <usize>(b * BLOCK_BYTES);
    for (let q: usize = 0; q < 64; q += 16) {
      transposeStore(
        v128.load(p + q),
        v128.load(p + CHUNK_BYTES + q),
        v128.load(p + 2 * CHUNK_BYTES + q),
        v128.load(p + 3 * CHUNK_BYTES + q),
        msg + (q << 2),
      );
    }
    const flags = KEYED_HASH | (b == 0 ? CHUNK_START : 0) | (b == 15 ? CHUNK_END : 0);
    let v0 = h0;
    let v1 = h1;
    let v2 = h2;
    let v3 = h3;
    let v4 = h4;
    let v5 = h5;
    let v6 = h6;
    let v7 = h7;
    let v8 = i32x4.splat(IV0);
    let v9 = i32x4.splat(IV1);
    let v10 = i32x4.splat(IV2);
    let v11 = i32x4.splat(IV3);
    let v12 = counterLo;
    let v13 = counterHi;
    let v14 = i32x4.splat(BLOCK_BYTES);
    let v15 = i32x4.splat(flags);
    // Round 1
    // G(0, 4, 8, 12)
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 0));
    v12 = rot16(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot12(v128.xor(v4, v8));
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 16));
    v12 = rot8(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot7(v128.xor(v4, v8));
    // G(1, 5, 9, 13)
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 32));
    v13 = rot16(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot12(v128.xor(v5, v9));
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 48));
    v13 = rot8(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot7(v128.xor(v5, v9));
    // G(2, 6, 10, 14)
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 64));
    v14 = rot16(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot12(v128.xor(v6, v10));
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 80));
    v14 = rot8(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot7(v128.xor(v6, v10));
    // G(3, 7, 11, 15)
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 96));
    v15 = rot16(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot12(v128.xor(v7, v11));
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 112));
    v15 = rot8(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot7(v128.xor(v7, v11));
    // G(0, 5, 10, 15)
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 128));
    v15 = rot16(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot12(v128.xor(v5, v10));
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 144));
    v15 = rot8(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot7(v128.xor(v5, v10));
    // G(1, 6, 11, 12)
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 160));
    v12 = rot16(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot12(v128.xor(v6, v11));
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 176));
    v12 = rot8(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot7(v128.xor(v6, v11));
    // G(2, 7, 8, 13)
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 192));
    v13 = rot16(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot12(v128.xor(v7, v8));
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 208));
    v13 = rot8(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot7(v128.xor(v7, v8));
    // G(3, 4, 9, 14)
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 224));
    v14 = rot16(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot12(v128.xor(v4, v9));
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 240));
    v14 = rot8(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot7(v128.xor(v4, v9));

    // Round 2
    // G(0, 4, 8, 12)
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 32));
    v12 = rot16(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot12(v128.xor(v4, v8));
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 96));
    v12 = rot8(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot7(v128.xor(v4, v8));
    // G(1, 5, 9, 13)
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 48));
    v13 = rot16(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot12(v128.xor(v5, v9));
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 160));
    v13 = rot8(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot7(v128.xor(v5, v9));
    // G(2, 6, 10, 14)
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 112));
    v14 = rot16(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot12(v128.xor(v6, v10));
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 0));
    v14 = rot8(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot7(v128.xor(v6, v10));
    // G(3, 7, 11, 15)
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 64));
    v15 = rot16(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot12(v128.xor(v7, v11));
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 208));
    v15 = rot8(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot7(v128.xor(v7, v11));
    // G(0, 5, 10, 15)
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 16));
    v15 = rot16(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot12(v128.xor(v5, v10));
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 176));
    v15 = rot8(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot7(v128.xor(v5, v10));
    // G(1, 6, 11, 12)
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 192));
    v12 = rot16(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot12(v128.xor(v6, v11));
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 80));
    v12 = rot8(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot7(v128.xor(v6, v11));
    // G(2, 7, 8, 13)
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 144));
    v13 = rot16(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot12(v128.xor(v7, v8));
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 224));
    v13 = rot8(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot7(v128.xor(v7, v8));
    // G(3, 4, 9, 14)
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 240));
    v14 = rot16(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot12(v128.xor(v4, v9));
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 128));
    v14 = rot8(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot7(v128.xor(v4, v9));

    // Round 3
    // G(0, 4, 8, 12)
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 48));
    v12 = rot16(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot12(v128.xor(v4, v8));
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 64));
    v12 = rot8(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot7(v128.xor(v4, v8));
    // G(1, 5, 9, 13)
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 160));
    v13 = rot16(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot12(v128.xor(v5, v9));
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 192));
    v13 = rot8(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot7(v128.xor(v5, v9));
    // G(2, 6, 10, 14)
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 208));
    v14 = rot16(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot12(v128.xor(v6, v10));
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 32));
    v14 = rot8(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot7(v128.xor(v6, v10));
    // G(3, 7, 11, 15)
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 112));
    v15 = rot16(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot12(v128.xor(v7, v11));
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 224));
    v15 = rot8(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot7(v128.xor(v7, v11));
    // G(0, 5, 10, 15)
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 96));
    v15 = rot16(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot12(v128.xor(v5, v10));
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 80));
    v15 = rot8(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot7(v128.xor(v5, v10));
    // G(1, 6, 11, 12)
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 144));
    v12 = rot16(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot12(v128.xor(v6, v11));
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 0));
    v12 = rot8(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot7(v128.xor(v6, v11));
    // G(2, 7, 8, 13)
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 176));
    v13 = rot16(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot12(v128.xor(v7, v8));
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 240));
    v13 = rot8(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot7(v128.xor(v7, v8));
    // G(3, 4, 9, 14)
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 128));
    v14 = rot16(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot12(v128.xor(v4, v9));
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 16));
    v14 = rot8(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot7(v128.xor(v4, v9));

    // Round 4
    // G(0, 4, 8, 12)
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 160));
    v12 = rot16(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot12(v128.xor(v4, v8));
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 112));
    v12 = rot8(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot7(v128.xor(v4, v8));
    // G(1, 5, 9, 13)
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 192));
    v13 = rot16(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot12(v128.xor(v5, v9));
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 144));
    v13 = rot8(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot7(v128.xor(v5, v9));
    // G(2, 6, 10, 14)
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 224));
    v14 = rot16(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot12(v128.xor(v6, v10));
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 48));
    v14 = rot8(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot7(v128.xor(v6, v10));
    // G(3, 7, 11, 15)
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 208));
    v15 = rot16(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot12(v128.xor(v7, v11));
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 240));
    v15 = rot8(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot7(v128.xor(v7, v11));
    // G(0, 5, 10, 15)
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 64));
    v15 = rot16(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot12(v128.xor(v5, v10));
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 0));
    v15 = rot8(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot7(v128.xor(v5, v10));
    // G(1, 6, 11, 12)
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 176));
    v12 = rot16(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot12(v128.xor(v6, v11));
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 32));
    v12 = rot8(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot7(v128.xor(v6, v11));
    // G(2, 7, 8, 13)
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 80));
    v13 = rot16(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot12(v128.xor(v7, v8));
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 128));
    v13 = rot8(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot7(v128.xor(v7, v8));
    // G(3, 4, 9, 14)
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 16));
    v14 = rot16(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot12(v128.xor(v4, v9));
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 96));
    v14 = rot8(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot7(v128.xor(v4, v9));

    // Round 5
    // G(0, 4, 8, 12)
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 192));
    v12 = rot16(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot12(v128.xor(v4, v8));
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 208));
    v12 = rot8(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot7(v128.xor(v4, v8));
    // G(1, 5, 9, 13)
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 144));
    v13 = rot16(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot12(v128.xor(v5, v9));
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 176));
    v13 = rot8(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot7(v128.xor(v5, v9));
    // G(2, 6, 10, 14)
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 240));
    v14 = rot16(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot12(v128.xor(v6, v10));
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 160));
    v14 = rot8(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot7(v128.xor(v6, v10));
    // G(3, 7, 11, 15)
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 224));
    v15 = rot16(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot12(v128.xor(v7, v11));
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 128));
    v15 = rot8(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot7(v128.xor(v7, v11));
    // G(0, 5, 10, 15)
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 112));
    v15 = rot16(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot12(v128.xor(v5, v10));
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 32));
    v15 = rot8(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot7(v128.xor(v5, v10));
    // G(1, 6, 11, 12)
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 80));
    v12 = rot16(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot12(v128.xor(v6, v11));
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 48));
    v12 = rot8(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot7(v128.xor(v6, v11));
    // G(2, 7, 8, 13)
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 0));
    v13 = rot16(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot12(v128.xor(v7, v8));
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 16));
    v13 = rot8(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot7(v128.xor(v7, v8));
    // G(3, 4, 9, 14)
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 96));
    v14 = rot16(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot12(v128.xor(v4, v9));
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 64));
    v14 = rot8(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot7(v128.xor(v4, v9));

    // Round 6
    // G(0, 4, 8, 12)
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 144));
    v12 = rot16(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot12(v128.xor(v4, v8));
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 224));
    v12 = rot8(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot7(v128.xor(v4, v8));
    // G(1, 5, 9, 13)
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 176));
    v13 = rot16(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot12(v128.xor(v5, v9));
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 80));
    v13 = rot8(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot7(v128.xor(v5, v9));
    // G(2, 6, 10, 14)
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 128));
    v14 = rot16(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot12(v128.xor(v6, v10));
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 192));
    v14 = rot8(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot7(v128.xor(v6, v10));
    // G(3, 7, 11, 15)
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 240));
    v15 = rot16(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot12(v128.xor(v7, v11));
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 16));
    v15 = rot8(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot7(v128.xor(v7, v11));
    // G(0, 5, 10, 15)
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 208));
    v15 = rot16(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot12(v128.xor(v5, v10));
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 48));
    v15 = rot8(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot7(v128.xor(v5, v10));
    // G(1, 6, 11, 12)
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 0));
    v12 = rot16(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot12(v128.xor(v6, v11));
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 160));
    v12 = rot8(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot7(v128.xor(v6, v11));
    // G(2, 7, 8, 13)
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 32));
    v13 = rot16(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot12(v128.xor(v7, v8));
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 96));
    v13 = rot8(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot7(v128.xor(v7, v8));
    // G(3, 4, 9, 14)
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 64));
    v14 = rot16(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot12(v128.xor(v4, v9));
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 112));
    v14 = rot8(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot7(v128.xor(v4, v9));

    // Round 7
    // G(0, 4, 8, 12)
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 176));
    v12 = rot16(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot12(v128.xor(v4, v8));
    v0 = i32x4.add(i32x4.add(v0, v4), v128.load(msg, 240));
    v12 = rot8(v128.xor(v12, v0));
    v8 = i32x4.add(v8, v12);
    v4 = rot7(v128.xor(v4, v8));
    // G(1, 5, 9, 13)
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 80));
    v13 = rot16(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot12(v128.xor(v5, v9));
    v1 = i32x4.add(i32x4.add(v1, v5), v128.load(msg, 0));
    v13 = rot8(v128.xor(v13, v1));
    v9 = i32x4.add(v9, v13);
    v5 = rot7(v128.xor(v5, v9));
    // G(2, 6, 10, 14)
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 16));
    v14 = rot16(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot12(v128.xor(v6, v10));
    v2 = i32x4.add(i32x4.add(v2, v6), v128.load(msg, 144));
    v14 = rot8(v128.xor(v14, v2));
    v10 = i32x4.add(v10, v14);
    v6 = rot7(v128.xor(v6, v10));
    // G(3, 7, 11, 15)
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 128));
    v15 = rot16(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot12(v128.xor(v7, v11));
    v3 = i32x4.add(i32x4.add(v3, v7), v128.load(msg, 96));
    v15 = rot8(v128.xor(v15, v3));
    v11 = i32x4.add(v11, v15);
    v7 = rot7(v128.xor(v7, v11));
    // G(0, 5, 10, 15)
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 224));
    v15 = rot16(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot12(v128.xor(v5, v10));
    v0 = i32x4.add(i32x4.add(v0, v5), v128.load(msg, 160));
    v15 = rot8(v128.xor(v15, v0));
    v10 = i32x4.add(v10, v15);
    v5 = rot7(v128.xor(v5, v10));
    // G(1, 6, 11, 12)
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 32));
    v12 = rot16(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot12(v128.xor(v6, v11));
    v1 = i32x4.add(i32x4.add(v1, v6), v128.load(msg, 192));
    v12 = rot8(v128.xor(v12, v1));
    v11 = i32x4.add(v11, v12);
    v6 = rot7(v128.xor(v6, v11));
    // G(2, 7, 8, 13)
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 48));
    v13 = rot16(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot12(v128.xor(v7, v8));
    v2 = i32x4.add(i32x4.add(v2, v7), v128.load(msg, 64));
    v13 = rot8(v128.xor(v13, v2));
    v8 = i32x4.add(v8, v13);
    v7 = rot7(v128.xor(v7, v8));
    // G(3, 4, 9, 14)
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 112));
    v14 = rot16(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot12(v128.xor(v4, v9));
    v3 = i32x4.add(i32x4.add(v3, v4), v128.load(msg, 208));
    v14 = rot8(v128.xor(v14, v3));
    v9 = i32x4.add(v9, v14);
    v4 = rot7(v128.xor(v4, v9));

    h0 = v128.xor(v0, v8);
    h1 = v128.xor(v1, v9);
    h2 = v128.xor(v2, v10);
    h3 = v128.xor(v3, v11);
    h4 = v128.xor(v4, v12);
    h5 = v128.xor(v5, v13);
    h6 = v128.xor(v6, v14);
    h7 = v128.xor(v7, v15);
  }
  // Back to one chaining value per chunk: words 0..3, then 4..7, of each lane.
  const cvs = ctx + CTX_CVS;
  transposeStore(h0, h1, h2, h3, msg);
  transposeStore(h4, h5, h6, h7, msg + 64);
  for (let k: usize = 0; k < 4; k++) {
    v128.store(cvs + k * 32, v128.load(msg + k * 16));
    v128.store(cvs + k * 32 + 16, v128.load(msg + 64 + k * 16));
  }
  const cv = ctx + CTX_CV;
  for (let k: usize = 0; k < <usize>push; k++) {
    memory.copy(cv, cvs + k * 32, 32);
    pushChunk(ctx, cv);
  }
}

/**
 * Stores the transpose of the 4×4 matrix of u32 whose rows are a, b, c, d:
 * at `out`, row j is (a[j], b[j], c[j], d[j]).
 */
@inline
function transposeStore(a: v128, b: v128, c: v128, d: v128, out: usize): void {
  const ab01 = i32x4.shuffle(a, b, 0, 4, 1, 5);
  const ab23 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const cd01 = i32x4.shuffle(c, d, 0, 4, 1, 5);
  const cd23 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  v128.store(out, i64x2.shuffle(ab01, cd01, 0, 2));
  v128.store(out + 16, i64x2.shuffle(ab01, cd01, 1, 3));
  v128.store(out + 32, i64x2.shuffle(ab23, cd23, 0, 2));
  v128.store(out + 48, i64x2.shuffle(ab23, cd23, 1, 3));
}
