// Golden repositories (FORMAT.md §3): every later Cofre must open these bytes.

import { assertEquals, assertRejects } from "./_assert.ts";
import { describeTree } from "./_data.ts";
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

const v1Backup = new URL("./fixtures/v1-backup/", import.meta.url).pathname;
const backupSecrets = JSON.parse(await Deno.readTextFile(`${v1Backup}secrets.json`));

Deno.test("the format 1 golden backup restores bit for bit", async () => {
  const repository = await Repository.open(new LocalStorage(`${v1Backup}repo`), {
    password: backupSecrets.password,
    account: backupSecrets.account,
  });
  const target = await Deno.makeTempDir({ prefix: "cofre-golden-" });
  try {
    const snapshots = await repository.snapshots();
    assertEquals(snapshots.map((s) => [Number(s.sequence), s.snapshot.tags]), [[0, ["first"]], [1, [
      "second",
    ]]]);
    assertEquals(snapshots[1]!.id, backupSecrets.latest);
    assertEquals(snapshots[1]!.previous, snapshots[0]!.id);
    await repository.restore("latest", { target, workers: 0 });
    assertEquals(await describeTree(`${target}/chat`, "chat"), backupSecrets.manifest);
  } finally {
    await repository.close();
    await Deno.remove(target, { recursive: true });
  }
});
