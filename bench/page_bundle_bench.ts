// What sealing a database's pages one by one costs against sealing runs of
// 16 consecutive pages as one blob (the "page bundles" a later format change
// could bring; see README, Performance): every page keeps its own keyed
// BLAKE3 id in both, so dedup stays per page, while a bundle pays one zstd
// frame, one AES-GCM seal and one nonce for 16 pages. Opening is measured
// the same way, a bundle's pages each checked against their ids. Both
// bundle figures are upper bounds: the bundle is also hashed whole, as any
// blob is today (FORMAT.md §8.1), which a bundle format need not do. The pages
// are the first 4 MiB of the peers corpus's msgstore.db when it exists
// (bench/peers/make_corpus.ts), else text-like bytes. MB/s = 4.19 MB / the
// average time.

import { blobKeysFrom, loadCompressor, textLikeBytes } from "../mod.ts";
import { openBlob, sealBlob, type SealedBlob } from "../src/blob.ts";
import { equalBytes } from "../src/_bytes.ts";
import { readAllSync } from "../src/_temp_file.ts";

const PAGE = 4096;
const PAGES = 1024;
const BUNDLE_PAGES = 16;
const LEVEL = 3;

await loadCompressor();
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const keys = await blobKeysFrom({
  data: random(32),
  meta: random(32),
  id: random(32),
  nonce: random(32),
});

function pagesSource(): { bytes: Uint8Array; from: string } {
  const bytes = new Uint8Array(PAGES * PAGE);
  try {
    using file = Deno.openSync("/tmp/cofre-corpus/msgstore.db");
    if (readAllSync(file, bytes) === bytes.length) return { bytes, from: "msgstore.db" };
  } catch {
    // No corpus here: text stands in for it.
  }
  return { bytes: textLikeBytes(PAGES * PAGE), from: "text-like bytes" };
}

const { bytes, from } = pagesSource();
const pages = Array.from({ length: PAGES }, (_, i) => bytes.subarray(i * PAGE, (i + 1) * PAGE));
const bundles = Array.from(
  { length: PAGES / BUNDLE_PAGES },
  (_, i) => bytes.subarray(i * BUNDLE_PAGES * PAGE, (i + 1) * BUNDLE_PAGES * PAGE),
);

function sealPages(): { ids: Uint8Array[]; blobs: SealedBlob[] } {
  const ids = pages.map((page) => keys.id.hash(page));
  const blobs = pages.map((page, i) => sealBlob("data", page, keys, { level: LEVEL, id: ids[i] }));
  return { ids, blobs };
}

function sealBundles(): { ids: Uint8Array[]; blobs: SealedBlob[] } {
  const ids = pages.map((page) => keys.id.hash(page));
  // The bundle is sealed as today's blobs are, under the keyed hash of its
  // plaintext: one more hash of its bytes than a format might need.
  const blobs = bundles.map((bundle) => sealBlob("data", bundle, keys, { level: LEVEL }));
  return { ids, blobs };
}

const single = sealPages();
const bundled = sealBundles();
const size = (blobs: SealedBlob[]) => blobs.reduce((n, blob) => n + blob.sealed.length, 0);
console.log(
  `pages from ${from}: ${PAGES} single blobs ${size(single.blobs)} bytes sealed; ` +
    `${bundles.length} bundles of ${BUNDLE_PAGES} ${size(bundled.blobs)} bytes`,
);

Deno.bench({
  name: "seal 1024 pages, one blob each",
  group: "seal",
  baseline: true,
  fn: () => void sealPages(),
});
Deno.bench({
  name: "seal 1024 pages, bundles of 16 (ids per page)",
  group: "seal",
  fn: () => void sealBundles(),
});
Deno.bench({
  name: "open 1024 pages, one blob each",
  group: "open",
  baseline: true,
  fn: () => {
    for (const [i, blob] of single.blobs.entries()) {
      openBlob("data", single.ids[i]!, blob.sealed, PAGE, keys);
    }
  },
});
Deno.bench({
  name: "open 1024 pages, bundles of 16, each page checked",
  group: "open",
  fn: () => {
    for (const [b, blob] of bundled.blobs.entries()) {
      const plaintext = openBlob("data", blob.id, blob.sealed, BUNDLE_PAGES * PAGE, keys);
      for (let p = 0; p < BUNDLE_PAGES; p++) {
        const page = plaintext.subarray(p * PAGE, (p + 1) * PAGE);
        if (!equalBytes(keys.id.hash(page), bundled.ids[b * BUNDLE_PAGES + p]!)) {
          throw new Error("Cannot open the bundle: a page does not match its id");
        }
      }
    }
  },
});
