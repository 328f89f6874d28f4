/**
 * The pipeline's parallel stages (DESIGN.md §2), on a pool of Web Workers,
 * one per core, each with its own wasm and zstd instances: whole files
 * backed up (src/_backup_job.ts: read, cut, hashed, sealed) and restored
 * (src/_restore_job.ts: read from packs, opened, verified, written), a
 * database's consistent copy, and single blobs hashed, sealed and opened
 * (trees, `cat`, `check`). `InlineBlobCrypto` does the same work in the
 * calling thread, for small jobs and for hosts without workers.
 *
 * @module
 */

import { concatBytes } from "./_bytes.ts";
import { markOwned, ownsBuffer } from "./_buffer_pool.ts";
import { type BlobKeys, openBlob, type RawBlobKeys, sealBlob } from "./blob.ts";
import { FormatError } from "./errors.ts";
import { type BlobType, CHUNK_ID_BYTES } from "./format.ts";
import type { WorkerRequest, WorkerResponse } from "./_worker.ts";
import { type RestoreJob, RestoreScratch, runRestoreJob } from "./_restore_job.ts";
import {
  type BackupJob,
  type BackupResult,
  BackupScratch,
  type BackupSink,
  runBackupJob,
  type SealedChunk,
} from "./_backup_job.ts";
import type { ChunkerOptions } from "./chunker.ts";
import { captureDatabase, DatabaseBusyError } from "./sqlite.ts";

/** The pipeline's CPU-heavy stages, and the file jobs that run them, behind one interface. */
export interface BlobCrypto {
  /** The chunk id, and the bytes back (they may have travelled to a worker). */
  hash(bytes: Uint8Array): Promise<{ id: Uint8Array; bytes: Uint8Array }>;
  /** Seals a blob; `bytes` is consumed (transferred and zeroed). */
  seal(
    type: BlobType,
    bytes: Uint8Array,
    id: Uint8Array,
  ): Promise<{ sealed: Uint8Array; compressed: boolean }>;
  /**
   * Opens and verifies many small blobs of one type as one job (FormatError
   * on any damage): the plaintexts in order, in buffers nothing else holds
   * (several may share one), which the caller may `discard`.
   */
  openMany(
    type: BlobType,
    ids: Uint8Array[],
    sealed: Uint8Array[],
    plaintextLengths: number[],
  ): Promise<Uint8Array[]>;
  /**
   * Opens and verifies a blob (FormatError on any damage). The plaintext
   * may lie in `sealed`'s buffer (a raw blob opened in a worker, where the
   * buffer travelled), else in a new one nothing else holds.
   */
  open(
    type: BlobType,
    id: Uint8Array,
    sealed: Uint8Array,
    plaintextLength: number,
  ): Promise<Uint8Array>;
  /**
   * Runs a backup job (src/_backup_job.ts): reads the file, cuts, hashes
   * and seals its chunks, asking `sink` which are new and handing it those;
   * resolves to the file's chunk ids and size. Errors reading the file
   * reject with the system's message.
   */
  backup(job: BackupJob, sink: BackupSink): Promise<BackupResult>;
  /**
   * Copies the live database at `path` (`size` bytes) to `to` as one
   * committed state (src/sqlite.ts captureDatabase); resolves to its page
   * size. DatabaseBusyError when writers keep it locked.
   */
  captureDatabase(path: string, to: string, size?: number): Promise<number>;
  /**
   * Runs a restore job (src/_restore_job.ts): its blobs read, opened,
   * verified and written into its file; resolves to the bytes written.
   * FormatError on any damage. The ranges' `bytes` are consumed.
   */
  restore(job: RestoreJob): Promise<number>;
  /** How many jobs may usefully be in flight. */
  readonly parallelism: number;
  /**
   * A hint that about `bytes` of work is coming (a database's pages): a
   * pool that starts on demand may start now.
   */
  expect?(bytes: number): void;
  /** Wipes the keys and stops any workers. */
  close(): Promise<void>;
}

/** Works in the calling thread. */
export class InlineBlobCrypto implements BlobCrypto {
  readonly parallelism = 1;
  readonly #keys: BlobKeys;
  readonly #level: number;
  readonly #chunker: Required<ChunkerOptions> | undefined;
  #scratch: RestoreScratch | undefined;
  #backupScratch: BackupScratch | undefined;

  /** `chunker`: the repository's, seeded, for backup jobs. */
  constructor(keys: BlobKeys, options: { level: number; chunker?: Required<ChunkerOptions> }) {
    this.#keys = keys;
    this.#level = options.level;
    this.#chunker = options.chunker;
  }

  hash(bytes: Uint8Array) {
    return Promise.resolve({ id: this.#keys.id.hash(bytes), bytes });
  }

  seal(type: BlobType, bytes: Uint8Array, id: Uint8Array) {
    const blob = sealBlob(type, bytes, this.#keys, { level: this.#level, id });
    return Promise.resolve({ sealed: blob.sealed, compressed: blob.compressed });
  }

  openMany(type: BlobType, ids: Uint8Array[], sealed: Uint8Array[], plaintextLengths: number[]) {
    try {
      return Promise.resolve(
        sealed.map((s, i) => openBlob(type, ids[i]!, s, plaintextLengths[i]!, this.#keys)),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  open(type: BlobType, id: Uint8Array, sealed: Uint8Array, plaintextLength: number) {
    try {
      return Promise.resolve(
        openBlob(type, id, sealed, plaintextLength, this.#keys),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  backup(job: BackupJob, sink: BackupSink) {
    if (!this.#chunker) {
      return Promise.reject(new TypeError("Cannot back up: the stage has no chunker"));
    }
    this.#backupScratch ??= new BackupScratch();
    return runBackupJob(
      job,
      {
        keys: this.#keys,
        level: this.#level,
        chunker: this.#chunker,
      },
      this.#backupScratch,
      sink,
    );
  }

  captureDatabase(path: string, to: string) {
    return captureDatabase(path, to);
  }

  restore(job: RestoreJob) {
    try {
      this.#scratch ??= new RestoreScratch();
      return Promise.resolve(runRestoreJob(job, this.#keys, this.#scratch));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): Promise<void> {
    this.#backupScratch?.release();
    this.#backupScratch = undefined;
    return Promise.resolve();
  }
}

interface Pending {
  resolve: (response: WorkerResponse) => void;
  reject: (error: Error) => void;
}

/** A pool of workers; jobs go to the least busy one. */
export class WorkerBlobCrypto implements BlobCrypto {
  readonly parallelism: number;
  readonly #workers: { worker: Worker; busy: number }[];
  readonly #pending = new Map<number, Pending>();
  /** Backup jobs' sinks, by job: a worker asks them mid-job (src/_backup_job.ts). */
  readonly #sinks = new Map<number, BackupSink>();
  /** A sink's first failure by job: the job fails with it, not with its message. */
  readonly #sinkErrors = new Map<number, unknown>();
  #next = 0;
  #closed = false;

  private constructor(workers: { worker: Worker; busy: number }[]) {
    this.#workers = [];
    this.parallelism = workers.length;
    for (const slot of workers) this.#adopt(slot);
  }

  /** Takes a started worker into the pool: jobs may go to it from now on. */
  #adopt(slot: { worker: Worker; busy: number }): void {
    this.#workers.push(slot);
    slot.worker.onmessage = (event: MessageEvent<WorkerResponse>) => {
      const response = event.data;
      if (!("job" in response)) return;
      if (response.kind === "reserve" || response.kind === "add") {
        this.#answer(slot.worker, response);
        return;
      }
      slot.busy--;
      const pending = this.#pending.get(response.job);
      this.#pending.delete(response.job);
      if (!pending) return;
      if (response.kind === "failed") {
        const error = response.name === "FormatError"
          ? new FormatError(response.message)
          : response.name === "DatabaseBusyError"
          ? new DatabaseBusyError(response.message)
          : new Error(response.message);
        pending.reject(error);
      } else {
        pending.resolve(response);
      }
    };
    slot.worker.onerror = (event) => {
      event.preventDefault();
      for (const p of this.#pending.values()) {
        p.reject(new Error(`Cannot continue: a worker failed: ${event.message}`));
      }
      this.#pending.clear();
    };
  }

  /**
   * Starts `count` workers (default: one per core) and gives each the
   * keys. Resolves once all have started or failed to: one that fails
   * leaves the pool smaller, and it rejects only when none starts. (Taking
   * the first ready one saved the 15-35 ms until the next, but the first
   * jobs, a file each, then all queued on it while the others idled.)
   */
  static async start(
    keys: RawBlobKeys,
    options: {
      level: number;
      count?: number;
      /** The repository's chunker, seeded, for backup jobs. */
      chunker?: Required<ChunkerOptions>;
    },
  ): Promise<WorkerBlobCrypto> {
    const count = Math.max(1, options.count ?? navigator.hardwareConcurrency ?? 2);
    const starting = Array.from({ length: count }, async () => {
      const { worker, ready } = spawn();
      await ready;
      const init: WorkerRequest = {
        kind: "init",
        keys: {
          data: keys.data.slice(),
          meta: keys.meta.slice(),
          id: keys.id.slice(),
          nonce: keys.nonce.slice(),
        },
        level: options.level,
        chunker: options.chunker,
      };
      worker.postMessage(init);
      // postMessage cloned the keys synchronously: these copies are not needed any more.
      if (init.kind === "init") { for (const key of Object.values(init.keys)) key.fill(0); }
      try {
        await expect(worker, "initialized");
      } catch (error) {
        worker.terminate();
        throw error;
      }
      return { worker, busy: 0 };
    });
    const settled = await Promise.allSettled(starting);
    const started = settled.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
    if (started.length === 0) throw (settled[0] as PromiseRejectedResult).reason;
    return new WorkerBlobCrypto(started);
  }

  #send(
    request: WorkerRequest & { job: number },
    transfer: ArrayBuffer[],
  ): Promise<WorkerResponse> {
    if (this.#closed) {
      return Promise.reject(new TypeError("Cannot use the worker pool: it was closed"));
    }
    const slot = this.#workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.#pending.set(request.job, { resolve, reject });
      slot.worker.postMessage(request, transfer);
    });
  }

  async hash(bytes: Uint8Array) {
    const own = ownBuffer(bytes);
    const r = await this.#send({ kind: "hash", job: this.#next++, bytes: own }, [
      own.buffer as ArrayBuffer,
    ]);
    if (r.kind !== "hashed") throw new Error("Cannot hash: unexpected worker reply");
    return { id: r.id, bytes: returned(r.bytes) };
  }

  async seal(type: BlobType, bytes: Uint8Array, id: Uint8Array) {
    const own = ownBuffer(bytes);
    const r = await this.#send({ kind: "seal", job: this.#next++, type, bytes: own, id }, [
      own.buffer as ArrayBuffer,
    ]);
    if (r.kind !== "sealed") throw new Error("Cannot seal: unexpected worker reply");
    return { sealed: returned(r.sealed), compressed: r.compressed };
  }

  async openMany(
    type: BlobType,
    ids: Uint8Array[],
    sealed: Uint8Array[],
    plaintextLengths: number[],
  ) {
    const bytes = concatBytes(...sealed);
    const r = await this.#send({
      kind: "openMany",
      job: this.#next++,
      type,
      ids: concatBytes(...ids),
      sealed: bytes,
      lengths: sealed.map((s) => s.length),
      plaintextLengths,
    }, [bytes.buffer as ArrayBuffer]);
    if (r.kind !== "openedMany") throw new Error("Cannot open: unexpected worker reply");
    return split(r.plaintext, plaintextLengths);
  }

  async open(type: BlobType, id: Uint8Array, sealed: Uint8Array, plaintextLength: number) {
    const own = ownBuffer(sealed);
    const r = await this.#send(
      { kind: "open", job: this.#next++, type, id, sealed: own, plaintextLength },
      [own.buffer as ArrayBuffer],
    );
    if (r.kind !== "opened") throw new Error("Cannot open: unexpected worker reply");
    return returned(r.plaintext);
  }

  async backup(job: BackupJob, sink: BackupSink): Promise<BackupResult> {
    const number = this.#next++;
    this.#sinks.set(number, sink);
    try {
      const r = await this.#send({ kind: "backup", job: number, request: job }, []);
      if (r.kind !== "backedUp") throw new Error("Cannot back up: unexpected worker reply");
      return { ids: r.ids, size: r.size };
    } catch (error) {
      // A sink's error crossed to the worker as text; the caller gets the error itself.
      throw this.#sinkErrors.has(number) ? this.#sinkErrors.get(number) : error;
    } finally {
      this.#sinks.delete(number);
      this.#sinkErrors.delete(number);
    }
  }

  async captureDatabase(path: string, to: string): Promise<number> {
    const r = await this.#send({ kind: "capture", job: this.#next++, path, to }, []);
    if (r.kind !== "captured") throw new Error("Cannot copy the database: unexpected worker reply");
    return r.pageSize;
  }

  /** A backup job's question to its sink, answered to the worker that asked. */
  #answer(
    worker: Worker,
    request: Extract<WorkerResponse, { kind: "reserve" | "add" }>,
  ): void {
    const sink = this.#sinks.get(request.job);
    const reply = (message: WorkerRequest, transfer: ArrayBuffer[] = []) =>
      worker.postMessage(message, transfer);
    const fail = (error: unknown) => {
      if (!this.#sinkErrors.has(request.job)) this.#sinkErrors.set(request.job, error);
      const message = error instanceof Error ? error.message : String(error);
      reply({ kind: "answer", job: request.job, to: request.kind, error: message });
    };
    if (!sink) return fail(new Error("Cannot answer a backup job: it is not running"));
    if (request.kind === "reserve") {
      sink.reserve(split(request.ids, idLengths(request.ids)), request.bytes).then(
        (fresh) =>
          reply({
            kind: "answer",
            job: request.job,
            to: "reserve",
            fresh: Uint8Array.from(fresh, Number),
          }),
        fail,
      );
      return;
    }
    // The segment is ours now (transferred), its blobs views of it; it goes
    // back to the worker once packed.
    const chunks: SealedChunk[] = [];
    const layout = request.blobs;
    for (let i = 0; i < layout.length / 3; i++) {
      const [offset, length, plaintextLength] = [
        layout[3 * i]!,
        layout[3 * i + 1]!,
        layout[3 * i + 2]!,
      ];
      chunks.push({
        id: request.ids.subarray(CHUNK_ID_BYTES * i, CHUNK_ID_BYTES * (i + 1)),
        sealed: request.segment.subarray(offset, offset + length),
        plaintextLength,
      });
    }
    sink.add(chunks, request.segment).then((back) => {
      if (back) {
        reply({ kind: "answer", job: request.job, to: "add", segment: back }, [
          back.buffer as ArrayBuffer,
        ]);
      } else reply({ kind: "answer", job: request.job, to: "add" });
    }, fail);
  }

  async restore(job: RestoreJob) {
    const transfer: ArrayBuffer[] = [];
    const ranges = job.ranges.map((range) => {
      if (!range.bytes) return range;
      const bytes = ownBuffer(range.bytes);
      transfer.push(bytes.buffer as ArrayBuffer);
      return { ...range, bytes };
    });
    const r = await this.#send(
      { kind: "restore", job: this.#next++, request: { file: job.file, ranges } },
      transfer,
    );
    if (r.kind !== "restored") throw new Error("Cannot restore: unexpected worker reply");
    return r.bytes;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.#workers.map(async ({ worker }) => {
      const closed = expect(worker, "closed");
      worker.postMessage({ kind: "close" } satisfies WorkerRequest);
      await closed.catch(() => {}); // a worker that died has nothing left to wipe
      worker.terminate();
    }));
  }
}

/** The lengths of a run of chunk ids. */
function idLengths(ids: Uint8Array): number[] {
  return Array.from({ length: ids.length / CHUNK_ID_BYTES }, () => CHUNK_ID_BYTES);
}

/** Views of consecutive `lengths` bytes of `bytes`. */
function split(bytes: Uint8Array, lengths: number[]): Uint8Array[] {
  let at = 0;
  return lengths.map((n) => bytes.subarray(at, at += n));
}

/** A view that owns its whole buffer, so transferring it moves nothing else (src/_buffer_pool.ts). */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  return ownsBuffer(bytes) ? bytes : bytes.slice();
}

/** A view back from a worker: its buffer is wholly its own again, as when it left. */
function returned(bytes: Uint8Array): Uint8Array {
  markOwned(bytes);
  return bytes;
}

function expect(worker: Worker, kind: "ready" | "initialized" | "closed"): Promise<void> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<WorkerResponse>) => {
      if (event.data.kind === kind) resolve();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`Cannot start a worker: ${event.message}`));
    };
  });
}

/** A new worker, and its "ready" (DESIGN.md §2); a worker that fails to start is terminated. */
function spawn(): { worker: Worker; ready: Promise<void> } {
  const worker = new Worker(new URL("./_worker.ts", import.meta.url), { type: "module" });
  const ready = expect(worker, "ready");
  ready.catch(() => worker.terminate());
  return { worker, ready };
}

/** Jobs this small always run inline (AdaptiveBlobCrypto). */
const SMALL_JOB_BYTES = 16 * 1024;

/**
 * Works inline until `thresholdBytes` have gone through, then starts the
 * worker pool in the background and moves to it once it is ready: small jobs
 * never pay for starting workers, large ones get every core.
 */
export class AdaptiveBlobCrypto implements BlobCrypto {
  readonly parallelism: number;
  readonly #inline: BlobCrypto;
  readonly #start: () => Promise<BlobCrypto>;
  readonly #threshold: number;
  #bytes = 0;
  #starting: Promise<BlobCrypto> | null = null;
  #pool: BlobCrypto | null = null;
  #closed = false;

  constructor(
    inline: BlobCrypto,
    start: () => Promise<BlobCrypto>,
    options: { parallelism: number; thresholdBytes?: number },
  ) {
    this.#inline = inline;
    this.#start = start;
    this.parallelism = options.parallelism;
    this.#threshold = options.thresholdBytes ?? 16 * 1024 * 1024;
  }

  expect(bytes: number): void {
    if (!this.#pool) this.#count(bytes);
  }

  /** Counts work done inline; past the threshold, starts the pool in the background. */
  #count(bytes: number): void {
    this.#bytes += bytes;
    if (this.#bytes >= this.#threshold && !this.#starting && !this.#closed) {
      this.#starting = this.#start();
      this.#starting.then((pool) => this.#pool = pool, () => {}); // on failure, stay inline
    }
  }

  #route(bytes: number): BlobCrypto {
    // A database page (FORMAT.md §7.4) costs less to hash and seal here than
    // to send to a worker and back: tens of thousands of them swamp the pool.
    if (bytes <= SMALL_JOB_BYTES) return this.#inline;
    if (this.#pool) return this.#pool;
    this.#count(bytes);
    return this.#inline;
  }

  hash(bytes: Uint8Array) {
    return this.#route(bytes.length).hash(bytes);
  }

  seal(type: BlobType, bytes: Uint8Array, id: Uint8Array) {
    return this.#route(bytes.length).seal(type, bytes, id);
  }

  open(type: BlobType, id: Uint8Array, sealed: Uint8Array, plaintextLength: number) {
    return this.#route(plaintextLength).open(type, id, sealed, plaintextLength);
  }

  openMany(type: BlobType, ids: Uint8Array[], sealed: Uint8Array[], plaintextLengths: number[]) {
    return this.#route(plaintextLengths.reduce((n, l) => n + l, 0))
      .openMany(type, ids, sealed, plaintextLengths);
  }

  /**
   * Where a whole-file job of `bytes` runs (a database copy, a backup or a
   * restore job): counted towards the pool, and a pool on its way is waited
   * for, not raced here: such a job holds this thread (its reads and writes
   * are synchronous), and the pool's "ready" with it.
   */
  async #fileStage(bytes: number): Promise<BlobCrypto> {
    this.expect(bytes);
    return this.#pool ?? (await this.#starting?.catch(() => null)) ?? this.#inline;
  }

  async captureDatabase(path: string, to: string, size = Infinity): Promise<number> {
    return await (await this.#fileStage(size)).captureDatabase(path, to);
  }

  async backup(job: BackupJob, sink: BackupSink): Promise<BackupResult> {
    // A small file goes to a running pool too: a job here would cost this
    // thread a chunker window and segments (18 MiB) for one message saved.
    const size = job.size ?? Infinity;
    if (!this.#pool && size <= SMALL_JOB_BYTES) return await this.#inline.backup(job, sink);
    return await (await this.#fileStage(size)).backup(job, sink);
  }

  async restore(job: RestoreJob) {
    const bytes = job.ranges.reduce((n, r) => n + r.length, 0);
    if (bytes <= SMALL_JOB_BYTES) return await this.#inline.restore(job);
    return await (await this.#fileStage(bytes)).restore(job);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pool = await this.#starting?.catch(() => null);
    await pool?.close();
  }
}
