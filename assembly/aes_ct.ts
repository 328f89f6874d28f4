// AES-256 (FIPS 197), bitsliced over 8 blocks in v128 lanes, after Käsper &
// Schwabe, "Faster and Timing-Attack Resistant AES-GCM", CHES 2009, with the
// S-box as the depth-16 Boolean circuit of Boyar & Peralta, "A depth-16
// circuit for the AES S-box", IFIP SEC 2012 (IACR ePrint 2011/332), whose
// variable names (U, T, M, L, S) the S-box code keeps. (Their smaller 113-gate
// circuit, SEA 2010, was also tried: correct, but seal ran at about 150 MB/s
// against 183 MB/s with this one in V8, whose register allocator does better
// with the shallower circuit.)
//
// Constant time: no secret-dependent branches, memory indices or early exits.
// Every operation below is a bitwise v128 operation or a shuffle with constant
// lanes, and every address depends only on the public block count.
//
// Representation. Eight 16-byte blocks B0..B7 become eight v128 "planes"
// q0..q7: byte p of plane j holds bit j of byte p of every block, block k in
// bit k. A state byte keeps its position p = 4·column + row (FIPS 197 §3.4),
// so ShiftRows and the row rotations of MixColumns are byte shuffles with
// constant lanes (i8x16.swizzle with constant masks), and SubBytes is the Boolean circuit applied
// to whole planes: one gate does the work for 128 S-box inputs at once.
// `ortho` converts between blocks and planes; it is an involution.
//
// The circuit's four XNORs (the S-box constant 0x63) are left out: SubBytes
// here computes S(x) ⊕ 0x63. ShiftRows, MixColumns (2 ⊕ 3 ⊕ 1 ⊕ 1 = 1) and
// the next AddRoundKey map a state of all-0x63 bytes to itself, so XORing
// 0x63 into every byte of round keys 1..14 puts the constant back, the trick
// Käsper & Schwabe use to save the NOTs.

import { ghash_step } from "./ghash";

/** Bytes of the bitsliced round keys: 15 round keys × 8 planes × 16 bytes. */
export const AES_ROUND_KEYS_BYTES: usize = 15 * 128;
/** Bytes of scratch `aes256_expand` needs (key-schedule words, one state). */
export const AES_EXPAND_SCRATCH_BYTES: usize = 240 + 128;

const ROUNDS: usize = 14;

// Masks of the three SWAPMOVE stages of the 8×8 bit transposition.
const M1: u64 = 0x5555555555555555;
const M2: u64 = 0x3333333333333333;
const M4: u64 = 0x0f0f0f0f0f0f0f0f;

/**
 * Transposes blocks ⇄ planes in place: the 8 v128 at `st` hold 8 blocks (or
 * 8 planes) and hold the planes (or blocks) afterwards. Three stages of
 * SWAPMOVE (the bit-matrix transposition the bitslicing literature uses)
 * exchange bit i of register r with bit r of register i within every byte.
 */
export function ortho(st: usize): void {
  let q0 = v128.load(st, 0);
  let q1 = v128.load(st, 16);
  let q2 = v128.load(st, 32);
  let q3 = v128.load(st, 48);
  let q4 = v128.load(st, 64);
  let q5 = v128.load(st, 80);
  let q6 = v128.load(st, 96);
  let q7 = v128.load(st, 112);
  const m1 = i64x2.splat(M1);
  const m2 = i64x2.splat(M2);
  const m4 = i64x2.splat(M4);
  let t: v128;
  // SWAPMOVE(lo, hi, m, n): t = ((lo >> n) ^ hi) & m; hi ^= t; lo ^= t << n.
  t = v128.and(v128.xor(i64x2.shr_u(q0, 1), q1), m1); q1 = v128.xor(q1, t); q0 = v128.xor(q0, i64x2.shl(t, 1));
  t = v128.and(v128.xor(i64x2.shr_u(q2, 1), q3), m1); q3 = v128.xor(q3, t); q2 = v128.xor(q2, i64x2.shl(t, 1));
  t = v128.and(v128.xor(i64x2.shr_u(q4, 1), q5), m1); q5 = v128.xor(q5, t); q4 = v128.xor(q4, i64x2.shl(t, 1));
  t = v128.and(v128.xor(i64x2.shr_u(q6, 1), q7), m1); q7 = v128.xor(q7, t); q6 = v128.xor(q6, i64x2.shl(t, 1));
  t = v128.and(v128.xor(i64x2.shr_u(q0, 2), q2), m2); q2 = v128.xor(q2, t); q0 = v128.xor(q0, i64x2.shl(t, 2));
  t = v128.and(v128.xor(i64x2.shr_u(q1, 2), q3), m2); q3 = v128.xor(q3, t); q1 = v128.xor(q1, i64x2.shl(t, 2));
  t = v128.and(v128.xor(i64x2.shr_u(q4, 2), q6), m2); q6 = v128.xor(q6, t); q4 = v128.xor(q4, i64x2.shl(t, 2));
  t = v128.and(v128.xor(i64x2.shr_u(q5, 2), q7), m2); q7 = v128.xor(q7, t); q5 = v128.xor(q5, i64x2.shl(t, 2));
  t = v128.and(v128.xor(i64x2.shr_u(q0, 4), q4), m4); q4 = v128.xor(q4, t); q0 = v128.xor(q0, i64x2.shl(t, 4));
  t = v128.and(v128.xor(i64x2.shr_u(q1, 4), q5), m4); q5 = v128.xor(q5, t); q1 = v128.xor(q1, i64x2.shl(t, 4));
  t = v128.and(v128.xor(i64x2.shr_u(q2, 4), q6), m4); q6 = v128.xor(q6, t); q2 = v128.xor(q2, i64x2.shl(t, 4));
  t = v128.and(v128.xor(i64x2.shr_u(q3, 4), q7), m4); q7 = v128.xor(q7, t); q3 = v128.xor(q3, i64x2.shl(t, 4));
  v128.store(st, q0, 0);
  v128.store(st, q1, 16);
  v128.store(st, q2, 32);
  v128.store(st, q3, 48);
  v128.store(st, q4, 64);
  v128.store(st, q5, 80);
  v128.store(st, q6, 96);
  v128.store(st, q7, 112);
}

/**
 * SubBytes on the 8 planes at `st`, in place, minus the constant 0x63 (see
 * above). Boyar–Peralta number bits from the most significant: U0 is bit 7
 * (plane 7) and S0 is bit 7 of the output.
 */
// @ts-ignore: decorator
@inline
function subBytes(st: usize): void {
  const U7 = v128.load(st, 0);
  const U6 = v128.load(st, 16);
  const U5 = v128.load(st, 32);
  const U4 = v128.load(st, 48);
  const U3 = v128.load(st, 64);
  const U2 = v128.load(st, 80);
  const U1 = v128.load(st, 96);
  const U0 = v128.load(st, 112);
  // Top linear layer, middle non-linear layer, bottom linear layer.
  const T1 = v128.xor(U0, U3);
  const T2 = v128.xor(U0, U5);
  const T3 = v128.xor(U0, U6);
  const T4 = v128.xor(U3, U5);
  const T5 = v128.xor(U4, U6);
  const T6 = v128.xor(T1, T5);
  const T7 = v128.xor(U1, U2);
  const T8 = v128.xor(U7, T6);
  const T9 = v128.xor(U7, T7);
  const T10 = v128.xor(T6, T7);
  const T11 = v128.xor(U1, U5);
  const T12 = v128.xor(U2, U5);
  const T13 = v128.xor(T3, T4);
  const T14 = v128.xor(T6, T11);
  const T15 = v128.xor(T5, T11);
  const T16 = v128.xor(T5, T12);
  const T17 = v128.xor(T9, T16);
  const T18 = v128.xor(U3, U7);
  const T19 = v128.xor(T7, T18);
  const T20 = v128.xor(T1, T19);
  const T21 = v128.xor(U6, U7);
  const T22 = v128.xor(T7, T21);
  const T23 = v128.xor(T2, T22);
  const T24 = v128.xor(T2, T10);
  const T25 = v128.xor(T20, T17);
  const T26 = v128.xor(T3, T16);
  const T27 = v128.xor(T1, T12);
  const M1 = v128.and(T13, T6);
  const M2 = v128.and(T23, T8);
  const M3 = v128.xor(T14, M1);
  const M4 = v128.and(T19, U7);
  const M5 = v128.xor(M4, M1);
  const M6 = v128.and(T3, T16);
  const M7 = v128.and(T22, T9);
  const M8 = v128.xor(T26, M6);
  const M9 = v128.and(T20, T17);
  const M10 = v128.xor(M9, M6);
  const M11 = v128.and(T1, T15);
  const M12 = v128.and(T4, T27);
  const M13 = v128.xor(M12, M11);
  const M14 = v128.and(T2, T10);
  const M15 = v128.xor(M14, M11);
  const M16 = v128.xor(M3, M2);
  const M17 = v128.xor(M5, T24);
  const M18 = v128.xor(M8, M7);
  const M19 = v128.xor(M10, M15);
  const M20 = v128.xor(M16, M13);
  const M21 = v128.xor(M17, M15);
  const M22 = v128.xor(M18, M13);
  const M23 = v128.xor(M19, T25);
  const M24 = v128.xor(M22, M23);
  const M25 = v128.and(M22, M20);
  const M26 = v128.xor(M21, M25);
  const M27 = v128.xor(M20, M21);
  const M28 = v128.xor(M23, M25);
  const M29 = v128.and(M28, M27);
  const M30 = v128.and(M26, M24);
  const M31 = v128.and(M20, M23);
  const M32 = v128.and(M27, M31);
  const M33 = v128.xor(M27, M25);
  const M34 = v128.and(M21, M22);
  const M35 = v128.and(M24, M34);
  const M36 = v128.xor(M24, M25);
  const M37 = v128.xor(M21, M29);
  const M38 = v128.xor(M32, M33);
  const M39 = v128.xor(M23, M30);
  const M40 = v128.xor(M35, M36);
  const M41 = v128.xor(M38, M40);
  const M42 = v128.xor(M37, M39);
  const M43 = v128.xor(M37, M38);
  const M44 = v128.xor(M39, M40);
  const M45 = v128.xor(M42, M41);
  const M46 = v128.and(M44, T6);
  const M47 = v128.and(M40, T8);
  const M48 = v128.and(M39, U7);
  const M49 = v128.and(M43, T16);
  const M50 = v128.and(M38, T9);
  const M51 = v128.and(M37, T17);
  const M52 = v128.and(M42, T15);
  const M53 = v128.and(M45, T27);
  const M54 = v128.and(M41, T10);
  const M55 = v128.and(M44, T13);
  const M56 = v128.and(M40, T23);
  const M57 = v128.and(M39, T19);
  const M58 = v128.and(M43, T3);
  const M59 = v128.and(M38, T22);
  const M60 = v128.and(M37, T20);
  const M61 = v128.and(M42, T1);
  const M62 = v128.and(M45, T4);
  const M63 = v128.and(M41, T2);
  const L0 = v128.xor(M61, M62);
  const L1 = v128.xor(M50, M56);
  const L2 = v128.xor(M46, M48);
  const L3 = v128.xor(M47, M55);
  const L4 = v128.xor(M54, M58);
  const L5 = v128.xor(M49, M61);
  const L6 = v128.xor(M62, L5);
  const L7 = v128.xor(M46, L3);
  const L8 = v128.xor(M51, M59);
  const L9 = v128.xor(M52, M53);
  const L10 = v128.xor(M53, L4);
  const L11 = v128.xor(M60, L2);
  const L12 = v128.xor(M48, M51);
  const L13 = v128.xor(M50, L0);
  const L14 = v128.xor(M52, M61);
  const L15 = v128.xor(M55, L1);
  const L16 = v128.xor(M56, L0);
  const L17 = v128.xor(M57, L1);
  const L18 = v128.xor(M58, L8);
  const L19 = v128.xor(M63, L4);
  const L20 = v128.xor(L0, L1);
  const L21 = v128.xor(L1, L7);
  const L22 = v128.xor(L3, L12);
  const L23 = v128.xor(L18, L2);
  const L24 = v128.xor(L15, L9);
  const L25 = v128.xor(L6, L10);
  const L26 = v128.xor(L7, L9);
  const L27 = v128.xor(L8, L10);
  const L28 = v128.xor(L11, L14);
  const L29 = v128.xor(L11, L17);
  // Outputs; S1, S2, S6 and S7 are XNORs in the paper (the 0x63 left out).
  v128.store(st, v128.xor(L6, L23), 0); // S7
  v128.store(st, v128.xor(L13, L27), 16); // S6
  v128.store(st, v128.xor(L25, L29), 32); // S5
  v128.store(st, v128.xor(L20, L22), 48); // S4
  v128.store(st, v128.xor(L6, L21), 64); // S3
  v128.store(st, v128.xor(L19, L28), 80); // S2
  v128.store(st, v128.xor(L16, L26), 96); // S1
  v128.store(st, v128.xor(L6, L24), 112); // S0
}

// The linear layer, on planes. ShiftRows (FIPS 197 §5.1.2): byte 4c + r
// takes byte 4((c + r) mod 4) + r. MixColumns (§5.1.3) per column:
// a'_r = 2a_r ⊕ 3a_(r+1) ⊕ a_(r+2) ⊕ a_(r+3) = 2t ⊕ a_(r+1) ⊕ rot2(t) with
// t = a_r ⊕ a_(r+1). ShiftRows is one byte shuffle (mask mSR), ShiftRows
// followed by the rotation of each column by one row (byte 4c + r takes
// byte 4c + (r + 1) mod 4) another (mR1), the rotation by two rows rot2 a
// third (mR2). The masks are constants, so the shuffles touch no secret
// index. They are written as i8x16.swizzle with the masks in locals rather
// than as i8x16.shuffle with immediate lanes: measured in V8, seal went from
// 216 to 237 MB/s (presumably the mask stays in a register instead of being
// rebuilt for every shuffle). Doubling in GF(2^8) moves plane j to plane
// j + 1 and folds plane 7 into planes 0, 1, 3 and 4 (the polynomial 0x11b).

/**
 * Encrypts the 8 blocks at `st` (128 bytes, 16-aligned) in place with the
 * bitsliced round keys at `rk` (AES_ROUND_KEYS_BYTES from `aes256_expand`).
 * The planes stay in locals q0..q7 for all 14 rounds (the last, without
 * MixColumns, stores them). A round is SubBytes
 * (the circuit of `subBytes`, on locals; plane j is s(7 - j)), then
 * ShiftRows, MixColumns and AddRoundKey as the linear-layer comment above describes, with
 * u = ShiftRows(a) ⊕ r the "t" of that description.
 *
 * With `stitch` (a constant at both call sites below, so each gets its own
 * code) it also hashes the 8 blocks at `c` into GHASH accumulators
 * (`ghash_step` with the table `table` and accumulators `acc`; the state
 * words `yHi`, `yLo` go into the first block), one block in each of rounds
 * 1..8: "function stitching" (Gopal et al., "Optimized Galois-Counter-Mode
 * Implementation on Intel Architecture Processors", Intel, 2010). GHASH runs
 * on integer registers and the multiplier, AES on vector registers, so the
 * CPU overlaps them. The caller reduces the group with `ghash_reduce`.
 */
// @ts-ignore: decorator
@inline
function encrypt8(
  rk: usize,
  st: usize,
  stitch: bool,
  table: usize,
  acc: usize,
  c: usize,
  yHi: u64,
  yLo: u64,
): void {
  // Lane masks of the three byte permutations of the linear layer; all lanes
  // are below 16, so each swizzle is a plain byte shuffle.
  const mSR = i8x16(0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11);
  const mR1 = i8x16(5, 10, 15, 0, 9, 14, 3, 4, 13, 2, 7, 8, 1, 6, 11, 12);
  const mR2 = i8x16(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
  ortho(st);
  let q0 = v128.xor(v128.load(st, 0), v128.load(rk, 0));
  let q1 = v128.xor(v128.load(st, 16), v128.load(rk, 16));
  let q2 = v128.xor(v128.load(st, 32), v128.load(rk, 32));
  let q3 = v128.xor(v128.load(st, 48), v128.load(rk, 48));
  let q4 = v128.xor(v128.load(st, 64), v128.load(rk, 64));
  let q5 = v128.xor(v128.load(st, 80), v128.load(rk, 80));
  let q6 = v128.xor(v128.load(st, 96), v128.load(rk, 96));
  let q7 = v128.xor(v128.load(st, 112), v128.load(rk, 112));
  for (let round: usize = 1; ; round++) {
    const k = rk + (round << 7); // round ≤ 14: inside the 15 round keys
    if (stitch && round <= 8) {
      // Block round - 1 of the group at c, times H^(9 - round); public control flow.
      ghash_step(table, acc, c + ((round - 1) << 4), 9 - round, yHi, yLo);
      yHi = 0;
      yLo = 0;
    }
    const U7 = q0;
    const U6 = q1;
    const U5 = q2;
    const U4 = q3;
    const U3 = q4;
    const U2 = q5;
    const U1 = q6;
    const U0 = q7;
    const T1 = v128.xor(U0, U3);
    const T2 = v128.xor(U0, U5);
    const T3 = v128.xor(U0, U6);
    const T4 = v128.xor(U3, U5);
    const T5 = v128.xor(U4, U6);
    const T6 = v128.xor(T1, T5);
    const T7 = v128.xor(U1, U2);
    const T8 = v128.xor(U7, T6);
    const T9 = v128.xor(U7, T7);
    const T10 = v128.xor(T6, T7);
    const T11 = v128.xor(U1, U5);
    const T12 = v128.xor(U2, U5);
    const T13 = v128.xor(T3, T4);
    const T14 = v128.xor(T6, T11);
    const T15 = v128.xor(T5, T11);
    const T16 = v128.xor(T5, T12);
    const T17 = v128.xor(T9, T16);
    const T18 = v128.xor(U3, U7);
    const T19 = v128.xor(T7, T18);
    const T20 = v128.xor(T1, T19);
    const T21 = v128.xor(U6, U7);
    const T22 = v128.xor(T7, T21);
    const T23 = v128.xor(T2, T22);
    const T24 = v128.xor(T2, T10);
    const T25 = v128.xor(T20, T17);
    const T26 = v128.xor(T3, T16);
    const T27 = v128.xor(T1, T12);
    const M1 = v128.and(T13, T6);
    const M2 = v128.and(T23, T8);
    const M3 = v128.xor(T14, M1);
    const M4 = v128.and(T19, U7);
    const M5 = v128.xor(M4, M1);
    const M6 = v128.and(T3, T16);
    const M7 = v128.and(T22, T9);
    const M8 = v128.xor(T26, M6);
    const M9 = v128.and(T20, T17);
    const M10 = v128.xor(M9, M6);
    const M11 = v128.and(T1, T15);
    const M12 = v128.and(T4, T27);
    const M13 = v128.xor(M12, M11);
    const M14 = v128.and(T2, T10);
    const M15 = v128.xor(M14, M11);
    const M16 = v128.xor(M3, M2);
    const M17 = v128.xor(M5, T24);
    const M18 = v128.xor(M8, M7);
    const M19 = v128.xor(M10, M15);
    const M20 = v128.xor(M16, M13);
    const M21 = v128.xor(M17, M15);
    const M22 = v128.xor(M18, M13);
    const M23 = v128.xor(M19, T25);
    const M24 = v128.xor(M22, M23);
    const M25 = v128.and(M22, M20);
    const M26 = v128.xor(M21, M25);
    const M27 = v128.xor(M20, M21);
    const M28 = v128.xor(M23, M25);
    const M29 = v128.and(M28, M27);
    const M30 = v128.and(M26, M24);
    const M31 = v128.and(M20, M23);
    const M32 = v128.and(M27, M31);
    const M33 = v128.xor(M27, M25);
    const M34 = v128.and(M21, M22);
    const M35 = v128.and(M24, M34);
    const M36 = v128.xor(M24, M25);
    const M37 = v128.xor(M21, M29);
    const M38 = v128.xor(M32, M33);
    const M39 = v128.xor(M23, M30);
    const M40 = v128.xor(M35, M36);
    const M41 = v128.xor(M38, M40);
    const M42 = v128.xor(M37, M39);
    const M43 = v128.xor(M37, M38);
    const M44 = v128.xor(M39, M40);
    const M45 = v128.xor(M42, M41);
    const M46 = v128.and(M44, T6);
    const M47 = v128.and(M40, T8);
    const M48 = v128.and(M39, U7);
    const M49 = v128.and(M43, T16);
    const M50 = v128.and(M38, T9);
    const M51 = v128.and(M37, T17);
    const M52 = v128.and(M42, T15);
    const M53 = v128.and(M45, T27);
    const M54 = v128.and(M41, T10);
    const M55 = v128.and(M44, T13);
    const M56 = v128.and(M40, T23);
    const M57 = v128.and(M39, T19);
    const M58 = v128.and(M43, T3);
    const M59 = v128.and(M38, T22);
    const M60 = v128.and(M37, T20);
    const M61 = v128.and(M42, T1);
    const M62 = v128.and(M45, T4);
    const M63 = v128.and(M41, T2);
    const L0 = v128.xor(M61, M62);
    const L1 = v128.xor(M50, M56);
    const L2 = v128.xor(M46, M48);
    const L3 = v128.xor(M47, M55);
    const L4 = v128.xor(M54, M58);
    const L5 = v128.xor(M49, M61);
    const L6 = v128.xor(M62, L5);
    const L7 = v128.xor(M46, L3);
    const L8 = v128.xor(M51, M59);
    const L9 = v128.xor(M52, M53);
    const L10 = v128.xor(M53, L4);
    const L11 = v128.xor(M60, L2);
    const L12 = v128.xor(M48, M51);
    const L13 = v128.xor(M50, L0);
    const L14 = v128.xor(M52, M61);
    const L15 = v128.xor(M55, L1);
    const L16 = v128.xor(M56, L0);
    const L17 = v128.xor(M57, L1);
    const L18 = v128.xor(M58, L8);
    const L19 = v128.xor(M63, L4);
    const L20 = v128.xor(L0, L1);
    const L21 = v128.xor(L1, L7);
    const L22 = v128.xor(L3, L12);
    const L23 = v128.xor(L18, L2);
    const L24 = v128.xor(L15, L9);
    const L25 = v128.xor(L6, L10);
    const L26 = v128.xor(L7, L9);
    const L27 = v128.xor(L8, L10);
    const L28 = v128.xor(L11, L14);
    const L29 = v128.xor(L11, L17);
    const x0 = v128.xor(L6, L23); // S7
    const x1 = v128.xor(L13, L27); // S6
    const x2 = v128.xor(L25, L29); // S5
    const x3 = v128.xor(L20, L22); // S4
    const x4 = v128.xor(L6, L21); // S3
    const x5 = v128.xor(L19, L28); // S2
    const x6 = v128.xor(L16, L26); // S1
    const x7 = v128.xor(L6, L24); // S0
    if (round == ROUNDS) {
      // The last round has no MixColumns (FIPS 197 §5.1): ShiftRows and the last
      // round key, back to memory. The round number is public: no secret branch.
      v128.store(st, v128.xor(i8x16.swizzle(x0, mSR), v128.load(k, 0)), 0);
      v128.store(st, v128.xor(i8x16.swizzle(x1, mSR), v128.load(k, 16)), 16);
      v128.store(st, v128.xor(i8x16.swizzle(x2, mSR), v128.load(k, 32)), 32);
      v128.store(st, v128.xor(i8x16.swizzle(x3, mSR), v128.load(k, 48)), 48);
      v128.store(st, v128.xor(i8x16.swizzle(x4, mSR), v128.load(k, 64)), 64);
      v128.store(st, v128.xor(i8x16.swizzle(x5, mSR), v128.load(k, 80)), 80);
      v128.store(st, v128.xor(i8x16.swizzle(x6, mSR), v128.load(k, 96)), 96);
      v128.store(st, v128.xor(i8x16.swizzle(x7, mSR), v128.load(k, 112)), 112);
      break;
    }
    const r0 = i8x16.swizzle(x0, mR1);
    const r1 = i8x16.swizzle(x1, mR1);
    const r2 = i8x16.swizzle(x2, mR1);
    const r3 = i8x16.swizzle(x3, mR1);
    const r4 = i8x16.swizzle(x4, mR1);
    const r5 = i8x16.swizzle(x5, mR1);
    const r6 = i8x16.swizzle(x6, mR1);
    const r7 = i8x16.swizzle(x7, mR1);
    const t0 = v128.xor(i8x16.swizzle(x0, mSR), r0);
    const t1 = v128.xor(i8x16.swizzle(x1, mSR), r1);
    const t2 = v128.xor(i8x16.swizzle(x2, mSR), r2);
    const t3 = v128.xor(i8x16.swizzle(x3, mSR), r3);
    const t4 = v128.xor(i8x16.swizzle(x4, mSR), r4);
    const t5 = v128.xor(i8x16.swizzle(x5, mSR), r5);
    const t6 = v128.xor(i8x16.swizzle(x6, mSR), r6);
    const t7 = v128.xor(i8x16.swizzle(x7, mSR), r7);
    q0 = v128.xor(v128.xor(t7, i8x16.swizzle(t0, mR2)), v128.xor(r0, v128.load(k, 0)));
    q1 = v128.xor(v128.xor(v128.xor(t0, t7), i8x16.swizzle(t1, mR2)), v128.xor(r1, v128.load(k, 16)));
    q2 = v128.xor(v128.xor(t1, i8x16.swizzle(t2, mR2)), v128.xor(r2, v128.load(k, 32)));
    q3 = v128.xor(v128.xor(v128.xor(t2, t7), i8x16.swizzle(t3, mR2)), v128.xor(r3, v128.load(k, 48)));
    q4 = v128.xor(v128.xor(v128.xor(t3, t7), i8x16.swizzle(t4, mR2)), v128.xor(r4, v128.load(k, 64)));
    q5 = v128.xor(v128.xor(t4, i8x16.swizzle(t5, mR2)), v128.xor(r5, v128.load(k, 80)));
    q6 = v128.xor(v128.xor(t5, i8x16.swizzle(t6, mR2)), v128.xor(r6, v128.load(k, 96)));
    q7 = v128.xor(v128.xor(t6, i8x16.swizzle(t7, mR2)), v128.xor(r7, v128.load(k, 112)));
  }
  ortho(st);
}

/** AES-256 of the 8 blocks at `st`, in place (see `encrypt8`). */
export function aes256_encrypt8(rk: usize, st: usize): void {
  encrypt8(rk, st, false, 0, 0, 0, 0, 0);
}

/**
 * AES-256 of the 8 blocks at `st`, in place, while GHASH absorbs the 8
 * blocks at `c` into the accumulators at `acc` (see `encrypt8`). A separate
 * function so that plain encryption keeps code without the hashing.
 */
export function aes256_encrypt8_ghash(
  rk: usize,
  st: usize,
  table: usize,
  acc: usize,
  c: usize,
  yHi: u64,
  yLo: u64,
): void {
  encrypt8(rk, st, true, table, acc, c, yHi, yLo);
}

/**
 * SubWord (FIPS 197 §5.2) of one 32-bit word, through the same bitsliced
 * circuit: the word fills all 8 blocks of the state at `st`. No table, so the
 * key schedule is constant time too.
 */
function subWord(w: u32, st: usize): u32 {
  const v = i32x4.splat(<i32>w);
  for (let j: usize = 0; j < 128; j += 16) v128.store(st + j, v);
  ortho(st);
  subBytes(st);
  ortho(st);
  return load<u32>(st) ^ 0x63636363; // put back the constant subBytes leaves out
}

/**
 * KeyExpansion for AES-256 (FIPS 197 §5.2, Nk = 8, 60 words) of the 32-byte
 * key at `key`, then each round key in bitsliced form at `rk`: 8 copies of
 * the round key go through `ortho`, so every plane byte is 0x00 or 0xff.
 * `scratch` (AES_EXPAND_SCRATCH_BYTES, 16-aligned) holds key material
 * meanwhile and is zeroed before returning.
 */
export function aes256_expand(rk: usize, key: usize, scratch: usize): void {
  const w = scratch; // 60 words, little-endian: byte 0 of a word in bits 0..7
  const st = scratch + 240;
  memory.copy(w, key, 32);
  let rcon: u32 = 1;
  for (let i: usize = 8; i < 60; i++) {
    let temp = load<u32>(w + ((i - 1) << 2)); // i - 1 < 60 words in scratch
    if ((i & 7) == 0) {
      // RotWord moves byte 1 into byte 0: a right rotation of the LE word.
      temp = subWord(rotr<u32>(temp, 8), st) ^ rcon;
      rcon <<= 1; // i / 8 ≤ 7, so Rcon never needs reduction
    } else if ((i & 7) == 4) {
      temp = subWord(temp, st);
    }
    store<u32>(w + (i << 2), load<u32>(w + ((i - 8) << 2)) ^ temp);
  }
  const c63 = i8x16.splat(0x63);
  for (let r: usize = 0; r <= ROUNDS; r++) {
    let k = v128.load(w + (r << 4)); // round key r: words 4r..4r+3
    if (r > 0) k = v128.xor(k, c63); // the S-box constant, see above
    const out = rk + (r << 7);
    for (let j: usize = 0; j < 128; j += 16) v128.store(out + j, k);
    ortho(out);
  }
  memory.fill(scratch, 0, AES_EXPAND_SCRATCH_BYTES);
}
