/**
 * AES-256-GCM throughput, wasm (Cofre's core) next to WebCrypto, for
 * `bench/aead_bench.ts` and for a `cofre bench` command to print. Not part of
 * the public API.
 *
 * @module
 */

import { AesGcm, defaultAesGcmEngine } from "../mod.ts";

const KIB = 1024;
const MIB = 1024 * KIB;

/** The piece sizes the issue asks about. */
export const AEAD_BENCH_SIZES: readonly number[] = [64 * KIB, 1 * MIB];

/** One measurement: MB/s (10^6 bytes per second) of each operation at one size. */
export interface AeadThroughput {
  bytes: number;
  wasmSeal: number;
  wasmOpen: number;
  webCryptoEncrypt: number;
  webCryptoDecrypt: number;
}

/** Inputs for one size: a key, a nonce, a random plaintext and its sealed form both ways. */
export async function aeadFixture(bytes: number) {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const nonce = crypto.getRandomValues(new Uint8Array(12));
  const plaintext = new Uint8Array(bytes);
  for (let at = 0; at < bytes; at += 65536) {
    crypto.getRandomValues(plaintext.subarray(at, at + 65536));
  }
  // The wasm kernel, and libcrypto's AES-GCM where it is usable (src/_native/).
  const aead = new AesGcm(key, { engine: "wasm" });
  const native = defaultAesGcmEngine() === "libcrypto" ? new AesGcm(key) : undefined;
  const webKey = await crypto.subtle.importKey("raw", key, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  const sealed = aead.seal(nonce, plaintext);
  return { aead, native, webKey, nonce, plaintext, sealed };
}

async function rate(bytes: number, seconds: number, op: () => unknown): Promise<number> {
  // Warm up: V8 swaps optimised wasm code in after a while (see aead_bench.ts).
  const warm = performance.now();
  while (performance.now() - warm < 1000) await op();
  let runs = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    await op();
    runs++;
    elapsed = performance.now() - start;
  }
  return (runs * bytes) / 1e6 / (elapsed / 1000);
}

/** Measures each operation for about `seconds` per size. */
export async function measureAeadThroughput(
  sizes: readonly number[] = AEAD_BENCH_SIZES,
  seconds = 1,
): Promise<AeadThroughput[]> {
  const rows: AeadThroughput[] = [];
  for (const bytes of sizes) {
    const f = await aeadFixture(bytes);
    const iv = { name: "AES-GCM", iv: f.nonce };
    try {
      rows.push({
        bytes,
        wasmSeal: await rate(bytes, seconds, () => f.aead.seal(f.nonce, f.plaintext)),
        wasmOpen: await rate(bytes, seconds, () => f.aead.open(f.nonce, f.sealed)),
        webCryptoEncrypt: await rate(
          bytes,
          seconds,
          () => crypto.subtle.encrypt(iv, f.webKey, f.plaintext),
        ),
        webCryptoDecrypt: await rate(
          bytes,
          seconds,
          () => crypto.subtle.decrypt(iv, f.webKey, f.sealed),
        ),
      });
    } finally {
      f.aead[Symbol.dispose]();
    }
  }
  return rows;
}

if (import.meta.main) {
  for (const row of await measureAeadThroughput()) {
    const size = row.bytes >= MIB ? `${row.bytes / MIB} MiB` : `${row.bytes / KIB} KiB`;
    console.log(
      `${size}: wasm seal ${row.wasmSeal.toFixed(0)} MB/s, open ${row.wasmOpen.toFixed(0)} MB/s; ` +
        `WebCrypto encrypt ${row.webCryptoEncrypt.toFixed(0)} MB/s, decrypt ` +
        `${row.webCryptoDecrypt.toFixed(0)} MB/s; seal/encrypt ` +
        `${(row.wasmSeal / row.webCryptoEncrypt).toFixed(2)}×`,
    );
  }
}
