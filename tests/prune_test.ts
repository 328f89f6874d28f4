// Prune (FORMAT.md §14): unreferenced data goes, sparse packs are repacked, kept snapshots
// restore bit for bit, the two-phase deletion survives a racing backup, and locks exclude.

import { MemoryStorage, Repository, RepositoryLockedError, type Storage } from "../mod.ts";
import { assertEquals, assertRejects, assertTrue } from "./_assert.ts";
import { describeTree, pseudoRandomBytes } from "./_data.ts";

const PASSWORD = "vivid otter juggles lanterns";
const FAST = { memoryKib: 64, iterations: 1, parallelism: 1 };
const HOUR = 3_600_000;
// Small chunks, so a few hundred KiB make many blobs.
const CHUNKER = { minSize: 4096, avgSize: 16384, maxSize: 65536, normalization: 1 };

/** A MemoryStorage with a clock the test moves. */
function clockedStorage(): { storage: MemoryStorage; clock: { ms: number } } {
  const clock = { ms: Date.UTC(2026, 0, 1) };
  const storage = new MemoryStorage();
  storage.now = () => clock.ms;
  return { storage, clock };
}

async function packBytes(storage: Storage): Promise<{ packs: number; bytes: number }> {
  let packs = 0;
  let bytes = 0;
  for await (const info of storage.list("data/")) {
    packs++;
    bytes += info.size;
  }
  return { packs, bytes };
}

async function withTemp(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function restoresAs(repository: Repository, ref: string, source: string, dir: string) {
  const target = `${dir}/out-${crypto.randomUUID()}`;
  await repository.restore(ref, { target, workers: 0 });
  const name = source.slice(source.lastIndexOf("/") + 1);
  assertEquals(await describeTree(`${target}/${name}`, "x"), await describeTree(source, "x"));
}

Deno.test("prune removes unused packs and repacks sparse ones, in two phases; kept snapshots restore", async () => {
  await withTemp(async (dir) => {
    const { storage, clock } = clockedStorage();
    const { repository } = await Repository.init(storage, {
      password: PASSWORD,
      argon2id: FAST,
      chunker: CHUNKER,
    });
    const now = () => clock.ms;
    try {
      // s1: a and b in one pack. s2: b and c (c new). s3: d alone.
      await Deno.mkdir(`${dir}/src`);
      await Deno.writeFile(`${dir}/src/a`, pseudoRandomBytes(400_000, 1));
      await Deno.writeFile(`${dir}/src/b`, pseudoRandomBytes(100_000, 2));
      const s1 = await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      await Deno.remove(`${dir}/src/a`);
      await Deno.writeFile(`${dir}/src/c`, pseudoRandomBytes(50_000, 3));
      clock.ms += 1000;
      const s2 = await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      await Deno.mkdir(`${dir}/other`);
      await Deno.writeFile(`${dir}/other/d`, pseudoRandomBytes(200_000, 4));
      const s3 = await repository.backup({ paths: [`${dir}/other`], workers: 0 });
      assertEquals((await packBytes(storage)).packs, 3);

      await repository.forget([s1.snapshotId, s3.snapshotId], { now });
      // Too young: nothing is decided within the grace period.
      const early = await repository.prune({ now });
      assertEquals([early.unusedPacks, early.repackedPacks], [0, 0]);

      clock.ms += 2 * HOUR;
      const before = await packBytes(storage);
      const dry = await repository.prune({ now, dryRun: true });
      assertEquals([dry.unusedPacks, dry.repackedPacks], [1, 1]);
      assertEquals((await Array.fromAsync(storage.list("plans/"))).length, 0);
      const planned = await repository.prune({ now });
      assertEquals([planned.unusedPacks, planned.repackedPacks, planned.newPacks], [1, 1, 1]);
      // Phase one deletes nothing: the packs wait in a plan.
      assertEquals((await packBytes(storage)).packs, before.packs + 1);
      await restoresAs(repository, s2.snapshotId, `${dir}/src`, dir);

      // Still within the plan's grace period: nothing is deleted yet.
      clock.ms += HOUR / 2;
      const waiting = await repository.prune({ now });
      assertEquals([waiting.deletedPacks, waiting.pendingPlans], [0, 1]);

      clock.ms += HOUR;
      const done = await repository.prune({ now });
      assertEquals([done.plansCarriedOut, done.deletedPacks, done.rescuedPacks], [1, 2, 0]);
      // s2 listed the repacked pack in its envelope: it now has a replacement.
      assertEquals(done.replacedSnapshots, 1);
      const after = await packBytes(storage);
      assertTrue(after.bytes < before.bytes / 2, `${after.bytes} vs ${before.bytes}`);
      const [kept] = await repository.snapshots();
      assertEquals(kept!.replaces, s2.snapshotId);
      assertEquals(kept!.snapshot.tree, s2.snapshot.tree);

      // A fresh open (new index) restores the kept snapshot bit for bit.
      const again = await Repository.open(storage, { password: PASSWORD });
      try {
        await restoresAs(again, "latest", `${dir}/src`, dir);
        const env = await again.snapshots();
        const packs = new Set(
          env[0]!.packs.map((p) => [...p.id].map((b) => b.toString(16).padStart(2, "0")).join("")),
        );
        for (const pack of packs) {
          assertTrue(await storage.stat(`data/${pack.slice(0, 2)}/${pack}`) !== null);
        }
      } finally {
        await again.close();
      }
      // Nothing left to do: a later prune plans nothing.
      clock.ms += 2 * HOUR;
      const idle = await repository.prune({ now });
      assertEquals([idle.unusedPacks, idle.repackedPacks, idle.deletedPacks], [0, 0, 0]);
    } finally {
      await repository.close();
    }
  });
});

Deno.test("prune racing a lock-free backup loses nothing: the snapshot rescues the planned pack", async () => {
  await withTemp(async (dir) => {
    const { storage, clock } = clockedStorage();
    const now = () => clock.ms;
    const { repository: pruner } = await Repository.init(storage, {
      password: PASSWORD,
      argon2id: FAST,
      chunker: CHUNKER,
    });
    const backer = await Repository.open(storage, { password: PASSWORD });
    try {
      await Deno.mkdir(`${dir}/src`);
      await Deno.writeFile(`${dir}/src/x`, pseudoRandomBytes(300_000, 9));
      const s1 = await pruner.backup({ paths: [`${dir}/src`], workers: 0 });
      // The backup starts: it loads the index (pack P, with x) before prune plans P.
      await backer.snapshots();
      await backer.index();
      await pruner.forget([s1.snapshotId], { now });
      clock.ms += 2 * HOUR;
      const planned = await pruner.prune({ now });
      assertEquals(planned.unusedPacks, 1);
      // The backup deduplicates x against P, now planned, and writes its snapshot.
      const s2 = await backer.backup({ paths: [`${dir}/src`], workers: 0 });
      assertEquals(s2.addedPacks, 0); // x and its trees were deduplicated against P
      clock.ms += 2 * HOUR;
      const carried = await pruner.prune({ now });
      assertEquals([carried.plansCarriedOut, carried.rescuedPacks], [1, 1]);
      const reader = await Repository.open(storage, { password: PASSWORD });
      try {
        await restoresAs(reader, s2.snapshotId, `${dir}/src`, dir);
      } finally {
        await reader.close();
      }
      // Later prunes keep the rescued pack: s2 needs it.
      clock.ms += 2 * HOUR;
      await pruner.prune({ now });
      clock.ms += 2 * HOUR;
      await pruner.prune({ now });
      const reader2 = await Repository.open(storage, { password: PASSWORD });
      try {
        await restoresAs(reader2, s2.snapshotId, `${dir}/src`, dir);
      } finally {
        await reader2.close();
      }
    } finally {
      await backer.close();
      await pruner.close();
    }
  });
});

Deno.test("a backup that starts after a plan does not deduplicate against its packs", async () => {
  await withTemp(async (dir) => {
    const { storage, clock } = clockedStorage();
    const now = () => clock.ms;
    const { repository } = await Repository.init(storage, {
      password: PASSWORD,
      argon2id: FAST,
      chunker: CHUNKER,
    });
    try {
      await Deno.mkdir(`${dir}/src`);
      await Deno.writeFile(`${dir}/src/x`, pseudoRandomBytes(300_000, 9));
      const s1 = await repository.backup({ paths: [`${dir}/src`], workers: 0 });
      await repository.forget([s1.snapshotId], { now });
      clock.ms += 2 * HOUR;
      assertEquals((await repository.prune({ now })).unusedPacks, 1);
      const late = await Repository.open(storage, { password: PASSWORD });
      try {
        const s2 = await late.backup({ paths: [`${dir}/src`], workers: 0 });
        assertTrue(s2.snapshot.stats.newBytes >= 300_000, `${s2.snapshot.stats.newBytes}`);
        // Its envelope names only packs outside the plan, so carrying the plan out replaces nothing.
        clock.ms += 2 * HOUR;
        const carried = await late.prune({ now });
        assertEquals([carried.deletedPacks, carried.rescuedPacks, carried.replacedSnapshots], [
          1,
          0,
          0,
        ]);
        await restoresAs(late, "latest", `${dir}/src`, dir);
      } finally {
        await late.close();
      }
    } finally {
      await repository.close();
    }
  });
});

Deno.test("prune refuses a live lock (RepositoryLockedError naming its owner); stale locks are reported and removed by unlock", async () => {
  const { storage, clock } = clockedStorage();
  const now = () => clock.ms;
  const { repository } = await Repository.init(storage, { password: PASSWORD, argon2id: FAST });
  try {
    const held = await repository.lock({ now, host: "other-host", pid: 4242 });
    clock.ms += 10 * 60_000;
    const error = await assertRejects(() => repository.prune({ now }), RepositoryLockedError);
    assertTrue(/other-host pid 4242, taken 10 min ago/.test(error.message), error.message);
    // A dry run takes no lock.
    await repository.prune({ now, dryRun: true });
    const listing = await repository.locks({ now });
    assertEquals(listing.live.length, 1);
    // Unrefreshed for over 30 minutes: stale. Prune goes ahead and reports it.
    clock.ms += HOUR;
    const result = await repository.prune({ now });
    assertEquals(result.staleLocks.map((l) => [l.host, l.pid]), [["other-host", 4242]]);
    const removed = await repository.unlock({ now });
    assertEquals(removed.removed.length, 1);
    assertEquals((await repository.locks({ now })).stale.length, 0);
    await held.release(); // already gone: deleting a missing object is no error
    // Prune's own lock is gone when it returns.
    assertEquals((await repository.locks({ now })).live.length, 0);
  } finally {
    await repository.close();
  }
});

Deno.test("a lock refresh replaces the lock object; unlock --remove-all removes live locks", async () => {
  const { storage, clock } = clockedStorage();
  const now = () => clock.ms;
  const { repository } = await Repository.init(storage, { password: PASSWORD, argon2id: FAST });
  try {
    const held = await repository.lock({ now });
    const [first] = (await repository.locks({ now })).live;
    clock.ms += 25 * 60_000;
    await held.refresh();
    clock.ms += 25 * 60_000;
    const [second] = (await repository.locks({ now })).live;
    assertTrue(second !== undefined && second.name !== first!.name);
    assertEquals((await repository.unlock({ now })).live.length, 1);
    assertEquals((await repository.unlock({ now, all: true })).removed.length, 1);
    assertEquals((await repository.locks({ now })).live.length, 0);
    await held.release();
  } finally {
    await repository.close();
  }
});
