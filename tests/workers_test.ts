// The worker pool gives the same bytes as the inline stage, job by job and in
// batches (database pages travel in batches: src/backup.ts, src/blob_store.ts).

import { assertEquals, assertRejects } from "./_assert.ts";
import { randomBlobKeys } from "./_blob_keys.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { tempDirs } from "./_temp_dir.ts";
import { TEST_ONLY_FAST_ARGON2ID } from "../src/kdf.ts";
import {
  FormatError,
  InlineBlobCrypto,
  LocalStorage,
  Repository,
  WorkerBlobCrypto,
} from "../mod.ts";

const withDir = tempDirs("cofre-workers-");
const PASSWORD = "vivid otter juggles lanterns";

Deno.test("the worker pool hashes, seals and opens blobs exactly as the inline stage does", async () => {
  const { raw, keys } = await randomBlobKeys();
  const inline = new InlineBlobCrypto(keys, { level: 3 });
  const pool = await WorkerBlobCrypto.start(raw, { level: 3, count: 2 });
  try {
    // Pages: compressible text, random bytes, zeros, an empty one, a repeat.
    const text = new TextEncoder().encode("msg: see you at noon, bring the photos\n".repeat(110));
    const parts = [
      text.subarray(0, 4096),
      pseudoRandomBytes(4096, 1),
      new Uint8Array(4096),
      new Uint8Array(0),
      text.subarray(0, 4096),
      pseudoRandomBytes(1000, 2),
    ];
    const ids = await Promise.all(parts.map(async (p) => (await inline.hash(p.slice())).id));
    const pooledIds = await Promise.all(parts.map(async (p) => (await pool.hash(p.slice())).id));
    assertEquals(pooledIds, ids);
    const sealedInline = await Promise.all(
      parts.map(async (p, i) => (await inline.seal("data", p.slice(), ids[i]!)).sealed),
    );
    const sealed = await Promise.all(
      parts.map(async (p, i) => (await pool.seal("data", p.slice(), ids[i]!)).sealed),
    );
    assertEquals(sealed, sealedInline, "sealing is deterministic: same bytes in workers");
    const expected = { ids };

    const lengths = parts.map((p) => p.length);
    assertEquals(await pool.openMany("data", expected.ids, sealed, lengths), parts);
    assertEquals(await inline.openMany("data", expected.ids, sealed, lengths), parts);

    // One flipped byte anywhere in a batch fails the batch with a FormatError.
    const damaged = sealed.map((s) => s.slice());
    damaged[2]![damaged[2]!.length - 1]! ^= 1;
    await assertRejects(() => pool.openMany("data", expected.ids, damaged, lengths), FormatError);
    await assertRejects(() => inline.openMany("data", expected.ids, damaged, lengths), FormatError);
  } finally {
    await pool.close();
    await inline.close();
  }
});

Deno.test("a repository's backup and restore run on the worker pool and give the file back", () =>
  withDir(async (dir) => {
    const storage = new LocalStorage(`${dir}/repo`);
    const { repository } = await Repository.init(storage, {
      password: PASSWORD,
      argon2id: TEST_ONLY_FAST_ARGON2ID,
    });
    await repository.close();
    await Deno.mkdir(`${dir}/src`);
    // Past the 16 MiB after which the pool starts: its jobs do the rest.
    const big = pseudoRandomBytes(24 * 1024 * 1024, 7);
    await Deno.writeFile(`${dir}/src/video.mp4`, big);
    await Deno.writeFile(`${dir}/src/note.txt`, new TextEncoder().encode("hello"));
    const opened = await Repository.open(storage, { password: PASSWORD });
    try {
      await opened.backup({ paths: [`${dir}/src`], workers: 2 });
      const restored = await opened.restore("latest", { target: `${dir}/out`, workers: 2 });
      assertEquals(restored.files, 2);
      assertEquals(await Deno.readFile(`${dir}/out/src/video.mp4`), big);
    } finally {
      await opened.close();
    }
  }));

Deno.test("a pool starts all its workers, shares jobs among them, and close stops them all", async () => {
  const { raw, keys } = await randomBlobKeys();
  const pool = await WorkerBlobCrypto.start(raw, { level: 3, count: 3 });
  assertEquals(pool.parallelism, 3);
  // Every worker hashes under the same key as this thread.
  const chunks = Array.from({ length: 12 }, (_, i) => pseudoRandomBytes(70_000 + i, i));
  const ids = await Promise.all(chunks.map(async (c) => (await pool.hash(c.slice())).id));
  assertEquals(ids, chunks.map((c) => keys.id.hash(c)));
  // The test would not end with a worker left running.
  await pool.close();
});
