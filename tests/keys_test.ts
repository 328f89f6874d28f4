import {
  assertEquals,
  assertNotEquals,
  assertRejects,
  assertThrows,
  assertTrue,
} from "./_assert.ts";
import { fromHex, toHex } from "../src/_bytes.ts";
import { TEST_ONLY_FAST_ARGON2ID } from "../src/kdf.ts";
import {
  AuthenticationError,
  createKeySlot,
  deriveSubkeys,
  formatRecoveryKey,
  generateMasterKey,
  openKeySlot,
  parseRecoveryKey,
  sign,
  signingKeyFromSeed,
  verifySignature,
} from "../mod.ts";

const vectors = new URL("./vectors/", import.meta.url);
const wycheproof = JSON.parse(
  await Deno.readTextFile(new URL("wycheproof_ed25519_test.json", vectors)),
);
const wycheproofV0 = JSON.parse(
  await Deno.readTextFile(new URL("wycheproof_eddsa_test_v0.json", vectors)),
);

Deno.test("verifySignature() follows every Wycheproof Ed25519 verification vector", async (t) => {
  let count = 0;
  for (const group of wycheproof.testGroups) {
    const publicKey = fromHex(group.publicKey.pk);
    for (const test of group.tests) {
      await t.step(`tcId ${test.tcId} ${test.comment}`.trim(), async () => {
        const ok = await verifySignature(publicKey, "", fromHex(test.msg), fromHex(test.sig));
        assertEquals(ok, test.result === "valid", JSON.stringify(test));
      });
      count++;
    }
  }
  assertEquals(count, 151);
});

Deno.test("signingKeyFromSeed() and sign() reproduce Wycheproof's Ed25519 key pairs and signatures", async (t) => {
  for (const group of wycheproofV0.testGroups) {
    const { privateKey, publicKey } = await signingKeyFromSeed(fromHex(group.key.sk));
    assertEquals(toHex(publicKey), group.key.pk);
    for (const test of group.tests.filter((x: { result: string }) => x.result === "valid")) {
      await t.step(`tcId ${test.tcId}`, async () => {
        // Ed25519 is deterministic: the same key and message give the vector's bytes.
        assertEquals(toHex(await sign(privateKey, "", fromHex(test.msg))), test.sig);
      });
    }
  }
});

Deno.test("signatures are bound to their label", async () => {
  const { privateKey, publicKey } = await signingKeyFromSeed(new Uint8Array(32).fill(1));
  const message = new Uint8Array([1, 2, 3]);
  const signature = await sign(privateKey, "cofre v1 config", message);
  assertTrue(await verifySignature(publicKey, "cofre v1 config", message, signature));
  assertEquals(await verifySignature(publicKey, "cofre v1 envelope", message, signature), false);
  assertEquals(
    await verifySignature(publicKey, "cofre v1 config", message, signature.subarray(1)),
    false,
  );
  assertEquals(
    await verifySignature(new Uint8Array(31), "cofre v1 config", message, signature),
    false,
  );
});

Deno.test("deriveSubkeys() gives distinct, deterministic subkeys per master key and repository", async () => {
  const master = generateMasterKey();
  const id = crypto.getRandomValues(new Uint8Array(16));
  const a = await deriveSubkeys(master, id);
  const b = await deriveSubkeys(master, id);
  assertEquals(a, b);
  const keys = [a.data, a.meta, a.id, a.nonce, a.signSeed].map(toHex);
  assertEquals(new Set(keys).size, 5);
  const other = await deriveSubkeys(master, crypto.getRandomValues(new Uint8Array(16)));
  assertNotEquals(toHex(other.data), toHex(a.data));
  assertNotEquals(other.cdcSeed, a.cdcSeed);
});

Deno.test("formatRecoveryKey() and parseRecoveryKey() round-trip in any notation", () => {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const text = formatRecoveryKey(key);
  assertTrue(/^([0-9a-f]{4}-){15}[0-9a-f]{4}$/.test(text), text);
  for (
    const variant of [
      text,
      text.toUpperCase(),
      text.replaceAll("-", " "),
      text.replaceAll("-", ""),
      ` ${text}\n`,
    ]
  ) {
    assertEquals(parseRecoveryKey(variant), key);
  }
  for (const bad of ["", text.slice(1), text + "0", text.replace(/.$/, "g"), "z".repeat(64)]) {
    assertThrows(() => parseRecoveryKey(bad), RangeError, "64 hexadecimal digits");
  }
});

Deno.test("a key slot opens only with its password, account and repository", async () => {
  const master = generateMasterKey();
  const repo = crypto.getRandomValues(new Uint8Array(16));
  const account = "+5511999998888";
  const secret = { kind: "password" as const, password: "correct horse battery", account };
  const slot = await createKeySlot(master, repo, secret, { argon2id: TEST_ONLY_FAST_ARGON2ID });
  assertEquals(await openKeySlot(slot, repo, secret), master);
  // The same password in another Unicode normal form opens it too (NFC).
  const nfd = { ...secret, password: "cafe\u0301 au lait" };
  const nfcSlot = await createKeySlot(master, repo, { ...nfd, password: "caf\u00e9 au lait" }, {
    argon2id: TEST_ONLY_FAST_ARGON2ID,
  });
  assertEquals(await openKeySlot(nfcSlot, repo, nfd), master);

  await assertRejects(
    () => openKeySlot(slot, repo, { ...secret, password: "correct horse batterz" }),
    AuthenticationError,
  );
  await assertRejects(
    () => openKeySlot(slot, repo, { ...secret, account: "+5511999998889" }),
    AuthenticationError,
  );
  await assertRejects(
    () => openKeySlot(slot, repo, { ...secret, account: undefined }),
    AuthenticationError,
  );
  await assertRejects(() => openKeySlot(slot, new Uint8Array(16), secret), AuthenticationError);
  // Lowering the stored Argon2id parameters breaks the AAD.
  const weakened = { ...slot, argon2id: { ...slot.argon2id!, iterations: 1, memoryKib: 8 } };
  await assertRejects(() => openKeySlot(weakened, repo, secret), AuthenticationError);
  // A password and an account cannot trade characters (the length prefix, FORMAT.md §5.3).
  const split = { kind: "password" as const, password: "password+1", account: "+5511999998888" };
  const splitSlot = await createKeySlot(master, repo, split, { argon2id: TEST_ONLY_FAST_ARGON2ID });
  await assertRejects(
    () =>
      openKeySlot(splitSlot, repo, { ...split, password: "password", account: "+1+5511999998888" }),
    AuthenticationError,
  );
});

Deno.test("a recovery slot opens with the recovery key and the account", async () => {
  const master = generateMasterKey();
  const repo = crypto.getRandomValues(new Uint8Array(16));
  const recoveryKey = crypto.getRandomValues(new Uint8Array(32));
  const slot = await createKeySlot(master, repo, {
    kind: "recovery",
    recoveryKey,
    account: "+14155550100",
  });
  assertEquals(slot.argon2id, null);
  assertEquals(
    await openKeySlot(slot, repo, { kind: "recovery", recoveryKey, account: "+14155550100" }),
    master,
  );
  const wrong = recoveryKey.slice();
  wrong[0]! ^= 1;
  await assertRejects(
    () =>
      openKeySlot(slot, repo, { kind: "recovery", recoveryKey: wrong, account: "+14155550100" }),
    AuthenticationError,
  );
  await assertRejects(
    () => openKeySlot(slot, repo, { kind: "recovery", recoveryKey }),
    AuthenticationError,
  );
});

Deno.test("createKeySlot() refuses passwords shorter than 8 characters", async () => {
  await assertRejects(
    () =>
      createKeySlot(generateMasterKey(), new Uint8Array(16), {
        kind: "password",
        password: "1234567",
      }, {
        argon2id: TEST_ONLY_FAST_ARGON2ID,
      }),
    RangeError,
    "at least 8",
  );
});
