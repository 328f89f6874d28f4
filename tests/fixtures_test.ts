// Golden repositories (FORMAT.md §3): every later Cofre must open these bytes.

import { assertEquals, assertRejects } from "./_assert.ts";
import { LocalStorage, Repository, WrongKeyError } from "../mod.ts";

const v1 = new URL("./fixtures/v1-keys/", import.meta.url).pathname;
const secrets = JSON.parse(await Deno.readTextFile(`${v1}secrets.json`));

Deno.test("the format 1 golden repository opens with its password and with its recovery key", async () => {
  const storage = new LocalStorage(`${v1}repo`);
  for (
    const credentials of [
      { password: secrets.password, account: secrets.account },
      { recoveryKey: secrets.recovery_key, account: secrets.account },
    ]
  ) {
    const repository = await Repository.open(storage, credentials);
    assertEquals(repository.id, secrets.id);
    assertEquals(repository.config.chunker, {
      minSize: 4096,
      avgSize: 16384,
      maxSize: 65536,
      normalization: 1,
    });
    assertEquals(repository.config.zstdLevel, 5);
    assertEquals((await repository.keySlots()).map((s) => s.kind).sort(), ["password", "recovery"]);
    await repository.close();
  }
  await assertRejects(
    () => Repository.open(storage, { password: secrets.password }),
    WrongKeyError,
  );
});
