/**
 * `check`: trust, but verify. Reads the repository's structure (config, key
 * slots, envelopes and their chain, index files, pack headers, trees) and,
 * with `readData`, every byte of every pack, and reports what is damaged:
 * the objects, the snapshots and, with the password, the files they affect.
 * Without keys (`--public`) it checks what anyone can: signatures, the chain,
 * and that every pack an envelope commits to exists with its size (and, with
 * `readData`, its SHA-256). Damage never throws: every decoder error becomes
 * one report line naming the object.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { toHex } from "./_bytes.ts";
import type { BlobKeys } from "./blob.ts";
import { BlobIndex, INDEX_PREFIX, openIndex } from "./blob_index.ts";
import { BlobStore } from "./blob_store.ts";
import { type Chain, type ChainLink, type ObjectProblem, readChain } from "./chain.ts";
import { FormatError, RepositoryNotFoundError } from "./errors.ts";
import {
  type Config,
  CONFIG_BYTES,
  CONFIG_SIGNATURE_LABEL,
  decodeConfig,
  decodeKeySlot,
  decodeTree,
  encodeConfigBody,
  type FileContent,
  type IndexEntry,
  KEY_SLOT_BYTES,
  SEALED_BLOB_OVERHEAD_BYTES,
  type TreeNode,
} from "./format.ts";
import { MAX_BLOB_BYTES } from "./compress.ts";
import { isKeySlotName, KEYS_PREFIX, verifySignature } from "./keys.ts";
import { readSettings } from "./settings.ts";
import { discard } from "./_buffer_pool.ts";
import { GarbageMeter } from "./_gc.ts";
import { isPackObject, packName, readPackHeader } from "./pack.ts";
import {
  readSnapshot,
  type SnapshotKeys,
  SNAPSHOTS_PREFIX,
  type StoredSnapshot,
} from "./snapshot.ts";
import { isHexName, type Storage } from "./storage/storage.ts";
import { type BlobCrypto, InlineBlobCrypto } from "./workers.ts";

/** Which packs `readData` reads. */
export type ReadDataSubset =
  /** Slice n of m (1-based): runs 1/m..m/m together read every pack exactly once. */
  | { slice: number; of: number }
  /** A random sample of about this share of the packs (a different one each run). */
  | { percent: number };

export interface CheckOptions {
  /** Download every (selected) pack, check its SHA-256 and open every blob in it. */
  readData?: boolean;
  /** Only these packs when reading data. */
  subset?: ReadDataSubset;
  /** Reported after each pack read. */
  onProgress?: (progress: Readonly<CheckProgress>) => void;
}

export interface CheckProgress {
  packsRead: number;
  packsToRead: number;
  bytesRead: number;
  bytesToRead: number;
}

/** The keys a full check needs; without them it checks only what is public. */
export type CheckKeys = BlobKeys & SnapshotKeys;

/** A snapshot the damage touches. */
export interface AffectedSnapshot {
  id: string;
  sequence: bigint;
  timeMs: number;
}

/** What `check` found. */
export interface CheckReport {
  /** Hex repository id; null when the config could not be read. */
  repositoryId: string | null;
  /** Hex public key from the config; null when the config could not be read. */
  publicKey: string | null;
  /** True when the check ran without keys. */
  public: boolean;
  /** Damage: objects missing, changed or inconsistent. Any entry means exit 1. */
  damage: ObjectProblem[];
  /** Not damage, but worth knowing: leftover packs, foreign objects. */
  warnings: ObjectProblem[];
  /** Information: forks in the chain. */
  notes: ObjectProblem[];
  affectedSnapshots: AffectedSnapshot[];
  /** With keys: the files (and folders) whose content is damaged or missing, per snapshot. */
  affectedFiles: { snapshot: string; path: string }[];
  /** The chain as read, for the rollback pin (FORMAT.md §12.4). */
  chain: Chain | null;
  counts: {
    keySlots: number;
    snapshots: number;
    tombstones: number;
    indexFiles: number;
    packs: number;
    blobs: number;
    trees: number;
    packsRead: number;
    bytesRead: number;
  };
}

/** Without keys no blob is opened; this stands in for the crypto stage. */
const NO_CRYPTO: BlobCrypto = {
  parallelism: 1,
  hash: () => Promise.reject(new TypeError("Cannot hash without keys")),
  seal: () => Promise.reject(new TypeError("Cannot seal without keys")),
  open: () => Promise.reject(new TypeError("Cannot open a blob without keys")),
  openMany: () => Promise.reject(new TypeError("Cannot open a blob without keys")),
  backup: () => Promise.reject(new TypeError("Cannot seal without keys")),
  captureDatabase: () => Promise.reject(new TypeError("Cannot back up without keys")),
  restore: () => Promise.reject(new TypeError("Cannot open a blob without keys")),
  close: () => Promise.resolve(),
};
const CONFIG_NAME = "config";
const DATA_PREFIX = "data/";
/** Packs are read in windows of about this size, so memory stays bounded whatever their size. */
const READ_WINDOW_BYTES = 8 * 1024 * 1024;
/** Small blobs are opened in batches of about this many sealed bytes. */
const OPEN_BATCH_BYTES = 256 * 1024;
const MAX_SEALED_BLOB_BYTES = MAX_BLOB_BYTES + SEALED_BLOB_OVERHEAD_BYTES;
/** An index file is a few MiB at most; a larger object under index/ is not read whole. */
const MAX_INDEX_BYTES = 1024 * 1024 * 1024;

/** True when pack `id` (hex) is in the subset; slices bucket packs by their first 4 bytes. */
export function inSubset(id: string, subset: ReadDataSubset | undefined): boolean {
  if (!subset) return true;
  if ("slice" in subset) {
    // The id is a SHA-256, so buckets are even; a malformed id falls in bucket 0.
    const bucket = /^[0-9a-f]{8}/.test(id) ? parseInt(id.slice(0, 8), 16) % subset.of : 0;
    return bucket === subset.slice - 1;
  }
  return Math.random() * 100 < subset.percent;
}

/** Parses `n/m` or `p%` (the CLI's `--read-data-subset`); RangeError when malformed. */
export function parseSubset(text: string): ReadDataSubset {
  const slice = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (slice) {
    const [n, m] = [Number(slice[1]), Number(slice[2])];
    if (n >= 1 && m >= 1 && n <= m && m <= 1_000_000) return { slice: n, of: m };
  }
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  if (percent) {
    const p = Number(percent[1]);
    if (p > 0 && p <= 100) return { percent: p };
  }
  throw new RangeError(
    `Cannot read the subset ${text}: expected n/m (1 ≤ n ≤ m), e.g. 2/5, or a percentage, e.g. 10%`,
  );
}

/**
 * Checks the repository in `storage`. With `keys` (from an open repository)
 * everything is checked; without, only what needs no password.
 */
export async function checkRepository(
  storage: Storage,
  options: CheckOptions & { keys?: CheckKeys; config?: Config; crypto?: BlobCrypto },
): Promise<CheckReport> {
  const run = new CheckRun(storage, options);
  return await run.run();
}

class CheckRun {
  readonly #storage: Storage;
  readonly #options: CheckOptions;
  readonly #keys: CheckKeys | undefined;
  readonly #crypto: BlobCrypto;
  readonly #garbage = new GarbageMeter();
  readonly report: CheckReport;
  /** Pack names as listed, with their sizes. */
  readonly #packs = new Map<string, number>();
  /**
   * Packs whose blobs cannot be relied on: missing, unreadable, of another
   * size than committed, or (read without keys) not matching their hash.
   */
  readonly #badPacks = new Set<string>();
  /** Blobs that do not open or verify (with readData). */
  readonly #badBlobs = new Set<string>();
  readonly #affected = new Map<string, AffectedSnapshot>();
  #config: Config | null;

  constructor(
    storage: Storage,
    options: CheckOptions & { keys?: CheckKeys; config?: Config; crypto?: BlobCrypto },
  ) {
    this.#storage = storage;
    this.#options = options;
    this.#keys = options.keys;
    this.#crypto = options.crypto ??
      (options.keys ? new InlineBlobCrypto(options.keys, { level: 3 }) : NO_CRYPTO);
    this.#config = options.config ?? null;
    this.report = {
      repositoryId: null,
      publicKey: null,
      public: options.keys === undefined,
      damage: [],
      warnings: [],
      notes: [],
      affectedSnapshots: [],
      affectedFiles: [],
      chain: null,
      counts: {
        keySlots: 0,
        snapshots: 0,
        tombstones: 0,
        indexFiles: 0,
        packs: 0,
        blobs: 0,
        trees: 0,
        packsRead: 0,
        bytesRead: 0,
      },
    };
  }

  #damage(object: string, message: string): void {
    this.report.damage.push({ object, message });
  }

  #affect(link: { id: string; sequence?: bigint; timeMs?: number }): void {
    if (this.#affected.has(link.id)) return;
    this.#affected.set(link.id, {
      id: link.id,
      sequence: link.sequence ?? -1n,
      timeMs: link.timeMs ?? 0,
    });
  }

  async run(): Promise<CheckReport> {
    const config = await this.#checkConfig();
    if (!config) return this.#finish();
    this.report.repositoryId = toHex(config.repositoryId);
    this.report.publicKey = toHex(config.publicKey);
    await this.#checkKeySlots();
    for await (const info of this.#storage.list(DATA_PREFIX)) this.#packs.set(info.name, info.size);

    const chain = await readChain(this.#storage, config);
    this.report.chain = chain;
    for (const d of chain.damaged) {
      this.#damage(d.object, d.message);
      const id = d.object.slice(SNAPSHOTS_PREFIX.length);
      if (/^[0-9a-f]{64}$/.test(id)) this.#affect({ ...d, id });
    }
    for (const b of chain.breaks) this.#damage(b.object, b.message);
    this.report.notes.push(...chain.forks);
    const live = chain.links.filter((l) => l.kind === "snapshot");
    this.report.counts.snapshots = live.length;
    this.report.counts.tombstones = chain.links.length - live.length;
    this.#checkCommittedPacks(live);

    if (!this.#keys) {
      if (this.#options.readData) await this.#readPublicData(live);
      return this.#finish();
    }
    const snapshots = await this.#openSnapshots(live);
    // FORMAT.md §13: a damaged settings record is ignored by every command; report it here.
    for (const d of (await readSettings(this.#storage, this.#keys)).damaged) {
      this.#damage(d.name, d.reason);
    }
    const index = await this.#checkIndex();
    await this.#checkPackHeaders(index);
    if (this.#options.readData) await this.#readData(index.byPack);
    await this.#checkTrees(snapshots, index.blobs);
    return this.#finish();
  }

  #finish(): CheckReport {
    this.report.affectedSnapshots = [...this.#affected.values()].sort((a, b) =>
      a.sequence === b.sequence ? a.id.localeCompare(b.id) : a.sequence < b.sequence ? -1 : 1
    );
    return this.report;
  }

  /** FORMAT.md §6: the config decodes and its signature verifies under its public key. */
  async #checkConfig(): Promise<Config | null> {
    if (this.#config) return this.#config;
    if (!(await this.#storage.stat(CONFIG_NAME))) {
      throw new RepositoryNotFoundError(
        `Cannot check the repository at ${this.#storage.location}: there is no repository there`,
      );
    }
    let config: Config;
    try {
      const size = (await this.#storage.stat(CONFIG_NAME))?.size ?? 0;
      if (size !== CONFIG_BYTES) throw new FormatError(`${size} bytes, expected ${CONFIG_BYTES}`);
      config = decodeConfig(await this.#storage.get(CONFIG_NAME));
    } catch (error) {
      this.#damage(CONFIG_NAME, (error as Error).message);
      return null;
    }
    const signed = await verifySignature(
      config.publicKey,
      CONFIG_SIGNATURE_LABEL,
      encodeConfigBody(config),
      config.signature,
    );
    if (!signed) {
      this.#damage(CONFIG_NAME, "its signature does not verify (changed or damaged)");
      return null;
    }
    return config;
  }

  /** FORMAT.md §5.3: every slot decodes and is named by its slot id. */
  async #checkKeySlots(): Promise<void> {
    for await (const info of this.#storage.list(KEYS_PREFIX)) {
      if (!isKeySlotName(info.name)) continue; // foreign (FORMAT.md §4)
      this.report.counts.keySlots++;
      try {
        if (info.size !== KEY_SLOT_BYTES) {
          throw new FormatError(`${info.size} bytes, expected ${KEY_SLOT_BYTES}`);
        }
        const slot = decodeKeySlot(await this.#storage.get(info.name));
        if (info.name !== KEYS_PREFIX + toHex(slot.slotId)) {
          this.#damage(info.name, "its slot id does not match its name");
        }
      } catch (error) {
        this.#damage(info.name, (error as Error).message);
      }
    }
    if (this.report.counts.keySlots === 0) this.#damage(KEYS_PREFIX, "there is no key slot");
  }

  /** FORMAT.md §12.1: every pack an envelope commits to exists with the committed size. */
  #checkCommittedPacks(live: ChainLink[]): void {
    const reported = new Set<string>();
    for (const link of live) {
      for (const pack of link.packs) {
        const name = packName(pack.id);
        const size = this.#packs.get(name);
        if (size === pack.size) continue;
        this.#badPacks.add(toHex(pack.id));
        this.#affect(link);
        if (reported.has(name)) continue;
        reported.add(name);
        const needing = live.filter((l) => l.packs.some((p) => toHex(p.id) === toHex(pack.id)));
        const who = needing.map((l) => l.id.slice(0, 8)).join(", ");
        this.#damage(
          name,
          size === undefined
            ? `missing; snapshot(s) ${who} need it`
            : `${size} bytes, but snapshot(s) ${who} committed to ${pack.size}`,
        );
      }
    }
  }

  /** Opens each verified envelope's sealed snapshot (damage when it does not open). */
  async #openSnapshots(live: ChainLink[]): Promise<StoredSnapshot[]> {
    const out: StoredSnapshot[] = [];
    for (const link of live) {
      try {
        const stored = await readSnapshot(
          this.#storage,
          SNAPSHOTS_PREFIX + link.id,
          this.#keys!,
        );
        if ("snapshot" in stored) out.push(stored);
      } catch (error) {
        this.#damage(SNAPSHOTS_PREFIX + link.id, (error as Error).message);
        this.#affect(link);
      }
    }
    return out;
  }

  /** FORMAT.md §10: every index file opens and decodes. */
  async #checkIndex(): Promise<{ blobs: BlobIndex; byPack: Map<string, IndexEntry[]> }> {
    const blobs = new BlobIndex();
    const byPack = new Map<string, IndexEntry[]>();
    for await (const info of this.#storage.list(INDEX_PREFIX)) {
      if (!isHexName(info.name, INDEX_PREFIX)) continue; // foreign (FORMAT.md §4)
      this.report.counts.indexFiles++;
      let entries: IndexEntry[];
      try {
        if (info.size > MAX_INDEX_BYTES) throw new FormatError(`${info.size} bytes is too large`);
        const bytes = await this.#storage.get(info.name);
        const digest = createHash("sha256").update(bytes).digest("hex");
        if (info.name !== INDEX_PREFIX + digest) {
          throw new FormatError("its bytes do not match its name (SHA-256)");
        }
        entries = openIndex(info.name, bytes, this.#keys!.meta);
      } catch (error) {
        this.#damage(info.name, (error as Error).message);
        continue;
      }
      for (const entry of entries) {
        blobs.add(entry);
        const pack = toHex(entry.pack);
        let list = byPack.get(pack);
        if (!list) byPack.set(pack, list = []);
        list.push(entry);
      }
    }
    this.report.counts.blobs = blobs.size;
    return { blobs, byPack };
  }

  /**
   * FORMAT.md §9-10: every pack an index names exists and its header (read
   * with two ranged GETs) lists the blobs where the index says they are.
   * Packs in no index are left by interrupted backups: a warning.
   */
  async #checkPackHeaders(index: { byPack: Map<string, IndexEntry[]> }): Promise<void> {
    for (const [pack, entries] of index.byPack) {
      const name = packName(pack);
      const size = this.#packs.get(name);
      if (size === undefined) {
        this.#badPacks.add(pack);
        if (!this.report.damage.some((d) => d.object === name)) {
          this.#damage(name, `missing; the index lists ${entries.length} blob(s) in it`);
        }
        continue;
      }
      let header: IndexEntry[];
      try {
        header = await readPackHeader(this.#storage, pack, size, this.#keys!.meta);
      } catch (error) {
        this.#damage(name, (error as Error).message);
        continue;
      }
      const byId = new Map(header.map((e) => [toHex(e.id), e]));
      let mismatches = 0;
      for (const entry of entries) {
        const h = byId.get(toHex(entry.id));
        if (
          !h || h.type !== entry.type || h.offset !== entry.offset ||
          h.sealedLength !== entry.sealedLength || h.plaintextLength !== entry.plaintextLength
        ) mismatches++;
      }
      if (mismatches > 0) {
        this.#damage(
          name,
          `its header disagrees with the index about ${mismatches} of ${entries.length} blob(s)`,
        );
      }
    }
    for (const [name] of this.#packs) {
      const id = name.slice(name.lastIndexOf("/") + 1);
      if (!isPackObject(name, id)) {
        this.report.warnings.push({ object: name, message: "not a pack name (foreign object)" });
      } else if (!index.byPack.has(id)) {
        this.report.warnings.push({
          object: name,
          message:
            "in no index file (left by an interrupted backup, or its index file was lost): " +
            "prune indexes it again if a snapshot needs it, and removes it if none does",
        });
      }
    }
    this.report.counts.packs = this.#packs.size;
  }

  #selected(ids: Iterable<string>): string[] {
    return [...ids].filter((id) => inSubset(id, this.#options.subset)).sort();
  }

  #progress(done: number, total: number, bytesTotal: number): void {
    this.#options.onProgress?.({
      packsRead: done,
      packsToRead: total,
      bytesRead: this.report.counts.bytesRead,
      bytesToRead: bytesTotal,
    });
  }

  /** Without keys: download the committed packs and check their SHA-256 names. */
  async #readPublicData(live: ChainLink[]): Promise<void> {
    const committed = new Set(live.flatMap((l) => l.packs.map((p) => toHex(p.id))));
    const ids = this.#selected([...committed].filter((id) => !this.#badPacks.has(id)));
    const total = ids.reduce((n, id) => n + this.#packs.get(packName(id))!, 0);
    for (const [i, id] of ids.entries()) {
      await this.#readPack(id, []);
      this.#progress(i + 1, ids.length, total);
    }
    for (const link of live) {
      if (link.packs.some((p) => this.#badPacks.has(toHex(p.id)))) this.#affect(link);
    }
  }

  /** With keys: download every (selected) pack, check its name and open every blob. */
  async #readData(byPack: Map<string, IndexEntry[]>): Promise<void> {
    const ids = this.#selected(
      [...this.#packs.keys()]
        .map((name) => name.slice(name.lastIndexOf("/") + 1))
        .filter((id) => /^[0-9a-f]{64}$/.test(id) && this.#packs.has(packName(id))),
    );
    const total = ids.reduce((n, id) => n + this.#packs.get(packName(id))!, 0);
    for (const [i, id] of ids.entries()) {
      const size = this.#packs.get(packName(id))!;
      // The header says where each blob is; when it is unreadable, the index still may.
      let entries: IndexEntry[];
      try {
        entries = await readPackHeader(this.#storage, id, size, this.#keys!.meta);
      } catch {
        entries = byPack.get(id) ?? [];
      }
      await this.#readPack(id, entries);
      this.#progress(i + 1, ids.length, total);
    }
  }

  /**
   * Reads pack `id` front to back in bounded windows, hashing every byte and
   * opening each blob of `entries` (none without keys). A blob that crosses
   * a window's end stretches the window to its end.
   */
  async #readPack(id: string, entries: IndexEntry[]): Promise<void> {
    const name = packName(id);
    const size = this.#packs.get(name)!;
    const hash = createHash("sha256");
    let badBlobs = 0;
    const blobs = entries
      .filter((e) => {
        // An entry from a damaged index may claim any range: never read more than a blob can be.
        if (e.offset + e.sealedLength <= size && e.sealedLength <= MAX_SEALED_BLOB_BYTES) {
          return true;
        }
        this.#badBlobs.add(toHex(e.id));
        badBlobs++;
        return false;
      })
      .sort((a, b) => a.offset - b.offset);
    let next = 0;
    let opened: Promise<unknown> = Promise.resolve();
    try {
      for (let at = 0; at < size;) {
        let end = Math.min(size, at + READ_WINDOW_BYTES);
        let last = next;
        while (last < blobs.length && blobs[last]!.offset < end) {
          end = Math.max(end, blobs[last]!.offset + blobs[last]!.sealedLength);
          last++;
        }
        const bytes = await this.#storage.get(name, { offset: at, length: end - at });
        // The previous window's blobs opened while this one was read.
        await opened;
        hash.update(bytes);
        this.report.counts.bytesRead += bytes.length;
        const opening: Promise<void>[] = [];
        const sealedOf = (entry: IndexEntry) =>
          bytes.subarray(entry.offset - at, entry.offset - at + entry.sealedLength);
        const openOne = (entry: IndexEntry) =>
          this.#crypto.open(entry.type, entry.id, sealedOf(entry), entry.plaintextLength).then(
            (plaintext) => discard([plaintext]), // verified, and ours alone (src/workers.ts)
            () => {
              // Whatever the decoder says (authentication, frame, length, id), it is damaged.
              this.#badBlobs.add(toHex(entry.id));
              badBlobs++;
            },
          );
        // Small blobs (database pages) open in batches: one message each, not one per blob.
        let batch: IndexEntry[] = [];
        let batchBytes = 0;
        const flush = () => {
          const entries = batch;
          batch = [];
          batchBytes = 0;
          if (entries.length === 0) return;
          if (entries.length === 1) return void opening.push(openOne(entries[0]!));
          opening.push(
            this.#crypto.openMany(
              entries[0]!.type,
              entries.map((e) => e.id),
              entries.map(sealedOf),
              entries.map((e) => e.plaintextLength),
            ).then(
              discard,
              // A batch fails as a whole: open its blobs one by one to name the damaged ones.
              () => Promise.all(entries.map(openOne)).then(() => {}),
            ),
          );
        };
        for (; next < last; next++) {
          const entry = blobs[next]!;
          if (entry.sealedLength > OPEN_BATCH_BYTES) {
            opening.push(openOne(entry));
            continue;
          }
          if (batch.length > 0 && batch[0]!.type !== entry.type) flush();
          batch.push(entry);
          batchBytes += entry.sealedLength;
          if (batchBytes >= OPEN_BATCH_BYTES) flush();
        }
        flush();
        // A window's blobs open in parallel (on the worker pool when there is
        // one). Once they are done, its buffer (a new one: Storage.get) is free.
        opened = Promise.all(opening).finally(() => discard([bytes]));
        at = end;
      }
      await opened;
    } catch (error) {
      this.#badPacks.add(id);
      this.#damage(name, `cannot be read: ${(error as Error).message}`);
      return;
    }
    this.report.counts.packsRead++;
    this.#garbage.add(size); // a backstop, when RSS calls for it (src/_gc.ts)
    if (hash.digest("hex") !== id) {
      // With keys, each blob was verified on its own: only those that failed are lost.
      if (!this.#keys) this.#badPacks.add(id);
      this.#damage(name, "its bytes do not match its name (SHA-256)");
    }
    if (badBlobs > 0) {
      this.#damage(name, `${badBlobs} of ${entries.length} blob(s) do not open or verify`);
    }
  }

  /**
   * Walks every snapshot's trees: each tree decodes, and each blob it names
   * is in the index and in no damaged pack. Maps damage to paths; a tree is
   * walked once, however many snapshots share it.
   */
  async #checkTrees(snapshots: StoredSnapshot[], index: BlobIndex): Promise<void> {
    const store = new BlobStore(
      this.#storage,
      index,
      new InlineBlobCrypto(this.#keys!, { level: 3 }),
    );
    const memo = new Map<string, string[]>();
    const reportedBlobs = new Set<string>();
    const unindexed: string[] = [];
    const blobProblem = (type: "data" | "tree", id: string): string | null => {
      const location = index.get(id);
      let problem: string | null = null;
      if (!location) problem = "is not in the index";
      else if (location.type !== type) problem = `is a ${location.type} blob in the index`;
      else if (this.#badBlobs.has(id)) problem = "does not open or verify";
      else if (this.#badPacks.has(location.pack)) {
        problem = `is in pack ${location.pack.slice(0, 16)}, which is damaged or missing`;
      }
      if (problem && !reportedBlobs.has(id)) {
        reportedBlobs.add(id);
        // Blobs in a damaged pack are covered by the pack's own line; blobs in no index by one line.
        if (!location) unindexed.push(`${type} ${id.slice(0, 16)}`);
        else if (location.type !== type) this.#damage(`${type} blob ${id}`, problem);
      }
      return problem;
    };
    // FORMAT.md §11.1: a file's content lists, each read once however many snapshots share it.
    const listDamaged = new Map<string, boolean>();
    const fileDamaged = async (node: FileContent): Promise<boolean> => {
      if (!node.contentLists) return node.content.some((id) => blobProblem("data", id));
      let damaged = false;
      for (const list of node.contentLists) {
        let bad = listDamaged.get(list);
        if (bad === undefined) {
          bad = blobProblem("tree", list) !== null;
          if (!bad) {
            try {
              const ids = await store.readContentList(list);
              bad = ids.some((id) => blobProblem("data", id));
            } catch (error) {
              this.#damage(`content list ${list}`, (error as Error).message);
              this.#badBlobs.add(list);
              bad = true;
            }
          }
          listDamaged.set(list, bad);
        }
        damaged ||= bad;
      }
      return damaged;
    };
    const walk = async (treeId: string): Promise<string[]> => {
      const known = memo.get(treeId);
      if (known) return known;
      const damaged: string[] = [];
      memo.set(treeId, damaged);
      if (blobProblem("tree", treeId)) {
        damaged.push("");
        return damaged;
      }
      let nodes: TreeNode[];
      try {
        nodes = decodeTree(await store.read("tree", treeId));
      } catch (error) {
        this.#damage(`tree blob ${treeId}`, (error as Error).message);
        this.#badBlobs.add(treeId);
        damaged.push("");
        return damaged;
      }
      this.report.counts.trees++;
      for (const node of nodes) {
        if (node.type === "file") {
          if (await fileDamaged(node)) damaged.push(node.name);
        } else if (node.type === "dir") {
          for (const path of await walk(node.subtree)) {
            damaged.push(path === "" ? `${node.name}/` : `${node.name}/${path}`);
          }
        }
      }
      return damaged;
    };
    for (const s of snapshots) {
      const paths = await walk(s.snapshot.tree);
      if (paths.length === 0) continue;
      this.#affect({ id: s.id, sequence: s.sequence, timeMs: s.snapshot.timeMs });
      for (const path of paths) {
        this.report.affectedFiles.push({ snapshot: s.id, path: path === "" ? "/" : path });
      }
    }
    if (unindexed.length > 0) {
      this.#damage(
        INDEX_PREFIX,
        `${unindexed.length} blob(s) the snapshots need are in no index (e.g. ${
          unindexed.slice(0, 3).join(", ")
        })`,
      );
    }
    // Envelope times are clear text; the snapshot's own time is the one people know.
    for (const s of snapshots) {
      const a = this.#affected.get(s.id);
      if (a) a.timeMs = s.snapshot.timeMs;
    }
  }
}
