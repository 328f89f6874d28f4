// The same module gives the same bytes in every host: chunk boundaries,
// chunk ids (keyed BLAKE3) and sealed chunks from Cofre's own Deno code
// (src/chunker.ts, src/aead.ts; the ids from hash-wasm, the reference),
// from plain Node running examples/node/chunk_and_seal.mjs, and from headless
// Chromium running both examples/node/cofre_core.mjs and Cofre's own src/
// bundled for the browser (as the restore page is).

import { assertEquals, assertTrue } from "./_assert.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { openHeadlessPage } from "./_chromium.ts";
import { serveLoopback } from "./_loopback.ts";
import { AesGcm, cutPoints, KeyedHasher } from "../mod.ts";
import { fromHex, toHex } from "../src/_bytes.ts";

// 1 MiB with a repeated stretch (equal chunks), chunks up to 256 KiB (several
// 64 KiB passes through the example's AES-GCM region), a seeded gear table.
const data = pseudoRandomBytes(1 << 20, 8);
data.copyWithin(600_000, 100_000, 400_000);
const chunker = { minSize: 16384, avgSize: 65536, maxSize: 262144, normalization: 1 };
const seed = "81985529216486895"; // 0x0123456789abcdef
const key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const nonce = "cafebabefacedbadffffffff"; // the counter half wraps after the first chunk

interface Result {
  ends: number[];
  ids: string[];
  sealed: string[];
}

async function denoResult(): Promise<Result> {
  const ends = cutPoints(data, { ...chunker, seed: BigInt(seed) });
  using aead = new AesGcm(fromHex(key));
  using hasher = await KeyedHasher.create(fromHex(key), { engine: "hash-wasm" });
  const ids: string[] = [];
  const sealed: string[] = [];
  let start = 0;
  for (const [i, end] of ends.entries()) {
    ids.push(toHex(hasher.hash(data.subarray(start, end))));
    const chunkNonce = fromHex(nonce);
    const view = new DataView(chunkNonce.buffer);
    view.setUint32(8, (view.getUint32(8) + i) >>> 0);
    const aad = new Uint8Array(4);
    new DataView(aad.buffer).setUint32(0, i);
    sealed.push(toHex(aead.seal(chunkNonce, data.subarray(start, end), aad)));
    start = end;
  }
  return { ends, ids, sealed };
}

async function nodeResult(): Promise<Result> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/input.bin`, data);
    const script = new URL("../examples/node/chunk_and_seal.mjs", import.meta.url).pathname;
    const { min, avg, max } = { min: chunker.minSize, avg: chunker.avgSize, max: chunker.maxSize };
    const output = await new Deno.Command("node", {
      args: [
        script,
        `${dir}/input.bin`,
        "--key",
        key,
        "--nonce",
        nonce,
        "--min",
        `${min}`,
        "--avg",
        `${avg}`,
        "--max",
        `${max}`,
        "--seed",
        seed,
      ],
    }).output();
    assertTrue(output.success, new TextDecoder().decode(output.stderr));
    const { abi, ends, ids, sealed } = JSON.parse(new TextDecoder().decode(output.stdout));
    assertEquals(abi, 4);
    return { ends, ids, sealed };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Bundles Cofre's own chunker and AEAD (src/) for the browser, as the restore page is bundled. */
async function browserBundle(): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir();
  try {
    const src = new URL("../src/", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/entry.ts`,
      `export { cutPoints } from "${src}chunker.ts";\nexport { AesGcm } from "${src}aead.ts";\n` +
        `export { KeyedHasher } from "${src}chunk_id.ts";\n`,
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "browser",
        "-o",
        `${dir}/out.js`,
        `${dir}/entry.ts`,
      ],
      env: { NO_COLOR: "1" },
    }).output();
    assertTrue(output.success, new TextDecoder().decode(output.stderr));
    return await Deno.readFile(`${dir}/out.js`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** In Chromium: the example host (cofre_core.mjs), and Cofre's src/ bundled. */
async function chromiumResults(): Promise<{ example: Result; bundled: Result }> {
  await using server = serveLoopback({
    folders: ["examples/node/", "build/cofre.wasm"],
    extra: {
      "input.bin": data,
      "blank.html": new TextEncoder().encode("<!doctype html>"),
      // There, src/_wasm/core.ts finds ../../build/cofre.wasm relative to itself.
      "build/web/hosts_check.js": await browserBundle(),
    },
  });
  await using browser = await openHeadlessPage();
  await browser.page.goto(`${server.url}blank.html`);
  return await browser.page.evaluate(async (args) => {
    const fetched = async (path: string) => new Uint8Array(await (await fetch(path)).arrayBuffer());
    const hex = (bytes: Uint8Array) =>
      Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const unhex = (text: string) => Uint8Array.from(text.match(/../g)!, (b) => parseInt(b, 16));
    const input = await fetched("/input.bin");
    const chunker = { ...args.chunker, seed: BigInt(args.seed) };

    const { instantiateCore } = await import("/examples/node/cofre_core.mjs");
    const core = await instantiateCore(await fetched("/build/cofre.wasm"));
    const example = core.chunkAndSeal(input, {
      key: unhex(args.key),
      nonce: unhex(args.nonce),
      chunker,
    });

    const cofre = await import("/build/web/hosts_check.js");
    const ends: number[] = cofre.cutPoints(input, chunker);
    const aead = new cofre.AesGcm(unhex(args.key));
    const hasher = await cofre.KeyedHasher.create(unhex(args.key)); // the wasm core's BLAKE3
    const ids: string[] = [];
    const sealed: string[] = [];
    let start = 0;
    for (const [i, end] of ends.entries()) {
      ids.push(hex(hasher.hash(input.subarray(start, end))));
      const chunkNonce = unhex(args.nonce);
      const view = new DataView(chunkNonce.buffer);
      view.setUint32(8, (view.getUint32(8) + i) >>> 0);
      const aad = new Uint8Array(4);
      new DataView(aad.buffer).setUint32(0, i);
      sealed.push(hex(aead.seal(chunkNonce, input.subarray(start, end), aad)));
      start = end;
    }
    return {
      example: {
        ends: example.ends,
        ids: (example.ids as Uint8Array[]).map(hex),
        sealed: (example.sealed as Uint8Array[]).map(hex),
      },
      bundled: { ends, ids, sealed },
    };
  }, { key, nonce, chunker, seed });
}

Deno.test("Deno, Node and Chromium give byte-identical chunk boundaries, ids and sealed chunks", async () => {
  const deno = await denoResult();
  assertTrue(deno.ends.length > 4, `only ${deno.ends.length} chunks`);
  assertEquals(deno.ends.at(-1), data.length);
  const [node, chromium] = await Promise.all([nodeResult(), chromiumResults()]);
  const hosts = { node, chromium: chromium.example, "chromium, src/ bundled": chromium.bundled };
  for (const [host, result] of Object.entries(hosts)) {
    assertEquals(result.ends, deno.ends, host);
    assertEquals(result.ids, deno.ids, host);
    assertEquals(result.sealed.length, deno.sealed.length, host);
    // Compared whole: one differing byte anywhere fails.
    assertTrue(
      result.sealed.every((hex, i) => hex === deno.sealed[i]),
      `${host} sealed other bytes`,
    );
  }
});
