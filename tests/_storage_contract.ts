/**
 * The Storage contract (src/storage/storage.ts) as one test body that every
 * backend runs: immutability, ranges, listing with modifiedMs, deletes.
 *
 * @module
 */

import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { ObjectExistsError, ObjectNotFoundError, type Storage } from "../mod.ts";

export async function checkStorageContract(storage: Storage): Promise<void> {
  const before = Date.now();
  assertEquals(await storage.stat("data/aa/missing"), null);
  await assertRejects(() => storage.get("data/aa/missing"), ObjectNotFoundError);

  const bytes = pseudoRandomBytes(100_000, 1);
  await storage.put("data/ab/one", [bytes.subarray(0, 10), bytes.subarray(10)]);
  assertEquals(await storage.get("data/ab/one"), bytes);
  assertEquals(
    await storage.get("data/ab/one", { offset: 500, length: 1000 }),
    bytes.slice(500, 1500),
  );
  assertEquals(
    await storage.get("data/ab/one", { offset: 99_999, length: 1 }),
    bytes.slice(99_999),
  );
  assertEquals((await storage.get("data/ab/one", { offset: 10, length: 0 })).length, 0);
  await assertRejects(() => storage.get("data/ab/one", { offset: 99_999, length: 2 }), RangeError);

  const info = await storage.stat("data/ab/one");
  assertEquals(info?.size, 100_000);
  // Clocks of a server and this machine differ a little.
  assertTrue(Math.abs(info!.modifiedMs - before) < 120_000, `modifiedMs ${info?.modifiedMs}`);

  // Same bytes again: a no-op; different bytes: refused, the object unchanged.
  await storage.put("data/ab/one", bytes);
  await assertRejects(() => storage.put("data/ab/one", bytes.subarray(1)), ObjectExistsError);
  assertEquals(await storage.get("data/ab/one"), bytes);

  await storage.put("empty", new Uint8Array(0));
  assertEquals((await storage.get("empty")).length, 0);
  await storage.put("keys/k1", new Uint8Array([1]));
  await storage.put("keys/k2", new Uint8Array([2]));

  const all = (await Array.fromAsync(storage.list(""))).map((o) => o.name).sort();
  assertEquals(all, ["data/ab/one", "empty", "keys/k1", "keys/k2"]);
  const keys = await Array.fromAsync(storage.list("keys/"));
  assertEquals(keys.map((o) => o.name).sort(), ["keys/k1", "keys/k2"]);
  assertEquals(keys.map((o) => o.size), [1, 1]);
  for (const o of keys) assertTrue(Math.abs(o.modifiedMs - before) < 120_000, "list modifiedMs");
  assertEquals((await Array.fromAsync(storage.list("data/a"))).map((o) => o.name), [
    "data/ab/one",
  ]);

  await storage.delete("keys/k1");
  await storage.delete("keys/k1"); // deleting a missing object is not an error
  assertEquals((await Array.fromAsync(storage.list("keys/"))).map((o) => o.name), ["keys/k2"]);
  for (const name of ["data/ab/one", "empty", "keys/k2"]) await storage.delete(name);
  assertEquals((await Array.fromAsync(storage.list(""))).length, 0);
}
