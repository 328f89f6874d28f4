// A pipeline worker (src/workers.ts): its own wasm, BLAKE3 and zstd
// instances, hashing, sealing and opening blobs for the main thread. Chunk
// buffers arrive and leave as transferred ArrayBuffers: no copies.

/// <reference lib="deno.worker" />

import { AesGcm } from "./aead.ts";
import { type BlobKeys, openBlob, sealBlob } from "./blob.ts";
import { KeyedHasher } from "./chunk_id.ts";
import { loadCompressor } from "./compress.ts";
import { discard } from "./_buffer_pool.ts";
import { GarbageMeter, loadGarbageCollector } from "./_gc.ts";
import type { BlobType } from "./format.ts";
import { type RestoreJob, RestoreScratch, runRestoreJob } from "./_restore_job.ts";

export type WorkerRequest =
  | {
    kind: "init";
    keys: { data: Uint8Array; meta: Uint8Array; id: Uint8Array; nonce: Uint8Array };
    level: number;
  }
  | { kind: "hash"; job: number; bytes: Uint8Array }
  | { kind: "seal"; job: number; type: BlobType; bytes: Uint8Array; id: Uint8Array }
  | { kind: "hashMany"; job: number; bytes: Uint8Array; lengths: number[] }
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
    kind: "sealMany";
    job: number;
    type: BlobType;
    bytes: Uint8Array;
    lengths: number[];
    ids: Uint8Array;
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
  | { kind: "close" };

export type WorkerResponse =
  | { kind: "ready" }
  | { kind: "initialized" }
  | { kind: "closed" }
  | { kind: "hashed"; job: number; id: Uint8Array; bytes: Uint8Array }
  | { kind: "sealed"; job: number; sealed: Uint8Array; compressed: boolean }
  | { kind: "hashedMany"; job: number; ids: Uint8Array; bytes: Uint8Array }
  | { kind: "openedMany"; job: number; plaintext: Uint8Array }
  | { kind: "sealedMany"; job: number; sealed: Uint8Array; lengths: number[] }
  | { kind: "opened"; job: number; plaintext: Uint8Array }
  | { kind: "restored"; job: number; bytes: number }
  | { kind: "failed"; job: number; name: string; message: string };

let keys: BlobKeys | null = null;
const scratch = new RestoreScratch();
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
    keys = {
      data: new AesGcm(request.keys.data),
      meta: new AesGcm(request.keys.meta),
      id: await KeyedHasher.create(request.keys.id),
      nonce: await KeyedHasher.create(request.keys.nonce),
    };
    for (const key of Object.values(request.keys)) key.fill(0);
    level = request.level;
    reply({ kind: "initialized" });
    return;
  }
  if (request.kind === "close") {
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
    } else if (request.kind === "hashMany") {
      const ids = new Uint8Array(32 * request.lengths.length);
      let at = 0;
      request.lengths.forEach((n, i) => {
        ids.set(keys!.id.hash(request.bytes.subarray(at, at += n)), 32 * i);
      });
      reply({ kind: "hashedMany", job: request.job, ids, bytes: request.bytes }, [
        ids.buffer,
        request.bytes.buffer as ArrayBuffer,
      ]);
    } else if (request.kind === "sealMany") {
      let at = 0;
      const blobs = request.lengths.map((n, i) => {
        const part = request.bytes.subarray(at, at += n);
        const id = request.ids.subarray(32 * i, 32 * i + 32);
        return sealBlob(request.type, part, keys!, { level, id }).sealed;
      });
      request.bytes.fill(0);
      discard([request.bytes]);
      const lengths = blobs.map((b) => b.length);
      const sealedBytes = new Uint8Array(lengths.reduce((n, l) => n + l, 0));
      let out = 0;
      for (const blob of blobs) {
        sealedBytes.set(blob, out);
        out += blob.length;
      }
      discard(blobs); // sealed into buffers of their own (src/blob.ts)
      reply({ kind: "sealedMany", job: request.job, sealed: sealedBytes, lengths }, [
        sealedBytes.buffer,
      ]);
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

// The main thread waits for this before sending anything (DESIGN.md §2).
// Loaded first: a worker started ahead of its keys (src/workers.ts
// WarmWorkers) loads while the key is derived, and is then ready at once.
await Promise.all([loadCompressor(), loadGarbageCollector()]);
reply({ kind: "ready" });
