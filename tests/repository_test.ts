import { assertEquals, assertNotEquals, assertRejects, assertTrue } from "./_assert.ts";
import { encodeBase64 } from "./_encodings.ts";
import { toHex } from "../src/_bytes.ts";
import { TEST_ONLY_FAST_ARGON2ID } from "../src/kdf.ts";
import {
  decodeConfig,
  decodeKeySlot,
  FormatError,
  MemoryStorage,
  openKeySlot,
  parseRecoveryKey,
  Repository,
  RepositoryNotFoundError,
  type Storage,
  WrongKeyError,
} from "../mod.ts";

const PASSWORD = "vivid otter juggles lanterns";
const ACCOUNT = "+55 11 99999-8888";
const fast = { argon2id: TEST_ONLY_FAST_ARGON2ID };

async function fresh(options: { account?: string; recoveryKey?: boolean } = {}) {
  const storage = new MemoryStorage();
  const { repository, recoveryKey } = await Repository.init(storage, {
    password: PASSWORD,
    ...fast,
    ...options,
  });
  await repository.close();
  return { storage, recoveryKey, id: repository.id };
}

async function objects(storage: Storage): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const info of storage.list("")) out.set(info.name, await storage.get(info.name));
  return out;
}

Deno.test("init writes a config and one slot per secret; open works with each", async () => {
  const { storage, recoveryKey, id } = await fresh({ recoveryKey: true });
  const names = [...(await objects(storage)).keys()].sort();
  assertEquals(names.length, 3);
  assertEquals(names[0], "config");
  assertTrue(names.slice(1).every((n) => /^keys\/[0-9a-f]{32}$/.test(n)));
  const byPassword = await Repository.open(storage, { password: PASSWORD });
  assertEquals(byPassword.id, id);
  assertEquals((await byPassword.keySlots()).map((s) => [s.kind, s.current]), [["password", true], [
    "recovery",
    false,
  ]]);
  await byPassword.close();
  const byKey = await Repository.open(storage, {
    recoveryKey: recoveryKey!.toUpperCase().replaceAll("-", " "),
  });
  assertEquals(byKey.id, id);
  await byKey.close();
});

Deno.test("a bound repository needs the account, in any notation", async () => {
  const { storage, recoveryKey } = await fresh({ account: ACCOUNT, recoveryKey: true });
  await assertRejects(() => Repository.open(storage, { password: PASSWORD }), WrongKeyError);
  await assertRejects(
    () => Repository.open(storage, { password: PASSWORD, account: "+5511999998889" }),
    WrongKeyError,
  );
  await assertRejects(() => Repository.open(storage, { recoveryKey: recoveryKey! }), WrongKeyError);
  await (await Repository.open(storage, { password: PASSWORD, account: "+5511999998888" })).close();
  await (await Repository.open(storage, { password: PASSWORD, account: "0055 (11) 99999.8888" }))
    .close();
  await (await Repository.open(storage, { recoveryKey: recoveryKey!, account: ACCOUNT })).close();
});

Deno.test("wrong secrets all give the same WrongKeyError", async () => {
  const { storage } = await fresh();
  const errors = [];
  for (
    const credentials of [{ password: "not the password" }, { password: "short" }, {
      password: PASSWORD + " ",
    }, {
      recoveryKey: "00".repeat(32),
    }]
  ) {
    errors.push(
      (await assertRejects(() => Repository.open(storage, credentials), WrongKeyError)).message,
    );
  }
  assertEquals(new Set(errors).size, 1);
  assertEquals(errors[0], "Cannot open the repository: wrong password, recovery key or account");
});

Deno.test("open reports a missing repository, a damaged config and a foreign config", async () => {
  await assertRejects(
    () => Repository.open(new MemoryStorage("/nowhere"), { password: PASSWORD }),
    RepositoryNotFoundError,
    "/nowhere",
  );
  const { storage } = await fresh();
  const config = await storage.get("config");
  const tampered = config.slice();
  tampered[25]! ^= 1; // the creation time: still well-formed, but the signature no longer verifies
  (storage as MemoryStorage).tamper("config", tampered);
  await assertRejects(
    () => Repository.open(storage, { password: PASSWORD }),
    FormatError,
    "signature",
  );
  (storage as MemoryStorage).tamper("config", config.subarray(0, 50));
  await assertRejects(
    () => Repository.open(storage, { password: PASSWORD }),
    FormatError,
    "config",
  );
  // Another repository's config: its id differs, so no slot opens (the AAD binds the id).
  const other = await fresh();
  (storage as MemoryStorage).tamper("config", await other.storage.get("config"));
  await assertRejects(() => Repository.open(storage, { password: PASSWORD }), WrongKeyError);
});

Deno.test("init refuses a location that already holds a repository", async () => {
  const { storage } = await fresh();
  await assertRejects(
    () => Repository.init(storage, { password: PASSWORD, ...fast }),
    Error,
    "there is one already",
  );
  await assertRejects(
    () => Repository.init(new MemoryStorage(), { password: "1234567", ...fast }),
    RangeError,
    "at least 8",
  );
  await assertRejects(
    () => Repository.init(new MemoryStorage(), { ...fast }),
    RangeError,
    "needs a password",
  );
});

Deno.test("key add, passwd and recovery change only key slots", async () => {
  const { storage } = await fresh({ recoveryKey: true });
  const before = await objects(storage);
  const repository = await Repository.open(storage, { password: PASSWORD });
  const added = await repository.addPassword("second passphrase here", fast);
  const changed = await repository.changePassword("brand new passphrase", fast);
  const recovery = await repository.setRecoveryKey();
  await repository.close();
  const after = await objects(storage);
  // The config is byte for byte the same; only keys/ changed.
  assertEquals(after.get("config"), before.get("config"));
  for (const name of [...before.keys(), ...after.keys()]) {
    if (name !== "config") assertTrue(name.startsWith("keys/"), name);
  }
  const slots = [...after.keys()].filter((n) => n.startsWith("keys/")).map((n) => n.slice(5))
    .sort();
  assertEquals(slots.length, 3);
  assertTrue(slots.includes(added) && slots.includes(changed));
  await assertRejects(() => Repository.open(storage, { password: PASSWORD }), WrongKeyError);
  await (await Repository.open(storage, { password: "second passphrase here" })).close();
  await (await Repository.open(storage, { password: "brand new passphrase" })).close();
  await (await Repository.open(storage, { recoveryKey: recovery })).close();
});

Deno.test("the old recovery key stops working when it is replaced", async () => {
  const { storage, recoveryKey } = await fresh({ recoveryKey: true });
  const repository = await Repository.open(storage, { password: PASSWORD });
  const replacement = await repository.setRecoveryKey();
  await repository.close();
  assertNotEquals(replacement, recoveryKey);
  await assertRejects(() => Repository.open(storage, { recoveryKey: recoveryKey! }), WrongKeyError);
  await (await Repository.open(storage, { recoveryKey: replacement })).close();
});

Deno.test("key remove refuses the last slot and the slot in use", async () => {
  const { storage } = await fresh();
  const repository = await Repository.open(storage, { password: PASSWORD });
  const [only] = await repository.keySlots();
  await assertRejects(() => repository.removeKeySlot(only!.id), RangeError, "last key slot");
  const second = await repository.addPassword("another good passphrase", fast);
  await assertRejects(
    () => repository.removeKeySlot(only!.id.slice(0, 8)),
    RangeError,
    "opened the repository with",
  );
  await assertRejects(() => repository.removeKeySlot("ffff"), RangeError, "no such slot");
  await repository.removeKeySlot(second.slice(0, 6));
  assertEquals((await repository.keySlots()).length, 1);
  await repository.close();
  await assertRejects(() => repository.keySlots(), TypeError, "closed");
});

Deno.test("nothing in the repository holds the password, recovery key, account or master key", async () => {
  const { storage, recoveryKey } = await fresh({ account: ACCOUNT, recoveryKey: true });
  const all = await objects(storage);
  const config = decodeConfig(all.get("config")!);
  const slot = decodeKeySlot(all.get([...all.keys()].find((n) => n.startsWith("keys/"))!)!);
  const master = await openKeySlot(slot, config.repositoryId, {
    kind: slot.kind,
    password: PASSWORD,
    recoveryKey: parseRecoveryKey(recoveryKey!),
    account: "+5511999998888",
  } as never);
  const text = (s: string) => new TextEncoder().encode(s);
  const utf16 = (s: string) => new Uint8Array(Uint16Array.from(s, (c) => c.charCodeAt(0)).buffer);
  const secrets: [string, Uint8Array][] = [];
  const texts: [string, string][] = [
    ["password", PASSWORD],
    ["account", "+5511999998888"],
    ["account digits", "5511999998888"],
  ];
  for (const [name, value] of texts) {
    secrets.push([name, text(value)], [`${name} UTF-16`, utf16(value)], [
      `${name} base64`,
      text(encodeBase64(text(value))),
    ]);
  }
  for (
    const [name, key] of [["recovery key", parseRecoveryKey(recoveryKey!)], [
      "master key",
      master,
    ]] as const
  ) {
    secrets.push(
      [name, key],
      [`${name} hex`, text(toHex(key))],
      [`${name} base64`, text(encodeBase64(key))],
      [`${name} first half`, key.subarray(0, 16)],
    );
  }
  secrets.push(["recovery key as shown", text(recoveryKey!)]);
  // The search finds what is there: the slot's own salt is in its object.
  assertTrue(contains(all.get(`keys/${toHex(slot.slotId)}`)!, slot.salt));
  for (const [objectName, bytes] of all) {
    for (const [what, needle] of secrets) {
      assertTrue(!contains(bytes, needle), `${objectName} contains the ${what}`);
    }
  }
});

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
