// A pipeline worker (src/workers.ts): its own wasm, BLAKE3 and zstd
// instances, hashing, sealing and opening blobs for the main thread. Chunk
// buffers arrive and leave as transferred ArrayBuffers: no copies.

/// <reference lib="deno.worker" />

import { type BlobKeys, blobKeysFrom, openBlob, sealBlob } from "./blob.ts";
import { loadCompressor } from "./compress.ts";
import { discard } from "./_buffer_pool.ts";
import { GarbageMeter, loadGarbageCollector } from "./_gc.ts";
import type { BlobType } from "./format.ts";
import { type RestoreJob, RestoreScratch, runRestoreJob } from "./_restore_job.ts";
import { type BackupJob, BackupScratch, type BackupSink, runBackupJob } from "./_backup_job.ts";
import type { ChunkerOptions } from "./chunker.ts";
import { captureDatabase } from "./sqlite.ts";

export type WorkerRequest =
  | {
    kind: "init";
    keys: { data: Uint8Array; meta: Uint8Array; id: Uint8Array; nonce: Uint8Array };
    level: number;
    /** The repository's chunker, seeded, for backup jobs. */
    chunker?: Required<ChunkerOptions>;
  }
  | { kind: "hash"; job: number; bytes: Uint8Array }
  | { kind: "seal"; job: number; type: BlobType; bytes: Uint8Array; id: Uint8Array }
  | {
    kind: "openMany";
    job: number;
    type: BlobType;
    ids: Uint8Array;
    sealed: Uint8Array;
    lengths: number[];
    plaintextLengths: number[];
  }
  | {
    kind: "open";
    job: number;
    type: BlobType;
    id: Uint8Array;
    sealed: Uint8Array;
    plaintextLength: number;
  }
  | { kind: "restore"; job: number; request: RestoreJob }
  | { kind: "backup"; job: number; request: BackupJob }
  | { kind: "capture"; job: number; path: string; to: string }
  | {
    kind: "answer";
    job: number;
    to: "reserve" | "add";
    /** reserve: 1 for each id that is new. */
    fresh?: Uint8Array;
    /** add: the segment, back to be reused. */
    segment?: Uint8Array;
    error?: string;
  }
  | { kind: "close" };

export type WorkerResponse =
  | { kind: "ready" }
  | { kind: "initialized" }
  | { kind: "closed" }
  | { kind: "hashed"; job: number; id: Uint8Array; bytes: Uint8Array }
  | { kind: "sealed"; job: number; sealed: Uint8Array; compressed: boolean }
  | { kind: "openedMany"; job: number; plaintext: Uint8Array }
  | { kind: "opened"; job: number; plaintext: Uint8Array }
  | { kind: "restored"; job: number; bytes: number }
  | { kind: "backedUp"; job: number; ids: Uint8Array; size: number }
  | { kind: "captured"; job: number; pageSize: number }
  /** A backup job asks which chunks are new (`bytes`: read since it last asked)... */
  | { kind: "reserve"; job: number; ids: Uint8Array; bytes: number }
  /** ...and hands over the new ones, sealed: `blobs` holds offset, length, plaintext length each. */
  | { kind: "add"; job: number; segment: Uint8Array; blobs: Float64Array; ids: Uint8Array }
  | { kind: "failed"; job: number; name: string; message: string };

let keys: BlobKeys | null = null;
let chunker: Required<ChunkerOptions> | undefined;
const scratch = new RestoreScratch();
const backupScratch = new BackupScratch();
/** Answers a running backup job awaits, by job and question. */
const answers = new Map<string, (answer: Extract<WorkerRequest, { kind: "answer" }>) => void>();

let level = 3;
// Each isolate collects its own garbage; with libzstd a worker makes little
// (its buffers are freed as they die), with zstd-codec its handles pile up.
const garbage = new GarbageMeter();

function reply(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  self.postMessage(message, transfer);
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  if (request.kind === "init") {
    keys = await blobKeysFrom(request.keys);
    for (const key of Object.values(request.keys)) key.fill(0);
    level = request.level;
    chunker = request.chunker;
    reply({ kind: "initialized" });
    return;
  }
  if (request.kind === "close") {
    backupScratch.release();
    if (keys) {
      keys.data[Symbol.dispose]();
      keys.meta[Symbol.dispose]();
      keys.id.dispose();
      keys.nonce.dispose();
    }
    keys = null;
    reply({ kind: "closed" });
    self.close();
    return;
  }
  if (request.kind === "answer") {
    answers.get(`${request.job}:${request.to}`)?.(request);
    return;
  }
  if (request.kind === "backup") {
    backUp(request.job, request.request); // queued behind the others (src/_backup_job.ts)
    return;
  }
  if (request.kind === "capture") {
    try {
      reply({
        kind: "captured",
        job: request.job,
        pageSize: await captureDatabase(request.path, request.to),
      });
    } catch (error) {
      const e = error as Error;
      reply({ kind: "failed", job: request.job, name: e.name, message: e.message });
    }
    return;
  }
  try {
    if (!keys) throw new Error("Cannot work: the worker has no keys");
    if (request.kind === "restore") {
      // Its buffers are freed as it goes (src/_restore_job.ts): nothing for the meter.
      const bytes = runRestoreJob(request.request, keys, scratch);
      reply({ kind: "restored", job: request.job, bytes });
      return;
    }
    garbage.add("bytes" in request ? request.bytes.length : request.sealed.length);
    if (request.kind === "hash") {
      const id = keys.id.hash(request.bytes);
      reply({ kind: "hashed", job: request.job, id, bytes: request.bytes }, [
        request.bytes.buffer as ArrayBuffer,
      ]);
    } else if (request.kind === "seal") {
      // The chunk's buffer is ours (transferred): seal it where it lies (src/_buffer_pool.ts).
      const blob = sealBlob(request.type, request.bytes, keys, {
        level,
        id: request.id,
        inPlace: true,
      });
      // Not sealed in place: the plaintext leaves no copy here, and its buffer is free.
      if (blob.sealed.buffer !== request.bytes.buffer) {
        request.bytes.fill(0);
        discard([request.bytes]);
      }
      reply(
        { kind: "sealed", job: request.job, sealed: blob.sealed, compressed: blob.compressed },
        [
          blob.sealed.buffer as ArrayBuffer,
        ],
      );
    } else if (request.kind === "openMany") {
      const plaintext = new Uint8Array(request.plaintextLengths.reduce((n, l) => n + l, 0));
      let at = 0;
      let out = 0;
      request.lengths.forEach((n, i) => {
        const opened = openBlob(
          request.type,
          request.ids.subarray(32 * i, 32 * i + 32),
          request.sealed.subarray(at, at += n),
          request.plaintextLengths[i]!,
          keys!,
        );
        plaintext.set(opened, out);
        out += opened.length;
        discard([opened]); // a buffer of its own (src/blob.ts)
      });
      discard([request.sealed]);
      reply({ kind: "openedMany", job: request.job, plaintext }, [plaintext.buffer]);
    } else if (request.kind === "open") {
      // Opened where it lies: a raw blob's plaintext goes back in the buffer it came in.
      const plaintext = openBlob(
        request.type,
        request.id,
        request.sealed,
        request.plaintextLength,
        keys,
        { inPlace: true },
      );
      // Decompressed into a new buffer: the sealed one, transferred here, is free.
      if (plaintext.buffer !== request.sealed.buffer) discard([request.sealed]);
      reply({ kind: "opened", job: request.job, plaintext }, [plaintext.buffer as ArrayBuffer]);
    }
  } catch (error) {
    const e = error as Error;
    reply({ kind: "failed", job: request.job, name: e.name, message: e.message });
  }
};

/** Runs a backup job, its sink's questions going to the main thread (src/workers.ts). */
async function backUp(job: number, request: BackupJob): Promise<void> {
  const ask = <T>(
    to: "reserve" | "add",
    message: WorkerResponse,
    transfer: ArrayBuffer[],
    take: (answer: Extract<WorkerRequest, { kind: "answer" }>) => T,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      answers.set(`${job}:${to}`, (answer) => {
        answers.delete(`${job}:${to}`);
        if (answer.error !== undefined) reject(new Error(answer.error));
        else resolve(take(answer));
      });
      reply(message, transfer);
    });
  const sink: BackupSink = {
    reserve: (ids, bytes) => {
      const all = new Uint8Array(ids.length * 32);
      ids.forEach((id, i) => all.set(id, 32 * i));
      return ask(
        "reserve",
        { kind: "reserve", job, ids: all, bytes },
        [all.buffer],
        (answer) => Array.from(answer.fresh!, (f) => f === 1),
      );
    },
    add: (chunks, segment) => {
      const blobs = new Float64Array(chunks.length * 3);
      const ids = new Uint8Array(chunks.length * 32);
      chunks.forEach((chunk, i) => {
        blobs.set([
          chunk.sealed.byteOffset - segment.byteOffset,
          chunk.sealed.length,
          chunk.plaintextLength,
        ], 3 * i);
        ids.set(chunk.id, 32 * i);
      });
      return ask(
        "add",
        { kind: "add", job, segment, blobs, ids },
        [segment.buffer as ArrayBuffer, blobs.buffer, ids.buffer],
        (answer) => answer.segment,
      );
    },
  };
  try {
    if (!keys || !chunker) throw new Error("Cannot back up: the worker has no keys");
    const result = await runBackupJob(request, { keys, level, chunker }, backupScratch, sink);
    reply({ kind: "backedUp", job, ids: result.ids, size: result.size }, [
      result.ids.buffer as ArrayBuffer,
    ]);
  } catch (error) {
    const e = error as Error;
    reply({ kind: "failed", job, name: e.name, message: e.message });
  }
}

// The main thread waits for this before sending anything (DESIGN.md §2).
// Loaded first, so that the keys' "init" is answered at once.
await Promise.all([loadCompressor(), loadGarbageCollector()]);
reply({ kind: "ready" });
