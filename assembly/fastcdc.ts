// FastCDC 2020 content-defined chunking (Xia et al., "The Design of Fast
// Content-Defined Chunking for Data Deduplication Based Storage Systems",
// IEEE TPDS 2020), cut for cut as ../shared/CHUNKING.md and FORMAT.md §7
// define it: a Gear rolling hash advanced two bytes a step, normalised
// chunking with a harder mask before the average size and an easier one after.
//
// The module is stateless between calls: a context (CDC_CONTEXT_BYTES, from
// `alloc`) holds the seeded tables and the masks, and each `cdc_cut` finds
// exactly one cut in the bytes it is given. The host keeps the stream window
// (at least `max` bytes of look-ahead), which keeps this file small and lets
// any host drive it.

import { GEAR, MASKS, MASK_BITS_MAX, MASK_BITS_MIN } from "./_fastcdc_tables";
import { STATUS_BAD_ARGUMENT, STATUS_OK } from "./status";

// Context layout (bytes). Tables first so that their addresses are 8-aligned.
const CTX_GEAR: usize = 0; // 256 × u64, gear[i] ^ seed
const CTX_GEAR_LS: usize = 2048; // 256 × u64, (gear[i] ^ seed) << 1
const CTX_MIN: usize = 4096; // u32
const CTX_AVG: usize = 4100; // u32
const CTX_MAX: usize = 4104; // u32
const CTX_MASK_S: usize = 4112; // u64
const CTX_MASK_L: usize = 4120; // u64
const CTX_HASH: usize = 4128; // u64, the rolling hash at the last cut
const CONTEXT_BYTES: u32 = 4136;

/** Bytes the host must `alloc` for one chunker context. */
export function cdc_context_bytes(): u32 {
  return CONTEXT_BYTES;
}

/** Smallest and largest chunk size limits the module accepts (FORMAT.md §7.1). */
const SIZE_MIN: u32 = 64;
const SIZE_MAX: u32 = 64 << 20;

/**
 * Fills `ctx` for the given parameters. Returns STATUS_OK, or
 * STATUS_BAD_ARGUMENT when not 64 ≤ min < avg < max ≤ 64 MiB, min is odd (an
 * odd min would allow a chunk of min − 1 bytes), nc > 3, or the
 * average size needs a mask outside the table (bits ± nc outside 5..25).
 * The seed arrives as two u32 halves so that hosts without i64 can call it.
 */
export function cdc_init(
  ctx: usize,
  min: u32,
  avg: u32,
  max: u32,
  nc: u32,
  seed_lo: u32,
  seed_hi: u32,
): i32 {
  if (min < SIZE_MIN || max > SIZE_MAX || (min & 1) != 0 || !(min < avg && avg < max) || nc > 3) {
    return STATUS_BAD_ARGUMENT;
  }
  const bits = averageBits(avg);
  if (bits - <i32>nc < MASK_BITS_MIN || bits + <i32>nc > MASK_BITS_MAX) {
    return STATUS_BAD_ARGUMENT;
  }
  const seed = (<u64>seed_hi << 32) | <u64>seed_lo;
  for (let i: usize = 0; i < 256; i++) {
    // i < 256 and both tables hold 256 entries.
    const g = load<u64>(GEAR + (i << 3)) ^ seed;
    store<u64>(ctx + CTX_GEAR + (i << 3), g);
    store<u64>(ctx + CTX_GEAR_LS + (i << 3), g << 1);
  }
  store<u32>(ctx + CTX_MIN, min);
  store<u32>(ctx + CTX_AVG, avg);
  store<u32>(ctx + CTX_MAX, max);
  store<u64>(ctx + CTX_MASK_S, load<u64>(MASKS + (<usize>(bits + <i32>nc) << 3)));
  store<u64>(ctx + CTX_MASK_L, load<u64>(MASKS + (<usize>(bits - <i32>nc) << 3)));
  store<u64>(ctx + CTX_HASH, 0);
  return STATUS_OK;
}

/** round(log2(avg)), rounding to nearest: the cut-off is avg ≥ 2^(k + ½). */
function averageBits(avg: u32): i32 {
  const k = 31 - <i32>clz(avg); // floor(log2(avg)), avg > 0
  // avg ≥ 2^k·√2 ⇔ avg² ≥ 2^(2k+1); exact in u64.
  const square = <u64>avg * <u64>avg;
  return square >= (<u64>1 << <u64>(2 * k + 1)) ? k + 1 : k;
}

/**
 * Finds one cut in the `n` bytes at `ptr`, which start a chunk and are either
 * at least `max` bytes long or the rest of the stream. Returns the chunk
 * length (1..n), 0 for n = 0. The rolling hash at the cut is left in the
 * context (read it with `cdc_hash_lo`/`cdc_hash_hi`).
 */
export function cdc_cut(ctx: usize, ptr: usize, n: u32): u32 {
  const min = load<u32>(ctx + CTX_MIN);
  const avg = load<u32>(ctx + CTX_AVG);
  const max = load<u32>(ctx + CTX_MAX);
  store<u64>(ctx + CTX_HASH, 0);
  if (n <= min) return n;
  if (n > max) n = max;
  const center = n < avg ? n : avg;

  const gear = ctx + CTX_GEAR;
  const gearLs = ctx + CTX_GEAR_LS;

  // Byte a = 2i starts each pair (CHUNKING.md step 3).
  const start: usize = <usize>(min >> 1) << 1;
  const end1: usize = <usize>(center >> 1) << 1;
  const end2: usize = <usize>(n >> 1) << 1;
  // Phase 1: before the normal size, the harder mask; phase 2, the easier one.
  let cut = scan(ptr, gear, gearLs, start, end1, 0, load<u64>(ctx + CTX_MASK_S));
  if (cut < 0) cut = scan(ptr, gear, gearLs, end1, end2, lastHash, load<u64>(ctx + CTX_MASK_L));
  store<u64>(ctx + CTX_HASH, lastHash);
  return cut < 0 ? n : <u32>cut;
}

/** The rolling hash where the last scan stopped: at its match, or at its end. */
let lastHash: u64 = 0;

// @ts-ignore: decorator
@inline
function hit(hash: u64, at: usize): isize {
  lastHash = hash;
  return <isize>at;
}

/**
 * The first cut among the pairs from byte `lo` to `hi` (both even) with one
 * mask, given the hash before `lo`; -1 when there is none.
 *
 * The hash is a serial chain, so its latency sets the speed. CHUNKING.md's
 * step is hash = ((hash << 2) + gear_ls[b0]) + gear[b1]; in wrapping
 * arithmetic that equals (hash << 2) + (gear_ls[b0] + gear[b1]), whose
 * table sum is computed off the chain, and the half-way value for the first
 * test beside it. Four pairs come from one 64-bit load. Measured in V8: about
 * 15% faster than one pair an iteration; two interleaved lanes were slower.
 */
function scan(ptr: usize, gear: usize, gearLs: usize, lo: usize, hi: usize, hash: u64, mask: u64): isize {
  const maskLs = mask << 1;
  let a = lo;
  while (a + 8 <= hi) {
    // a + 7 < hi ≤ n: all eight bytes are inside the caller's buffer.
    const word = load<u64>(ptr + a);
    const s0 = hash << 2;
    const ls0 = load<u64>(gearLs + (<usize>((word >> 0) & 0xff) << 3));
    hash = s0 + (ls0 + load<u64>(gear + (<usize>((word >> 8) & 0xff) << 3)));
    if (((s0 + ls0) & maskLs) == 0) return hit(s0 + ls0, a + 0);
    if ((hash & mask) == 0) return hit(hash, a + 1);
    const s1 = hash << 2;
    const ls1 = load<u64>(gearLs + (<usize>((word >> 16) & 0xff) << 3));
    hash = s1 + (ls1 + load<u64>(gear + (<usize>((word >> 24) & 0xff) << 3)));
    if (((s1 + ls1) & maskLs) == 0) return hit(s1 + ls1, a + 2);
    if ((hash & mask) == 0) return hit(hash, a + 3);
    const s2 = hash << 2;
    const ls2 = load<u64>(gearLs + (<usize>((word >> 32) & 0xff) << 3));
    hash = s2 + (ls2 + load<u64>(gear + (<usize>((word >> 40) & 0xff) << 3)));
    if (((s2 + ls2) & maskLs) == 0) return hit(s2 + ls2, a + 4);
    if ((hash & mask) == 0) return hit(hash, a + 5);
    const s3 = hash << 2;
    const ls3 = load<u64>(gearLs + (<usize>((word >> 48) & 0xff) << 3));
    hash = s3 + (ls3 + load<u64>(gear + (<usize>((word >> 56) & 0xff) << 3)));
    if (((s3 + ls3) & maskLs) == 0) return hit(s3 + ls3, a + 6);
    if ((hash & mask) == 0) return hit(hash, a + 7);
    a += 8;
  }
  for (; a < hi; a += 2) {
    const pair = <usize>load<u16>(ptr + a);
    const half = (hash << 2) + load<u64>(gearLs + ((pair & 0xff) << 3));
    hash = half + load<u64>(gear + ((pair >> 8) << 3));
    if ((half & maskLs) == 0) return hit(half, a);
    if ((hash & mask) == 0) return hit(hash, a + 1);
  }
  lastHash = hash;
  return -1;
}


/** Low 32 bits of the rolling hash at the last cut. */
export function cdc_hash_lo(ctx: usize): u32 {
  return <u32>load<u64>(ctx + CTX_HASH);
}

/** High 32 bits of the rolling hash at the last cut. */
export function cdc_hash_hi(ctx: usize): u32 {
  return <u32>(load<u64>(ctx + CTX_HASH) >> 32);
}
