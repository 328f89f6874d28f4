// A backup job: one file read, cut into chunks (FastCDC, or a database's
// pages, FORMAT.md §7), each chunk hashed, and the new ones sealed (FORMAT.md
// §8) and handed over for packing. Backup (src/backup.ts) gives each file
// to a worker (src/_worker.ts), which reads it itself: the main thread only
// walks, answers which chunks are new and packs what comes back, where
// before it read, chunked and sent every byte, and the workers waited on it
// (it was busy four of a backup's six seconds). Inline (no workers), the
// main thread runs the same function.

import { discard, ROOM_AFTER, ROOM_BEFORE } from "./_buffer_pool.ts";
import { type BlobKeys, sealBlob } from "./blob.ts";
import { type ChunkerOptions, StreamingChunker } from "./chunker.ts";
import { readAllSync } from "./_temp_file.ts";
import { CHUNK_ID_BYTES } from "./format.ts";

/** What to back up, and how to cut it. */
export interface BackupJob {
  /** The file to read. */
  path: string;
  /** Cut into chunks of this many bytes (a database's pages, FORMAT.md §7.4) instead of by FastCDC. */
  chunkBytes?: number;
  /**
   * Only this part of the file (with `chunkBytes`, a multiple of it: pages
   * cut apart stay apart, so a database is backed up in parts at once).
   */
  range?: { offset: number; length: number };
  /** The size the walk saw (or the range's): a small file is not worth a worker. */
  size?: number;
}

/** A sealed blob handed over for packing: a view of the segment it was sealed in. */
export interface SealedChunk {
  id: Uint8Array;
  sealed: Uint8Array;
  plaintextLength: number;
}

/** Where a job's chunks go: the main thread's dedup and packs (src/backup.ts). */
export interface BackupSink {
  /**
   * Which of these chunk ids are new (and claimed: the caller seals and
   * adds them); `bytesRead` is how much of the file was read since the
   * last call, for progress.
   */
  reserve(ids: Uint8Array[], bytesRead: number): Promise<boolean[]>;
  /**
   * Packs sealed blobs, all lying in `segment`; resolves once they are
   * copied, to `segment` when it may be reused (else it is kept by a pack).
   */
  add(chunks: SealedChunk[], segment: Uint8Array): Promise<Uint8Array | undefined>;
}

/** What a job found: every chunk's id in file order (32 bytes each), and the bytes read. */
export interface BackupResult {
  ids: Uint8Array;
  size: number;
}

/** What a runner keeps between jobs. */
export interface BackupRunner {
  keys: BlobKeys;
  level: number;
  /** The repository's chunker, seeded (FORMAT.md §7.1). */
  chunker: Required<ChunkerOptions>;
}

/** Bytes read from the file at a time. */
const READ_BYTES = 1024 * 1024;
/** Chunks go for packing a segment of about this much at a time... */
const SEGMENT_BYTES = 2 * 1024 * 1024;
/** ...for a database's pages, this much: ids asked about in one message. */
const PAGE_SEGMENT_BYTES = 1024 * 1024;
/** Room around each chunk in a segment, to seal it where it lies (FORMAT.md §8.2). */
const ROOM = ROOM_BEFORE + ROOM_AFTER;
/** Segments are all this much larger, so any serves any file (a larger chunk gets its own). */
const SEGMENT_SLACK_BYTES = 1024 * 1024;

/**
 * Memory a runner reuses from job to job: segments (chunks with room to be
 * sealed in place) that come back once packed, the read buffer, and the
 * chunker, whose wasm window holds up to 2 × maxSize.
 */
export class BackupScratch {
  readonly #free: Uint8Array[] = [];
  readonly read = new Uint8Array(READ_BYTES);
  #chunker: StreamingChunker | undefined;
  #chunkerKey = "";
  /** Where the chunker copies each chunk it cuts: a slot of the job's segment. */
  #slot: (length: number) => Uint8Array = (length) => new Uint8Array(length);
  /** Jobs run one at a time: they share the chunker and the segments. */
  #turn: Promise<unknown> = Promise.resolve();

  /** Runs `job` once the jobs before it are done. */
  exclusive<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#turn.then(job);
    this.#turn = result.catch(() => {});
    return result;
  }

  /** A segment of at least `bytes`. */
  take(bytes: number): Uint8Array {
    const i = this.#free.findIndex((s) => s.length >= bytes);
    if (i >= 0) return this.#free.splice(i, 1)[0]!;
    return new Uint8Array(Math.max(bytes, SEGMENT_BYTES + SEGMENT_SLACK_BYTES));
  }

  /**
   * A segment back, to be reused: a job has at most three (filling,
   * sealing, packing). Others are freed at once (src/_buffer_pool.ts
   * `discard`): a worker makes little other garbage, so it seldom collects.
   */
  give(segment: Uint8Array): void {
    if (this.#free.length < 3 && segment.length <= SEGMENT_BYTES + SEGMENT_SLACK_BYTES) {
      this.#free.push(segment);
    } else discard([segment]);
  }

  /** The chunker for `options`, made once, copying the chunks it cuts into `slot`. */
  chunker(
    options: Required<ChunkerOptions>,
    slot: (length: number) => Uint8Array,
  ): StreamingChunker {
    this.#slot = slot;
    const key = JSON.stringify({ ...options, seed: String(options.seed) });
    if (this.#chunker && this.#chunkerKey === key) return this.#chunker;
    this.release();
    this.#chunkerKey = key;
    this.#chunker = new StreamingChunker(options, { allocate: (length) => this.#slot(length) });
    return this.#chunker;
  }

  /** Frees the chunker's wasm memory; the next job makes a new one. */
  release(): void {
    this.#chunker?.release();
    this.#chunker = undefined;
  }
}

/** Chunks cut into one segment, waiting to be hashed and sealed there. */
interface Filled {
  segment: Uint8Array;
  chunks: Uint8Array[];
}

/**
 * Reads, cuts, hashes and seals one file (or a range of it), handing new
 * chunks to `sink` a segment at a time, and never more than one segment
 * being packed while the next is read: memory does not grow with the file.
 * Resolves to the chunk ids.
 */
export function runBackupJob(
  job: BackupJob,
  runner: BackupRunner,
  scratch: BackupScratch,
  sink: BackupSink,
): Promise<BackupResult> {
  return scratch.exclusive(() => run(job, runner, scratch, sink));
}

async function run(
  job: BackupJob,
  runner: BackupRunner,
  scratch: BackupScratch,
  sink: BackupSink,
): Promise<BackupResult> {
  const pages = job.chunkBytes;
  // Segments are sent for packing when full: every 2 MiB of chunks, or 1 MiB of pages.
  const segmentBytes = pages ? PAGE_SEGMENT_BYTES / pages * (pages + ROOM) : SEGMENT_BYTES;
  const ids: Uint8Array[] = [];
  const full: Filled[] = [];
  let current: Filled | undefined;
  let used = 0;
  let size = 0;
  let unreported = 0;
  let packing: Promise<void> | undefined;

  /** A slot for a chunk of `length` bytes, with room around it; a full segment waits in `full`. */
  const slot = (length: number): Uint8Array => {
    if (current && used + length + ROOM > current.segment.length) {
      full.push(current);
      current = undefined;
    }
    if (!current) {
      current = { segment: scratch.take(length + ROOM), chunks: [] };
      used = 0;
    }
    const chunk = current.segment.subarray(used + ROOM_BEFORE, used + ROOM_BEFORE + length);
    used += length + ROOM;
    // Full enough: the next slot starts a new segment.
    if (used >= segmentBytes) {
      full.push(current);
      current = undefined;
    }
    return chunk;
  };

  /** Hashes a segment's chunks, seals the new ones where they lie and hands them over. */
  const seal = async ({ segment, chunks }: Filled) => {
    if (chunks.length === 0) return scratch.give(segment);
    const hashed = chunks.map((chunk) => runner.keys.id.hash(chunk));
    ids.push(...hashed);
    const fresh = await sink.reserve(hashed, unreported);
    unreported = 0;
    const sealed: SealedChunk[] = [];
    for (const [i, chunk] of chunks.entries()) {
      if (!fresh[i]) {
        chunk.fill(0); // stored already: its plaintext does not travel with the segment
        continue;
      }
      // Sealed where it lies: the slot has the room (FORMAT.md §8.2, src/blob.ts).
      const blob = sealBlob("data", chunk, runner.keys, {
        level: runner.level,
        id: hashed[i]!,
        inPlace: true,
      });
      if (blob.sealed.buffer !== segment.buffer) {
        throw new Error("Cannot seal a chunk in its segment: no room around it");
      }
      sealed.push({ id: hashed[i]!, sealed: blob.sealed, plaintextLength: chunk.length });
    }
    await packing; // one segment being packed at a time
    packing = undefined;
    if (sealed.length === 0) return scratch.give(segment);
    packing = sink.add(sealed, segment).then((back) => {
      if (back) scratch.give(back);
    });
    // Awaited before the next segment is handed over, or at the end; until
    // then the job may be waiting on the sink, and a failure must not go
    // unhandled meanwhile (it would end the worker, or the process inline).
    packing.catch(() => {});
  };

  const file = Deno.openSync(job.path, { read: true });
  const chunker = pages ? undefined : scratch.chunker(runner.chunker, slot);
  try {
    if (job.range) file.seekSync(job.range.offset, Deno.SeekMode.Start);
    let left = job.range?.length ?? Infinity;
    for (;;) {
      if (pages) {
        // Pages are read straight into their slots.
        const chunk = slot(Math.min(pages, left));
        const n = readAllSync(file, chunk);
        size += n;
        unreported += n;
        left -= n;
        // The last chunk holds the rest (an empty slot stays unused).
        if (n > 0) owner(chunk).chunks.push(chunk.subarray(0, n));
        if (n < chunk.length || left === 0) break;
      } else {
        const n = file.readSync(scratch.read);
        if (n === null) break;
        size += n;
        unreported += n;
        for (const chunk of chunker!.push(scratch.read.subarray(0, n))) {
          owner(chunk.bytes).chunks.push(chunk.bytes);
        }
      }
      while (full.length > 0) await seal(full.shift()!);
    }
    if (chunker) {
      for (const chunk of chunker.finish()) owner(chunk.bytes).chunks.push(chunk.bytes);
    }
    for (const filled of [...full.splice(0), ...(current ? [current] : [])]) await seal(filled);
    current = undefined;
    await packing;
    return { ids: concatIds(ids), size };
  } catch (error) {
    // A chunker stopped mid-stream would carry this file's bytes into the next job.
    if (chunker) scratch.release();
    await packing?.catch(() => {});
    throw error;
  } finally {
    file.close();
  }

  /** The segment a chunk's slot lies in: the one current when it was cut. */
  function owner(chunk: Uint8Array): Filled {
    if (current?.segment.buffer === chunk.buffer) return current;
    return full.find((f) => f.segment.buffer === chunk.buffer)!;
  }
}

/** The ids in one buffer (a loop, not concatBytes(...ids): a long file has too many to spread). */
function concatIds(ids: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(ids.length * CHUNK_ID_BYTES);
  ids.forEach((id, i) => out.set(id, i * CHUNK_ID_BYTES));
  return out;
}
