// Keyed BLAKE3 ChunkIds and blob nonces (FORMAT.md §8.1, §8.2).
//
// Vectors: KEYED_HASH below is the first 32 bytes of `keyed_hash` for a
// selection of cases in BLAKE3-team/BLAKE3 @ 92d421dea1a8 :
// test_vectors/test_vectors.json (CC0-1.0 / Apache-2.0): input i is byte
// i mod 251, key "whats the Elvish word for friend". The unkeyed BLAKE3 of
// the JPEG's chunks comes from tests/vectors/fastcdc/fastcdc-expected.json.

import { assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";
import fc from "fast-check";
import { createBLAKE3 } from "hash-wasm";
import { BLOB_NONCE_BYTES, blobNonce, CHUNK_ID_BYTES, KeyedHasher } from "../mod.ts";

const VECTOR_KEY = new TextEncoder().encode("whats the Elvish word for friend");
const KEYED_HASH: [number, string][] = [
  [0, "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26"],
  [1, "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b"],
  [1023, "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e"],
  [1024, "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4"],
  [1025, "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69"],
  [2049, "9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5"],
  [3073, "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a"],
  [4097, "00df940cd36bb9fa7cbbc3556744e0dbc8191401afe70520ba292ee3ca80abbc"],
  [8193, "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5"],
  [31744, "efa53b389ab67c593dba624d898d0f7353ab99e4ac9d42302ee64cbf9939a419"],
  [102400, "1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7"],
];

const VECTORS = new URL("./vectors/", import.meta.url);
const jpeg = await Deno.readFile(new URL("fastcdc/SekienAkashita.jpg", VECTORS));
const expected = JSON.parse(
  await Deno.readTextFile(new URL("fastcdc/fastcdc-expected.json", VECTORS)),
) as { cases: { input: string; chunks: { offset: number; length: number; blake3?: string }[] }[] };

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function vectorInput(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => i % 251);
}

Deno.test("KeyedHasher matches BLAKE3's official keyed_hash vectors", async (t) => {
  using hasher = await KeyedHasher.create(VECTOR_KEY);
  for (const [length, digest] of KEYED_HASH) {
    await t.step(`input_len ${length}`, () => {
      const input = vectorInput(length);
      assertEquals(hex(hasher.hash(input)), digest);
      // Byte by byte, through the same update path.
      const bytes = Array.from(
        { length: Math.min(length, 1100) },
        (_, i) => input.subarray(i, i + 1),
      );
      if (length <= 1100) assertEquals(hex(hasher.hashParts(bytes)), digest);
    });
  }
});

Deno.test("hash-wasm's unkeyed BLAKE3 reproduces the JPEG chunks' BLAKE3 in fastcdc-expected.json", async () => {
  const plain = await createBLAKE3(256);
  let checked = 0;
  for (const c of expected.cases.filter((c) => c.input === "SekienAkashita.jpg")) {
    for (const chunk of c.chunks) {
      if (chunk.blake3 === undefined) continue;
      const bytes = jpeg.subarray(chunk.offset, chunk.offset + chunk.length);
      plain.init();
      for (let at = 0; at < bytes.length; at += 4099) plain.update(bytes.subarray(at, at + 4099));
      assertEquals(plain.digest("hex"), chunk.blake3);
      checked++;
    }
  }
  assertEquals(checked > 5, true, `${checked} chunks checked`);
});

Deno.test("KeyedHasher.hashParts() split at any point equals hash()", async () => {
  using hasher = await KeyedHasher.create(crypto.getRandomValues(new Uint8Array(32)));
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 9000 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      (data, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
        const parts = [];
        let at = 0;
        for (const point of points) {
          parts.push(data.subarray(at, point));
          at = point;
        }
        parts.push(data.subarray(at));
        assertEquals(hasher.hashParts(parts), hasher.hash(data));
      },
    ),
    { numRuns: 200 },
  );
  const data = vectorInput(3000);
  const whole = hasher.hash(data);
  for (let split = 0; split <= data.length; split += 7) {
    assertEquals(hasher.hashParts([data.subarray(0, split), data.subarray(split)]), whole);
  }
});

Deno.test("KeyedHasher ids depend on the key, and a caller's wipe of its key changes nothing", async () => {
  const key = VECTOR_KEY.slice();
  using hasher = await KeyedHasher.create(key);
  key.fill(0);
  assertEquals(hex(hasher.hash(vectorInput(1))), KEYED_HASH[1]![1]);
  using other = await KeyedHasher.create(new Uint8Array(32));
  assertNotEquals(other.hash(vectorInput(1)), hasher.hash(vectorInput(1)));
  assertEquals(hasher.hash(new Uint8Array(5)).length, CHUNK_ID_BYTES);
});

Deno.test("blobNonce() is the first 12 bytes of the keyed hash of the payload", async () => {
  using hasher = await KeyedHasher.create(VECTOR_KEY);
  const nonce = blobNonce(hasher, vectorInput(1025));
  assertEquals(nonce.length, BLOB_NONCE_BYTES);
  assertEquals(hex(nonce), KEYED_HASH[4]![1].slice(0, 24));
});

Deno.test("KeyedHasher refuses bad keys and use after dispose()", async () => {
  for (const length of [0, 16, 31, 33, 64]) {
    let error: unknown;
    try {
      await KeyedHasher.create(new Uint8Array(length));
    } catch (e) {
      error = e;
    }
    assertEquals(error instanceof RangeError, true);
  }
  const hasher = await KeyedHasher.create(new Uint8Array(32));
  hasher.dispose();
  assertThrows(() => hasher.hash(new Uint8Array(1)), Error, "disposed");
});
