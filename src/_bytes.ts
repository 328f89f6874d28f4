// Bounds-checked little-endian readers and writers for src/format.ts. A read
// past the end throws FormatError naming the object, so a truncated object
// never becomes a crash or a huge allocation.

import { FormatError } from "./errors.ts";

export class ByteWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #at = 0;

  constructor(capacity = 256) {
    this.#bytes = new Uint8Array(capacity);
    this.#view = new DataView(this.#bytes.buffer);
  }

  /** Makes room for n bytes and returns where they go; may replace #bytes and #view. */
  #reserve(n: number): number {
    const at = this.#at;
    if (at + n > this.#bytes.length) {
      const grown = new Uint8Array(Math.max(at + n, 2 * this.#bytes.length));
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    this.#at += n;
    return at;
  }

  u8(value: number): this {
    const at = this.#reserve(1);
    this.#view.setUint8(at, value);
    return this;
  }
  u16(value: number): this {
    const at = this.#reserve(2);
    this.#view.setUint16(at, value, true);
    return this;
  }
  u32(value: number): this {
    const at = this.#reserve(4);
    this.#view.setUint32(at, value, true);
    return this;
  }
  u64(value: bigint | number): this {
    const at = this.#reserve(8);
    this.#view.setBigUint64(at, BigInt(value), true);
    return this;
  }
  bytes(value: Uint8Array): this {
    // Reserve first: it may replace the buffer, which `set` must then target.
    const at = this.#reserve(value.length);
    this.#bytes.set(value, at);
    return this;
  }
  ascii(text: string): this {
    for (let i = 0; i < text.length; i++) this.u8(text.charCodeAt(i));
    return this;
  }

  get length(): number {
    return this.#at;
  }

  /** The bytes written so far (a copy). */
  finish(): Uint8Array<ArrayBuffer> {
    return this.#bytes.slice(0, this.#at);
  }
}

export class ByteReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;
  #at = 0;

  /** `what` names the object in errors: "Cannot decode <what>: ...". */
  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#what = what;
  }

  fail(reason: string): never {
    throw new FormatError(`Cannot decode ${this.#what}: ${reason}`);
  }

  #take(n: number, field: string): number {
    if (this.#at + n > this.#bytes.length) {
      this.fail(`${this.#bytes.length} bytes, truncated in ${field} (needs ${this.#at + n})`);
    }
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u8(field: string): number {
    return this.#view.getUint8(this.#take(1, field));
  }
  u16(field: string): number {
    return this.#view.getUint16(this.#take(2, field), true);
  }
  u32(field: string): number {
    return this.#view.getUint32(this.#take(4, field), true);
  }
  u64(field: string): bigint {
    return this.#view.getBigUint64(this.#take(8, field), true);
  }
  /** A u64 that must fit in a JavaScript number (times, sizes). */
  safeU64(field: string): number {
    const value = this.u64(field);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${field} is ${value}, too large`);
    return Number(value);
  }
  bytes(n: number, field: string): Uint8Array<ArrayBuffer> {
    const at = this.#take(n, field);
    return this.#bytes.slice(at, at + n);
  }
  /** Like `bytes`, but a view of the input, not a copy: for the many ids of an index. */
  view(n: number, field: string): Uint8Array {
    const at = this.#take(n, field);
    return this.#bytes.subarray(at, at + n);
  }
  /** Checks an ASCII magic. */
  magic(text: string): void {
    const at = this.#take(text.length, "magic");
    for (let i = 0; i < text.length; i++) {
      if (this.#bytes[at + i] !== text.charCodeAt(i)) this.fail(`not a ${this.#what} (bad magic)`);
    }
  }

  get offset(): number {
    return this.#at;
  }
  get remaining(): number {
    return this.#bytes.length - this.#at;
  }

  /** Requires that every byte was read. */
  end(): void {
    if (this.#at !== this.#bytes.length) {
      this.fail(`${this.#bytes.length - this.#at} unexpected bytes after the end`);
    }
  }
}

const HEX_DIGITS = new TextEncoder().encode("0123456789abcdef");
const ASCII_DECODER = new TextDecoder();

/** SHA-256 of `bytes` (WebCrypto). */
export async function sha256(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

/** SHA-256 of `bytes` in lowercase hex: the name of a content-addressed object (FORMAT.md §4). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await sha256(bytes));
}

// Uint8Array.fromHex and .toHex (ES2026), where the host has them: V8 does
// both 4 to 8 times faster than the loops below (measured in Deno 2.9: 0.34
// against 2.8 µs to parse a chunk id, 0.38 against 1.5 µs to print one),
// and a restore parses an id per page.
const nativeHex = Uint8Array as unknown as {
  fromHex?: (text: string) => Uint8Array<ArrayBuffer>;
  prototype: { toHex?: () => string };
};
const nativeToHex = nativeHex.prototype.toHex;
const nativeFromHex = nativeHex.fromHex;

/** Lowercase hexadecimal. */
export function toHex(bytes: Uint8Array): string {
  return nativeToHex ? nativeToHex.call(bytes) : portableToHex(bytes);
}

/** toHex for hosts without Uint8Array.prototype.toHex (exported for tests). */
export function portableToHex(bytes: Uint8Array): string {
  // Decoded in one go, the string is flat. Built with +=, V8 keeps it as a rope
  // of 2n pieces: about 2 KB for a chunk id, in every index entry (measured:
  // 85 MB of heap after loading 40,000 index entries, 23 MB now).
  const out = new Uint8Array(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = HEX_DIGITS[bytes[i]! >> 4]!;
    out[2 * i + 1] = HEX_DIGITS[bytes[i]! & 15]!;
  }
  return ASCII_DECODER.decode(out);
}

function badHex(): never {
  throw new RangeError("Cannot parse hexadecimal: odd length or a non-hex character");
}

/** Parses lowercase or uppercase hexadecimal; throws RangeError on anything else. */
export function fromHex(text: string): Uint8Array<ArrayBuffer> {
  if (!nativeFromHex) return portableFromHex(text);
  try {
    return nativeFromHex(text);
  } catch {
    return badHex();
  }
}

/** fromHex for hosts without Uint8Array.fromHex (exported for tests). */
export function portableFromHex(text: string): Uint8Array<ArrayBuffer> {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) badHex();
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Equality of two byte strings (not constant time: for public values only). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const encoder = new TextEncoder();
export function ascii(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(text);
}

/** Parts smaller than this are gathered (`gathered`): database pages, thousands to a pack. */
const SMALL_PART_BYTES = 256 * 1024;

/**
 * Hands `parts` to `take` in order, runs of small ones first gathered into
 * `staging`, so a pack of 4 KiB pages is a few calls instead of thousands
 * (a write or a call off the thread costs more than the bytes). `take`
 * must be done with its bytes when it resolves: `staging` is reused.
 */
export async function gathered(
  parts: readonly Uint8Array[],
  staging: Uint8Array,
  take: (bytes: Uint8Array) => Promise<void>,
): Promise<void> {
  let used = 0;
  for (const part of parts) {
    if (part.length >= SMALL_PART_BYTES || part.length > staging.length) {
      if (used > 0) await take(staging.subarray(0, used));
      used = 0;
      await take(part);
      continue;
    }
    if (used + part.length > staging.length) {
      await take(staging.subarray(0, used));
      used = 0;
    }
    staging.set(part, used);
    used += part.length;
  }
  if (used > 0) await take(staging.subarray(0, used));
}
