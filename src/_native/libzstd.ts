// zstd through the system's libzstd (1.4 or later), a host-native stage
// beside zstd-codec (DESIGN.md §2). zstd-codec builds a new compression
// context for every call and runs as emscripten wasm: a 4 KiB page of the
// peers corpus's chat database costs it about 73 µs to compress at level 3,
// and libzstd, with one context per direction for the realm's lifetime,
// about 33 µs (most of it entropy tables built per block); decompressing
// a page is 7 times faster. Frames are
// standard zstd either way (RFC 8878): each engine reads the other's, which
// tests/native_test.ts checks; the compressed bytes may differ between zstd
// versions, which FORMAT.md §8.2 already allows (a compressed blob's nonce
// is derived from its payload, not from its id).
//
// src/compress.ts checks every frame's structure and bounds before it gets
// here, and gives the decoder an output exactly as large as the frame
// declares: libzstd cannot write past it.

import { equalBytes } from "../_bytes.ts";
import { openLibrary } from "./host.ts";

const MIB = 1024 * 1024;
/** Outputs up to this size reuse one buffer; larger ones get their own. */
const REUSED_OUTPUT_BYTES = 8 * MIB;

const SYMBOLS = {
  ZSTD_versionNumber: { parameters: [], result: "u32" },
  ZSTD_createCCtx: { parameters: [], result: "pointer" },
  ZSTD_createDCtx: { parameters: [], result: "pointer" },
  ZSTD_compressBound: { parameters: ["usize"], result: "usize" },
  // (cctx, dst, dstCapacity, src, srcSize, level): one frame that records its content size
  ZSTD_compressCCtx: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize", "i32"],
    result: "usize",
  },
  // (dctx, dst, dstCapacity, src, srcSize)
  ZSTD_decompressDCtx: {
    parameters: ["pointer", "buffer", "usize", "buffer", "usize"],
    result: "usize",
  },
  ZSTD_isError: { parameters: ["usize"], result: "u32" },
} as const;

type Library = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

interface Loaded {
  lib: Library;
  cctx: Deno.PointerObject;
  dctx: Deno.PointerObject;
}

let loaded: Loaded | null | undefined;
let output = new Uint8Array(0);

/** libzstd 1.4.0: the first version whose one-shot API this module relies on as it stands. */
const MIN_VERSION = 10400;

function load(): Loaded | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  const library = openLibrary("libzstd.so.1", SYMBOLS);
  if (library === null) return null;
  const lib = library.symbols;
  const cctx = lib.ZSTD_versionNumber() >= MIN_VERSION ? lib.ZSTD_createCCtx() : null;
  const dctx = cctx === null ? null : lib.ZSTD_createDCtx();
  if (cctx === null || dctx === null || !knownAnswer({ lib, cctx, dctx })) {
    // The contexts (if any) go with the process; this happens at most once.
    library.close();
    return null;
  }
  loaded = { lib, cctx, dctx };
  return loaded;
}

/** A round trip of a repetitive text that must shrink, before any data goes through. */
function knownAnswer(candidate: Loaded): boolean {
  try {
    const text = new TextEncoder().encode("cofre zstd known answer ".repeat(64));
    const frame = compressWith(candidate, text, 3);
    if (frame.length >= text.length / 4) return false;
    const back = new Uint8Array(text.length);
    return decompressWith(candidate, frame, back) === text.length && equalBytes(back, text);
  } catch {
    return false;
  }
}

/** libzstd's version as ZSTD_versionNumber gives it (10504 for 1.5.4), or 0 when it is not usable. */
export function nativeZstdVersion(): number {
  return load()?.lib.ZSTD_versionNumber() ?? 0;
}

/** True when libzstd is usable here (loads it on first call). */
export function nativeZstdAvailable(): boolean {
  return load() !== null;
}

function size(result: number | bigint): number {
  return typeof result === "bigint" ? Number(result) : result;
}

function compressWith(candidate: Loaded, data: Uint8Array, level: number): Uint8Array {
  const { lib, cctx } = candidate;
  const bound = size(lib.ZSTD_compressBound(BigInt(data.length)));
  if (bound <= REUSED_OUTPUT_BYTES && output.length < bound) output = new Uint8Array(bound);
  const target = bound <= REUSED_OUTPUT_BYTES ? output : new Uint8Array(bound);
  const result = lib.ZSTD_compressCCtx(
    cctx,
    target,
    BigInt(target.length),
    data,
    BigInt(data.length),
    level,
  );
  if (lib.ZSTD_isError(result)) throw new Error("libzstd could not compress");
  const frame = target.slice(0, size(result));
  // The reused buffer held a compressed form of the plaintext: leave none behind.
  if (target === output) output.fill(0, 0, frame.length);
  return frame;
}

function decompressWith(candidate: Loaded, frame: Uint8Array, out: Uint8Array): number {
  const { lib, dctx } = candidate;
  const result = lib.ZSTD_decompressDCtx(
    dctx,
    out,
    BigInt(out.length),
    frame,
    BigInt(frame.length),
  );
  return lib.ZSTD_isError(result) ? -1 : size(result);
}

/** One zstd frame of `data` at `level`, recording its content size. */
export function nativeCompress(data: Uint8Array, level: number): Uint8Array {
  const candidate = load();
  if (candidate === null) throw new Error("libzstd is not available");
  return compressWith(candidate, data, level);
}

/**
 * Decodes one frame into `out` (exactly the size the frame declares);
 * returns the bytes written, or -1 when libzstd finds the frame corrupt.
 */
export function nativeDecompressInto(frame: Uint8Array, out: Uint8Array): number {
  const candidate = load();
  if (candidate === null) throw new Error("libzstd is not available");
  return decompressWith(candidate, frame, out);
}
