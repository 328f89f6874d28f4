// AES-256-GCM: Cofre's constant-time wasm seal and open, and libcrypto's
// (the host-native stage, src/_native/libcrypto.ts, where it is usable),
// next to WebCrypto (the baseline) on 64 KiB and 1 MiB pieces. The target: wasm seal
// at least 0.4× (aim 0.5×) of WebCrypto encrypt on 1 MiB. For MB/s in one
// table, run `deno run -A bench/aead_throughput.ts`. The wasm case runs first in
// each group: WebCrypto's asynchronous calls leave garbage whose collection
// would otherwise be billed to whatever runs next.

import { AEAD_BENCH_SIZES, aeadFixture } from "./aead_throughput.ts";

// V8 first runs wasm through its baseline compiler and swaps in optimised code
// per function as calls add up: measured here, the first benchmark of a file
// ran 1.5× slow without a warm-up. Warm up on the very objects the benchmarks
// use, so that every group measures the steady state a backup runs in.
const fixtures = [];
for (const bytes of AEAD_BENCH_SIZES) {
  const f = await aeadFixture(bytes);
  const start = performance.now();
  while (performance.now() - start < 1000) f.aead.open(f.nonce, f.aead.seal(f.nonce, f.plaintext));
  fixtures.push({ bytes, f });
}

for (const { bytes, f } of fixtures) {
  const group = bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`;
  const iv = { name: "AES-GCM", iv: f.nonce };
  Deno.bench({
    name: `wasm AES-256-GCM seal ${group}`,
    group: `encrypt ${group}`,
    fn() {
      f.aead.seal(f.nonce, f.plaintext);
    },
  });
  if (f.native) {
    const native = f.native;
    Deno.bench({
      name: `libcrypto AES-256-GCM seal ${group}`,
      group: `encrypt ${group}`,
      fn() {
        native.seal(f.nonce, f.plaintext);
      },
    });
    Deno.bench({
      name: `libcrypto AES-256-GCM open ${group}`,
      group: `decrypt ${group}`,
      fn() {
        native.open(f.nonce, f.sealed);
      },
    });
  }
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
