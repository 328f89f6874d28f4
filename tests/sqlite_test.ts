// SQLite databases in a backup (issue 9, FORMAT.md §7.4): consistent copies of
// live databases, WAL frames included, page-aligned chunks, companions
// skipped, and corrupt look-alikes backed up byte for byte with a warning.

import { DatabaseSync } from "node:sqlite";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { LocalStorage, Repository } from "../mod.ts";
import type { TreeNode } from "../src/format.ts";
import {
  DatabaseCapturer,
  databaseChunkBytes,
  databasePageSize,
  MAX_DATABASE_CHUNKS,
} from "../src/sqlite.ts";
import { addMessages, buildChatDatabase } from "../bench/peers/make_corpus.ts";
import { tempDirs } from "./_temp_dir.ts";
import { withNewRepository } from "./_repository.ts";

const PASSWORD = "vivid otter juggles lanterns";

const withDir = tempDirs("cofre-sqlite-test-");

function withRepository(path: string, body: (repository: Repository) => Promise<void>) {
  return withNewRepository(path, PASSWORD, body);
}

async function files(repository: Repository, ref = "latest"): Promise<Map<string, TreeNode>> {
  const out = new Map<string, TreeNode>();
  for await (const { path, node } of repository.list(ref)) out.set(path, node);
  return out;
}

/** A chat-like table of `rows` rows with text, on pages of `pageSize` bytes. */
function makeDatabase(path: string, options: { pageSize?: number; rows: number; wal?: boolean }) {
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA page_size = ${options.pageSize ?? 4096}`);
  db.exec(`PRAGMA journal_mode = ${options.wal ? "WAL" : "DELETE"}`);
  db.exec("CREATE TABLE messages (id INTEGER PRIMARY KEY, text TEXT NOT NULL)");
  db.exec("CREATE INDEX messages_text ON messages(text)");
  db.exec("BEGIN");
  const insert = db.prepare("INSERT INTO messages (id, text) VALUES (?, ?)");
  for (let i = 1; i <= options.rows; i++) insert.run(i, `message ${i} ${"x".repeat(i % 50)}`);
  db.exec("COMMIT");
  return db;
}

/** integrity_check's verdict and the rows, from a restored database. */
function inspect(path: string, query = "SELECT count(*) AS n, sum(id) AS s FROM messages") {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const check = (db.prepare("PRAGMA integrity_check").all() as { integrity_check: string }[])
      .map((r) => r.integrity_check).join("; ");
    return { check, rows: { ...(db.prepare(query).get() as Record<string, unknown>) } };
  } finally {
    db.close();
  }
}

Deno.test("databasePageSize reads the header; pages are cut in runs of whole pages up to 4 KiB", () => {
  const header = new Uint8Array(100);
  header.set(new TextEncoder().encode("SQLite format 3\0"));
  const withSize = (raw: number) => {
    header[16] = raw >> 8;
    header[17] = raw & 0xff;
    return databasePageSize(header);
  };
  assertEquals([512, 1024, 4096, 32768].map(withSize), [512, 1024, 4096, 32768]);
  assertEquals(withSize(1), 65536);
  assertEquals([0, 256, 1000, 3000].map(withSize), [null, null, null, null]);
  assertEquals(databasePageSize(header.subarray(0, 50)), null);
  header[0] = 0x73; // "s": not the magic
  assertEquals(withSize(4096), null);

  // FORMAT.md §7.4: runs of whole pages up to 4 KiB (src/_backup_job.ts cuts them).
  const small = (pageSize: number) => databaseChunkBytes({ pageSize, size: 10 * pageSize });
  assertEquals([512, 2048, 4096, 65536].map(small), [4096, 4096, 4096, 65536]);
});

Deno.test("a database's chunks double until it makes at most M of them; the parent's length is kept within M/4..M", () => {
  const M = MAX_DATABASE_CHUNKS;
  const KiB = 1024, GiB = 2 ** 30;
  const cut = (size: number, previous?: number, pageSize = 4096) =>
    databaseChunkBytes({ pageSize, size, previous });
  // Single pages up to L = M pages of 4 KiB (M = 2^17: 512 MiB), then double per doubling.
  assertEquals(M, 2 ** 17);
  const L = M * 4 * KiB;
  assertEquals(cut(L), 4 * KiB);
  assertEquals(cut(L + 1), 8 * KiB);
  assertEquals(cut(2 * L), 8 * KiB);
  assertEquals(cut(2 * L + 1), 16 * KiB);
  assertEquals(cut(2_152_886_272), 32 * KiB); // bench/large_database.ts's 2 GiB database
  assertEquals(cut(10 * GiB), 128 * KiB);
  // At most 64 MiB a chunk (a blob's limit): past M · 64 MiB (8 TiB), more than M chunks.
  assertEquals(cut(M * 64 * 2 ** 20), 64 * 1024 * KiB);
  assertEquals(cut(100 * 2 ** 40), 64 * 1024 * KiB);
  assertEquals(cut(9 * 2 ** 40, 128 * 1024 * KiB), 64 * 1024 * KiB, "a parent's 128 MiB");
  // 512-byte pages group to 4 KiB first; 64 KiB pages are their own base.
  assertEquals(cut(L + 1, undefined, 512), 8 * KiB);
  assertEquals(cut(L, undefined, 65536), 64 * KiB);
  assertEquals(cut(16 * L + 1, undefined, 65536), 128 * KiB);
  for (const size of [1, 4095, 4096, 3 * GiB + 12345, 7 * GiB]) {
    const c = cut(size);
    assertTrue(Math.ceil(size / c) <= M && (c === 4096 || Math.ceil(size / (c / 2)) > M));
  }

  // The parent's length stays while the count is within M/4..M (8 KiB: L/2..2L)...
  assertEquals(cut(1.5 * L, 8 * KiB), 8 * KiB);
  assertEquals(cut(0.5 * L, 8 * KiB), 8 * KiB);
  assertEquals(cut(2 * L, 8 * KiB), 8 * KiB);
  // ...and a database that doubled, or makes fewer than M/4 chunks, is cut anew.
  assertEquals(cut(2 * L + 1, 8 * KiB), 16 * KiB);
  assertEquals(cut(0.5 * L - 8 * KiB, 8 * KiB), 4 * KiB);
  // Single pages stay single down to nothing, and up to L.
  assertEquals(cut(4096, 4096), 4096);
  assertEquals(cut(L, 4096), 4096);
  assertEquals(cut(L + 1, 4096), 8 * KiB);
  // A parent's length that §7.4 could not have chosen is not obeyed.
  for (const bad of [0, 2048, 12 * KiB, 4097, 128 * 2 ** 20, Number.NaN, -4096]) {
    assertEquals(cut(1.5 * L, bad), 8 * KiB, `${bad}`);
  }
  assertEquals(cut(1.5 * L, 8 * KiB, 16384), 16 * KiB, "a page size that changed");
  // A smaller limit, as a backup may choose; none at all is refused.
  assertEquals(databaseChunkBytes({ pageSize: 4096, size: 100 * 4096, maxChunks: 16 }), 32 * KiB);
  for (const maxChunks of [0, -1, 1.5, Number.NaN]) {
    assertThrows(
      () => databaseChunkBytes({ pageSize: 4096, size: GiB, maxChunks }),
      RangeError,
      "a whole number of at least 1",
    );
  }
});

Deno.test("databases of every page size from 512 to 65536 restore with their rows, in page-aligned chunks", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src`);
    const sizes = [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
    for (const pageSize of sizes) {
      makeDatabase(`${dir}/src/p${pageSize}.db`, { pageSize, rows: 400 }).close();
    }
    await withRepository(`${dir}/repo`, async (repository) => {
      await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      await repository.restore("latest", { target: `${dir}/out`, workers: 0 });
      const index = await repository.index();
      const nodes = await files(repository);
      for (const pageSize of sizes) {
        const restored = inspect(`${dir}/out/src/p${pageSize}.db`);
        assertEquals(restored, { check: "ok", rows: { n: 400, s: 400 * 401 / 2 } }, `${pageSize}`);
        const node = nodes.get(`src/p${pageSize}.db`)!;
        assertTrue(node.type === "file" && node.sqlite !== undefined, `${pageSize}: recorded`);
        if (node.type !== "file") continue;
        const lengths = node.content!.map((id) => index.get(id)!.plaintextLength);
        const run = Math.max(4096, pageSize);
        assertTrue(lengths.slice(0, -1).every((n) => n === run), `${pageSize}: ${lengths}`);
        assertEquals(lengths.reduce((a, b) => a + b, 0), node.size);
        assertEquals(node.size % pageSize, 0);
      }
    });
  }));

Deno.test("a changed page changes only the chunk holding it; an unchanged database stores nothing", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src`);
    const path = `${dir}/src/chat.db`;
    makeDatabase(path, { rows: 20000 }).close();
    await withRepository(`${dir}/repo`, async (repository) => {
      const first = await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      const before = (await files(repository)).get("src/chat.db")!;
      assertTrue(before.type === "file" && before.content!.length > 100);
      // Again, untouched: the walk skips it.
      const again = await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      assertEquals([again.snapshot.stats.newBytes, again.addedPacks], [0, 0]);
      // Touched but not changed: read and copied again, and every chunk dedups.
      await Deno.utime(path, new Date(2030, 0, 1), new Date(2030, 0, 1));
      const touched = await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      const same = (await files(repository)).get("src/chat.db")!;
      assertEquals(same.type === "file" && same.content, before.type === "file" && before.content);
      assertEquals(touched.snapshot.stats.newBlobs, 2, "only the two trees, with the new mtime");

      const live = await Deno.readFile(path);
      const db = new DatabaseSync(path);
      db.exec("UPDATE messages SET text = 'edited' WHERE id = 12345");
      db.close();
      const edited = await Deno.readFile(path);
      // The pages SQLite rewrote, page 1 (its change counter) included: a
      // rollback-journal database is copied byte for byte (FORMAT.md §7.4).
      const pages: number[] = [];
      for (let p = 0; p < live.length / 4096; p++) {
        const a = live.subarray(p * 4096, (p + 1) * 4096);
        if (!a.every((x, i) => x === edited[p * 4096 + i])) pages.push(p);
      }
      const changed = await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      const after = (await files(repository)).get("src/chat.db")!;
      if (before.type !== "file" || after.type !== "file") throw new Error("not files");
      assertEquals(after.content!.length, before.content!.length);
      const differing = after.content!.map((id, i) => id !== before.content![i] ? i : -1)
        .filter((i) => i >= 0);
      // Page 1, the table's leaf and the text index's leaves: one chunk per 4 KiB page.
      assertTrue(
        pages[0] === 0 && pages.length >= 2 && pages.length <= 5,
        `changed pages ${pages}`,
      );
      assertEquals(differing, pages);
      assertEquals(changed.snapshot.stats.newBlobs, differing.length + 2); // + the two trees
      assertTrue(first.snapshot.stats.newBlobs > 100);
    });
  }));

Deno.test("a WAL-mode database is captured with its uncheckpointed frames, without its -wal and -shm", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src`);
    const path = `${dir}/src/chat.db`;
    // A WAL database no one has open: reading it must not leave -wal and -shm behind.
    makeDatabase(`${dir}/src/closed.db`, { rows: 10, wal: true }).close();
    const closedMtime = (await Deno.stat(`${dir}/src/closed.db`)).mtime;
    const writer = makeDatabase(path, { rows: 1000, wal: true });
    try {
      writer.exec("PRAGMA wal_autocheckpoint = 0");
      writer.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      const insert = writer.prepare("INSERT INTO messages (id, text) VALUES (?, ?)");
      for (let i = 1001; i <= 1500; i++) insert.run(i, `late ${i}`);
      const walSize = (await Deno.stat(`${path}-wal`)).size;
      assertTrue(walSize > 0, "frames wait in the WAL");
      // The main file alone holds only the first 1000 rows.
      const mainOnly = `${dir}/main-only.db`;
      await Deno.copyFile(path, mainOnly);
      assertEquals(inspect(mainOnly).rows, { n: 1000, s: 1000 * 1001 / 2 });
      const listing = async () =>
        (await Array.fromAsync(Deno.readDir(`${dir}/src`))).map((e) => e.name).sort();
      const present = await listing();
      assertEquals(present, ["chat.db", "chat.db-shm", "chat.db-wal", "closed.db"]);

      await withRepository(`${dir}/repo`, async (repository) => {
        const result = await repository.backup({ paths: [`${dir}/src`], workers: 0 });
        assertEquals(result.snapshot.warnings, undefined);
        assertEquals([...(await files(repository)).keys()].sort(), [
          "src",
          "src/chat.db",
          "src/closed.db",
        ]);
        const node = (await files(repository)).get("src/chat.db")!;
        assertTrue(node.type === "file" && node.sqlite?.companions[0]?.name === "chat.db-wal");
        // The source is left as it was, and the writer still writes.
        assertEquals(await listing(), present);
        assertEquals((await Deno.stat(`${dir}/src/closed.db`)).mtime, closedMtime);
        insert.run(1501, "after the backup");
        await repository.restore("latest", { target: `${dir}/out`, workers: 0 });
      });
      assertEquals(await Array.fromAsync(Deno.readDir(`${dir}/out/src`)).then((e) => e.length), 2);
      assertEquals(inspect(`${dir}/out/src/closed.db`), { check: "ok", rows: { n: 10, s: 55 } });
      assertEquals(inspect(`${dir}/out/src/chat.db`), {
        check: "ok",
        rows: { n: 1500, s: 1500 * 1501 / 2 },
      });
    } finally {
      writer.close();
    }
  }));

// The writer: rows 1..N, one transaction each, with a running total beside
// them, so any committed state is a prefix 1..k with total = k(k+1)/2.
const WRITER = `
import { DatabaseSync } from "node:sqlite";
const [path, mode] = Deno.args;
const db = new DatabaseSync(path, { timeout: 10000 });
db.exec("PRAGMA journal_mode = " + mode);
db.exec("PRAGMA synchronous = OFF"); // commits without fsync: many of them, quickly
db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, pad TEXT); CREATE TABLE total (n INTEGER, s INTEGER); INSERT INTO total VALUES (0, 0)");
const insert = db.prepare("INSERT INTO rows VALUES (?, ?)");
const add = db.prepare("UPDATE total SET n = n + 1, s = s + ?");
for (let i = 1; ; i++) {
  db.exec("BEGIN IMMEDIATE");
  insert.run(i, "p".repeat(200 + (i * 7919) % 1800));
  add.run(i);
  db.exec("COMMIT");
  if (i === 300) console.log("ready");
}
`;

async function concurrentWriterCase(dir: string, mode: "WAL" | "DELETE") {
  await Deno.mkdir(`${dir}/src`);
  await Deno.writeTextFile(`${dir}/writer.ts`, WRITER);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${dir}/writer.ts`, `${dir}/src/live.db`, mode],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    const { value } = await reader.read();
    assertEquals(new TextDecoder().decode(value).trim(), "ready");
    reader.releaseLock();
    child.stdout.cancel().catch(() => {});
    await withRepository(`${dir}/repo`, async (repository) => {
      const result = await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      assertEquals([result.snapshot.failed, result.snapshot.warnings], [[], undefined]);
      await repository.restore("latest", { target: `${dir}/out`, workers: 0 });
    });
  } finally {
    child.kill();
    await child.status;
  }
  const restored = inspect(
    `${dir}/out/src/live.db`,
    "SELECT (SELECT count(*) FROM rows) AS count, (SELECT max(id) FROM rows) AS top, " +
      "(SELECT sum(id) FROM rows) AS sum, n, s FROM total",
  );
  assertEquals(restored.check, "ok");
  const { count, top, sum, n, s } = restored.rows as {
    count: number;
    top: number;
    sum: number;
    n: number;
    s: number;
  };
  assertTrue(count >= 300, `captured ${count} rows`);
  // The writer went on committing after the copy: the backup ran while it wrote.
  const live = new DatabaseSync(`${dir}/src/live.db`);
  const written = Number((live.prepare("SELECT n FROM total").get() as { n: number }).n);
  live.close();
  assertTrue(written > count, `the writer stopped at ${written}, the copy has ${count}`);
  assertEquals([top, sum, n, s], [count, count * (count + 1) / 2, count, count * (count + 1) / 2]);
}

Deno.test("a database written by another process during the backup restores to one committed state (WAL)", () =>
  withDir((dir) => concurrentWriterCase(dir, "WAL")));

Deno.test("a database written by another process during the backup restores to one committed state (rollback journal)", () =>
  withDir((dir) => concurrentWriterCase(dir, "DELETE")));

Deno.test("a file that only starts like a database is backed up byte for byte, with a warning", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src`);
    const bytes = pseudoRandomBytes(20000, 3);
    bytes.set(new TextEncoder().encode("SQLite format 3\0"));
    bytes.set([0x10, 0x00], 16); // a valid page size, 4096
    await Deno.writeFile(`${dir}/src/broken.db`, bytes);
    await Deno.writeFile(`${dir}/src/broken.db-wal`, pseudoRandomBytes(100, 4));
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    assertEquals((await cofre(["init"], { env })).code, 0);
    const backup = await cofre(["backup", `${dir}/src`], { env });
    assertEquals(backup.code, 0, backup.stderr);
    assertTrue(
      /warning: .*broken\.db: starts like an SQLite database but cannot be read as one/.test(
        backup.stderr,
      ),
      backup.stderr,
    );
    const restore = await cofre(["restore", "latest", "--target", `${dir}/out`], { env });
    assertEquals(restore.code, 0, restore.stderr);
    assertEquals(await Deno.readFile(`${dir}/out/src/broken.db`), bytes);
    // Not captured, so its companion is an ordinary file and kept.
    assertEquals(await Deno.readFile(`${dir}/out/src/broken.db-wal`), pseudoRandomBytes(100, 4));
    const repository = await Repository.open(new LocalStorage(`${dir}/repo`), {
      password: PASSWORD,
    });
    try {
      const [stored] = await repository.snapshots();
      assertEquals(stored!.snapshot.warnings?.map((w) => w.path), [`${dir}/src/broken.db`]);
    } finally {
      await repository.close();
    }
  }));

Deno.test("DatabaseCapturer keeps one copy at a time: the next capture waits for release()", () =>
  withDir(async (dir) => {
    makeDatabase(`${dir}/a.db`, { rows: 300 }).close();
    makeDatabase(`${dir}/b.db`, { rows: 200 }).close();
    await Deno.writeFile(`${dir}/plain.bin`, pseudoRandomBytes(5000, 1));
    const capturer = new DatabaseCapturer();
    try {
      const a = (await capturer.capture(`${dir}/a.db`, 0))!;
      // Not a database: answered at once, without waiting for a's turn.
      assertEquals(await capturer.capture(`${dir}/plain.bin`, 5000), null);
      let b: Awaited<ReturnType<DatabaseCapturer["capture"]>> | undefined;
      const pending = capturer.capture(`${dir}/b.db`, 0).then((captured) => b = captured);
      for (let i = 0; i < 20; i++) await new Promise((done) => setTimeout(done, 5));
      assertEquals(b, undefined, "b waits while a's copy exists");
      const folder = a.copy.slice(0, a.copy.lastIndexOf("/"));
      assertEquals((await Array.fromAsync(Deno.readDir(folder))).length, 1);
      assertEquals(inspect(a.copy).rows, { n: 300, s: 300 * 301 / 2 });
      await capturer.release(a);
      await pending;
      assertEquals(inspect(b!.copy).rows, { n: 200, s: 200 * 201 / 2 });
      assertEquals((await Array.fromAsync(Deno.readDir(folder))).map((e) => e.name), [
        b!.copy.slice(folder.length + 1),
      ]);
      await capturer.release(b!);
    } finally {
      await capturer.close();
    }
    // A capture that fails before its copy (no temporary folder) hands its turn on.
    const stranded = new DatabaseCapturer();
    const tmp = Deno.env.get("TMPDIR");
    Deno.env.set("TMPDIR", `${dir}/missing`);
    try {
      await assertRejects(() => stranded.capture(`${dir}/a.db`, 0), Deno.errors.NotFound);
    } finally {
      if (tmp === undefined) Deno.env.delete("TMPDIR");
      else Deno.env.set("TMPDIR", tmp);
    }
    try {
      const again = (await stranded.capture(`${dir}/b.db`, 0))!;
      assertEquals(inspect(again.copy).rows, { n: 200, s: 200 * 201 / 2 });
      await stranded.release(again);
    } finally {
      await stranded.close();
    }
  }));

Deno.test("databases are read beside the rest of their folder, on every core; the tree keeps the names' order", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src`);
    // Media around the databases, so their pages are stored while the walk reads these.
    await Deno.writeFile(`${dir}/src/a.jpg`, pseudoRandomBytes(3 << 20, 11));
    makeDatabase(`${dir}/src/chats.db`, { rows: 3000 }).close();
    await Deno.writeFile(`${dir}/src/m.bin`, pseudoRandomBytes(2 << 20, 12));
    makeDatabase(`${dir}/src/settings.sqlite`, { rows: 500, pageSize: 1024 }).close();
    await Deno.writeTextFile(`${dir}/src/notes.db`, "named like one, but text");
    await Deno.writeFile(`${dir}/src/z.mp4`, pseudoRandomBytes(5 << 20, 13));
    await withRepository(`${dir}/repo`, async (repository) => {
      const result = await repository.backup({ paths: [`${dir}/src`], workers: 2 });
      assertEquals(result.snapshot.failed, []);
      const nodes = await files(repository);
      assertEquals([...nodes.keys()], [
        "src",
        "src/a.jpg",
        "src/chats.db",
        "src/m.bin",
        "src/notes.db",
        "src/settings.sqlite",
        "src/z.mp4",
      ]);
      const recorded = (name: string) => {
        const node = nodes.get(`src/${name}`)!;
        return node.type === "file" && node.sqlite !== undefined;
      };
      assertTrue(recorded("chats.db") && recorded("settings.sqlite"));
      assertTrue(!recorded("notes.db"), "a text file named .db is read as bytes");
      await repository.restore("latest", { target: `${dir}/out`, workers: 2 });
      assertEquals(inspect(`${dir}/out/src/chats.db`), {
        check: "ok",
        rows: { n: 3000, s: 3000 * 3001 / 2 },
      });
      assertEquals(inspect(`${dir}/out/src/settings.sqlite`), {
        check: "ok",
        rows: { n: 500, s: 500 * 501 / 2 },
      });
      for (const name of ["a.jpg", "m.bin", "notes.db", "z.mp4"]) {
        assertEquals(
          await Deno.readFile(`${dir}/out/src/${name}`),
          await Deno.readFile(`${dir}/src/${name}`),
          name,
        );
      }
    });
  }));

Deno.test("bench/peers addMessages adds seeded messages whose index entries land all over the file", () =>
  withDir(async (dir) => {
    const path = `${dir}/msgstore.db`;
    const fortunes = ["see you at noon", "bring the photos", "ok", "on my way"];
    buildChatDatabase(path, 1_000_000, { seed: "t", fortunes, mediaPaths: [] });
    const before = await Deno.readFile(path);
    await Deno.copyFile(path, `${dir}/twin.db`);
    assertEquals(addMessages(path, { count: 200 }), { inserted: 200 });
    addMessages(`${dir}/twin.db`, { count: 200 });
    const after = await Deno.readFile(path);
    assertEquals(after, await Deno.readFile(`${dir}/twin.db`), "seeded");
    const pages = before.length / 4096;
    const changed: number[] = [];
    for (let p = 0; p < pages; p++) {
      const a = before.subarray(p * 4096, (p + 1) * 4096);
      if (!a.every((x, i) => x === after[p * 4096 + i])) changed.push(p);
    }
    // Pages in every quarter of the old file changed, not only its end.
    const quarters = new Set(changed.map((p) => Math.floor(4 * p / pages)));
    assertEquals(quarters.size, 4, `changed pages ${changed}`);
  }));

Deno.test("databases restore first, beside the other files, into folders whose modes come last; --include picks them or not", () =>
  withDir(async (dir) => {
    // Folders and files around two databases; one database's folder is read-only.
    await Deno.mkdir(`${dir}/src/media`, { recursive: true });
    await Deno.mkdir(`${dir}/src/databases`);
    const photo = pseudoRandomBytes(300_000, 5);
    await Deno.writeFile(`${dir}/src/media/photo.jpg`, photo);
    await Deno.writeTextFile(`${dir}/src/notes.txt`, "see you at noon\n");
    makeDatabase(`${dir}/src/databases/msgstore.db`, { rows: 3000 }).close();
    makeDatabase(`${dir}/src/databases/wa.db`, { rows: 2000 }).close();
    await Deno.chmod(`${dir}/src/databases`, 0o555);
    try {
      await withRepository(`${dir}/repo`, async (repository) => {
        await repository.backup({ paths: [`${dir}/src`], workers: 0 });
        const index = await repository.index();
        const node = (await files(repository)).get("src/databases/msgstore.db")!;
        assertTrue(node.type === "file" && node.content!.length > 16, "read pack by pack");
        assertTrue(node.type === "file" && index.get(node.content![0]!)!.plaintextLength === 4096);

        await repository.restore("latest", { target: `${dir}/all`, workers: 0 });
        assertEquals(inspect(`${dir}/all/src/databases/msgstore.db`).rows, { n: 3000, s: 4501500 });
        assertEquals(inspect(`${dir}/all/src/databases/wa.db`).rows, { n: 2000, s: 2001000 });
        assertEquals(await Deno.readFile(`${dir}/all/src/media/photo.jpg`), photo);
        assertEquals(await Deno.readTextFile(`${dir}/all/src/notes.txt`), "see you at noon\n");
        assertEquals((await Deno.stat(`${dir}/all/src/databases`)).mode! & 0o777, 0o555);

        await repository.restore("latest", { target: `${dir}/media`, include: ["src/media"] });
        assertEquals(await Deno.readFile(`${dir}/media/src/media/photo.jpg`), photo);
        const absent = await Deno.stat(`${dir}/media/src/databases`).then(() => false, () => true);
        assertTrue(absent, "no database outside the included paths");

        await repository.restore("latest", {
          target: `${dir}/one`,
          include: ["src/databases/wa.db"],
        });
        assertEquals(inspect(`${dir}/one/src/databases/wa.db`).rows, { n: 2000, s: 2001000 });
        const names = [...Deno.readDirSync(`${dir}/one/src/databases`)].map((e) => e.name);
        assertEquals(names, ["wa.db"]);
      });
    } finally {
      for (const out of ["src", "all/src"]) {
        await Deno.chmod(`${dir}/${out}/databases`, 0o755).catch(() => {});
      }
    }
  }));

Deno.test("a rollback-journal database restores byte for byte, a WAL one equal in content", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src`);
    makeDatabase(`${dir}/src/rollback.db`, { rows: 3000 }).close();
    makeDatabase(`${dir}/src/wal.db`, { rows: 3000, wal: true }).close();
    await withRepository(`${dir}/repo`, async (repository) => {
      await repository.backup({ paths: [`${dir}/src`] });
      await repository.restore("latest", { target: `${dir}/out` });
    });
    assertEquals(
      await Deno.readFile(`${dir}/out/src/rollback.db`),
      await Deno.readFile(`${dir}/src/rollback.db`),
    );
    const rows = "SELECT count(*) AS n, sum(length(text)) AS bytes FROM messages";
    assertEquals(inspect(`${dir}/out/src/wal.db`, rows), inspect(`${dir}/src/wal.db`, rows));
  }));

Deno.test("a database over the chunk limit is cut in longer runs, recorded in its node, kept while it fits", () =>
  withDir(async (dir) => {
    await Deno.mkdir(`${dir}/src`);
    const path = `${dir}/src/chat.db`;
    makeDatabase(path, { rows: 20000 }).close();
    const lengths = async (repository: Repository) => {
      const index = await repository.index();
      const node = (await files(repository)).get("src/chat.db")!;
      if (node.type !== "file" || !node.sqlite) throw new Error("not a captured database");
      return {
        chunkBytes: node.sqlite.chunkBytes,
        lengths: node.content!.map((id) => index.get(id)!.plaintextLength),
      };
    };
    await withRepository(`${dir}/repo`, async (repository) => {
      const size = (await Deno.stat(path)).size;
      const first = await repository.backup({ paths: [`${dir}/src`], maxDatabaseChunks: 16 });
      const c = databaseChunkBytes({ pageSize: 4096, size, maxChunks: 16 });
      assertTrue(c >= 4 * 4096 && Math.ceil(size / c) <= 16, `${c} for ${size} bytes`);
      const cut = await lengths(repository);
      assertEquals(cut.chunkBytes, c);
      assertTrue(cut.lengths.slice(0, -1).every((n) => n === c), `${cut.lengths}`);
      assertEquals(cut.lengths.reduce((a, b) => a + b, 0), size);
      assertEquals(first.snapshot.stats.newBlobs, cut.lengths.length + 2); // + the two trees
      await repository.restore("latest", { target: `${dir}/out` });
      assertEquals(await Deno.readFile(`${dir}/out/src/chat.db`), await Deno.readFile(path));

      // A row more, and a limit that alone would halve the length: the
      // parent's is kept (its count is within M/4..M), and only what changed is new.
      const db = new DatabaseSync(path);
      db.exec("INSERT INTO messages (id, text) VALUES (20001, 'one more')");
      db.close();
      const grownSize = (await Deno.stat(path)).size;
      assertEquals(databaseChunkBytes({ pageSize: 4096, size: grownSize, maxChunks: 32 }), c / 2);
      const grown = await repository.backup({ paths: [`${dir}/src`], maxDatabaseChunks: 32 });
      const kept = await lengths(repository);
      assertEquals(kept.chunkBytes, c);
      assertTrue(grown.snapshot.stats.newBlobs < cut.lengths.length, "most chunks deduplicated");
      const snapshots = (await repository.snapshots()).length;
      await assertRejects(
        () => repository.backup({ paths: [`${dir}/src`], maxDatabaseChunks: 0 }),
        RangeError,
        "a whole number of at least 1",
      );
      assertEquals((await repository.snapshots()).length, snapshots, "refused before any work");

      // A higher limit the old cut falls a quarter short of: single pages again
      // (once the database is read again: an unchanged one keeps its node).
      await Deno.utime(path, new Date(2030, 0, 1), new Date(2030, 0, 1));
      await repository.backup({ paths: [`${dir}/src`], maxDatabaseChunks: 4096, workers: 0 });
      const fine = await lengths(repository);
      assertEquals(fine.chunkBytes, 4096);
      assertEquals(fine.lengths.length, Math.ceil((await Deno.stat(path)).size / 4096));
      await repository.restore("latest", { target: `${dir}/again` });
      assertEquals(await Deno.readFile(`${dir}/again/src/chat.db`), await Deno.readFile(path));
    });
  }));
