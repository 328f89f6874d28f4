// GHASH (NIST SP 800-38D §6.4): Y_i = (Y_(i-1) ⊕ X_i) · H in GF(2^128) modulo
// x^128 + x^7 + x^2 + x + 1, with GCM's reflected bit order (the first bit of
// a block is the coefficient of x^0).
//
// Constant time: no table lookups and no branches on data. The carry-less
// 64×64 multiplications use ordinary integer multiplication "with holes", as
// described by Thomas Pornin for BearSSL (https://www.bearssl.org/constanttime.html#ghash-for-gcm;
// implemented here from that description): each operand is split into four
// words that keep every fourth bit; a product of two such words never carries
// into the bits kept from it, and masks throw the carries away. Integer
// multiplication takes constant time on the CPUs wasm runs on (the same
// assumption BearSSL's ctmul64 makes).
//
// Bit order: a block read big-endian as (hi, lo) puts the coefficient of x^i
// at integer bit 127 - i. The integer carry-less product of two such values
// then holds x^k at bit 254 - k; one left shift aligns it (x^k at bit 255 - k)
// and the reduction folds the low 128 bits back, 64 bits at a time
// (x^128 ≡ x^7 + x^2 + x + 1: shifts by 1, 2, 7 and their complements 63,
// 62, 57), the bit-reflected reduction of Gueron & Kounavis, "Intel
// Carry-Less Multiplication Instruction and its Usage for Computing the GCM
// Mode", Intel white paper, rev. 2.02 (2014).
//
// A 64×64 product has 127 bits; `bmul64` gives the low 64, and the high 64
// come from the bit-reversed operands: rev(x)·rev(y) is the product reversed,
// so rev(bmul64(rev x, rev y)) >> 1 is its high half. The 128×128 product is
// three of those (Karatsuba). Aggregation (Gueron–Kounavis again): for up to
// AGGREGATE blocks, Y' = (Y ⊕ X_1)·H^n ⊕ X_2·H^(n-1) ⊕ ... ⊕ X_n·H; every
// step is linear over GF(2), so the six partial products are XORed across the
// blocks and the reversal, Karatsuba recombination and reduction run once.

/** Blocks hashed per reduction; the table holds H^1..H^AGGREGATE. */
const AGGREGATE: usize = 8;
/** Bytes of one power in the table: 6 operands × 4 masked words × 8 bytes. */
const POWER_BYTES: usize = 192;
/** Bytes of the GHASH key table: H^1..H^8 split for `bmul64`, plus 32 bytes of scratch. */
export const GHASH_TABLE_BYTES: usize = AGGREGATE * POWER_BYTES + 32;

// Offsets, inside one power's entry, of the masked words of each operand.
const E_HI: usize = 0; // h1 (high 64 bits)
const E_LO: usize = 32; // h0
const E_MID: usize = 64; // h0 ⊕ h1
const E_RHI: usize = 96; // rev(h1)
const E_RLO: usize = 128; // rev(h0)
const E_RMID: usize = 160; // rev(h0 ⊕ h1)

const K0: u64 = 0x1111111111111111;
const K1: u64 = 0x2222222222222222;
const K2: u64 = 0x4444444444444444;
const K3: u64 = 0x8888888888888888;

/** Reverses the bits within each byte of a 64-bit word: swap bits, pairs, nibbles. */
// @ts-ignore: decorator
@inline
function brev8(x: u64): u64 {
  x = ((x >> 1) & 0x5555555555555555) | ((x & 0x5555555555555555) << 1);
  x = ((x >> 2) & 0x3333333333333333) | ((x & 0x3333333333333333) << 2);
  return ((x >> 4) & 0x0f0f0f0f0f0f0f0f) | ((x & 0x0f0f0f0f0f0f0f0f) << 4);
}

/** Bit reversal of a 64-bit word: within bytes, then the bytes. */
// @ts-ignore: decorator
@inline
function rev64(x: u64): u64 {
  return bswap<u64>(brev8(x));
}

/**
 * Low 64 bits of the carry-less product x·y, with y given as its four masked
 * words at `e` (y & K0, y & K1, y & K2, y & K3). In x_a·y_b every bit of
 * the result lies in class (a + b) mod 4; a class bit below 64 sums at most
 * 15 terms (16 only at bits 60..63, whose carry leaves the word), so its
 * count fits the 4-bit gap and bit p of the integer product is the parity.
 */
// @ts-ignore: decorator
@inline
function bmul64(x: u64, e: usize): u64 {
  const y0 = load<u64>(e, 0); // e points into the table; 4 words per operand
  const y1 = load<u64>(e, 8);
  const y2 = load<u64>(e, 16);
  const y3 = load<u64>(e, 24);
  const x0 = x & K0;
  const x1 = x & K1;
  const x2 = x & K2;
  const x3 = x & K3;
  const z0 = (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1);
  const z1 = (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2);
  const z2 = (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3);
  const z3 = (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0);
  return (z0 & K0) | (z1 & K1) | (z2 & K2) | (z3 & K3);
}

/** Stores the four masked words of `y` at `e`. */
function split(e: usize, y: u64): void {
  store<u64>(e, y & K0, 0);
  store<u64>(e, y & K1, 8);
  store<u64>(e, y & K2, 16);
  store<u64>(e, y & K3, 24);
}

/** Fills one power's entry at `e` from its value (hi, lo). */
function setPower(e: usize, hi: u64, lo: u64): void {
  split(e + E_HI, hi);
  split(e + E_LO, lo);
  split(e + E_MID, hi ^ lo);
  split(e + E_RHI, rev64(hi));
  split(e + E_RLO, rev64(lo));
  split(e + E_RMID, rev64(hi ^ lo));
}

/**
 * Sets up the table at `table` for the hash key H = (hHi, hLo), read
 * big-endian from E_K(0^128): H^1..H^8, each H^k = H^(k-1) · H through the
 * same multiplication the hash uses.
 */
export function ghash_init(table: usize, hHi: u64, hLo: u64): void {
  setPower(table, hHi, hLo);
  const y = table + AGGREGATE * POWER_BYTES; // 16 bytes of state, then a 16-byte block
  const x = y + 16;
  let hi = hHi;
  let lo = hLo;
  for (let k: usize = 1; k < AGGREGATE; k++) {
    store<u64>(y, 0, 0);
    store<u64>(y, 0, 8);
    store<u64>(x, bswap<u64>(hi), 0);
    store<u64>(x, bswap<u64>(lo), 8);
    aggregate(table, y, x, 1);
    hi = load<u64>(y, 0);
    lo = load<u64>(y, 8);
    setPower(table + k * POWER_BYTES, hi, lo);
  }
  memory.fill(y, 0, 32);
}

/**
 * Hashes `n` (1..AGGREGATE) blocks at `p` into the state at `y` (hi, lo as
 * two u64): Y' = Σ X'_i · H^(n+1-i), X'_1 = X_1 ⊕ Y.
 */
// @ts-ignore: decorator
@inline
function aggregate(table: usize, y: usize, p: usize, n: usize): void {
  let a0: u64 = 0; // lo·h0, low half
  let a1: u64 = 0; // lo·h0, high half (reversed)
  let a2: u64 = 0; // hi·h1, low half
  let a3: u64 = 0; // hi·h1, high half (reversed)
  let a4: u64 = 0; // mid·hmid, low half
  let a5: u64 = 0; // mid·hmid, high half (reversed)
  // The state, byte-swapped to meet the data as read.
  let yHi = bswap<u64>(load<u64>(y, 0));
  let yLo = bswap<u64>(load<u64>(y, 8));
  for (let i: usize = 0; i < n; i++) {
    // Block i of n; the caller guarantees n blocks at p.
    // The words as read (little-endian) are byte-reversed: bswap gives the
    // big-endian value, brev8 its full bit reversal (rev64 ∘ bswap = brev8).
    const wHi = load<u64>(p + (i << 4), 0) ^ yHi;
    const wLo = load<u64>(p + (i << 4), 8) ^ yLo;
    yHi = 0;
    yLo = 0;
    const hi = bswap<u64>(wHi);
    const lo = bswap<u64>(wLo);
    const rhi = brev8(wHi);
    const rlo = brev8(wLo);
    const e = table + (n - 1 - i) * POWER_BYTES; // H^(n-i); n ≤ AGGREGATE entries
    a0 ^= bmul64(lo, e + E_LO);
    a1 ^= bmul64(rlo, e + E_RLO);
    a2 ^= bmul64(hi, e + E_HI);
    a3 ^= bmul64(rhi, e + E_RHI);
    a4 ^= bmul64(hi ^ lo, e + E_MID);
    a5 ^= bmul64(rhi ^ rlo, e + E_RMID);
  }
  reduce(y, a0, a1, a2, a3, a4, a5);
}

/**
 * Finishes an aggregated product: the six accumulators (see `aggregate`)
 * become the three Karatsuba products, their 256-bit sum, and its reduction,
 * stored as the new state at `y`.
 */
// @ts-ignore: decorator
@inline
function reduce(y: usize, a0: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64): void {
  // Karatsuba: the three 128-bit products, then the 256-bit sum z3:z2:z1:z0.
  const loH = rev64(a1) >> 1;
  const hiH = rev64(a3) >> 1;
  const midL = a4 ^ a0 ^ a2;
  const midH = (rev64(a5) >> 1) ^ loH ^ hiH;
  let z0 = a0;
  let z1 = loH ^ midL;
  let z2 = a2 ^ midH;
  let z3 = hiH;
  // Align the reflected product: x^k moves to bit 255 - k.
  z3 = (z3 << 1) | (z2 >> 63);
  z2 = (z2 << 1) | (z1 >> 63);
  z1 = (z1 << 1) | (z0 >> 63);
  z0 = z0 << 1;
  // Fold x^192..x^255 (z0), then x^128..x^191 (z1), into x^0..x^127.
  z2 ^= z0 ^ (z0 >> 1) ^ (z0 >> 2) ^ (z0 >> 7);
  z1 ^= (z0 << 63) ^ (z0 << 62) ^ (z0 << 57);
  z3 ^= z1 ^ (z1 >> 1) ^ (z1 >> 2) ^ (z1 >> 7);
  z2 ^= (z1 << 63) ^ (z1 << 62) ^ (z1 << 57);
  store<u64>(y, z3, 0);
  store<u64>(y, z2, 8);
}

/** Hashes `blocks` whole 16-byte blocks at `p` into the state at `y`. */
export function ghash_blocks(table: usize, y: usize, p: usize, blocks: usize): void {
  while (blocks >= AGGREGATE) {
    aggregate(table, y, p, AGGREGATE);
    p += AGGREGATE << 4;
    blocks -= AGGREGATE;
  }
  if (blocks > 0) aggregate(table, y, p, blocks);
}

/** Bytes of the accumulators `ghash_step` adds into (six u64, see `aggregate`). */
export const GHASH_ACC_BYTES: usize = 48;

/**
 * One block of an aggregated GHASH, for code that interleaves it with other
 * work: adds the partial products of the block at `p` (XORed with the state
 * words `yHi`, `yLo` as read little-endian, or 0) times H^k (1 ≤ k ≤ 8)
 * into the accumulators at `acc`. `ghash_reduce` ends the group.
 */
// @ts-ignore: decorator
@inline
export function ghash_step(table: usize, acc: usize, p: usize, k: usize, yHi: u64, yLo: u64): void {
  const wHi = load<u64>(p, 0) ^ yHi; // p holds a whole block (caller's guarantee)
  const wLo = load<u64>(p, 8) ^ yLo;
  const hi = bswap<u64>(wHi);
  const lo = bswap<u64>(wLo);
  const rhi = brev8(wHi);
  const rlo = brev8(wLo);
  const e = table + (k - 1) * POWER_BYTES; // H^k; k ≤ AGGREGATE entries
  store<u64>(acc, load<u64>(acc, 0) ^ bmul64(lo, e + E_LO), 0); // acc holds 6 words
  store<u64>(acc, load<u64>(acc, 8) ^ bmul64(rlo, e + E_RLO), 8);
  store<u64>(acc, load<u64>(acc, 16) ^ bmul64(hi, e + E_HI), 16);
  store<u64>(acc, load<u64>(acc, 24) ^ bmul64(rhi, e + E_RHI), 24);
  store<u64>(acc, load<u64>(acc, 32) ^ bmul64(hi ^ lo, e + E_MID), 32);
  store<u64>(acc, load<u64>(acc, 40) ^ bmul64(rhi ^ rlo, e + E_RMID), 40);
}

/** Ends a group of `ghash_step`s: reduces the accumulators into the state at `y` and clears them. */
export function ghash_reduce(acc: usize, y: usize): void {
  reduce(
    y,
    load<u64>(acc, 0),
    load<u64>(acc, 8),
    load<u64>(acc, 16),
    load<u64>(acc, 24),
    load<u64>(acc, 32),
    load<u64>(acc, 40),
  );
  memory.fill(acc, 0, GHASH_ACC_BYTES);
}
