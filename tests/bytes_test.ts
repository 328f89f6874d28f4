import { assertEquals, assertThrows } from "./_assert.ts";
import fc from "fast-check";
import {
  ByteReader,
  ByteWriter,
  fromHex,
  portableFromHex,
  portableToHex,
  toHex,
} from "../src/_bytes.ts";
import { FormatError } from "../mod.ts";

Deno.test("ByteWriter grows on every kind of write, and ByteReader reads it back", () => {
  // Capacity 1: every write after the first grows the buffer.
  const w = new ByteWriter(1).u8(1).u16(0x0203).u32(0x04050607).u64(0x08090a0b0c0d0e0fn).bytes(
    new Uint8Array([16, 17]),
  ).ascii("xy");
  const bytes = w.finish();
  assertEquals(
    bytes,
    new Uint8Array([1, 3, 2, 7, 6, 5, 4, 15, 14, 13, 12, 11, 10, 9, 8, 16, 17, 120, 121]),
  );
  for (const capacity of [1, 2, 3, 5, 8]) {
    const again = new ByteWriter(capacity);
    for (let i = 0; i < 50; i++) again.u32(i).u8(i).u64(BigInt(i));
    const r = new ByteReader(again.finish(), "test");
    for (let i = 0; i < 50; i++) {
      assertEquals([r.u32("a"), r.u8("b"), r.u64("c")], [i, i, BigInt(i)]);
    }
    r.end();
  }
});

Deno.test("ByteReader names the object and the field when input is short", () => {
  const r = new ByteReader(new Uint8Array(3), "pack header");
  assertThrows(
    () => r.u32("blob count"),
    FormatError,
    "Cannot decode pack header: 3 bytes, truncated in blob count",
  );
  assertThrows(
    () => new ByteReader(new Uint8Array([1, 2]), "x").end(),
    FormatError,
    "2 unexpected bytes",
  );
});

Deno.test("toHex() and fromHex() agree with a reference, natively and in the portable code", () => {
  const reference = (bytes: Uint8Array) =>
    Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const hex = reference(bytes);
      assertEquals(toHex(bytes), hex);
      assertEquals(portableToHex(bytes), hex);
      assertEquals(fromHex(hex), bytes);
      assertEquals(portableFromHex(hex), bytes);
      assertEquals(fromHex(hex.toUpperCase()), bytes);
      assertEquals(portableFromHex(hex.toUpperCase()), bytes);
    }),
  );
  for (const bad of ["abc", "0g", "zz", " 00", "00 ", "0x00", "é0"]) {
    assertThrows(() => fromHex(bad), RangeError);
    assertThrows(() => portableFromHex(bad), RangeError);
  }
  assertEquals(fromHex(""), new Uint8Array(0));
  // A view's own bytes, not its buffer's.
  assertEquals(toHex(new Uint8Array([1, 2, 3, 4]).subarray(1, 3)), "0203");
});
