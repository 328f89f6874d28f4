/**
 * The local-folder backend, Cofre's default: one file per object under a
 * root folder, written so that a crash at any moment leaves every object
 * whole or absent (FORMAT.md §4).
 *
 * @module
 */

import { dirname, join } from "node:path";
import {
  type ByteRange,
  checkObjectName,
  checkRange,
  isObjectName,
  type ObjectInfo,
  ObjectNotFoundError,
  objectParts,
  type PutOptions,
  requireSameObject,
  type Storage,
} from "./storage.ts";
import { removeStaleTempFiles, settleTempFile, writeParts, writeTempFile } from "../_temp_file.ts";

/** Temporary files start with this; `list` never reports them. */
const TEMP_PREFIX = ".tmp-";
/** The folders objects live in (FORMAT.md §4), where temporary files may be left. */
const OBJECT_FOLDERS = new Set([
  "data",
  "index",
  "keys",
  "locks",
  "plans",
  "settings",
  "snapshots",
]);
/** Small parts (a pack's pages) are gathered into this much before each write. */
const STAGING_BYTES = 1024 * 1024;

export class LocalStorage implements Storage {
  readonly location: string;
  readonly #root: string;
  /** Staging buffers for writeParts, one per put in flight, reused. */
  readonly #staging: Uint8Array[] = [];

  /** `root` is the repository folder; it need not exist until the first `put`. */
  constructor(root: string) {
    this.#root = root;
    this.location = root;
  }

  #path(name: string): string {
    checkObjectName(name);
    return join(this.#root, ...name.split("/"));
  }

  localPath(name: string): string {
    return this.#path(name);
  }

  async stat(name: string): Promise<ObjectInfo | null> {
    try {
      const info = await Deno.stat(this.#path(name));
      return info.isFile ? { name, size: info.size, modifiedMs: info.mtime?.getTime() ?? 0 } : null;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }

  async get(name: string, range?: ByteRange): Promise<Uint8Array> {
    const path = this.#path(name);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new ObjectNotFoundError(this.location, name);
      throw error;
    }
    try {
      const size = (await file.stat()).size;
      const { offset, length } = range ?? { offset: 0, length: size };
      checkRange(name, size, { offset, length });
      const out = new Uint8Array(length);
      await file.seek(offset, Deno.SeekMode.Start);
      for (let at = 0; at < length;) {
        const n = await file.read(out.subarray(at));
        if (n === null) throw new Error(`Cannot read ${name}: the file shrank while being read`);
        at += n;
      }
      return out;
    } finally {
      file.close();
    }
  }

  async put(
    name: string,
    bytes: Uint8Array | readonly Uint8Array[],
    options: PutOptions = {},
  ): Promise<void> {
    const parts = objectParts(bytes);
    const path = this.#path(name);
    const dir = dirname(path);
    await Deno.mkdir(dir, { recursive: true });
    const staging = this.#staging.pop() ?? new Uint8Array(STAGING_BYTES);
    let temp: string;
    try {
      temp = await writeTempFile(dir, TEMP_PREFIX, async (file) => {
        await writeParts(file, parts, staging);
        // In the file now: the sync (50-70 ms for a pack) need not hold the caller's memory.
        options.onConsumed?.();
      });
    } finally {
      this.#staging.push(staging);
    }
    try {
      try {
        // A hard link creates the name only if it is absent, atomically:
        // an existing object is never replaced (FORMAT.md §4).
        await Deno.link(temp, path);
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) {
          await Deno.remove(temp).catch(() => {});
          throw error;
        }
        try {
          // The bytes may be gone (onConsumed): the temporary file has them.
          requireSameObject(this.location, name, await Deno.readFile(path), [
            await Deno.readFile(temp),
          ]);
        } finally {
          await Deno.remove(temp);
        }
        return;
      }
      await Deno.remove(temp);
    } finally {
      settleTempFile(temp);
    }
    await syncDirectory(dir);
  }

  async delete(name: string): Promise<void> {
    try {
      await Deno.remove(this.#path(name));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  async removeStaleTemporaries(olderThanMs: number): Promise<{ files: number; bytes: number }> {
    // Only where this storage writes (FORMAT.md §4): the root, its folders and data/'s
    // two-digit ones; a foreign folder is left alone.
    const folders = [this.#root, ...[...OBJECT_FOLDERS].map((f) => join(this.#root, f))];
    for (const entry of await entriesOf(join(this.#root, "data"))) {
      if (entry.isDirectory && /^[0-9a-f]{2}$/.test(entry.name)) {
        folders.push(join(this.#root, "data", entry.name));
      }
    }
    const removed = { files: 0, bytes: 0 };
    for (const folder of folders) {
      const { files, bytes } = await removeStaleTempFiles(folder, TEMP_PREFIX, olderThanMs);
      removed.files += files;
      removed.bytes += bytes;
    }
    return removed;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // The folder that holds every name with this prefix.
    const slash = prefix.lastIndexOf("/");
    const base = slash < 0 ? "" : prefix.slice(0, slash);
    yield* this.#walk(base, prefix);
  }

  async *#walk(relative: string, prefix: string): AsyncIterable<ObjectInfo> {
    const dir = relative ? join(this.#root, ...relative.split("/")) : this.#root;
    for (const entry of await entriesOf(dir)) {
      if (entry.name.startsWith(".")) continue;
      const name = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory) {
        if (
          (name + "/").startsWith(prefix) || prefix.startsWith(name + "/")
        ) {
          yield* this.#walk(name, prefix);
        }
      } else if (entry.isFile && name.startsWith(prefix) && isObjectName(name)) {
        const info = await Deno.stat(join(dir, entry.name));
        yield { name, size: info.size, modifiedMs: info.mtime?.getTime() ?? 0 };
      }
    }
  }
}

/** A folder's entries; none when it does not exist (yet). */
async function entriesOf(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** fsync on the folder makes a new name durable, not just the file's bytes. */
async function syncDirectory(path: string): Promise<void> {
  if (Deno.build.os === "windows") return; // directories cannot be opened for sync there
  const dir = await Deno.open(path, { read: true });
  try {
    await dir.sync();
  } finally {
    dir.close();
  }
}
