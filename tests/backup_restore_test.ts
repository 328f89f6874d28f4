// The main job end to end through the CLI (issue #5's acceptance): backup,
// restore, incremental and dedup behaviour, failures.

import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { LocalStorage, Repository } from "../mod.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { tempDirs } from "./_temp_dir.ts";
import { withNewRepository } from "./_repository.ts";

const PASSWORD = "vivid otter juggles lanterns";
// A typical photo: zstd saves nothing on it (tests/vectors/README.md).
const JPEG = new URL("./vectors/media/lines-preview.jpg", import.meta.url).pathname;

/** A small chat-app folder: a database, media, a symlink, an empty folder, odd modes. */
async function makeSource(root: string): Promise<void> {
  await Deno.mkdir(`${root}/app/db`, { recursive: true });
  await Deno.mkdir(`${root}/app/media/images`, { recursive: true });
  await Deno.mkdir(`${root}/app/empty`, { recursive: true });
  const lines = Array.from(
    { length: 30000 },
    (_, i) => `msg ${i}: see you at ${i % 24}:00, bring the photos`,
  );
  await Deno.writeTextFile(`${root}/app/db/chat.db`, lines.join("\n"));
  await Deno.copyFile(JPEG, `${root}/app/media/images/photo.jpg`);
  // Large enough for several 1 MiB-average chunks, so an edit at the end leaves most of them.
  await Deno.writeFile(`${root}/app/media/video.mp4`, pseudoRandomBytes(12_000_000, 7));
  await Deno.writeFile(`${root}/app/media/empty.bin`, new Uint8Array(0));
  await Deno.writeTextFile(`${root}/app/notes with spaces ü.txt`, "ünïcödé name\n");
  await Deno.chmod(`${root}/app/notes with spaces ü.txt`, 0o600);
  await Deno.chmod(`${root}/app/media/images/photo.jpg`, 0o444);
  await Deno.symlink("media/images/photo.jpg", `${root}/app/latest.jpg`);
  await Deno.symlink("/nonexistent/target", `${root}/app/dangling`);
  await Deno.utime(
    `${root}/app/db/chat.db`,
    new Date("2020-02-29T12:34:56.789Z"),
    new Date("2020-02-29T12:34:56.789Z"),
  );
}

interface Entry {
  path: string;
  type: string;
  mode: number;
  mtimeMs: number;
  content?: string;
  target?: string;
}

/** Everything a restore must reproduce, for comparison. */
async function snapshotOf(root: string): Promise<Entry[]> {
  const out: Entry[] = [];
  async function walk(dir: string, rel: string) {
    const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
    for (const name of names) {
      const path = `${dir}/${name}`;
      const r = rel ? `${rel}/${name}` : name;
      const info = await Deno.lstat(path);
      const base = { path: r, mode: info.mode! & 0o7777, mtimeMs: info.mtime!.getTime() };
      if (info.isSymlink) {
        out.push({
          ...base,
          type: "symlink",
          target: await Deno.readLink(path),
          mtimeMs: 0,
          mode: 0,
        });
      } else if (info.isDirectory) {
        out.push({ ...base, type: "dir" });
        await walk(path, r);
      } else {
        const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
        out.push({ ...base, type: "file", content: Array.from(new Uint8Array(digest)).join(",") });
      }
    }
  }
  await walk(root, "");
  return out;
}

const withDir = tempDirs("cofre-e2e-");

/** A new repository (fast Argon2id) for the Repository API, always closed after `body`. */
function withRepository(path: string, body: (repository: Repository) => Promise<void>) {
  return withNewRepository(path, PASSWORD, body);
}

async function packCount(repo: string): Promise<number> {
  return (await Array.fromAsync(new LocalStorage(repo).list("data/"))).length;
}

Deno.test("backup then restore gives an identical tree: contents, modes, mtimes, symlinks, empty folders", () =>
  withDir(async (dir) => {
    await makeSource(`${dir}/src`);
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    assertEquals((await cofre(["init"], { env })).code, 0);
    const backup = await cofre(["backup", `${dir}/src/app`, "--json", "--tag", "t1"], { env });
    assertEquals(backup.code, 0, backup.stderr);
    const summary = JSON.parse(backup.stdout);
    assertTrue(/^[0-9a-f]{64}$/.test(summary.snapshot_id));
    assertEquals(summary.failed, []);
    const restore = await cofre(["restore", "latest", "--target", `${dir}/out`, "--json"], { env });
    assertEquals(restore.code, 0, restore.stderr);
    assertEquals(await snapshotOf(`${dir}/out/app`), await snapshotOf(`${dir}/src/app`));
    // No temporary files are left behind.
    const all = await snapshotOf(`${dir}/out`);
    assertTrue(all.every((e) => !e.path.includes(".cofre-restore-")));
    const ls = await cofre(["ls", summary.snapshot_id.slice(0, 8), "app/media"], { env });
    assertEquals(ls.stdout.split("\n").filter(Boolean), [
      "app/media/empty.bin",
      "app/media/images/",
      "app/media/images/photo.jpg",
      "app/media/video.mp4",
    ]);
  }));

Deno.test("an unchanged tree adds no pack; a changed file adds only its new chunks", () =>
  withDir(async (dir) => {
    await makeSource(`${dir}/src`);
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    await cofre(["init"], { env });
    const first = JSON.parse((await cofre(["backup", `${dir}/src/app`, "--json"], { env })).stdout);
    const packs = await packCount(`${dir}/repo`);
    const second = JSON.parse(
      (await cofre(["backup", `${dir}/src/app`, "--json"], { env })).stdout,
    );
    assertEquals([second.added_packs, second.new_bytes], [0, 0]);
    assertEquals(await packCount(`${dir}/repo`), packs);
    assertEquals(second.bytes, first.bytes);
    // Append to the video: only the last chunk(s) change.
    const f = await Deno.open(`${dir}/src/app/media/video.mp4`, { append: true });
    await f.write(pseudoRandomBytes(1000, 99));
    f.close();
    const third = JSON.parse((await cofre(["backup", `${dir}/src/app`, "--json"], { env })).stdout);
    // The changed tail is at most one maximum-size chunk (4 MiB), plus small tree blobs.
    assertTrue(
      third.new_bytes > 0 && third.new_bytes < 4.2 * 1024 * 1024,
      `new bytes ${third.new_bytes}`,
    );
    assertTrue(
      third.new_bytes < first.new_bytes / 2,
      `new bytes ${third.new_bytes} of ${first.new_bytes}`,
    );
    assertEquals(third.added_packs, 1);
    const snapshots = JSON.parse((await cofre(["snapshots", "--json"], { env })).stdout);
    assertEquals(snapshots.map((s: { sequence: number }) => s.sequence), [0, 1, 2]);
  }));

Deno.test("an unchanged folder's tree is named again, not stored again; a change stores its path up", () =>
  withDir(async (dir) => {
    await makeSource(`${dir}/src`);
    await withRepository(`${dir}/repo`, async (repository) => {
      const first = await repository.backup({ paths: [`${dir}/src/app`], workers: 0 });
      const again = await repository.backup({ paths: [`${dir}/src/app`], workers: 0 });
      assertEquals(again.snapshot.tree, first.snapshot.tree);
      assertEquals([again.snapshot.stats.newBlobs, again.addedPacks], [0, 0]);
      // A new file in media/: media's tree and the root's are new, db's is the one before.
      await Deno.writeTextFile(`${dir}/src/app/media/new.txt`, "hello");
      const changed = await repository.backup({ paths: [`${dir}/src/app`], workers: 0 });
      assertTrue(changed.snapshot.tree !== first.snapshot.tree);
      // A folder's tree id, as the snapshot lists it.
      const subtree = async (snapshot: string, path: string) => {
        for await (const { path: p, node } of repository.list(snapshot, "app")) {
          if (p === path && node.type === "dir") return node.subtree;
        }
        throw new Error(`${path} is not a folder of ${snapshot}`);
      };
      assertEquals(
        await subtree(changed.snapshotId, "app/db"),
        await subtree(first.snapshotId, "app/db"),
      );
      assertTrue(
        await subtree(changed.snapshotId, "app/media") !==
          await subtree(first.snapshotId, "app/media"),
      );
      // New blobs: new.txt's chunk, and the trees on its way up (media, app, the snapshot's root).
      assertEquals(changed.snapshot.stats.newBlobs, 4);
    });
  }));

Deno.test("a JPEG is stored raw and text is compressed", () =>
  withDir(async (dir) => {
    await makeSource(`${dir}/src`);
    await withRepository(`${dir}/repo`, async (repository) => {
      await repository.backup({ paths: [`${dir}/src/app/media/images`, `${dir}/src/app/db`] });
      const index = await repository.index();
      const files = new Map<string, string[]>();
      for await (const { path, node } of repository.list("latest")) {
        if (node.type === "file") files.set(path, node.content!);
      }
      const overhead = 12 + 1 + 16;
      for (const id of files.get("images/photo.jpg")!) {
        const at = index.get(id)!;
        assertEquals(at.sealedLength, at.plaintextLength + overhead, "JPEG chunk stored raw");
      }
      for (const id of files.get("db/chat.db")!) {
        const at = index.get(id)!;
        assertTrue(at.sealedLength < at.plaintextLength / 2, "text compressed");
      }
    });
  }));

Deno.test("restore --include picks paths, keeps existing files unless --overwrite", () =>
  withDir(async (dir) => {
    await makeSource(`${dir}/src`);
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    await cofre(["init"], { env });
    await cofre(["backup", `${dir}/src/app`], { env });
    const partial = await cofre([
      "restore",
      "latest",
      "--target",
      `${dir}/out`,
      "--include",
      "app/db",
    ], { env });
    assertEquals(partial.code, 0, partial.stderr);
    assertEquals((await snapshotOf(`${dir}/out`)).map((e) => e.path), [
      "app",
      "app/db",
      "app/db/chat.db",
    ]);
    // The folders on the way have their snapshot's mode and time, not today's.
    for (const folder of ["app", "app/db"]) {
      const restored = await Deno.stat(`${dir}/out/${folder}`);
      const source = await Deno.stat(`${dir}/src/${folder}`);
      assertEquals(restored.mtime?.getTime(), source.mtime?.getTime(), folder);
      assertEquals(restored.mode! & 0o7777, source.mode! & 0o7777, folder);
    }
    await Deno.writeTextFile(`${dir}/out/app/db/chat.db`, "local edit");
    const kept = await cofre(
      ["restore", "latest", "--target", `${dir}/out`, "--include", "app/db"],
      { env },
    );
    assertTrue(kept.stdout.includes("Kept 1 existing"), kept.stdout);
    assertEquals(await Deno.readTextFile(`${dir}/out/app/db/chat.db`), "local edit");
    const replaced = await cofre([
      "restore",
      "latest",
      "--target",
      `${dir}/out`,
      "--include",
      "app/db",
      "--overwrite",
    ], { env });
    assertEquals(replaced.code, 0);
    assertEquals(
      await Deno.readFile(`${dir}/out/app/db/chat.db`),
      await Deno.readFile(`${dir}/src/app/db/chat.db`),
    );
    const missing = await cofre([
      "restore",
      "latest",
      "--target",
      `${dir}/out2`,
      "--include",
      "app/nope",
    ], { env });
    assertEquals(missing.code, 2);
    assertTrue(missing.stderr.includes("not in the snapshot"), missing.stderr);
  }));

Deno.test("a wrong password exits 12 and writes nothing to the target", () =>
  withDir(async (dir) => {
    await makeSource(`${dir}/src`);
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    await cofre(["init"], { env });
    await cofre(["backup", `${dir}/src/app`], { env });
    const wrong = await cofre(["restore", "latest", "--target", `${dir}/out`], {
      env: { ...env, COFRE_PASSWORD: "not the password" },
    });
    assertEquals(wrong.code, 12);
    assertEquals(wrong.stderr, "cofre: wrong password, recovery key or account\n");
    assertEquals(await Deno.stat(`${dir}/out`).then(() => true, () => false), false);
  }));

Deno.test("an unreadable source file gives exit 3 and a usable snapshot", () =>
  withDir(async (dir) => {
    await makeSource(`${dir}/src`);
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    await cofre(["init"], { env });
    // Root reads anything, so deny the read through Deno's permissions instead of chmod.
    const secret = `${dir}/src/app/db/chat.db`;
    const cli = new URL("../cli/main.ts", import.meta.url).pathname;
    const run = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        `--deny-read=${secret}`,
        cli,
        "backup",
        `${dir}/src/app`,
        "--json",
      ],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assertEquals(run.code, 3, stderr);
    assertTrue(stderr.includes(`could not read ${secret}`), stderr);
    const summary = JSON.parse(new TextDecoder().decode(run.stdout));
    assertEquals(summary.failed.map((f: { path: string }) => f.path), [secret]);
    // The four other regular files are counted; the one that failed is not.
    assertEquals(summary.files, 4);
    const listed = await cofre(["snapshots"], { env });
    assertTrue(listed.stdout.includes("(partial: 1 path unread)"), listed.stdout);
    assertTrue(listed.stdout.includes("1 snapshot."), listed.stdout);
    const restore = await cofre(["restore", "latest", "--target", `${dir}/out`], { env });
    assertEquals(restore.code, 0, restore.stderr);
    const restored = (await snapshotOf(`${dir}/out/app`)).map((e) => e.path);
    assertTrue(
      restored.includes("media/video.mp4") && !restored.includes("db/chat.db"),
      restored.join(" "),
    );
  }));

Deno.test("backup refuses what it cannot do, with the right exit code", () =>
  withDir(async (dir) => {
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    assertEquals((await cofre(["backup", dir], { env })).code, 10);
    await cofre(["init"], { env });
    const none = await cofre(["backup", `${dir}/missing`], { env });
    assertEquals(none.code, 1);
    assertTrue(none.stderr.includes("none of the paths could be read"), none.stderr);
    const usage = await cofre(["backup"], { env });
    assertEquals(usage.code, 2);
    const restoreNone = await cofre(["restore", "latest", "--target", `${dir}/out`], { env });
    assertEquals(restoreNone.code, 2);
    assertTrue(restoreNone.stderr.includes("has none"), restoreNone.stderr);
  }));

Deno.test("blobs written by the worker pool read back inline, and the reverse", () =>
  withDir(async (dir) => {
    await makeSource(`${dir}/src`);
    await withRepository(`${dir}/repo`, async (repository) => {
      // Workers hash and seal; ls reads trees inline; then inline writes, workers restore.
      await repository.backup({ paths: [`${dir}/src/app/db`], workers: 2 });
      const listed = [];
      for await (const { path } of repository.list("latest")) listed.push(path);
      assertEquals(listed, ["db", "db/chat.db"]);
      await repository.backup({ paths: [`${dir}/src/app/media`], workers: 0 });
      await repository.restore("latest", { target: `${dir}/out`, workers: 2 });
      assertEquals(await snapshotOf(`${dir}/out/media`), await snapshotOf(`${dir}/src/app/media`));
    });
  }));

Deno.test("diff, stats and cat show what a repository holds", () =>
  withDir(async (dir) => {
    await makeSource(`${dir}/src`);
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    await cofre(["init"], { env });
    const first =
      JSON.parse((await cofre(["backup", `${dir}/src/app`, "--json"], { env })).stdout).snapshot_id;
    await Deno.writeTextFile(`${dir}/src/app/db/chat.db`, "rewritten");
    await Deno.remove(`${dir}/src/app/latest.jpg`);
    await Deno.mkdir(`${dir}/src/app/new`);
    await Deno.chmod(`${dir}/src/app/notes with spaces ü.txt`, 0o644);
    const second =
      JSON.parse((await cofre(["backup", `${dir}/src/app`, "--json"], { env })).stdout).snapshot_id;
    const diff = await cofre(["diff", first.slice(0, 8), second.slice(0, 8)], { env });
    assertEquals(diff.code, 0, diff.stderr);
    assertEquals(diff.stdout.split("\n").filter(Boolean), [
      "M  app/db/chat.db",
      "-  app/latest.jpg",
      "+  app/new/",
      "U  app/notes with spaces ü.txt",
    ]);
    assertEquals((await cofre(["diff", "latest", "latest"], { env })).stdout, "No changes.\n");
    const stats = JSON.parse((await cofre(["stats", "--json"], { env })).stdout);
    assertEquals([stats.snapshots, stats.newestSequence], [2, 1]);
    assertTrue(
      stats.packs.objects >= 1 && stats.packs.bytes < stats.plaintextBytes,
      JSON.stringify(stats),
    );
    const config = JSON.parse((await cofre(["cat", "config"], { env })).stdout);
    assertEquals(config.zstd_level, 3);
    const snapshot = JSON.parse((await cofre(["cat", "snapshot", "latest"], { env })).stdout);
    assertEquals([snapshot.id, snapshot.sequence], [second, 1]);
    const tree = JSON.parse((await cofre(["cat", "tree", snapshot.tree], { env })).stdout);
    assertEquals(tree.map((n: { name: string }) => n.name), ["app"]);
    const packs = await Array.fromAsync(new LocalStorage(`${dir}/repo`).list("data/"));
    const header = JSON.parse(
      (await cofre(["cat", "pack", packs[0]!.name.split("/")[2]!], { env })).stdout,
    );
    assertTrue(header.length >= 1 && header.every((e: { offset: number }) => e.offset >= 0));
    const chat = header.find((e: { type: string }) => e.type === "data");
    const blob = await cofre(["cat", "blob", chat.id], { env });
    assertEquals(blob.code, 0, blob.stderr);
    const bad = await cofre(["cat", "frob", "x"], { env });
    assertEquals(bad.code, 2);
    assertTrue(bad.stderr.includes("expected config, snapshot"), bad.stderr);
    // A snapshot id too short to be one says what would do; LATEST is latest.
    const short = await cofre(["ls", "4b"], { env });
    assertEquals(short.code, 2, short.stderr);
    assertTrue(short.stderr.includes("at least 4 hex digits"), short.stderr);
    assertEquals((await cofre(["ls", "LATEST"], { env })).code, 0);
    // An id the repository does not hold is a usage error, not a sign of damage.
    for (const id of ["0".repeat(64), chat.id.slice(0, 8)]) {
      const missing = await cofre(["cat", "blob", id], { env });
      assertEquals(missing.code, 2, missing.stderr);
      assertTrue(missing.stderr.includes("has no such blob"), missing.stderr);
      assertTrue(!missing.stderr.includes("damaged"), missing.stderr);
    }
  }));

Deno.test("restore with the worker pool and many files at once finishes and is exact", () =>
  withDir(async (dir) => {
    // Enough bytes for the adaptive pool to start (16 MiB), in one-chunk and multi-chunk files:
    // files in flight once deadlocked waiting for chunk slots that other files held.
    await Deno.mkdir(`${dir}/src/many`, { recursive: true });
    for (let i = 0; i < 60; i++) {
      await Deno.writeFile(
        `${dir}/src/many/p${i}.jpg`,
        pseudoRandomBytes(300_000 + i * 1000, i + 1),
      );
    }
    for (let i = 0; i < 3; i++) {
      await Deno.writeFile(`${dir}/src/many/v${i}.mp4`, pseudoRandomBytes(9_000_000, 100 + i));
    }
    await withRepository(`${dir}/repo`, async (repository) => {
      await repository.backup({ paths: [`${dir}/src/many`], workers: 2 });
      // A liveness guard, not a speed check: a deadlock must fail the test, not hang CI.
      let watchdog: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<never>((_, reject) => {
        watchdog = setTimeout(
          () => reject(new Error("restore never finished: deadlock?")),
          120_000,
        );
      });
      const result = await Promise.race([
        repository.restore("latest", { target: `${dir}/out`, workers: 2 }),
        hung,
      ]).finally(() => clearTimeout(watchdog));
      assertEquals(result.files, 63);
      assertEquals(await snapshotOf(`${dir}/out/many`), await snapshotOf(`${dir}/src/many`));
    });
  }));

Deno.test("a large file is synced as it is restored; a failed sync on the way fails the file and leaves nothing", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src`);
    const data = pseudoRandomBytes(80 * 1024 * 1024, 42);
    await Deno.writeFile(`${dir}/src/video.mp4`, data);
    await withRepository(`${dir}/repo`, async (repository) => {
      await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      const original = Deno.FsFile.prototype.syncData;
      let calls = 0;
      try {
        // Count the syncs of a good restore: more than the one before the rename.
        Deno.FsFile.prototype.syncData = function (this: Deno.FsFile) {
          calls++;
          return original.call(this);
        };
        await repository.restore("latest", { target: `${dir}/good`, workers: 0 });
        assertEquals(await Deno.readFile(`${dir}/good/src/video.mp4`), data);
        assertTrue(calls >= 2, `${calls} syncs for 80 MiB`);

        // The first sync fails, as a disk error reports itself once (Linux),
        // and the later ones succeed: the file must still fail.
        calls = 0;
        Deno.FsFile.prototype.syncData = function (this: Deno.FsFile) {
          return ++calls === 1 ? Promise.reject(new Error("EIO on the way")) : original.call(this);
        };
        await assertRejects(
          () => repository.restore("latest", { target: `${dir}/bad`, workers: 0 }),
          Error,
          "EIO on the way",
        );
      } finally {
        Deno.FsFile.prototype.syncData = original;
      }
      assertEquals(await Array.fromAsync(Deno.readDir(`${dir}/bad/src`)), []);
    });
  }));
