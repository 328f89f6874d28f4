// Small JSON records sealed under the meta key: locks and deletion plans (FORMAT.md §14).

import { ascii, concatBytes } from "./_bytes.ts";
import type { AesGcm } from "./aead.ts";
import { AuthenticationError, FormatError } from "./errors.ts";
import { NONCE_BYTES } from "./format.ts";

/** A lock or plan is a few hundred bytes; anything much larger is not one. */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;

/** `nonce ‖ AES-256-GCM(meta, nonce, JSON, label)`. */
export function sealJson(meta: AesGcm, label: string, value: unknown): Uint8Array {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  return concatBytes(nonce, meta.seal(nonce, ascii(JSON.stringify(value)), ascii(label)));
}

/** Opens a sealed JSON record; FormatError naming `name` when it is damaged or foreign. */
export function openJson(
  meta: AesGcm,
  label: string,
  bytes: Uint8Array,
  name: string,
): Record<string, unknown> {
  if (bytes.length < NONCE_BYTES + 16 || bytes.length > MAX_RECORD_BYTES) {
    throw new FormatError(`Cannot read ${name}: ${bytes.length} bytes`);
  }
  let plaintext: Uint8Array;
  try {
    plaintext = meta.open(
      bytes.subarray(0, NONCE_BYTES),
      bytes.subarray(NONCE_BYTES),
      ascii(label),
    );
  } catch (error) {
    if (error instanceof AuthenticationError) {
      throw new FormatError(`Cannot read ${name}: it does not authenticate (damaged or foreign)`);
    }
    throw error;
  }
  try {
    const value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value;
  } catch {
    // reported below
  }
  throw new FormatError(`Cannot read ${name}: not a JSON object`);
}
