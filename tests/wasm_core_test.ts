// The raw ABI (ABI.md), as a non-JS host sees it: no imports, numbers in and
// out, the kernel's own argument checks, and memory that stays bounded when
// Cofre's host reuses regions.

import { assertEquals, assertTrue } from "./_assert.ts";
import { ABI_VERSION, core, STATUS_BAD_ARGUMENT, STATUS_OK } from "../src/_wasm/core.ts";
import { cutPoints, KeyedHasher, StreamingChunker } from "../mod.ts";

const wasmBytes = await Deno.readFile(new URL("../build/cofre.wasm", import.meta.url));

Deno.test("the module imports nothing and exports only numbers-in, numbers-out functions", async () => {
  const module = await WebAssembly.compile(wasmBytes);
  assertEquals(WebAssembly.Module.imports(module), []);
  const kinds = WebAssembly.Module.exports(module).map((e) => `${e.name}:${e.kind}`);
  assertTrue(kinds.includes("memory:memory"), kinds.join(" "));
  for (const kind of kinds) {
    assertTrue(kind === "memory:memory" || kind.endsWith(":function"), kind);
  }
  assertEquals(core.abi_version(), ABI_VERSION);
});

Deno.test("alloc() returns zeroed 16-byte-aligned regions and 0 when memory cannot grow", async () => {
  // A private instance, so this test's allocations do not touch Cofre's.
  const { exports } = await WebAssembly.instantiate(await WebAssembly.compile(wasmBytes), {});
  const w = exports as unknown as typeof core;
  const a = w.alloc(5);
  const b = w.alloc(100_000);
  assertTrue(a > 0 && b > a, `${a} ${b}`);
  assertEquals([a % 16, b % 16], [0, 0]);
  assertTrue(b - a >= 16);
  const bytes = new Uint8Array(w.memory.buffer, b, 100_000);
  assertTrue(bytes.every((x) => x === 0));
  bytes.fill(7);
  w.wipe(b, 100_000);
  assertTrue(new Uint8Array(w.memory.buffer, b, 100_000).every((x) => x === 0));
  // More than wasm32 can address: refused with 0, never a trap.
  assertEquals(w.alloc(0xffff_fff0), 0);
  assertTrue(w.alloc(16) > b);
});

Deno.test("cdc_init() refuses what FORMAT.md §7.1 refuses, by itself", () => {
  const ctx = core.alloc(core.cdc_context_bytes());
  const cases: [number, number, number, number, number][] = [
    [62, 256, 1024, 1, STATUS_BAD_ARGUMENT], // min below 64
    [65, 256, 1024, 1, STATUS_BAD_ARGUMENT], // odd min
    [256, 256, 1024, 1, STATUS_BAD_ARGUMENT], // min = avg
    [64, 1024, 1024, 1, STATUS_BAD_ARGUMENT], // avg = max
    [64, 256, (64 << 20) + 1, 1, STATUS_BAD_ARGUMENT], // max above 64 MiB
    [64, 256, 1024, 4, STATUS_BAD_ARGUMENT], // nc above 3
    [64, 80, 1024, 3, STATUS_BAD_ARGUMENT], // bits 6 - 3 below the table
    [64, 48 << 20, 64 << 20, 1, STATUS_BAD_ARGUMENT], // bits 26 + 1 above it
    [64, 256, 1024, 1, STATUS_OK],
    [256 << 10, 1 << 20, 4 << 20, 1, STATUS_OK],
  ];
  for (const [min, avg, max, nc, want] of cases) {
    assertEquals(core.cdc_init(ctx, min, avg, max, nc, 0, 0), want, `${min} ${avg} ${max} ${nc}`);
  }
  // round(log2(avg)) rounds to nearest: 12288 = 2^13.58 gives 14 bits, so nc 3 needs 17 ≤ 25 and
  // 11 ≥ 5; 11585 (just below 2^13.5) gives 13.
  assertEquals(core.cdc_init(ctx, 4096, 12288, 65536, 3, 0, 0), STATUS_OK);
});

Deno.test("the chunker's wasm memory stays bounded across many streams", () => {
  const options = { minSize: 64 * 1024, avgSize: 256 * 1024, maxSize: 1024 * 1024 };
  const data = new Uint8Array(3 << 20);
  // A chunker and a cutPoints() call hold regions at the same time.
  const round = () => {
    using chunker = new StreamingChunker(options);
    chunker.push(data.subarray(0, 100_000));
    chunker.finish();
    cutPoints(data, options);
  };
  round(); // the first round reserves the regions; later rounds reuse them
  const before = core.memory.buffer.byteLength;
  for (let i = 0; i < 500; i++) round();
  assertEquals(core.memory.buffer.byteLength, before);
});

Deno.test("b3_update() and b3_finish() refuse a context without a key, and b3_init() clears any", async () => {
  const { exports } = await WebAssembly.instantiate(await WebAssembly.compile(wasmBytes), {});
  const w = exports as unknown as typeof core;
  const bytes = w.b3_context_bytes();
  const ctx = w.alloc(bytes);
  const key = w.alloc(32);
  const data = w.alloc(8192);
  const out = w.alloc(32);
  assertEquals(w.b3_update(ctx, data, 10), STATUS_BAD_ARGUMENT);
  assertEquals(w.b3_finish(ctx, out), STATUS_BAD_ARGUMENT);
  // A region full of another context's bytes (or anything) is a valid place for a new key.
  new Uint8Array(w.memory.buffer, ctx, bytes).fill(0xff);
  assertEquals(w.b3_update(ctx, data, 10), STATUS_BAD_ARGUMENT);
  assertEquals(w.b3_init(ctx, key), STATUS_OK);
  assertEquals(w.b3_update(ctx, data, 8192), STATUS_OK);
  assertEquals(w.b3_finish(ctx, out), STATUS_OK);
  const first = new Uint8Array(w.memory.buffer, out, 32).slice();
  // finish starts the next message under the same key, and leaves none of this one's input.
  assertEquals(w.b3_update(ctx, data, 8192), STATUS_OK);
  assertEquals(w.b3_finish(ctx, out), STATUS_OK);
  assertEquals(new Uint8Array(w.memory.buffer, out, 32), first);
  const state = new Uint8Array(w.memory.buffer, ctx + 64, bytes - 64);
  assertTrue(state.every((b) => b === 0), "the context keeps message bytes after b3_finish");
  w.wipe(ctx, bytes);
  assertEquals(w.b3_update(ctx, data, 10), STATUS_BAD_ARGUMENT);
});

Deno.test("hashing keeps wasm memory bounded whatever the input length", async () => {
  using hasher = await KeyedHasher.create(new Uint8Array(32));
  hasher.hash(new Uint8Array(1 << 20)); // the first hash reserves the I/O region
  const before = core.memory.buffer.byteLength;
  for (const n of [0, 1, 4096, 300_000, 9 << 20]) hasher.hash(new Uint8Array(n));
  assertEquals(core.memory.buffer.byteLength, before);
});
