// FastCDC throughput against WebCrypto SHA-256 on the same data (issue #2's
// target: the chunker at least 1.5× SHA-256). `deno task bench` prints time
// per iteration and, per group, how many times faster each case is than the
// baseline; MB/s = 16.78 MB / the average time.

import { cutPoints, DEFAULT_CHUNKER_OPTIONS, randomBytes, StreamingChunker } from "../mod.ts";

const SIZE_BYTES = 16 * 1024 * 1024;
const data = randomBytes(SIZE_BYTES);
const zeros = new Uint8Array(SIZE_BYTES);

Deno.bench({
  name: "SHA-256 WebCrypto, 16 MiB random",
  group: "chunker-random",
  baseline: true,
  async fn() {
    await crypto.subtle.digest("SHA-256", data);
  },
});

Deno.bench({
  name: "FastCDC cutPoints 256K/1M/4M, 16 MiB random",
  group: "chunker-random",
  fn() {
    cutPoints(data, DEFAULT_CHUNKER_OPTIONS);
  },
});

Deno.bench({
  name: "FastCDC StreamingChunker 1 MiB pushes with chunk copies, 16 MiB random",
  group: "chunker-random",
  fn() {
    using chunker = new StreamingChunker({ ...DEFAULT_CHUNKER_OPTIONS, seed: 0x5eedn });
    for (let at = 0; at < SIZE_BYTES; at += 1 << 20) {
      chunker.push(data.subarray(at, at + (1 << 20)));
    }
    chunker.finish();
  },
});

Deno.bench({
  name: "FastCDC cutPoints 256K/1M/4M, 16 MiB zeros (no cut before max)",
  group: "chunker-random",
  fn() {
    cutPoints(zeros, DEFAULT_CHUNKER_OPTIONS);
  },
});

Deno.bench({
  name: "FastCDC cutPoints 16K/64K/256K, 16 MiB random",
  group: "chunker-random",
  fn() {
    cutPoints(data, { minSize: 16384, avgSize: 65536, maxSize: 262144 });
  },
});
