// Argon2id written from RFC 9106 alone, for tests: BigInt words, no
// optimisation, every step as the RFC names it. It takes the secret K and
// associated data X that hash-wasm's API lacks, so it can reproduce the RFC's
// own test vector (§5.3); hash-wasm is then checked against it.
//
// BLAKE2b (RFC 7693) comes from hash-wasm's standalone blake2b, a separate
// code path from its Argon2 core.

import { blake2b } from "hash-wasm";
import { concatBytes, fromHex } from "../src/_bytes.ts";

const MASK64 = (1n << 64n) - 1n;
const MASK32 = (1n << 32n) - 1n;
const BLOCK_WORDS = 128;
const SYNC_POINTS = 4;
const VERSION = 0x13;
const TYPE_ARGON2ID = 2;

function le32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
}

/** H^x: BLAKE2b with an x-byte digest. */
async function H(x: number, data: Uint8Array): Promise<Uint8Array> {
  return fromHex(await blake2b(data, x * 8));
}

/** RFC 9106 §3.3: the variable-length hash H'^T. */
async function Hprime(T: number, A: Uint8Array): Promise<Uint8Array> {
  const input = concatBytes(le32(T), A);
  if (T <= 64) return await H(T, input);
  const r = Math.ceil(T / 32) - 2;
  const out = new Uint8Array(T);
  let V = await H(64, input);
  out.set(V.subarray(0, 32), 0);
  for (let i = 2; i <= r; i++) {
    V = await H(64, V);
    out.set(V.subarray(0, 32), 32 * (i - 1));
  }
  out.set(await H(T - 32 * r, V), 32 * r);
  return out;
}

type Block = bigint[];

function bytesToBlock(bytes: Uint8Array): Block {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: BLOCK_WORDS }, (_, i) => view.getBigUint64(8 * i, true));
}

function blockToBytes(block: Block): Uint8Array {
  const out = new Uint8Array(8 * BLOCK_WORDS);
  const view = new DataView(out.buffer);
  block.forEach((w, i) => view.setBigUint64(8 * i, w, true));
  return out;
}

const rotr = (w: bigint, n: bigint) => ((w >> n) | (w << (64n - n))) & MASK64;

/** RFC 9106 §3.6: GB, BLAKE2b's G with the multiplication BlaMka adds. */
function GB(v: bigint[], a: number, b: number, c: number, d: number): void {
  const mul = (x: bigint, y: bigint) => (2n * (x & MASK32) * (y & MASK32)) & MASK64;
  v[a] = (v[a]! + v[b]! + mul(v[a]!, v[b]!)) & MASK64;
  v[d] = rotr(v[d]! ^ v[a]!, 32n);
  v[c] = (v[c]! + v[d]! + mul(v[c]!, v[d]!)) & MASK64;
  v[b] = rotr(v[b]! ^ v[c]!, 24n);
  v[a] = (v[a]! + v[b]! + mul(v[a]!, v[b]!)) & MASK64;
  v[d] = rotr(v[d]! ^ v[a]!, 16n);
  v[c] = (v[c]! + v[d]! + mul(v[c]!, v[d]!)) & MASK64;
  v[b] = rotr(v[b]! ^ v[c]!, 63n);
}

/** RFC 9106 §3.6: the permutation P on 16 words (eight 16-byte registers). */
function P(v: bigint[]): void {
  GB(v, 0, 4, 8, 12);
  GB(v, 1, 5, 9, 13);
  GB(v, 2, 6, 10, 14);
  GB(v, 3, 7, 11, 15);
  GB(v, 0, 5, 10, 15);
  GB(v, 1, 6, 11, 12);
  GB(v, 2, 7, 8, 13);
  GB(v, 3, 4, 9, 14);
}

/** RFC 9106 §3.5: the compression function G(X, Y). */
function G(X: Block, Y: Block): Block {
  const R = X.map((x, i) => x ^ Y[i]!);
  const Q = [...R];
  // Rows: registers 8i..8i+7 are words 16i..16i+15.
  for (let i = 0; i < 8; i++) {
    const v = Q.slice(16 * i, 16 * i + 16);
    P(v);
    for (let k = 0; k < 16; k++) Q[16 * i + k] = v[k]!;
  }
  // Columns: registers j, j+8, ..., j+56 are words (2j, 2j+1), (2j+16, 2j+17), ...
  for (let j = 0; j < 8; j++) {
    const index = (k: number) => 2 * j + 16 * (k >> 1) + (k & 1);
    const v = Array.from({ length: 16 }, (_, k) => Q[index(k)]!);
    P(v);
    for (let k = 0; k < 16; k++) Q[index(k)] = v[k]!;
  }
  return Q.map((q, i) => q ^ R[i]!);
}

export interface ReferenceArgon2idInput {
  password: Uint8Array;
  salt: Uint8Array;
  secret?: Uint8Array;
  associatedData?: Uint8Array;
  memoryKib: number;
  iterations: number;
  parallelism: number;
  tagLength: number;
}

/** RFC 9106 §3.2 step 1: the pre-hash H0. */
export async function referenceH0(input: ReferenceArgon2idInput): Promise<Uint8Array> {
  const K = input.secret ?? new Uint8Array(0);
  const X = input.associatedData ?? new Uint8Array(0);
  return await H(
    64,
    concatBytes(
      le32(input.parallelism),
      le32(input.tagLength),
      le32(input.memoryKib),
      le32(input.iterations),
      le32(VERSION),
      le32(TYPE_ARGON2ID),
      le32(input.password.length),
      input.password,
      le32(input.salt.length),
      input.salt,
      le32(K.length),
      K,
      le32(X.length),
      X,
    ),
  );
}

/** RFC 9106 §3.2: Argon2id, version 0x13. */
export async function referenceArgon2id(input: ReferenceArgon2idInput): Promise<Uint8Array> {
  const p = input.parallelism;
  const t = input.iterations;
  const H0 = await referenceH0(input);
  const mPrime = 4 * p * Math.floor(input.memoryKib / (4 * p));
  const q = mPrime / p; // lane length
  const segment = q / SYNC_POINTS;
  const B: Block[][] = Array.from({ length: p }, () => new Array<Block>(q));
  for (let i = 0; i < p; i++) {
    B[i]![0] = bytesToBlock(await Hprime(1024, concatBytes(H0, le32(0), le32(i))));
    B[i]![1] = bytesToBlock(await Hprime(1024, concatBytes(H0, le32(1), le32(i))));
  }
  const zero: Block = new Array(BLOCK_WORDS).fill(0n);
  for (let r = 0; r < t; r++) {
    for (let sl = 0; sl < SYNC_POINTS; sl++) {
      for (let l = 0; l < p; l++) {
        // §3.4.1.2: Argon2id indexes independently of the data in the first
        // half of the first pass, from the previous block after that.
        const independent = r === 0 && sl < 2;
        const Z: Block = new Array(BLOCK_WORDS).fill(0n);
        [r, l, sl, mPrime, t, TYPE_ARGON2ID].forEach((value, k) => Z[k] = BigInt(value));
        let addresses: Block = zero;
        const nextAddresses = () => {
          Z[6] = Z[6]! + 1n;
          addresses = G(zero, G(zero, Z));
        };
        const start = r === 0 && sl === 0 ? 2 : 0;
        if (independent && start !== 0) nextAddresses();
        for (let index = start; index < segment; index++) {
          if (independent && index % BLOCK_WORDS === 0) nextAddresses();
          const j = sl * segment + index;
          const prev = B[l]![j === 0 ? q - 1 : j - 1]!;
          const pseudo = independent ? addresses[index % BLOCK_WORDS]! : prev[0]!;
          const J1 = pseudo & MASK32;
          const J2 = pseudo >> 32n;
          // §3.4.2: the reference lane, then the reference set W.
          const refLane = r === 0 && sl === 0 ? l : Number(J2 % BigInt(p));
          const sameLane = refLane === l;
          let area: number;
          if (r === 0) {
            area = sameLane ? sl * segment + index - 1 : sl * segment - (index === 0 ? 1 : 0);
          } else {
            area = sameLane ? q - segment + index - 1 : q - segment - (index === 0 ? 1 : 0);
          }
          const x = (J1 * J1) >> 32n;
          const y = (BigInt(area) * x) >> 32n;
          const zz = area - 1 - Number(y);
          const startPosition = r === 0 || sl === SYNC_POINTS - 1 ? 0 : (sl + 1) * segment;
          const z = (startPosition + zz) % q;
          const computed = G(prev, B[refLane]![z]!);
          B[l]![j] = r === 0 ? computed : computed.map((w, k) => w ^ B[l]![j]![k]!);
        }
      }
    }
  }
  const C = B[0]![q - 1]!.map((w, k) => {
    let acc = w;
    for (let i = 1; i < p; i++) acc ^= B[i]![q - 1]![k]!;
    return acc;
  });
  return await Hprime(input.tagLength, blockToBytes(C));
}
