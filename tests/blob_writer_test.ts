// BlobWriter's index files (src/blob_store.ts): written as packs are stored,
// not only at the end, so an interrupted backup's packs are known to the next.

import { assertEquals } from "./_assert.ts";
import {
  BlobIndex,
  BlobWriter,
  InlineBlobCrypto,
  LocalStorage,
  MemoryStorage,
  Repository,
} from "../mod.ts";
import { randomBlobKeys } from "./_blob_keys.ts";

/** 18 MiB of random 1 MiB chunks: more than one 16 MiB pack. */
function chunks(): Uint8Array[] {
  return Array.from({ length: 18 }, () => {
    const chunk = new Uint8Array(1024 * 1024);
    for (let at = 0; at < chunk.length; at += 65536) {
      crypto.getRandomValues(chunk.subarray(at, at + 65536));
    }
    return chunk;
  });
}

async function indexFiles(storage: MemoryStorage): Promise<number> {
  return (await Array.fromAsync(storage.list("index/"))).length;
}

Deno.test("an index file follows a stored pack once INDEX_EVERY_MS has passed, before finish", async () => {
  const { keys } = await randomBlobKeys();
  const crypto = new InlineBlobCrypto(keys, { level: 3 });
  for (const [indexEveryMs, expected] of [[0, 1], [BlobWriter.INDEX_EVERY_MS, 0]] as const) {
    const storage = new MemoryStorage();
    const writer = new BlobWriter(storage, new BlobIndex(), crypto, keys.meta, { indexEveryMs });
    for (const chunk of chunks()) await writer.add("data", chunk);
    // The first pack is stored (the 17th chunk started the second); wait for its upload.
    while ((await Array.fromAsync(storage.list("data/"))).length === 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
    // The index file, when due, is written right after the pack's upload.
    const deadline = Date.now() + 5000;
    do await new Promise((r) => setTimeout(r, 20)); while (
      await indexFiles(storage) < expected && Date.now() < deadline
    );
    assertEquals(await indexFiles(storage), expected, `every ${indexEveryMs} ms`);
    await writer.finish();
    assertEquals(await indexFiles(storage), expected + 1);
  }
});

Deno.test("prune removes a folder repository's day-old temporary files of killed writes, and only those", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cofre-stale-temporaries-test-" });
  try {
    const { repository } = await Repository.init(new LocalStorage(`${dir}/repo`), {
      password: "correct horse battery staple",
      argon2id: { memoryKib: 64, iterations: 1, parallelism: 1 },
    });
    try {
      await Deno.mkdir(`${dir}/repo/data/ab`, { recursive: true });
      const old = `${dir}/repo/data/ab/.tmp-0123456789abcdef`;
      const fresh = `${dir}/repo/data/ab/.tmp-fedcba9876543210`;
      const foreign = `${dir}/repo/data/ab/.tmp-notours`;
      // In a folder that is not Cofre's: left alone however old (FORMAT.md §4).
      await Deno.mkdir(`${dir}/repo/mine`);
      const elsewhere = `${dir}/repo/mine/.tmp-0123456789abcdef`;
      for (const path of [old, fresh, foreign, elsewhere]) {
        await Deno.writeFile(path, new Uint8Array(100));
      }
      const twoDaysAgo = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
      for (const path of [old, foreign, elsewhere]) await Deno.utime(path, twoDaysAgo, twoDaysAgo);
      const result = await repository.prune();
      assertEquals(result.staleTemporaries, { files: 1, bytes: 100 });
      const left = [...Deno.readDirSync(`${dir}/repo/data/ab`)].map((e) => e.name).sort();
      assertEquals(left, [".tmp-fedcba9876543210", ".tmp-notours"]);
      assertEquals((await Deno.stat(elsewhere)).size, 100);
    } finally {
      await repository.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
