#!/usr/bin/env node
// Chunks a file with FastCDC, hashes every chunk with keyed BLAKE3 and seals
// it with AES-256-GCM, using build/cofre.wasm from plain Node (no Deno):
// prints JSON with the chunk ends, each chunk's id and each sealed chunk in hex.
//
//   node examples/node/chunk_and_seal.mjs FILE --key HEX64 --nonce HEX24 \
//     [--min 65536] [--avg 262144] [--max 1048576] [--seed 0]
//
// Chunk i is sealed under the nonce plus i (see chunkAndSeal in
// cofre_core.mjs, which also runs unchanged in a browser).

import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { instantiateCore } from "./cofre_core.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    key: { type: "string" },
    nonce: { type: "string" },
    min: { type: "string", default: "65536" },
    avg: { type: "string", default: "262144" },
    max: { type: "string", default: "1048576" },
    seed: { type: "string", default: "0" },
  },
});
if (positionals.length !== 1 || !values.key || !values.nonce) {
  console.error(
    "usage: chunk_and_seal.mjs FILE --key HEX64 --nonce HEX24 [--min N --avg N --max N --seed N]",
  );
  process.exit(2);
}

const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

const core = await instantiateCore(
  await readFile(new URL("../../build/cofre.wasm", import.meta.url)),
);
const data = new Uint8Array(await readFile(positionals[0]));
const key = fromHex(values.key);
const nonce = fromHex(values.nonce);
const { ends, ids, sealed } = core.chunkAndSeal(data, {
  key,
  nonce,
  chunker: {
    minSize: Number(values.min),
    avgSize: Number(values.avg),
    maxSize: Number(values.max),
    seed: BigInt(values.seed),
  },
});
console.log(JSON.stringify({ abi: 4, ends, ids: ids.map(toHex), sealed: sealed.map(toHex) }));
