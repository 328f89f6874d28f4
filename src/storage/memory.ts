/**
 * An in-memory storage backend, for tests and for trying the API.
 *
 * @module
 */

import {
  type ByteRange,
  checkObjectName,
  checkRange,
  ObjectExistsError,
  type ObjectInfo,
  ObjectNotFoundError,
  type Storage,
} from "./storage.ts";
import { equalBytes } from "../_bytes.ts";

export class MemoryStorage implements Storage {
  readonly location: string;
  readonly #objects = new Map<string, Uint8Array>();

  constructor(location = "memory:") {
    this.location = location;
  }

  stat(name: string): Promise<ObjectInfo | null> {
    checkObjectName(name);
    const bytes = this.#objects.get(name);
    return Promise.resolve(bytes ? { name, size: bytes.length } : null);
  }

  get(name: string, range?: ByteRange): Promise<Uint8Array> {
    checkObjectName(name);
    const bytes = this.#objects.get(name);
    if (!bytes) return Promise.reject(new ObjectNotFoundError(this.location, name));
    if (!range) return Promise.resolve(bytes.slice());
    checkRange(name, bytes.length, range);
    return Promise.resolve(bytes.slice(range.offset, range.offset + range.length));
  }

  put(name: string, bytes: Uint8Array): Promise<void> {
    checkObjectName(name);
    const existing = this.#objects.get(name);
    if (existing) {
      return equalBytes(existing, bytes)
        ? Promise.resolve()
        : Promise.reject(new ObjectExistsError(this.location, name));
    }
    this.#objects.set(name, bytes.slice());
    return Promise.resolve();
  }

  delete(name: string): Promise<void> {
    checkObjectName(name);
    this.#objects.delete(name);
    return Promise.resolve();
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for (const [name, bytes] of [...this.#objects]) {
      if (name.startsWith(prefix)) yield { name, size: bytes.length };
    }
  }

  /** Test hook: replaces an object's bytes, as damage or an attacker would. */
  tamper(name: string, bytes: Uint8Array): void {
    this.#objects.set(name, bytes.slice());
  }
}
