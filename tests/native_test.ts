// The host-native stages (src/_native/): libcrypto's AES-256-GCM and
// libzstd against the reference wasm kernel and zstd-codec, byte for byte
// where the bytes must agree, frame for frame (each reading the other's)
// where zstd versions may differ; and a repository written with the native
// stages restoring with the reference ones alone, and back. The per-engine
// vector and property suites are in aead_test.ts, aead_seal_into_test.ts,
// in_place_test.ts and compress_test.ts.

import { assertEquals, assertThrows, assertTrue } from "./_assert.ts";
import fc from "fast-check";
import {
  AesGcm,
  AuthenticationError,
  compress,
  compressorEngine,
  decompress,
  defaultAesGcmEngine,
  loadCompressor,
} from "../mod.ts";
import { createHash } from "node:crypto";
import { NativeGcmContext, nativeSha256Async } from "../src/_native/libcrypto.ts";
import { nativeZstdAvailable } from "../src/_native/libzstd.ts";
import { describeTree, pseudoRandomBytes } from "./_data.ts";
import { tempDirs } from "./_temp_dir.ts";

await loadCompressor({ engine: "zstd-codec" });
const nativeAead = defaultAesGcmEngine() === "libcrypto";
const nativeZstd = nativeZstdAvailable();
const withDir = tempDirs("cofre-native-");

if (!nativeAead || !nativeZstd) {
  // Not an error: the reference stages are what such a machine runs; say so once.
  console.warn(
    `native stages missing here (libcrypto AES-GCM: ${nativeAead}, libzstd: ${nativeZstd}); ` +
      "their comparisons below check nothing on this machine",
  );
}

Deno.test("libcrypto and the wasm kernel seal the same bytes and open each other's", () => {
  if (!nativeAead) return;
  const key = crypto.getRandomValues(new Uint8Array(32));
  using native = new AesGcm(key);
  using wasm = new AesGcm(key, { engine: "wasm" });
  assertEquals([native.engine, wasm.engine], ["libcrypto", "wasm"]);
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 300_000 }),
      fc.uint8Array({ maxLength: 100 }),
      fc.integer({ min: 1, max: 200 }),
      (plaintext, aad, nonceBytes) => {
        const nonce = crypto.getRandomValues(new Uint8Array(nonceBytes));
        const sealed = native.seal(nonce, plaintext, aad);
        assertEquals(sealed, wasm.seal(nonce, plaintext, aad));
        assertEquals(wasm.open(nonce, sealed, aad), plaintext);
        assertEquals(native.open(nonce, sealed, aad), plaintext);
        const damaged = sealed.slice();
        damaged[damaged.length >> 1]! ^= 0x80;
        assertThrows(() => native.open(nonce, damaged, aad), AuthenticationError);
      },
    ),
    { numRuns: 150 },
  );
});

Deno.test("libcrypto seals a part in place and over an uneven overlap as the kernel does", () => {
  if (!nativeAead) return;
  const key = crypto.getRandomValues(new Uint8Array(32));
  using native = new AesGcm(key);
  using wasm = new AesGcm(key, { engine: "wasm" });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 200_000 }),
      fc.integer({ min: 0, max: 40 }),
      (length, shift) => {
        const nonce = crypto.getRandomValues(new Uint8Array(12));
        const plaintext = pseudoRandomBytes(length, length + 1);
        const reference = wasm.seal(nonce, plaintext);
        // The part lies `shift` bytes after where its ciphertext goes, in one buffer.
        const buffer = new Uint8Array(shift + length + 16);
        buffer.set(plaintext, shift);
        native.sealInto(nonce, [buffer.subarray(shift, shift + length)], buffer, 0);
        assertEquals(buffer.subarray(0, length + 16), reference);
      },
    ),
    { numRuns: 80 },
  );
});

Deno.test("libcrypto's two ways of opening: verified first writes nothing on a bad tag, one pass wipes", () => {
  if (!nativeAead) return;
  const key = crypto.getRandomValues(new Uint8Array(32));
  using wasm = new AesGcm(key, { engine: "wasm" });
  const context = new NativeGcmContext(key);
  try {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200_000 }), (plaintext) => {
        const nonce = crypto.getRandomValues(new Uint8Array(12));
        const sealed = wasm.seal(nonce, plaintext);
        for (const unseen of [false, true]) {
          const out = new Uint8Array(plaintext.length);
          assertTrue(context.openInto(nonce, sealed, new Uint8Array(0), out, 0, { unseen }));
          assertEquals(out, plaintext);
        }
        sealed[sealed.length - 1]! ^= 1;
        const untouched = new Uint8Array(plaintext.length).fill(0xaa);
        assertTrue(!context.openInto(nonce, sealed, new Uint8Array(0), untouched, 0));
        assertTrue(untouched.every((b) => b === 0xaa), "verified first: nothing written");
        const wiped = new Uint8Array(plaintext.length).fill(0xaa);
        assertTrue(!context.openInto(nonce, sealed, new Uint8Array(0), wiped, 0, { unseen: true }));
        assertTrue(wiped.every((b) => b === 0), "one pass: the unverified plaintext is wiped");
        // In place, the plaintext 13 bytes before its ciphertext (a blob in its own buffer).
        const buffer = new Uint8Array(13 + sealed.length);
        buffer.set(sealed, 13);
        assertTrue(
          !context.openInto(nonce, buffer.subarray(13), new Uint8Array(0), buffer, 0, {
            unseen: true,
          }),
        );
        assertTrue(
          buffer.subarray(0, plaintext.length).every((b) => b === 0),
          "in place: the unverified plaintext is wiped",
        );
        sealed[sealed.length - 1]! ^= 1; // intact again
        buffer.set(sealed, 13);
        assertTrue(context.openInto(nonce, buffer.subarray(13), new Uint8Array(0), buffer, 0, {
          unseen: true,
        }));
        assertEquals(buffer.subarray(0, plaintext.length), plaintext);
      }),
      { numRuns: 60 },
    );
  } finally {
    context.release();
  }
});

Deno.test("COFRE_NATIVE=off leaves only the reference stages", async () => {
  const probe = `
    import { defaultAesGcmEngine, compressorEngine } from "${new URL(
    "../mod.ts",
    import.meta.url,
  )}";
    console.log(defaultAesGcmEngine(), compressorEngine());`;
  const run = async (env: Record<string, string>) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", probe],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(output.code, 0, new TextDecoder().decode(output.stderr));
    return new TextDecoder().decode(output.stdout).trim();
  };
  assertEquals(await run({ COFRE_NATIVE: "off" }), "wasm zstd-codec");
  assertEquals(await run({ COFRE_NATIVE: "0" }), "wasm zstd-codec");
  assertEquals(
    await run({}),
    `${nativeAead ? "libcrypto" : "wasm"} ${nativeZstd ? "libzstd" : "zstd-codec"}`,
  );
});

Deno.test("libzstd and zstd-codec read each other's frames, at every level", () => {
  if (!nativeZstd) return;
  assertEquals(compressorEngine(), "libzstd");
  const text = new TextEncoder().encode(
    Array.from({ length: 4000 }, (_, i) => `message ${i * 7919 % 1000} from +55 11 9${i}\n`)
      .join(""),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: text.length }),
      fc.integer({ min: 0, max: text.length }),
      fc.integer({ min: 1, max: 19 }),
      (a, b, level) => {
        const input = text.subarray(Math.min(a, b), Math.max(a, b));
        for (
          const [writer, reader] of [["libzstd", "zstd-codec"], ["zstd-codec", "libzstd"]] as const
        ) {
          const frame = compress(input, { level, engine: writer });
          assertEquals(decompress(frame, { maxBytes: input.length, engine: reader }), input);
        }
      },
    ),
    { numRuns: 60 },
  );
  // Larger than zstd-codec's one-call limit (it streams those).
  const big = new Uint8Array(3 << 20);
  for (let at = 0; at < big.length; at += text.length) {
    big.set(text.subarray(0, big.length - at), at);
  }
  for (const [writer, reader] of [["libzstd", "zstd-codec"], ["zstd-codec", "libzstd"]] as const) {
    const frame = compress(big, { level: 3, engine: writer });
    assertTrue(frame.length < big.length / 10, `${writer}: ${frame.length} bytes`);
    assertEquals(decompress(frame, { maxBytes: big.length, engine: reader }), big);
  }
});

async function cli(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 0, `cofre ${args.join(" ")}: ${text}`);
}

Deno.test("a repository written with the native stages restores with the reference ones, and back", async () => {
  await withDir(async (dir) => {
    const source = `${dir}/source`;
    await Deno.mkdir(`${source}/media`, { recursive: true });
    const lines = Array.from({ length: 30_000 }, (_, i) => `row ${i}: hello from ${i % 97}\n`);
    await Deno.writeTextFile(`${source}/messages.txt`, lines.join(""));
    await Deno.writeFile(`${source}/media/video.bin`, pseudoRandomBytes(3 << 20, 9));
    const env = {
      COFRE_REPOSITORY: `${dir}/repo`,
      COFRE_PASSWORD: "native stages test password",
      COFRE_ACCOUNT: "+5511999998888",
    };
    const reference = { ...env, COFRE_NATIVE: "off" };
    await cli(["init"], env);
    await cli(["backup", source], env);
    await cli(["restore", "latest", "--target", `${dir}/by-reference`], reference);
    assertEquals(
      await describeTree(`${dir}/by-reference/source`, ""),
      await describeTree(source, ""),
    );
    // Written by the reference stages (new text), restored by the native ones.
    await Deno.writeTextFile(`${source}/messages.txt`, lines.reverse().join(""));
    await cli(["backup", source], reference);
    await cli(["restore", "latest", "--target", `${dir}/by-native`], env);
    await cli(["check", "--read-data"], reference);
    await cli(["check", "--read-data"], env);
    assertEquals(await describeTree(`${dir}/by-native/source`, ""), await describeTree(source, ""));
  });
});

Deno.test("libcrypto's SHA-256 off the thread equals node:crypto's, for any mix of page-sized and large parts, at once", async () => {
  if (!nativeAead) return;
  const part = fc.oneof(
    fc.uint8Array({ maxLength: 5_000 }), // database pages, gathered before hashing
    fc.integer({ min: 250_000, max: 1_200_000 }).map((n) => pseudoRandomBytes(n, n)),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(part, { maxLength: 400 }), { minLength: 1, maxLength: 3 }),
      async (packs) => {
        // Several packs named at once: each has a context of its own.
        const digests = await Promise.all(packs.map((parts) => nativeSha256Async(parts)));
        packs.forEach((parts, i) => {
          const expected = createHash("sha256");
          for (const p of parts) expected.update(p);
          assertEquals(digests[i], new Uint8Array(expected.digest()));
        });
      },
    ),
    { numRuns: 30 },
  );
});
