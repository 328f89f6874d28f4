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
  objectParts,
  partsEqual,
  type Storage,
} from "./storage.ts";

export class MemoryStorage implements Storage {
  readonly location: string;
  readonly #objects = new Map<string, { bytes: Uint8Array; modifiedMs: number }>();
  /** The clock that stamps writes; tests move it to age objects. */
  now: () => number = Date.now;

  constructor(location = "memory:") {
    this.location = location;
  }

  stat(name: string): Promise<ObjectInfo | null> {
    checkObjectName(name);
    const object = this.#objects.get(name);
    return Promise.resolve(
      object ? { name, size: object.bytes.length, modifiedMs: object.modifiedMs } : null,
    );
  }

  get(name: string, range?: ByteRange): Promise<Uint8Array> {
    checkObjectName(name);
    const bytes = this.#objects.get(name)?.bytes;
    if (!bytes) return Promise.reject(new ObjectNotFoundError(this.location, name));
    if (!range) return Promise.resolve(bytes.slice());
    checkRange(name, bytes.length, range);
    return Promise.resolve(bytes.slice(range.offset, range.offset + range.length));
  }

  put(name: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    checkObjectName(name);
    const parts = objectParts(bytes);
    const existing = this.#objects.get(name)?.bytes;
    if (existing) {
      return partsEqual(existing, parts)
        ? Promise.resolve()
        : Promise.reject(new ObjectExistsError(this.location, name));
    }
    const whole = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      whole.set(part, at);
      at += part.length;
    }
    this.#objects.set(name, { bytes: whole, modifiedMs: this.now() });
    return Promise.resolve();
  }

  delete(name: string): Promise<void> {
    checkObjectName(name);
    this.#objects.delete(name);
    return Promise.resolve();
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for (const [name, { bytes, modifiedMs }] of [...this.#objects]) {
      if (name.startsWith(prefix)) yield { name, size: bytes.length, modifiedMs };
    }
  }

  /** Test hook: replaces an object's bytes, as damage or an attacker would. */
  tamper(name: string, bytes: Uint8Array): void {
    const modifiedMs = this.#objects.get(name)?.modifiedMs ?? this.now();
    this.#objects.set(name, { bytes: bytes.slice(), modifiedMs });
  }
}
