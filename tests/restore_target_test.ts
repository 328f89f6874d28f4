// What a restore does with what is already in its target: it never follows a
// symlink out of it, keeps what stands in the way unless --overwrite, never
// removes a folder to make room for a file, and leaves no temporary file
// behind when it stops on an error. And a backup re-reads a file whose ctime
// is too recent to vouch for it (FORMAT.md §11).

import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import {
  FormatError,
  LocalStorage,
  Repository,
  RepositoryDamagedError,
  RepositoryNotFoundError,
  RestoreConflictError,
} from "../mod.ts";
import { tempDirs } from "./_temp_dir.ts";
import { withNewRepository } from "./_repository.ts";

const withDir = tempDirs("cofre-restore-target-test-");
const PASSWORD = "correct horse battery staple";

function withRepository(path: string, body: (repository: Repository) => Promise<void>) {
  return withNewRepository(path, PASSWORD, body);
}

/** The CLI in a process of its own (signals, pipes), on `repo`, its output piped. */
function spawnCli(repo: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, ...args],
    env: { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: repo },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** A snapshot of `src`: `tree/a.txt`, `tree/sub/b.txt`, `tree/sub/deep/c.txt`. */
async function backUpTree(dir: string, repository: Repository): Promise<void> {
  await Deno.mkdir(`${dir}/src/tree/sub/deep`, { recursive: true });
  await Deno.writeTextFile(`${dir}/src/tree/a.txt`, "a");
  await Deno.writeTextFile(`${dir}/src/tree/sub/b.txt`, "b");
  await Deno.writeTextFile(`${dir}/src/tree/sub/deep/c.txt`, "c");
  await repository.backup({ paths: [`${dir}/src/tree`] });
}

/** Names in `dir`, recursively, sorted; `.cofre-restore-*` files included. */
async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (at: string, prefix: string) => {
    for await (const entry of Deno.readDir(at)) {
      out.push(prefix + entry.name);
      if (entry.isDirectory) await walk(`${at}/${entry.name}`, `${prefix}${entry.name}/`);
    }
  };
  await walk(dir, "");
  return out.sort();
}

Deno.test("a symlink in a folder's place in the target is never followed", () =>
  withDir(async (dir) => {
    await withRepository(`${dir}/repo`, async (repository) => {
      await backUpTree(dir, repository);
      await Deno.mkdir(`${dir}/outside`, { mode: 0o700 });
      await Deno.chmod(`${dir}/outside`, 0o700);
      const outsideBefore = await Deno.stat(`${dir}/outside`);
      await Deno.mkdir(`${dir}/out/tree`, { recursive: true });
      await Deno.symlink(`${dir}/outside`, `${dir}/out/tree/sub`);

      // Kept without --overwrite: nothing lands outside, the rest is restored.
      const kept = await repository.restore("latest", { target: `${dir}/out`, workers: 0 });
      assertEquals(kept.skipped, 1);
      assertEquals(await listing(`${dir}/outside`), []);
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/a.txt`), "a");
      assertTrue((await Deno.lstat(`${dir}/out/tree/sub`)).isSymlink);

      // --overwrite replaces the symlink itself with a folder; still nothing outside.
      await repository.restore("latest", { target: `${dir}/out`, overwrite: true, workers: 0 });
      assertTrue((await Deno.lstat(`${dir}/out/tree/sub`)).isDirectory);
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/sub/deep/c.txt`), "c");
      assertEquals(await listing(`${dir}/outside`), []);
      const outsideAfter = await Deno.stat(`${dir}/outside`);
      assertEquals(outsideAfter.mode! & 0o7777, 0o700);
      assertEquals(outsideAfter.mtime?.getTime(), outsideBefore.mtime?.getTime());
    });
  }));

Deno.test("a file in a folder's place is kept, or replaced with --overwrite", () =>
  withDir(async (dir) => {
    await withRepository(`${dir}/repo`, async (repository) => {
      await backUpTree(dir, repository);
      await Deno.mkdir(`${dir}/out/tree`, { recursive: true });
      await Deno.writeTextFile(`${dir}/out/tree/sub`, "mine");

      const kept = await repository.restore("latest", { target: `${dir}/out`, workers: 0 });
      assertEquals(kept.skipped, 1);
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/sub`), "mine");
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/a.txt`), "a");

      await repository.restore("latest", { target: `${dir}/out`, overwrite: true, workers: 0 });
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/sub/b.txt`), "b");
      assertEquals(
        (await listing(`${dir}/out`)).filter((name) => name.includes(".cofre-restore-")),
        [],
      );
    });
  }));

Deno.test("a folder in a file's place stops --overwrite with a clear error and no temporary files", () =>
  withDir(async (dir) => {
    await withRepository(`${dir}/repo`, async (repository) => {
      await backUpTree(dir, repository);
      await Deno.mkdir(`${dir}/out/tree/a.txt/inner`, { recursive: true });
      const error = await assertRejects(
        () => repository.restore("latest", { target: `${dir}/out`, overwrite: true, workers: 0 }),
        RestoreConflictError,
      );
      assertTrue(error.message.includes("a folder is in the place of this file"), error.message);
      // The folder is untouched, every other file restored, no temporary file left.
      assertTrue((await Deno.stat(`${dir}/out/tree/a.txt/inner`)).isDirectory);
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/sub/deep/c.txt`), "c");
      assertEquals(
        (await listing(`${dir}/out`)).filter((name) => name.includes(".cofre-restore-")),
        [],
      );
    });
  }));

Deno.test("a target that is a file, or empty, is refused before anything is written", () =>
  withDir(async (dir) => {
    await withRepository(`${dir}/repo`, async (repository) => {
      await backUpTree(dir, repository);
      await Deno.writeTextFile(`${dir}/afile`, "x");
      const error = await assertRejects(
        () => repository.restore("latest", { target: `${dir}/afile`, workers: 0 }),
        RestoreConflictError,
      );
      assertTrue(error.message.includes("it is a file, not a folder"), error.message);
      await assertRejects(
        () => repository.restore("latest", { target: `${dir}/afile/below`, workers: 0 }),
        Error,
        `Cannot create the target folder ${dir}/afile/below`,
      );
    });
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    const empty = await cofre(["restore", "latest", "--target", ""], { env });
    assertEquals(empty.code, 2, empty.stderr);
    assertTrue(empty.stderr.includes("--target is empty"), empty.stderr);
  }));

Deno.test("a file rewritten within its ctime's second, same size and mtime, is read again", () =>
  withDir(async (dir) => {
    await withRepository(`${dir}/repo`, async (repository) => {
      const mtime = new Date("2020-01-01T00:00:00Z");
      // The case needs the rewrite to keep the first write's ctime (whole
      // seconds in Deno): both writes and the backup between them in one
      // second. A slow moment can spoil that; then the next attempt runs.
      for (let attempt = 1;; attempt++) {
        const src = `${dir}/src${attempt}`;
        const path = `${src}/f.txt`;
        await Deno.mkdir(src);
        while (Date.now() % 1000 > 100) await new Promise((r) => setTimeout(r, 5));
        await Deno.writeTextFile(path, "version-one");
        await Deno.utime(path, mtime, mtime);
        const ctimeBefore = (await Deno.stat(path)).ctime?.getTime();
        await repository.backup({ paths: [src] });
        await Deno.writeTextFile(path, "version-two");
        await Deno.utime(path, mtime, mtime);
        if ((await Deno.stat(path)).ctime?.getTime() !== ctimeBefore) {
          assertTrue(attempt < 5, "the rewrite never shared the first write's ctime second");
          continue;
        }
        await repository.backup({ paths: [src] });
        await repository.restore("latest", { target: `${dir}/out${attempt}`, workers: 0 });
        assertEquals(
          await Deno.readTextFile(`${dir}/out${attempt}/src${attempt}/f.txt`),
          "version-two",
        );
        // Unchanged since, and a second older than the last backup's start: skipped, same tree.
        await new Promise((r) => setTimeout(r, 1100));
        const before = (await repository.snapshot("latest")).snapshot.tree;
        await repository.backup({ paths: [src] });
        assertEquals((await repository.snapshot("latest")).snapshot.tree, before);
        break;
      }
    });
  }));

Deno.test("foreign files in a repository's folders are left alone, as FORMAT.md §4 says", () =>
  withDir(async (dir) => {
    const repo = `${dir}/repo`;
    await withRepository(repo, async (repository) => {
      await backUpTree(dir, repository);
      // What a sync tool or a person may leave: conflicted copies, notes.
      const [index] = [...Deno.readDirSync(`${repo}/index`)].map((e) => e.name);
      const [snapshot] = [...Deno.readDirSync(`${repo}/snapshots`)].map((e) => e.name);
      const foreign = [
        `index/${index} (conflicted copy)`,
        "index/notes",
        `snapshots/${snapshot} (1)`,
        "snapshots/notes",
        "keys/README",
        "keys/notes.txt",
        "data/ab/notes",
        "data/no/notes",
        "settings/notes",
      ];
      for (const name of foreign) {
        await Deno.mkdir(`${repo}/${name.slice(0, name.lastIndexOf("/"))}`, { recursive: true });
        await Deno.writeTextFile(`${repo}/${name}`, "not Cofre's");
      }
      assertEquals((await repository.snapshots()).length, 1);
      const report = await repository.check({ workers: 0 });
      assertEquals(report.damage, []);
      await repository.backup({ paths: [`${dir}/src/tree`] });
      await repository.restore("latest", { target: `${dir}/out`, workers: 0 });
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/sub/deep/c.txt`), "c");
      await repository.prune();
      for (const name of foreign) {
        assertEquals(await Deno.readTextFile(`${repo}/${name}`), "not Cofre's", name);
      }
    });
  }));

Deno.test("Ctrl-C during a restore exits 130 and leaves no temporary file", () =>
  withDir(async (dir) => {
    await withRepository(`${dir}/repo`, async (repository) => {
      await Deno.mkdir(`${dir}/src`);
      // Large enough that its restore is still writing when the signal comes.
      const big = new Uint8Array(256 * 1024 * 1024);
      for (let at = 0; at < big.length; at += 65536) {
        crypto.getRandomValues(big.subarray(at, at + 65536));
      }
      await Deno.writeFile(`${dir}/src/big.bin`, big);
      // Restored before it (names in order): whole, renamed into place, and kept.
      for (let i = 0; i < 5; i++) await Deno.writeTextFile(`${dir}/src/a-${i}.txt`, `small ${i}`);
      await repository.backup({ paths: [`${dir}/src`] });
    });
    const child = spawnCli(`${dir}/repo`, ["restore", "latest", "--target", `${dir}/out`]);
    const temps = async () =>
      (await listing(`${dir}/out`).catch(() => [])).filter((n) => n.includes(".cofre-restore-"));
    const renamed = async () =>
      (await listing(`${dir}/out`).catch(() => [])).some((n) => n.startsWith("src/a-"));
    // The signal comes while the big file is written and after a small one is in place.
    const deadline = Date.now() + 60_000;
    while (!((await temps()).length > 0 && await renamed()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 2));
    }
    assertTrue((await temps()).length > 0 && await renamed(), "the restore was not caught midway");
    child.kill("SIGINT");
    const { code, stderr } = await child.output();
    assertEquals(code, 130, new TextDecoder().decode(stderr));
    assertTrue(new TextDecoder().decode(stderr).includes("cancelled"));
    assertEquals(await temps(), []);
    // What is there is whole: files renamed into place before the signal stay, the big one is not there.
    const left = await listing(`${dir}/out`);
    assertTrue(!left.includes("src/big.bin"), left.join(" "));
    for (const name of left.filter((n) => n.startsWith("src/a-"))) {
      assertEquals(
        await Deno.readTextFile(`${dir}/out/${name}`),
        await Deno.readTextFile(`${dir}/${name}`),
      );
    }
    assertTrue(left.some((n) => n.startsWith("src/a-")), left.join(" "));
  }));

Deno.test("a restore removes the hour-old temporary files a killed restore left, and only those", () =>
  withDir(async (dir) => {
    await withRepository(`${dir}/repo`, async (repository) => {
      await backUpTree(dir, repository);
      await Deno.mkdir(`${dir}/out/tree/sub`, { recursive: true });
      const stale = [
        `${dir}/out/.cofre-restore-0123456789abcdef`,
        `${dir}/out/tree/sub/.cofre-restore-fedcba9876543210`,
      ];
      for (const path of stale) {
        await Deno.writeTextFile(path, "stale");
        const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
        await Deno.utime(path, twoHoursAgo, twoHoursAgo);
      }
      await Deno.writeTextFile(`${dir}/out/tree/.cofre-restore-notours`, "mine");
      // A restore running beside this one: its file is fresh, and stays.
      await Deno.writeTextFile(`${dir}/out/tree/.cofre-restore-00000000ffffffff`, "busy");
      await repository.restore("latest", { target: `${dir}/out`, workers: 0 });
      assertEquals(await listing(`${dir}/out`), [
        "tree",
        "tree/.cofre-restore-00000000ffffffff",
        "tree/.cofre-restore-notours",
        "tree/a.txt",
        "tree/sub",
        "tree/sub/b.txt",
        "tree/sub/deep",
        "tree/sub/deep/c.txt",
      ]);
    });
  }));

Deno.test("with its index files lost, a repository still backs up, restores and is healed by prune", () =>
  withDir(async (dir) => {
    const repo = `${dir}/repo`;
    await withRepository(repo, async (repository) => {
      await backUpTree(dir, repository);
    });
    for (const entry of Deno.readDirSync(`${repo}/index`)) {
      await Deno.remove(`${repo}/index/${entry.name}`);
    }
    // Each command in a process of its own, as the CLI runs them.
    const session = async (body: (repository: Repository, warnings: string[]) => Promise<void>) => {
      const warnings: string[] = [];
      const repository = await Repository.open(new LocalStorage(repo), { password: PASSWORD });
      repository.onWarning = (message) => warnings.push(message);
      try {
        await body(repository, warnings);
      } finally {
        await repository.close();
      }
    };
    // A backup first: it reads its parent's trees from the packs' headers.
    await session(async (repository, warnings) => {
      await Deno.writeTextFile(`${dir}/src/tree/a.txt`, "a, again");
      await repository.backup({ paths: [`${dir}/src/tree`], workers: 0 });
      assertEquals(warnings.length, 1);
      assertTrue(warnings[0]!.includes("read from their own headers"), warnings[0]);
    });
    await session(async (repository, warnings) => {
      await repository.restore("latest", { target: `${dir}/out`, workers: 0 });
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/a.txt`), "a, again");
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/sub/deep/c.txt`), "c");
      assertEquals(warnings.length, 1);
    });
    // prune indexes the needed packs again; then nothing needs the headers.
    await session(async (repository) => {
      const result = await repository.prune();
      assertEquals(result.reindexedPacks, 1);
    });
    await session(async (repository, warnings) => {
      assertEquals((await repository.check({ workers: 0 })).damage, []);
      await repository.restore("latest", { target: `${dir}/out2`, workers: 0 });
      assertEquals(await Deno.readTextFile(`${dir}/out2/tree/sub/b.txt`), "b");
      assertEquals(warnings, []);
    });
  }));

Deno.test("a damaged pack fails the files it holds, names them, and the rest is still restored", () =>
  withDir(async (dir) => {
    const repo = `${dir}/repo`;
    await Deno.mkdir(`${dir}/src/tree`, { recursive: true });
    // Large enough for more than one pack, so one pack holds none of the trees.
    const big = new Uint8Array(40 * 1024 * 1024);
    for (let at = 0; at < big.length; at += 65536) {
      crypto.getRandomValues(big.subarray(at, at + 65536));
    }
    await Deno.writeFile(`${dir}/src/tree/big.bin`, big);
    await Deno.writeTextFile(`${dir}/src/tree/small.txt`, "small");
    await withRepository(repo, async (repository) => {
      await repository.backup({ paths: [`${dir}/src/tree`], workers: 0 });
      const withTrees = new Set<string>();
      const all = new Set<string>();
      for (const [, location] of (await repository.index()).entries()) {
        all.add(location.pack);
        if (location.type === "tree") withTrees.add(location.pack);
      }
      const dataOnly = [...all].find((pack) => !withTrees.has(pack))!;
      await Deno.truncate(`${repo}/data/${dataOnly.slice(0, 2)}/${dataOnly}`, 1000);
    });
    const repository = await Repository.open(new LocalStorage(repo), { password: PASSWORD });
    try {
      const error = await assertRejects(
        () => repository.restore("latest", { target: `${dir}/out`, workers: 0 }),
        FormatError,
      );
      assertTrue(
        error.message.startsWith(`Cannot restore ${dir}/out/tree/big.bin: `),
        error.message,
      );
      assertEquals(await Deno.readTextFile(`${dir}/out/tree/small.txt`), "small");
      assertEquals(await listing(`${dir}/out`), ["tree", "tree/small.txt"]);
    } finally {
      await repository.close();
    }
  }));

Deno.test("a repository whose config is gone says so, and init does not write over it", () =>
  withDir(async (dir) => {
    await withRepository(`${dir}/repo`, (repository) => backUpTree(dir, repository));
    await Deno.remove(`${dir}/repo/config`);
    const slots = [...Deno.readDirSync(`${dir}/repo/keys`)].map((e) => e.name);
    const error = await assertRejects(
      () => Repository.open(new LocalStorage(`${dir}/repo`), { password: PASSWORD }),
      RepositoryDamagedError,
    );
    assertTrue(error.message.includes("its config is missing"), error.message);
    await assertRejects(
      () => Repository.init(new LocalStorage(`${dir}/repo`), { password: PASSWORD }),
      Error,
      "without its config",
    );
    assertEquals([...Deno.readDirSync(`${dir}/repo/keys`)].map((e) => e.name), slots);
    // Key slots alone are an init that stopped before its config: init again works.
    await withRepository(`${dir}/fresh`, async () => {});
    await Deno.remove(`${dir}/fresh/config`);
    await assertRejects(
      () => Repository.open(new LocalStorage(`${dir}/fresh`), { password: PASSWORD }),
      RepositoryNotFoundError,
    );
    await withRepository(`${dir}/fresh`, async () => {});
  }));

Deno.test("a reader that goes away early ends the run quietly with 141, not 0 and not a stack of errors", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src/many`, { recursive: true });
    for (let i = 0; i < 3000; i++) await Deno.writeTextFile(`${dir}/src/many/file-${i}.txt`, "x");
    await withRepository(`${dir}/repo`, async (repository) => {
      await repository.backup({ paths: [`${dir}/src/many`], workers: 0 });
    });
    const child = spawnCli(`${dir}/repo`, ["ls", "latest"]);
    // Like `| head -1`: read a little, then close.
    const reader = child.stdout.getReader();
    await reader.read();
    await reader.cancel();
    const stderr = await new Response(child.stderr).text();
    const { code } = await child.status;
    assertEquals(code, 141, stderr);
    assertEquals(stderr, "");
  }));
