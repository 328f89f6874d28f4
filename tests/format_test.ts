import { assertEquals, assertThrows } from "./_assert.ts";
import fc from "fast-check";
import {
  type Config,
  CONFIG_BYTES,
  decodeConfig,
  decodeKeySlot,
  encodeConfig,
  encodeKeySlot,
  FormatError,
  KEY_SLOT_BYTES,
  type KeySlot,
  UnsupportedVersionError,
} from "../mod.ts";

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const configArbitrary: fc.Arbitrary<Config> = fc.record({
  repositoryId: bytes(16),
  createdMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  chunker: fc.constantFrom(
    { minSize: 256 * 1024, avgSize: 1024 * 1024, maxSize: 4 * 1024 * 1024, normalization: 1 },
    { minSize: 64, avgSize: 256, maxSize: 1024, normalization: 0 },
    { minSize: 4096, avgSize: 16384, maxSize: 65536, normalization: 3 },
  ),
  zstdLevel: fc.integer({ min: 1, max: 19 }),
  publicKey: bytes(32),
  signature: bytes(64),
});

const slotArbitrary: fc.Arbitrary<KeySlot> = fc.oneof(
  fc.record({
    kind: fc.constant("password" as const),
    slotId: bytes(16),
    salt: bytes(16),
    argon2id: fc.record({
      memoryKib: fc.integer({ min: 2040, max: 4 * 1024 * 1024 }),
      iterations: fc.integer({ min: 1, max: 1000 }),
      parallelism: fc.integer({ min: 1, max: 255 }),
    }),
    createdMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    nonce: bytes(12),
    sealedMaster: bytes(48),
  }),
  fc.record({
    kind: fc.constant("recovery" as const),
    slotId: bytes(16),
    salt: bytes(16),
    argon2id: fc.constant(null),
    createdMs: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    nonce: bytes(12),
    sealedMaster: bytes(48),
  }),
);

/** Decoders may only refuse with FormatError (UnsupportedVersionError is one). */
function onlyFormatErrors(decode: (b: Uint8Array) => unknown, input: Uint8Array): void {
  try {
    decode(input);
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
  }
}

Deno.test("config and key slot encodings round-trip (FORMAT.md §5.3, §6)", () => {
  fc.assert(
    fc.property(configArbitrary, (config) => {
      const encoded = encodeConfig(config);
      assertEquals(encoded.length, CONFIG_BYTES);
      assertEquals(decodeConfig(encoded), structuredClone(config));
    }),
  );
  fc.assert(
    fc.property(slotArbitrary, (slot) => {
      const encoded = encodeKeySlot(slot);
      assertEquals(encoded.length, KEY_SLOT_BYTES);
      assertEquals(decodeKeySlot(encoded), structuredClone(slot));
    }),
  );
});

Deno.test("decoders reject arbitrary bytes with FormatError only", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (input) => {
      onlyFormatErrors(decodeConfig, input);
      onlyFormatErrors(decodeKeySlot, input);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("decoders reject mutated, truncated and extended encodings with FormatError only", () => {
  const mutation = fc.record({
    at: fc.nat(),
    value: fc.integer({ min: 0, max: 255 }),
    cut: fc.nat(),
    extra: fc.uint8Array({ maxLength: 4 }),
    kind: fc.constantFrom("flip", "truncate", "extend"),
  });
  const mutate = (
    encoded: Uint8Array,
    m: { at: number; value: number; cut: number; extra: Uint8Array; kind: string },
  ) => {
    if (m.kind === "truncate") return encoded.subarray(0, m.cut % encoded.length);
    if (m.kind === "extend") return new Uint8Array([...encoded, ...m.extra, 0]);
    const out = encoded.slice();
    out[m.at % out.length] = m.value;
    return out;
  };
  fc.assert(
    fc.property(
      configArbitrary,
      mutation,
      (config, m) => onlyFormatErrors(decodeConfig, mutate(encodeConfig(config), m)),
    ),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(
      slotArbitrary,
      mutation,
      (slot, m) => onlyFormatErrors(decodeKeySlot, mutate(encodeKeySlot(slot), m)),
    ),
    { numRuns: 1000 },
  );
});

Deno.test("a newer format version is refused with UnsupportedVersionError, whatever follows", () => {
  const slot = fc.sample(slotArbitrary, 1)[0]!;
  const encoded = encodeKeySlot(slot);
  encoded[8] = 2;
  assertThrows(() => decodeKeySlot(encoded), UnsupportedVersionError, "format version 2");
  assertThrows(() => decodeKeySlot(encoded.subarray(0, 20)), UnsupportedVersionError);
  const config = encodeConfig(fc.sample(configArbitrary, 1)[0]!);
  config[8] = 9;
  assertThrows(() => decodeConfig(config), UnsupportedVersionError, "upgrade Cofre");
});

Deno.test("decoders state what is wrong", async (t) => {
  const slot = encodeKeySlot(fc.sample(slotArbitrary, 1)[0]!);
  const cases: [string, () => unknown, string][] = [
    ["empty", () => decodeKeySlot(new Uint8Array(0)), "truncated in magic"],
    ["bad magic", () => decodeKeySlot(new Uint8Array(KEY_SLOT_BYTES)), "bad magic"],
    ["short", () => decodeKeySlot(slot.subarray(0, 100)), "100 bytes, expected 123"],
    ["unknown kind", () => {
      const b = slot.slice();
      b[9] = 7;
      return decodeKeySlot(b);
    }, "unknown kind 7"],
    ["huge Argon2id memory", () => {
      const b = slot.slice();
      b[9] = 1;
      b[42] = 1;
      new DataView(b.buffer).setUint32(43, 0xffffffff, true);
      new DataView(b.buffer).setUint32(51, 4, true);
      new DataView(b.buffer).setUint32(47, 3, true);
      return decodeKeySlot(b);
    }, "memory 4294967295 KiB"],
  ];
  for (const [name, run, says] of cases) {
    await t.step(name, () => {
      assertThrows(run, FormatError, says);
    });
  }
});
