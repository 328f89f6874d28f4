// Known-answer tests run inside the module (ABI.md §6), so that a host
// without JavaScript (wasm-interp, wasmtime, a phone app) can check that it
// executes the kernels correctly: `self_test()` returns 0, or the code of the
// first check that failed. The expected values come from outside the module:
// FastCDC cuts from the reference chunker of tests/chunker_test.ts, AES-GCM
// from NIST CAVP and Wycheproof (tests/vectors/); tests/self_test_test.ts
// re-derives them.

import { alloc, wipe } from "./memory";
import { cdc_context_bytes, cdc_cut, cdc_hash_hi, cdc_hash_lo, cdc_init } from "./fastcdc";
import {
  gcm_aad_update,
  gcm_context_bytes,
  gcm_decrypt_update,
  gcm_init,
  gcm_open_finish,
  gcm_open_update,
  gcm_seal_finish,
  gcm_seal_update,
  gcm_start,
} from "./gcm";
import { b3_context_bytes, b3_finish, b3_init, b3_update } from "./blake3";
import { STATUS_AUTH_FAILED, STATUS_OK } from "./status";

/** Bytes of generated FastCDC input: xorshift32 from seed 2026 (tests/_data.ts pseudoRandomBytes). */
const CDC_INPUT_BYTES: u32 = 8192;
const CDC_INPUT_SEED: u32 = 2026;

/** Cut lengths for min 64, avg 256, max 1024, nc 1, seed 0. */
const CUTS_UNSEEDED: StaticArray<u16> = [
  329, 380, 355, 794, 271, 305, 883, 307, 75, 379, 288, 200, 290, 312, 276, 539, 565, 421, 317,
  100, 600, 206,
];
/** The rolling hash at the first unseeded cut. */
const FIRST_HASH_UNSEEDED: u64 = 0x2147e551c1e40cf9;
/** Cut lengths for the same limits and seed 0x0123456789abcdef. */
const CUTS_SEEDED: StaticArray<u16> = [
  268, 477, 380, 402, 135, 320, 75, 137, 270, 182, 290, 288, 262, 272, 278, 112, 348, 230, 400,
  257, 111, 544, 82, 267, 232, 77, 476, 275, 331, 315, 99,
];

// GCM known answers, as hex strings so that they read as in their sources
// (string literals live in the data segment: the module allocates nothing at
// start-up, which would collide with `alloc`'s regions). NIST
// gcmEncryptExtIV256.rsp [IVlen = 1024, PTlen = 408, AADlen = 160] Count = 0
// exercises the long-IV path (SP 800-38D §7.1); Wycheproof aes_gcm_test.json
// tcId 100 the 12-byte path.
const NIST_KEY = "a15d2ed3c7687ae9ed642cdc1409673489a1459dbcae0ef027ee218a85a2d74a";
const NIST_IV =
  "faa44846e5a48c0ee8b33d8373436d0f67950897c2f60d8e842d1e52a08792e854523b069048f096764c0ac186df06b73bd75e92de5ce15b0d4a9ce388e4ce5689b788b53199f2e479fc720eabcb36a9d4a276514e12ced82b15ad4fca9ce05c975af939113132b859ebeba8c3fcaa0f2573291760f0f82b5dd6db5150776068";
const NIST_AAD = "45fd139ad69979f48d154b00ee81e417ca500ef9";
const NIST_PT =
  "bd9123a198393b464d13d50341b97313c17d51ce527136857af0b368de29b6bcf666dfed0016f963acd21732c7ab2162a81a95";
const NIST_CT =
  "068b89540a85823c32d6cefd947553199a5d157f5a2611d4582008b82c5d176d43e94acd9f0cdd3c6a4843614abf71a5242d9d";
const NIST_TAG = "bac66992749fd1780b21c9d41b1288d4";

const WYCHEPROOF_KEY = "b279f57e19c8f53f2f963f5f2519fdb7c1779be2ca2b3ae8e1128b7d6c627fc4";
const WYCHEPROOF_IV = "98bc2c7438d5cd7665d76f6e";
const WYCHEPROOF_AAD = "c0";
const WYCHEPROOF_PT = "fcc515b294408c8645c9183e3f4ecee5127846d1";
const WYCHEPROOF_CT = "eb5500e3825952866d911253f8de860c00831c81";
const WYCHEPROOF_TAG = "ecb660e1fb0541ec41e8d68a64141b3a";

// BLAKE3 keyed_hash known answers: BLAKE3-team/BLAKE3 test_vectors.json
// (the first 32 bytes), input byte i = i mod 251. 1023 bytes is one chunk,
// the root; 4096 four chunks that end the message (the four-lane kernel's
// last group); 8193 two groups, then a chunk of one byte.
const B3_KEY = "whats the Elvish word for friend";
const B3_1023 = "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e";
const B3_4096 = "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0";
const B3_8193 = "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5";

// Scratch regions, reserved on the first call and reused: `alloc` never frees
// (ABI.md §3), so repeated self-tests must not grow memory.
const SCRATCH_BYTES: usize = 16384;
let scratch: usize = 0;

/**
 * Runs every known-answer test. Returns 0 when all pass; otherwise the code
 * of the first failed check (ABI.md §6 lists them), or -1 when memory for the
 * test could not be reserved.
 */
export function self_test(): i32 {
  if (scratch == 0) {
    scratch = alloc(SCRATCH_BYTES);
    if (scratch == 0) return -1;
  }
  let code = cdcCheck(0, 0, CUTS_UNSEEDED, 100);
  if (code == 0) code = cdcCheck(0x89abcdef, 0x01234567, CUTS_SEEDED, 200);
  if (code == 0) code = gcmCheck(NIST_KEY, NIST_IV, NIST_AAD, NIST_PT, NIST_CT, NIST_TAG, 300);
  if (code == 0) code = gcmCheck(
      WYCHEPROOF_KEY,
      WYCHEPROOF_IV,
      WYCHEPROOF_AAD,
      WYCHEPROOF_PT,
      WYCHEPROOF_CT,
      WYCHEPROOF_TAG,
      310,
    );
  if (code == 0) code = b3Check(1023, B3_1023, 400);
  if (code == 0) code = b3Check(4096, B3_4096, 410);
  if (code == 0) code = b3Check(8193, B3_8193, 420);
  wipe(scratch, SCRATCH_BYTES);
  return code;
}

/**
 * Chunks the generated input. Codes: base + 0 cdc_init refused, base + 1 a
 * cut length differs, base + 2 a different number of chunks, base + 3 the
 * rolling hash at the first unseeded cut differs.
 */
function cdcCheck(seedLo: u32, seedHi: u32, cuts: StaticArray<u16>, base: i32): i32 {
  const ctx = scratch;
  const data = scratch + ((<usize>cdc_context_bytes() + 15) & ~15);
  let x: u32 = CDC_INPUT_SEED | 1;
  for (let i: u32 = 0; i < CDC_INPUT_BYTES; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    store<u8>(data + i, <u8>x);
  }
  if (cdc_init(ctx, 64, 256, 1024, 1, seedLo, seedHi) != STATUS_OK) return base;
  let at: u32 = 0;
  let count = 0;
  while (at < CDC_INPUT_BYTES) {
    const length = cdc_cut(ctx, data + at, CDC_INPUT_BYTES - at);
    if (count >= cuts.length || length != <u32>cuts[count]) return base + 1;
    if (count == 0 && seedLo == 0 && seedHi == 0) {
      const hash = (<u64>cdc_hash_hi(ctx) << 32) | <u64>cdc_hash_lo(ctx);
      if (hash != FIRST_HASH_UNSEEDED) return base + 3;
    }
    at += length;
    count++;
  }
  return count == cuts.length ? 0 : base + 2;
}

/**
 * Seals and opens one vector. Codes: base + 0 a call was refused, + 1 the
 * ciphertext differs, + 2 the tag differs, + 3 the right tag was refused,
 * + 4 the decrypted text differs, + 5 a tag with one flipped bit was accepted.
 */
function gcmCheck(
  keyHex: string,
  ivHex: string,
  aadHex: string,
  ptHex: string,
  ctHex: string,
  tagHex: string,
  base: i32,
): i32 {
  const ctx = scratch;
  const key = ctx + <usize>gcm_context_bytes();
  const iv = key + 32;
  const aad = iv + 256;
  const text = aad + 256;
  const tag = text + 256;
  const want = tag + 16;
  const ivLen = fromHex(ivHex, iv);
  const aadLen = fromHex(aadHex, aad);
  const textLen = fromHex(ptHex, text);
  fromHex(keyHex, key);
  if (gcm_init(ctx, key) != STATUS_OK) return base;

  // Seal in place, then compare.
  if (gcm_start(ctx, iv, ivLen) != STATUS_OK) return base;
  if (gcm_aad_update(ctx, aad, aadLen) != STATUS_OK) return base;
  if (gcm_seal_update(ctx, text, textLen) != STATUS_OK) return base;
  if (gcm_seal_finish(ctx, tag) != STATUS_OK) return base;
  if (!equal(text, want, fromHex(ctHex, want))) return base + 1;
  if (!equal(tag, want, fromHex(tagHex, want))) return base + 2;

  // Open the ciphertext (now at `text`) with the right tag, then decrypt.
  if (gcm_start(ctx, iv, ivLen) != STATUS_OK) return base;
  if (gcm_aad_update(ctx, aad, aadLen) != STATUS_OK) return base;
  if (gcm_open_update(ctx, text, textLen) != STATUS_OK) return base;
  if (gcm_open_finish(ctx, tag) != STATUS_OK) return base + 3;
  if (gcm_decrypt_update(ctx, text, textLen) != STATUS_OK) return base;
  if (!equal(text, want, fromHex(ptHex, want))) return base + 4;

  // A tag with one flipped bit must be refused.
  fromHex(ctHex, text);
  store<u8>(tag, load<u8>(tag) ^ 1);
  if (gcm_start(ctx, iv, ivLen) != STATUS_OK) return base;
  if (gcm_aad_update(ctx, aad, aadLen) != STATUS_OK) return base;
  if (gcm_open_update(ctx, text, textLen) != STATUS_OK) return base;
  if (gcm_open_finish(ctx, tag) != STATUS_AUTH_FAILED) return base + 5;
  return 0;
}

/**
 * Hashes `len` bytes of the test vectors' input. Codes: base + 0 a call was
 * refused, + 1 the hash of one update differs, + 2 the hash of updates of
 * 1000 bytes differs.
 */
function b3Check(len: u32, hashHex: string, base: i32): i32 {
  const ctx = scratch;
  const key = ctx + ((<usize>b3_context_bytes() + 15) & ~15);
  const out = key + 32;
  const want = out + 32;
  const data = want + 32;
  for (let i = 0; i < B3_KEY.length; i++) store<u8>(key + i, <u8>B3_KEY.charCodeAt(i));
  for (let i: u32 = 0; i < len; i++) store<u8>(data + i, <u8>(i % 251));
  fromHex(hashHex, want);
  if (b3_init(ctx, key) != STATUS_OK) return base;
  if (b3_update(ctx, data, len) != STATUS_OK) return base;
  if (b3_finish(ctx, out) != STATUS_OK) return base;
  if (!equal(out, want, 32)) return base + 1;
  for (let at: u32 = 0; at < len; at += 1000) {
    if (b3_update(ctx, data + at, min(1000, len - at)) != STATUS_OK) return base;
  }
  if (b3_finish(ctx, out) != STATUS_OK) return base;
  return equal(out, want, 32) ? 0 : base + 2;
}

/** Writes the bytes of a hex string at `out`; returns their count. */
function fromHex(hex: string, out: usize): u32 {
  const n = <u32>hex.length >> 1;
  for (let i: u32 = 0; i < n; i++) {
    const hi = nibble(hex.charCodeAt(2 * i));
    const lo = nibble(hex.charCodeAt(2 * i + 1));
    store<u8>(out + i, <u8>((hi << 4) | lo));
  }
  return n;
}

function nibble(c: i32): i32 {
  return c <= 57 ? c - 48 : c - 87; // '0'..'9', 'a'..'f'
}

/** Non-constant-time comparison: only public test vectors pass through here. */
function equal(a: usize, b: usize, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
  }
  return true;
}
