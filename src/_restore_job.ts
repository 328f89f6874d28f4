// A restore job: ranges of packs to read, the blobs in them to open and
// verify (FORMAT.md §8.2), and where in a file each plaintext goes. Restore
// (src/restore.ts) plans jobs on the main thread (src/blob_store.ts) and a
// worker runs each whole (src/_worker.ts): it reads the ranges itself when
// the packs are local files, so the chunks never cross the main thread,
// whose turn for every read, message and write had left the workers idle
// half of a restore. Inline (no workers), the main thread runs the same
// function.

import { type BlobKeys, openBlob } from "./blob.ts";
import { discard } from "./_buffer_pool.ts";
import { FormatError } from "./errors.ts";
import { CHUNK_ID_BYTES } from "./format.ts";
import { readAllSync, writeAllSync } from "./_temp_file.ts";

/** Numbers per blob in `RestoreRange.blobs`. */
export const RESTORE_BLOB_FIELDS = 4;

/** A stretch of one pack and the blobs in it (FORMAT.md §9). */
export interface RestoreRange {
  /** The pack's hex id, for messages. */
  pack: string;
  /** The pack's file, when the job reads the range itself (a local folder). */
  path?: string;
  /** Where the range starts in the pack, and its length. */
  offset: number;
  length: number;
  /** The range, already read (remote storage), given up to the job. */
  bytes?: Uint8Array;
  /**
   * Per blob, `RESTORE_BLOB_FIELDS` numbers: its offset in the range, its
   * sealed length, its plaintext length and where it goes in the file. A
   * blob the file holds twice comes twice, one after the other.
   */
  blobs: Float64Array;
  /** Per blob, its id (`CHUNK_ID_BYTES`). */
  ids: Uint8Array;
}

/** Part of one file's content, written at its offsets into `file`. */
export interface RestoreJob {
  /** The file being restored (its temporary name; it exists). */
  file: string;
  ranges: RestoreRange[];
}

/** Runs of consecutive plaintexts are written together, up to this many bytes. */
const RUN_BYTES = 1024 * 1024;

/**
 * Memory a runner reuses from job to job: the ranges it reads and the runs
 * it gathers. A new buffer for each cost a zero-fill and page faults, and
 * freed ones stayed in the thread's malloc arena, 70 MiB more peak RSS.
 */
export class RestoreScratch {
  #arena = new Uint8Array(0);
  #used = 0;
  readonly run = new Uint8Array(RUN_BYTES);

  /** Starts a job: the arena grows to `bytes` (its ranges), and is all free again. */
  reset(bytes: number): void {
    if (this.#arena.length < bytes) {
      discard([this.#arena]);
      this.#arena = new Uint8Array(bytes);
    }
    this.#used = 0;
  }

  /** `length` bytes of the arena, not handed out since the last reset. */
  take(length: number): Uint8Array {
    const view = this.#arena.subarray(this.#used, this.#used + length);
    this.#used += length;
    return view;
  }
}

/**
 * Reads, opens and verifies every blob of `job` and writes it into the
 * file; returns the bytes written. Throws `FormatError` naming the blob or
 * pack on any damage, having written nothing of the damaged blob. The
 * ranges' `bytes` are consumed.
 */
export function runRestoreJob(
  job: RestoreJob,
  keys: BlobKeys,
  scratch: RestoreScratch,
): number {
  const pieces: { at: number; bytes: Uint8Array }[] = [];
  const dead: Uint8Array[] = [];
  let written = 0;
  scratch.reset(job.ranges.reduce((n, r) => n + (r.bytes ? 0 : r.length), 0));
  try {
    for (const range of job.ranges) {
      let bytes = range.bytes;
      if (bytes) dead.push(bytes);
      else bytes = readRange(range, scratch.take(range.length));
      const count = range.blobs.length / RESTORE_BLOB_FIELDS;
      let previous: { at: number; plaintext: Uint8Array } | undefined;
      for (let i = 0; i < count; i++) {
        const [at, sealedLength, plaintextLength, fileOffset] = range.blobs.subarray(
          i * RESTORE_BLOB_FIELDS,
          (i + 1) * RESTORE_BLOB_FIELDS,
        ) as unknown as [number, number, number, number];
        if (at + sealedLength > bytes.length) {
          throw new FormatError(
            `Cannot read data blob at ${range.offset + at} of pack ${range.pack.slice(0, 16)}: ` +
              `the range holds ${bytes.length} bytes`,
          );
        }
        // A blob the file holds twice is opened once.
        let plaintext = previous?.at === at ? previous.plaintext : undefined;
        if (!plaintext) {
          const id = range.ids.subarray(i * CHUNK_ID_BYTES, (i + 1) * CHUNK_ID_BYTES);
          // The range is the job's own: each blob is opened where it lies.
          plaintext = openBlob(
            "data",
            id,
            bytes.subarray(at, at + sealedLength),
            plaintextLength,
            keys,
            {
              inPlace: true,
            },
          );
          // Decompressed into a buffer of its own (src/blob.ts): dead once written.
          if (plaintext.buffer !== bytes.buffer) dead.push(plaintext);
          previous = { at, plaintext };
        }
        pieces.push({ at: fileOffset, bytes: plaintext });
      }
    }
    written = writePieces(job.file, pieces, scratch.run);
  } finally {
    discard(dead);
  }
  return written;
}

/** Reads the range from the pack's file into `bytes`; FormatError when the pack is missing or short. */
function readRange(range: RestoreRange, bytes: Uint8Array): Uint8Array {
  const fail = (reason: string): never => {
    throw new FormatError(
      `Cannot read ${range.blobs.length / RESTORE_BLOB_FIELDS} data blobs from pack ${
        range.pack.slice(0, 16)
      }: ${reason}`,
    );
  };
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(range.path!, { read: true });
  } catch (error) {
    return fail(error instanceof Deno.errors.NotFound ? "no such pack" : (error as Error).message);
  }
  try {
    const size = file.statSync().size;
    if (range.offset + range.length > size) {
      fail(`the index says ${range.offset + range.length} bytes, the pack has ${size}`);
    }
    file.seekSync(range.offset, Deno.SeekMode.Start);
    if (readAllSync(file, bytes) < bytes.length) fail("the pack shrank while being read");
    return bytes;
  } finally {
    file.close();
  }
}

/**
 * Writes each piece at its offset, runs of consecutive ones gathered into
 * one write: a database's pages lie shuffled in their packs (FORMAT.md §9),
 * and a write each cost more than opening them.
 */
function writePieces(
  path: string,
  pieces: { at: number; bytes: Uint8Array }[],
  staging: Uint8Array,
): number {
  pieces.sort((a, b) => a.at - b.at);
  const file = Deno.openSync(path, { write: true });
  let written = 0;
  try {
    for (let i = 0; i < pieces.length;) {
      let j = i + 1;
      let end = pieces[i]!.at + pieces[i]!.bytes.length;
      while (
        j < pieces.length && pieces[j]!.at === end &&
        end + pieces[j]!.bytes.length - pieces[i]!.at <= RUN_BYTES
      ) end += pieces[j++]!.bytes.length;
      let run = pieces[i]!.bytes;
      if (j - i > 1) {
        let at = 0;
        for (let k = i; k < j; k++) {
          staging.set(pieces[k]!.bytes, at);
          at += pieces[k]!.bytes.length;
        }
        run = staging.subarray(0, at);
      }
      file.seekSync(pieces[i]!.at, Deno.SeekMode.Start);
      writeAllSync(file, run);
      written += run.length;
      i = j;
    }
  } finally {
    file.close();
  }
  return written;
}
