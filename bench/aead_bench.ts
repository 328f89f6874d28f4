// AES-256-GCM: Cofre's constant-time wasm seal and open next to WebCrypto
// (the baseline) on 64 KiB and 1 MiB pieces. The target: wasm seal
// at least 0.4× (aim 0.5×) of WebCrypto encrypt on 1 MiB. For MB/s in one
// table, run `deno run -A bench/aead_throughput.ts`.

import { AEAD_BENCH_SIZES, aeadFixture } from "./aead_throughput.ts";

for (const bytes of AEAD_BENCH_SIZES) {
  const group = bytes >= 1024 * 1024 ? `${bytes / 1024 / 1024} MiB` : `${bytes / 1024} KiB`;
  const f = await aeadFixture(bytes);
  const iv = { name: "AES-GCM", iv: f.nonce };
  Deno.bench({
    name: `WebCrypto AES-GCM encrypt ${group}`,
    group: `encrypt ${group}`,
    baseline: true,
    async fn() {
      await crypto.subtle.encrypt(iv, f.webKey, f.plaintext);
    },
  });
  Deno.bench({
    name: `wasm AES-256-GCM seal ${group}`,
    group: `encrypt ${group}`,
    fn() {
      f.aead.seal(f.nonce, f.plaintext);
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
  Deno.bench({
    name: `wasm AES-256-GCM open ${group}`,
    group: `decrypt ${group}`,
    fn() {
      f.aead.open(f.nonce, f.sealed);
    },
  });
}
