/**
 * Blobs (FORMAT.md §8): a chunk or a tree, named by its keyed hash,
 * compressed when that pays, and sealed with AES-256-GCM.
 *
 * @module
 */

import { ascii, concatBytes, equalBytes, toHex } from "./_bytes.ts";
import { discard } from "./_buffer_pool.ts";
import { AesGcm } from "./aead.ts";
import { KeyedHasher } from "./chunk_id.ts";
import { BLOB_FLAG_RAW, BLOB_FLAG_ZSTD, compress, compressBlob, decompress } from "./compress.ts";
import { AuthenticationError, FormatError } from "./errors.ts";
import { type BlobType, blobTypeCode, NONCE_BYTES, SEALED_BLOB_OVERHEAD_BYTES } from "./format.ts";

const AAD_LABEL = ascii("cofre v1 blob");
const TAG_BYTES = 16;
/** FORMAT.md §8.2: the sample must save at least this fraction for the whole chunk to be tried. */
const MIN_SAVING = 0.03;

/** The keys blobs need (FORMAT.md §5.2). */
export interface BlobKeys {
  data: AesGcm;
  meta: AesGcm;
  /** BLAKE3 keyed with the `id` subkey. */
  id: KeyedHasher;
  /** BLAKE3 keyed with the `nonce` subkey. */
  nonce: KeyedHasher;
}

/** The raw subkeys BlobKeys are made from (FORMAT.md §5.2), as a worker pool is started with them. */
export interface RawBlobKeys {
  data: Uint8Array;
  meta: Uint8Array;
  id: Uint8Array;
  nonce: Uint8Array;
}

/**
 * The BlobKeys for `raw`. Each key keeps its own copy (wasm memory, or
 * libcrypto's context): the caller may wipe `raw` at once.
 *
 * @example
 * ```ts
 * import { blobKeysFrom } from "./blob.ts";
 * const raw = { data: new Uint8Array(32), meta: new Uint8Array(32), id: new Uint8Array(32), nonce: new Uint8Array(32) };
 * const keys = await blobKeysFrom(raw);
 * for (const key of Object.values(raw)) key.fill(0);
 * if (keys.id.hash(new Uint8Array(4)).length !== 32) throw new Error("no id");
 * ```
 */
export async function blobKeysFrom(raw: RawBlobKeys): Promise<BlobKeys> {
  return {
    data: new AesGcm(raw.data),
    meta: new AesGcm(raw.meta),
    id: await KeyedHasher.create(raw.id),
    nonce: await KeyedHasher.create(raw.nonce),
  };
}

/** A sealed blob and what its pack header and index say about it. */
export interface SealedBlob {
  type: BlobType;
  id: Uint8Array;
  sealed: Uint8Array;
  plaintextLength: number;
  compressed: boolean;
}

function aad(type: BlobType, id: Uint8Array): Uint8Array {
  return concatBytes(AAD_LABEL, new Uint8Array([blobTypeCode(type)]), id);
}

const SAMPLE_BYTES = 64 * 1024;

/**
 * FORMAT.md §8.2: a 64 KiB sample at level 1 tells media (which zstd cannot
 * shrink) from data worth compressing whole, for a fraction of the cost.
 */
function worthCompressing(plaintext: Uint8Array): boolean {
  if (plaintext.length <= 2 * SAMPLE_BYTES) return true;
  const frame = compress(plaintext.subarray(0, SAMPLE_BYTES), { level: 1 });
  const worth = frame.length <= SAMPLE_BYTES * (1 - MIN_SAVING);
  discard([frame]); // a new buffer (src/compress.ts), dead at once
  return worth;
}

/**
 * Seals a blob (FORMAT.md §8.2). `id` may be passed when the caller has it
 * already (dedup checks it first), saving a second hash of the chunk.
 * `inPlace`: the caller owns the plaintext's whole buffer and gives it up;
 * when the buffer has room around the plaintext (src/_buffer_pool.ts), the
 * blob is sealed right there, overwriting it, and nothing is allocated.
 * Otherwise the sealed blob lies in a new buffer of its own, which the
 * caller may `discard` (src/_buffer_pool.ts) once done with it.
 */
export function sealBlob(
  type: BlobType,
  plaintext: Uint8Array,
  keys: BlobKeys,
  options: { level: number; id?: Uint8Array; inPlace?: boolean },
): SealedBlob {
  const id = options.id ?? keys.id.hash(plaintext);
  // compressBlob applies the 3% rule; the sample spares media the attempt.
  const chosen = worthCompressing(plaintext)
    ? compressBlob(plaintext, { level: options.level })
    : { flag: BLOB_FLAG_RAW, bytes: plaintext };
  const compressed = chosen.flag === BLOB_FLAG_ZSTD;
  const flag = new Uint8Array([chosen.flag]);
  // A raw payload is a function of the id; a compressed one is not (zstd
  // versions and levels differ), so its nonce comes from the payload itself.
  const nonce = compressed
    ? keys.nonce.hashParts([flag, chosen.bytes]).subarray(0, NONCE_BYTES)
    : id.subarray(0, NONCE_BYTES);
  const key = type === "data" ? keys.data : keys.meta;
  const length = NONCE_BYTES + 1 + chosen.bytes.length + TAG_BYTES;
  const start = plaintext.byteOffset - NONCE_BYTES - 1;
  const roomy = options.inPlace === true && plaintext.buffer instanceof ArrayBuffer &&
    start >= 0 &&
    plaintext.buffer.byteLength - plaintext.byteOffset - plaintext.length >= TAG_BYTES;
  // In place, each payload byte's ciphertext lands where the byte was (the
  // flag's in the spare byte before it), after being read (src/aead.ts);
  // otherwise one allocation, the payload sealed straight behind its nonce.
  const sealed = roomy
    ? new Uint8Array(plaintext.buffer as ArrayBuffer, start, length)
    : new Uint8Array(length);
  sealed.set(nonce);
  key.sealInto(nonce, [flag, chosen.bytes], sealed, NONCE_BYTES, aad(type, id));
  // A compressed blob is shorter than its chunk: leave none of the chunk behind it.
  if (roomy) plaintext.subarray(Math.max(0, start + length - plaintext.byteOffset)).fill(0);
  if (compressed) discard([chosen.bytes]); // the frame, a new buffer (src/compress.ts)
  return { type, id, sealed, plaintextLength: plaintext.length, compressed };
}

/**
 * Opens a blob and checks that it is the plaintext `id` names. Throws
 * FormatError (naming the blob) for any damage: a tag that does not verify,
 * a bad flag, a frame that does not decompress to `plaintextLength` bytes,
 * or a plaintext whose id differs. `inPlace`: the caller gives up `sealed`,
 * which is decrypted where it lies; a raw blob's plaintext is then a view of
 * it, with nothing allocated. Otherwise the plaintext lies in a new buffer
 * that nothing else holds, which the caller may `discard`.
 */
export function openBlob(
  type: BlobType,
  id: Uint8Array,
  sealed: Uint8Array,
  plaintextLength: number,
  keys: BlobKeys,
  options: { inPlace?: boolean } = {},
): Uint8Array {
  // The name is built only on failure: this runs once per page of a database.
  const fail = (reason: string): never => {
    throw new FormatError(`Cannot open ${type} blob ${toHex(id.subarray(0, 8))}: ${reason}`);
  };
  if (sealed.length < SEALED_BLOB_OVERHEAD_BYTES) fail(`${sealed.length} bytes is too short`);
  const key = type === "data" ? keys.data : keys.meta;
  let payload: Uint8Array;
  try {
    const nonce = sealed.subarray(0, NONCE_BYTES);
    if (options.inPlace) {
      // The caller gave the buffer up: opened in one pass, wiped if the tag fails (src/aead.ts).
      const n = key.openInto(
        nonce,
        sealed.subarray(NONCE_BYTES),
        aad(type, id),
        sealed,
        NONCE_BYTES,
        { unseen: true },
      );
      payload = sealed.subarray(NONCE_BYTES, NONCE_BYTES + n);
    } else payload = key.open(nonce, sealed.subarray(NONCE_BYTES), aad(type, id));
  } catch (error) {
    if (error instanceof AuthenticationError) {
      fail("authentication failed (damaged, or not this blob)");
    }
    throw error;
  }
  let plaintext: Uint8Array;
  if (payload![0] === BLOB_FLAG_RAW) plaintext = payload!.subarray(1);
  else if (payload![0] === BLOB_FLAG_ZSTD) {
    plaintext = decompress(payload!.subarray(1), { maxBytes: plaintextLength });
    if (!options.inPlace) discard([payload!]); // open()'s new buffer, decompressed
  } else return fail(`unknown flag ${payload![0]}`);
  if (plaintext.length !== plaintextLength) {
    fail(`${plaintext.length} bytes, expected ${plaintextLength}`);
  }
  if (!equalBytes(keys.id.hash(plaintext), id)) fail("its content does not match its id");
  return plaintext;
}
