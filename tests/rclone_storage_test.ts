// The rclone backend driving the real rclone binary (`rclone serve webdav`)
// on a local folder: the Storage contract, no half objects under real
// names, and the error when rclone is missing.

import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { rcloneAvailable } from "./_servers.ts";
import { checkStorageContract } from "./_storage_contract.ts";
import { openRcloneStorage, RcloneError, RcloneMissingError } from "../mod.ts";

Deno.test({
  name: "rclone storage on a local folder: the Storage contract",
  ignore: !(await rcloneAvailable()),
  async fn() {
    const folder = await Deno.makeTempDir({ prefix: "cofre-rclone-" });
    const storage = await openRcloneStorage(`rclone:${folder}/repo`, { retry: { retries: 1 } });
    try {
      await checkStorageContract(storage);
      // Uploads go through temporary names that list never reports and rename removes.
      await storage.put("data/ef/x", new Uint8Array([1, 2, 3]));
      const onDisk = await Array.fromAsync(Deno.readDir(`${folder}/repo/data/ef`));
      assertEquals(onDisk.map((e) => e.name), ["x"]);
      await Deno.writeTextFile(`${folder}/repo/data/ef/.tmp-left-over`, "half");
      assertEquals((await Array.fromAsync(storage.list("data/"))).map((o) => o.name), [
        "data/ef/x",
      ]);
    } finally {
      await storage.close();
      await Deno.remove(folder, { recursive: true });
    }
  },
});

Deno.test({
  name: "rclone storage: an unknown remote fails with rclone's reason",
  ignore: !(await rcloneAvailable()),
  async fn() {
    const error = await assertRejects(
      () => openRcloneStorage("rclone:no-such-remote-xyz:backups"),
      RcloneError,
    );
    assertTrue(/no-such-remote-xyz/.test(error.message), error.message);
  },
});

Deno.test("rclone storage: a clear error when rclone is missing", async () => {
  await assertRejects(
    () => openRcloneStorage("rclone:gdrive:backups", { binary: "/nonexistent/rclone" }),
    RcloneMissingError,
    "apt-get install rclone",
  );
});
