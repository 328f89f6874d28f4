// AES-256-GCM: Cofre's constant-time wasm seal and open next to WebCrypto
// (the baseline) on 64 KiB and 1 MiB pieces. The target: wasm seal
// at least 0.4× (aim 0.5×) of WebCrypto encrypt on 1 MiB. For MB/s in one
// table, run `deno run -A bench/aead_throughput.ts`. The wasm case runs first in
// each group: WebCrypto's asynchronous calls leave garbage whose collection
// would otherwise be billed to whatever runs next.

import { AEAD_BENCH_SIZES, aeadFixture } from "./aead_throughput.ts";

// V8 first runs wasm through its baseline compiler and swaps in optimised code
// per function as calls add up; measured here, seal and open of 64 KiB reach
// their steady speed only after a few hundred milliseconds of work. Warm up
// for 2 s so that every group measures the steady state a backup runs in.
{
  const f = await aeadFixture(64 * 1024);
  const start = performance.now();
  while (performance.now() - start < 2000) f.aead.open(f.nonce, f.aead.seal(f.nonce, f.plaintext));
  f.aead[Symbol.dispose]();
}

for (const bytes of AEAD_BENCH_SIZES) {
  const group = bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`;
  const f = await aeadFixture(bytes);
  const iv = { name: "AES-GCM", iv: f.nonce };
  Deno.bench({
    name: `wasm AES-256-GCM seal ${group}`,
    group: `encrypt ${group}`,
    fn() {
      f.aead.seal(f.nonce, f.plaintext);
    },
  });
  Deno.bench({
    name: `WebCrypto AES-GCM encrypt ${group}`,
    group: `encrypt ${group}`,
    baseline: true,
    async fn() {
      await crypto.subtle.encrypt(iv, f.webKey, f.plaintext);
    },
  });
  Deno.bench({
    name: `wasm AES-256-GCM open ${group}`,
    group: `decrypt ${group}`,
    fn() {
      f.aead.open(f.nonce, f.sealed);
    },
  });
  Deno.bench({
    name: `WebCrypto AES-GCM decrypt ${group}`,
    group: `decrypt ${group}`,
    baseline: true,
    async fn() {
      await crypto.subtle.decrypt(iv, f.webKey, f.sealed);
    },
  });
}
