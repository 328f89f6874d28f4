// The same module gives the same bytes in every host: chunk boundaries and
// sealed chunks from Cofre's own Deno code (src/chunker.ts, src/aead.ts),
// from plain Node running examples/node/chunk_and_seal.mjs, and from headless
// Chromium running examples/node/cofre_core.mjs.

import { assertEquals, assertTrue } from "./_assert.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { openHeadlessPage } from "./_chromium.ts";
import { serveLoopback } from "./_loopback.ts";
import { AesGcm, cutPoints } from "../mod.ts";
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
  sealed: string[];
}

function denoResult(): Result {
  const ends = cutPoints(data, { ...chunker, seed: BigInt(seed) });
  using aead = new AesGcm(fromHex(key));
  const sealed: string[] = [];
  let start = 0;
  for (const [i, end] of ends.entries()) {
    const chunkNonce = fromHex(nonce);
    const view = new DataView(chunkNonce.buffer);
    view.setUint32(8, (view.getUint32(8) + i) >>> 0);
    const aad = new Uint8Array(4);
    new DataView(aad.buffer).setUint32(0, i);
    sealed.push(toHex(aead.seal(chunkNonce, data.subarray(start, end), aad)));
    start = end;
  }
  return { ends, sealed };
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
    const { abi, ends, sealed } = JSON.parse(new TextDecoder().decode(output.stdout));
    assertEquals(abi, 3);
    return { ends, sealed };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function chromiumResult(): Promise<Result> {
  await using server = serveLoopback({
    folders: ["examples/node/", "build/"],
    extra: { "input.bin": data, "blank.html": new TextEncoder().encode("<!doctype html>") },
  });
  await using browser = await openHeadlessPage();
  await browser.page.goto(`${server.url}blank.html`);
  return await browser.page.evaluate(async (args) => {
    const { instantiateCore } = await import("/examples/node/cofre_core.mjs");
    const fetched = async (path: string) => new Uint8Array(await (await fetch(path)).arrayBuffer());
    const hex = (bytes: Uint8Array) =>
      Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    const unhex = (text: string) => Uint8Array.from(text.match(/../g)!, (b) => parseInt(b, 16));
    const core = await instantiateCore(await fetched("/build/cofre.wasm"));
    const { ends, sealed } = core.chunkAndSeal(await fetched("/input.bin"), {
      key: unhex(args.key),
      nonce: unhex(args.nonce),
      chunker: { ...args.chunker, seed: BigInt(args.seed) },
    });
    return { ends, sealed: (sealed as Uint8Array[]).map(hex) };
  }, { key, nonce, chunker, seed });
}

Deno.test("Deno, Node and Chromium give byte-identical chunk boundaries and sealed chunks", async () => {
  const deno = denoResult();
  assertTrue(deno.ends.length > 4, `only ${deno.ends.length} chunks`);
  assertEquals(deno.ends.at(-1), data.length);
  const [node, chromium] = await Promise.all([nodeResult(), chromiumResult()]);
  assertEquals(node.ends, deno.ends);
  assertEquals(chromium.ends, deno.ends);
  // Compared whole: one differing byte anywhere fails.
  assertTrue(node.sealed.every((hex, i) => hex === deno.sealed[i]), "Node sealed other bytes");
  assertTrue(
    chromium.sealed.every((hex, i) => hex === deno.sealed[i]),
    "Chromium sealed other bytes",
  );
  assertEquals([node.sealed.length, chromium.sealed.length], [
    deno.sealed.length,
    deno.sealed.length,
  ]);
});
