// Keyed BLAKE3, the ChunkId hash, in both engines (src/chunk_id.ts): Cofre's
// wasm core (four chunks at once in SIMD lanes) and hash-wasm (the
// reference), next to WebCrypto SHA-256, on the same 16 MiB of random bytes
// cut in 1 MiB (the average chunk), 64 KiB and 4 KiB (a database page)
// pieces. MB/s = 16.78 MB / the average time.

import { KeyedHasher, randomBytes } from "../mod.ts";

const SIZE_BYTES = 16 * 1024 * 1024;
const data = randomBytes(SIZE_BYTES);
const key = crypto.getRandomValues(new Uint8Array(32));
const wasm = await KeyedHasher.create(key);
const reference = await KeyedHasher.create(key, { engine: "hash-wasm" });

const sizes = [["1 MiB", 1024 * 1024], ["64 KiB", 64 * 1024], ["4 KiB", 4 * 1024]] as const;
for (const [label, pieceBytes] of sizes) {
  const pieces: Uint8Array<ArrayBuffer>[] = [];
  for (let at = 0; at < SIZE_BYTES; at += pieceBytes) {
    pieces.push(data.subarray(at, at + pieceBytes));
  }
  Deno.bench({
    name: `SHA-256 WebCrypto, 16 MiB in ${label} pieces`,
    group: `hash-${label}`,
    async fn() {
      for (const piece of pieces) await crypto.subtle.digest("SHA-256", piece);
    },
  });
  Deno.bench({
    name: `keyed BLAKE3 hash-wasm, 16 MiB in ${label} pieces`,
    group: `hash-${label}`,
    baseline: true,
    fn() {
      for (const piece of pieces) reference.hash(piece);
    },
  });
  Deno.bench({
    name: `keyed BLAKE3 wasm core, 16 MiB in ${label} pieces`,
    group: `hash-${label}`,
    fn() {
      for (const piece of pieces) wasm.hash(piece);
    },
  });
}
