// One suite for every Storage backend: the contract in src/storage/storage.ts.

import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { pseudoRandomBytes } from "./_data.ts";
import {
  LocalStorage,
  MemoryStorage,
  ObjectExistsError,
  ObjectNotFoundError,
  type Storage,
} from "../mod.ts";

const backends: [string, () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>][] = [
  [
    "MemoryStorage",
    () => Promise.resolve({ storage: new MemoryStorage(), cleanup: () => Promise.resolve() }),
  ],
  ["LocalStorage", async () => {
    const root = await Deno.makeTempDir({ prefix: "cofre-storage-" });
    return {
      storage: new LocalStorage(`${root}/repo`),
      cleanup: () => Deno.remove(root, { recursive: true }),
    };
  }],
];

for (const [name, make] of backends) {
  Deno.test(`${name} keeps the Storage contract`, async (t) => {
    const { storage, cleanup } = await make();
    try {
      const bytes = crypto.getRandomValues(new Uint8Array(1000));
      await t.step("put, stat, get, get a range", async () => {
        const before = Date.now() - 2000; // file systems may round mtimes down
        await storage.put("data/ab/abcdef", bytes);
        const info = await storage.stat("data/ab/abcdef");
        assertEquals({ ...info, modifiedMs: 0 }, {
          name: "data/ab/abcdef",
          size: 1000,
          modifiedMs: 0,
        });
        assertTrue(info!.modifiedMs >= before && info!.modifiedMs <= Date.now() + 1000);
        assertEquals(await storage.get("data/ab/abcdef"), bytes);
        assertEquals(
          await storage.get("data/ab/abcdef", { offset: 990, length: 10 }),
          bytes.subarray(990),
        );
        assertEquals(
          await storage.get("data/ab/abcdef", { offset: 5, length: 0 }),
          new Uint8Array(0),
        );
      });
      await t.step("the same bytes again is a no-op; different bytes are refused", async () => {
        await storage.put("data/ab/abcdef", bytes.slice());
        const other = bytes.slice();
        other[0]! ^= 1;
        await assertRejects(() => storage.put("data/ab/abcdef", other), ObjectExistsError);
        assertEquals(await storage.get("data/ab/abcdef"), bytes);
      });
      await t.step("missing objects", async () => {
        assertEquals(await storage.stat("keys/nothing"), null);
        await assertRejects(
          () => storage.get("keys/nothing"),
          ObjectNotFoundError,
          "no such object",
        );
        await storage.delete("keys/nothing");
      });
      await t.step("ranges beyond the object are refused", async () => {
        await assertRejects(
          () => storage.get("data/ab/abcdef", { offset: 999, length: 2 }),
          RangeError,
        );
        await assertRejects(
          () => storage.get("data/ab/abcdef", { offset: -1, length: 2 }),
          RangeError,
        );
      });
      await t.step("list by prefix, delete", async () => {
        await storage.put("config", new Uint8Array([1]));
        await storage.put("keys/k1", new Uint8Array([2]));
        await storage.put("keys/k2", new Uint8Array([3, 3]));
        await storage.put("data/cd/cdef", new Uint8Array(0));
        const names = async (prefix: string) =>
          (await Array.fromAsync(storage.list(prefix))).map((o) => `${o.name}:${o.size}`).sort();
        assertEquals(await names("keys/"), ["keys/k1:1", "keys/k2:2"]);
        assertEquals(await names("data/"), ["data/ab/abcdef:1000", "data/cd/cdef:0"]);
        assertEquals(await names("data/c"), ["data/cd/cdef:0"]);
        assertEquals((await names("")).length, 5);
        await storage.delete("keys/k1");
        assertEquals(await names("keys/"), ["keys/k2:2"]);
      });
      await t.step("invalid names are refused", async () => {
        for (const bad of ["", "../x", "a//b", "/abs", "a/./b", "keys/.tmp"]) {
          await assertRejects(() => storage.put(bad, new Uint8Array(1)), RangeError);
        }
      });
    } finally {
      await cleanup();
    }
  });
}

Deno.test("LocalStorage leaves no temporary files and ignores those a crash left", async () => {
  const root = await Deno.makeTempDir({ prefix: "cofre-storage-" });
  try {
    const storage = new LocalStorage(root);
    await storage.put("keys/abc", new Uint8Array(5));
    const files = await Array.fromAsync(Deno.readDir(`${root}/keys`));
    assertEquals(files.map((f) => f.name), ["abc"]);
    // A crash between writing and linking leaves a temporary file behind.
    await Deno.writeFile(`${root}/keys/.tmp-deadbeef`, new Uint8Array(3));
    assertEquals((await Array.fromAsync(storage.list("keys/"))).map((o) => o.name), ["keys/abc"]);
    const mode = (await Deno.stat(`${root}/keys/abc`)).mode! & 0o777;
    assertTrue(mode === 0o600, `mode ${mode.toString(8)}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("LocalStorage.put releases the bytes before it settles, and still compares a taken name", async () => {
  const root = await Deno.makeTempDir({ prefix: "cofre-storage-" });
  try {
    const storage = new LocalStorage(root);
    const bytes = pseudoRandomBytes(100_000, 3);
    const original = bytes.slice();
    const parts = [bytes.subarray(0, 40_000), bytes.subarray(40_000)];
    let released = false;
    // The caller reuses the memory as soon as it is told: the object must not change.
    const put = storage.put("data/ab/one", parts, {
      onConsumed: () => {
        released = true;
        bytes.fill(7);
      },
    });
    await put;
    assertTrue(released);
    const stored = await storage.get("data/ab/one");
    assertEquals(stored, original, "the object holds the bytes as they were");
    // The same bytes again under the taken name are compared from the file, not the reused memory.
    const again = stored.slice();
    await storage.put("data/ab/one", again, { onConsumed: () => again.fill(1) });
    const other = stored.slice();
    other[5]! ^= 1;
    await assertRejects(() => storage.put("data/ab/one", other), ObjectExistsError);
    assertEquals(await storage.get("data/ab/one"), stored);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
