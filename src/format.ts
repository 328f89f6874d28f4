/**
 * Byte codecs for Cofre's objects, exactly as FORMAT.md lays them out. Pure:
 * no I/O and no cryptography; signing and sealing happen in src/keys.ts and
 * src/repository.ts. Every decoder rejects malformed input with `FormatError`
 * (or `UnsupportedVersionError` for a version it does not know) and never
 * reads or allocates more than the input's own length.
 *
 * @module
 */

import { ByteReader, ByteWriter } from "./_bytes.ts";
import { validateChunkerOptions } from "./chunker.ts";
import { FormatError, UnsupportedVersionError } from "./errors.ts";

/** The repository format version this Cofre reads and writes (FORMAT.md §3). */
export const FORMAT_VERSION = 1;

export const REPOSITORY_ID_BYTES = 16;
export const SLOT_ID_BYTES = 16;
export const SALT_BYTES = 16;
export const NONCE_BYTES = 12;
export const MASTER_KEY_BYTES = 32;
export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
const TAG_BYTES = 16;

function checkVersion(reader: ByteReader, what: string): void {
  const version = reader.u8("version");
  if (version === 0) reader.fail("format version 0 does not exist");
  if (version !== FORMAT_VERSION) {
    throw new UnsupportedVersionError(
      `Cannot read ${what}: format version ${version}, this Cofre reads version ${FORMAT_VERSION} (upgrade Cofre)`,
    );
  }
}

function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`Cannot decode ${what}: not bytes`);
  if (bytes.length !== length) {
    throw new FormatError(`Cannot decode ${what}: ${bytes.length} bytes, expected ${length}`);
  }
}

// ---------------------------------------------------------------------------
// FORMAT.md §6: the config

/** The repository config (FORMAT.md §6). */
export interface Config {
  repositoryId: Uint8Array;
  createdMs: number;
  chunker: { minSize: number; avgSize: number; maxSize: number; normalization: number };
  zstdLevel: number;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

const CONFIG_MAGIC = "cofrecfg";
export const CONFIG_BYTES = 143;
const CONFIG_SIGNED_BYTES = 79;
/** FORMAT.md §6: the signature covers this label, then bytes 0..78. */
export const CONFIG_SIGNATURE_LABEL = "cofre v1 config";

/** Bytes 0..78 of the config: what its signature covers. */
export function encodeConfigBody(config: Omit<Config, "signature">): Uint8Array<ArrayBuffer> {
  const { chunker } = config;
  const w = new ByteWriter(CONFIG_BYTES)
    .ascii(CONFIG_MAGIC)
    .u8(FORMAT_VERSION)
    .bytes(fixed(config.repositoryId, REPOSITORY_ID_BYTES, "repository id"))
    .u64(config.createdMs)
    .u32(chunker.minSize)
    .u32(chunker.avgSize)
    .u32(chunker.maxSize)
    .u8(chunker.normalization)
    .u8(config.zstdLevel)
    .bytes(fixed(config.publicKey, PUBLIC_KEY_BYTES, "public key"));
  return w.finish();
}

export function encodeConfig(config: Config): Uint8Array<ArrayBuffer> {
  const w = new ByteWriter(CONFIG_BYTES).bytes(encodeConfigBody(config));
  return w.bytes(fixed(config.signature, SIGNATURE_BYTES, "signature")).finish();
}

export function decodeConfig(bytes: Uint8Array): Config {
  const r = new ByteReader(bytes, "config");
  r.magic(CONFIG_MAGIC);
  checkVersion(r, "the repository config");
  checkLength(bytes, CONFIG_BYTES, "config");
  const repositoryId = r.bytes(REPOSITORY_ID_BYTES, "repository id");
  const createdMs = r.safeU64("created");
  const chunker = {
    minSize: r.u32("chunker min"),
    avgSize: r.u32("chunker avg"),
    maxSize: r.u32("chunker max"),
    normalization: r.u8("chunker normalisation"),
  };
  try {
    validateChunkerOptions(chunker);
  } catch (error) {
    r.fail(`chunker parameters: ${(error as Error).message}`);
  }
  const zstdLevel = r.u8("zstd level");
  if (zstdLevel < 1 || zstdLevel > 19) r.fail(`zstd level ${zstdLevel}, expected 1..19`);
  const publicKey = r.bytes(PUBLIC_KEY_BYTES, "public key");
  if (r.offset !== CONFIG_SIGNED_BYTES) r.fail("internal layout error");
  const signature = r.bytes(SIGNATURE_BYTES, "signature");
  r.end();
  return { repositoryId, createdMs, chunker, zstdLevel, publicKey, signature };
}

// ---------------------------------------------------------------------------
// FORMAT.md §5.3: key slots

/** Argon2id parameters, stored in each password slot. */
export interface Argon2idParams {
  memoryKib: number;
  iterations: number;
  parallelism: number;
}

/** A key slot (FORMAT.md §5.3). */
export interface KeySlot {
  kind: "password" | "recovery";
  slotId: Uint8Array;
  salt: Uint8Array;
  /** Argon2id parameters for a password slot; null for the recovery slot (HKDF). */
  argon2id: Argon2idParams | null;
  createdMs: number;
  nonce: Uint8Array;
  /** The master key sealed under the slot key: 32 bytes + 16-byte tag. */
  sealedMaster: Uint8Array;
}

const SLOT_MAGIC = "cofrekey";
export const KEY_SLOT_BYTES = 123;
const SLOT_HEADER_BYTES = 63;
const KIND_PASSWORD = 1;
const KIND_RECOVERY = 2;
const KDF_ARGON2ID = 1;
const KDF_HKDF = 2;

/** FORMAT.md §5.3: the bounds a reader enforces on Argon2id parameters. */
export const ARGON2ID_LIMITS = Object.freeze({
  maxMemoryKib: 4 * 1024 * 1024,
  minIterations: 1,
  maxIterations: 1000,
  minParallelism: 1,
  maxParallelism: 255,
});

/** Checks Argon2id parameters against FORMAT.md §5.3; returns the broken rule or null. */
export function argon2idParamsProblem(p: Argon2idParams): string | null {
  const L = ARGON2ID_LIMITS;
  const int = Number.isInteger;
  if (!int(p.parallelism) || p.parallelism < L.minParallelism || p.parallelism > L.maxParallelism) {
    return `parallelism ${p.parallelism}, expected ${L.minParallelism}..${L.maxParallelism}`;
  }
  if (!int(p.memoryKib) || p.memoryKib < 8 * p.parallelism || p.memoryKib > L.maxMemoryKib) {
    return `memory ${p.memoryKib} KiB, expected ${8 * p.parallelism}..${L.maxMemoryKib}`;
  }
  if (!int(p.iterations) || p.iterations < L.minIterations || p.iterations > L.maxIterations) {
    return `iterations ${p.iterations}, expected ${L.minIterations}..${L.maxIterations}`;
  }
  return null;
}

/** Bytes 0..62 of a slot: authenticated as AAD when the master key is sealed. */
export function encodeKeySlotHeader(
  slot: Omit<KeySlot, "nonce" | "sealedMaster">,
): Uint8Array<ArrayBuffer> {
  const isPassword = slot.kind === "password";
  if (isPassword !== (slot.argon2id !== null)) {
    throw new TypeError(
      "Cannot encode key slot: password slots need Argon2id parameters, recovery slots none",
    );
  }
  const a = slot.argon2id ?? { memoryKib: 0, iterations: 0, parallelism: 0 };
  if (slot.argon2id) {
    const problem = argon2idParamsProblem(slot.argon2id);
    if (problem) throw new RangeError(`Cannot encode key slot: Argon2id ${problem}`);
  }
  return new ByteWriter(KEY_SLOT_BYTES)
    .ascii(SLOT_MAGIC)
    .u8(FORMAT_VERSION)
    .u8(isPassword ? KIND_PASSWORD : KIND_RECOVERY)
    .bytes(fixed(slot.slotId, SLOT_ID_BYTES, "slot id"))
    .bytes(fixed(slot.salt, SALT_BYTES, "salt"))
    .u8(isPassword ? KDF_ARGON2ID : KDF_HKDF)
    .u32(a.memoryKib)
    .u32(a.iterations)
    .u32(a.parallelism)
    .u64(slot.createdMs)
    .finish();
}

export function encodeKeySlot(slot: KeySlot): Uint8Array<ArrayBuffer> {
  return new ByteWriter(KEY_SLOT_BYTES)
    .bytes(encodeKeySlotHeader(slot))
    .bytes(fixed(slot.nonce, NONCE_BYTES, "nonce"))
    .bytes(fixed(slot.sealedMaster, MASTER_KEY_BYTES + TAG_BYTES, "sealed master key"))
    .finish();
}

export function decodeKeySlot(bytes: Uint8Array): KeySlot {
  const r = new ByteReader(bytes, "key slot");
  r.magic(SLOT_MAGIC);
  checkVersion(r, "a key slot");
  checkLength(bytes, KEY_SLOT_BYTES, "key slot");
  const kindByte = r.u8("kind");
  if (kindByte !== KIND_PASSWORD && kindByte !== KIND_RECOVERY) r.fail(`unknown kind ${kindByte}`);
  const kind = kindByte === KIND_PASSWORD ? "password" : "recovery";
  const slotId = r.bytes(SLOT_ID_BYTES, "slot id");
  const salt = r.bytes(SALT_BYTES, "salt");
  const kdf = r.u8("kdf");
  const params = {
    memoryKib: r.u32("memory"),
    iterations: r.u32("iterations"),
    parallelism: r.u32("parallelism"),
  };
  let argon2id: Argon2idParams | null = null;
  if (kind === "password") {
    if (kdf !== KDF_ARGON2ID) r.fail(`password slot with kdf ${kdf}, expected Argon2id (1)`);
    const problem = argon2idParamsProblem(params);
    if (problem) r.fail(`Argon2id ${problem}`);
    argon2id = params;
  } else {
    if (kdf !== KDF_HKDF) r.fail(`recovery slot with kdf ${kdf}, expected HKDF (2)`);
    if (params.memoryKib || params.iterations || params.parallelism) {
      r.fail("recovery slot with Argon2id parameters");
    }
  }
  const createdMs = r.safeU64("created");
  if (r.offset !== SLOT_HEADER_BYTES) r.fail("internal layout error");
  const nonce = r.bytes(NONCE_BYTES, "nonce");
  const sealedMaster = r.bytes(MASTER_KEY_BYTES + TAG_BYTES, "sealed master key");
  r.end();
  return { kind, slotId, salt, argon2id, createdMs, nonce, sealedMaster };
}

function fixed(bytes: Uint8Array, length: number, what: string): Uint8Array {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new RangeError(`Cannot encode ${what}: expected ${length} bytes`);
  }
  return bytes;
}
