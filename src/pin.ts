/**
 * Rollback and deletion detection (FORMAT.md §12.4): a device remembers, per
 * repository id, the newest (sequence, envelope hash) it has seen and the
 * config's public key, and compares every later view of the repository with
 * that pin.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { FormatError } from "./errors.ts";
import type { Chain } from "./chain.ts";

/** What a device remembers about one repository. */
export interface Pin {
  /** Hex repository id. */
  repositoryId: string;
  /** Hex Ed25519 public key from the config. */
  publicKey: string;
  /** The newest envelope seen: its sequence and hex hash. */
  sequence: bigint;
  id: string;
}

/** Where pins are kept; `FilePinStore` is the real one. */
export interface PinStore {
  load(repositoryId: string): Promise<Pin | null>;
  save(pin: Pin): Promise<void>;
  /** Where the pin of `repositoryId` lives, for messages. */
  where(repositoryId: string): string;
}

/** The config's public key differs from the pinned one: a substituted repository. */
export class PinMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PinMismatchError";
  }
}

/**
 * The pin folder: `$COFRE_STATE_DIR`, else `$XDG_STATE_HOME/cofre`, else
 * `~/.local/state/cofre`; null when none can be found (no HOME).
 */
export function defaultPinDirectory(env: (name: string) => string | undefined): string | null {
  const explicit = env("COFRE_STATE_DIR");
  if (explicit) return explicit;
  const xdg = env("XDG_STATE_HOME");
  if (xdg) return join(xdg, "cofre");
  const home = env("HOME");
  return home ? join(home, ".local", "state", "cofre") : null;
}

/** One small JSON file per repository id, replaced atomically (temp file + rename). */
export class FilePinStore implements PinStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  where(repositoryId: string): string {
    if (!/^[0-9a-f]{32}$/.test(repositoryId)) {
      throw new RangeError(`Cannot pin repository ${repositoryId}: not a repository id`);
    }
    return join(this.#dir, `${repositoryId}.pin.json`);
  }

  async load(repositoryId: string): Promise<Pin | null> {
    const path = this.where(repositoryId);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
    const fail = (): never => {
      throw new FormatError(
        `Cannot read the rollback pin ${path}: it is damaged (delete it to pin the repository afresh)`,
      );
    };
    let j: Record<string, unknown>;
    try {
      j = JSON.parse(text);
    } catch {
      return fail();
    }
    if (
      j?.repository_id !== repositoryId || typeof j.public_key !== "string" ||
      !/^[0-9a-f]{64}$/.test(j.public_key) || typeof j.sequence !== "string" ||
      !/^\d{1,20}$/.test(j.sequence) || typeof j.id !== "string" || !/^[0-9a-f]{64}$/.test(j.id)
    ) {
      return fail();
    }
    return { repositoryId, publicKey: j.public_key, sequence: BigInt(j.sequence), id: j.id };
  }

  async save(pin: Pin): Promise<void> {
    const path = this.where(pin.repositoryId);
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const temp = `${path}.tmp-${crypto.randomUUID()}`;
    const text = JSON.stringify({
      repository_id: pin.repositoryId,
      public_key: pin.publicKey,
      sequence: String(pin.sequence),
      id: pin.id,
    });
    try {
      await Deno.writeTextFile(temp, text + "\n", { mode: 0o600 });
      await Deno.rename(temp, path);
    } catch (error) {
      await Deno.remove(temp).catch(() => {});
      throw error;
    }
  }
}

/** A pin kept in memory (tests, and hosts without a file system). */
export class MemoryPinStore implements PinStore {
  readonly #pins = new Map<string, Pin>();

  load(repositoryId: string): Promise<Pin | null> {
    return Promise.resolve(this.#pins.get(repositoryId) ?? null);
  }

  save(pin: Pin): Promise<void> {
    this.#pins.set(pin.repositoryId, { ...pin });
    return Promise.resolve();
  }

  where(repositoryId: string): string {
    return `memory:${repositoryId}`;
  }
}

/**
 * Compares what the repository shows now with the pin (FORMAT.md §12.4).
 * Throws `PinMismatchError` when the public key differs; returns one
 * finding per problem: the head is older than the pin, the pinned envelope
 * is gone without a tombstone, or (unless `gaps` is false) the chain has a gap.
 */
export function comparePin(
  pin: Pin | null,
  view: { publicKey: string; chain: Pick<Chain, "links" | "head" | "breaks"> },
  options: { gaps?: boolean } = {},
): PinFinding[] {
  const warnings: PinFinding[] = [];
  if (pin && pin.publicKey !== view.publicKey) {
    throw new PinMismatchError(
      `Cannot trust the repository ${pin.repositoryId}: its config's public key is not the one ` +
        "this device saw before (the repository was replaced by another one with the same id)",
    );
  }
  const { head, links } = view.chain;
  if (pin) {
    if (!head || head.sequence < pin.sequence) {
      warnings.push({
        pinned: true,
        message:
          `the repository's newest snapshot is sequence ${
            head?.sequence ?? "none"
          }, but this device saw sequence ${pin.sequence}: snapshots were deleted or an older ` +
          "copy of the repository was put back (rollback)",
      });
    } else if (!links.some((l) => l.id === pin.id || l.forgotten === pin.id)) {
      warnings.push({
        pinned: true,
        message: `the snapshot this device last saw (sequence ${pin.sequence}, ${
          pin.id.slice(0, 8)
        }) is missing without a tombstone: it was deleted or the repository was replaced`,
      });
    }
  }
  if ((options.gaps ?? true) && view.chain.breaks.length > 0) {
    warnings.push({
      pinned: false,
      message: `the snapshot chain has ${view.chain.breaks.length} gap(s) or broken link(s): ` +
        "snapshots were deleted (run 'cofre check')",
    });
  }
  return warnings;
}

/** One thing `comparePin` found. */
export interface PinFinding {
  message: string;
  /** True when it comes from the pin (deleting the pin accepts the new state). */
  pinned: boolean;
}

/**
 * The pin after seeing a chain: it only ever moves forward (highest
 * sequence, then hash), and not at all while the pinned envelope is missing
 * without a tombstone, so that the evidence of a rollback or deletion stays
 * until the person deletes the pin.
 */
export function advancePin(
  pin: Pin | null,
  seen: {
    repositoryId: string;
    publicKey: string;
    chain: Pick<Chain, "head" | "links">;
  },
): Pin | null {
  const head = seen.chain.head;
  if (!head) return pin;
  if (pin) {
    const behind = pin.sequence > head.sequence ||
      (pin.sequence === head.sequence && pin.id >= head.id);
    const missing = !seen.chain.links.some((l) => l.id === pin.id || l.forgotten === pin.id);
    if (behind || missing) return pin;
  }
  return {
    repositoryId: seen.repositoryId,
    publicKey: seen.publicKey,
    sequence: head.sequence,
    id: head.id,
  };
}
