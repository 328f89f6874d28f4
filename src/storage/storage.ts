/**
 * The one interface every storage backend implements (FORMAT.md §4): named,
 * immutable objects. Backends know nothing about cryptography; they move
 * bytes, atomically, and never replace an object with different bytes.
 *
 * @module
 */

import { sha256Hex } from "../_bytes.ts";
import { FormatError } from "../errors.ts";

/** An object's name and size, as `list` reports it. */
export interface ObjectInfo {
  name: string;
  size: number;
  /**
   * When the object was written (ms since the epoch), as the storage reports
   * it. Prune's grace period (FORMAT.md §14) reads it: never delete what is
   * younger than the grace period.
   */
  modifiedMs: number;
}

/** A byte range of an object. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface Storage {
  /** Where the repository lives, for messages (`/backups/phone`, `s3:...`). */
  readonly location: string;
  /** The object's size, or null when it does not exist. */
  stat(name: string): Promise<ObjectInfo | null>;
  /** The object's bytes, or a range of them; throws `ObjectNotFoundError`. */
  get(name: string, range?: ByteRange): Promise<Uint8Array>;
  /**
   * Writes an object atomically: afterwards it exists whole or not at all.
   * Writing the same bytes again is a no-op; different bytes under an
   * existing name throw `ObjectExistsError` (the object is left as it was).
   * `bytes` may come in parts (a pack's blobs), written one after another.
   * The caller may reuse `bytes` once the promise settles, so nothing may
   * read them later (a retry after a timeout included).
   */
  put(
    name: string,
    bytes: Uint8Array | readonly Uint8Array[],
    options?: PutOptions,
  ): Promise<void>;
  /** Deletes an object; deleting a missing object is not an error. */
  delete(name: string): Promise<void>;
  /**
   * Every object whose name starts with `prefix`, in no particular order;
   * only valid object names (`isObjectName`).
   */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * The object's file on this machine, for a reader that opens it itself
   * (a restore worker, src/_restore_job.ts); only a local folder has one.
   * The name is checked as `get` checks it; the file may not exist.
   */
  localPath?(name: string): string;
  /**
   * Removes the temporary files of writes that never finished (a process
   * killed mid-write) last modified over `olderThanMs` ago; returns how
   * many. Only storages that write under temporary names have it.
   */
  removeStaleTemporaries?(olderThanMs: number): Promise<{ files: number; bytes: number }>;
  /**
   * Releases what the backend holds (rclone's server process); optional,
   * idempotent. `Repository.close()` calls it.
   */
  close?(): Promise<void>;
}

/** Options for `Storage.put`. */
export interface PutOptions {
  /**
   * Called once `put` reads `bytes` no more, which may be before it settles:
   * a local folder has copied them into a file that it then syncs and names
   * (FORMAT.md §4). A backup reuses a pack's memory from then on. Backends
   * that read the bytes until the end never call it.
   */
  onConsumed?: () => void;
}

/** The object does not exist. */
export class ObjectNotFoundError extends Error {
  constructor(location: string, name: string) {
    super(`Cannot read ${name} in ${location}: no such object`);
    this.name = "ObjectNotFoundError";
  }
}

/** A different object already exists under that name. */
export class ObjectExistsError extends Error {
  constructor(location: string, name: string) {
    super(`Cannot write ${name} in ${location}: a different object already has that name`);
    this.name = "ObjectExistsError";
  }
}

const OBJECT_NAME = /^[a-z0-9_-]+(\/[a-z0-9_-]+)*$/i;

/**
 * True when `name` can be an object's name. A storage's `list` yields only
 * such names: anything else in the place (a sync tool's "x (conflicted
 * copy)", someone's notes) is foreign, and FORMAT.md §4 leaves it alone.
 *
 * @example
 * ```ts
 * import { isObjectName } from "./storage.ts";
 * if (!isObjectName("index/0a1b") || isObjectName("index/0a1b (conflicted copy)")) throw new Error();
 * ```
 */
export function isObjectName(name: string): boolean {
  return OBJECT_NAME.test(name);
}

/**
 * True when `name` is `prefix` followed by `hexDigits` lowercase hex digits:
 * the shape of FORMAT.md §4's names (64 for content-addressed objects, 32 for
 * key slots). Other names under the prefix are foreign, left alone.
 *
 * @example
 * ```ts
 * import { isHexName } from "./storage.ts";
 * if (!isHexName(`index/${"ab".repeat(32)}`, "index/") || isHexName("index/notes", "index/")) {
 *   throw new Error();
 * }
 * ```
 */
export function isHexName(name: string, prefix: string, hexDigits = 64): boolean {
  if (name.length !== prefix.length + hexDigits || !name.startsWith(prefix)) return false;
  for (let i = prefix.length; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** Object names: slash-separated segments of letters, digits, `-` and `_`. */
export function checkObjectName(name: string): void {
  if (!isObjectName(name)) {
    throw new RangeError(`Cannot use object name "${name}": not a valid object name`);
  }
}

/** Checks a byte range against an object's size (RangeError when outside). */
export function checkRange(name: string, size: number, range: ByteRange): void {
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new RangeError(`Cannot read ${name}: invalid range ${offset}+${length}`);
  }
  if (offset + length > size) {
    throw new RangeError(`Cannot read ${name}: range ${offset}+${length} beyond its ${size} bytes`);
  }
}

/** The parts of an object as one list. */
export function objectParts(bytes: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return bytes instanceof Uint8Array ? [bytes] : bytes;
}

/**
 * For a put that found `name` taken (FORMAT.md §4): the same bytes again
 * are a no-op, different bytes an ObjectExistsError. `existing` is what the
 * object holds.
 */
export function requireSameObject(
  location: string,
  name: string,
  existing: Uint8Array,
  parts: readonly Uint8Array[],
): void {
  if (!partsEqual(existing, parts)) throw new ObjectExistsError(location, name);
}

/**
 * Stores `bytes` under `prefix` + their SHA-256 in hex (FORMAT.md §4: index
 * files, snapshots, settings, plans); returns that hex.
 */
export async function putHashNamed(
  storage: Storage,
  prefix: string,
  bytes: Uint8Array,
): Promise<string> {
  const id = await sha256Hex(bytes);
  await storage.put(prefix + id, bytes);
  return id;
}

/** Reads `prefix` + `id`; FormatError, naming it as `what`, when its SHA-256 is not `id`. */
export async function getHashNamed(
  storage: Storage,
  prefix: string,
  id: string,
  what: string,
): Promise<Uint8Array> {
  const bytes = await storage.get(prefix + id);
  if (await sha256Hex(bytes) !== id) {
    throw new FormatError(`Cannot read ${what} ${id}: its bytes do not match its name`);
  }
  return bytes;
}

/** Whether `parts`, laid end to end, equal `whole`. */
export function partsEqual(whole: Uint8Array, parts: readonly Uint8Array[]): boolean {
  let at = 0;
  for (const part of parts) {
    if (at + part.length > whole.length) return false;
    for (let i = 0; i < part.length; i++) if (whole[at + i] !== part[i]) return false;
    at += part.length;
  }
  return at === whole.length;
}
