// The browser page's read-only Storage over a picked folder: it finds the
// repository at any depth (a download often nests it), ignores files that
// are not objects, and reads ranges like the other storages.

import { assertEquals, assertRejects, assertThrows } from "./_assert.ts";
import { PickedFolderStorage } from "../examples/web/picked_folder_storage.ts";

function picked(path: string, text: string) {
  const blob = new Blob([text]);
  return {
    webkitRelativePath: path,
    size: blob.size,
    lastModified: 1_700_000_000_000,
    slice: (start?: number, end?: number) => blob.slice(start, end),
  };
}

Deno.test("PickedFolderStorage finds the repository inside the picked folder and reads it", async () => {
  const storage = new PickedFolderStorage([
    picked("Drive/notes/config.txt", "not an object"),
    picked("Drive/cofre/snapshots/config", "deeper config: an object of this repository"),
    picked("Drive/cofre/config", "the config"),
    picked("Drive/cofre/keys/b2", "slot b"),
    picked("Drive/cofre/keys/a1", "slot a"),
    picked("Drive/cofre/.DS_Store", "junk"),
    picked("Drive/cofre/desktop.ini", "junk"),
    picked("Drive/elsewhere/keys/c3", "another folder"),
  ]);
  assertEquals(storage.location, "Drive/cofre");
  assertEquals(new TextDecoder().decode(await storage.get("config")), "the config");
  assertEquals(
    new TextDecoder().decode(await storage.get("keys/a1", { offset: 2, length: 4 })),
    "ot a",
  );
  assertEquals(await storage.stat("keys/b2"), {
    name: "keys/b2",
    size: 6,
    modifiedMs: 1_700_000_000_000,
  });
  assertEquals(await storage.stat("desktop.ini"), null);
  const names = (await Array.fromAsync(storage.list(""))).map((info) => info.name);
  assertEquals(names, ["config", "keys/a1", "keys/b2", "snapshots/config"]);
  assertEquals((await Array.fromAsync(storage.list("keys/"))).length, 2);
  await assertRejects(() => storage.get("keys/c3"), Error, "no such object");
  await assertRejects(() => storage.get("config", { offset: 5, length: 10 }), RangeError, "beyond");
  await assertRejects(() => storage.put("keys/d4"), Error, "read-only");
  await assertRejects(() => storage.delete("config"), Error, "read-only");
});

Deno.test("PickedFolderStorage says which folder to pick when there is no repository", () => {
  assertThrows(
    () => new PickedFolderStorage([picked("Photos/a.jpg", "x")]),
    RangeError,
    "pick the folder that contains config",
  );
});
