// zstd through zstd-codec (the reference compressor) and the system's
// libzstd (the host-native stage, src/_native/libzstd.ts, where it is
// usable) next to node:zlib's zstd (libzstd built into Deno), at levels 1,
// 3 and 9, on 16 MiB of chat-like JSON text and 16 MiB of random bytes, in
// 1 MiB pieces as the pipeline compresses chunk by chunk, and in 4 KiB
// pieces as a database's pages go (FORMAT.md §7.4). MB/s = 16.78 MB / the
// average time.
// zstd-codec's 16 MiB heap caps levels above 9 on inputs over 256 KiB
// (src/compress.ts), which is why 19 is not here.

import zlib from "node:zlib";
import {
  compress,
  type CompressorEngine,
  compressorEngine,
  decompress,
  loadCompressor,
  randomBytes,
  textLikeBytes,
} from "../mod.ts";

await loadCompressor({ engine: "zstd-codec" });
const engines: CompressorEngine[] = [
  "zstd-codec",
  ...(compressorEngine() === "libzstd" ? ["libzstd" as const] : []),
];

const SIZE_BYTES = 16 * 1024 * 1024;
const text = textLikeBytes(SIZE_BYTES);
const inputs = {
  text: { data: text, pieceBytes: 1024 * 1024 },
  random: { data: randomBytes(SIZE_BYTES), pieceBytes: 1024 * 1024 },
  pages: { data: text, pieceBytes: 4096 },
};

const z = zlib as unknown as {
  zstdCompressSync?: (data: Uint8Array, options: object) => Uint8Array;
  zstdDecompressSync?: (data: Uint8Array) => Uint8Array;
  constants: Record<string, number>;
};
const hostZstd = typeof z.zstdCompressSync === "function";

function pieces(data: Uint8Array, pieceBytes: number): Uint8Array[] {
  const out = [];
  for (let at = 0; at < data.length; at += pieceBytes) out.push(data.subarray(at, at + pieceBytes));
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

for (const [kind, { data, pieceBytes }] of Object.entries(inputs)) {
  const parts = pieces(data, pieceBytes);
  for (const level of [1, 3, 9]) {
    const hostFrames = parts.map((piece) => hostCompress(piece, level));
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
      name: `${baselineName} decompress level ${level}, 16 MiB ${kind}`,
      group: `decompress-${kind}-${level}`,
      baseline: true,
      n: 5,
      warmup: 1,
      fn() {
        for (const frame of hostFrames) hostDecompress(frame);
      },
    });
    for (const engine of engines) {
      const frames = parts.map((piece) => compress(piece, { level, engine }));
      const ratio = frames.reduce((n, f) => n + f.length, 0) / data.length;
      Deno.bench({
        name: `${engine} compress level ${level}, 16 MiB ${kind} (ratio ${ratio.toFixed(3)})`,
        group: `compress-${kind}-${level}`,
        n: 3,
        warmup: 1,
        fn() {
          for (const piece of parts) compress(piece, { level, engine });
        },
      });
      Deno.bench({
        name: `${engine} decompress level ${level}, 16 MiB ${kind}`,
        group: `decompress-${kind}-${level}`,
        n: 5,
        warmup: 1,
        fn() {
          for (const frame of frames) decompress(frame, { maxBytes: pieceBytes, engine });
        },
      });
    }
  }
}
