// AES-256-GCM (src/aead.ts and the kernels behind it): external vectors
// (Wycheproof, NIST CAVP), the streaming ABI split at every block offset,
// differential tests against WebCrypto, round-trip properties and misuse.

import fc from "fast-check";
import { AES_GCM_TAG_BYTES, AuthenticationError } from "../mod.ts";
import { AEAD_ENGINES, aeadWith } from "./_engines.ts";
import {
  core,
  memoryBytes,
  STATUS_AUTH_FAILED,
  STATUS_BAD_ARGUMENT,
  STATUS_OK,
} from "../src/_wasm/core.ts";
import { concatBytes, fromHex, toHex } from "../src/_bytes.ts";

// --- helpers ---------------------------------------------------------------

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(out.subarray(at, at + 65536));
  return out;
}

function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  if (actual.length !== expected.length || toHex(actual) !== toHex(expected)) {
    throw new Error(`${what}: got ${toHex(actual)}, expected ${toHex(expected)}`);
  }
}

// deno-lint-ignore no-explicit-any
function assertThrowsClass(fn: () => unknown, kind: new (...args: any[]) => Error): void {
  try {
    fn();
  } catch (error) {
    if (error instanceof kind && error.constructor === kind) return;
    throw new Error(`expected ${kind.name}, got ${error}`);
  }
  throw new Error(`expected ${kind.name}, nothing was thrown`);
}

async function webSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  pt: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key as BufferSource, "AES-GCM", false, [
    "encrypt",
  ]);
  return new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce as BufferSource, additionalData: aad as BufferSource },
      k,
      pt as BufferSource,
    ),
  );
}

async function webOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key as BufferSource, "AES-GCM", false, [
    "decrypt",
  ]);
  return new Uint8Array(
    await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: nonce as BufferSource, additionalData: aad as BufferSource },
      k,
      sealed as BufferSource,
    ),
  );
}

// --- Wycheproof ------------------------------------------------------------

interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
  result: "valid" | "invalid" | "acceptable";
}

interface WycheproofGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: WycheproofTest[];
}

const wycheproof = JSON.parse(
  await Deno.readTextFile(new URL("./vectors/wycheproof_aes_gcm_test.json", import.meta.url)),
) as { testGroups: WycheproofGroup[] };

interface CavpCase {
  id: string;
  fields: Map<string, string>;
  fail: boolean;
}

function parseRsp(text: string, file: string): CavpCase[] {
  const cases: CavpCase[] = [];
  const params = new Map<string, string>();
  let current: CavpCase | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const section = /^\[(\w+) = (\d+)\]$/.exec(line);
    if (section) {
      params.set(section[1]!, section[2]!);
      continue;
    }
    if (line === "FAIL" && current) {
      current.fail = true;
      continue;
    }
    const field = /^(\w+) = ?(.*)$/.exec(line);
    if (!field) continue;
    if (field[1] === "Count") {
      const p = [...params].map(([k, v]) => `${k}=${v}`).join(",");
      current = { id: `${file} [${p}] Count ${field[2]}`, fields: new Map(params), fail: false };
      cases.push(current);
    } else if (current) {
      current.fields.set(field[1]!, field[2]!);
    }
  }
  return cases;
}

async function cavp(file: string): Promise<CavpCase[]> {
  const text = await Deno.readTextFile(new URL(`./vectors/nist-gcm/${file}`, import.meta.url));
  return parseRsp(text, file).filter((c) => c.fields.get("Taglen") === "128");
}

function streamed(
  key: Uint8Array,
  nonce: Uint8Array,
  text: Uint8Array,
  aad: Uint8Array,
  aadCuts: number[],
  textCuts: number[],
): { sealed: Uint8Array; opened: Uint8Array } {
  const ctx = core.alloc(core.gcm_context_bytes());
  const buf = core.alloc(1024);
  const mem = memoryBytes();
  const expect = (status: number) => {
    if (status !== STATUS_OK) throw new Error(`status ${status}`);
  };
  const pieces = (data: Uint8Array, cuts: number[]) => {
    const bounds = [0, ...cuts, data.length];
    return bounds.slice(1).map((end, i) => data.subarray(bounds[i], end));
  };
  mem.set(key, buf);
  expect(core.gcm_init(ctx, buf));
  const begin = () => {
    mem.set(nonce, buf);
    expect(core.gcm_start(ctx, buf, nonce.length));
    for (const p of pieces(aad, aadCuts)) {
      mem.set(p, buf);
      expect(core.gcm_aad_update(ctx, buf, p.length));
    }
  };
  begin();
  const sealed: Uint8Array[] = [];
  for (const p of pieces(text, textCuts)) {
    mem.set(p, buf);
    expect(core.gcm_seal_update(ctx, buf, p.length));
    sealed.push(mem.slice(buf, buf + p.length));
  }
  expect(core.gcm_seal_finish(ctx, buf));
  sealed.push(mem.slice(buf, buf + 16));
  const whole = concatBytes(...sealed);
  begin();
  const ct = whole.subarray(0, text.length);
  for (const p of pieces(ct, textCuts)) {
    mem.set(p, buf);
    expect(core.gcm_open_update(ctx, buf, p.length));
  }
  mem.set(whole.subarray(text.length), buf);
  expect(core.gcm_open_finish(ctx, buf));
  const opened: Uint8Array[] = [];
  for (const p of pieces(ct, textCuts)) {
    mem.set(p, buf);
    expect(core.gcm_decrypt_update(ctx, buf, p.length));
    opened.push(mem.slice(buf, buf + p.length));
  }
  core.wipe(ctx, core.gcm_context_bytes());
  core.wipe(buf, 1024);
  return { sealed: whole, opened: concatBytes(...opened) };
}

function inMemory(needle: Uint8Array): boolean {
  const mem = memoryBytes();
  const first = needle[0]!;
  outer: for (let i = mem.indexOf(first); i !== -1; i = mem.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) if (mem[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

for (const engine of AEAD_ENGINES) {
  const { AesGcm, aesGcmOpen, aesGcmSeal } = aeadWith(engine);

  Deno.test(`Wycheproof AES-GCM vectors with 256-bit keys and 128-bit tags behave as labelled [${engine}]`, async (t) => {
    let count = 0;
    for (const group of wycheproof.testGroups) {
      if (group.keySize !== 256 || group.tagSize !== 128) continue;
      for (const v of group.tests) {
        count++;
        await t.step(`tcId ${v.tcId} (${v.result}, ${v.flags.join(" ")})`, () => {
          const key = fromHex(v.key);
          const iv = fromHex(v.iv);
          const aad = fromHex(v.aad);
          const sealed = concatBytes(fromHex(v.ct), fromHex(v.tag));
          if (v.result === "valid") {
            assertBytes(aesGcmSeal(key, iv, fromHex(v.msg), aad), sealed, "sealed");
            assertBytes(aesGcmOpen(key, iv, sealed, aad), fromHex(v.msg), "opened");
          } else if (iv.length === 0) {
            assertThrowsClass(() => aesGcmOpen(key, iv, sealed, aad), RangeError);
            assertThrowsClass(() => aesGcmSeal(key, iv, fromHex(v.msg), aad), RangeError);
          } else {
            assertThrowsClass(() => aesGcmOpen(key, iv, sealed, aad), AuthenticationError);
          }
        });
      }
    }
    if (count !== 105) throw new Error(`expected 105 vectors, found ${count}`);
  });

  // --- NIST CAVP -------------------------------------------------------------

  /** Parses a CAVP .rsp file into cases, each tagged with its section's parameters. */

  Deno.test(`NIST CAVP gcmEncryptExtIV256: encryption reproduces CT and tag [${engine}]`, async (t) => {
    const cases = await cavp("gcmEncryptExtIV256.rsp");
    if (cases.length !== 1125) throw new Error(`expected 1125 vectors, found ${cases.length}`);
    for (const c of cases) {
      await t.step(c.id, () => {
        const f = (k: string) => fromHex(c.fields.get(k) ?? "");
        const sealed = aesGcmSeal(f("Key"), f("IV"), f("PT"), f("AAD"));
        assertBytes(sealed, concatBytes(f("CT"), f("Tag")), "sealed");
        assertBytes(aesGcmOpen(f("Key"), f("IV"), sealed, f("AAD")), f("PT"), "opened");
      });
    }
  });

  Deno.test(`NIST CAVP gcmDecrypt256: decryption returns PT and every FAIL case is rejected [${engine}]`, async (t) => {
    const cases = await cavp("gcmDecrypt256.rsp");
    if (cases.length !== 1125) throw new Error(`expected 1125 vectors, found ${cases.length}`);
    if (!cases.some((c) => c.fail)) throw new Error("no FAIL cases parsed");
    for (const c of cases) {
      await t.step(`${c.id}${c.fail ? " FAIL" : ""}`, () => {
        const f = (k: string) => fromHex(c.fields.get(k) ?? "");
        const sealed = concatBytes(f("CT"), f("Tag"));
        if (c.fail) {
          assertThrowsClass(
            () => aesGcmOpen(f("Key"), f("IV"), sealed, f("AAD")),
            AuthenticationError,
          );
        } else {
          assertBytes(aesGcmOpen(f("Key"), f("IV"), sealed, f("AAD")), f("PT"), "opened");
        }
      });
    }
  });

  // --- the streaming ABI -----------------------------------------------------

  /** Runs seal and open through the raw exports, cutting AAD and text at the given offsets. */

  Deno.test(`GCM kernel gives the same result fed whole and split at every block offset [${engine}]`, () => {
    const key = random(32);
    for (const nonce of [random(12), random(1), random(13), random(64)]) {
      const aad = random(77);
      const text = random(301);
      const whole = streamed(key, nonce, text, aad, [], []);
      assertBytes(whole.sealed, aesGcmSeal(key, nonce, text, aad), "whole vs host");
      assertBytes(whole.opened, text, "opened whole");
      for (let cut = 16; cut < 301; cut += 16) {
        const split = streamed(key, nonce, text, aad, [], [cut]);
        assertBytes(split.sealed, whole.sealed, `text split at ${cut}`);
        assertBytes(split.opened, text, `opened split at ${cut}`);
      }
      for (let cut = 16; cut < 77; cut += 16) {
        assertBytes(
          streamed(key, nonce, text, aad, [cut], []).sealed,
          whole.sealed,
          `aad at ${cut}`,
        );
      }
      const blocks = Array.from({ length: 18 }, (_, i) => 16 * (i + 1));
      const perBlock = streamed(key, nonce, text, aad, [16, 32, 48, 64], blocks);
      assertBytes(perBlock.sealed, whole.sealed, "block by block");
      assertBytes(perBlock.opened, text, "opened block by block");
    }
  });

  Deno.test(`GCM kernel refuses calls out of order or not a multiple of 16 before the last [${engine}]`, () => {
    const ctx = core.alloc(core.gcm_context_bytes());
    const buf = core.alloc(256);
    const check = (got: number, want: number, what: string) => {
      if (got !== want) throw new Error(`${what}: status ${got}, expected ${want}`);
    };
    check(core.gcm_start(ctx, buf, 12), STATUS_BAD_ARGUMENT, "start without a key");
    check(core.gcm_init(ctx, buf), STATUS_OK, "init");
    check(core.gcm_start(ctx, buf, 0), STATUS_BAD_ARGUMENT, "empty nonce");
    check(core.gcm_seal_update(ctx, buf, 16), STATUS_BAD_ARGUMENT, "seal before start");
    check(core.gcm_start(ctx, buf, 12), STATUS_OK, "start");
    check(core.gcm_aad_update(ctx, buf, 5), STATUS_OK, "short aad");
    check(core.gcm_aad_update(ctx, buf, 16), STATUS_BAD_ARGUMENT, "aad after a partial block");
    check(core.gcm_seal_update(ctx, buf, 17), STATUS_OK, "partial text");
    check(core.gcm_seal_update(ctx, buf, 16), STATUS_BAD_ARGUMENT, "text after a partial block");
    check(core.gcm_aad_update(ctx, buf, 16), STATUS_BAD_ARGUMENT, "aad after text");
    check(core.gcm_open_update(ctx, buf, 16), STATUS_BAD_ARGUMENT, "open during a seal");
    check(core.gcm_seal_finish(ctx, buf + 128), STATUS_OK, "finish");
    check(core.gcm_decrypt_update(ctx, buf, 16), STATUS_BAD_ARGUMENT, "decrypt without verify");
    check(core.gcm_start(ctx, buf, 12), STATUS_OK, "start again");
    check(core.gcm_open_update(ctx, buf, 32), STATUS_OK, "hash ciphertext");
    check(core.gcm_open_finish(ctx, buf + 128), STATUS_AUTH_FAILED, "wrong tag");
    check(core.gcm_decrypt_update(ctx, buf, 16), STATUS_BAD_ARGUMENT, "decrypt after a failure");
    core.wipe(ctx, core.gcm_context_bytes());
  });

  // --- differential against WebCrypto ----------------------------------------

  Deno.test(`seal matches WebCrypto for every length 0..300, 12- and 16-byte nonces, AAD 0..100 [${engine}]`, async () => {
    for (let n = 0; n <= 300; n++) {
      const key = random(32);
      const nonce = random(n % 3 === 0 ? 16 : 12);
      const aad = random(n % 101);
      const pt = random(n);
      const sealed = aesGcmSeal(key, nonce, pt, aad);
      assertBytes(sealed, await webSeal(key, nonce, pt, aad), `length ${n}`);
      assertBytes(await webOpen(key, nonce, sealed, aad), pt, `WebCrypto opens length ${n}`);
      const theirs = await webSeal(key, nonce, pt, aad);
      assertBytes(aesGcmOpen(key, nonce, theirs, aad), pt, `opens WebCrypto's length ${n}`);
    }
  });

  Deno.test(`seal and open match WebCrypto on random lengths up to 70 000 bytes [${engine}]`, async () => {
    const lengths = [65535, 65536, 65537, 69999, 70000];
    for (let i = 0; i < 12; i++) lengths.push(Math.floor(Math.random() * 70001));
    using aead = new AesGcm(random(32).fill(7));
    for (const n of lengths) {
      const key = random(32);
      const nonce = random(12);
      const aad = random(Math.floor(Math.random() * 101));
      const pt = random(n);
      const sealed = aesGcmSeal(key, nonce, pt, aad);
      assertBytes(sealed, await webSeal(key, nonce, pt, aad), `length ${n}`);
      assertBytes(aesGcmOpen(key, nonce, await webSeal(key, nonce, pt, aad), aad), pt, `open ${n}`);
      const fixed = aead.seal(nonce, pt, aad);
      assertBytes(await webOpen(random(32).fill(7), nonce, fixed, aad), pt, `reused key, ${n}`);
    }
  });

  Deno.test(`open rejects a single flipped bit in tag, ciphertext, nonce or AAD [${engine}]`, () => {
    const key = random(32);
    const nonce = random(12);
    const aad = random(40);
    const pt = random(100);
    const sealed = aesGcmSeal(key, nonce, pt, aad);
    const flip = (b: Uint8Array, bit: number) => {
      const c = b.slice();
      c[bit >> 3]! ^= 1 << (bit & 7);
      return c;
    };
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      assertThrowsClass(() => aesGcmOpen(key, nonce, flip(sealed, bit), aad), AuthenticationError);
    }
    for (let bit = 0; bit < 96; bit++) {
      assertThrowsClass(() => aesGcmOpen(key, flip(nonce, bit), sealed, aad), AuthenticationError);
    }
    for (let bit = 0; bit < 320; bit++) {
      assertThrowsClass(() => aesGcmOpen(key, nonce, sealed, flip(aad, bit)), AuthenticationError);
    }
    assertThrowsClass(() => aesGcmOpen(flip(key, 0), nonce, sealed, aad), AuthenticationError);
    assertThrowsClass(() => aesGcmOpen(key, nonce, sealed.subarray(1), aad), AuthenticationError);
  });

  // --- properties ------------------------------------------------------------

  Deno.test(`open(seal(x)) = x for any nonce length, AAD and plaintext [${engine}]`, () => {
    using aead = new AesGcm(random(32));
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 80 }),
        fc.uint8Array({ maxLength: 2000 }),
        fc.uint8Array({ maxLength: 200 }),
        (nonce, pt, aad) => {
          const sealed = aead.seal(nonce, pt, aad);
          if (sealed.length !== pt.length + AES_GCM_TAG_BYTES) return false;
          return toHex(aead.open(nonce, sealed, aad)) === toHex(pt);
        },
      ),
      { numRuns: 300 },
    );
  });

  Deno.test(`a reused AesGcm seals like the one-shot function [${engine}]`, () => {
    const key = random(32);
    using aead = new AesGcm(key);
    for (let i = 0; i < 20; i++) {
      const nonce = random(1 + i * 3);
      const pt = random(i * 37);
      const aad = random(i);
      assertBytes(aead.seal(nonce, pt, aad), aesGcmSeal(key, nonce, pt, aad), `message ${i}`);
    }
  });

  // --- misuse and memory hygiene ---------------------------------------------

  Deno.test(`misuse throws RangeError for sizes and TypeError for types [${engine}]`, () => {
    const nonce = random(12);
    for (const n of [0, 16, 24, 31, 33, 64]) {
      assertThrowsClass(() => aesGcmSeal(random(n), nonce, random(3)), RangeError);
      assertThrowsClass(() => new AesGcm(random(n)), RangeError);
    }
    assertThrowsClass(() => aesGcmSeal(random(32), new Uint8Array(0), random(3)), RangeError);
    assertThrowsClass(() => aesGcmOpen(random(32), new Uint8Array(0), random(16)), RangeError);
    for (let n = 0; n < 16; n++) {
      assertThrowsClass(() => aesGcmOpen(random(32), nonce, random(n)), RangeError);
    }
    const untyped = [1, 2, 3] as unknown as Uint8Array;
    assertThrowsClass(() => aesGcmSeal(untyped, nonce, random(3)), TypeError);
    assertThrowsClass(() => aesGcmSeal(random(32), untyped, random(3)), TypeError);
    assertThrowsClass(() => aesGcmSeal(random(32), nonce, untyped), TypeError);
    assertThrowsClass(() => aesGcmSeal(random(32), nonce, random(3), untyped), TypeError);
    assertThrowsClass(() => aesGcmOpen(random(32), nonce, untyped), TypeError);
    const aead = new AesGcm(random(32));
    aead[Symbol.dispose]();
    assertThrowsClass(() => aead.seal(nonce, random(3)), TypeError);
  });

  /** Whether `needle` (≥ 16 bytes) occurs anywhere in wasm memory. */

  Deno.test(`no key, plaintext or keystream stays in wasm memory, and a failed open releases nothing [${engine}]`, () => {
    const key = random(32);
    const nonce = random(12);
    const pt = random(3000);
    const sealed = aesGcmSeal(key, nonce, pt);
    const bad = sealed.slice();
    bad[bad.length - 1]! ^= 1;
    assertThrowsClass(() => aesGcmOpen(key, nonce, bad), AuthenticationError);
    aesGcmOpen(key, nonce, sealed);
    const big = random(200_000);
    const bigSealed = aesGcmSeal(key, nonce, big);
    const bigBad = bigSealed.slice();
    bigBad[5]! ^= 1;
    assertThrowsClass(() => aesGcmOpen(key, nonce, bigBad), AuthenticationError);
    if (inMemory(key.subarray(0, 16)) || inMemory(key.subarray(16))) {
      throw new Error("key bytes left in wasm memory");
    }
    for (let at = 0; at + 16 <= pt.length; at += 16) {
      if (inMemory(pt.subarray(at, at + 16))) throw new Error(`plaintext block at ${at} in memory`);
    }
    for (let at = 0; at + 16 <= big.length; at += 4096) {
      if (inMemory(big.subarray(at, at + 16))) {
        throw new Error(`plaintext block at ${at} in memory`);
      }
    }
  });

  Deno.test(`AAD and nonces longer than the host's 64 KiB I/O region [${engine}]`, async () => {
    const key = random(32);
    const nonce = random(12);
    const pt = random(1000);
    for (const n of [65536, 65537, 70_000, 200_000]) {
      const aad = random(n);
      const sealed = aesGcmSeal(key, nonce, pt, aad);
      assertBytes(sealed, await webSeal(key, nonce, pt, aad), `AAD of ${n} bytes`);
      assertBytes(aesGcmOpen(key, nonce, sealed, aad), pt, `open with AAD of ${n} bytes`);
    }
    const long = random(70_000);
    const sealed = aesGcmSeal(key, long, pt);
    assertBytes(aesGcmOpen(key, long, sealed), pt, "70 000-byte nonce");
    assertThrowsClass(() => aesGcmOpen(key, long.subarray(1), sealed), AuthenticationError);
  });

  Deno.test(`open copies sealed data that another thread could change between its two passes [${engine}]`, () => {
    const key = random(32);
    const nonce = random(12);
    const pt = random(100_000);
    const sealed = aesGcmSeal(key, nonce, pt);
    const shared = new Uint8Array(new SharedArrayBuffer(sealed.length));
    shared.set(sealed);
    assertBytes(aesGcmOpen(key, nonce, shared), pt, "opened from shared memory");
  });
}
