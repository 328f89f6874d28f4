/**
 * Settings records (FORMAT.md §13): the repository's mutable settings (today
 * the backup schedule), sealed under the meta key, signed, and superseded by
 * sequence number, so every device that opens the repository follows them.
 *
 * @module
 */

import { ascii, ByteReader, ByteWriter, concatBytes, equalBytes } from "./_bytes.ts";
import { AuthenticationError, FormatError } from "./errors.ts";
import { AES_GCM_TAG_BYTES } from "./aead.ts";
import { NONCE_BYTES, REPOSITORY_ID_BYTES, SIGNATURE_BYTES } from "./format.ts";
import { sign, verifySignature } from "./keys.ts";
import type { SnapshotKeys } from "./snapshot.ts";
import { getHashNamed, isHexName, putHashNamed, type Storage } from "./storage/storage.ts";

export const SETTINGS_PREFIX = "settings/";
const SETTINGS_MAGIC = "cofreset";
const SETTINGS_VERSION = 1;
/** FORMAT.md §13: the label of both the seal's AAD and the signature. */
const SETTINGS_LABEL = "cofre v1 settings";
/** Offset of the `s` field: the sealed settings are bound to bytes 0..41. */
const SETTINGS_HEADER_BYTES = 41;
/** Settings are a few members; anything larger is damage. */
const MAX_SEALED_SETTINGS = 64 * 1024;

/** How often `backup --if-due` backs up. */
export type Schedule = "off" | "daily" | "weekly" | "monthly";
export const SCHEDULES: readonly Schedule[] = ["off", "daily", "weekly", "monthly"];

/** The repository's settings (FORMAT.md §13). */
export interface Settings {
  schedule: Schedule;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = { schedule: "off" };

/** The settings in force, where they come from, and records that were ignored. */
export interface StoredSettings {
  settings: Settings;
  /** Sequence of the record in force; -1n when none (the defaults). */
  sequence: bigint;
  /** Time the record in force was written (ms); null for the defaults. */
  timeMs: number | null;
  /** Names of the valid records, the one in force included. */
  records: string[];
  /** Records that failed a check, with why: reported, never obeyed. */
  damaged: { name: string; reason: string }[];
}

function encodeSettingsJson(settings: Settings): Uint8Array {
  return ascii(JSON.stringify({ schedule: settings.schedule }));
}

function decodeSettingsJson(bytes: Uint8Array, id: string): Settings {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new FormatError(`Cannot read settings ${id}: not UTF-8 JSON`);
  }
  if (typeof j !== "object" || j === null) {
    throw new FormatError(`Cannot read settings ${id}: not a JSON object`);
  }
  const schedule = j.schedule ?? DEFAULT_SETTINGS.schedule;
  if (!SCHEDULES.includes(schedule as Schedule)) {
    throw new FormatError(
      `Cannot read settings ${id}: unknown schedule ${JSON.stringify(schedule)}`,
    );
  }
  return { schedule: schedule as Schedule };
}

/** Seals, signs and stores a record that supersedes `previousSequence`; returns its name. */
export async function writeSettings(
  storage: Storage,
  keys: SnapshotKeys,
  settings: Settings,
  options: { previousSequence: bigint; timeMs?: number },
): Promise<string> {
  const header = new ByteWriter(SETTINGS_HEADER_BYTES)
    .ascii(SETTINGS_MAGIC)
    .u8(SETTINGS_VERSION)
    .bytes(keys.repositoryId)
    .u64(options.previousSequence + 1n)
    .u64(options.timeMs ?? Date.now())
    .finish();
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const sealed = concatBytes(
    nonce,
    keys.meta.seal(nonce, encodeSettingsJson(settings), concatBytes(ascii(SETTINGS_LABEL), header)),
  );
  const signed = new ByteWriter().bytes(header).u32(sealed.length).bytes(sealed).finish();
  const signature = await sign(keys.signingKey, SETTINGS_LABEL, signed);
  const bytes = concatBytes(signed, signature);
  return SETTINGS_PREFIX + await putHashNamed(storage, SETTINGS_PREFIX, bytes);
}

/** Reads and verifies one record (FORMAT.md §13); FormatError on any failed check. */
export async function readSettingsRecord(
  storage: Storage,
  name: string,
  keys: Pick<SnapshotKeys, "meta" | "publicKey" | "repositoryId">,
): Promise<{ settings: Settings; sequence: bigint; timeMs: number }> {
  const id = name.slice(SETTINGS_PREFIX.length);
  const bytes = await getHashNamed(storage, SETTINGS_PREFIX, id, "settings");
  const r = new ByteReader(bytes, "settings record");
  r.magic(SETTINGS_MAGIC);
  const version = r.u8("version");
  if (version !== SETTINGS_VERSION) r.fail(`format version ${version}, expected 1`);
  const repositoryId = r.bytes(REPOSITORY_ID_BYTES, "repository id");
  const sequence = r.u64("sequence");
  const timeMs = r.safeU64("time");
  const s = r.u32("sealed settings length");
  if (
    s < NONCE_BYTES + AES_GCM_TAG_BYTES || s > MAX_SEALED_SETTINGS ||
    s + SIGNATURE_BYTES !== r.remaining
  ) {
    r.fail(`sealed settings of ${s} bytes do not fit`);
  }
  const sealed = r.bytes(s, "sealed settings");
  const signature = r.bytes(SIGNATURE_BYTES, "signature");
  r.end();
  if (!equalBytes(repositoryId, keys.repositoryId)) {
    throw new FormatError(`Cannot read settings ${id}: they belong to another repository`);
  }
  const signed = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
  if (!(await verifySignature(keys.publicKey, SETTINGS_LABEL, signed, signature))) {
    throw new FormatError(`Cannot read settings ${id}: the signature does not verify`);
  }
  let json: Uint8Array;
  try {
    json = keys.meta.open(
      sealed.subarray(0, NONCE_BYTES),
      sealed.subarray(NONCE_BYTES),
      concatBytes(ascii(SETTINGS_LABEL), bytes.subarray(0, SETTINGS_HEADER_BYTES)),
    );
  } catch (error) {
    if (error instanceof AuthenticationError) {
      throw new FormatError(`Cannot read settings ${id}: they do not authenticate`);
    }
    throw error;
  }
  return { settings: decodeSettingsJson(json, id), sequence, timeMs };
}

/** The settings in force: the valid record with the highest sequence (FORMAT.md §13). */
export async function readSettings(
  storage: Storage,
  keys: Pick<SnapshotKeys, "meta" | "publicKey" | "repositoryId">,
): Promise<StoredSettings> {
  const out: StoredSettings = {
    settings: { ...DEFAULT_SETTINGS },
    sequence: -1n,
    timeMs: null,
    records: [],
    damaged: [],
  };
  let best: { name: string; sequence: bigint; timeMs: number } | null = null;
  for await (const { name } of storage.list(SETTINGS_PREFIX)) {
    if (!isHexName(name, SETTINGS_PREFIX)) continue; // foreign (FORMAT.md §4)
    let record;
    try {
      record = await readSettingsRecord(storage, name, keys);
    } catch (error) {
      if (!(error instanceof FormatError)) throw error;
      out.damaged.push({ name, reason: error.message });
      continue;
    }
    out.records.push(name);
    const wins = best === null || record.sequence > best.sequence ||
      (record.sequence === best.sequence &&
        (record.timeMs > best.timeMs || (record.timeMs === best.timeMs && name > best.name)));
    if (wins) {
      best = { name, sequence: record.sequence, timeMs: record.timeMs };
      out.settings = record.settings;
      out.sequence = record.sequence;
      out.timeMs = record.timeMs;
    }
  }
  return out;
}
