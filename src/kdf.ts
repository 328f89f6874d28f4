/**
 * Key derivation: Argon2id (RFC 9106) for password slots, through hash-wasm,
 * and HKDF-SHA256 (RFC 5869) for subkeys and the recovery slot, through
 * WebCrypto (FORMAT.md §5).
 *
 * @module
 */

import { argon2id } from "hash-wasm";
import { type Argon2idParams, argon2idParamsProblem } from "./format.ts";

/** FORMAT.md §5.3: the parameters new password slots get (64 MiB, 3 passes, 4 lanes). */
export const DEFAULT_ARGON2ID: Readonly<Argon2idParams> = Object.freeze({
  memoryKib: 64 * 1024,
  iterations: 3,
  parallelism: 4,
});

/**
 * Fast, weak parameters for tests only: a repository made with them falls to
 * an offline guesser in no time. Only tests may import this.
 */
export const TEST_ONLY_FAST_ARGON2ID: Readonly<Argon2idParams> = Object.freeze({
  memoryKib: 64,
  iterations: 1,
  parallelism: 1,
});

/** Argon2id with a 32-byte output; `password` is the encoded slot input (FORMAT.md §5.3). */
export async function deriveArgon2id(
  password: Uint8Array,
  salt: Uint8Array,
  params: Argon2idParams,
): Promise<Uint8Array> {
  const problem = argon2idParamsProblem(params);
  if (problem) throw new RangeError(`Cannot derive a key: Argon2id ${problem}`);
  if (salt.length < 8) {
    throw new RangeError("Cannot derive a key: the salt must have at least 8 bytes");
  }
  return await argon2id({
    password,
    salt,
    iterations: params.iterations,
    parallelism: params.parallelism,
    memorySize: params.memoryKib,
    hashLength: 32,
    outputType: "binary",
  });
}

/**
 * HKDF-SHA256 (RFC 5869): `length` bytes from input key material, salt and
 * `info` (an ASCII label, or bytes).
 *
 * @example
 * ```ts
 * import { hkdf } from "./kdf.ts";
 * const key = await hkdf(new Uint8Array(32), new Uint8Array(16), "cofre v1 data", 32);
 * if (key.length !== 32) throw new Error();
 * ```
 */
export async function hkdf(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: string | Uint8Array,
  length: number,
): Promise<Uint8Array> {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new RangeError(`Cannot derive a key: HKDF length ${length}, expected 1..8160`);
  }
  const key = await crypto.subtle.importKey(
    "raw",
    ikm as Uint8Array<ArrayBuffer>,
    "HKDF",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: salt as Uint8Array<ArrayBuffer>,
      info: (typeof info === "string" ? new TextEncoder().encode(info) : info) as Uint8Array<
        ArrayBuffer
      >,
    },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}
