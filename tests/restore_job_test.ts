// Restore jobs (src/_restore_job.ts): ranges of a pack read (or given), their
// blobs opened and verified, each plaintext written where the file wants it;
// the same in a worker as inline, and a precise FormatError for any damage.

import fc from "fast-check";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";
import { randomBlobKeys } from "./_blob_keys.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { tempDirs } from "./_temp_dir.ts";
import { FormatError, WorkerBlobCrypto } from "../mod.ts";
import { sealBlob } from "../src/blob.ts";
import type { BlobKeys } from "../src/blob.ts";
import {
  RESTORE_BLOB_FIELDS,
  type RestoreJob,
  type RestoreRange,
  RestoreScratch,
  runRestoreJob,
} from "../src/_restore_job.ts";

const withDir = tempDirs("cofre-restore-job-");

/** A pack file of sealed chunks with `gap` bytes between them, and where each lies. */
async function packOf(keys: BlobKeys, chunks: Uint8Array[], path: string, gap = 7) {
  const parts: Uint8Array[] = [];
  const blobs: { offset: number; sealedLength: number; id: Uint8Array }[] = [];
  let offset = 0;
  for (const chunk of chunks) {
    const blob = sealBlob("data", chunk, keys, { level: 3 });
    parts.push(new Uint8Array(gap), blob.sealed);
    offset += gap;
    blobs.push({ offset, sealedLength: blob.sealed.length, id: blob.id });
    offset += blob.sealed.length;
  }
  const bytes = new Uint8Array(offset);
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  await Deno.writeFile(path, bytes);
  return { bytes, blobs };
}

/** One range over `picks` (blob index, file offset), in pack order. */
function rangeOf(
  pack: Awaited<ReturnType<typeof packOf>>,
  chunks: Uint8Array[],
  picks: { blob: number; at: number }[],
  path: string,
): RestoreRange {
  const sorted = [...picks].sort((a, b) =>
    pack.blobs[a.blob]!.offset - pack.blobs[b.blob]!.offset || a.at - b.at
  );
  const first = pack.blobs[sorted[0]!.blob]!;
  const last = pack.blobs[sorted.at(-1)!.blob]!;
  const blobs = new Float64Array(sorted.length * RESTORE_BLOB_FIELDS);
  const ids = new Uint8Array(sorted.length * 32);
  sorted.forEach(({ blob, at }, i) => {
    const b = pack.blobs[blob]!;
    blobs.set([b.offset - first.offset, b.sealedLength, chunks[blob]!.length, at], i * 4);
    ids.set(b.id, i * 32);
  });
  return {
    pack: "ab".repeat(32),
    path,
    offset: first.offset,
    length: last.offset + last.sealedLength - first.offset,
    blobs,
    ids,
  };
}

/** Chunks of text (compressed), random bytes (raw) and an empty one. */
function sampleChunks(): Uint8Array[] {
  const text = new TextEncoder().encode("page of messages, see you at eight\n".repeat(200));
  return [
    text.subarray(0, 4096),
    pseudoRandomBytes(5000, 1),
    new Uint8Array(0),
    text.subarray(100, 3100),
    pseudoRandomBytes(70_000, 2),
  ];
}

Deno.test("a restore job writes every blob at its offsets, one the file holds twice included", () =>
  withDir(async (dir) => {
    const { keys } = await randomBlobKeys();
    const chunks = sampleChunks();
    const pack = await packOf(keys, chunks, `${dir}/pack`);
    // The file: chunks 4, 0, 1, 0 (again), 3, 2, in that order.
    const order = [4, 0, 1, 0, 3, 2];
    const picks: { blob: number; at: number }[] = [];
    let at = 0;
    for (const blob of order) {
      picks.push({ blob, at });
      at += chunks[blob]!.length;
    }
    const expected = new Uint8Array(at);
    for (const { blob, at } of picks) expected.set(chunks[blob]!, at);

    // Read from the pack file, and given the range's bytes (remote storage).
    const scratch = new RestoreScratch();
    for (const given of [false, true]) {
      await Deno.writeFile(`${dir}/file`, new Uint8Array(0));
      const range = rangeOf(pack, chunks, picks, `${dir}/pack`);
      if (given) range.bytes = pack.bytes.slice(range.offset, range.offset + range.length);
      const written = runRestoreJob({ file: `${dir}/file`, ranges: [range] }, keys, scratch);
      assertEquals(written, expected.length);
      assertEquals(await Deno.readFile(`${dir}/file`), expected);
    }
  }));

Deno.test("a damaged blob, a short pack or a missing pack fails the job with a FormatError naming it", () =>
  withDir(async (dir) => {
    const { keys } = await randomBlobKeys();
    const chunks = sampleChunks();
    const pack = await packOf(keys, chunks, `${dir}/pack`);
    const picks = chunks.map((_, blob) => ({ blob, at: blob * 100_000 }));
    const scratch = new RestoreScratch();
    const run = (range: RestoreRange) =>
      runRestoreJob({ file: `${dir}/file`, ranges: [range] }, keys, scratch);
    await Deno.writeFile(`${dir}/file`, new Uint8Array(0));

    // One bit of blob 1's ciphertext flipped.
    const damaged = pack.bytes.slice();
    damaged[pack.blobs[1]!.offset + 20]! ^= 1;
    await Deno.writeFile(`${dir}/damaged`, damaged);
    const error = assertThrows(
      () => run(rangeOf(pack, chunks, picks, `${dir}/damaged`)),
      FormatError,
      "authentication failed",
    );
    assertTrue(error.message.includes("data blob"), error.message);

    // The pack is shorter than the index says.
    await Deno.writeFile(`${dir}/short`, pack.bytes.subarray(0, pack.bytes.length - 10));
    assertThrows(
      () => run(rangeOf(pack, chunks, picks, `${dir}/short`)),
      FormatError,
      "the pack has",
    );
    assertThrows(
      () => run(rangeOf(pack, chunks, picks, `${dir}/missing`)),
      FormatError,
      "no such pack",
    );
    // The file is written only once every blob verified.
    assertEquals((await Deno.stat(`${dir}/file`)).size, 0);
  }));

Deno.test("the worker pool runs restore jobs exactly as the inline runner does", () =>
  withDir(async (dir) => {
    const { raw, keys } = await randomBlobKeys();
    const pool = await WorkerBlobCrypto.start(raw, { level: 3, count: 2 });
    try {
      const chunks = Array.from(
        { length: 40 },
        (_, i) =>
          i % 3 === 0
            ? new TextEncoder().encode(`row ${i}: hello again\n`.repeat(150 + i))
            : pseudoRandomBytes(1000 + 97 * i, i),
      );
      const pack = await packOf(keys, chunks, `${dir}/pack`, 3);
      const scratch = new RestoreScratch();
      await fc.assert(
        fc.asyncProperty(
          // A file made of chunks (repeats allowed), cut into jobs of a few ranges each.
          fc.array(fc.nat(chunks.length - 1), { minLength: 1, maxLength: 60 }),
          fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
          async (order, cuts) => {
            const picks: { blob: number; at: number }[] = [];
            let at = 0;
            for (const blob of order) {
              picks.push({ blob, at });
              at += chunks[blob]!.length;
            }
            const jobs = (file: string): RestoreJob[] => {
              const result: RestoreJob[] = [];
              for (let i = 0, c = 0; i < picks.length; c++) {
                const n = cuts[c % cuts.length]!;
                result.push({
                  file,
                  ranges: [rangeOf(pack, chunks, picks.slice(i, i + n), `${dir}/pack`)],
                });
                i += n;
              }
              return result;
            };
            for (const name of ["inline", "pooled"]) {
              await Deno.writeFile(`${dir}/${name}`, new Uint8Array(0));
            }
            let inlineBytes = 0;
            for (const job of jobs(`${dir}/inline`)) {
              inlineBytes += runRestoreJob(job, keys, scratch);
            }
            const pooled = await Promise.all(jobs(`${dir}/pooled`).map((job) => pool.restore(job)));
            assertEquals(pooled.reduce((n, b) => n + b, 0), inlineBytes);
            assertEquals(inlineBytes, at);
            assertEquals(
              await Deno.readFile(`${dir}/pooled`),
              await Deno.readFile(`${dir}/inline`),
            );
          },
        ),
        { numRuns: 25 },
      );
      // A worker's FormatError arrives as one.
      const damaged = pack.bytes.slice();
      damaged[pack.blobs[5]!.offset + 30]! ^= 4;
      await Deno.writeFile(`${dir}/damaged`, damaged);
      await assertRejects(
        () =>
          pool.restore({
            file: `${dir}/inline`,
            ranges: [rangeOf(pack, chunks, [{ blob: 5, at: 0 }], `${dir}/damaged`)],
          }),
        FormatError,
        "authentication failed",
      );
    } finally {
      await pool.close();
    }
  }));
