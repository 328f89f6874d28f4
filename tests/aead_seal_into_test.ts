import { assertEquals, assertThrows } from "./_assert.ts";
import fc from "fast-check";
import { AEAD_ENGINES, aeadWith } from "./_engines.ts";

for (const engine of AEAD_ENGINES) {
  const { AesGcm, aesGcmOpen } = aeadWith(engine);

  Deno.test(`sealInto() writes what seal() returns, for any split into parts, at any offset [${engine}]`, () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    using aead = new AesGcm(key);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200_000 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        fc.nat({ max: 40 }),
        fc.uint8Array({ maxLength: 40 }),
        (plaintext, cuts, offset, aad) => {
          const nonce = crypto.getRandomValues(new Uint8Array(12));
          const points = [...new Set(cuts.map((c) => c % (plaintext.length + 1)))].sort((a, b) =>
            a - b
          );
          const parts = [0, ...points].map((start, i) =>
            plaintext.subarray(start, [...points, plaintext.length][i])
          );
          const out = new Uint8Array(offset + plaintext.length + 16 + 3).fill(0xee);
          const written = aead.sealInto(nonce, parts, out, offset, aad);
          assertEquals(written, plaintext.length + 16);
          assertEquals(out.subarray(offset, offset + written), aead.seal(nonce, plaintext, aad));
          assertEquals(out.subarray(0, offset), new Uint8Array(offset).fill(0xee));
          assertEquals(
            aesGcmOpen(key, nonce, out.subarray(offset, offset + written), aad),
            plaintext,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  Deno.test(`sealInto() refuses an output without room, before writing anything [${engine}]`, () => {
    using aead = new AesGcm(new Uint8Array(32));
    const out = new Uint8Array(20);
    assertThrows(
      () => aead.sealInto(new Uint8Array(12), [new Uint8Array(5)], out, 0),
      RangeError,
      "do not fit",
    );
    assertThrows(
      () => aead.sealInto(new Uint8Array(12), [new Uint8Array(4)], out, 1),
      RangeError,
      "do not fit",
    );
    assertThrows(() => aead.sealInto(new Uint8Array(12), [new Uint8Array(4)], out, -1), RangeError);
    assertEquals(out, new Uint8Array(20));
  });
}
