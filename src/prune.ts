/**
 * Prune (FORMAT.md §14): free the space of blobs no snapshot needs. Deletion
 * is two-phase: a run plans the packs it finds unused or sparse (after
 * copying a sparse pack's live blobs into new packs), and a later run,
 * once the plan is older than the grace period, deletes them, unless a
 * snapshot written meanwhile rescued them. Backups take no lock; this is
 * what keeps a concurrent backup's data safe.
 *
 * @module
 */

import { fromHex, toHex } from "./_bytes.ts";
import { openJson, sealJson } from "./_sealed_json.ts";
import type { AesGcm } from "./aead.ts";
import { BlobIndex, INDEX_PREFIX, openIndex, writeIndex } from "./blob_index.ts";
import { BlobStore } from "./blob_store.ts";
import { FormatError } from "./errors.ts";
import { decodeTree, type IndexEntry, type PackRef } from "./format.ts";
import { type LockInfo, RepositoryLock } from "./lock.ts";
import { isPackObject, PACK_TARGET_BYTES, PackBuilder, packName, readPackHeader } from "./pack.ts";
import {
  listSnapshots,
  type SnapshotKeys,
  SNAPSHOTS_PREFIX,
  type StoredSnapshot,
  writeReplacement,
} from "./snapshot.ts";
import { isHexName, putHashNamed, type Storage } from "./storage/storage.ts";
import type { BlobCrypto } from "./workers.ts";

export const PLANS_PREFIX = "plans/";
const PLAN_LABEL = "cofre v1 plan";
/** FORMAT.md §14.2: the grace period. */
export const PRUNE_GRACE_MS = 60 * 60_000;
/** FORMAT.md §14.3: repack a pack when more than this fraction of its bytes is unused. */
export const DEFAULT_MAX_UNUSED = 0.1;
/** Index files prune writes hold at most this many entries (49 bytes each in the plaintext). */
const INDEX_FILE_ENTRIES = 100_000;

/** A deletion plan (FORMAT.md §14.2). */
export interface DeletionPlan {
  name: string;
  timeMs: number;
  /** When the storage wrote it: the grace period runs from here. */
  modifiedMs: number;
  packs: string[];
  /** Object names (`index/<hex>`); the plan stores the hex ids. */
  indexes: string[];
}

export interface PruneOptions {
  /** Decide and report only; write and delete nothing, take no lock. */
  dryRun?: boolean;
  /** Repack packs with more than this fraction of unused bytes (default 0.1). */
  maxUnused?: number;
  /** The grace period (default 1 hour); tests shorten it. */
  graceMs?: number;
  /** The clock (default `Date.now`); compare with the storage's `modifiedMs`. */
  now?: () => number;
}

/** What a prune run did (or, with `dryRun`, would do). */
export interface PruneResult {
  dryRun: boolean;
  /** Plans carried out: their packs deleted (unless rescued). */
  plansCarriedOut: number;
  deletedPacks: number;
  deletedBytes: number;
  deletedIndexFiles: number;
  /** Planned packs a snapshot written meanwhile still needed. */
  rescuedPacks: number;
  /** Snapshots whose envelopes were replaced because a pack they listed was deleted. */
  replacedSnapshots: number;
  /** Packs planned for deletion by this run, with no live blob. */
  unusedPacks: number;
  /** Sparse packs whose live blobs were copied into new packs, planned for deletion. */
  repackedPacks: number;
  /** New packs written by repacking, and their bytes. */
  newPacks: number;
  newBytes: number;
  /** Bytes the packs planned by this run hold: freed by a prune after the grace period. */
  plannedBytes: number;
  /** Plans still waiting for their grace period. */
  pendingPlans: number;
  /** Packs younger than the grace period, left alone (a concurrent backup may need them). */
  youngPacks: number;
  /** Stale locks seen (left alone: 'cofre unlock' removes them). */
  staleLocks: LockInfo[];
  /** Packs no index file named that a snapshot needs: indexed again. */
  reindexedPacks: number;
  /** Temporary files of writes killed over a day ago, removed (a folder repository's). */
  staleTemporaries: { files: number; bytes: number };
}

/** What prune needs from an open repository (src/repository.ts supplies it). */
export interface PruneContext {
  storage: Storage;
  keys: SnapshotKeys & { meta: AesGcm };
  /** Opens blobs (inline is enough: prune reads trees, never file contents). */
  crypto: BlobCrypto;
}

/** A temporary file this much older than now is a killed write's. */
const STALE_TEMPORARY_MS = 24 * 60 * 60 * 1000;

/** Every readable deletion plan; a plan that does not authenticate is foreign and skipped. */
export async function readPlans(storage: Storage, meta: AesGcm): Promise<DeletionPlan[]> {
  const plans: DeletionPlan[] = [];
  for await (const info of storage.list(PLANS_PREFIX)) {
    try {
      const j = openJson(meta, PLAN_LABEL, await storage.get(info.name), info.name);
      const hexes = (v: unknown) =>
        Array.isArray(v) && v.every((x) => typeof x === "string" && /^[0-9a-f]{64}$/.test(x))
          ? v as string[]
          : [];
      plans.push({
        name: info.name,
        timeMs: Number(j.time_ms),
        modifiedMs: info.modifiedMs,
        packs: hexes(j.packs),
        indexes: hexes(j.indexes).map((hex) => INDEX_PREFIX + hex),
      });
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
    }
  }
  return plans;
}

/** Runs prune (FORMAT.md §14.3). */
export async function prune(
  context: PruneContext,
  options: PruneOptions = {},
): Promise<PruneResult> {
  const { storage, keys } = context;
  const now = options.now ?? Date.now;
  const graceMs = options.graceMs ?? PRUNE_GRACE_MS;
  const maxUnused = options.maxUnused ?? DEFAULT_MAX_UNUSED;
  if (!(maxUnused >= 0 && maxUnused <= 1)) {
    throw new RangeError(`Cannot prune: max unused ${maxUnused}, expected 0..1 (0%..100%)`);
  }
  const dryRun = options.dryRun ?? false;
  const lock = dryRun ? null : await RepositoryLock.acquire(storage, keys.meta, { now });
  try {
    return await run(context, { dryRun, graceMs, maxUnused, now, lock });
  } finally {
    await lock?.release();
  }
}

async function run(
  { storage, keys, crypto }: PruneContext,
  o: {
    dryRun: boolean;
    graceMs: number;
    maxUnused: number;
    now: () => number;
    lock: RepositoryLock | null;
  },
): Promise<PruneResult> {
  const result: PruneResult = {
    dryRun: o.dryRun,
    plansCarriedOut: 0,
    deletedPacks: 0,
    deletedBytes: 0,
    deletedIndexFiles: 0,
    rescuedPacks: 0,
    replacedSnapshots: 0,
    unusedPacks: 0,
    repackedPacks: 0,
    newPacks: 0,
    newBytes: 0,
    plannedBytes: 0,
    pendingPlans: 0,
    youngPacks: 0,
    staleLocks: o.lock?.stale ?? [],
    reindexedPacks: 0,
    staleTemporaries: { files: 0, bytes: 0 },
  };
  // A backup killed mid-write leaves its pack's temporary file; a day on,
  // no backup still writes it (they take no lock).
  if (!o.dryRun && storage.removeStaleTemporaries) {
    result.staleTemporaries = await storage.removeStaleTemporaries(STALE_TEMPORARY_MS);
  }
  // Step 1: plans, index files, packs.
  const plans = await readPlans(storage, keys.meta);
  const due = plans.filter((plan) => o.now() - plan.modifiedMs > o.graceMs);
  const pending = plans.filter((plan) => !due.includes(plan));
  const duePacks = new Set(due.flatMap((plan) => plan.packs));
  const pendingPacks = new Set(pending.flatMap((plan) => plan.packs));
  const indexFiles = new Map<string, IndexEntry[]>();
  for await (const info of storage.list(INDEX_PREFIX)) {
    if (!isHexName(info.name, INDEX_PREFIX)) continue; // foreign (FORMAT.md §4): left alone
    indexFiles.set(info.name, openIndex(info.name, await storage.get(info.name), keys.meta));
  }
  const packs = new Map<string, { size: number; modifiedMs: number }>();
  for await (const info of storage.list("data/")) {
    const id = info.name.slice(info.name.lastIndexOf("/") + 1);
    if (!isPackObject(info.name, id)) continue; // foreign (FORMAT.md §4): never deleted
    packs.set(id, { size: info.size, modifiedMs: info.modifiedMs });
  }
  /** Each pack's blobs (once each), and each blob's packs. */
  const packEntries = new Map<string, Map<string, IndexEntry>>();
  const blobPacks = new Map<string, Set<string>>();
  const addEntry = (entry: IndexEntry) => {
    const pack = toHex(entry.pack);
    const id = toHex(entry.id);
    if (!packs.has(pack)) return; // an index file naming a pack already deleted
    let entries = packEntries.get(pack);
    if (!entries) packEntries.set(pack, entries = new Map());
    entries.set(id, entry);
    let where = blobPacks.get(id);
    if (!where) blobPacks.set(id, where = new Set());
    where.add(pack);
  };
  for (const entries of indexFiles.values()) entries.forEach(addEntry);
  // A due pack whose index files a crashed run already deleted: its header says what it holds.
  for (const pack of duePacks) {
    const info = packs.get(pack);
    if (info && !packEntries.has(pack)) {
      (await readPackHeader(storage, pack, info.size, keys.meta)).forEach(addEntry);
    }
  }
  // Any other pack no index file names: an interrupted backup's, or one whose
  // index file was lost. Its header says what it holds; a snapshot may need it.
  const unindexed = new Set<string>();
  for (const [pack, info] of packs) {
    if (packEntries.has(pack)) continue;
    try {
      (await readPackHeader(storage, pack, info.size, keys.meta)).forEach(addEntry);
      unindexed.add(pack);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error; // damaged: check reports it
    }
  }
  // Reads prefer packs that stay; any existing copy of a blob will do.
  const readIndex = new BlobIndex();
  readIndex.withdraw([...duePacks, ...pendingPacks]);
  for (const entries of packEntries.values()) {
    for (const entry of entries.values()) readIndex.add(entry);
  }
  const store = new BlobStore(storage, readIndex, crypto);

  // Step 2: carry out due plans. The snapshots are listed after the plans were found due.
  const snapshots = await listSnapshots(storage, keys);
  const live = await liveBlobs(store, snapshots.map((s) => s.snapshot.tree));
  const heldOutside = (id: string) =>
    [...blobPacks.get(id) ?? []].some((pack) => !duePacks.has(pack));
  const deleting = new Set<string>();
  for (const pack of duePacks) {
    if (!packs.has(pack)) continue;
    const entries = [...packEntries.get(pack)?.values() ?? []];
    if (entries.some((e) => live.has(toHex(e.id)) && !heldOutside(toHex(e.id)))) {
      result.rescuedPacks++;
      if (!o.dryRun) await writeIndex(storage, entries, keys.meta);
    } else {
      deleting.add(pack);
    }
  }
  if (due.length > 0) {
    const deletedIndexes = new Set(due.flatMap((plan) => plan.indexes));
    const replace = snapshots.filter((s) => s.packs.some((p) => deleting.has(toHex(p.id))));
    const location = (id: string) => pickPack(blobPacks.get(id), (p) => !deleting.has(p));
    for (const stored of replace) {
      result.replacedSnapshots++;
      if (o.dryRun) continue;
      const needed = await packsOf(store, stored, location);
      const refs: PackRef[] = [...needed].map((p) => ({
        id: fromHex(p),
        size: packs.get(p)!.size,
      }));
      await writeReplacement(storage, keys, stored, refs);
      await storage.delete(SNAPSHOTS_PREFIX + stored.id);
    }
    for (const pack of deleting) {
      result.deletedPacks++;
      result.deletedBytes += packs.get(pack)!.size;
      if (o.dryRun) continue;
      o.lock?.assertHeld();
      await storage.delete(packName(pack));
    }
    for (const name of deletedIndexes) {
      if (!indexFiles.has(name)) continue;
      result.deletedIndexFiles++;
      if (o.dryRun) continue;
      o.lock?.assertHeld();
      await storage.delete(name);
    }
    for (const plan of due) {
      result.plansCarriedOut++;
      if (!o.dryRun) await storage.delete(plan.name);
    }
    for (const pack of deleting) {
      packs.delete(pack);
      packEntries.delete(pack);
    }
    for (const name of deletedIndexes) indexFiles.delete(name);
  }
  result.pendingPlans = pending.length;

  // Step 3: decide. Each live blob counts in one pack: the lowest id among those that stay.
  const used = new Map<string, Set<string>>();
  for (const id of live) {
    // An indexed pack first: an unindexed one counts only for what no index names (a lost
    // index's), not for what a concurrent backup stored again and has yet to index.
    const stays = (p: string) => packs.has(p) && !pendingPacks.has(p);
    const pack = pickPack(blobPacks.get(id), (p) => stays(p) && !unindexed.has(p)) ??
      pickPack(blobPacks.get(id), stays);
    if (pack === undefined) continue; // only in a pending plan's packs: rescued when it is due
    let ids = used.get(pack);
    if (!ids) used.set(pack, ids = new Set());
    ids.add(id);
  }
  const unused: string[] = [];
  const repack: string[] = [];
  for (const [pack, info] of packs) {
    if (pendingPacks.has(pack)) continue;
    if (o.now() - info.modifiedMs <= o.graceMs) {
      result.youngPacks++;
      continue;
    }
    const entries = packEntries.get(pack);
    const keep = used.get(pack);
    if (!entries || !keep) {
      unused.push(pack);
      continue;
    }
    let unusedBytes = 0;
    for (const [id, entry] of entries) if (!keep.has(id)) unusedBytes += entry.sealedLength;
    if (unusedBytes / info.size > o.maxUnused) repack.push(pack);
  }
  result.unusedPacks = unused.length;
  result.repackedPacks = repack.length;
  for (const pack of [...unused, ...repack]) result.plannedBytes += packs.get(pack)!.size;
  // Unindexed packs a snapshot needs are indexed again: below with every
  // pack that stays, or here when nothing else changes.
  const reindex = [...unindexed].filter((pack) => used.has(pack) && !repack.includes(pack));
  result.reindexedPacks = reindex.length;
  if (o.dryRun) return result;
  if (unused.length + repack.length === 0) {
    const entries = reindex.flatMap((pack) => [...packEntries.get(pack)!.values()]);
    for (let i = 0; i < entries.length; i += INDEX_FILE_ENTRIES) {
      await writeIndex(storage, entries.slice(i, i + INDEX_FILE_ENTRIES), keys.meta);
    }
    return result;
  }

  // Step 3, repacking: live sealed blobs are copied as they are into new packs.
  const builder = new PackBuilder();
  const newEntries: IndexEntry[] = [];
  const flush = async () => {
    if (builder.count === 0) return;
    const pack = await builder.finish(keys.meta);
    await storage.put(pack.name, pack.parts);
    newEntries.push(...pack.entries);
    result.newPacks++;
    result.newBytes += pack.size;
  };
  for (const pack of repack) {
    for (const [id, entry] of packEntries.get(pack)!) {
      if (!used.get(pack)!.has(id)) continue;
      const sealed = await storage.get(packName(pack), {
        offset: entry.offset,
        length: entry.sealedLength,
      });
      builder.add(entry, sealed);
      if (builder.size >= PACK_TARGET_BYTES) await flush();
    }
  }
  await flush();

  // Step 4: index files for every pack that stays, then the plan.
  const planned = new Set([...unused, ...repack]);
  const kept: IndexEntry[] = [...newEntries];
  for (const [pack, entries] of packEntries) {
    if (!planned.has(pack) && !pendingPacks.has(pack)) kept.push(...entries.values());
  }
  for (let i = 0; i < kept.length; i += INDEX_FILE_ENTRIES) {
    await writeIndex(storage, kept.slice(i, i + INDEX_FILE_ENTRIES), keys.meta);
  }
  const plan = sealJson(keys.meta, PLAN_LABEL, {
    time_ms: o.now(),
    packs: [...planned],
    indexes: [...indexFiles.keys()].map((name) => name.slice(INDEX_PREFIX.length)),
  });
  await putHashNamed(storage, PLANS_PREFIX, plan);
  return result;
}

/** The lowest pack id of `packs` that passes `ok`. */
function pickPack(
  packs: Set<string> | undefined,
  ok: (pack: string) => boolean,
): string | undefined {
  let best: string | undefined;
  for (const pack of packs ?? []) if (ok(pack) && (best === undefined || pack < best)) best = pack;
  return best;
}

/** Every blob (trees and file contents) reachable from `roots`. */
async function liveBlobs(store: BlobStore, roots: string[]): Promise<Set<string>> {
  const live = new Set<string>();
  const pending = [...roots];
  while (pending.length > 0) {
    const tree = pending.pop()!;
    if (live.has(tree)) continue;
    live.add(tree);
    for (const node of decodeTree(await store.read("tree", tree))) {
      if (node.type === "file" && node.contentLists) {
        // FORMAT.md §11.1: a list shared by snapshots is read once.
        for (const list of node.contentLists) {
          if (live.has(list)) continue;
          live.add(list);
          const ids = await store.readContentList(list);
          for (const id of ids) live.add(id);
        }
      } else if (node.type === "file") node.content.forEach((id) => live.add(id));
      else if (node.type === "dir" && !live.has(node.subtree)) pending.push(node.subtree);
    }
  }
  return live;
}

/** The packs holding one snapshot's blobs, as `location` picks them. */
async function packsOf(
  store: BlobStore,
  stored: StoredSnapshot,
  location: (id: string) => string | undefined,
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const id of await liveBlobs(store, [stored.snapshot.tree])) {
    const pack = location(id);
    if (pack === undefined) {
      throw new FormatError(
        `Cannot prune: blob ${id.slice(0, 16)} of snapshot ${
          stored.id.slice(0, 8)
        } is in no pack ` +
          "that stays (run 'cofre check')",
      );
    }
    out.add(pack);
  }
  return out;
}
