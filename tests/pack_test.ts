import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { AesGcm, FormatError, MemoryStorage, PackBuilder, readPackHeader } from "../mod.ts";
import { concatBytes, toHex } from "../src/_bytes.ts";

function pack(count: number) {
  const builder = new PackBuilder();
  const blobs = Array.from({ length: count }, (_, i) => {
    const id = crypto.getRandomValues(new Uint8Array(32));
    const sealed = crypto.getRandomValues(new Uint8Array(29 + i * 7));
    builder.add({
      type: i % 3 === 0 ? "tree" : "data",
      id,
      sealedLength: sealed.length,
      plaintextLength: i * 10,
    }, sealed);
    return { id: toHex(id), sealed };
  });
  return { builder, blobs };
}

Deno.test("a pack round-trips: every blob is where the index says, named by its SHA-256", async () => {
  const meta = new AesGcm(crypto.getRandomValues(new Uint8Array(32)));
  const { builder, blobs } = pack(40);
  const finished = await builder.finish(meta);
  assertEquals(builder.count, 0);
  const bytes = concatBytes(...finished.parts);
  assertEquals(bytes.length, finished.size);
  assertEquals(
    toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))),
    toHex(finished.id),
  );
  const storage = new MemoryStorage();
  await storage.put(finished.name, finished.parts);
  const entries = await readPackHeader(storage, toHex(finished.id), bytes.length, meta);
  assertEquals(
    entries.map((e) => [toHex(e.id), e.offset]),
    finished.entries.map((e) => [toHex(e.id), e.offset]),
  );
  for (const blob of blobs) {
    const entry = entries.find((e) => toHex(e.id) === blob.id)!;
    assertEquals(bytes.subarray(entry.offset, entry.offset + entry.sealedLength), blob.sealed);
  }
  // Random order: 40 blobs in insertion order by chance is out of reach.
  assertTrue(entries.map((e) => toHex(e.id)).join() !== blobs.map((b) => b.id).join());
});

Deno.test("a pack of more than 16384 blobs (well-compressed pages) is shuffled and reads back", async () => {
  // WebCrypto fills at most 64 KiB per getRandomValues call: 16384 words.
  const meta = new AesGcm(crypto.getRandomValues(new Uint8Array(32)));
  const builder = new PackBuilder();
  const count = 40_000;
  const order: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = new Uint8Array(32);
    new DataView(id.buffer).setUint32(0, i);
    order.push(toHex(id));
    builder.add({ type: "data", id, sealedLength: 29, plaintextLength: 1 }, new Uint8Array(29));
  }
  const finished = await builder.finish(meta);
  const storage = new MemoryStorage();
  await storage.put(finished.name, finished.parts);
  const entries = await readPackHeader(storage, toHex(finished.id), finished.size, meta);
  const ids = entries.map((e) => toHex(e.id));
  assertEquals([...ids].sort(), [...order].sort());
  // The last blobs are shuffled too, not only the first 16384.
  const tail = (list: string[]) => list.slice(-1000).join();
  assertTrue(tail(ids) !== tail(order));
});

Deno.test("readPackHeader() reports a truncated, altered or foreign pack as FormatError", async (t) => {
  const meta = new AesGcm(crypto.getRandomValues(new Uint8Array(32)));
  const finished = await pack(5).builder.finish(meta);
  const bytes = concatBytes(...finished.parts);
  const id = toHex(finished.id);
  const cases: [string, Uint8Array, AesGcm][] = [
    ["truncated", bytes.subarray(0, bytes.length - 1), meta],
    ["too short to be a pack", bytes.subarray(0, 20), meta],
    [
      "header length beyond the pack",
      (() => {
        const b = bytes.slice();
        new DataView(b.buffer).setUint32(b.length - 4, b.length, true);
        return b;
      })(),
      meta,
    ],
    [
      "header altered",
      (() => {
        const b = bytes.slice();
        b[b.length - 10]! ^= 1;
        return b;
      })(),
      meta,
    ],
    ["a blob missing before the header", bytes.subarray(29), meta],
    ["another repository's key", bytes, new AesGcm(new Uint8Array(32))],
  ];
  for (const [name, damaged, key] of cases) {
    await t.step(name, async () => {
      const storage = new MemoryStorage();
      await storage.put(`data/${id.slice(0, 2)}/${id}`, damaged);
      await assertRejects(
        () => readPackHeader(storage, id, damaged.length, key),
        FormatError,
        `pack ${id}`,
      );
    });
  }
});
