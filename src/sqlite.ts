/**
 * SQLite databases in a backup (FORMAT.md §7.4): recognise them by their
 * header, take a consistent copy of a live database through SQLite's online
 * backup API, and cut that copy on page boundaries, so a database written
 * during the backup is captured as one committed state and a changed page
 * changes one chunk.
 *
 * @module
 */

import { backup, DatabaseSync } from "node:sqlite";
import { writeAllSync } from "./_temp_file.ts";
import type { SqliteRecord } from "./format.ts";

// FORMAT.md §7.4: the 16 bytes every database file starts with.
const MAGIC = new TextEncoder().encode("SQLite format 3\0");
/** The database header's length; the page size is at offset 16. */
const HEADER_BYTES = 100;
/** FORMAT.md §7.4: pages are grouped up to this many bytes per chunk. */
export const MIN_PAGE_CHUNK_BYTES = 4096;
/** Companion files SQLite keeps next to a database, by suffix (FORMAT.md §7.4). */
export const COMPANION_SUFFIXES = ["-wal", "-journal", "-shm"] as const;
// -shm is an index of the WAL, rewritten by readers too: it says nothing of the content.
const CONTENT_COMPANIONS = ["-wal", "-journal"] as const;
// A writer holding its lock makes the single-step copy fail with SQLITE_BUSY:
// wait for it (commits take milliseconds) this many times before giving up.
const BUSY_RETRIES = 50;
const BUSY_WAIT_MS = 100;
/** A rollback-journal database is copied this much at a time. */
const COPY_BUFFER_BYTES = 1024 * 1024;

/** Raised when a live database cannot be copied although it opened as one. */
export class DatabaseBusyError extends Error {
  override name = "DatabaseBusyError";
}

/**
 * The page size that a database header gives, or null when `header` (a
 * file's first bytes) is not a database header FORMAT.md §7.4 accepts.
 */
export function databasePageSize(header: Uint8Array): number | null {
  if (header.length < HEADER_BYTES) return null;
  for (let i = 0; i < MAGIC.length; i++) if (header[i] !== MAGIC[i]) return null;
  const raw = (header[16]! << 8) | header[17]!;
  const pageSize = raw === 1 ? 65536 : raw;
  // A power of two from 512 to 65536.
  if (pageSize < 512 || pageSize > 65536 || !isPowerOfTwo(pageSize)) return null;
  return pageSize;
}

/** Reads a file's first bytes and returns its page size if it is a database, else null. */
export async function probeDatabase(path: string): Promise<number | null> {
  const file = await Deno.open(path, { read: true });
  try {
    const header = new Uint8Array(HEADER_BYTES);
    let filled = 0;
    while (filled < HEADER_BYTES) {
      const n = await file.read(header.subarray(filled));
      if (n === null) return null;
      filled += n;
    }
    return databasePageSize(header);
  } finally {
    file.close();
  }
}

/** Where a database's companion files are now, for FORMAT.md §11's `sqlite` member. */
export async function companionStates(path: string): Promise<SqliteRecord["companions"]> {
  const slash = path.lastIndexOf("/");
  const states: SqliteRecord["companions"] = [];
  for (const suffix of CONTENT_COMPANIONS) {
    const info = await Deno.stat(path + suffix).catch(() => null);
    if (info?.isFile) {
      states.push({
        name: path.slice(slash + 1) + suffix,
        size: info.size,
        mtimeMs: info.mtime?.getTime() ?? 0,
      });
    }
  }
  return states;
}

/** True when the companions recorded before are exactly the ones there now. */
export function sameCompanions(
  before: SqliteRecord["companions"],
  now: SqliteRecord["companions"],
): boolean {
  return before.length === now.length &&
    before.every((c, i) =>
      c.name === now[i]!.name && c.size === now[i]!.size && c.mtimeMs === now[i]!.mtimeMs
    );
}

/**
 * Copies the live database at `path` to `to` (which must not exist) as one
 * committed state (FORMAT.md §7.4): in WAL mode, write-ahead log included,
 * through SQLite's online backup API in a single step, which holds one read
 * transaction from the first page to the last; in rollback-journal mode, its
 * file byte for byte under a read transaction (copyUnderReadLock). The
 * source is opened read-only and left as it was.
 * Returns the copy's page size. Throws `DatabaseBusyError` when writers keep
 * the database locked, and SQLite's own error when the file is not a
 * readable database.
 */
export async function captureDatabase(path: string, to: string): Promise<number> {
  const { database: source, wal } = await openSource(path);
  try {
    // Parse the schema now: a file with a valid header and garbage after it
    // fails here, where a page-by-page copy would not notice.
    source.prepare("SELECT count(*) FROM sqlite_schema").get();
    for (let attempt = 0;; attempt++) {
      try {
        if (wal) {
          // rate -1: every page in one step, under one read lock; in steps, a
          // commit between them would restart the copy, forever under a busy writer.
          await backup(source, to, { rate: -1 });
        } else copyUnderReadLock(source, path, to);
        break;
      } catch (error) {
        await Deno.remove(to).catch(() => {});
        if (!/locked|busy/i.test((error as Error).message)) throw error;
        if (attempt === BUSY_RETRIES) {
          throw new DatabaseBusyError(
            `Cannot copy the database: it stayed locked by a writer for ${
              BUSY_RETRIES * BUSY_WAIT_MS / 1000
            } s; back it up again when the app is idle`,
          );
        }
        await new Promise((done) => setTimeout(done, BUSY_WAIT_MS));
      }
    }
  } finally {
    source.close();
  }
  const pageSize = await probeDatabase(to);
  if (pageSize === null) throw new Error("Cannot copy the database: the copy has no valid header");
  return pageSize;
}

/**
 * FORMAT.md §7.4, a database in rollback-journal mode: its file, copied
 * whole while a read transaction holds SQLite's SHARED lock, is the
 * committed state byte for byte (a writer changes the file only under an
 * EXCLUSIVE lock, which waits for readers). POSIX drops every lock this
 * process holds on a file when any of its descriptors closes, so the copy
 * reads through one descriptor, closed only once the transaction ended;
 * Deno.copyFile would not do: it opens and closes the source once before
 * copying (seen with strace), and a writer then committed in the middle of
 * the copy. A fifth of the time of the backup API's page-by-page copy.
 */
function copyUnderReadLock(source: DatabaseSync, path: string, to: string): void {
  source.exec("BEGIN");
  let from: Deno.FsFile | undefined;
  try {
    source.prepare("SELECT count(*) FROM sqlite_schema").get(); // takes the SHARED lock
    from = Deno.openSync(path, { read: true });
    using copy = Deno.openSync(to, { write: true, createNew: true, mode: 0o600 });
    const buffer = new Uint8Array(COPY_BUFFER_BYTES);
    for (;;) {
      const n = from.readSync(buffer);
      if (n === null) break;
      writeAllSync(copy, buffer.subarray(0, n));
    }
  } finally {
    try {
      // SQLite may have ended the transaction itself (after an I/O error):
      // then there is nothing to roll back, and the first error stands.
      if (source.isTransaction) source.exec("ROLLBACK");
    } finally {
      from?.close(); // after the transaction: no lock left to drop
    }
  }
}

/**
 * Opens the live database to copy it: read-only, unless it is in WAL mode
 * and no connection has it open (no -wal file). SQLite then creates the
 * -wal and -shm files to read it, and only a read-write connection removes
 * them on closing, as the last one out: the source is left as it was found.
 */
async function openSource(path: string): Promise<{ database: DatabaseSync; wal: boolean }> {
  const header = new Uint8Array(20);
  const file = await Deno.open(path, { read: true });
  try {
    await file.read(header);
  } finally {
    file.close();
  }
  // Bytes 18 and 19, the file format write and read versions, are 2 in WAL mode.
  const wal = header[18] === 2 && header[19] === 2;
  if (wal && !(await Deno.stat(`${path}-wal`).catch(() => null))) {
    try {
      return { database: new DatabaseSync(path, { timeout: BUSY_WAIT_MS }), wal };
    } catch {
      // Not writable: read-only it is, and the two files stay.
    }
  }
  return { database: new DatabaseSync(path, { readOnly: true, timeout: BUSY_WAIT_MS }), wal };
}

/** FORMAT.md §7.4: Cofre's limit on a database's chunks (M). */
export const MAX_DATABASE_CHUNKS = 2 ** 17;
/** FORMAT.md §7.4 (and §7.1: a blob holds at most 64 MiB): the longest chunk of a database. */
const MAX_DATABASE_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * FORMAT.md §7.4: the length a captured database of `size` bytes is cut
 * into (src/_backup_job.ts cuts it): whole pages, grouped up to 4 KiB, then
 * doubled (up to 64 MiB) until the database makes at most `maxChunks` chunks, so that its
 * index entries (and so a backup's memory) stay bounded however large it
 * is. `previous`, the parent snapshot's length, is kept while the count
 * stays within a factor of four below the limit, so a database is cut
 * anew only when it has doubled (or shrunk to a quarter), not whenever it
 * crosses a line.
 */
export function databaseChunkBytes(
  options: { pageSize: number; size: number; previous?: number; maxChunks?: number },
): number {
  const { pageSize, size, previous } = options;
  const maxChunks = databaseChunkLimit(options.maxChunks);
  const base = Math.max(1, MIN_PAGE_CHUNK_BYTES / pageSize) * pageSize;
  const chunks = (length: number) => Math.ceil(size / length);
  if (
    previous !== undefined && previous <= MAX_DATABASE_CHUNK_BYTES &&
    isPowerOfTwo(previous / base) &&
    chunks(previous) <= maxChunks && (previous === base || chunks(previous) >= maxChunks / 4)
  ) {
    return previous;
  }
  let length = base;
  while (chunks(length) > maxChunks && length < MAX_DATABASE_CHUNK_BYTES) length *= 2;
  return length;
}

/**
 * The limit M a backup cuts databases with (FORMAT.md §7.4): `maxChunks`,
 * or MAX_DATABASE_CHUNKS when not given. RangeError unless a whole number ≥ 1.
 */
export function databaseChunkLimit(maxChunks = MAX_DATABASE_CHUNKS): number {
  if (!Number.isSafeInteger(maxChunks) || maxChunks < 1) {
    throw new RangeError(
      `Cannot cut databases into at most ${maxChunks} chunks: expected a whole number of at least 1`,
    );
  }
  return maxChunks;
}

/** 1, 2, 4...: a whole number (n ≤ 2^31) with one bit set. */
function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 2 ** 31 && (n & (n - 1)) === 0;
}

/** A captured database, ready to be read: the copy, its page size and the node's record. */
export interface CapturedDatabase {
  copy: string;
  pageSize: number;
  record: SqliteRecord;
}

/**
 * Captures the databases one backup meets (FORMAT.md §7.4), into a private
 * temporary folder that `close()` removes; collects the warnings for files
 * that start like a database but cannot be read as one. One copy exists at
 * a time: a capture waits until the last copy is released, so the
 * temporary space a backup takes is its largest database, not their sum.
 */
export class DatabaseCapturer {
  /** Files read as plain bytes although they looked like databases, and why. */
  readonly warnings: { path: string; warning: string }[] = [];
  readonly #copy: (path: string, to: string, size: number) => Promise<number>;

  /**
   * `copy`: takes the copy as `captureDatabase` does (default: that, in
   * this thread; a backup has a worker do it, src/workers.ts, for SQLite's
   * single step holds its thread for the whole copy).
   */
  constructor(
    options: { copy?: (path: string, to: string, size: number) => Promise<number> } = {},
  ) {
    this.#copy = options.copy ?? captureDatabase;
  }
  #dir: string | null = null;
  #copies = 0;
  /** Settles when the last capture's copy is released. */
  #released: Promise<void> = Promise.resolve();
  /** What hands the turn on, by copy. */
  readonly #turns = new Map<string, () => void>();

  /**
   * A consistent copy of `path` if it is a database, or null to read it as
   * an ordinary file (not a database, or not readable as one: then with a
   * warning). `sourceSize` is the size the walk saw. Waits for the copy
   * before to be released; the caller `release`s this one once read.
   */
  async capture(path: string, sourceSize: number): Promise<CapturedDatabase | null> {
    if (await probeDatabase(path) === null) return null;
    const handOn = await this.#turn();
    let copy: string | undefined;
    try {
      // Before the copy: a write during it then makes the next backup look again.
      const companions = await companionStates(path);
      this.#dir ??= await Deno.makeTempDir({ prefix: "cofre-sqlite-" });
      await Deno.chmod(this.#dir, 0o700); // the copy is plaintext: for this user only
      copy = `${this.#dir}/${this.#copies++}.db`;
      const pageSize = await this.#copy(path, copy, sourceSize);
      this.#turns.set(copy, handOn);
      return { copy, pageSize, record: { sourceSize, companions } };
    } catch (error) {
      if (copy !== undefined) await Deno.remove(copy).catch(() => {});
      handOn();
      // No temporary folder, or writers holding the database: not the file's fault.
      if (copy === undefined || error instanceof DatabaseBusyError) throw error;
      this.warnings.push({
        path,
        warning: `starts like an SQLite database but cannot be read as one (${
          (error as Error).message
        }); backed up byte for byte`,
      });
      return null;
    }
  }

  /** Deletes a copy `capture` returned, once read; the next capture may go on. */
  async release(database: CapturedDatabase): Promise<void> {
    await Deno.remove(database.copy).catch(() => {});
    this.#turns.get(database.copy)?.();
    this.#turns.delete(database.copy);
  }

  /** Waits for the copy before to be released; resolves to what hands the turn on. */
  #turn(): Promise<() => void> {
    const before = this.#released;
    let handOn!: () => void;
    this.#released = new Promise<void>((done) => handOn = done);
    return before.then(() => handOn);
  }

  /** Removes the temporary folder and anything left in it. */
  async close(): Promise<void> {
    if (this.#dir !== null) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    this.#dir = null;
  }
}
