/**
 * Byte codecs for Cofre's objects, exactly as FORMAT.md lays them out. Pure:
 * no I/O and no cryptography; signing and sealing happen in src/keys.ts and
 * src/repository.ts. Every decoder rejects malformed input with `FormatError`
 * (or `UnsupportedVersionError` for a version it does not know) and never
 * reads or allocates more than the input's own length.
 *
 * @module
 */

import { ByteReader, ByteWriter, toHex } from "./_bytes.ts";
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

// ---------------------------------------------------------------------------
// FORMAT.md §8-9: blobs and pack headers

/** The two kinds of blob (FORMAT.md §8.2). */
export type BlobType = "data" | "tree";
const BLOB_TYPE_CODES: Record<BlobType, number> = { data: 1, tree: 2 };

export function blobTypeCode(type: BlobType): number {
  return BLOB_TYPE_CODES[type];
}

function decodeBlobType(r: ByteReader, code: number): BlobType {
  if (code === 1) return "data";
  if (code === 2) return "tree";
  return r.fail(`unknown blob type ${code}`);
}

export const CHUNK_ID_BYTES = 32;
/** Sealed blob overhead: the 12-byte nonce, the flag byte and the 16-byte tag (FORMAT.md §8.2). */
export const SEALED_BLOB_OVERHEAD_BYTES = NONCE_BYTES + 1 + TAG_BYTES;
/** The most blobs a pack may hold (FORMAT.md §9). */
export const MAX_PACK_BLOBS = 1 << 20;
/** Packs stay below 4 GiB so that offsets fit in u32 (FORMAT.md §9). */
export const MAX_PACK_BYTES = 2 ** 32 - 1;

/** One blob's entry in a pack header. */
export interface PackEntry {
  type: BlobType;
  id: Uint8Array;
  /** Bytes of the sealed blob in the pack. */
  sealedLength: number;
  /** Bytes of the plaintext (before compression). */
  plaintextLength: number;
}

const PACK_MAGIC = "cofrepak";
const PACK_ENTRY_BYTES = 41;

/** The pack header's plaintext (FORMAT.md §9). */
export function encodePackHeader(entries: readonly PackEntry[]): Uint8Array<ArrayBuffer> {
  if (entries.length < 1 || entries.length > MAX_PACK_BLOBS) {
    throw new RangeError(
      `Cannot encode pack header: ${entries.length} blobs, expected 1..${MAX_PACK_BLOBS}`,
    );
  }
  const w = new ByteWriter(13 + PACK_ENTRY_BYTES * entries.length)
    .ascii(PACK_MAGIC)
    .u8(FORMAT_VERSION)
    .u32(entries.length);
  for (const e of entries) {
    w.u8(blobTypeCode(e.type)).bytes(fixed(e.id, CHUNK_ID_BYTES, "chunk id")).u32(e.sealedLength)
      .u32(
        e.plaintextLength,
      );
  }
  return w.finish();
}

export function decodePackHeader(bytes: Uint8Array): PackEntry[] {
  const r = new ByteReader(bytes, "pack header");
  r.magic(PACK_MAGIC);
  checkVersion(r, "a pack");
  const n = r.u32("blob count");
  if (n < 1 || n > MAX_PACK_BLOBS) r.fail(`${n} blobs, expected 1..${MAX_PACK_BLOBS}`);
  // Check the length before allocating n entries.
  if (r.remaining !== n * PACK_ENTRY_BYTES) {
    r.fail(`${bytes.length} bytes for ${n} blobs, expected ${13 + n * PACK_ENTRY_BYTES}`);
  }
  const entries: PackEntry[] = [];
  for (let i = 0; i < n; i++) {
    const type = decodeBlobType(r, r.u8("blob type"));
    const id = r.bytes(CHUNK_ID_BYTES, "chunk id");
    const sealedLength = r.u32("sealed length");
    const plaintextLength = r.u32("plaintext length");
    if (sealedLength < SEALED_BLOB_OVERHEAD_BYTES) {
      r.fail(`blob ${i} of ${sealedLength} bytes is too short`);
    }
    entries.push({ type, id, sealedLength, plaintextLength });
  }
  r.end();
  return entries;
}

// ---------------------------------------------------------------------------
// FORMAT.md §10: index files

/** Where one blob is. */
export interface IndexEntry {
  type: BlobType;
  id: Uint8Array;
  /** SHA-256 of the pack (its name). */
  pack: Uint8Array;
  offset: number;
  sealedLength: number;
  plaintextLength: number;
}

const INDEX_MAGIC = "cofreidx";
const INDEX_ENTRY_BYTES = 49;
const PACK_ID_BYTES = 32;

/** An index file's plaintext (FORMAT.md §10). */
export function encodeIndex(entries: readonly IndexEntry[]): Uint8Array<ArrayBuffer> {
  // Pack numbers in order of first appearance; entries of one pack share its
  // id object (BlobWriter, decodeIndex), so most lookups skip the hex.
  const packs = new Map<string, { number: number; id: Uint8Array }>();
  const byObject = new Map<Uint8Array, number>();
  const numberOf = (pack: Uint8Array): number => {
    let number = byObject.get(pack);
    if (number === undefined) {
      const key = toHex(fixed(pack, PACK_ID_BYTES, "pack id"));
      const known = packs.get(key) ?? { number: packs.size, id: pack };
      packs.set(key, known);
      number = known.number;
      byObject.set(pack, number);
    }
    return number;
  };
  const numbers = entries.map((e) => numberOf(e.pack));
  const w = new ByteWriter(17 + PACK_ID_BYTES * packs.size + INDEX_ENTRY_BYTES * entries.length)
    .ascii(INDEX_MAGIC)
    .u8(FORMAT_VERSION)
    .u32(packs.size);
  for (const { id } of packs.values()) w.bytes(id);
  w.u32(entries.length);
  entries.forEach((e, i) => {
    w.u8(blobTypeCode(e.type))
      .bytes(fixed(e.id, CHUNK_ID_BYTES, "chunk id"))
      .u32(numbers[i]!)
      .u32(e.offset)
      .u32(e.sealedLength)
      .u32(e.plaintextLength);
  });
  return w.finish();
}

/**
 * The entries of an index file's plaintext. Ids and pack ids are views of
 * `bytes`, not copies: an index holds tens of thousands, and a buffer each
 * was most of the time it took to load one.
 */
export function decodeIndex(bytes: Uint8Array): IndexEntry[] {
  const r = new ByteReader(bytes, "index");
  r.magic(INDEX_MAGIC);
  checkVersion(r, "an index");
  const p = r.u32("pack count");
  if (p * PACK_ID_BYTES + 4 > r.remaining) r.fail(`${p} packs do not fit in ${bytes.length} bytes`);
  const packs: Uint8Array[] = [];
  for (let i = 0; i < p; i++) packs.push(r.view(PACK_ID_BYTES, "pack id"));
  const n = r.u32("entry count");
  if (r.remaining !== n * INDEX_ENTRY_BYTES) {
    r.fail(`${bytes.length} bytes, expected ${17 + PACK_ID_BYTES * p + INDEX_ENTRY_BYTES * n}`);
  }
  const entries: IndexEntry[] = [];
  for (let i = 0; i < n; i++) {
    const type = decodeBlobType(r, r.u8("blob type"));
    const id = r.view(CHUNK_ID_BYTES, "chunk id");
    const packNumber = r.u32("pack number");
    if (packNumber >= p) r.fail(`entry ${i} names pack ${packNumber} of ${p}`);
    const offset = r.u32("offset");
    const sealedLength = r.u32("sealed length");
    const plaintextLength = r.u32("plaintext length");
    if (sealedLength < SEALED_BLOB_OVERHEAD_BYTES) {
      r.fail(`entry ${i} of ${sealedLength} bytes is too short`);
    }
    entries.push({ type, id, pack: packs[packNumber]!, offset, sealedLength, plaintextLength });
  }
  r.end();
  return entries;
}

// ---------------------------------------------------------------------------
// FORMAT.md §11: trees

/** One entry of a directory listing. */
export type TreeNode =
  & {
    name: string;
    mode: number;
    mtimeMs: number;
    inode?: number;
    ctimeMs?: number;
  }
  & (
    | ({ type: "file"; size: number; sqlite?: SqliteRecord } & FileContent)
    | { type: "dir"; subtree: string }
    | { type: "symlink"; target: string }
  );

/**
 * A file's chunks (FORMAT.md §11): their ids, or, for more than
 * `CONTENT_LIST_IDS` of them, the ids of the content lists that hold them
 * (§11.1). Exactly one of the two is set.
 */
export type FileContent =
  | { content: string[]; contentLists?: undefined }
  | { content?: undefined; contentLists: string[] };

/** FORMAT.md §11.1: a file of more chunks than this keeps them in content lists of this many. */
export const CONTENT_LIST_IDS = 4096;

/**
 * True when two files' chunks are the same: the same ids, or the same
 * content lists (canonical, FORMAT.md §11.1: the same lists hold the same ids).
 */
export function sameFileContent(a: FileContent, b: FileContent): boolean {
  const x = a.contentLists ?? a.content;
  const y = b.contentLists ?? b.content;
  return (a.contentLists === undefined) === (b.contentLists === undefined) &&
    (x === y || (x.length === y.length && x.every((id, i) => id === y[i])));
}

/** FORMAT.md §11: a database whose content is a consistent copy (§7.4), not the file's bytes. */
export interface SqliteRecord {
  /** The live file's size when it was read. */
  sourceSize: number;
  /** The length its chunks were cut to (§7.4); absent in nodes written before 2026-12-07. */
  chunkBytes?: number;
  /** Its `-wal` and `-journal` files then. */
  companions: { name: string; size: number; mtimeMs: number }[];
}

const HEX_ID = /^[0-9a-f]{64}$/;

/** A tree's canonical encoding: the same listing always gives the same bytes (FORMAT.md §11). */
export function encodeTree(nodes: readonly TreeNode[]): Uint8Array<ArrayBuffer> {
  const sorted = [...nodes].sort((a, b) => compareUtf8(a.name, b.name));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.name === sorted[i - 1]!.name) {
      throw new RangeError(`Cannot encode tree: the name "${sorted[i]!.name}" appears twice`);
    }
  }
  const parts = sorted.map((node) => {
    checkNodeName(node.name, (reason) => {
      throw new RangeError(`Cannot encode tree: ${reason}`);
    });
    // Members in the FORMAT.md §11 order; JSON.stringify keeps insertion order.
    const out: Record<string, unknown> = {
      name: node.name,
      type: node.type,
      mode: node.mode,
      mtime_ms: node.mtimeMs,
    };
    if (node.type === "file") {
      out.size = node.size;
      // FORMAT.md §11.1: lists exactly when there are more than CONTENT_LIST_IDS chunks.
      if (node.contentLists) {
        if (node.contentLists.length === 0) {
          throw new RangeError(`Cannot encode tree: "${node.name}" has no content lists`);
        }
        out.content_lists = node.contentLists;
      } else {
        if (node.content.length > CONTENT_LIST_IDS) {
          throw new RangeError(
            `Cannot encode tree: "${node.name}" has ${node.content.length} chunk ids, ` +
              `more than ${CONTENT_LIST_IDS} need content lists`,
          );
        }
        out.content = node.content;
      }
    } else if (node.type === "dir") {
      out.subtree = node.subtree;
    } else {
      out.target = node.target;
    }
    if (node.inode !== undefined) out.inode = node.inode;
    if (node.ctimeMs !== undefined) out.ctime_ms = node.ctimeMs;
    if (node.type === "file" && node.sqlite) {
      out.sqlite = {
        source_size: node.sqlite.sourceSize,
        ...(node.sqlite.chunkBytes !== undefined ? { chunk_bytes: node.sqlite.chunkBytes } : {}),
        companions: node.sqlite.companions.map((c) => ({
          name: c.name,
          size: c.size,
          mtime_ms: c.mtimeMs,
        })),
      };
    }
    return JSON.stringify(out);
  });
  return new TextEncoder().encode(`{"nodes":[${parts.join(",")}]}`);
}

/** Trees and content lists are JSON in UTF-8 (FORMAT.md §11); anything else fails. */
function parseJson(bytes: Uint8Array, fail: (reason: string) => never): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    return fail(`not UTF-8 JSON (${(error as Error).message})`);
  }
}

function isIdList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((id) => typeof id === "string" && HEX_ID.test(id));
}

export function decodeTree(bytes: Uint8Array): TreeNode[] {
  const fail = (reason: string): never => {
    throw new FormatError(`Cannot decode tree: ${reason}`);
  };
  const parsed = parseJson(bytes, fail);
  const nodes = (parsed as { nodes?: unknown })?.nodes;
  if (!Array.isArray(nodes)) fail('no "nodes" array');
  const int = (v: unknown, what: string, min = 0): number => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
      fail(`${what} is not an integer ≥ ${min}`);
    }
    return v as number;
  };
  const out: TreeNode[] = [];
  let previous: string | null = null;
  for (const raw of nodes as unknown[]) {
    if (typeof raw !== "object" || raw === null) fail("a node is not an object");
    const n = raw as Record<string, unknown>;
    if (typeof n.name !== "string") fail("a node has no name");
    const name = n.name as string;
    checkNodeName(name, fail);
    if (previous !== null && compareUtf8(previous, name) >= 0) {
      fail(`"${name}" is out of order or repeated`);
    }
    previous = name;
    const base = {
      name,
      mode: int(n.mode, `${name}: mode`),
      // Times before 1970 are negative.
      mtimeMs: int(n.mtime_ms, `${name}: mtime_ms`, Number.MIN_SAFE_INTEGER),
      ...(n.inode !== undefined ? { inode: int(n.inode, `${name}: inode`) } : {}),
      ...(n.ctime_ms !== undefined
        ? { ctimeMs: int(n.ctime_ms, `${name}: ctime_ms`, Number.MIN_SAFE_INTEGER) }
        : {}),
    };
    if (base.mode > 0xffff_ffff) fail(`${name}: mode out of range`);
    if (n.type === "file") {
      // FORMAT.md §11.1: exactly one of content and content_lists.
      let content: FileContent;
      if (n.content_lists === undefined) {
        if (!isIdList(n.content)) fail(`${name}: content is not a list of chunk ids`);
        content = { content: n.content as string[] };
      } else {
        if (n.content !== undefined) fail(`${name}: both content and content_lists`);
        if (!isIdList(n.content_lists) || n.content_lists.length === 0) {
          fail(`${name}: content_lists is not a list of content list ids`);
        }
        content = { contentLists: n.content_lists as string[] };
      }
      out.push({
        ...base,
        type: "file",
        size: int(n.size, `${name}: size`),
        ...content,
        ...(n.sqlite !== undefined
          ? { sqlite: decodeSqliteRecord(n.sqlite, name, fail, int) }
          : {}),
      });
    } else if (n.type === "dir") {
      if (typeof n.subtree !== "string" || !HEX_ID.test(n.subtree)) {
        fail(`${name}: subtree is not a chunk id`);
      }
      out.push({ ...base, type: "dir", subtree: n.subtree as string });
    } else if (n.type === "symlink") {
      if (typeof n.target !== "string") fail(`${name}: symlink without a target`);
      out.push({ ...base, type: "symlink", target: n.target as string });
    } else {
      fail(`${name}: unknown type ${JSON.stringify(n.type)}`);
    }
  }
  return out;
}

/** A content list's canonical encoding (FORMAT.md §11.1): `{"content":[ids]}`. */
export function encodeContentList(ids: readonly string[]): Uint8Array<ArrayBuffer> {
  if (ids.length === 0 || ids.length > CONTENT_LIST_IDS) {
    throw new RangeError(`Cannot encode a content list of ${ids.length} ids, expected 1..4096`);
  }
  return new TextEncoder().encode(JSON.stringify({ content: ids }));
}

/** A content list's chunk ids (FORMAT.md §11.1): 1..4096 of them. */
export function decodeContentList(bytes: Uint8Array): string[] {
  const fail = (reason: string): never => {
    throw new FormatError(`Cannot decode content list: ${reason}`);
  };
  const parsed = parseJson(bytes, fail);
  const ids = (parsed as { content?: unknown })?.content;
  if (!isIdList(ids)) {
    fail('no "content" list of chunk ids');
  }
  const list = ids as string[];
  if (list.length === 0 || list.length > CONTENT_LIST_IDS) {
    fail(`${list.length} ids, expected 1..${CONTENT_LIST_IDS}`);
  }
  return list;
}

function decodeSqliteRecord(
  raw: unknown,
  name: string,
  fail: (reason: string) => never,
  int: (v: unknown, what: string, min?: number) => number,
): SqliteRecord {
  const r = raw as Record<string, unknown> | null;
  if (typeof r !== "object" || r === null || !Array.isArray(r.companions)) {
    fail(`${name}: sqlite is not a record with companions`);
  }
  return {
    sourceSize: int(r!.source_size, `${name}: sqlite.source_size`),
    ...(r!.chunk_bytes !== undefined
      ? { chunkBytes: int(r!.chunk_bytes, `${name}: sqlite.chunk_bytes`, 1) }
      : {}),
    companions: (r!.companions as unknown[]).map((c) => {
      const o = c as Record<string, unknown> | null;
      if (typeof o?.name !== "string") fail(`${name}: a sqlite companion has no name`);
      return {
        name: o!.name as string,
        size: int(o!.size, `${name}: sqlite companion size`),
        mtimeMs: int(o!.mtime_ms, `${name}: sqlite companion mtime_ms`, Number.MIN_SAFE_INTEGER),
      };
    }),
  };
}

function checkNodeName(name: string, fail: (reason: string) => never): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
    fail(`invalid name ${JSON.stringify(name)}`);
  }
}

const utf8 = new TextEncoder();
/** Bytewise order of UTF-8 encodings (FORMAT.md §11), which differs from UTF-16 order. */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

// ---------------------------------------------------------------------------
// FORMAT.md §12: snapshot envelopes

/** A pack a snapshot needs, as the envelope lists it in clear. */
export interface PackRef {
  id: Uint8Array;
  size: number;
}

export interface Envelope {
  kind: "snapshot" | "tombstone";
  repositoryId: Uint8Array;
  sequence: bigint;
  /** SHA-256 of the envelope this one follows; 32 zero bytes for the first. */
  previous: Uint8Array;
  timeMs: number;
  /** For a tombstone, SHA-256 of the envelope it replaces; else 32 zero bytes. */
  forgotten: Uint8Array;
  packs: PackRef[];
  /** nonce ‖ ciphertext ‖ tag of the snapshot (empty for a tombstone). */
  sealedSnapshot: Uint8Array;
  signature: Uint8Array;
}

const ENVELOPE_MAGIC = "cofresnp";
/** FORMAT.md §12.1: the signature covers this label and everything before it. */
export const ENVELOPE_SIGNATURE_LABEL = "cofre v1 envelope";
const HASH_BYTES = 32;

/** The envelope's fields up to the sealed snapshot's length: bound to the snapshot as AAD. */
export function encodeEnvelopeHeader(
  e: Omit<Envelope, "sealedSnapshot" | "signature">,
): Uint8Array<ArrayBuffer> {
  const w = new ByteWriter(110 + 40 * e.packs.length)
    .ascii(ENVELOPE_MAGIC)
    .u8(FORMAT_VERSION)
    .u8(e.kind === "snapshot" ? 1 : 2)
    .bytes(fixed(e.repositoryId, REPOSITORY_ID_BYTES, "repository id"))
    .u64(e.sequence)
    .bytes(fixed(e.previous, HASH_BYTES, "previous hash"))
    .u64(e.timeMs)
    .bytes(fixed(e.forgotten, HASH_BYTES, "forgotten hash"))
    .u32(e.packs.length);
  const sorted = [...e.packs].sort((a, b) => compareBytes(a.id, b.id));
  for (const pack of sorted) w.bytes(fixed(pack.id, PACK_ID_BYTES, "pack id")).u64(pack.size);
  return w.finish();
}

/** Everything the signature covers (FORMAT.md §12.1). */
export function encodeEnvelopeSigned(e: Omit<Envelope, "signature">): Uint8Array<ArrayBuffer> {
  return new ByteWriter()
    .bytes(encodeEnvelopeHeader(e))
    .u32(e.sealedSnapshot.length)
    .bytes(e.sealedSnapshot)
    .finish();
}

export function encodeEnvelope(e: Envelope): Uint8Array<ArrayBuffer> {
  return new ByteWriter()
    .bytes(encodeEnvelopeSigned(e))
    .bytes(fixed(e.signature, SIGNATURE_BYTES, "signature"))
    .finish();
}

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const r = new ByteReader(bytes, "snapshot envelope");
  r.magic(ENVELOPE_MAGIC);
  checkVersion(r, "a snapshot envelope");
  const kindCode = r.u8("kind");
  if (kindCode !== 1 && kindCode !== 2) r.fail(`unknown kind ${kindCode}`);
  const kind = kindCode === 1 ? "snapshot" : "tombstone";
  const repositoryId = r.bytes(REPOSITORY_ID_BYTES, "repository id");
  const sequence = r.u64("sequence");
  const previous = r.bytes(HASH_BYTES, "previous hash");
  const timeMs = r.safeU64("time");
  const forgotten = r.bytes(HASH_BYTES, "forgotten hash");
  const p = r.u32("pack count");
  if (p * 40 > r.remaining) r.fail(`${p} packs do not fit in ${bytes.length} bytes`);
  const packs: PackRef[] = [];
  for (let i = 0; i < p; i++) {
    const id = r.bytes(PACK_ID_BYTES, "pack id");
    const size = r.safeU64("pack size");
    if (i > 0 && compareBytes(packs[i - 1]!.id, id) >= 0) r.fail("pack list is not sorted");
    packs.push({ id, size });
  }
  const s = r.u32("sealed snapshot length");
  if (s + SIGNATURE_BYTES !== r.remaining) r.fail(`sealed snapshot of ${s} bytes does not fit`);
  const sealedSnapshot = r.bytes(s, "sealed snapshot");
  const signature = r.bytes(SIGNATURE_BYTES, "signature");
  r.end();
  const zero = forgotten.every((b) => b === 0);
  if (kind === "tombstone" && (zero || p !== 0 || s !== 0)) {
    r.fail("a tombstone must name the envelope it replaces and carry no packs or snapshot");
  }
  // A snapshot envelope with a forgotten hash is a replacement written by prune (FORMAT.md §12.3).
  if (kind === "snapshot" && s < NONCE_BYTES + TAG_BYTES) {
    r.fail("a snapshot envelope must carry a sealed snapshot");
  }
  return {
    kind,
    repositoryId,
    sequence,
    previous,
    timeMs,
    forgotten,
    packs,
    sealedSnapshot,
    signature,
  };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
