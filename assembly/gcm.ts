// AES-256-GCM (NIST SP 800-38D): GCTR with the 32-bit counter increment
// (§6.5, inc32) over the bitsliced AES of aes_ct.ts, GHASH from ghash.ts,
// J0 from a 12-byte IV or from GHASH of any other IV length (§7.1 step 2),
// 16-byte tags.
//
// Streaming, so that a host can push any message through a fixed region of
// memory: `gcm_start`, then `gcm_aad_update`* and either
//   seal: `gcm_seal_update`* (encrypts in place), `gcm_seal_finish` (tag), or
//   open: `gcm_open_update`* (hashes the ciphertext, releases nothing),
//         `gcm_open_finish` (compares the tag in constant time), and only
//         after it succeeds `gcm_decrypt_update`* (decrypts in place).
// Every update but the last of its kind takes a multiple of 16 bytes.
// Opening verifies before it decrypts, so a failed open never produces
// plaintext anywhere. ABI.md §5 is the contract for hosts.
//
// Sealing stitches GHASH into the AES rounds (see `sealStitched`); opening
// cannot, since it must finish hashing before it decrypts anything.
//
// Constant time: the lengths and the call sequence are public; nothing else
// steers a branch or an address. The tag comparison ORs all byte differences
// and turns the result into the status and the next phase arithmetically.

import {
  AES_EXPAND_SCRATCH_BYTES,
  AES_ROUND_KEYS_BYTES,
  aes256_encrypt8,
  aes256_encrypt8_ghash,
  aes256_expand,
} from "./aes_ct";
import { GHASH_ACC_BYTES, GHASH_TABLE_BYTES, ghash_blocks, ghash_init, ghash_reduce } from "./ghash";
import { STATUS_AUTH_FAILED, STATUS_BAD_ARGUMENT, STATUS_OK } from "./status";

// Context layout (bytes from the 16-aligned context pointer). Every load and
// store below at ctx + CTX_* stays inside the CONTEXT_BYTES the host reserved
// with `alloc(gcm_context_bytes())` (ABI.md §5); the only other addresses are
// the host's buffers, read and written strictly within the lengths it passed.
const CTX_RK: usize = 0; // bitsliced round keys
const CTX_HT: usize = CTX_RK + AES_ROUND_KEYS_BYTES; // GHASH table (1920)
const CTX_ST: usize = CTX_HT + GHASH_TABLE_BYTES; // 8 blocks of AES state / keystream (3488)
const CTX_Y: usize = CTX_ST + 128; // GHASH state: hi, lo (u64)
const CTX_J0: usize = CTX_Y + 16; // the pre-counter block J0
const CTX_EJ0: usize = CTX_J0 + 16; // E_K(J0), masks the tag
const CTX_PAD: usize = CTX_EJ0 + 16; // a zero-padded partial block, or the length block
const CTX_AAD_BYTES: usize = CTX_PAD + 16; // u64
const CTX_TEXT_BYTES: usize = CTX_AAD_BYTES + 8; // u64, hashed so far
const CTX_LEFT_BYTES: usize = CTX_TEXT_BYTES + 8; // u64, verified bytes left to decrypt
const CTX_CTR: usize = CTX_LEFT_BYTES + 8; // u32, the counter of the next block
const CTX_PHASE: usize = CTX_CTR + 4; // u32
const CTX_PARTIAL: usize = CTX_PHASE + 4; // u32, 1 after an update whose length was not a multiple of 16
const CTX_ACC: usize = CTX_PARTIAL + 16; // GHASH accumulators of the stitched seal
const CONTEXT_BYTES: usize = CTX_ACC + GHASH_ACC_BYTES; // a multiple of 16

// Phases of a context. A fresh context (all zero) has no key.
const PHASE_NO_KEY: u32 = 0;
const PHASE_KEYED: u32 = 1; // key set; waiting for gcm_start
const PHASE_AAD: u32 = 2;
const PHASE_SEAL: u32 = 3;
const PHASE_OPEN: u32 = 4;
const PHASE_DECRYPT: u32 = 5; // the tag verified

/** SP 800-38D §5.2.1.1: at most 2^39 - 256 bits of plaintext, in bytes. */
const MAX_TEXT_BYTES: u64 = (<u64>1 << 36) - 32;
/** SP 800-38D §5.2.1.1: at most 2^64 - 1 bits of AAD (and of IV), in bytes. */
const MAX_AAD_BYTES: u64 = (<u64>1 << 61) - 1;

/** Bytes the host must `alloc` for one GCM context (16-aligned). */
export function gcm_context_bytes(): u32 {
  return <u32>CONTEXT_BYTES;
}

/**
 * Expands the 32-byte key at `key` into `ctx` and derives the hash key
 * H = E_K(0^128). The host zeroes its copy of the key afterwards; the
 * context holds key material until the host wipes it.
 */
export function gcm_init(ctx: usize, key: usize): i32 {
  // The table area is the key schedule's scratch until H exists:
  // GHASH_TABLE_BYTES (1568) ≥ AES_EXPAND_SCRATCH_BYTES (368).
  if (GHASH_TABLE_BYTES < AES_EXPAND_SCRATCH_BYTES) unreachable(); // folded away at compile time
  aes256_expand(ctx + CTX_RK, key, ctx + CTX_HT);
  const st = ctx + CTX_ST;
  memory.fill(st, 0, 128);
  aes256_encrypt8(ctx + CTX_RK, st);
  ghash_init(ctx + CTX_HT, bswap<u64>(load<u64>(st, 0)), bswap<u64>(load<u64>(st, 8)));
  memory.fill(st, 0, 128);
  memory.fill(ctx + CTX_Y, 0, CONTEXT_BYTES - CTX_Y);
  store<u32>(ctx + CTX_PHASE, PHASE_KEYED);
  return STATUS_OK;
}

/** GHASH of `len` bytes at `p` into the context state, zero-padding a partial last block. */
function hash(ctx: usize, p: usize, len: usize): void {
  const whole = len >> 4;
  ghash_blocks(ctx + CTX_HT, ctx + CTX_Y, p, whole);
  const rest = len & 15;
  if (rest != 0) {
    const pad = ctx + CTX_PAD;
    memory.fill(pad, 0, 16);
    memory.copy(pad, p + (whole << 4), rest);
    ghash_blocks(ctx + CTX_HT, ctx + CTX_Y, pad, 1);
    memory.fill(pad, 0, 16);
  }
}

/**
 * Begins a message with the `nonceLen`-byte IV at `nonce` (≥ 1 byte; 12 is
 * the fast path): J0, the first counter and E_K(J0). STATUS_BAD_ARGUMENT
 * without a key or with an empty nonce.
 */
export function gcm_start(ctx: usize, nonce: usize, nonceLen: u32): i32 {
  if (load<u32>(ctx + CTX_PHASE) == PHASE_NO_KEY || nonceLen == 0) return STATUS_BAD_ARGUMENT;
  const j0 = ctx + CTX_J0;
  const y = ctx + CTX_Y;
  store<u64>(y, 0, 0);
  store<u64>(y, 0, 8);
  if (nonceLen == 12) {
    // §7.1 step 2: J0 = IV ‖ 0^31 ‖ 1.
    memory.copy(j0, nonce, 12);
    store<u32>(j0, bswap<u32>(1), 12);
  } else {
    // §7.1 step 2: J0 = GHASH(IV ‖ 0^(s+64) ‖ [len(IV)]_64).
    hash(ctx, nonce, nonceLen);
    const pad = ctx + CTX_PAD;
    store<u64>(pad, 0, 0);
    store<u64>(pad, bswap<u64>(<u64>nonceLen << 3), 8);
    ghash_blocks(ctx + CTX_HT, y, pad, 1);
    store<u64>(j0, bswap<u64>(load<u64>(y, 0)), 0);
    store<u64>(j0, bswap<u64>(load<u64>(y, 8)), 8);
    store<u64>(y, 0, 0);
    store<u64>(y, 0, 8);
    memory.fill(pad, 0, 16);
  }
  const st = ctx + CTX_ST;
  memory.copy(st, j0, 16);
  aes256_encrypt8(ctx + CTX_RK, st);
  memory.copy(ctx + CTX_EJ0, st, 16);
  memory.fill(st, 0, 128);
  store<u32>(ctx + CTX_CTR, bswap<u32>(load<u32>(j0, 12)) + 1); // inc32(J0), wrapping mod 2^32
  store<u64>(ctx + CTX_AAD_BYTES, 0);
  store<u64>(ctx + CTX_TEXT_BYTES, 0);
  store<u64>(ctx + CTX_LEFT_BYTES, 0);
  store<u32>(ctx + CTX_PARTIAL, 0);
  store<u32>(ctx + CTX_PHASE, PHASE_AAD);
  return STATUS_OK;
}

/** Hashes `len` bytes of additional data; only between gcm_start and the first text update. */
export function gcm_aad_update(ctx: usize, p: usize, len: u32): i32 {
  if (load<u32>(ctx + CTX_PHASE) != PHASE_AAD || load<u32>(ctx + CTX_PARTIAL) != 0) {
    return STATUS_BAD_ARGUMENT;
  }
  const total = load<u64>(ctx + CTX_AAD_BYTES) + <u64>len;
  if (total > MAX_AAD_BYTES) return STATUS_BAD_ARGUMENT;
  store<u64>(ctx + CTX_AAD_BYTES, total);
  hash(ctx, p, len);
  if ((len & 15) != 0) store<u32>(ctx + CTX_PARTIAL, 1);
  return STATUS_OK;
}

/**
 * Moves from AAD to text (`phase`), or checks that the text phase continues,
 * and counts `len` more bytes of text. Changes nothing when it refuses.
 */
function enterText(ctx: usize, phase: u32, len: u32): bool {
  const now = load<u32>(ctx + CTX_PHASE);
  const fresh = now == PHASE_AAD; // the first text update of the message
  if (!fresh && (now != phase || load<u32>(ctx + CTX_PARTIAL) != 0)) return false;
  const total = load<u64>(ctx + CTX_TEXT_BYTES) + <u64>len;
  if (total > MAX_TEXT_BYTES) return false;
  store<u32>(ctx + CTX_PHASE, phase);
  store<u64>(ctx + CTX_TEXT_BYTES, total);
  store<u32>(ctx + CTX_PARTIAL, (len & 15) != 0 ? 1 : 0);
  return true;
}

/** The 8 counter blocks J0[0..12) ‖ c, c + 1, ... (mod 2^32) into the state at `st`. */
// @ts-ignore: decorator
@inline
function counters(st: usize, base: v128, c: u32): void {
  for (let i: usize = 0; i < 8; i++) {
    v128.store(st + (i << 4), i32x4.replace_lane(base, 3, <i32>bswap<u32>(c + <u32>i)));
  }
}

/** XORs the 128 bytes of keystream at `st` into the 128 bytes at `p`. */
// @ts-ignore: decorator
@inline
function xor128(p: usize, st: usize): void {
  for (let i: usize = 0; i < 128; i += 16) {
    v128.store(p + i, v128.xor(v128.load(p + i), v128.load(st + i))); // i < 128: inside both
  }
}

/**
 * GCTR (§6.5) in place over `len` bytes at `p`: XORs the keystream of the
 * counter blocks J0[0..12) ‖ ctr, ctr + 1, ... (mod 2^32), 8 blocks per AES
 * call. A partial last call uses only part of its last block.
 */
function ctr(ctx: usize, p: usize, len: usize): void {
  const rk = ctx + CTX_RK;
  const st = ctx + CTX_ST;
  const base = v128.load(ctx + CTX_J0);
  let c = load<u32>(ctx + CTX_CTR);
  while (len > 0) {
    counters(st, base, c);
    aes256_encrypt8(rk, st);
    if (len >= 128) {
      xor128(p, st); // 128 ≤ len: inside the caller's buffer
      c += 8;
      p += 128;
      len -= 128;
    } else {
      let i: usize = 0;
      for (; i + 16 <= len; i += 16) {
        v128.store(p + i, v128.xor(v128.load(p + i), v128.load(st + i)));
      }
      for (; i < len; i++) store<u8>(p + i, load<u8>(p + i) ^ load<u8>(st + i)); // i < len < 128
      c += <u32>((len + 15) >> 4);
      len = 0;
    }
  }
  store<u32>(ctx + CTX_CTR, c);
  memory.fill(st, 0, 128);
}

/**
 * Encrypts `len` bytes at `p` in place and hashes the ciphertext, stitched:
 * while AES makes batch b (8 blocks), GHASH absorbs batch b - 1, which it
 * has just produced (see `aes256_encrypt8`). The last batch and a partial
 * tail are hashed on their own.
 */
function sealStitched(ctx: usize, p: usize, len: usize): void {
  const rk = ctx + CTX_RK;
  const st = ctx + CTX_ST;
  const table = ctx + CTX_HT;
  const y = ctx + CTX_Y;
  const acc = ctx + CTX_ACC;
  const base = v128.load(ctx + CTX_J0);
  let c = load<u32>(ctx + CTX_CTR);
  const batches = len >> 7;
  for (let b: usize = 0; b < batches; b++) {
    counters(st, base, c);
    if (b == 0) {
      aes256_encrypt8(rk, st);
    } else {
      // The 128 bytes before p are batch b - 1's ciphertext; the state joins its first block.
      const yHi = bswap<u64>(load<u64>(y, 0));
      const yLo = bswap<u64>(load<u64>(y, 8));
      aes256_encrypt8_ghash(rk, st, table, acc, p - 128, yHi, yLo);
      ghash_reduce(acc, y);
    }
    xor128(p, st); // b < len / 128: inside the caller's buffer
    c += 8;
    p += 128;
  }
  store<u32>(ctx + CTX_CTR, c);
  memory.fill(st, 0, 128);
  if (batches > 0) ghash_blocks(table, y, p - 128, 8);
  const rest = len & 127;
  if (rest != 0) {
    ctr(ctx, p, rest);
    hash(ctx, p, rest);
  }
}

/** Encrypts `len` bytes at `p` in place and hashes the ciphertext. */
export function gcm_seal_update(ctx: usize, p: usize, len: u32): i32 {
  if (!enterText(ctx, PHASE_SEAL, len)) return STATUS_BAD_ARGUMENT;
  sealStitched(ctx, p, len);
  return STATUS_OK;
}

/** The tag T = E_K(J0) ⊕ GHASH(A, C) (§7.1 steps 5–6) into the 16 bytes at `ctx + CTX_PAD`. */
function computeTag(ctx: usize): void {
  const pad = ctx + CTX_PAD;
  store<u64>(pad, bswap<u64>(load<u64>(ctx + CTX_AAD_BYTES) << 3), 0);
  store<u64>(pad, bswap<u64>(load<u64>(ctx + CTX_TEXT_BYTES) << 3), 8);
  ghash_blocks(ctx + CTX_HT, ctx + CTX_Y, pad, 1);
  const y = ctx + CTX_Y;
  const ej0 = ctx + CTX_EJ0;
  store<u64>(pad, bswap<u64>(load<u64>(y, 0)) ^ load<u64>(ej0, 0), 0);
  store<u64>(pad, bswap<u64>(load<u64>(y, 8)) ^ load<u64>(ej0, 8), 8);
  store<u64>(y, 0, 0);
  store<u64>(y, 0, 8);
}

/** Ends a seal: writes the 16-byte tag at `tag`. */
export function gcm_seal_finish(ctx: usize, tag: usize): i32 {
  const phase = load<u32>(ctx + CTX_PHASE);
  if (phase != PHASE_AAD && phase != PHASE_SEAL) return STATUS_BAD_ARGUMENT;
  computeTag(ctx);
  memory.copy(tag, ctx + CTX_PAD, 16);
  memory.fill(ctx + CTX_PAD, 0, 16);
  store<u32>(ctx + CTX_PHASE, PHASE_KEYED);
  return STATUS_OK;
}

/** Hashes `len` bytes of ciphertext at `p`; decrypts nothing. */
export function gcm_open_update(ctx: usize, p: usize, len: u32): i32 {
  if (!enterText(ctx, PHASE_OPEN, len)) return STATUS_BAD_ARGUMENT;
  hash(ctx, p, len);
  return STATUS_OK;
}

/**
 * Ends the hashing of an open: compares the expected tag with the 16 bytes at
 * `tag` in constant time. STATUS_OK arms `gcm_decrypt_update` for exactly
 * the bytes hashed; STATUS_AUTH_FAILED leaves the context keyed and idle.
 */
export function gcm_open_finish(ctx: usize, tag: usize): i32 {
  const phase = load<u32>(ctx + CTX_PHASE);
  if (phase != PHASE_AAD && phase != PHASE_OPEN) return STATUS_BAD_ARGUMENT;
  computeTag(ctx);
  const pad = ctx + CTX_PAD;
  const d = (load<u64>(pad, 0) ^ load<u64>(tag, 0)) | (load<u64>(pad, 8) ^ load<u64>(tag, 8));
  memory.fill(pad, 0, 16);
  // fail = 1 iff d ≠ 0: the top bit of d | -d, without a comparison.
  const fail = <u32>((d | (0 - d)) >> 63);
  const mask = 0 - fail;
  store<u32>(ctx + CTX_PHASE, (PHASE_DECRYPT & ~mask) | (PHASE_KEYED & mask));
  store<u64>(ctx + CTX_LEFT_BYTES, load<u64>(ctx + CTX_TEXT_BYTES) & ~(<u64>0 - <u64>fail));
  store<u32>(ctx + CTX_CTR, bswap<u32>(load<u32>(ctx + CTX_J0, 12)) + 1);
  store<u32>(ctx + CTX_PARTIAL, 0);
  return <i32>(<u32>STATUS_AUTH_FAILED & mask);
}

/** Decrypts `len` bytes at `p` in place, after `gcm_open_finish` verified them. */
export function gcm_decrypt_update(ctx: usize, p: usize, len: u32): i32 {
  if (load<u32>(ctx + CTX_PHASE) != PHASE_DECRYPT || load<u32>(ctx + CTX_PARTIAL) != 0) {
    return STATUS_BAD_ARGUMENT;
  }
  const left = load<u64>(ctx + CTX_LEFT_BYTES);
  if (<u64>len > left) return STATUS_BAD_ARGUMENT;
  store<u64>(ctx + CTX_LEFT_BYTES, left - <u64>len);
  if ((len & 15) != 0) store<u32>(ctx + CTX_PARTIAL, 1);
  ctr(ctx, p, len);
  return STATUS_OK;
}
