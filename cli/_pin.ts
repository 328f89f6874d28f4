// The rollback pin (FORMAT.md §12.4) as backup, restore and check use it:
// compare the repository with what this device saw, warn on one line per
// finding, and move the pin forward after a successful run.

import {
  advancePin,
  type Chain,
  comparePin,
  type Config,
  defaultPinDirectory,
  FilePinStore,
  type Pin,
  type PinStore,
  readChain,
  type Storage,
} from "../mod.ts";
import type { Io } from "./_ui.ts";

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The pins of this device, or null when there is nowhere to keep them (no HOME). */
export function pinStore(io: Io): PinStore | null {
  const dir = defaultPinDirectory((name) => io.env(name));
  return dir ? new FilePinStore(dir) : null;
}

/** What a command learnt from the pin before its work. */
export interface PinCheck {
  store: PinStore | null;
  pin: Pin | null;
  /** Findings, one line each (already printed by `guardPin`). */
  warnings: string[];
}

/**
 * Compares the repository's chain with the pin; prints each finding as one
 * `cofre: warning:` line. Throws PinMismatchError when the public key differs.
 */
export async function comparePinned(
  io: Io,
  repositoryId: string,
  publicKey: string,
  chain: Pick<Chain, "links" | "head" | "breaks">,
  options: { gaps?: boolean } = {},
): Promise<PinCheck> {
  const store = pinStore(io);
  const pin = store ? await store.load(repositoryId) : null;
  const findings = comparePin(pin, { publicKey, chain }, options);
  for (const { message, pinned } of findings) {
    const accept = pinned && store
      ? ` If this is expected, delete ${store.where(repositoryId)} to accept it.`
      : "";
    io.stderr(`cofre: warning: ${message}.${accept}\n`);
  }
  return { store, pin, warnings: findings.map((f) => f.message) };
}

/** Reads the chain (no password needed) and compares it with the pin. */
export async function guardPin(
  io: Io,
  storage: Storage,
  config: Pick<Config, "publicKey" | "repositoryId">,
): Promise<PinCheck> {
  const chain = await readChain(storage, config);
  return await comparePinned(
    io,
    hex(config.repositoryId),
    hex(config.publicKey),
    chain,
  );
}

/** Reads the chain again after a run and moves the pin to its head. */
export async function advanceAfter(
  io: Io,
  check: PinCheck,
  storage: Storage,
  config: Pick<Config, "publicKey" | "repositoryId">,
): Promise<void> {
  if (!check.store) return;
  await advancePinned(io, check, {
    repositoryId: hex(config.repositoryId),
    publicKey: hex(config.publicKey),
    chain: await readChain(storage, config),
  });
}

/** Moves the pin forward to `head`; a pin that cannot be saved is a warning, not a failure. */
export async function advancePinned(
  io: Io,
  check: PinCheck,
  seen: Parameters<typeof advancePin>[1],
): Promise<void> {
  if (!check.store) return;
  const next = advancePin(check.pin, seen);
  if (!next || next === check.pin) return;
  try {
    await check.store.save(next);
  } catch (error) {
    io.stderr(`cofre: warning: cannot save the rollback pin: ${(error as Error).message}\n`);
  }
}
