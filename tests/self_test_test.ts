// The module's own known-answer tests (ABI.md §6): they pass in Deno and
// under wabt's wasm-interp (a host with no JavaScript at all), their expected
// values trace back to the reference chunker and the published vectors, and
// a module whose known answers were damaged reports the failed check's code.

import { assertEquals, assertTrue } from "./_assert.ts";
import { pseudoRandomBytes } from "./_data.ts";
import type { CoreExports } from "../src/_wasm/core.ts";
import { cutPoints, KeyedHasher } from "../mod.ts";

const WASM = new URL("../build/cofre.wasm", import.meta.url);
const wasmBytes = await Deno.readFile(WASM);
const source = await Deno.readTextFile(new URL("../assembly/self_test.ts", import.meta.url));

async function instantiate(bytes: Uint8Array<ArrayBuffer>): Promise<CoreExports> {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  return instance.exports as unknown as CoreExports;
}

/**
 * AssemblyScript keeps string literals in UTF-16LE; these are ASCII. The last
 * zero byte is left out: binaryen trims trailing zeros off the data segment.
 */
function utf16(text: string): string {
  return [...text].map((c) => c + "\0").join("").slice(0, -1);
}

/** The module with the string literal `find` replaced by `replace` (same length). */
function patched(find: string, replace: string): Uint8Array<ArrayBuffer> {
  const text = new TextDecoder("latin1").decode(wasmBytes);
  const at = text.indexOf(utf16(find));
  assertTrue(at > 0, `${find} is not in the module`);
  const copy = wasmBytes.slice();
  copy.set(new TextEncoder().encode(utf16(replace)), at);
  return copy;
}

function constant(name: string): string {
  const match = source.match(new RegExp(`const ${name}[^=]*=\\s*"?([^";]+)"?;`));
  assertTrue(match !== null, `${name} not found in assembly/self_test.ts`);
  return match![1]!.replace(/\s/g, "");
}

/** Runs every parameterless export under wasm-interp; returns self_test's result. */
async function wasmInterpSelfTest(path: string): Promise<string> {
  let output;
  try {
    output = await new Deno.Command("wasm-interp", { args: [path, "--run-all-exports"] }).output();
  } catch (error) {
    throw new Error(`Cannot run wasm-interp (apt-get install -y wabt): ${error}`);
  }
  const stdout = new TextDecoder().decode(output.stdout);
  assertTrue(output.success, stdout + new TextDecoder().decode(output.stderr));
  return stdout.match(/^self_test\(\) => (.*)$/m)?.[1] ?? `no self_test line in: ${stdout}`;
}

Deno.test("self_test() passes in Deno, and calling it again does not grow memory", async () => {
  const w = await instantiate(wasmBytes.slice());
  assertEquals(w.self_test(), 0);
  const pages = w.memory.buffer.byteLength;
  assertEquals(w.self_test(), 0);
  assertEquals(w.memory.buffer.byteLength, pages);
});

Deno.test("self_test()'s FastCDC answers are the chunker's cuts of the seeded input", () => {
  const data = pseudoRandomBytes(8192, 2026);
  for (
    const [name, seed] of [["CUTS_UNSEEDED", 0n], ["CUTS_SEEDED", 0x0123456789abcdefn]] as const
  ) {
    const lengths = constant(name).replace(/^\[|,?\]$/g, "").split(",").map(Number);
    const ends: number[] = [];
    let end = 0;
    for (const length of lengths) ends.push(end += length);
    const options = { minSize: 64, avgSize: 256, maxSize: 1024, normalization: 1, seed };
    assertEquals(ends, cutPoints(data, options), name);
  }
});

Deno.test("self_test()'s AES-GCM answers are the NIST and Wycheproof vectors", async () => {
  const rsp = (await Deno.readTextFile(
    new URL("./vectors/nist-gcm/gcmEncryptExtIV256.rsp", import.meta.url),
  )).replaceAll("\r\n", "\n");
  const nist = ["KEY", "IV", "PT", "AAD", "CT", "TAG"].map((f) => constant(`NIST_${f}`));
  const labels = ["Key", "IV", "PT", "AAD", "CT", "Tag"];
  const block = nist.map((hex, i) => `${labels[i]} = ${hex}`).join("\n");
  assertTrue(rsp.includes(block), "the NIST vector is not in gcmEncryptExtIV256.rsp");

  const wycheproof = JSON.parse(
    await Deno.readTextFile(new URL("./vectors/wycheproof_aes_gcm_test.json", import.meta.url)),
  ) as { testGroups: { tests: Record<string, unknown>[] }[] };
  const tc = wycheproof.testGroups.flatMap((g) => g.tests).find((t) => t.tcId === 100)!;
  assertEquals(
    ["KEY", "IV", "AAD", "PT", "CT", "TAG"].map((f) => constant(`WYCHEPROOF_${f}`)),
    [tc.key, tc.iv, tc.aad, tc.msg, tc.ct, tc.tag],
  );
  assertEquals(tc.result, "valid");
});

Deno.test("self_test()'s BLAKE3 answers are the official keyed_hash vectors (hash-wasm agrees)", async () => {
  // The same values are in tests/chunk_id_test.ts's table of the official vectors.
  const key = new TextEncoder().encode(source.match(/const B3_KEY = "([^"]+)";/)![1]);
  assertEquals(key.length, 32);
  using reference = await KeyedHasher.create(key, { engine: "hash-wasm" });
  for (const length of [1023, 4096, 8193]) {
    const input = Uint8Array.from({ length }, (_, i) => i % 251);
    const hex = Array.from(reference.hash(input), (b) => b.toString(16).padStart(2, "0")).join("");
    assertEquals(constant(`B3_${length}`), hex, `${length} bytes`);
  }
});

Deno.test("a damaged known answer gives that check's code", async () => {
  const ct = constant("NIST_CT");
  const wrongCt = (ct[0] === "0" ? "1" : "0") + ct.slice(1);
  assertEquals((await instantiate(patched(ct, wrongCt))).self_test(), 301);
  const tag = constant("WYCHEPROOF_TAG");
  const wrongTag = (tag[0] === "0" ? "1" : "0") + tag.slice(1);
  assertEquals((await instantiate(patched(tag, wrongTag))).self_test(), 312);
  const b3 = constant("B3_4096");
  const wrongB3 = (b3[0] === "0" ? "1" : "0") + b3.slice(1);
  assertEquals((await instantiate(patched(b3, wrongB3))).self_test(), 411);
});

Deno.test("self_test() passes under wabt's wasm-interp, a host without JavaScript", async () => {
  assertEquals(await wasmInterpSelfTest(WASM.pathname), "i32:0");
  // And the interpreter really runs the checks: a damaged vector fails there too.
  const dir = await Deno.makeTempDir();
  try {
    const ct = constant("NIST_CT");
    await Deno.writeFile(`${dir}/damaged.wasm`, patched(ct, "f" + ct.slice(1)));
    assertEquals(await wasmInterpSelfTest(`${dir}/damaged.wasm`), "i32:301");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
