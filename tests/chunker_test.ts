import { assertEquals, assertNotEquals, assertThrows } from "./_assert.ts";
import fc from "fast-check";
import {
  type ChunkerOptions,
  cutPoints,
  DEFAULT_CHUNKER_OPTIONS,
  StreamingChunker,
} from "../mod.ts";
import { pseudoRandomBytes } from "./_data.ts";

const VECTORS = new URL("./vectors/", import.meta.url);
const expected = JSON.parse(
  await Deno.readTextFile(new URL("fastcdc/fastcdc-expected.json", VECTORS)),
) as {
  cases: {
    variant: string;
    input: string;
    input_length: number;
    min: number;
    avg: number;
    max: number;
    normalization: number;
    seed: number;
    tests: string;
    chunks: { offset: number; length: number; hash: string }[];
  }[];
};
const jpeg = await Deno.readFile(new URL("fastcdc/SekienAkashita.jpg", VECTORS));
const tables = JSON.parse(await Deno.readTextFile(new URL("fastcdc-gear.json", VECTORS))) as {
  gear: string[];
  masks: string[];
};

// A reference chunker written from CHUNKING.md alone, in BigInt, with the
// tables read from the JSON vectors: slow, obvious, and independent of the
// wasm kernel, so the two can be compared on any input.
const GEAR = tables.gear.map(BigInt);
const MASKS = tables.masks.map(BigInt);
const U64 = (1n << 64n) - 1n;

function referenceCut(
  data: Uint8Array,
  options: Required<ChunkerOptions>,
): { length: number; hash: bigint } {
  const { minSize: min, avgSize: avg, maxSize: max, normalization: nc, seed } = options;
  let n = data.length;
  if (n <= min) return { length: n, hash: 0n };
  let center = avg;
  if (n > max) n = max;
  else if (n < avg) center = n;
  const bits = Math.round(Math.log2(avg));
  const maskS = MASKS[bits + nc]!;
  const maskL = MASKS[bits - nc]!;
  const gear = (b: number) => GEAR[b]! ^ seed;
  const gearLs = (b: number) => ((GEAR[b]! << 1n) & U64) ^ ((seed << 1n) & U64);
  let hash = 0n;
  let i = Math.floor(min / 2);
  const step = (mask: bigint): number | undefined => {
    const a = 2 * i;
    hash = ((hash << 2n) + gearLs(data[a]!)) & U64;
    if ((hash & (mask << 1n)) === 0n) return a;
    hash = (hash + gear(data[a + 1]!)) & U64;
    if ((hash & mask) === 0n) return a + 1;
    i++;
    return undefined;
  };
  while (i < Math.floor(center / 2)) {
    const cut = step(maskS);
    if (cut !== undefined) return { length: cut, hash };
  }
  while (i < Math.floor(n / 2)) {
    const cut = step(maskL);
    if (cut !== undefined) return { length: cut, hash };
  }
  return { length: n, hash };
}

function referenceChunks(data: Uint8Array, options: ChunkerOptions) {
  const full = { normalization: 1, seed: 0n, ...options };
  const out: { length: number; hash: bigint }[] = [];
  for (let at = 0; at < data.length;) {
    const cut = referenceCut(data.subarray(at), full);
    out.push(cut);
    at += cut.length;
  }
  return out;
}

function streamed(data: Uint8Array, options: ChunkerOptions, splits: number[]) {
  using chunker = new StreamingChunker(options);
  const chunks = [];
  let at = 0;
  for (const split of [...splits].sort((a, b) => a - b)) {
    chunks.push(...chunker.push(data.subarray(at, split)));
    at = split;
  }
  chunks.push(...chunker.push(data.subarray(at)), ...chunker.finish());
  return chunks;
}

function ends(lengths: number[]): number[] {
  let end = 0;
  return lengths.map((length) => end += length);
}

Deno.test("cutPoints() reproduces fastcdc-rs v2020 boundaries and hashes", async (t) => {
  const cases = expected.cases.filter((c) => c.variant === "v2020");
  assertEquals(cases.length, 7);
  for (const c of cases) {
    const name = `${c.tests.split(" ")[0]} (min ${c.min}, avg ${c.avg}, max ${c.max}, ` +
      `nc ${c.normalization}, seed ${c.seed})`;
    await t.step(name, () => {
      const data = c.input.startsWith("SekienAkashita") ? jpeg : new Uint8Array(c.input_length);
      assertEquals(data.length, c.input_length);
      const options = {
        minSize: c.min,
        avgSize: c.avg,
        maxSize: c.max,
        normalization: c.normalization,
        seed: BigInt(c.seed),
      };
      const want = c.chunks.map((k) => ({
        offset: k.offset,
        length: k.length,
        hash: BigInt(k.hash),
      }));
      assertEquals(cutPoints(data, options), want.map((k) => k.offset + k.length));
      const got = streamed(data, options, []).map((k) => ({
        offset: k.offset,
        length: k.bytes.length,
        hash: k.hash,
      }));
      assertEquals(got, want);
      const reference = referenceChunks(data, options);
      assertEquals(reference.map((k) => k.length), want.map((k) => k.length));
      assertEquals(reference.map((k) => k.hash), want.map((k) => k.hash));
    });
  }
});

Deno.test("cutPoints() cuts 10240 zero bytes into ten 1024-byte chunks", () => {
  assertEquals(
    cutPoints(new Uint8Array(10240), { minSize: 64, avgSize: 256, maxSize: 1024 }),
    [1024, 2048, 3072, 4096, 5120, 6144, 7168, 8192, 9216, 10240],
  );
});

Deno.test("cutPoints() returns [] for empty input and one chunk for short input", () => {
  const options = { minSize: 64, avgSize: 256, maxSize: 1024 };
  assertEquals(cutPoints(new Uint8Array(0), options), []);
  assertEquals(cutPoints(new Uint8Array(1), options), [1]);
  assertEquals(cutPoints(pseudoRandomBytes(64, 1), options), [64]);
});

const optionsArbitrary: fc.Arbitrary<Required<ChunkerOptions>> = fc
  .record({
    minSize: fc.integer({ min: 32, max: 256 }).map((half) => 2 * half),
    avgExtra: fc.integer({ min: 1, max: 2048 }),
    maxExtra: fc.integer({ min: 1, max: 4096 }),
    normalization: fc.integer({ min: 0, max: 3 }),
    seed: fc.bigInt({ min: 0n, max: U64 }),
  })
  .map(({ minSize, avgExtra, maxExtra, normalization, seed }) => ({
    minSize,
    avgSize: minSize + avgExtra,
    maxSize: minSize + avgExtra + maxExtra,
    normalization,
    seed,
  }))
  .filter(({ avgSize, normalization }) => Math.round(Math.log2(avgSize)) - normalization >= 5);

Deno.test("cutPoints() agrees with the CHUNKING.md reference on random data and parameters", () => {
  fc.assert(
    fc.property(
      optionsArbitrary,
      fc.uint8Array({ minLength: 0, maxLength: 20_000 }),
      (options, data) => {
        const reference = referenceChunks(data, options);
        assertEquals(cutPoints(data, options), ends(reference.map((k) => k.length)));
        assertEquals(streamed(data, options, []).map((k) => k.hash), reference.map((k) => k.hash));
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("StreamingChunker gives the same boundaries however the input is split", () => {
  fc.assert(
    fc.property(
      optionsArbitrary,
      fc.integer({ min: 0, max: 40_000 }).chain((length) =>
        fc.tuple(
          fc.constant(length),
          fc.integer(),
          fc.array(fc.integer({ min: 0, max: length }), { maxLength: 40 }),
        )
      ),
      (options, [length, seed, splits]) => {
        const data = pseudoRandomBytes(length, seed);
        const whole = cutPoints(data, options);
        const chunks = streamed(data, options, splits);
        assertEquals(ends(chunks.map((k) => k.bytes.length)), whole);
        assertEquals(chunks.map((k) => k.offset), whole.map((_, i) => whole[i - 1] ?? 0));
        for (const chunk of chunks) {
          assertEquals(chunk.bytes, data.subarray(chunk.offset, chunk.offset + chunk.bytes.length));
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("StreamingChunker gives the same boundaries fed byte by byte and split at every offset", () => {
  const options = { minSize: 64, avgSize: 256, maxSize: 1024, seed: 7n };
  const data = pseudoRandomBytes(3000, 42);
  const whole = cutPoints(data, options);
  assertEquals(ends(streamed(data, options, [...data.keys()]).map((k) => k.bytes.length)), whole);
  for (let split = 0; split <= data.length; split++) {
    assertEquals(ends(streamed(data, options, [split]).map((k) => k.bytes.length)), whole);
  }
  const jpegOptions = { minSize: 4096, avgSize: 16384, maxSize: 65535 };
  assertEquals(
    ends(streamed(jpeg, jpegOptions, [...jpeg.keys()]).map((k) => k.bytes.length)),
    cutPoints(jpeg, jpegOptions),
  );
});

Deno.test("every chunk but the last is between minSize and maxSize", () => {
  fc.assert(
    fc.property(optionsArbitrary, fc.integer(), fc.integer({ min: 1, max: 60_000 }), (o, s, n) => {
      const lengths = streamed(pseudoRandomBytes(n, s), o, []).map((k) => k.bytes.length);
      for (const length of lengths.slice(0, -1)) {
        if (length < o.minSize || length > o.maxSize) {
          throw new Error(`chunk of ${length} bytes outside ${o.minSize}..${o.maxSize}`);
        }
      }
      const last = lengths.at(-1)!;
      if (last < 1 || last > o.maxSize) throw new Error(`last chunk of ${last} bytes`);
    }),
    { numRuns: 200 },
  );
});

Deno.test("the default parameters give chunks of 256 KiB to 4 MiB averaging near 1 MiB", () => {
  const data = pseudoRandomBytes(48 << 20, 3);
  const cuts = cutPoints(data, DEFAULT_CHUNKER_OPTIONS);
  const lengths = cuts.map((end, i) => end - (cuts[i - 1] ?? 0));
  for (const length of lengths.slice(0, -1)) {
    if (length < 256 << 10 || length > 4 << 20) throw new Error(`chunk of ${length} bytes`);
  }
  // Normalised chunking keeps the mean close to avg: a loose statistical band.
  const mean = data.length / cuts.length;
  if (mean < 0.75 * (1 << 20) || mean > 1.75 * (1 << 20)) throw new Error(`mean chunk ${mean}`);
});

Deno.test("different seeds give different boundaries", () => {
  const data = pseudoRandomBytes(1 << 20, 9);
  const options = { minSize: 1024, avgSize: 4096, maxSize: 16384 };
  const unseeded = cutPoints(data, options);
  const seeds = [1n, 2n, 666n, 0xffff_ffff_ffff_ffffn, 0x1234_5678_9abc_def0n];
  const seeded = seeds.map((seed) => cutPoints(data, { ...options, seed }));
  for (const cuts of seeded) assertNotEquals(cuts, unseeded);
  for (let i = 0; i < seeded.length; i++) {
    for (let j = i + 1; j < seeded.length; j++) assertNotEquals(seeded[i], seeded[j]);
  }
  // Same seed, same cuts.
  assertEquals(cutPoints(data, { ...options, seed: 666n }), seeded[2]);
});

Deno.test("an edit changes only the chunks around it", () => {
  const options = { minSize: 1024, avgSize: 4096, maxSize: 16384, seed: 5n };
  const data = pseudoRandomBytes(256 << 10, 11);
  const edited = new Uint8Array(data.length + 10);
  edited.set(data.subarray(0, 100_000));
  edited.set(data.subarray(100_000), 100_010);
  const before = new Set(cutPoints(data, options).filter((end) => end > 120_000));
  const after = cutPoints(edited, options).filter((end) => end > 120_010).map((end) => end - 10);
  const shared = after.filter((end) => before.has(end)).length;
  if (shared < after.length - 1) {
    throw new Error(`only ${shared} of ${after.length} cuts realigned`);
  }
});

Deno.test("a StreamingChunker can be reused after finish() and refuses work after release()", () => {
  const options = { minSize: 64, avgSize: 256, maxSize: 1024 };
  const data = pseudoRandomBytes(5000, 8);
  const chunker = new StreamingChunker(options);
  const first = [...chunker.push(data), ...chunker.finish()];
  const second = [...chunker.push(data), ...chunker.finish()];
  assertEquals(second, first);
  chunker.release();
  chunker.release();
  assertThrows(() => chunker.push(data), TypeError, "released");
});

Deno.test("invalid chunker options throw RangeError or TypeError with the rule", async (t) => {
  const base = { minSize: 1024, avgSize: 4096, maxSize: 16384 };
  const cases: [string, ChunkerOptions, ErrorConstructor, string][] = [
    ["min = avg", { ...base, minSize: 4096 }, RangeError, "minSize < avgSize < maxSize"],
    ["avg = max", { ...base, avgSize: 16384 }, RangeError, "minSize < avgSize < maxSize"],
    ["min > avg", { ...base, minSize: 8192 }, RangeError, "minSize < avgSize < maxSize"],
    ["min below 64 B", { ...base, minSize: 62 }, RangeError, "outside 64 B..64 MiB"],
    ["odd min", { ...base, minSize: 1025 }, RangeError, "minSize must be even"],
    ["max above 64 MiB", { ...base, maxSize: 64 * 1048576 + 1 }, RangeError, "outside"],
    ["fractional size", { ...base, avgSize: 4096.5 }, RangeError, "integer"],
    ["NaN size", { ...base, maxSize: NaN }, RangeError, "integer"],
    ["normalization 4", { ...base, normalization: 4 }, RangeError, "normalization"],
    ["normalization -1", { ...base, normalization: -1 }, RangeError, "normalization"],
    ["negative seed", { ...base, seed: -1n }, RangeError, "seed"],
    ["seed of 65 bits", { ...base, seed: 1n << 64n }, RangeError, "seed"],
    [
      "mask beyond the table",
      {
        minSize: 64,
        avgSize: 48 << 20,
        maxSize: 64 << 20,
      },
      RangeError,
      "masks of",
    ],
    [
      "mask below the table",
      {
        minSize: 64,
        avgSize: 65,
        maxSize: 1024,
        normalization: 3,
      },
      RangeError,
      "masks of",
    ],
    ["string size", { ...base, minSize: "1024" as unknown as number }, TypeError, "number"],
    ["number seed", { ...base, seed: 1 as unknown as bigint }, TypeError, "bigint"],
  ];
  for (const [name, options, type, message] of cases) {
    await t.step(name, () => {
      assertThrows(() => cutPoints(new Uint8Array(10), options), type, message);
      assertThrows(() => new StreamingChunker(options), type, message);
    });
  }
});
