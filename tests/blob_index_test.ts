import { assertEquals, assertTrue } from "./_assert.ts";
import fc from "fast-check";
import { BlobIndex, type BlobLocation } from "../src/blob_index.ts";
import { toHex } from "../src/_bytes.ts";
import type { BlobType, IndexEntry } from "../src/format.ts";

/** The rules of BlobIndex (FORMAT.md §10, §14.2) over a plain Map: the model it must match. */
class ModelIndex {
  readonly blobs = new Map<string, BlobLocation>();
  readonly withdrawn = new Set<string>();

  has(id: string): boolean {
    const location = this.blobs.get(id);
    return location !== undefined && !this.withdrawn.has(location.pack);
  }

  add(entry: IndexEntry): void {
    const id = toHex(entry.id);
    const pack = toHex(entry.pack);
    if (this.has(id)) return;
    if (this.blobs.has(id) && this.withdrawn.has(pack)) return;
    const { type, offset, sealedLength, plaintextLength } = entry;
    this.blobs.set(id, { type, pack, offset, sealedLength, plaintextLength });
  }
}

/** Ids that share their first bytes collide in the table: the ids here mostly do. */
const ids = fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), {
  minLength: 1,
  maxLength: 40,
}).map((list) =>
  list.map((id, i) => {
    const collide = id.slice();
    if (i % 2 === 0) collide.fill(7, 0, 4);
    return collide;
  })
);
const packs = fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }), {
  minLength: 1,
  maxLength: 4,
});

type Step =
  | { kind: "add"; id: number; pack: number; type: BlobType; offset: number; length: number }
  | { kind: "withdraw"; pack: number };

const steps = fc.array(
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant("add" as const),
        id: fc.nat(),
        pack: fc.nat(),
        type: fc.constantFrom<BlobType>("data", "tree"),
        offset: fc.nat({ max: 0xffff_ffff }),
        length: fc.integer({ min: 29, max: 0xffff_ffff }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("withdraw" as const), pack: fc.nat() }) },
  ),
  { maxLength: 120 },
);

Deno.test("BlobIndex answers has, get and entries as a Map of the same adds and withdrawals would", () => {
  fc.assert(
    fc.property(ids, packs, steps, (ids, packs, steps: Step[]) => {
      const index = new BlobIndex();
      const model = new ModelIndex();
      for (const step of steps) {
        const pack = packs[step.pack % packs.length]!;
        if (step.kind === "withdraw") {
          index.withdraw([toHex(pack)]);
          model.withdrawn.add(toHex(pack));
          continue;
        }
        const entry: IndexEntry = {
          type: step.type,
          id: ids[step.id % ids.length]!,
          pack,
          offset: step.offset,
          sealedLength: step.length,
          plaintextLength: step.length - 29,
        };
        index.add(entry);
        model.add(entry);
      }
      assertEquals(index.size, model.blobs.size);
      for (const id of ids) {
        const hex = toHex(id);
        assertEquals(index.has(hex), model.has(hex), hex);
        assertEquals(
          index.usablePack(hex),
          model.has(hex) ? model.blobs.get(hex)!.pack : undefined,
          hex,
        );
        assertEquals(index.get(hex), model.blobs.get(hex), hex);
      }
      assertEquals(new Map(index.entries()), model.blobs);
    }),
  );
});

Deno.test("BlobIndex grows past its first table and keeps every field of 50,000 blobs", () => {
  const index = new BlobIndex();
  const packs = Array.from({ length: 7 }, (_, i) => new Uint8Array(32).fill(i + 1));
  const idOf = (i: number) => {
    const id = new Uint8Array(32);
    new DataView(id.buffer).setUint32(28, i);
    // Some ids share their first bytes, so their slots collide.
    if (i % 100 === 0) id.fill(1, 0, 4);
    else new DataView(id.buffer).setUint32(0, Math.imul(i, 0x9e3779b1));
    return id;
  };
  // Every field varies, so an array left behind by a growth shows as zeros.
  const entryOf = (i: number): IndexEntry => ({
    type: i % 3 === 0 ? "tree" : "data",
    id: idOf(i),
    pack: packs[i % 7]!,
    offset: i,
    sealedLength: 100 + i,
    plaintextLength: 71 + 2 * i,
  });
  const expected = new Map<string, BlobLocation>();
  for (let i = 0; i < 50_000; i++) {
    const entry = entryOf(i);
    index.add(entry);
    const { type, offset, sealedLength, plaintextLength } = entry;
    expected.set(toHex(entry.id), {
      type,
      pack: toHex(entry.pack),
      offset,
      sealedLength,
      plaintextLength,
    });
  }
  assertEquals(index.size, 50_000);
  for (const [hex, location] of expected) assertEquals(index.get(hex), location, hex);
  assertEquals(new Map(index.entries()), expected);
  assertTrue(!index.has(toHex(idOf(50_001))));
});

Deno.test("BlobIndex finds nothing for ids that are not 64 hex digits", () => {
  const index = new BlobIndex();
  const id = new Uint8Array(32).fill(0xab);
  index.add({
    type: "tree",
    id,
    pack: new Uint8Array(32),
    offset: 0,
    sealedLength: 40,
    plaintextLength: 11,
  });
  assertTrue(index.has("ab".repeat(32)));
  const badIds = ["", "ab", "ab".repeat(31) + "zz", "ab".repeat(33), "ab".repeat(31) + "a"];
  // Ids are lowercase (FORMAT.md §11): the same digits in uppercase are another string.
  for (const bad of [...badIds, "AB".repeat(32), "aB".repeat(32)]) {
    assertTrue(!index.has(bad), bad);
    assertEquals(index.get(bad), undefined);
  }
});
