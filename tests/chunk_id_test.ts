// Keyed BLAKE3 ChunkIds and blob nonces (FORMAT.md §8.1, §8.2).
//
// Vectors: KEYED_HASH below is the first 32 bytes of `keyed_hash` for a
// selection of cases in BLAKE3-team/BLAKE3 @ 92d421dea1a8 :
// test_vectors/test_vectors.json (CC0-1.0 / Apache-2.0; the lengths 2048
// to 16384 that are multiples of 1024 from the same file @ 2f6f56f34773,
// whose cases are the same): input i is byte i mod 251, key "whats the
// Elvish word for friend". The unkeyed BLAKE3 of the JPEG's chunks comes
// from tests/vectors/fastcdc/fastcdc-expected.json.
//
// Both engines (src/chunk_id.ts) run every test: the wasm core's four-lane
// kernel, and hash-wasm, the reference; a property test checks that they
// agree on any input cut into any parts.

import { assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";
import fc from "fast-check";
import { createBLAKE3 } from "hash-wasm";
import {
  BLOB_NONCE_BYTES,
  blobNonce,
  CHUNK_ID_BYTES,
  type HasherEngine,
  KeyedHasher,
} from "../mod.ts";

const ENGINES: HasherEngine[] = ["wasm", "hash-wasm"];

const VECTOR_KEY = new TextEncoder().encode("whats the Elvish word for friend");
const KEYED_HASH: [number, string][] = [
  [0, "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26"],
  [1, "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b"],
  [1023, "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e"],
  [1024, "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4"],
  [1025, "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69"],
  [2048, "879cf1fa2ea0e79126cb1063617a05b6ad9d0b696d0d757cf053439f60a99dd1"],
  [2049, "9f29700902f7c86e514ddc4df1e3049f258b2472b6dd5267f61bf13983b78dd5"],
  [3072, "044a0e7b172a312dc02a4c9a818c036ffa2776368d7f528268d2e6b5df191770"],
  [3073, "68dede9bef00ba89e43f31a6825f4cf433389fedae75c04ee9f0cf16a427c95a"],
  [4096, "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0"],
  [4097, "00df940cd36bb9fa7cbbc3556744e0dbc8191401afe70520ba292ee3ca80abbc"],
  [5120, "2c493e48e9b9bf31e0553a22b23503c0a3388f035cece68eb438d22fa1943e20"],
  [6144, "3d6b6d21281d0ade5b2b016ae4034c5dec10ca7e475f90f76eac7138e9bc8f1d"],
  [7168, "b42835e40e9d4a7f42ad8cc04f85a963a76e18198377ed84adddeaecacc6f3fc"],
  [8192, "dc9637c8845a770b4cbf76b8daec0eebf7dc2eac11498517f08d44c8fc00d58a"],
  [8193, "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5"],
  [16384, "9e9fc4eb7cf081ea7c47d1807790ed211bfec56aa25bb7037784c13c4b707b0d"],
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

for (const engine of ENGINES) {
  Deno.test(`KeyedHasher (${engine}) matches BLAKE3's official keyed_hash vectors`, async (t) => {
    using hasher = await KeyedHasher.create(VECTOR_KEY, { engine });
    assertEquals(hasher.engine, engine);
    for (const [length, digest] of KEYED_HASH) {
      await t.step(`input_len ${length}`, () => {
        const input = vectorInput(length);
        assertEquals(hex(hasher.hash(input)), digest);
        // Byte by byte, then in pieces of 1000 and 4096: each way through the update path.
        if (length <= 1100) {
          const bytes = Array.from({ length }, (_, i) => input.subarray(i, i + 1));
          assertEquals(hex(hasher.hashParts(bytes)), digest);
        }
        for (const piece of [1000, 4096]) {
          const parts = Array.from(
            { length: Math.ceil(length / piece) },
            (_, i) => input.subarray(i * piece, (i + 1) * piece),
          );
          assertEquals(hex(hasher.hashParts(parts)), digest, `pieces of ${piece}`);
        }
      });
    }
  });
}

Deno.test("KeyedHasher: the wasm core and hash-wasm agree on any input, cut anywhere", async () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  using fast = await KeyedHasher.create(key);
  using reference = await KeyedHasher.create(key, { engine: "hash-wasm" });
  assertEquals(fast.engine, "wasm");
  fc.assert(
    fc.property(
      // Lengths around the four-chunk groups and the 256 KiB I/O region matter most.
      fc.oneof(
        fc.uint8Array({ maxLength: 20_000 }),
        fc.integer({ min: 0, max: 600_000 }).map((n) => vectorInput(n)),
      ),
      fc.array(fc.nat(), { maxLength: 6 }),
      (data, cuts) => {
        const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
        const parts = [];
        let at = 0;
        for (const point of points) {
          parts.push(data.subarray(at, point));
          at = point;
        }
        parts.push(data.subarray(at));
        assertEquals(hex(fast.hashParts(parts)), hex(reference.hash(data)));
      },
    ),
    { numRuns: 300 },
  );
  // Whole multiples of the group and of the I/O region, where the last group ends the message.
  for (const n of [4096 * 64, 4096 * 64 + 1, 4096 * 65, 4096 * 128, 3 * 1024 * 1024]) {
    const data = vectorInput(n);
    assertEquals(hex(fast.hash(data)), hex(reference.hash(data)), `${n} bytes`);
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
  using hasher = await KeyedHasher.create(crypto.getRandomValues(new Uint8Array(32)), {
    engine: "hash-wasm",
  });
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
  for (const engine of ENGINES) {
    const hasher = await KeyedHasher.create(new Uint8Array(32), { engine });
    assertThrows(() => hasher.hash("text" as unknown as Uint8Array), TypeError, "Uint8Array");
    // A refused part leaves no half-hashed message behind.
    assertEquals(hex(hasher.hash(vectorInput(1))), hex(hasher.hashParts([vectorInput(1)])));
    hasher.dispose();
    assertThrows(() => hasher.hash(new Uint8Array(1)), Error, "disposed");
  }
});
