/**
 * Content-defined chunking: FastCDC 2020 (FORMAT.md §7, CHUNKING.md), run by
 * the WebAssembly core. The same bytes always give the same chunks, however
 * they arrive, so an edit inside a file changes only the chunks around it.
 *
 * @module
 */

import { CdcStream, type Cut } from "./_wasm/cdc.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

/** The smallest size limit a chunker accepts (FORMAT.md §7.1). */
export const MIN_CHUNK_LIMIT_BYTES = 64;
/** The largest size limit a chunker accepts (FORMAT.md §7.1). */
export const MAX_CHUNK_LIMIT_BYTES = 64 * MIB;

/** Cofre's default chunk sizes (FORMAT.md §7.1): 256 KiB / 1 MiB / 4 MiB. */
export const DEFAULT_CHUNKER_OPTIONS: Readonly<Required<ChunkerOptions>> = Object.freeze({
  minSize: 256 * KIB,
  avgSize: 1 * MIB,
  maxSize: 4 * MIB,
  normalization: 1,
  seed: 0n,
});

/** Chunk size limits and the secret seed. */
export interface ChunkerOptions {
  /** No chunk but the last is shorter (bytes, even, 64 B to 64 MiB). */
  minSize: number;
  /** The target average (bytes); `round(log2(avgSize))` sets the masks. */
  avgSize: number;
  /** No chunk is longer (bytes, up to 64 MiB). */
  maxSize: number;
  /** Normalisation level 0..3; Cofre uses 1 (the default). */
  normalization?: number;
  /** 64-bit seed XORed into the gear table; 0n (the default) is unseeded FastCDC. */
  seed?: bigint;
}

/** One chunk of a stream. */
export interface Chunk {
  /** Where the chunk starts in the stream. */
  offset: number;
  /** The chunk's bytes (a copy the caller owns). */
  bytes: Uint8Array;
  /** The rolling hash at the cut, 0n when the chunk ended the stream without a cut. */
  hash: bigint;
}

// The masks in the FastCDC table exist for 5..25 bits (CHUNKING.md).
const MASK_BITS_MIN = 5;
const MASK_BITS_MAX = 25;

/**
 * Checks chunker options against FORMAT.md §7.1 and fills defaults; throws
 * `RangeError` or `TypeError` naming the rule broken.
 */
export function validateChunkerOptions(options: ChunkerOptions): Required<ChunkerOptions> {
  const { minSize, avgSize, maxSize } = options;
  const normalization = options.normalization ?? 1;
  const seed = options.seed ?? 0n;
  for (const [name, value] of [["minSize", minSize], ["avgSize", avgSize], ["maxSize", maxSize]]) {
    if (typeof value !== "number") {
      throw new TypeError(
        `Cannot configure the chunker: ${name} must be a number, got ${typeof value}`,
      );
    }
    if (!Number.isInteger(value)) {
      throw new RangeError(
        `Cannot configure the chunker: ${name} must be an integer, got ${value}`,
      );
    }
    if (value < MIN_CHUNK_LIMIT_BYTES || value > MAX_CHUNK_LIMIT_BYTES) {
      throw new RangeError(
        `Cannot configure the chunker: ${name} is ${value}, outside ${MIN_CHUNK_LIMIT_BYTES} B..64 MiB`,
      );
    }
  }
  if (minSize % 2 !== 0) {
    // FORMAT.md §7.1: hashing starts at byte 2·floor(minSize/2), so an odd
    // minimum would let a chunk end one byte short of it.
    throw new RangeError(`Cannot configure the chunker: minSize must be even, got ${minSize}`);
  }
  if (!(minSize < avgSize && avgSize < maxSize)) {
    throw new RangeError(
      `Cannot configure the chunker: need minSize < avgSize < maxSize, got ${minSize}, ${avgSize}, ${maxSize}`,
    );
  }
  if (!Number.isInteger(normalization) || normalization < 0 || normalization > 3) {
    throw new RangeError(
      `Cannot configure the chunker: normalization must be 0, 1, 2 or 3, got ${normalization}`,
    );
  }
  if (typeof seed !== "bigint") {
    throw new TypeError(`Cannot configure the chunker: seed must be a bigint, got ${typeof seed}`);
  }
  if (seed < 0n || seed >= 1n << 64n) {
    throw new RangeError("Cannot configure the chunker: seed must fit in 64 unsigned bits");
  }
  const bits = Math.round(Math.log2(avgSize));
  if (bits - normalization < MASK_BITS_MIN || bits + normalization > MASK_BITS_MAX) {
    throw new RangeError(
      `Cannot configure the chunker: avgSize ${avgSize} with normalization ${normalization} needs ` +
        `masks of ${bits - normalization}..${bits + normalization} bits; FastCDC has ` +
        `${MASK_BITS_MIN}..${MASK_BITS_MAX}`,
    );
  }
  return { minSize, avgSize, maxSize, normalization, seed };
}

/**
 * Chunks `data` in one go and returns the end offset of each chunk: the last
 * equals `data.length`, and empty input gives `[]`.
 *
 * @example
 * ```ts
 * import { cutPoints } from "./chunker.ts";
 * const cuts = cutPoints(new Uint8Array(10240), { minSize: 64, avgSize: 256, maxSize: 1024 });
 * if (cuts.length !== 10 || cuts[9] !== 10240) throw new Error("unexpected cuts");
 * ```
 */
export function cutPoints(data: Uint8Array, options: ChunkerOptions): number[] {
  const stream = new CdcStream(validateChunkerOptions(options), { copy: false });
  try {
    const cuts: Cut[] = [];
    stream.push(data, cuts);
    stream.finish(cuts);
    const ends: number[] = [];
    let end = 0;
    for (const cut of cuts) ends.push(end += cut.length);
    return ends;
  } finally {
    stream.release();
  }
}

/**
 * Chunks a stream that arrives in buffers of any size, with the same
 * boundaries as `cutPoints` on the whole. It holds up to `2 × maxSize` bytes
 * of WebAssembly memory until `release()` (or `using`).
 *
 * @example
 * ```ts
 * import { StreamingChunker } from "./chunker.ts";
 * using chunker = new StreamingChunker({ minSize: 64, avgSize: 256, maxSize: 1024 });
 * const chunks = [...chunker.push(new Uint8Array(3000)), ...chunker.finish()];
 * if (chunks.reduce((n, c) => n + c.bytes.length, 0) !== 3000) throw new Error("lost bytes");
 * ```
 */
export class StreamingChunker {
  readonly #stream: CdcStream;
  #offset = 0;

  /**
   * `allocate`: where each chunk's bytes are copied (`length` bytes, e.g. a
   * slot of a backup job's segment); default a new buffer per chunk.
   */
  constructor(
    options: ChunkerOptions,
    buffers: { allocate?: (length: number) => Uint8Array } = {},
  ) {
    this.#stream = new CdcStream(validateChunkerOptions(options), {
      copy: true,
      allocate: buffers.allocate,
    });
  }

  /** Adds bytes; returns the chunks they complete (possibly none). */
  push(data: Uint8Array): Chunk[] {
    const cuts: Cut[] = [];
    this.#stream.push(data, cuts);
    return this.#chunks(cuts);
  }

  /** Ends the stream and returns its last chunks; the chunker can then start a new stream. */
  finish(): Chunk[] {
    const cuts: Cut[] = [];
    this.#stream.finish(cuts);
    const chunks = this.#chunks(cuts);
    this.#offset = 0;
    return chunks;
  }

  /** Returns the chunker's WebAssembly memory; it cannot be used afterwards. */
  release(): void {
    this.#stream.release();
  }

  [Symbol.dispose](): void {
    this.release();
  }

  #chunks(cuts: Cut[]): Chunk[] {
    return cuts.map((cut) => {
      const chunk = { offset: this.#offset, bytes: cut.bytes!, hash: cut.hash };
      this.#offset += cut.length;
      return chunk;
    });
  }
}
