// Backup jobs (src/_backup_job.ts): a file read, cut, hashed and its new
// chunks sealed in segments, exactly as the streaming chunker and sealBlob
// would, whole or in page ranges, inline or in a worker.

import fc from "fast-check";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { randomBlobKeys } from "./_blob_keys.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { tempDirs } from "./_temp_dir.ts";
import { InlineBlobCrypto, StreamingChunker, WorkerBlobCrypto } from "../mod.ts";
import { type BlobKeys, openBlob } from "../src/blob.ts";
import type { BackupSink, SealedChunk } from "../src/_backup_job.ts";
import { toHex } from "../src/_bytes.ts";

const withDir = tempDirs("cofre-backup-job-");
// Small sizes, so files of a few hundred KiB make many chunks and segments.
const CHUNKER = { minSize: 2048, avgSize: 8192, maxSize: 32768, normalization: 1, seed: 77n };

/** What a sink heard: ids asked about, blobs added; `known` ids are "stored already". */
function recordingSink(known: Set<string> = new Set()) {
  const asked: string[] = [];
  const added: SealedChunk[] = [];
  let bytesRead = 0;
  const sink: BackupSink = {
    reserve(ids, bytes) {
      bytesRead += bytes;
      const hexes = ids.map(toHex);
      asked.push(...hexes);
      return Promise.resolve(hexes.map((hex) => {
        const fresh = !known.has(hex);
        known.add(hex);
        return fresh;
      }));
    },
    add(chunks, segment) {
      // Copied out, as a pack does; the segment may then be reused.
      added.push(...chunks.map((c) => ({ ...c, sealed: c.sealed.slice(), id: c.id.slice() })));
      return Promise.resolve(segment);
    },
  };
  return { sink, asked, added, bytesRead: () => bytesRead };
}

/** The ids the streaming chunker and the keyed hash give for `data`. */
function referenceIds(data: Uint8Array, keys: BlobKeys): { ids: string[]; chunks: Uint8Array[] } {
  using chunker = new StreamingChunker(CHUNKER);
  const chunks = [...chunker.push(data), ...chunker.finish()].map((c) => c.bytes);
  return { ids: chunks.map((c) => toHex(keys.id.hash(c))), chunks };
}

function idsOf(ids: Uint8Array): string[] {
  const out = [];
  for (let at = 0; at < ids.length; at += 32) out.push(toHex(ids.subarray(at, at + 32)));
  return out;
}

Deno.test("a backup job cuts, hashes and seals a file as the streaming chunker and sealBlob do", () =>
  withDir(async (dir) => {
    const { keys } = await randomBlobKeys();
    const stage = new InlineBlobCrypto(keys, { level: 3, chunker: CHUNKER });
    const text = new TextEncoder().encode("hello again, see you at eight\n".repeat(30_000));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 900_000 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 1000 }),
        async (length, compressible, seed) => {
          const data = compressible
            ? text.subarray(seed, seed + length)
            : pseudoRandomBytes(length, seed);
          await Deno.writeFile(`${dir}/file`, data);
          const reference = referenceIds(data, keys);
          const heard = recordingSink();
          const result = await stage.backup({ path: `${dir}/file`, size: data.length }, heard.sink);
          assertEquals(idsOf(result.ids), reference.ids);
          assertEquals(result.size, data.length);
          assertEquals(heard.bytesRead(), data.length);
          // Every new chunk is added once, sealed so that it opens to its plaintext.
          const unique = [...new Set(reference.ids)];
          assertEquals(heard.added.map((c) => toHex(c.id)), unique);
          for (const chunk of heard.added) {
            const i = reference.ids.indexOf(toHex(chunk.id));
            assertEquals(
              openBlob("data", chunk.id, chunk.sealed, chunk.plaintextLength, keys),
              reference.chunks[i],
            );
          }
        },
      ),
      { numRuns: 40 },
    );
    await stage.close();
  }));

Deno.test("a backup job seals only the chunks the sink says are new, and reads pages in ranges", () =>
  withDir(async (dir) => {
    const { keys } = await randomBlobKeys();
    const stage = new InlineBlobCrypto(keys, { level: 3, chunker: CHUNKER });
    // A "database" of 4 KiB pages, two of them alike, and a short last page.
    const pages = pseudoRandomBytes(300 * 4096 + 1000, 9);
    pages.copyWithin(7 * 4096, 3 * 4096, 4 * 4096);
    await Deno.writeFile(`${dir}/db`, pages);
    const expected: string[] = [];
    for (let at = 0; at < pages.length; at += 4096) {
      expected.push(toHex(keys.id.hash(pages.subarray(at, at + 4096))));
    }

    const whole = recordingSink(new Set([expected[0]!]));
    const result = await stage.backup({ path: `${dir}/db`, chunkBytes: 4096 }, whole.sink);
    assertEquals(idsOf(result.ids), expected);
    assertEquals(whole.asked, expected);
    // The first was stored already, the repeated page is added once.
    assertEquals(whole.added.length, expected.length - 2);
    assertTrue(!whole.added.some((c) => toHex(c.id) === expected[0]));

    // In ranges of whole pages, the parts make the same chunks.
    const parts = [];
    for (const [offset, length] of [[0, 40960], [40960, 819200], [860160, pages.length - 860160]]) {
      const part = await stage.backup(
        { path: `${dir}/db`, chunkBytes: 4096, range: { offset: offset!, length: length! } },
        recordingSink().sink,
      );
      parts.push(...idsOf(part.ids));
    }
    assertEquals(parts, expected);

    // Longer runs of pages (FORMAT.md §7.4), up to longer than a read: the
    // same cuts as slicing the file.
    for (const chunkBytes of [8192, 65536, 3 * 1024 * 1024]) {
      const cut: string[] = [];
      for (let at = 0; at < pages.length; at += chunkBytes) {
        cut.push(toHex(keys.id.hash(pages.subarray(at, at + chunkBytes))));
      }
      const runs = await stage.backup({ path: `${dir}/db`, chunkBytes }, recordingSink().sink);
      assertEquals(idsOf(runs.ids), cut, `${chunkBytes}`);
      assertEquals(runs.size, pages.length);
    }
    await stage.close();
  }));

class DiskFullError extends Error {}

Deno.test("a failed backup job leaves the next one whole; a worker's jobs equal the inline ones", () =>
  withDir(async (dir) => {
    const { raw, keys } = await randomBlobKeys();
    const inline = new InlineBlobCrypto(keys, { level: 3, chunker: CHUNKER });
    const pool = await WorkerBlobCrypto.start(raw, { level: 3, count: 2, chunker: CHUNKER });
    try {
      const data = pseudoRandomBytes(600_000, 5);
      await Deno.writeFile(`${dir}/file`, data);
      const reference = referenceIds(data, keys);
      for (const stage of [inline, pool]) {
        // A missing file fails with the system's message.
        await assertRejects(
          () => stage.backup({ path: `${dir}/missing` }, recordingSink().sink),
          Error,
          "No such file",
        );
        // A sink that fails mid-file fails the job, with its chunker mid-stream...
        const failing = recordingSink();
        failing.sink.add = () => Promise.reject(new DiskFullError("Cannot store: disk full"));
        // The sink's own error, class and message, from a worker too.
        await assertRejects(
          () => stage.backup({ path: `${dir}/file` }, failing.sink),
          DiskFullError,
          "Cannot store: disk full",
        );
        // A sink that fails while the next segment's question is out: the
        // job fails with it, and nothing is left unhandled.
        await Deno.writeFile(`${dir}/large`, pseudoRandomBytes(7_000_000, 6));
        const late = recordingSink();
        const ask = late.sink.reserve.bind(late.sink);
        late.sink.reserve = (ids, bytes) =>
          new Promise((resolve) => setTimeout(() => resolve(ask(ids, bytes)), 50));
        late.sink.add = () =>
          new Promise((_, reject) => setTimeout(() => reject(new Error("Cannot store: gone")), 5));
        await assertRejects(
          () => stage.backup({ path: `${dir}/large` }, late.sink),
          Error,
          "gone",
        );
        // ...and the next job cuts from the start, in either stage, several at once.
        const runs = await Promise.all(
          [0, 1, 2].map(() => stage.backup({ path: `${dir}/file` }, recordingSink().sink)),
        );
        for (const run of runs) assertEquals(idsOf(run.ids), reference.ids);
      }
      // Sealing is deterministic: a worker's blobs are the inline stage's bytes.
      const a = recordingSink();
      const b = recordingSink();
      await inline.backup({ path: `${dir}/file` }, a.sink);
      await pool.backup({ path: `${dir}/file` }, b.sink);
      assertEquals(b.added.map((c) => c.sealed), a.added.map((c) => c.sealed));
    } finally {
      await pool.close();
      await inline.close();
    }
  }));
