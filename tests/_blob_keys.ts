// Random blob keys for the pipeline's tests: the raw subkeys (what a worker
// pool is started with) and the BlobKeys the inline stage uses.

import { blobKeysFrom, loadCompressor, type RawBlobKeys } from "../mod.ts";
import type { BlobKeys } from "../src/blob.ts";

/** Fresh random subkeys, and zstd loaded for sealing. */
export async function randomBlobKeys(): Promise<{ raw: RawBlobKeys; keys: BlobKeys }> {
  await loadCompressor();
  const raw = {
    data: crypto.getRandomValues(new Uint8Array(32)),
    meta: crypto.getRandomValues(new Uint8Array(32)),
    id: crypto.getRandomValues(new Uint8Array(32)),
    nonce: crypto.getRandomValues(new Uint8Array(32)),
  };
  return {
    raw,
    keys: await blobKeysFrom(raw),
  };
}
