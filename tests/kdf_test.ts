import { assertEquals, assertRejects } from "./_assert.ts";
import { argon2id } from "hash-wasm";
import { fromHex, toHex } from "../src/_bytes.ts";
import { DEFAULT_ARGON2ID, deriveArgon2id, hkdf, TEST_ONLY_FAST_ARGON2ID } from "../src/kdf.ts";
import { referenceArgon2id, referenceH0 } from "./_argon2_reference.ts";

const rfc = JSON.parse(
  await Deno.readTextFile(new URL("./vectors/argon2id-rfc9106.json", import.meta.url)),
);

Deno.test("the RFC 9106 reference reproduces the RFC's Argon2id vector (H0 and tag)", async () => {
  const input = {
    password: fromHex(rfc.password_hex),
    salt: fromHex(rfc.salt_hex),
    secret: fromHex(rfc.secret_hex),
    associatedData: fromHex(rfc.associated_data_hex),
    memoryKib: rfc.memory_kib,
    iterations: rfc.iterations,
    parallelism: rfc.parallelism,
    tagLength: rfc.tag_length,
  };
  assertEquals(toHex(await referenceH0(input)), rfc.prehash_digest_h0_hex);
  assertEquals(toHex(await referenceArgon2id(input)), rfc.tag_hex);
});

Deno.test("hash-wasm's Argon2id (with the RFC's secret) agrees with the RFC 9106 reference", async (t) => {
  // hash-wasm takes no associated data, so the RFC vector itself cannot run
  // through it; the reference that reproduces the vector stands in for it.
  const cases = [
    { memoryKib: 32, iterations: 3, parallelism: 4, secret: fromHex(rfc.secret_hex) },
    { memoryKib: 64, iterations: 1, parallelism: 1 },
    { memoryKib: 256, iterations: 2, parallelism: 2 },
    { memoryKib: 520, iterations: 1, parallelism: 3 },
  ];
  for (const c of cases) {
    await t.step(`m=${c.memoryKib} t=${c.iterations} p=${c.parallelism}`, async () => {
      const password = crypto.getRandomValues(new Uint8Array(21));
      const salt = crypto.getRandomValues(new Uint8Array(16));
      const theirs = await argon2id({
        password,
        salt,
        secret: c.secret,
        memorySize: c.memoryKib,
        iterations: c.iterations,
        parallelism: c.parallelism,
        hashLength: 32,
        outputType: "binary",
      });
      const ours = await referenceArgon2id({
        password,
        salt,
        secret: c.secret,
        tagLength: 32,
        ...c,
      });
      assertEquals(toHex(theirs), toHex(ours));
      if (!c.secret) {
        assertEquals(toHex(await deriveArgon2id(password, salt, c)), toHex(ours));
      }
    });
  }
});

Deno.test("deriveArgon2id() with the default parameters (64 MiB, t=3, p=4), once", async () => {
  const password = new TextEncoder().encode("correct horse battery staple");
  const salt = new Uint8Array(16).fill(7);
  const key = await deriveArgon2id(password, salt, DEFAULT_ARGON2ID);
  assertEquals(key.length, 32);
  const again = await argon2id({
    password,
    salt,
    memorySize: 65536,
    iterations: 3,
    parallelism: 4,
    hashLength: 32,
    outputType: "binary",
  });
  assertEquals(key, again);
});

Deno.test("deriveArgon2id() refuses parameters outside FORMAT.md §5.3 and short salts", async () => {
  const pw = new Uint8Array(8);
  const salt = new Uint8Array(16);
  await assertRejects(
    () => deriveArgon2id(pw, salt, { ...TEST_ONLY_FAST_ARGON2ID, memoryKib: 4 }),
    RangeError,
  );
  await assertRejects(
    () => deriveArgon2id(pw, salt, { ...TEST_ONLY_FAST_ARGON2ID, memoryKib: 5 * 1024 * 1024 }),
    RangeError,
  );
  await assertRejects(
    () => deriveArgon2id(pw, salt, { ...TEST_ONLY_FAST_ARGON2ID, iterations: 0 }),
    RangeError,
  );
  await assertRejects(
    () => deriveArgon2id(pw, salt, { ...TEST_ONLY_FAST_ARGON2ID, parallelism: 256 }),
    RangeError,
  );
  await assertRejects(
    () => deriveArgon2id(pw, new Uint8Array(4), TEST_ONLY_FAST_ARGON2ID),
    RangeError,
  );
});

Deno.test("hkdf() reproduces RFC 5869 test case 1 (SHA-256)", async () => {
  const okm = await hkdf(
    new Uint8Array(22).fill(0x0b),
    fromHex("000102030405060708090a0b0c"),
    fromHex("f0f1f2f3f4f5f6f7f8f9"),
    42,
  );
  // RFC 5869 A.1
  assertEquals(
    toHex(okm),
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  );
  await assertRejects(() => hkdf(new Uint8Array(32), new Uint8Array(16), "x", 0), RangeError);
});
