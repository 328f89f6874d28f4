/**
 * Snapshots (FORMAT.md §12): the record of one backup, sealed under the meta
 * key inside an envelope that is signed, chained to the previous snapshot and
 * lists in clear the packs the snapshot needs.
 *
 * @module
 */

import { ascii, concatBytes, equalBytes, fromHex, sha256, toHex } from "./_bytes.ts";
import type { AesGcm } from "./aead.ts";
import { compress, decompress } from "./compress.ts";
import { AuthenticationError, FormatError } from "./errors.ts";
import {
  decodeEnvelope,
  encodeEnvelope,
  encodeEnvelopeHeader,
  encodeEnvelopeSigned,
  type Envelope,
  ENVELOPE_SIGNATURE_LABEL,
  NONCE_BYTES,
  type PackRef,
} from "./format.ts";
import { sign, verifySignature } from "./keys.ts";
import { getHashNamed, isHexName, putHashNamed, type Storage } from "./storage/storage.ts";

export const SNAPSHOTS_PREFIX = "snapshots/";
const SNAPSHOT_AAD_LABEL = "cofre v1 snapshot";
/** A snapshot's JSON is small; anything larger than this is damage, not data. */
const MAX_SNAPSHOT_JSON_BYTES = 16 * 1024 * 1024;

/** What a backup records (FORMAT.md §12.2). */
export interface Snapshot {
  timeMs: number;
  host: string;
  username: string;
  /** The source paths, as given (absolute). */
  paths: string[];
  tags: string[];
  /** Hex id of the root tree. */
  tree: string;
  /** Hex hash of the parent snapshot's envelope, or null. */
  parent: string | null;
  /** Paths that could not be read, with why. */
  failed: { path: string; error: string }[];
  /** Files backed up in a way the user should know about (FORMAT.md §12.2); absent when none. */
  warnings?: { path: string; warning: string }[];
  stats: {
    files: number;
    dirs: number;
    bytes: number;
    newBytes: number;
    newBlobs: number;
    durationMs: number;
  };
}

/** A snapshot read from the repository, with its place in the chain. */
export interface StoredSnapshot {
  /** Hex SHA-256 of the envelope: the snapshot's id. */
  id: string;
  sequence: bigint;
  previous: string;
  packs: PackRef[];
  snapshot: Snapshot;
  /** For a replacement written by prune (FORMAT.md §12.3): the id of the envelope it replaced. */
  replaces?: string;
}

/** A tombstone: a forgotten snapshot's place in the chain (FORMAT.md §12.3). */
export interface StoredTombstone {
  id: string;
  sequence: bigint;
  previous: string;
  forgotten: string;
}

function encodeSnapshot(s: Snapshot): Uint8Array {
  // Members in FORMAT.md §12.2's order.
  return ascii(JSON.stringify({
    time_ms: s.timeMs,
    host: s.host,
    username: s.username,
    paths: s.paths,
    tags: s.tags,
    tree: s.tree,
    parent: s.parent,
    failed: s.failed,
    stats: {
      files: s.stats.files,
      dirs: s.stats.dirs,
      bytes: s.stats.bytes,
      new_bytes: s.stats.newBytes,
      new_blobs: s.stats.newBlobs,
      duration_ms: s.stats.durationMs,
    },
    ...(s.warnings?.length ? { warnings: s.warnings } : {}),
  }));
}

function decodeSnapshot(bytes: Uint8Array, id: string): Snapshot {
  const fail = (reason: string): never => {
    throw new FormatError(`Cannot decode snapshot ${id}: ${reason}`);
  };
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return fail("not UTF-8 JSON");
  }
  const str = (v: unknown, what: string) =>
    typeof v === "string" ? v : fail(`${what} is not a string`);
  const num = (v: unknown, what: string) =>
    typeof v === "number" && Number.isSafeInteger(v) ? v : fail(`${what} is not an integer`);
  const strings = (v: unknown, what: string) =>
    Array.isArray(v) && v.every((x) => typeof x === "string")
      ? v as string[]
      : fail(`${what} is not a list`);
  const stats = (j.stats ?? {}) as Record<string, unknown>;
  const failed = Array.isArray(j.failed) ? j.failed : fail("failed is not a list");
  return {
    timeMs: num(j.time_ms, "time_ms"),
    host: str(j.host, "host"),
    username: str(j.username, "username"),
    paths: strings(j.paths, "paths"),
    tags: strings(j.tags, "tags"),
    tree: /^[0-9a-f]{64}$/.test(str(j.tree, "tree"))
      ? j.tree as string
      : fail("tree is not a chunk id"),
    parent: j.parent === null ? null : str(j.parent, "parent"),
    failed: (failed as unknown[]).map((f) => {
      const o = f as Record<string, unknown>;
      return { path: str(o?.path, "failed path"), error: str(o?.error, "failed error") };
    }),
    stats: {
      files: num(stats.files, "stats.files"),
      dirs: num(stats.dirs, "stats.dirs"),
      bytes: num(stats.bytes, "stats.bytes"),
      newBytes: num(stats.new_bytes, "stats.new_bytes"),
      newBlobs: num(stats.new_blobs, "stats.new_blobs"),
      durationMs: num(stats.duration_ms, "stats.duration_ms"),
    },
    ...(Array.isArray(j.warnings)
      ? {
        warnings: (j.warnings as unknown[]).map((w) => {
          const o = w as Record<string, unknown>;
          return { path: str(o?.path, "warning path"), warning: str(o?.warning, "warning") };
        }),
      }
      : {}),
  };
}

/** The keys a snapshot needs: the meta AEAD and the signing key pair. */
export interface SnapshotKeys {
  meta: AesGcm;
  signingKey: CryptoKey;
  publicKey: Uint8Array;
  repositoryId: Uint8Array;
}

/**
 * Seals, signs and stores a snapshot after `previous` (FORMAT.md §12.1,
 * §12.3); returns its id (the hex SHA-256 of the envelope).
 */
export async function writeSnapshot(
  storage: Storage,
  keys: SnapshotKeys,
  snapshot: Snapshot,
  packs: PackRef[],
  previous: { id: string; sequence: bigint } | null,
): Promise<string> {
  return await writeEnvelope(storage, keys, snapshot, packs, {
    sequence: previous ? previous.sequence + 1n : 0n,
    previous: previous ? fromHex(previous.id) : new Uint8Array(32),
    forgotten: new Uint8Array(32),
  });
}

/**
 * Writes a replacement for `stored` with the pack list `packs` (FORMAT.md
 * §12.3: same sequence, previous, time and snapshot; forgotten = its id) and
 * returns the new id. The caller deletes the replaced envelope.
 */
export async function writeReplacement(
  storage: Storage,
  keys: SnapshotKeys,
  stored: StoredSnapshot,
  packs: PackRef[],
): Promise<string> {
  return await writeEnvelope(storage, keys, stored.snapshot, packs, {
    sequence: stored.sequence,
    previous: fromHex(stored.previous),
    // The hash chain links name: the original envelope's, when this replaces a replacement.
    forgotten: fromHex(stored.replaces ?? stored.id),
  });
}

/**
 * Replaces snapshot `stored` by a tombstone (FORMAT.md §12.3): writes the
 * tombstone, then deletes the envelope. Returns the tombstone's id.
 */
export async function writeTombstone(
  storage: Storage,
  keys: SnapshotKeys,
  stored: Pick<StoredSnapshot, "id" | "sequence" | "previous" | "replaces">,
  timeMs: number,
): Promise<string> {
  const unsigned = {
    kind: "tombstone" as const,
    repositoryId: keys.repositoryId,
    sequence: stored.sequence,
    previous: fromHex(stored.previous),
    timeMs,
    forgotten: fromHex(stored.replaces ?? stored.id),
    packs: [],
    sealedSnapshot: new Uint8Array(0),
  };
  const id = await signAndStore(storage, keys, unsigned);
  await storage.delete(SNAPSHOTS_PREFIX + stored.id);
  return id;
}

async function writeEnvelope(
  storage: Storage,
  keys: SnapshotKeys,
  snapshot: Snapshot,
  packs: PackRef[],
  link: { sequence: bigint; previous: Uint8Array; forgotten: Uint8Array },
): Promise<string> {
  const header = {
    kind: "snapshot" as const,
    repositoryId: keys.repositoryId,
    sequence: link.sequence,
    previous: link.previous,
    timeMs: snapshot.timeMs,
    forgotten: link.forgotten,
    packs,
  };
  const aad = concatBytes(ascii(SNAPSHOT_AAD_LABEL), await sha256(encodeEnvelopeHeader(header)));
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const sealedSnapshot = concatBytes(
    nonce,
    keys.meta.seal(nonce, compress(encodeSnapshot(snapshot)), aad),
  );
  return await signAndStore(storage, keys, { ...header, sealedSnapshot });
}

/** Signs an envelope (FORMAT.md §12.1) and stores it under its hash; returns the id. */
async function signAndStore(
  storage: Storage,
  keys: SnapshotKeys,
  unsigned: Omit<Envelope, "signature">,
): Promise<string> {
  const signature = await sign(
    keys.signingKey,
    ENVELOPE_SIGNATURE_LABEL,
    encodeEnvelopeSigned(unsigned),
  );
  const bytes = encodeEnvelope({ ...unsigned, signature });
  return await putHashNamed(storage, SNAPSHOTS_PREFIX, bytes);
}

/**
 * Reads, verifies and opens one envelope. FormatError when the name does not
 * match the bytes, the signature does not verify, or it belongs to another
 * repository.
 */
export async function readSnapshot(
  storage: Storage,
  name: string,
  keys: Pick<SnapshotKeys, "meta" | "publicKey" | "repositoryId">,
): Promise<StoredSnapshot | StoredTombstone> {
  const id = name.slice(SNAPSHOTS_PREFIX.length);
  const bytes = await getHashNamed(storage, SNAPSHOTS_PREFIX, id, "snapshot");
  const envelope = decodeEnvelope(bytes);
  await verifyEnvelope(envelope, id, keys);
  const base = { id, sequence: envelope.sequence, previous: toHex(envelope.previous) };
  if (envelope.kind === "tombstone") return { ...base, forgotten: toHex(envelope.forgotten) };
  const aad = concatBytes(ascii(SNAPSHOT_AAD_LABEL), await sha256(encodeEnvelopeHeader(envelope)));
  let frame: Uint8Array;
  try {
    frame = keys.meta.open(
      envelope.sealedSnapshot.subarray(0, NONCE_BYTES),
      envelope.sealedSnapshot.subarray(NONCE_BYTES),
      aad,
    );
  } catch (error) {
    if (error instanceof AuthenticationError) {
      throw new FormatError(`Cannot read snapshot ${id}: it does not authenticate`);
    }
    throw error;
  }
  const snapshot = decodeSnapshot(decompress(frame, { maxBytes: MAX_SNAPSHOT_JSON_BYTES }), id);
  const replaces = envelope.forgotten.some((b) => b !== 0) ? toHex(envelope.forgotten) : undefined;
  return { ...base, packs: envelope.packs, snapshot, ...(replaces ? { replaces } : {}) };
}

async function verifyEnvelope(
  envelope: Envelope,
  id: string,
  keys: Pick<SnapshotKeys, "publicKey" | "repositoryId">,
): Promise<void> {
  if (!equalBytes(envelope.repositoryId, keys.repositoryId)) {
    throw new FormatError(`Cannot read snapshot ${id}: it belongs to another repository`);
  }
  const signed = encodeEnvelopeSigned(envelope);
  if (
    !(await verifySignature(keys.publicKey, ENVELOPE_SIGNATURE_LABEL, signed, envelope.signature))
  ) {
    throw new FormatError(`Cannot read snapshot ${id}: its signature does not verify`);
  }
}

/**
 * Every snapshot (not tombstones), oldest first by sequence, then time. With
 * `onDamaged`, a damaged or forged envelope is reported there and skipped, so
 * the others stay usable; without, it throws.
 */
export async function listSnapshots(
  storage: Storage,
  keys: Pick<SnapshotKeys, "meta" | "publicKey" | "repositoryId">,
  options: { onDamaged?: (name: string, error: FormatError) => void } = {},
): Promise<StoredSnapshot[]> {
  const out: StoredSnapshot[] = [];
  for await (const info of storage.list(SNAPSHOTS_PREFIX)) {
    if (!isHexName(info.name, SNAPSHOTS_PREFIX)) continue; // foreign (FORMAT.md §4)
    let stored: StoredSnapshot | StoredTombstone;
    try {
      stored = await readSnapshot(storage, info.name, keys);
    } catch (error) {
      if (!(error instanceof FormatError) || !options.onDamaged) throw error;
      options.onDamaged(info.name, error);
      continue;
    }
    if ("snapshot" in stored) out.push(stored);
  }
  return out.sort((a, b) =>
    a.sequence === b.sequence
      ? a.snapshot.timeMs - b.snapshot.timeMs || a.id.localeCompare(b.id)
      : a.sequence < b.sequence
      ? -1
      : 1
  );
}

/** Finds a snapshot by id prefix (at least 4 hex digits) or "latest". */
export function findSnapshot(snapshots: StoredSnapshot[], ref: string): StoredSnapshot {
  if (ref.toLowerCase() === "latest") {
    const latest = snapshots.at(-1);
    if (!latest) throw new RangeError("Cannot find the latest snapshot: the repository has none");
    return latest;
  }
  if (!/^[0-9a-f]{4,64}$/i.test(ref)) {
    throw new RangeError(
      `Cannot find snapshot ${ref}: give "latest" or at least 4 hex digits of an id ` +
        "('cofre snapshots' lists them)",
    );
  }
  const matches = snapshots.filter((s) => s.id.startsWith(ref.toLowerCase()));
  if (matches.length === 0) {
    throw new RangeError(`Cannot find snapshot ${ref}: no such snapshot (see 'cofre snapshots')`);
  }
  if (matches.length > 1) {
    throw new RangeError(
      `Cannot find snapshot ${ref}: the prefix matches ${matches.length} snapshots`,
    );
  }
  return matches[0]!;
}
