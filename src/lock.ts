/**
 * The repository lock (FORMAT.md §14.1): an exclusive, expiring lock that
 * prune holds while it works. Backups take none.
 *
 * @module
 */

import { toHex } from "./_bytes.ts";
import { openJson, sealJson } from "./_sealed_json.ts";
import type { AesGcm } from "./aead.ts";
import { FormatError, RepositoryLockedError } from "./errors.ts";
import type { Storage } from "./storage/storage.ts";

export const LOCKS_PREFIX = "locks/";
const LOCK_LABEL = "cofre v1 lock";
/** FORMAT.md §14.1: a lock lives 30 minutes unless refreshed, and is refreshed every 5. */
export const LOCK_TTL_MS = 30 * 60_000;
export const LOCK_REFRESH_MS = 5 * 60_000;

/** A lock as read from the repository. */
export interface LockInfo {
  /** Object name (`locks/<hex>`). */
  name: string;
  host: string;
  pid: number;
  timeMs: number;
  expiresMs: number;
  exclusive: boolean;
}

/** Every lock, sorted into live, stale and foreign (does not authenticate). */
export interface LockListing {
  live: LockInfo[];
  stale: LockInfo[];
  foreign: string[];
}

export interface LockOptions {
  /** The clock (default `Date.now`). */
  now?: () => number;
  host?: string;
  pid?: number;
}

/** Reads every lock under `locks/`. */
export async function listLocks(
  storage: Storage,
  meta: AesGcm,
  options: { now?: () => number } = {},
): Promise<LockListing> {
  const now = (options.now ?? Date.now)();
  const out: LockListing = { live: [], stale: [], foreign: [] };
  for await (const info of storage.list(LOCKS_PREFIX)) {
    let bytes: Uint8Array;
    try {
      bytes = await storage.get(info.name);
    } catch {
      continue; // removed meanwhile: its owner released it
    }
    try {
      const j = openJson(meta, LOCK_LABEL, bytes, info.name);
      const lock: LockInfo = {
        name: info.name,
        host: String(j.host),
        pid: Number(j.pid),
        timeMs: Number(j.time_ms),
        expiresMs: Number(j.expires_ms),
        exclusive: j.exclusive === true,
      };
      if (!Number.isFinite(lock.expiresMs) || !Number.isFinite(lock.timeMs)) {
        throw new FormatError(`Cannot read ${info.name}: no times`);
      }
      (lock.expiresMs > now ? out.live : out.stale).push(lock);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      out.foreign.push(info.name);
    }
  }
  return out;
}

/** "host pid 123, taken 5 min ago" for messages. */
export function describeLock(lock: LockInfo, now = Date.now()): string {
  const minutes = Math.max(0, Math.round((now - lock.timeMs) / 60_000));
  return `${lock.host} pid ${lock.pid}, taken ${minutes} min ago`;
}

/** An exclusive lock this process holds; refreshed in the background until released. */
export class RepositoryLock {
  readonly #storage: Storage;
  readonly #meta: AesGcm;
  readonly #now: () => number;
  readonly #host: string;
  readonly #pid: number;
  #name: string;
  #expiresMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #refreshing: Promise<void> = Promise.resolve();
  /** Stale locks found (and left alone) when the lock was taken. */
  readonly stale: LockInfo[];

  private constructor(
    storage: Storage,
    meta: AesGcm,
    options: Required<LockOptions>,
    name: string,
    expiresMs: number,
    stale: LockInfo[],
  ) {
    this.#storage = storage;
    this.#meta = meta;
    this.#now = options.now;
    this.#host = options.host;
    this.#pid = options.pid;
    this.#name = name;
    this.#expiresMs = expiresMs;
    this.stale = stale;
  }

  /**
   * Takes the exclusive lock; RepositoryLockedError (exit 11) naming the
   * holder when another live lock exists, before or just after ours is written.
   */
  static async acquire(
    storage: Storage,
    meta: AesGcm,
    options: LockOptions = {},
  ): Promise<RepositoryLock> {
    const full: Required<LockOptions> = {
      now: options.now ?? Date.now,
      host: options.host ?? Deno.hostname(),
      pid: options.pid ?? Deno.pid,
    };
    const before = await listLocks(storage, meta, full);
    refuse(before.live, full.now());
    const { name, expiresMs } = await writeLock(storage, meta, full);
    const after = await listLocks(storage, meta, full);
    const others = after.live.filter((lock) => lock.name !== name);
    if (others.length > 0) {
      await storage.delete(name);
      refuse(others, full.now());
    }
    const lock = new RepositoryLock(storage, meta, full, name, expiresMs, before.stale);
    const timer = setInterval(() => {
      lock.#refreshing = lock.#refreshing.then(() => lock.refresh()).catch(() => {});
    }, LOCK_REFRESH_MS);
    Deno.unrefTimer(timer as unknown as number);
    lock.#timer = timer;
    return lock;
  }

  /** Replaces the lock with a fresh one (FORMAT.md §14.1: new object, then delete the old). */
  async refresh(): Promise<void> {
    const old = this.#name;
    const { name, expiresMs } = await writeLock(this.#storage, this.#meta, {
      now: this.#now,
      host: this.#host,
      pid: this.#pid,
    });
    this.#name = name;
    this.#expiresMs = expiresMs;
    await this.#storage.delete(old);
  }

  /**
   * Throws unless the lock is certainly still ours: FORMAT.md §14.1, stop
   * before deleting anything once it could have expired.
   */
  assertHeld(): void {
    // A minute of margin for clock drift between us and other lockers.
    if (this.#now() > this.#expiresMs - 60_000) {
      throw new RepositoryLockedError(
        "Cannot go on pruning: the repository lock could not be refreshed and may have expired",
      );
    }
  }

  /** Stops refreshing and deletes the lock. */
  async release(): Promise<void> {
    clearInterval(this.#timer);
    await this.#refreshing;
    await this.#storage.delete(this.#name);
  }
}

function refuse(live: LockInfo[], now: number): void {
  const holder = live[0];
  if (!holder) return;
  throw new RepositoryLockedError(
    `Cannot lock the repository: it is locked by ${describeLock(holder, now)} ` +
      `(expires in ${Math.max(1, Math.round((holder.expiresMs - now) / 60_000))} min); ` +
      "wait for it to finish, or run 'cofre unlock --remove-all' if that process is gone",
  );
}

async function writeLock(
  storage: Storage,
  meta: AesGcm,
  options: Required<LockOptions>,
): Promise<{ name: string; expiresMs: number }> {
  const timeMs = options.now();
  const expiresMs = timeMs + LOCK_TTL_MS;
  const name = LOCKS_PREFIX + toHex(crypto.getRandomValues(new Uint8Array(16)));
  await storage.put(
    name,
    sealJson(meta, LOCK_LABEL, {
      host: options.host,
      pid: options.pid,
      time_ms: timeMs,
      expires_ms: expiresMs,
      exclusive: true,
    }),
  );
  return { name, expiresMs };
}

/** Deletes stale locks, or every lock with `all`; returns what it removed. */
export async function removeLocks(
  storage: Storage,
  meta: AesGcm,
  options: { all?: boolean; now?: () => number } = {},
): Promise<{ removed: LockInfo[]; foreign: string[]; live: LockInfo[] }> {
  const listing = await listLocks(storage, meta, options);
  const removed = options.all ? [...listing.stale, ...listing.live] : listing.stale;
  for (const lock of removed) await storage.delete(lock.name);
  if (options.all) { for (const name of listing.foreign) await storage.delete(name); }
  return {
    removed,
    foreign: options.all ? listing.foreign : [],
    live: options.all ? [] : listing.live,
  };
}
