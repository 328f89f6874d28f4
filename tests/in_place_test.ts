// Chunks sealed and opened where they lie, in reused buffers
// (src/_buffer_pool.ts), and packs laid out in a reused arena (src/pack.ts):
// the bytes must be exactly those of the allocating paths.

import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";
import fc from "fast-check";
import { randomBlobKeys } from "./_blob_keys.ts";
import { AEAD_ENGINES, aeadWith } from "./_engines.ts";
import { pseudoRandomBytes } from "./_data.ts";
import {
  AdaptiveBlobCrypto,
  AesGcm as AesGcmAny,
  AuthenticationError,
  FormatError,
  InlineBlobCrypto,
  MemoryStorage,
  PackBuilder,
  readPackHeader,
  WorkerBlobCrypto,
} from "../mod.ts";
import { concatBytes, equalBytes, toHex } from "../src/_bytes.ts";
import { discard, markOwned, ownsBuffer, ROOM_AFTER, ROOM_BEFORE } from "../src/_buffer_pool.ts";
import { GarbageMeter } from "../src/_gc.ts";
import { openBlob, sealBlob } from "../src/blob.ts";
import { PACK_ARENA_BYTES } from "../src/pack.ts";
import { writeAllSync, writeParts } from "../src/_temp_file.ts";
import { tempDirs } from "./_temp_dir.ts";

const withDir = tempDirs("cofre-in-place-test-");

/**
 * A view of `length` bytes with room around it to be sealed in place (as a
 * backup job's segment slot), its buffer marked as the view's own.
 */
function roomy(length: number): Uint8Array {
  const view = new Uint8Array(ROOM_BEFORE + length + ROOM_AFTER).subarray(
    ROOM_BEFORE,
    ROOM_BEFORE + length,
  );
  markOwned(view);
  return view;
}

for (const engine of AEAD_ENGINES) {
  const { AesGcm } = aeadWith(engine);

  Deno.test(`openInto() opens in place, at or before the ciphertext, as open() does [${engine}]`, () => {
    using aead = new AesGcm(crypto.getRandomValues(new Uint8Array(32)));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200_000 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.nat({ max: 20 }),
        fc.nat({ max: 20 }),
        (plaintext, aad, before, shift) => {
          const nonce = crypto.getRandomValues(new Uint8Array(12));
          const sealed = aead.seal(nonce, plaintext, aad);
          const at = before + shift;
          const buffer = new Uint8Array(at + sealed.length);
          buffer.set(sealed, at);
          // The plaintext lands `shift` bytes before its ciphertext, in the same buffer.
          const n = aead.openInto(nonce, buffer.subarray(at), aad, buffer, before);
          assertEquals(n, plaintext.length);
          assertEquals(buffer.subarray(before, before + n), plaintext);
        },
      ),
      { numRuns: 120 },
    );
  });

  Deno.test(`openInto() writes nothing when the tag fails, and refuses an output without room [${engine}]`, () => {
    using aead = new AesGcm(crypto.getRandomValues(new Uint8Array(32)));
    const nonce = new Uint8Array(12);
    const plaintext = pseudoRandomBytes(100_000, 3); // longer than the kernel's I/O region
    const sealed = aead.seal(nonce, plaintext);
    for (const flip of [0, 70_000, sealed.length - 1]) {
      const damaged = sealed.slice();
      damaged[flip]! ^= 1;
      const before = damaged.slice();
      assertThrows(
        () => aead.openInto(nonce, damaged, new Uint8Array(), damaged, 0),
        AuthenticationError,
      );
      assertEquals(damaged, before);
    }
    const small = new Uint8Array(plaintext.length - 1);
    assertThrows(
      () => aead.openInto(nonce, sealed, new Uint8Array(), small, 0),
      RangeError,
      "do not fit",
    );
    assertEquals(small, new Uint8Array(plaintext.length - 1));
  });
}

Deno.test("a blob sealed and opened in a roomy buffer has exactly the allocating path's bytes", async () => {
  const { keys } = await randomBlobKeys();
  const text = new TextEncoder().encode("msg: lunch at one? bring the photos\n".repeat(40_000));
  const chunks = [
    pseudoRandomBytes(300_000, 1), // media: raw
    text.subarray(0, 1_000_000), // text: compressed, shorter than the chunk
    new Uint8Array(0),
    pseudoRandomBytes(70_000, 2),
  ];
  for (const [i, chunk] of chunks.entries()) {
    const type = i === 3 ? "tree" : "data";
    const expected = sealBlob(type, chunk, keys, { level: 3 });
    const view = roomy(chunk.length);
    view.set(chunk);
    const blob = sealBlob(type, view, keys, { level: 3, id: expected.id, inPlace: true });
    assertEquals(blob.sealed, expected.sealed, `chunk ${i}`);
    assertTrue(blob.sealed.buffer === view.buffer, `chunk ${i} sealed where it lay`);
    assertEquals(blob.compressed, expected.compressed);
    // Nothing of a compressed chunk is left behind its shorter blob.
    const end = blob.sealed.byteOffset + blob.sealed.length;
    if (end < view.byteOffset + view.length) {
      assertEquals(
        new Uint8Array(view.buffer, end, view.byteOffset + view.length - end),
        new Uint8Array(view.byteOffset + view.length - end),
      );
    }
    const opened = openBlob(type, expected.id, blob.sealed, chunk.length, keys, { inPlace: true });
    assertEquals(opened, chunk);
    // A raw blob's plaintext is a view of the very buffer it was read into.
    if (!blob.compressed) assertTrue(opened.buffer === view.buffer);
  }
});

Deno.test("a damaged blob opened in place fails as any damaged blob does, and leaves no plaintext", async () => {
  const { keys } = await randomBlobKeys();
  const chunk = pseudoRandomBytes(200_000, 4);
  const { id, sealed } = sealBlob("data", chunk, keys, { level: 3 });
  const payload = (bytes: Uint8Array) => bytes.subarray(12, bytes.length - 16);
  for (const flip of [0, 12, 100_000, sealed.length - 1]) {
    const damaged = sealed.slice();
    damaged[flip]! ^= 0x40;
    const before = damaged.slice();
    assertThrows(
      () => openBlob("data", id, damaged, chunk.length, keys, { inPlace: true }),
      FormatError,
      "authentication failed",
    );
    // Verified first (nothing written), or opened in one pass and wiped (src/aead.ts `unseen`).
    const untouched = equalBytes(damaged, before);
    const wiped = payload(damaged).every((b) => b === 0) &&
      equalBytes(damaged.subarray(damaged.length - 16), before.subarray(before.length - 16));
    assertTrue(untouched || wiped, `flip at ${flip}: neither untouched nor wiped`);
  }
});

Deno.test("sealBlob() seals in place only when asked and when the buffer has the room", async () => {
  const { keys } = await randomBlobKeys();
  const chunk = pseudoRandomBytes(5000, 5);
  // Asked, but no room before the chunk: a new buffer, and the chunk is intact.
  const tight = chunk.slice();
  const blob = sealBlob("data", tight, keys, { level: 3, inPlace: true });
  assertTrue(blob.sealed.buffer !== tight.buffer);
  assertEquals(tight, chunk);
  // Room, but not asked: the same.
  const roomy = new Uint8Array(ROOM_BEFORE + chunk.length + ROOM_AFTER);
  const view = roomy.subarray(ROOM_BEFORE, ROOM_BEFORE + chunk.length);
  view.set(chunk);
  const copy = sealBlob("data", view, keys, { level: 3 });
  assertTrue(copy.sealed.buffer !== roomy.buffer);
  assertEquals(view, chunk);
  assertEquals(copy.sealed, blob.sealed);
});

Deno.test("discard() frees its views' buffers at once and leaves what it cannot free alone", () => {
  const whole = new Uint8Array(1 << 20);
  const batch = new Uint8Array(3 * 4096);
  const pages = [batch.subarray(0, 4096), batch.subarray(4096, 8192), batch.subarray(8192)];
  discard([whole, ...pages, pages[1]!]); // views sharing a buffer, and a repeat
  assertEquals(whole.buffer.byteLength, 0);
  assertEquals(whole.length, 0);
  assertEquals(batch.buffer.byteLength, 0);
  discard([whole]); // already free: nothing happens
  // WebAssembly memory and shared memory cannot be detached; they are left as they are.
  const memory = new WebAssembly.Memory({ initial: 1 });
  const inWasm = new Uint8Array(memory.buffer, 0, 16);
  const shared = new Uint8Array(new SharedArrayBuffer(64));
  discard([inWasm, shared]);
  assertEquals(memory.buffer.byteLength, 65536);
  assertEquals(shared.length, 64);
});

Deno.test("GarbageMeter collects only when RSS is over its line, and again only after regrowth", () => {
  const rss = () => Deno.memoryUsage().rss;
  // A line far above this process: no collection, however many bytes go by.
  const never = new GarbageMeter({ everyBytes: 1, rssBytes: Number.MAX_SAFE_INTEGER });
  for (let i = 0; i < 1000; i++) never.add(1);
  assertEquals(never.collections, 0);
  // A line below it: the first check collects; then only once RSS has regrown.
  const below = new GarbageMeter({ everyBytes: 1, rssBytes: 1 });
  below.add(1);
  assertEquals(below.collections, 1);
  for (let i = 0; i < 50; i++) below.add(1);
  const regrew = rss() > below.floor + GarbageMeter.REGROWTH_BYTES;
  assertTrue(
    below.collections === 1 || regrew,
    `${below.collections} collections without regrowth`,
  );
  // Checks come every `everyBytes`, not on every add.
  const sparse = new GarbageMeter({ everyBytes: 100, rssBytes: 1 });
  for (let i = 0; i < 99; i++) sparse.add(1);
  assertEquals(sparse.collections, 0);
  sparse.add(1);
  assertEquals(sparse.collections, 1);
});

Deno.test("a pack built in an arena is the pack built from the blobs themselves", async () => {
  using meta = new AesGcmAny(crypto.getRandomValues(new Uint8Array(32)));
  const arena = new Uint8Array(128 * 1024); // the 30 blobs take 66,120 bytes
  const arenaBuilder = new PackBuilder({ arena: () => arena });
  const plainBuilder = new PackBuilder();
  const blobs = Array.from({ length: 30 }, (_, i) => {
    const sealed = crypto.getRandomValues(new Uint8Array(29 + i * 150));
    return {
      entry: {
        type: "data" as const,
        id: crypto.getRandomValues(new Uint8Array(32)),
        sealedLength: sealed.length,
        plaintextLength: i,
      },
      sealed,
    };
  });
  // A blob bigger than what the arena has left is kept as it is.
  const big = pseudoRandomBytes(70 * 1024, 9);
  const copied = [];
  for (const { entry, sealed } of blobs) {
    copied.push(arenaBuilder.add(entry, sealed));
    plainBuilder.add(entry, sealed);
  }
  const bigEntry = {
    type: "data" as const,
    id: crypto.getRandomValues(new Uint8Array(32)),
    sealedLength: big.length,
    plaintextLength: 1,
  };
  assertEquals(arenaBuilder.add(bigEntry, big), false);
  plainBuilder.add(bigEntry, big);
  assertTrue(copied.every((c) => c));
  // The blobs' own buffers are free once copied: scribbling on them changes nothing.
  const expected = blobs.map((b) => b.sealed.slice());
  for (const { sealed } of blobs) sealed.fill(0xaa);
  const finished = await arenaBuilder.finish(meta);
  assertTrue(finished.arena === arena);
  const bytes = concatBytes(...finished.parts);
  const storage = new MemoryStorage();
  await storage.put(finished.name, finished.parts);
  const entries = await readPackHeader(storage, toHex(finished.id), bytes.length, meta);
  for (const [i, blob] of blobs.entries()) {
    const entry = entries.find((e) => toHex(e.id) === toHex(blob.entry.id))!;
    assertEquals(bytes.subarray(entry.offset, entry.offset + entry.sealedLength), expected[i]);
  }
  const bigAt = entries.find((e) => toHex(e.id) === toHex(bigEntry.id))!;
  assertEquals(bytes.subarray(bigAt.offset, bigAt.offset + big.length), big);
  // The next pack starts a fresh arena.
  let asked = 0;
  const counting = new PackBuilder({ arena: () => (asked++, new Uint8Array(PACK_ARENA_BYTES)) });
  counting.add(blobs[0]!.entry, expected[0]!);
  counting.add(blobs[1]!.entry, expected[1]!);
  await counting.finish(meta);
  counting.add(blobs[2]!.entry, expected[2]!);
  assertEquals(asked, 2);
});

Deno.test("the worker pool seals and opens roomy chunks in their own buffers, as inline does", async () => {
  const { keys, raw } = await randomBlobKeys();
  const inline = new InlineBlobCrypto(keys, { level: 3 });
  const pool = await WorkerBlobCrypto.start(raw, { level: 3, count: 2 });
  try {
    const text = new TextEncoder().encode(
      "voice note transcript, line after line\n".repeat(30_000),
    );
    for (const chunk of [pseudoRandomBytes(1_500_000, 7), text.subarray(0, 900_000)]) {
      const view = roomy(chunk.length);
      view.set(chunk);
      const room = view.buffer.byteLength;
      const hashed = await pool.hash(view);
      assertTrue(ownsBuffer(hashed.bytes), "the chunk's buffer came back whole");
      const { sealed } = await pool.seal("data", hashed.bytes, hashed.id);
      assertTrue(sealed.buffer.byteLength === room, "sealed where it lay");
      const expected = await inline.seal("data", chunk.slice(), hashed.id);
      assertEquals(sealed, expected.sealed);
      const into = roomy(sealed.length);
      into.set(sealed);
      const opened = await pool.open("data", hashed.id, into, chunk.length);
      assertEquals(opened, chunk);
    }
    // A damaged blob still fails, in the worker, with the blob named.
    const { id, sealed } = sealBlob("data", pseudoRandomBytes(100_000, 8), keys, { level: 3 });
    sealed[500]! ^= 1;
    const into = roomy(sealed.length);
    into.set(sealed);
    await assertRejects(() => pool.open("data", id, into, 100_000), FormatError);
  } finally {
    await pool.close();
  }
});

/** What `write` leaves in a new file `dir`/out. */
async function written(dir: string, write: (file: Deno.FsFile) => unknown): Promise<Uint8Array> {
  const path = `${dir}/out`;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await write(file);
  } finally {
    file.close();
  }
  return await Deno.readFile(path);
}

Deno.test("writeParts() writes any mix of small and large parts end to end, through any staging size", () =>
  withDir(async (dir) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 300_000 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 100_000 }),
        async (lengths, stagingBytes) => {
          const parts = lengths.map((n, i) => pseudoRandomBytes(n % 7 === 0 ? n : n % 5000, i));
          const bytes = await written(
            dir,
            (f) => writeParts(f, parts, new Uint8Array(stagingBytes)),
          );
          assertEquals(bytes, concatBytes(...parts));
        },
      ),
      { numRuns: 60 },
    );
  }));

Deno.test("writeAllSync() at scattered offsets, in any order, gives the file the runs make in order", () =>
  withDir(async (dir) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 30 }),
        fc.integer(),
        async (lengths, seed) => {
          const runs = lengths.map((n, i) => pseudoRandomBytes(n, i));
          const offsets = runs.map((_, i) =>
            runs.slice(0, i).reduce((sum, r) => sum + r.length, 0)
          );
          // Written the way a database restores: runs of a pack, in no file order.
          const order = runs.map((_, i) => i).sort((a, b) => ((a * seed) % 7) - ((b * seed) % 7));
          const bytes = await written(dir, (file) => {
            for (const i of order) {
              file.seekSync(offsets[i]!, Deno.SeekMode.Start);
              writeAllSync(file, runs[i]!);
            }
          });
          assertEquals(bytes, concatBytes(...runs));
        },
      ),
      { numRuns: 40 },
    );
  }));

Deno.test("AdaptiveBlobCrypto works inline until the threshold, or until expect() announces enough work", async () => {
  const { keys } = await randomBlobKeys();
  const inline = new InlineBlobCrypto(keys, { level: 3 });
  let started = 0;
  // A stand-in pool: the inline stage, counted.
  const start = () => {
    started++;
    return Promise.resolve(new InlineBlobCrypto(keys, { level: 3 }));
  };
  const small = new AdaptiveBlobCrypto(inline, start, {
    parallelism: 2,
    thresholdBytes: 1_000_000,
  });
  await small.hash(pseudoRandomBytes(600_000, 10));
  assertEquals(started, 0);
  small.expect(100_000); // not enough yet
  assertEquals(started, 0);
  await small.hash(pseudoRandomBytes(600_000, 11)); // past the threshold
  assertEquals(started, 1);
  await small.close();
  const announced = new AdaptiveBlobCrypto(inline, start, {
    parallelism: 2,
    thresholdBytes: 1_000_000,
  });
  announced.expect(150_000_000); // a database's pages are coming
  assertEquals(started, 2);
  announced.expect(150_000_000); // once only
  assertEquals(started, 2);
  await announced.close();
});
