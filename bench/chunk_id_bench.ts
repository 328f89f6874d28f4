// Keyed BLAKE3 (hash-wasm), the ChunkId hash, next to WebCrypto SHA-256 on
// the same 16 MiB of random bytes, cut in 1 MiB (the average chunk) and
// 64 KiB pieces. MB/s = 16.78 MB / the average time.

import { KeyedHasher, randomBytes } from "../mod.ts";

const SIZE_BYTES = 16 * 1024 * 1024;
const data = randomBytes(SIZE_BYTES);
const hasher = await KeyedHasher.create(crypto.getRandomValues(new Uint8Array(32)));

for (const [label, pieceBytes] of [["1 MiB", 1024 * 1024], ["64 KiB", 64 * 1024]] as const) {
  const pieces: Uint8Array<ArrayBuffer>[] = [];
  for (let at = 0; at < SIZE_BYTES; at += pieceBytes) {
    pieces.push(data.subarray(at, at + pieceBytes));
  }
  Deno.bench({
    name: `SHA-256 WebCrypto, 16 MiB in ${label} pieces`,
    group: `hash-${label}`,
    baseline: true,
    async fn() {
      for (const piece of pieces) await crypto.subtle.digest("SHA-256", piece);
    },
  });
  Deno.bench({
    name: `keyed BLAKE3 hash-wasm, 16 MiB in ${label} pieces`,
    group: `hash-${label}`,
    fn() {
      for (const piece of pieces) hasher.hash(piece);
    },
  });
}
