// Content lists (FORMAT.md §11.1): a file of more than 4096 chunks names
// lists of its chunk ids instead of the ids, so trees and memory stay small
// however large a database grows. Backup, restore, the unchanged-file
// shortcut, diff, check and prune all follow the lists.

import { DatabaseSync } from "node:sqlite";
import { assertEquals, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { tempDirs } from "./_temp_dir.ts";
import {
  backup,
  BlobIndex,
  CONTENT_LIST_IDS,
  InlineBlobCrypto,
  LocalStorage,
  MemoryStorage,
  Repository,
  signingKeyFromSeed,
  type TreeNode,
} from "../mod.ts";
import { randomBlobKeys } from "./_blob_keys.ts";
import { equalBytes } from "../src/_bytes.ts";
import type { BlobCrypto } from "../src/workers.ts";

const PASSWORD = "vivid otter juggles lanterns";
const FAST = { memoryKib: 64, iterations: 1, parallelism: 1 };
const HOUR = 3_600_000;
/** One 3,000-byte row a 4 KiB page: pages = rows + a few. */
const ROWS = CONTENT_LIST_IDS + 500;

const withDir = tempDirs("cofre-content-lists-test-");

function writeRows(path: string, from: number, to: number, seed: number): void {
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA page_size = 4096");
    db.exec("PRAGMA journal_mode = DELETE");
    db.exec("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    db.exec("BEGIN");
    const upsert = db.prepare("INSERT OR REPLACE INTO rows (id, body) VALUES (?, ?)");
    for (let id = from; id < to; id++) upsert.run(id, pseudoRandomBytes(3000, seed * 100_003 + id));
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

async function fileNode(repository: Repository, ref: string, name: string) {
  for await (const { path, node } of repository.list(ref)) {
    if (path.endsWith(`/${name}`) && node.type === "file") return node;
  }
  throw new Error(`${name} is not in ${ref}`);
}

async function restoresSame(repository: Repository, ref: string, source: string, dir: string) {
  const target = `${dir}/out-${crypto.randomUUID()}`;
  await repository.restore(ref, { target, workers: 2 });
  const name = source.slice(source.lastIndexOf("/") + 1);
  const restored = await Deno.readFile(`${target}/src/${name}`);
  assertTrue(restored.length > CONTENT_LIST_IDS * 4096, `${restored.length} bytes`);
  // A rollback-journal database is copied byte for byte (FORMAT.md §7.4). (assertEquals on
  // 18 MB arrays builds a diff for minutes before it fails.)
  assertTrue(equalBytes(restored, await Deno.readFile(source)), "the restore differs");
}

Deno.test("a database of more than 4096 pages is backed up, restored, checked, diffed and pruned through content lists", () =>
  withDir(async (dir) => {
    const db = `${dir}/src/big.db`;
    await Deno.mkdir(`${dir}/src`);
    writeRows(db, 0, ROWS, 1);
    const storage = new MemoryStorage();
    const clock = { ms: Date.UTC(2026, 0, 1) };
    storage.now = () => clock.ms;
    const now = () => clock.ms;
    const { repository } = await Repository.init(storage, { password: PASSWORD, argon2id: FAST });
    try {
      const first = await repository.backup({ paths: [`${dir}/src`], workers: 2 });
      const node = await fileNode(repository, first.snapshotId, "big.db");
      // Two lists: 4096 pages, then the rest; no ids in the node itself.
      assertEquals(node.content, undefined);
      assertEquals(node.contentLists?.length, 2);
      assertEquals(node.sqlite?.chunkBytes, 4096, "single pages, recorded (FORMAT.md §7.4)");
      const ids = (await Array.fromAsync(repository.chunkIds(node))).map((run) => run.length);
      assertEquals(ids[0], CONTENT_LIST_IDS);
      assertEquals(ids[0]! + ids[1]!, Math.ceil(node.size / 4096));
      await restoresSame(repository, first.snapshotId, db, dir);

      // Unchanged: the lists are read to see every chunk is still stored; nothing is added.
      const unchanged = await repository.backup({ paths: [`${dir}/src`], workers: 2 });
      assertEquals([unchanged.addedPacks, unchanged.addedBytes], [0, 0]);
      assertEquals(await fileNode(repository, unchanged.snapshotId, "big.db"), node);

      // A row on a page past the first 4096 changes that page and page 1
      // (SQLite's change counter, FORMAT.md §7.4), so both lists, and no other chunk.
      writeRows(db, ROWS - 10, ROWS - 9, 2);
      const changed = await repository.backup({ paths: [`${dir}/src`], workers: 2 });
      const after = await fileNode(repository, changed.snapshotId, "big.db");
      const flat = async (n: TreeNode & { type: "file" }) =>
        (await Array.fromAsync(repository.chunkIds(n))).flat();
      const [was, now_] = [await flat(node), await flat(after)];
      const differing = was.flatMap((id, i) => id === now_[i] ? [] : [i]);
      assertEquals(now_.length, was.length);
      assertTrue(differing.length >= 2 && differing.length <= 4, `${differing}`);
      assertTrue(differing.every((i) => i === 0 || i >= CONTENT_LIST_IDS), `${differing}`);
      assertTrue(after.contentLists?.[0] !== node.contentLists![0], "page 1 is in the first list");
      assertTrue(after.contentLists?.[1] !== node.contentLists![1], "the second list changed");
      const diff = await Array.fromAsync(
        repository.diff(unchanged.snapshotId, changed.snapshotId),
      );
      assertEquals(diff.map((c) => [c.change, c.path.split("/").pop()]), [["M", "big.db"]]);
      await restoresSame(repository, "latest", db, dir);

      // Prune after forgetting the first two. Every pack still holds pages the
      // latest lists name, so nothing may go: were the lists not followed
      // (src/prune.ts liveBlobs), every data pack would look unused and be deleted.
      await repository.forget([first.snapshotId, unchanged.snapshotId], { now });
      clock.ms += 2 * HOUR;
      const planned = await repository.prune({ now });
      assertEquals([planned.unusedPacks, planned.pendingPlans], [0, 0], JSON.stringify(planned));
      clock.ms += 2 * HOUR;
      assertEquals((await repository.prune({ now })).deletedPacks, 0);
      const report = await repository.check({ readData: true });
      assertEquals(report.damage, []);
    } finally {
      await repository.close();
    }
    const again = await Repository.open(storage, { password: PASSWORD });
    try {
      await restoresSame(again, "latest", db, dir);
    } finally {
      await again.close();
    }
  }));

Deno.test("check names the file whose content list is damaged, with and without --read-data", () =>
  withDir(async (dir) => {
    const db = `${dir}/src/big.db`;
    await Deno.mkdir(`${dir}/src`);
    writeRows(db, 0, ROWS, 3);
    const storage = new LocalStorage(`${dir}/repo`);
    const { repository } = await Repository.init(storage, { password: PASSWORD, argon2id: FAST });
    let node: TreeNode;
    try {
      await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      node = await fileNode(repository, "latest", "big.db");
    } finally {
      await repository.close();
    }
    // `cofre cat tree` shows a content list as its ids.
    const list0 = node.type === "file" ? node.contentLists![0]! : "";
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    const cat = await cofre(["cat", "tree", list0], { env });
    assertEquals(cat.code, 0, cat.stderr);
    assertEquals(JSON.parse(cat.stdout).content.length, CONTENT_LIST_IDS);
    // Damage the second list where it lies in its pack: the file is named.
    const again = await Repository.open(storage, { password: PASSWORD });
    try {
      const list = node.type === "file" ? node.contentLists![1]! : "";
      const location = (await again.index()).get(list)!;
      const path = `${dir}/repo/data/${location.pack.slice(0, 2)}/${location.pack}`;
      const bytes = await Deno.readFile(path);
      bytes[location.offset + 20]! ^= 1;
      await Deno.chmod(path, 0o644);
      await Deno.writeFile(path, bytes);
      // Without --read-data, check reads the list itself (src/check.ts) and it does not open.
      const quick = await again.check({ readData: false });
      assertTrue(
        quick.damage.some((d) => d.object === `content list ${list}`),
        JSON.stringify(quick.damage),
      );
      // With it, the pack read finds the blob bad first.
      const full = await again.check({ readData: true });
      for (const report of [quick, full]) {
        assertTrue(
          report.affectedFiles.some((f) => f.path.endsWith("big.db")),
          JSON.stringify(report.affectedFiles),
        );
      }
    } finally {
      await again.close();
    }
  }));

Deno.test("a database whose second job fails is given up once no other job of it still reads the copy", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src`);
    writeRows(`${dir}/src/msgstore.db`, 0, ROWS, 1);
    const { keys } = await randomBlobKeys();
    const inline = new InlineBlobCrypto(keys, {
      level: 3,
      chunker: { minSize: 65536, avgSize: 262144, maxSize: 1048576, normalization: 2, seed: 5n },
    });
    // The second job fails at once; every other job first waits
    // a little, then checks that the database's copy is still there.
    const readWithoutCopy: string[] = [];
    const started: Promise<unknown>[] = [];
    let running = 0;
    const runJob = async (...[job, sink]: Parameters<BlobCrypto["backup"]>) => {
      running++;
      try {
        // The second job: src/backup.ts cuts a database in jobs of 1024 chunks.
        if (job.range?.offset === 1024 * 4096) {
          throw new Error("injected job failure");
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
        if (job.range && !(await Deno.stat(job.path).catch(() => null))) {
          readWithoutCopy.push(`${job.range.offset}`);
        }
        return await inline.backup(job, sink);
      } finally {
        running--;
      }
    };
    const crypto: BlobCrypto = {
      parallelism: 2,
      hash: (bytes) => inline.hash(bytes),
      seal: (type, bytes, id) => inline.seal(type, bytes, id),
      openMany: (type, ids, sealed, lengths) => inline.openMany(type, ids, sealed, lengths),
      open: (type, id, sealed, length) => inline.open(type, id, sealed, length),
      captureDatabase: (path, to) => inline.captureDatabase(path, to),
      restore: (job) => inline.restore(job),
      close: () => inline.close(),
      backup(job, sink) {
        const run = runJob(job, sink);
        started.push(run.catch(() => {}));
        return run;
      },
    };
    const signing = await signingKeyFromSeed(new Uint8Array(32).fill(3));
    const result = await backup({
      storage: new MemoryStorage(),
      keys: {
        meta: keys.meta,
        signingKey: signing.privateKey,
        publicKey: signing.publicKey,
        repositoryId: new Uint8Array(16).fill(9),
      },
      crypto,
      index: new BlobIndex(),
      snapshots: [],
      previous: null,
    }, { paths: [`${dir}/src`] });
    // An unreadable source file: the snapshot records it, and the rest is backed up.
    const failed = result.snapshot.failed ?? [];
    assertEquals(failed.map((f) => f.path), [`${dir}/src/msgstore.db`]);
    assertTrue(failed[0]!.error.includes("injected job failure"), failed[0]!.error);
    // Not counted as backed up: the summary's files are the ones stored.
    assertEquals(result.snapshot.stats.files, 0);
    assertEquals(running, 0, "a job still ran after the backup ended");
    // Jobs still waiting would look for the copy late: let them.
    await Promise.all(started);
    assertEquals(readWithoutCopy, [], "jobs ran after the copy was released");
  }));
