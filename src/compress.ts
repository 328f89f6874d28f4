/**
 * zstd compression of blobs (FORMAT.md §8.2) through zstd-codec 0.1.5, an
 * emscripten build of an older zstd (between 1.4.4 and 1.5.2, judging by
 * the golden frames it decodes and refuses) whose WebAssembly memory is fixed
 * at 16 MiB (the module declares a 256-page maximum; about 11 MiB of it is
 * heap). Everything here is shaped by that limit:
 *
 * - Inputs over 256 KiB are streamed in 1 MiB slices, so the heap holds the
 *   level's workspace and one slice, never the whole blob (a one-call
 *   compression of 8 MiB already runs out of memory). zstd's streaming API
 *   does not record the content size, so the frame header is rewritten to
 *   carry it (RFC 8878 §3.1.1.1.4), and readers can bound their output.
 *   Smaller inputs are compressed in one call, which records it itself.
 * - Levels 10..19 need more workspace than the heap has, except on inputs of
 *   at most 256 KiB (where zstd shrinks its tables to the input). Larger
 *   inputs are compressed at level 9: still a valid frame, only a little
 *   larger. See `MAX_STREAMING_LEVEL`.
 * - Decompression never trusts the frame: the header and block structure are
 *   checked here first (declared size at most `maxBytes`, window at most
 *   8 MiB, at most one block per KiB of content plus 16, every block
 *   present, nothing after the frame), then the blocks are fed to zstd in
 *   batches whose worst-case output is bounded.
 *
 * Where the host has it, the system's libzstd does the same work
 * (src/_native/libzstd.ts, DESIGN.md §2's host-native stage): about ten
 * times faster on a database page, with the same level policy and the same
 * structural checks before decoding. `compressorEngine()` says which one
 * this realm uses, and `{ engine: "zstd-codec" }` insists on the reference.
 *
 * zstd-codec reports failures as `false`/`null`/negative numbers, and an
 * allocation failure aborts the emscripten runtime by throwing a string;
 * every such outcome becomes a `FormatError` (decompression) or an `Error`
 * (compression) here, and the stack pointer is restored so the module stays
 * usable.
 *
 * @module
 */

import { createRequire } from "node:module";
import { nativeCompress, nativeDecompressInto, nativeZstdAvailable } from "./_native/libzstd.ts";
import { FormatError } from "./errors.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

/** The largest blob Cofre compresses or decompresses (FORMAT.md §7.1: chunks are at most 64 MiB). */
export const MAX_BLOB_BYTES = 64 * MIB;
/** The zstd levels a repository may configure (FORMAT.md §6). */
export const MIN_ZSTD_LEVEL = 1;
/** The zstd levels a repository may configure (FORMAT.md §6). */
export const MAX_ZSTD_LEVEL = 19;
// Cofre's default level (FORMAT.md §6); repository.ts exports it as DEFAULT_ZSTD_LEVEL.
const DEFAULT_LEVEL = 3;
/**
 * The highest level used on inputs over `SMALL_INPUT_BYTES`: level 10 and
 * above need more than zstd-codec's 16 MiB heap without a size hint (measured
 * on zstd-codec 0.1.5: levels 1..9 stream any input, 10..19 abort with OOM).
 */
export const MAX_STREAMING_LEVEL = 9;
/** Inputs up to this size are compressed in one call, at any level (measured to fit the heap). */
const SMALL_INPUT_BYTES = 256 * KIB;
/** Slice size fed to the streaming compressor: bounds the heap the input occupies. */
const SLICE_BYTES = 1 * MIB;
/** The largest window a frame may ask for; RFC 8878 §3.1.1.1.2 recommends decoders support 8 MiB. */
const MAX_WINDOW_BYTES = 8 * MIB;
/** A frame may have one block per this many bytes of content, plus `EXTRA_BLOCKS` (see `readLayout`). */
const BLOCK_ALLOWANCE_BYTES = 1 * KIB;
const EXTRA_BLOCKS = 16;
/** zstd's largest block (RFC 8878 §3.1.1.2.3). */
const MAX_BLOCK_BYTES = 128 * KIB;
/**
 * Worst-case output per call into the streaming decoder (input per call is
 * capped at `SLICE_BYTES`): bounds work and memory on hostile frames.
 */
const BATCH_OUTPUT_BYTES = 1 * MIB;

/** FORMAT.md §8.2: the payload flag of a blob stored as it is. */
export const BLOB_FLAG_RAW = 0;
/** FORMAT.md §8.2: the payload flag of a blob stored as a zstd frame. */
export const BLOB_FLAG_ZSTD = 1;

/** Which implementation runs zstd: the system's libzstd, or zstd-codec (the reference). */
export type CompressorEngine = "libzstd" | "zstd-codec";

/** Options that choose an engine. */
export interface CompressorEngineOptions {
  /** "zstd-codec" insists on the reference; the default takes libzstd where it is usable. */
  engine?: CompressorEngine | "auto";
}

/** Options for `compress`. */
export interface CompressOptions extends CompressorEngineOptions {
  /** zstd level, 1..19 (default 3). Inputs over 256 KiB use at most level 9 (see the module doc). */
  level?: number;
}

/** Options for `decompress`. */
export interface DecompressOptions extends CompressorEngineOptions {
  /** The most bytes the frame may decode to: the plaintext length the pack header declares. */
  maxBytes: number;
}

function engineFor(options: CompressorEngineOptions, action: string): CompressorEngine {
  const engine = options.engine ?? "auto";
  if (engine === "zstd-codec") return engine;
  if (nativeZstdAvailable()) return "libzstd";
  if (engine === "libzstd") throw new Error(`Cannot ${action}: libzstd is not usable here`);
  return "zstd-codec";
}

/**
 * The engine `compress` and `decompress` use by default in this realm.
 *
 * @example
 * ```ts
 * import { compressorEngine } from "./compress.ts";
 * if (!["libzstd", "zstd-codec"].includes(compressorEngine())) throw new Error("unknown engine");
 * ```
 */
export function compressorEngine(): CompressorEngine {
  return engineFor({}, "compress blob");
}

/** A blob's payload body and its FORMAT.md §8.2 flag. */
export interface BlobPayload {
  /** `BLOB_FLAG_ZSTD` when `bytes` is a zstd frame, `BLOB_FLAG_RAW` when it is the plaintext. */
  flag: typeof BLOB_FLAG_RAW | typeof BLOB_FLAG_ZSTD;
  /** The zstd frame, or the plaintext itself (not a copy). */
  bytes: Uint8Array;
}

// The slice of zstd-codec's embind binding this module uses.
interface VectorU8 {
  resize(size: number, value: number): void;
  delete(): void;
}
interface StreamBinding {
  begin(level?: number): boolean;
  transform(chunk: Uint8Array, callback: (bytes: Uint8Array) => void): boolean;
  end(callback: (bytes: Uint8Array) => void): boolean;
  delete(): void;
}
interface Binding {
  ZstdCodec: new () => {
    compressBound(size: number): number;
    compress(dest: VectorU8, src: VectorU8, level: number): number;
  };
  VectorU8: new () => VectorU8;
  ZstdCompressStreamBinding: new () => StreamBinding;
  ZstdDecompressStreamBinding: new () => StreamBinding;
  cloneToVector(dest: VectorU8, src: Uint8Array): void;
  cloneAsTypedArray(src: VectorU8): Uint8Array;
  stackSave(): number;
  stackRestore(pointer: number): void;
}

let binding: Binding | undefined;
let codec: InstanceType<Binding["ZstdCodec"]> | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads zstd-codec's WebAssembly module into this realm (each Web Worker
 * loads its own), unless the engine `options` choose is libzstd, which needs
 * no loading. Idempotent: later calls return the first call's promise.
 *
 * @example
 * ```ts
 * import { loadCompressor } from "./compress.ts";
 * await loadCompressor();
 * await loadCompressor(); // no second load
 * ```
 */
export function loadCompressor(options: CompressorEngineOptions = {}): Promise<void> {
  if (engineFor(options, "load the compressor") === "libzstd") return Promise.resolve();
  loading ??= new Promise<void>((resolve, reject) => {
    try {
      const require = createRequire(import.meta.url);
      // zstd-codec's own loader (it picks the wasm build when WebAssembly works).
      // Its wrapper classes (Simple, Streaming) cannot stop a decoder early or
      // report a truncated frame, so this module drives the binding directly.
      const module = require("zstd-codec/lib/module.js") as {
        run(callback: (binding: Binding) => void): void;
      };
      module.run((loaded) => {
        binding = loaded;
        codec = new loaded.ZstdCodec();
        // The emscripten Module is a thenable: resolve(loaded) would loop forever.
        resolve();
      });
    } catch (error) {
      loading = undefined;
      reject(error);
    }
  });
  return loading;
}

function loaded(action: string): Binding {
  if (binding === undefined) {
    throw new Error(`Cannot ${action}: the compressor is not loaded; await loadCompressor() first`);
  }
  return binding;
}

/**
 * Runs a call into zstd-codec, restoring the WebAssembly stack pointer if it
 * throws (an emscripten abort unwinds without resetting it), so later calls
 * still work.
 */
function guarded<T>(zstd: Binding, call: () => T): T {
  const stack = zstd.stackSave();
  try {
    return call();
  } catch (error) {
    zstd.stackRestore(stack);
    throw error;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error).slice(0, 200);
}

function checkLevel(level: number): void {
  if (!Number.isInteger(level) || level < MIN_ZSTD_LEVEL || level > MAX_ZSTD_LEVEL) {
    throw new RangeError(
      `Cannot compress blob: level must be an integer from ${MIN_ZSTD_LEVEL} to ${MAX_ZSTD_LEVEL}, got ${level}`,
    );
  }
}

/**
 * Compresses `data` into one zstd frame that records its content size.
 * Synchronous; call `await loadCompressor()` once first.
 *
 * @example
 * ```ts
 * import { compress, decompress, loadCompressor } from "./compress.ts";
 * await loadCompressor();
 * const text = new TextEncoder().encode("hello, hello, hello, hello");
 * const frame = compress(text, { level: 3 });
 * const back = decompress(frame, { maxBytes: text.length });
 * if (new TextDecoder().decode(back) !== "hello, hello, hello, hello") throw new Error("round trip");
 * ```
 */
export function compress(data: Uint8Array, options: CompressOptions = {}): Uint8Array {
  const native = engineFor(options, "compress blob") === "libzstd";
  const level = options.level ?? DEFAULT_LEVEL;
  checkLevel(level);
  if (!(data instanceof Uint8Array)) {
    throw new TypeError("Cannot compress blob: data must be a Uint8Array");
  }
  if (data.length > MAX_BLOB_BYTES) {
    throw new RangeError(
      `Cannot compress blob: ${data.length} bytes, more than the ${MAX_BLOB_BYTES} a blob may hold`,
    );
  }
  // The same levels with either engine, so a repository's blobs do not depend on which one ran.
  const effective = data.length <= SMALL_INPUT_BYTES ? level : Math.min(level, MAX_STREAMING_LEVEL);
  const zstd = native ? undefined : loaded("compress blob");
  try {
    if (zstd === undefined) return nativeCompress(data, effective);
    return guarded(
      zstd,
      () =>
        data.length <= SMALL_INPUT_BYTES
          ? compressWhole(zstd, data, level)
          : compressStreaming(zstd, data, effective),
    );
  } catch (error) {
    throw new Error(`Cannot compress blob: zstd failed (${describe(error)})`);
  }
}

// One call: zstd sizes its tables to the input and writes the content size itself.
function compressWhole(zstd: Binding, data: Uint8Array, level: number): Uint8Array {
  const src = new zstd.VectorU8();
  const dest = new zstd.VectorU8();
  try {
    zstd.cloneToVector(src, data);
    dest.resize(codec!.compressBound(data.length), 0);
    const size = codec!.compress(dest, src, level);
    if (size < 0) throw new Error(`zstd returned ${size}`);
    dest.resize(size, 0);
    return zstd.cloneAsTypedArray(dest);
  } finally {
    src.delete();
    dest.delete();
  }
}

function compressStreaming(zstd: Binding, data: Uint8Array, level: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  // The binding reuses its output buffer between callbacks: copy each piece.
  const sink = (bytes: Uint8Array) => {
    parts.push(bytes.slice());
    length += bytes.length;
  };
  const stream = new zstd.ZstdCompressStreamBinding();
  try {
    if (!stream.begin(level)) throw new Error("begin failed");
    for (let at = 0; at < data.length; at += SLICE_BYTES) {
      if (!stream.transform(data.subarray(at, at + SLICE_BYTES), sink)) {
        throw new Error("transform failed");
      }
    }
    if (!stream.end(sink)) throw new Error("end failed");
  } finally {
    stream.delete();
  }
  const frame = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    frame.set(part, at);
    at += part.length;
  }
  return withContentSize(frame, data.length);
}

const MAGIC = 0xfd2fb528;
const FCS_FIELD_BYTES = [0, 2, 4, 8] as const;
const DICTIONARY_ID_BYTES = [0, 1, 2, 4] as const;

/**
 * Inserts a 4-byte Frame_Content_Size into a header that has none (RFC 8878
 * §3.1.1.1): zstd's streaming API leaves it out when the size is not pledged.
 * Blocks do not depend on the header, so the frame stays equivalent.
 */
function withContentSize(frame: Uint8Array, contentBytes: number): Uint8Array {
  const descriptor = frame[4]!;
  // Expect exactly what ZSTD_initCStream writes: no size, not single-segment,
  // no checksum, no dictionary; anything else is a zstd-codec change.
  if (
    new DataView(frame.buffer, frame.byteOffset).getUint32(0, true) !== MAGIC || descriptor !== 0
  ) {
    throw new Error(`unexpected streaming frame header (descriptor 0x${descriptor.toString(16)})`);
  }
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 6)); // magic, descriptor, window descriptor
  out[4] = 2 << 6; // Frame_Content_Size_flag 2: a 4-byte field
  new DataView(out.buffer).setUint32(6, contentBytes, true);
  out.set(frame.subarray(6), 10);
  return out;
}

/**
 * FORMAT.md §8.2's choice for a blob: the zstd frame when it is at least 3%
 * smaller than the plaintext, else the plaintext itself. Photos, videos and
 * voice notes are already compressed: zstd saves them a fraction of a percent
 * at the cost of decompressing on every restore, so below 3% raw is better.
 *
 * @example
 * ```ts
 * import { BLOB_FLAG_RAW, BLOB_FLAG_ZSTD, compressBlob, loadCompressor } from "./compress.ts";
 * await loadCompressor();
 * const text = compressBlob(new TextEncoder().encode("ab".repeat(1000)), { level: 3 });
 * if (text.flag !== BLOB_FLAG_ZSTD) throw new Error("text should compress");
 * const noise = compressBlob(crypto.getRandomValues(new Uint8Array(1000)), { level: 3 });
 * if (noise.flag !== BLOB_FLAG_RAW) throw new Error("random bytes should stay raw");
 * ```
 */
export function compressBlob(plaintext: Uint8Array, options: CompressOptions = {}): BlobPayload {
  const frame = compress(plaintext, options);
  // At least 3% smaller: frame ≤ 0.97 × plaintext, in integers.
  if (frame.length * 100 <= plaintext.length * 97) return { flag: BLOB_FLAG_ZSTD, bytes: frame };
  return { flag: BLOB_FLAG_RAW, bytes: plaintext };
}

/** What the header and block walk learn about a frame. */
interface FrameLayout {
  contentBytes: number;
  /** Where each batch of whole blocks ends; the last ends the frame (checksum included). */
  batchEnds: number[];
}

function fail(reason: string): never {
  throw new FormatError(`Cannot decompress blob: ${reason}`);
}

/**
 * Checks a frame's structure (RFC 8878 §3.1.1) without decoding it: the
 * header, every block header and length, the checksum's presence, and that
 * nothing follows. Cofre's frames always declare their content size; one that
 * does not is refused, since the reader could not bound it beforehand.
 */
function readLayout(frame: Uint8Array, maxBytes: number): FrameLayout {
  if (frame.length < 6) fail(`${frame.length} bytes, too short for a zstd frame header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint32(0, true) !== MAGIC) fail("no zstd magic number");
  const descriptor = frame[4]!;
  const fcsFlag = descriptor >> 6;
  const singleSegment = (descriptor >> 5) & 1;
  if ((descriptor >> 3) & 1) fail("the frame header's reserved bit is set");
  const hasChecksum = (descriptor >> 2) & 1;
  const dictionaryBytes = DICTIONARY_ID_BYTES[descriptor & 3]!;
  const fcsBytes = fcsFlag === 0 && singleSegment ? 1 : FCS_FIELD_BYTES[fcsFlag]!;
  let at = 5;
  let windowBytes = 0;
  if (!singleSegment) {
    const exponent = frame[at]! >> 3;
    const mantissa = frame[at]! & 7;
    const base = 2 ** (10 + exponent);
    windowBytes = base + (base / 8) * mantissa;
    at += 1;
  }
  const headerEnd = at + dictionaryBytes + fcsBytes;
  if (frame.length < headerEnd) fail("truncated frame header");
  let dictionaryId = 0;
  for (let i = dictionaryBytes - 1; i >= 0; i--) dictionaryId = dictionaryId * 256 + frame[at + i]!;
  // Cofre never uses dictionaries; an id of 0 means none (RFC 8878 §3.1.1.1.3).
  if (dictionaryId !== 0) fail(`the frame needs dictionary ${dictionaryId}`);
  at += dictionaryBytes;
  if (fcsBytes === 0) fail("the frame does not declare its content size");
  let contentBytes = 0;
  for (let i = fcsBytes - 1; i >= 0; i--) contentBytes = contentBytes * 256 + frame[at + i]!;
  if (fcsBytes === 2) contentBytes += 256;
  at += fcsBytes;
  if (contentBytes > maxBytes) {
    fail(`the frame declares ${contentBytes} bytes, more than the ${maxBytes} expected`);
  }
  if (singleSegment) windowBytes = contentBytes;
  if (windowBytes > MAX_WINDOW_BYTES) {
    fail(`the frame asks for a ${windowBytes}-byte window, more than ${MAX_WINDOW_BYTES}`);
  }
  const blockMaximum = Math.min(windowBytes, MAX_BLOCK_BYTES);
  // Every call into the decoder costs tens of microseconds, and a block that
  // decodes to nothing (or to little, while it could decode to 128 KiB) makes
  // batches short: millions of tiny blocks would take minutes. Encoders emit
  // blocks of up to 128 KiB, and 1 KiB only when asked to; allow that much.
  const maxBlocks = Math.ceil(contentBytes / BLOCK_ALLOWANCE_BYTES) + EXTRA_BLOCKS;
  let blocks = 0;
  const batchEnds: number[] = [];
  let batchOutput = 0;
  let batchStart = 0;
  for (let last = 0; !last;) {
    if (frame.length < at + 3) fail("truncated: a block header is missing");
    const header = frame[at]! | (frame[at + 1]! << 8) | (frame[at + 2]! << 16);
    last = header & 1;
    const type = (header >> 1) & 3;
    const size = header >>> 3;
    if (type === 3) fail(`reserved block type at offset ${at}`);
    if (++blocks > maxBlocks) {
      fail(`more than ${maxBlocks} blocks for ${contentBytes} bytes of content`);
    }
    if (size > blockMaximum) {
      fail(`a ${size}-byte block at offset ${at}, more than the ${blockMaximum}-byte maximum`);
    }
    const contentSize = type === 1 ? 1 : size; // an RLE block stores one byte
    const output = type === 2 ? blockMaximum : size;
    const batchFull = batchOutput + output > BATCH_OUTPUT_BYTES ||
      at + 3 + contentSize - batchStart > SLICE_BYTES;
    if (at > batchStart && batchFull) {
      batchEnds.push(at);
      batchStart = at;
      batchOutput = 0;
    }
    batchOutput += output;
    at += 3 + contentSize;
    if (frame.length < at) fail("truncated: a block is cut short");
  }
  if (hasChecksum) {
    at += 4;
    if (frame.length < at) fail("truncated: the content checksum is missing");
  }
  if (frame.length !== at) fail(`${frame.length - at} bytes after the end of the frame`);
  batchEnds.push(at);
  return { contentBytes, batchEnds };
}

/**
 * Decompresses one zstd frame, refusing with `FormatError` anything that is
 * not a whole, valid frame declaring at most `maxBytes` of content. Never
 * allocates more than `maxBytes` plus a bounded amount, and never hangs.
 *
 * @example
 * ```ts
 * import { compress, decompress, FormatError, loadCompressor } from "../mod.ts";
 * await loadCompressor();
 * const frame = compress(new Uint8Array(1 << 20), { level: 1 });
 * try {
 *   decompress(frame, { maxBytes: 1000 });
 *   throw new Error("should have refused");
 * } catch (error) {
 *   if (!(error instanceof FormatError)) throw error;
 * }
 * ```
 */
export function decompress(frame: Uint8Array, options: DecompressOptions): Uint8Array {
  const native = engineFor(options, "decompress blob") === "libzstd";
  const { maxBytes } = options;
  if (!(frame instanceof Uint8Array)) {
    throw new TypeError("Cannot decompress blob: frame must be a Uint8Array");
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 0 || maxBytes > MAX_BLOB_BYTES) {
    throw new RangeError(
      `Cannot decompress blob: maxBytes must be an integer from 0 to ${MAX_BLOB_BYTES}, got ${maxBytes}`,
    );
  }
  const { contentBytes, batchEnds } = readLayout(frame, maxBytes);
  const out = new Uint8Array(contentBytes);
  if (native) {
    // The output is exactly the declared size: libzstd stops there, and says so.
    const written = nativeDecompressInto(frame, out);
    if (written < 0) fail("corrupt zstd data, or more than the content size it declares");
    if (written !== contentBytes) {
      fail(`the frame decodes to ${written} bytes, not the ${contentBytes} it declares`);
    }
    return out;
  }
  const zstd = loaded("decompress blob");
  let written = 0;
  let overflow = false;
  const sink = (bytes: Uint8Array) => {
    // The decoder cannot be stopped from a callback; it can only be ignored,
    // and each batch's output is bounded by BATCH_OUTPUT_BYTES.
    if (overflow || written + bytes.length > contentBytes) {
      overflow = true;
      return;
    }
    out.set(bytes, written);
    written += bytes.length;
  };
  let ok = true;
  try {
    guarded(zstd, () => {
      const stream = new zstd.ZstdDecompressStreamBinding();
      try {
        ok = stream.begin();
        let start = 0;
        for (const end of batchEnds) {
          if (!ok || overflow) break;
          ok = stream.transform(frame.subarray(start, end), sink);
          start = end;
        }
        // end() only flushes input the binding still buffers; its result matters too.
        if (ok && !overflow) ok = stream.end(sink);
      } finally {
        stream.delete();
      }
    });
  } catch (error) {
    fail(`zstd failed (${describe(error)})`);
  }
  if (!ok) fail("corrupt zstd data");
  if (overflow) fail(`the frame decodes to more than the ${contentBytes} bytes it declares`);
  // zstd-codec's stream reports success on a frame that stops early: count.
  if (written !== contentBytes) {
    fail(`the frame decodes to ${written} bytes, not the ${contentBytes} it declares`);
  }
  return out;
}
