// The host half of the FastCDC kernel (assembly/fastcdc.ts): keeps the stream
// window in wasm memory, feeds `cdc_cut` only with what CHUNKING.md allows it
// to decide on (at least `max` bytes, or the end of the stream), and copies
// chunks out.

import { acquireRegion, core, memoryBytes, type Region, releaseRegion, STATUS_OK } from "./core.ts";

/** Parameters already validated by src/chunker.ts. */
export interface CdcParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
  normalization: number;
  seed: bigint;
}

/** One chunk found by the kernel. */
export interface Cut {
  /** Chunk length in bytes. */
  length: number;
  /** The rolling hash at the cut (0n for a chunk of at most `minSize` bytes). */
  hash: bigint;
  /** A copy of the chunk's bytes, when the stream was made with `copy: true`. */
  bytes?: Uint8Array;
}

const U32 = 0xffff_ffffn;

// A chunker dropped without `release()` still gives its regions back.
const orphans = new FinalizationRegistry<Region[]>((regions) => {
  for (const region of regions) releaseRegion(region);
});

/**
 * A FastCDC stream over a window of `2 × maxSize` bytes of wasm memory. After
 * each push fewer than `maxSize` bytes stay pending, so compaction always
 * frees at least half the window.
 */
export class CdcStream {
  readonly #context: Region;
  readonly #window: Region;
  readonly #max: number;
  readonly #copy: boolean;
  readonly #allocate: (length: number) => Uint8Array;
  #start = 0;
  #end = 0;
  #released = false;

  /** `allocate`: where copies go (default a new buffer each). */
  constructor(
    params: CdcParams,
    options: { copy: boolean; allocate?: (length: number) => Uint8Array },
  ) {
    this.#max = params.maxSize;
    this.#copy = options.copy;
    this.#allocate = options.allocate ?? ((length) => new Uint8Array(length));
    this.#context = acquireRegion(core.cdc_context_bytes());
    this.#window = acquireRegion(2 * params.maxSize);
    const seed = BigInt.asUintN(64, params.seed);
    const status = core.cdc_init(
      this.#context.ptr,
      params.minSize,
      params.avgSize,
      params.maxSize,
      params.normalization,
      Number(seed & U32),
      Number(seed >> 32n),
    );
    if (status !== STATUS_OK) {
      this.release();
      throw new RangeError(`Cannot configure the chunker: the core refused it (status ${status})`);
    }
    orphans.register(this, [this.#context, this.#window], this);
  }

  /** Adds bytes to the stream and appends every chunk they complete to `cuts`. */
  push(data: Uint8Array, cuts: Cut[]): void {
    this.#assertLive();
    const capacity = this.#window.bytes;
    let offset = 0;
    while (offset < data.length) {
      if (this.#end === capacity) this.#compact();
      const n = Math.min(data.length - offset, capacity - this.#end);
      memoryBytes().set(data.subarray(offset, offset + n), this.#window.ptr + this.#end);
      this.#end += n;
      offset += n;
      while (this.#end - this.#start >= this.#max) this.#cut(cuts);
    }
  }

  /** Ends the stream: appends the remaining chunks and makes the stream ready for another. */
  finish(cuts: Cut[]): void {
    this.#assertLive();
    while (this.#end > this.#start) this.#cut(cuts);
    this.#start = 0;
    this.#end = 0;
  }

  /** Zeroes and returns the wasm regions; the stream cannot be used afterwards. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    orphans.unregister(this);
    releaseRegion(this.#context);
    releaseRegion(this.#window);
  }

  #cut(cuts: Cut[]): void {
    const ctx = this.#context.ptr;
    const ptr = this.#window.ptr + this.#start;
    const length = core.cdc_cut(ctx, ptr, this.#end - this.#start);
    const hash = (BigInt(core.cdc_hash_hi(ctx) >>> 0) << 32n) | BigInt(core.cdc_hash_lo(ctx) >>> 0);
    const cut: Cut = { length, hash };
    if (this.#copy) {
      cut.bytes = this.#allocate(length);
      cut.bytes.set(memoryBytes().subarray(ptr, ptr + length));
    }
    cuts.push(cut);
    this.#start += length;
  }

  #compact(): void {
    const base = this.#window.ptr;
    memoryBytes().copyWithin(base, base + this.#start, base + this.#end);
    this.#end -= this.#start;
    this.#start = 0;
  }

  #assertLive(): void {
    if (this.#released) throw new TypeError("Cannot use the chunker: it was released");
  }
}
