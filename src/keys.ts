/**
 * The key hierarchy (FORMAT.md §5): the master key, its subkeys, key slots
 * that seal it under a password or the recovery key, and the Ed25519 key
 * that signs the config and snapshots.
 *
 * @module
 */

import { ascii, concatBytes, fromHex, toHex } from "./_bytes.ts";
import { aesGcmOpen, aesGcmSeal } from "./aead.ts";
import {
  type Argon2idParams,
  encodeKeySlotHeader,
  type KeySlot,
  MASTER_KEY_BYTES,
  NONCE_BYTES,
  SALT_BYTES,
  SLOT_ID_BYTES,
} from "./format.ts";
import { DEFAULT_ARGON2ID, deriveArgon2id, hkdf } from "./kdf.ts";
import { normalizePassword } from "./password.ts";
import { isHexName } from "./storage/storage.ts";

/** Where key slots live (FORMAT.md §4): `keys/<hex(slot id)>`. */
export const KEYS_PREFIX = "keys/";

/** True when `name` has a key slot's shape (FORMAT.md §4); anything else under keys/ is foreign. */
export function isKeySlotName(name: string): boolean {
  return isHexName(name, KEYS_PREFIX, 2 * SLOT_ID_BYTES);
}

/** 32 random bytes: the repository's master key (FORMAT.md §5.1). */
export function generateMasterKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(MASTER_KEY_BYTES));
}

/** The subkeys of FORMAT.md §5.2. Call `wipeSubkeys` when done. */
export interface Subkeys {
  data: Uint8Array;
  meta: Uint8Array;
  id: Uint8Array;
  nonce: Uint8Array;
  cdcSeed: bigint;
  signSeed: Uint8Array;
}

/** Derives every subkey from the master key, salted with the repository id (FORMAT.md §5.2). */
export async function deriveSubkeys(
  master: Uint8Array,
  repositoryId: Uint8Array,
): Promise<Subkeys> {
  const derive = (label: string, length: number) =>
    hkdf(master, repositoryId, `cofre v1 ${label}`, length);
  const cdc = await derive("cdc", 8);
  const seed = new DataView(cdc.buffer, cdc.byteOffset, 8).getBigUint64(0, true);
  cdc.fill(0);
  return {
    data: await derive("data", 32),
    meta: await derive("meta", 32),
    id: await derive("id", 32),
    nonce: await derive("nonce", 32),
    cdcSeed: seed,
    signSeed: await derive("sign", 32),
  };
}

/** Zeroes every subkey buffer. */
export function wipeSubkeys(keys: Subkeys): void {
  for (const key of [keys.data, keys.meta, keys.id, keys.nonce, keys.signSeed]) key.fill(0);
  keys.cdcSeed = 0n;
}

// ---------------------------------------------------------------------------
// Ed25519 (RFC 8032) through WebCrypto

// RFC 8410: PKCS#8 for an Ed25519 private key is this prefix and the 32-byte seed.
const PKCS8_ED25519_PREFIX = fromHex("302e020100300506032b657004220420");

/** An Ed25519 key pair from a 32-byte seed (RFC 8032 §5.1.5). */
export async function signingKeyFromSeed(
  seed: Uint8Array,
): Promise<{ privateKey: CryptoKey; publicKey: Uint8Array }> {
  if (seed.length !== 32) {
    throw new RangeError("Cannot make a signing key: the seed must be 32 bytes");
  }
  const pkcs8 = concatBytes(PKCS8_ED25519_PREFIX, seed);
  try {
    const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
    // WebCrypto has no direct public-key export from a private key; the JWK carries it.
    const jwk = await crypto.subtle.exportKey("jwk", privateKey);
    const publicKey = base64UrlDecode(jwk.x!);
    const nonExtractable = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", false, [
      "sign",
    ]);
    return { privateKey: nonExtractable, publicKey };
  } finally {
    pkcs8.fill(0);
  }
}

/** Ed25519 signature over `label ‖ message` (labels separate the kinds of signed object). */
export async function sign(
  privateKey: CryptoKey,
  label: string,
  message: Uint8Array,
): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.sign("Ed25519", privateKey, concatBytes(ascii(label), message)),
  );
}

/** Verifies an Ed25519 signature over `label ‖ message`; false for any malformed input. */
export async function verifySignature(
  publicKey: Uint8Array,
  label: string,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      publicKey as Uint8Array<ArrayBuffer>,
      "Ed25519",
      false,
      ["verify"],
    );
    return await crypto.subtle.verify(
      "Ed25519",
      key,
      signature as Uint8Array<ArrayBuffer>,
      concatBytes(ascii(label), message),
    );
  } catch {
    return false; // e.g. a public key that is not a curve point
  }
}

function base64UrlDecode(text: string): Uint8Array {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(b64 + "=".repeat((4 - b64.length % 4) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

// ---------------------------------------------------------------------------
// Recovery keys (FORMAT.md §5.3)

export const RECOVERY_KEY_BYTES = 32;

/** A new recovery key: 32 random bytes. */
export function generateRecoveryKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(RECOVERY_KEY_BYTES));
}

/**
 * 64 hex digits in 16 groups of 4, for a person to write down.
 *
 * @example
 * ```ts
 * import { formatRecoveryKey, parseRecoveryKey } from "./keys.ts";
 * const text = formatRecoveryKey(new Uint8Array(32).fill(0xab));
 * if (text.split("-").length !== 16) throw new Error();
 * parseRecoveryKey(text.toUpperCase().replaceAll("-", " "));
 * ```
 */
export function formatRecoveryKey(key: Uint8Array): string {
  if (key.length !== RECOVERY_KEY_BYTES) {
    throw new RangeError("Cannot format the recovery key: not 32 bytes");
  }
  return toHex(key).match(/.{4}/g)!.join("-");
}

/** Accepts 64 hex digits, any case, with or without spaces and dashes; throws RangeError otherwise. */
export function parseRecoveryKey(text: string): Uint8Array {
  const compact = text.replace(/[\s-]/g, "");
  if (!/^[0-9a-fA-F]{64}$/.test(compact)) {
    throw new RangeError(
      "Cannot use the recovery key: it must be 64 hexadecimal digits (0-9, a-f), " +
        "spaces and dashes allowed",
    );
  }
  return fromHex(compact);
}

// ---------------------------------------------------------------------------
// Key slots (FORMAT.md §5.3)

/** What opens a slot: a password, or the recovery key; plus the account, if bound. */
export type SlotSecret =
  | { kind: "password"; password: string; account?: string }
  | { kind: "recovery"; recoveryKey: Uint8Array; account?: string };

const SLOT_AAD_LABEL = "cofre v1 key slot";
const RECOVERY_INFO = "cofre v1 recovery slot";

/**
 * FORMAT.md §5.3: P = u16(len(pw)) ‖ pw ‖ account. No length rule here: a
 * short password simply opens nothing, with the same answer as a wrong one.
 */
function passwordInput(password: string, account: string): Uint8Array {
  const pw = new TextEncoder().encode(password.normalize("NFC"));
  if (pw.length > 0xffff) throw new RangeError("Cannot use the password: longer than 65535 bytes");
  const input = concatBytes(new Uint8Array([pw.length & 0xff, pw.length >> 8]), pw, ascii(account));
  pw.fill(0);
  return input;
}

async function slotKey(
  secret: SlotSecret,
  salt: Uint8Array,
  argon2id: Argon2idParams | null,
): Promise<Uint8Array> {
  const account = secret.account ?? "";
  if (secret.kind === "password") {
    if (!argon2id) {
      throw new TypeError("Cannot derive a slot key: a password slot needs Argon2id parameters");
    }
    const input = passwordInput(secret.password, account);
    try {
      return await deriveArgon2id(input, salt, argon2id);
    } finally {
      input.fill(0);
    }
  }
  if (secret.recoveryKey.length !== RECOVERY_KEY_BYTES) {
    throw new RangeError("Cannot derive a slot key: the recovery key must be 32 bytes");
  }
  const ikm = concatBytes(secret.recoveryKey, ascii(account));
  try {
    return await hkdf(ikm, salt, RECOVERY_INFO, 32);
  } finally {
    ikm.fill(0);
  }
}

function slotAad(
  repositoryId: Uint8Array,
  slot: Omit<KeySlot, "nonce" | "sealedMaster">,
): Uint8Array {
  return concatBytes(ascii(SLOT_AAD_LABEL), repositoryId, encodeKeySlotHeader(slot));
}

/** Seals the master key into a new slot for `secret`. */
export async function createKeySlot(
  master: Uint8Array,
  repositoryId: Uint8Array,
  secret: SlotSecret,
  options: { argon2id?: Argon2idParams; createdMs?: number } = {},
): Promise<KeySlot> {
  // New passwords must meet the policy; existing ones are only ever tried.
  if (secret.kind === "password") normalizePassword(secret.password);
  const header = {
    kind: secret.kind,
    slotId: crypto.getRandomValues(new Uint8Array(SLOT_ID_BYTES)),
    salt: crypto.getRandomValues(new Uint8Array(SALT_BYTES)),
    argon2id: secret.kind === "password" ? { ...(options.argon2id ?? DEFAULT_ARGON2ID) } : null,
    createdMs: options.createdMs ?? Date.now(),
  };
  const key = await slotKey(secret, header.salt, header.argon2id);
  try {
    const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
    const sealedMaster = aesGcmSeal(key, nonce, master, slotAad(repositoryId, header));
    return { ...header, nonce, sealedMaster };
  } finally {
    key.fill(0);
  }
}

/**
 * Opens a slot; returns the master key, or throws `AuthenticationError` when
 * the secret (or the account, or the repository) is not the slot's.
 */
export async function openKeySlot(
  slot: KeySlot,
  repositoryId: Uint8Array,
  secret: SlotSecret,
): Promise<Uint8Array> {
  if (slot.kind !== secret.kind) {
    throw new TypeError("Cannot open the slot: it is for another kind of secret");
  }
  const key = await slotKey(secret, slot.salt, slot.argon2id);
  try {
    return aesGcmOpen(key, slot.nonce, slot.sealedMaster, slotAad(repositoryId, slot));
  } finally {
    key.fill(0);
  }
}
