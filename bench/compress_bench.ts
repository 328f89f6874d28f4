// zstd through zstd-codec (the reference compressor) next to node:zlib's
// zstd (libzstd built into Deno), at levels 1, 3 and 9, on 16 MiB of
// chat-like JSON text and 16 MiB of random bytes, in 1 MiB pieces as the
// pipeline compresses chunk by chunk. MB/s = 16.78 MB / the average time.
// zstd-codec's 16 MiB heap caps levels above 9 on inputs over 256 KiB
// (src/compress.ts), which is why 19 is not here.

import zlib from "node:zlib";
import { compress, decompress, loadCompressor, randomBytes, textLikeBytes } from "../mod.ts";

await loadCompressor();

const SIZE_BYTES = 16 * 1024 * 1024;
const PIECE_BYTES = 1024 * 1024;
const inputs = { text: textLikeBytes(SIZE_BYTES), random: randomBytes(SIZE_BYTES) };

const z = zlib as unknown as {
  zstdCompressSync?: (data: Uint8Array, options: object) => Uint8Array;
  zstdDecompressSync?: (data: Uint8Array) => Uint8Array;
  constants: Record<string, number>;
};
const hostZstd = typeof z.zstdCompressSync === "function";

function pieces(data: Uint8Array): Uint8Array[] {
  const out = [];
  for (let at = 0; at < data.length; at += PIECE_BYTES) {
    out.push(data.subarray(at, at + PIECE_BYTES));
  }
  return out;
}

function hostCompress(piece: Uint8Array, level: number): Uint8Array {
  if (hostZstd) {
    return z.zstdCompressSync!(piece, {
      params: { [z.constants.ZSTD_c_compressionLevel!]: level },
    });
  }
  return zlib.gzipSync(piece, { level: 6 });
}

function hostDecompress(frame: Uint8Array): Uint8Array {
  return hostZstd ? z.zstdDecompressSync!(frame) : zlib.gunzipSync(frame);
}

const baselineName = hostZstd ? "node:zlib zstd" : "node:zlib gzip -6 (no zstd in node:zlib)";

for (const [kind, data] of Object.entries(inputs)) {
  const parts = pieces(data);
  for (const level of [1, 3, 9]) {
    const frames = parts.map((piece) => compress(piece, { level }));
    const hostFrames = parts.map((piece) => hostCompress(piece, level));
    const ratio = frames.reduce((n, f) => n + f.length, 0) / data.length;
    const hostRatio = hostFrames.reduce((n, f) => n + f.length, 0) / data.length;
    Deno.bench({
      name: `${baselineName} compress level ${level}, 16 MiB ${kind} (ratio ${
        hostRatio.toFixed(3)
      })`,
      group: `compress-${kind}-${level}`,
      baseline: true,
      n: 3,
      warmup: 1,
      fn() {
        for (const piece of parts) hostCompress(piece, level);
      },
    });
    Deno.bench({
      name: `zstd-codec compress level ${level}, 16 MiB ${kind} (ratio ${ratio.toFixed(3)})`,
      group: `compress-${kind}-${level}`,
      n: 3,
      warmup: 1,
      fn() {
        for (const piece of parts) compress(piece, { level });
      },
    });
    Deno.bench({
      name: `${baselineName} decompress level ${level}, 16 MiB ${kind}`,
      group: `decompress-${kind}-${level}`,
      baseline: true,
      n: 5,
      warmup: 1,
      fn() {
        for (const frame of hostFrames) hostDecompress(frame);
      },
    });
    Deno.bench({
      name: `zstd-codec decompress level ${level}, 16 MiB ${kind}`,
      group: `decompress-${kind}-${level}`,
      n: 5,
      warmup: 1,
      fn() {
        for (const frame of frames) decompress(frame, { maxBytes: PIECE_BYTES });
      },
    });
  }
}
