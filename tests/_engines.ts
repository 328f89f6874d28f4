// The engines a test file runs its cases through: the reference always, the
// host-native stage too where this machine has it (src/_native/). Each case
// names its engine, so a failure says which implementation broke.

import {
  AesGcm as AesGcmAny,
  type AesGcmEngine,
  type CompressorEngine,
  compressorEngine,
  defaultAesGcmEngine,
} from "../mod.ts";

/** "wasm", plus "libcrypto" when the native AES-GCM stage is usable here. */
export const AEAD_ENGINES: AesGcmEngine[] = [
  "wasm",
  ...(defaultAesGcmEngine() === "libcrypto" ? ["libcrypto" as const] : []),
];

/** "zstd-codec", plus "libzstd" when the native zstd stage is usable here. */
export const ZSTD_ENGINES: CompressorEngine[] = [
  "zstd-codec",
  ...(compressorEngine() === "libzstd" ? ["libzstd" as const] : []),
];

/** `AesGcm`, `aesGcmSeal` and `aesGcmOpen` bound to one engine. */
export function aeadWith(engine: AesGcmEngine) {
  const AesGcm = class extends AesGcmAny {
    constructor(key: Uint8Array) {
      super(key, { engine });
    }
  };
  return {
    AesGcm,
    aesGcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) {
      using aead = new AesGcm(key);
      return aead.seal(nonce, plaintext, aad);
    },
    aesGcmOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array) {
      using aead = new AesGcm(key);
      return aead.open(nonce, sealed, aad);
    },
  };
}
