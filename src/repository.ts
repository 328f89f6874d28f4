/**
 * The repository: opening it with a password or the recovery key, creating
 * it, and managing its key slots (FORMAT.md §4-6). Later stages (backup,
 * restore, check) start from an open `Repository`.
 *
 * @module
 */

import { resolve } from "node:path";
import { toHex } from "./_bytes.ts";
import { normalizeAccount } from "./account.ts";
import { backup, type BackupOptions, type BackupResult, readTree } from "./backup.ts";
import { type BlobKeys, blobKeysFrom } from "./blob.ts";
import {
  type BlobIndex,
  INDEX_PREFIX,
  indexUnindexedPacks,
  loadIndex,
  openIndex,
} from "./blob_index.ts";
import { BlobStore } from "./blob_store.ts";
import { type Change, diffTrees } from "./diff.ts";
import { isPackObject, packName, readPackHeader } from "./pack.ts";
import { loadCompressor } from "./compress.ts";
import { collectGarbage, loadGarbageCollector } from "./_gc.ts";
import { restore, type RestoreOptions, type RestoreProgress } from "./restore.ts";
import {
  listLocks,
  type LockInfo,
  type LockListing,
  type LockOptions,
  removeLocks,
  RepositoryLock,
} from "./lock.ts";
import { prune, type PruneOptions, type PruneResult, readPlans } from "./prune.ts";
import {
  AdaptiveBlobCrypto,
  type BlobCrypto,
  InlineBlobCrypto,
  WorkerBlobCrypto,
} from "./workers.ts";
import {
  findSnapshot,
  listSnapshots,
  type SnapshotKeys,
  SNAPSHOTS_PREFIX,
  type StoredSnapshot,
  writeTombstone,
} from "./snapshot.ts";
import { type CheckOptions, type CheckReport, checkRepository } from "./check.ts";
import { readChain } from "./chain.ts";
import { type ChunkerOptions, DEFAULT_CHUNKER_OPTIONS, validateChunkerOptions } from "./chunker.ts";
import {
  AuthenticationError,
  FormatError,
  RepositoryDamagedError,
  RepositoryNotFoundError,
  WrongKeyError,
} from "./errors.ts";
import {
  type Argon2idParams,
  type Config,
  CONFIG_SIGNATURE_LABEL,
  decodeConfig,
  decodeKeySlot,
  encodeConfig,
  encodeConfigBody,
  encodeKeySlot,
  type FileContent,
  type IndexEntry,
  type KeySlot,
  REPOSITORY_ID_BYTES,
  type TreeNode,
} from "./format.ts";
import {
  createKeySlot,
  deriveSubkeys,
  formatRecoveryKey,
  generateMasterKey,
  generateRecoveryKey,
  isKeySlotName,
  KEYS_PREFIX,
  openKeySlot,
  parseRecoveryKey,
  sign,
  signingKeyFromSeed,
  type SlotSecret,
  type Subkeys,
  verifySignature,
  wipeSubkeys,
} from "./keys.ts";
import { normalizePassword } from "./password.ts";
import { type DueStatus, dueStatus } from "./schedule.ts";
import { readSettings, type Settings, type StoredSettings, writeSettings } from "./settings.ts";
import { isHexName, type Storage } from "./storage/storage.ts";

const CONFIG_NAME = "config";
/** FORMAT.md §6: the default zstd level. */
export const DEFAULT_ZSTD_LEVEL = 3;

/** What opens a repository: a password or the recovery key, and the account if it is bound. */
export interface Credentials {
  password?: string;
  /** 64 hex digits (spaces and dashes allowed), or the 32 bytes. */
  recoveryKey?: string | Uint8Array;
  /** The phone number the repository is bound to, in any common notation. */
  account?: string;
}

export interface InitOptions {
  /** The first password (at least 8 characters). Optional when `recoveryKey` is true. */
  password?: string;
  /** Also create a recovery slot; its key is returned once. */
  recoveryKey?: boolean;
  /** Bind the repository to this phone number (FORMAT.md §5.4). */
  account?: string;
  /** Argon2id parameters for password slots (default 64 MiB, t = 3, p = 4). */
  argon2id?: Argon2idParams;
  /** Chunk size limits (default 256 KiB / 1 MiB / 4 MiB, normalisation 1). */
  chunker?: Omit<ChunkerOptions, "seed">;
  /** zstd level 1..19 (default 3). */
  zstdLevel?: number;
}

/** What `cofre stats` reports. */
export interface RepositoryStats {
  id: string;
  location: string;
  snapshots: number;
  newestSequence: bigint | null;
  dataBlobs: number;
  treeBlobs: number;
  /** Plaintext bytes of every distinct blob: what dedup leaves to store. */
  plaintextBytes: number;
  /** Bytes of those blobs after compression and sealing. */
  sealedBytes: number;
  packs: { objects: number; bytes: number };
  indexFiles: { objects: number; bytes: number };
  snapshotObjects: { objects: number; bytes: number };
  /** Bytes the newest snapshot restores to. */
  restoreSizeOfLatest: number;
}

/** A key slot as `key list` shows it. */
export interface KeySlotInfo {
  id: string;
  kind: "password" | "recovery";
  createdMs: number;
  argon2id: Argon2idParams | null;
  /** True for the slot this session opened the repository with. */
  current: boolean;
}

/** An open repository. Call `close()` to zero its keys. */
export class Repository {
  readonly storage: Storage;
  readonly config: Config;
  readonly #master: Uint8Array;
  readonly #subkeys: Subkeys;
  readonly #signingKey: CryptoKey;
  readonly #account: string;
  #openedSlotId: string;
  #closed = false;
  #session: Session | null = null;
  /**
   * Hears about damage that does not stop the work (a damaged envelope or
   * index file, skipped or worked around); the CLI prints it as a warning.
   */
  onWarning: (message: string) => void = () => {};

  private constructor(
    storage: Storage,
    config: Config,
    master: Uint8Array,
    subkeys: Subkeys,
    signingKey: CryptoKey,
    account: string,
    openedSlotId: string,
  ) {
    this.storage = storage;
    this.config = config;
    this.#master = master;
    this.#subkeys = subkeys;
    this.#signingKey = signingKey;
    this.#account = account;
    this.#openedSlotId = openedSlotId;
  }

  /** The repository id, in hex. */
  get id(): string {
    return toHex(this.config.repositoryId);
  }

  /**
   * Creates a repository in an empty location. Returns it open, and the
   * recovery key (formatted for a person) when one was asked for.
   */
  static async init(
    storage: Storage,
    options: InitOptions,
  ): Promise<{ repository: Repository; recoveryKey: string | null }> {
    if (options.password === undefined && !options.recoveryKey) {
      throw new RangeError(
        "Cannot create the repository: it needs a password, a recovery key, or both",
      );
    }
    const password = options.password === undefined
      ? undefined
      : normalizePassword(options.password);
    const account = options.account === undefined ? "" : normalizeAccount(options.account);
    const chunker = validateChunkerOptions({
      ...DEFAULT_CHUNKER_OPTIONS,
      ...options.chunker,
      seed: 0n,
    });
    const zstdLevel = options.zstdLevel ?? DEFAULT_ZSTD_LEVEL;
    if (!Number.isInteger(zstdLevel) || zstdLevel < 1 || zstdLevel > 19) {
      throw new RangeError(`Cannot create the repository: zstd level ${zstdLevel}, expected 1..19`);
    }
    if (await storage.stat(CONFIG_NAME)) {
      throw new Error(`Cannot create a repository at ${storage.location}: there is one already`);
    }
    if (await holdsRepositoryData(storage)) {
      throw new Error(
        `Cannot create a repository at ${storage.location}: it holds a repository's packs, ` +
          "index or snapshots without its config (put the config back from a copy, or choose " +
          "an empty place)",
      );
    }
    // Slots left by an init that was interrupted before it wrote the config (nothing else is there).
    for await (const stale of storage.list(KEYS_PREFIX)) {
      if (isKeySlotName(stale.name)) await storage.delete(stale.name);
    }

    const master = generateMasterKey();
    const repositoryId = crypto.getRandomValues(new Uint8Array(REPOSITORY_ID_BYTES));
    const subkeys = await deriveSubkeys(master, repositoryId);
    const { privateKey, publicKey } = await signingKeyFromSeed(subkeys.signSeed);
    const body = {
      repositoryId,
      createdMs: Date.now(),
      chunker: {
        minSize: chunker.minSize,
        avgSize: chunker.avgSize,
        maxSize: chunker.maxSize,
        normalization: chunker.normalization,
      },
      zstdLevel,
      publicKey,
    };
    const config: Config = {
      ...body,
      signature: await sign(privateKey, CONFIG_SIGNATURE_LABEL, encodeConfigBody(body)),
    };

    let openedSlotId = "";
    if (password !== undefined) {
      const slot = await createKeySlot(master, repositoryId, {
        kind: "password",
        password,
        account,
      }, {
        argon2id: options.argon2id,
      });
      await storage.put(slotName(slot), encodeKeySlot(slot));
      openedSlotId = toHex(slot.slotId);
    }
    let recoveryKey: string | null = null;
    if (options.recoveryKey) {
      const key = generateRecoveryKey();
      const slot = await createKeySlot(master, repositoryId, {
        kind: "recovery",
        recoveryKey: key,
        account,
      });
      await storage.put(slotName(slot), encodeKeySlot(slot));
      recoveryKey = formatRecoveryKey(key);
      key.fill(0);
      openedSlotId ||= toHex(slot.slotId);
    }
    // The config goes last: until it exists, the location holds no repository.
    await storage.put(CONFIG_NAME, encodeConfig(config));
    const repository = new Repository(
      storage,
      config,
      master,
      subkeys,
      privateKey,
      account,
      openedSlotId,
    );
    return { repository, recoveryKey };
  }

  /**
   * Opens a repository. Throws `RepositoryNotFoundError` when there is none,
   * `WrongKeyError` when no slot opens with the credentials, `FormatError`
   * or `UnsupportedVersionError` for a damaged or newer repository.
   */
  static async open(storage: Storage, credentials: Credentials): Promise<Repository> {
    const secret = toSlotSecret(credentials);
    let configBytes: Uint8Array;
    if (!(await storage.stat(CONFIG_NAME))) {
      // Data without a config: a damaged repository, not an empty place (key slots
      // alone are an init that stopped before its config: init again).
      if (await holdsRepositoryData(storage)) {
        throw new RepositoryDamagedError(
          `Cannot open the repository at ${storage.location}: its config is missing, though it ` +
            "holds packs, index or snapshots (put the config back from a copy of the repository)",
        );
      }
      throw new RepositoryNotFoundError(
        `Cannot open the repository at ${storage.location}: there is no repository there ` +
          "(check the path, or create one with 'cofre init')",
      );
    }
    try {
      configBytes = await storage.get(CONFIG_NAME);
    } catch (error) {
      throw new Error(
        `Cannot open the repository at ${storage.location}: ${(error as Error).message}`,
      );
    }
    const config = decodeConfig(configBytes);
    const slots = await readKeySlots(storage);
    if (slots.length === 0) {
      throw new FormatError(
        `Cannot open the repository at ${storage.location}: it has no readable key slot`,
      );
    }
    let master: Uint8Array | null = null;
    let openedSlotId = "";
    for (const slot of slots) {
      if (slot.kind !== secret.kind) continue;
      try {
        master = await openKeySlot(slot, config.repositoryId, secret);
        openedSlotId = toHex(slot.slotId);
        break;
      } catch (error) {
        if (!(error instanceof AuthenticationError)) throw error;
      }
    }
    wipeSecret(secret);
    if (!master) throw new WrongKeyError();

    const subkeys = await deriveSubkeys(master, config.repositoryId);
    const { privateKey, publicKey } = await signingKeyFromSeed(subkeys.signSeed);
    // FORMAT.md §6: the config must carry this master key's public key and verify under it.
    const signed = await verifySignature(
      config.publicKey,
      CONFIG_SIGNATURE_LABEL,
      encodeConfigBody(config),
      config.signature,
    );
    if (!signed || toHex(publicKey) !== toHex(config.publicKey)) {
      master.fill(0);
      wipeSubkeys(subkeys);
      throw new FormatError(
        `Cannot open the repository at ${storage.location}: the config's signature does not verify ` +
          "(it was changed or damaged)",
      );
    }
    return new Repository(
      storage,
      config,
      master,
      subkeys,
      privateKey,
      secret.account ?? "",
      openedSlotId,
    );
  }

  /** Every key slot, readable or not reported; the current one marked. */
  async keySlots(): Promise<KeySlotInfo[]> {
    this.#assertOpen();
    const slots = await readKeySlots(this.storage);
    return slots
      .map((slot) => ({
        id: toHex(slot.slotId),
        kind: slot.kind,
        createdMs: slot.createdMs,
        argon2id: slot.argon2id,
        current: toHex(slot.slotId) === this.#openedSlotId,
      }))
      .sort((a, b) => a.createdMs - b.createdMs || a.id.localeCompare(b.id));
  }

  /** Adds a password slot; returns its id. Never touches data objects. */
  async addPassword(
    password: string,
    options: { argon2id?: Argon2idParams } = {},
  ): Promise<string> {
    this.#assertOpen();
    const secret: SlotSecret = {
      kind: "password",
      password: normalizePassword(password),
      account: this.#account,
    };
    const slot = await createKeySlot(this.#master, this.config.repositoryId, secret, options);
    await this.storage.put(slotName(slot), encodeKeySlot(slot));
    return toHex(slot.slotId);
  }

  /**
   * Replaces the password slot this session opened with one for `password`
   * (the new slot is written before the old one is deleted). Returns the new
   * slot's id.
   */
  async changePassword(
    password: string,
    options: { argon2id?: Argon2idParams } = {},
  ): Promise<string> {
    this.#assertOpen();
    const current = (await this.keySlots()).find((slot) => slot.current);
    if (!current || current.kind !== "password") {
      throw new RangeError(
        "Cannot change the password: the repository was opened with the recovery key; " +
          "add a password with 'cofre key add' instead",
      );
    }
    const id = await this.addPassword(password, options);
    await this.storage.delete(`${KEYS_PREFIX}${current.id}`);
    this.#openedSlotId = id;
    return id;
  }

  /** Creates the recovery slot, or replaces the existing one; returns the new key, formatted. */
  async setRecoveryKey(): Promise<string> {
    this.#assertOpen();
    const old = (await this.keySlots()).filter((slot) => slot.kind === "recovery");
    const key = generateRecoveryKey();
    try {
      const secret: SlotSecret = { kind: "recovery", recoveryKey: key, account: this.#account };
      const slot = await createKeySlot(this.#master, this.config.repositoryId, secret);
      await this.storage.put(slotName(slot), encodeKeySlot(slot));
      for (const previous of old) await this.storage.delete(`${KEYS_PREFIX}${previous.id}`);
      if (old.some((slot) => slot.current)) this.#openedSlotId = toHex(slot.slotId);
      return formatRecoveryKey(key);
    } finally {
      key.fill(0);
    }
  }

  /** Removes a key slot; refuses the last one and the one in use. */
  async removeKeySlot(id: string): Promise<void> {
    this.#assertOpen();
    const slots = await this.keySlots();
    const matches = slots.filter((slot) => slot.id.startsWith(id.toLowerCase()));
    if (id.length < 4 || matches.length === 0) {
      throw new RangeError(`Cannot remove key slot ${id}: no such slot (see 'cofre key list')`);
    }
    if (matches.length > 1) {
      throw new RangeError(`Cannot remove key slot ${id}: the prefix is ambiguous`);
    }
    const slot = matches[0]!;
    if (slots.length === 1) {
      throw new RangeError(
        "Cannot remove the last key slot: the repository could never be opened again",
      );
    }
    if (slot.current) {
      throw new RangeError(
        `Cannot remove key slot ${slot.id}: it is the one you opened the repository with; ` +
          "open it with another password or the recovery key to remove this one",
      );
    }
    await this.storage.delete(`${KEYS_PREFIX}${slot.id}`);
  }

  #keysMade: Promise<BlobKeys & SnapshotKeys> | null = null;

  /**
   * The blob and snapshot keys, without the index: listing snapshots,
   * settings or locks needs no index (loading one of 37,000 blobs took
   * 0.1 s of `cofre snapshots`).
   */
  #keys(): Promise<BlobKeys & SnapshotKeys> {
    this.#assertOpen();
    return this.#blobKeys();
  }

  /** The blob and snapshot keys; built once. */
  #blobKeys(): Promise<BlobKeys & SnapshotKeys> {
    this.#keysMade ??= this.#makeKeys();
    return this.#keysMade;
  }

  async #makeKeys(): Promise<BlobKeys & SnapshotKeys> {
    await Promise.all([loadCompressor(), loadGarbageCollector()]);
    // Opening the key slot left Argon2id's 64 MiB of wasm memory (src/kdf.ts)
    // behind; only a collection returns it, and the pipeline may run long
    // without one (src/_buffer_pool.ts).
    collectGarbage();
    return {
      ...await blobKeysFrom(this.#subkeys),
      signingKey: this.#signingKey,
      publicKey: this.config.publicKey,
      repositoryId: this.config.repositoryId,
    };
  }

  /**
   * What a BlobStore does when a blob has no index entry: read the headers
   * of the packs no index names (an index file lost or damaged), once, and
   * say so.
   */
  #recoverer(index: BlobIndex, keys: Pick<BlobKeys, "meta">): () => Promise<number> {
    let once: Promise<number> | undefined;
    return () =>
      once ??= indexUnindexedPacks(this.storage, index, keys.meta).then((packs) => {
        if (packs > 0) {
          this.onWarning(
            `${packs} pack(s) that no index file names were read from their own headers ` +
              "(an index file is missing, or a backup was interrupted); run 'cofre check'",
          );
        }
        return packs;
      });
  }

  /** The keys and index that backup and restore work with; built once. */
  async #open(): Promise<Session> {
    this.#assertOpen();
    if (this.#session) return this.#session;
    const keys = await this.#blobKeys();
    // FORMAT.md §14.2: backups never deduplicate against packs a deletion plan names.
    const plans = await readPlans(this.storage, keys.meta);
    const index = await loadIndex(this.storage, keys.meta, {
      withdrawn: plans.flatMap((plan) => plan.packs),
      onWarning: this.onWarning,
    });
    const inline = new InlineBlobCrypto(keys, {
      level: this.config.zstdLevel,
      chunker: this.#chunker(),
    });
    const recover = this.#recoverer(index, keys);
    this.#session = {
      keys,
      index,
      inline,
      store: new BlobStore(this.storage, index, inline, { recover }),
      recover,
      pools: [],
    };
    return this.#session;
  }

  /**
   * The CPU stages for backup and restore: inline at first, then a worker
   * pool once enough bytes have gone through (`workers`: pool size, default
   * one per core; 0 stays inline).
   */
  #crypto(session: Session, workers: number | undefined): BlobCrypto {
    if (workers === 0) return session.inline;
    const count = Math.max(1, workers ?? navigator.hardwareConcurrency ?? 2);
    const crypto = new AdaptiveBlobCrypto(session.inline, () =>
      WorkerBlobCrypto.start({
        data: this.#subkeys.data,
        meta: this.#subkeys.meta,
        id: this.#subkeys.id,
        nonce: this.#subkeys.nonce,
      }, { level: this.config.zstdLevel, count, chunker: this.#chunker() }), {
      parallelism: count,
    });
    session.pools.push(crypto);
    return crypto;
  }

  /** The repository's chunker (FORMAT.md §7.1), seeded with its secret. */
  #chunker(): Required<ChunkerOptions> {
    return { ...this.config.chunker, seed: this.#subkeys.cdcSeed };
  }

  /** Every snapshot, oldest first (FORMAT.md §12.3 order: sequence, then time). */
  async snapshots(): Promise<StoredSnapshot[]> {
    const keys = await this.#keys();
    return await listSnapshots(this.storage, keys, {
      onDamaged: (name, error) => this.onWarning(`${name} skipped: ${error.message}`),
    });
  }

  /**
   * Backs up files and folders into a new snapshot. `workers` sets the size
   * of the worker pool (default: one per core; 0 works inline).
   */
  async backup(options: BackupOptions & { workers?: number }): Promise<BackupResult> {
    const session = await this.#open();
    // FORMAT.md §12.3: follow the newest verified envelope, tombstones included.
    const { head } = await readChain(this.storage, this.config);
    return await backup({
      storage: this.storage,
      keys: session.keys,
      crypto: this.#crypto(session, options.workers),
      index: session.index,
      recover: session.recover,
      snapshots: await this.snapshots(),
      previous: head ? { id: head.position, sequence: head.sequence } : null,
    }, options);
  }

  /** Restores a snapshot ("latest" or an id prefix) into `options.target`. */
  async restore(
    ref: string,
    options: RestoreOptions & { workers?: number; connections?: number },
  ): Promise<RestoreProgress> {
    const session = await this.#open();
    const snapshot = findSnapshot(await this.snapshots(), ref);
    const store = new BlobStore(
      this.storage,
      session.index,
      this.#crypto(session, options.workers),
      // Remote storage: keep `connections` reads in flight whatever the CPU count.
      { reads: options.connections, recover: session.recover },
    );
    return await restore(store, snapshot.snapshot.tree, {
      // A whole snapshot's size is known: the progress can tell how far along it is.
      ...(options.include?.length ? {} : { totalBytes: snapshot.snapshot.stats.bytes }),
      ...options,
    });
  }

  /** The snapshot "latest" or an id prefix names. */
  async snapshot(ref: string): Promise<StoredSnapshot> {
    return findSnapshot(await this.snapshots(), ref);
  }

  /** The settings in force (FORMAT.md §13), with any damaged records that were ignored. */
  async settings(): Promise<StoredSettings> {
    const keys = await this.#keys();
    return await readSettings(this.storage, keys);
  }

  /**
   * Changes settings for every device: writes a record that supersedes the
   * one in force, then deletes the older valid records (FORMAT.md §13).
   */
  async updateSettings(change: Partial<Settings>): Promise<Settings> {
    const keys = await this.#keys();
    const current = await readSettings(this.storage, keys);
    const settings = { ...current.settings, ...change };
    const name = await writeSettings(this.storage, keys, settings, {
      previousSequence: current.sequence,
    });
    for (const old of current.records) if (old !== name) await this.storage.delete(old);
    return settings;
  }

  /**
   * Whether `backup --if-due` should back up `paths` now: the schedule, and
   * the newest snapshot of the same host and paths (restic's parent rule).
   */
  async dueStatus(options: { paths: string[]; host?: string; nowMs?: number }): Promise<DueStatus> {
    const { settings } = await this.settings();
    const host = options.host ?? Deno.hostname();
    const paths = options.paths.map((p) => resolve(p));
    const last = (await this.snapshots()).filter((s) =>
      s.snapshot.host === host && s.snapshot.paths.length === paths.length &&
      s.snapshot.paths.every((p, i) => p === paths[i])
    ).reduce<number | null>((newest, s) => Math.max(newest ?? 0, s.snapshot.timeMs), null);
    return dueStatus(settings.schedule, last, options.nowMs ?? Date.now());
  }

  /**
   * Lists a snapshot's files under `path` (relative to its root; "" for
   * all), depth first, with their paths.
   */
  async *list(ref: string, path = ""): AsyncIterable<{ path: string; node: TreeNode }> {
    const { store } = await this.#open();
    const snapshot = findSnapshot(await this.snapshots(), ref);
    const parts = path.split("/").filter((p) => p !== "");
    let tree = snapshot.snapshot.tree;
    let prefix = "";
    for (const [i, part] of parts.entries()) {
      const node = (await readTree(store, tree)).get(part);
      if (!node) {
        throw new RangeError(`Cannot list ${path}: not in snapshot ${snapshot.id.slice(0, 8)}`);
      }
      prefix = prefix ? `${prefix}/${part}` : part;
      if (node.type !== "dir") {
        if (i === parts.length - 1) {
          yield { path: prefix, node };
          return;
        }
        throw new RangeError(`Cannot list ${path}: ${prefix} is not a folder`);
      }
      tree = node.subtree;
    }
    async function* walk(
      treeId: string,
      dir: string,
    ): AsyncIterable<{ path: string; node: TreeNode }> {
      for (const node of (await readTree(store, treeId)).values()) {
        const child = dir ? `${dir}/${node.name}` : node.name;
        yield { path: child, node };
        if (node.type === "dir") yield* walk(node.subtree, child);
      }
    }
    yield* walk(tree, prefix);
  }

  /** What changed from snapshot `a` to snapshot `b` ("latest" or id prefixes). */
  async *diff(a: string, b: string): AsyncIterable<Change> {
    const { store } = await this.#open();
    const snapshots = await this.snapshots();
    const [x, y] = [findSnapshot(snapshots, a), findSnapshot(snapshots, b)];
    yield* diffTrees(store, x.snapshot.tree, y.snapshot.tree);
  }

  /**
   * Verifies the repository with this session's keys (src/check.ts): never
   * throws for damage, which the report lists.
   */
  async check(options: CheckOptions & { workers?: number } = {}): Promise<CheckReport> {
    this.#assertOpen();
    const keys = await this.#blobKeys();
    // Reading data opens every blob: on the worker pool, as restore does.
    const crypto = options.readData ? this.#crypto(await this.#open(), options.workers) : undefined;
    return await checkRepository(this.storage, { ...options, keys, config: this.config, crypto });
  }

  /** Sizes and counts for `cofre stats` (FORMAT.md §4 objects, by kind). */
  async stats(): Promise<RepositoryStats> {
    const { index } = await this.#open();
    const snapshots = await this.snapshots();
    const count = async (prefix: string) => {
      let objects = 0;
      let bytes = 0;
      for await (const info of this.storage.list(prefix)) {
        objects++;
        bytes += info.size;
      }
      return { objects, bytes };
    };
    let dataBlobs = 0;
    let treeBlobs = 0;
    let plaintextBytes = 0;
    let sealedBytes = 0;
    for (const [, location] of index.entries()) {
      if (location.type === "data") dataBlobs++;
      else treeBlobs++;
      plaintextBytes += location.plaintextLength;
      sealedBytes += location.sealedLength;
    }
    return {
      id: this.id,
      location: this.storage.location,
      snapshots: snapshots.length,
      newestSequence: snapshots.at(-1)?.sequence ?? null,
      dataBlobs,
      treeBlobs,
      plaintextBytes,
      sealedBytes,
      packs: await count("data/"),
      indexFiles: await count("index/"),
      snapshotObjects: await count("snapshots/"),
      restoreSizeOfLatest: snapshots.at(-1)?.snapshot.stats.bytes ?? 0,
    };
  }

  /** A pack's header entries (for `cat pack`). */
  async packHeader(id: string): Promise<IndexEntry[]> {
    const keys = await this.#keys();
    const info = await this.storage.stat(packName(id));
    if (!info) throw new RangeError(`Cannot read pack ${id}: no such pack`);
    return await readPackHeader(this.storage, id, info.size, keys.meta);
  }

  /** An index file's entries (for `cat index`). */
  async indexFile(id: string): Promise<IndexEntry[]> {
    const keys = await this.#keys();
    const name = `index/${id}`;
    if (!(await this.storage.stat(name))) {
      throw new RangeError(`Cannot read index ${id}: no such index file`);
    }
    return openIndex(name, await this.storage.get(name), keys.meta);
  }

  /** Reads a blob's plaintext by hex id (for `cat blob`). */
  async readBlob(type: "data" | "tree", id: string): Promise<Uint8Array> {
    return await (await this.#open()).store.read(type, id);
  }

  /**
   * A file node's chunk ids in order, a run at a time: its content, or its
   * content lists read one by one (FORMAT.md §11.1).
   */
  async *chunkIds(node: FileContent): AsyncGenerator<string[]> {
    yield* (await this.#open()).store.chunkIds(node);
  }

  /**
   * Replaces snapshots by tombstones (FORMAT.md §12.3); `refs` are ids or
   * id prefixes. Returns the forgotten snapshots. Their data stays until prune.
   */
  async forget(refs: string[], options: { now?: () => number } = {}): Promise<StoredSnapshot[]> {
    const keys = await this.#keys();
    const all = await this.snapshots();
    const chosen = [...new Map(refs.map((ref) => findSnapshot(all, ref)).map((s) => [s.id, s]))
      .values()];
    for (const stored of chosen) {
      await writeTombstone(this.storage, keys, stored, (options.now ?? Date.now)());
    }
    return chosen;
  }

  /** Removes unused data under the exclusive lock (FORMAT.md §14; src/prune.ts). */
  async prune(options: PruneOptions = {}): Promise<PruneResult> {
    const session = await this.#open();
    const result = await prune(
      { storage: this.storage, keys: session.keys, crypto: session.inline },
      options,
    );
    if (!options.dryRun) {
      // Packs and index files changed: later reads in this session start from the new index.
      const plans = await readPlans(this.storage, session.keys.meta);
      session.index = await loadIndex(this.storage, session.keys.meta, {
        withdrawn: plans.flatMap((plan) => plan.packs),
      });
      session.recover = this.#recoverer(session.index, session.keys);
      session.store = new BlobStore(this.storage, session.index, session.inline, {
        recover: session.recover,
      });
    }
    return result;
  }

  /** Takes the exclusive lock (FORMAT.md §14.1); release it when done. */
  async lock(options: LockOptions = {}): Promise<RepositoryLock> {
    return await RepositoryLock.acquire(this.storage, (await this.#keys()).meta, options);
  }

  /** The repository's locks (FORMAT.md §14.1). */
  async locks(options: { now?: () => number } = {}): Promise<LockListing> {
    return await listLocks(this.storage, (await this.#keys()).meta, options);
  }

  /** Removes stale locks, or all of them with `all`; returns what was removed. */
  async unlock(
    options: { all?: boolean; now?: () => number } = {},
  ): Promise<{ removed: LockInfo[]; foreign: string[]; live: LockInfo[] }> {
    return await removeLocks(this.storage, (await this.#keys()).meta, options);
  }

  /** The in-memory index (for `stats` and `cat index`). */
  async index(): Promise<BlobIndex> {
    return (await this.#open()).index;
  }

  /**
   * Zeroes the keys held in memory, stops the workers and closes the storage;
   * the object cannot be used afterwards.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#master.fill(0);
    wipeSubkeys(this.#subkeys);
    if (this.#session) {
      for (const pool of this.#session.pools) await pool.close();
      this.#session = null;
    }
    if (this.#keysMade) {
      const keys = await this.#keysMade;
      this.#keysMade = null;
      keys.data[Symbol.dispose]();
      keys.meta[Symbol.dispose]();
      keys.id.dispose();
      keys.nonce.dispose();
    }
    // Remote backends hold a helper process (rclone): it stops with the repository.
    await this.storage.close?.();
  }

  #assertOpen(): void {
    if (this.#closed) throw new TypeError("Cannot use the repository: it was closed");
  }
}

interface Session {
  keys: BlobKeys & SnapshotKeys;
  index: BlobIndex;
  inline: InlineBlobCrypto;
  /** Reads for ls and cat, inline. */
  store: BlobStore;
  /** What every BlobStore over `index` does for a blob with no entry (`#recoverer`): run once. */
  recover: () => Promise<number>;
  /** Worker pools started for backups and restores; closed with the repository. */
  pools: BlobCrypto[];
}

/** True when `storage` holds a pack, index file or snapshot (FORMAT.md §4's names). */
async function holdsRepositoryData(storage: Storage): Promise<boolean> {
  for (const prefix of [SNAPSHOTS_PREFIX, INDEX_PREFIX]) {
    for await (const info of storage.list(prefix)) if (isHexName(info.name, prefix)) return true;
  }
  for await (const info of storage.list("data/")) {
    if (isPackObject(info.name, info.name.slice(info.name.lastIndexOf("/") + 1))) return true;
  }
  return false;
}

function slotName(slot: KeySlot): string {
  return `${KEYS_PREFIX}${toHex(slot.slotId)}`;
}

/** Readable slots; a malformed or foreign object under keys/ is skipped (check reports it). */
async function readKeySlots(storage: Storage): Promise<KeySlot[]> {
  const slots: KeySlot[] = [];
  for await (const info of storage.list(KEYS_PREFIX)) {
    if (!isKeySlotName(info.name)) continue; // foreign (FORMAT.md §4)
    try {
      const slot = decodeKeySlot(await storage.get(info.name));
      if (info.name === slotName(slot)) slots.push(slot);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
    }
  }
  return slots;
}

function toSlotSecret(credentials: Credentials): SlotSecret {
  const account = credentials.account === undefined || credentials.account === ""
    ? ""
    : normalizeAccount(credentials.account);
  if (credentials.recoveryKey !== undefined) {
    const key = typeof credentials.recoveryKey === "string"
      ? parseRecoveryKey(credentials.recoveryKey)
      : credentials.recoveryKey.slice();
    return { kind: "recovery", recoveryKey: key, account };
  }
  if (credentials.password !== undefined) {
    // No length check here: a short password simply opens nothing.
    return { kind: "password", password: credentials.password, account };
  }
  throw new RangeError("Cannot open the repository: give a password or the recovery key");
}

function wipeSecret(secret: SlotSecret): void {
  if (secret.kind === "recovery") secret.recoveryKey.fill(0);
}
