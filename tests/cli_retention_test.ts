// forget, prune and unlock through the CLI: policy tables, refusal of an empty policy, space
// freed with the kept snapshot restoring bit for bit, and exit 11 while another process holds
// the lock.

import { LocalStorage, Repository } from "../mod.ts";
import { assertEquals, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { describeTree, pseudoRandomBytes } from "./_data.ts";
import { tempDirs } from "./_temp_dir.ts";

const PASSWORD = "vivid otter juggles lanterns";

const withDir = tempDirs("cofre-retention-");

async function packBytes(repo: string): Promise<number> {
  let bytes = 0;
  for await (const info of new LocalStorage(repo).list("data/")) bytes += info.size;
  return bytes;
}

Deno.test("forget --keep-last 1 --prune, then prune: the space is freed and the kept snapshot restores", () =>
  withDir(async (dir) => {
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    assertEquals((await cofre(["init"], { env })).code, 0);
    await Deno.mkdir(`${dir}/src`);
    await Deno.writeFile(`${dir}/src/shared.bin`, pseudoRandomBytes(600_000, 1));
    for (let i = 0; i < 3; i++) {
      await Deno.writeFile(`${dir}/src/changing.bin`, pseudoRandomBytes(1_500_000, 10 + i));
      const backup = await cofre(["backup", `${dir}/src`, "--workers", "0"], { env });
      assertEquals(backup.code, 0, backup.stderr);
    }
    const dry = await cofre(["forget", "--keep-last", "1", "--dry-run"], { env });
    assertEquals(dry.code, 0, dry.stderr);
    assertEquals(dry.stdout.match(/ remove /g)?.length, 2, dry.stdout);
    assertTrue(/ keep +last snapshot/.test(dry.stdout), dry.stdout);
    assertTrue(dry.stdout.includes("Would forget 2 snapshot(s), kept 1."), dry.stdout);

    // A policy that keeps nothing is refused unless asked for.
    const empty = await cofre(["forget", "--keep-tag", "no-such-tag"], { env });
    assertEquals(empty.code, 2);
    assertTrue(empty.stderr.includes("keeps no snapshot"), empty.stderr);
    assertEquals((await cofre(["forget"], { env })).code, 2);

    const before = await packBytes(`${dir}/repo`);
    const forget = await cofre(["forget", "--keep-last", "1", "--prune", "--json"], {
      env,
      pruneGraceMs: 0,
    });
    assertEquals(forget.code, 0, forget.stderr);
    const report = JSON.parse(forget.stdout);
    assertEquals(report.groups[0].keep.length, 1);
    assertEquals(report.groups[0].keep[0].reasons, ["last"]);
    assertEquals(report.groups[0].remove.length, 2);
    assertTrue(report.prune.unused_packs + report.prune.repacked_packs >= 2, forget.stdout);
    await new Promise((r) => setTimeout(r, 20)); // past the (zero) grace period
    const prune = await cofre(["prune", "--json"], { env, pruneGraceMs: 0 });
    assertEquals(prune.code, 0, prune.stderr);
    const pruned = JSON.parse(prune.stdout);
    assertTrue(pruned.deleted_packs >= 2, prune.stdout);
    const after = await packBytes(`${dir}/repo`);
    assertTrue(after < before * 0.6, `${after} vs ${before}`);
    const snapshots = JSON.parse((await cofre(["snapshots", "--json"], { env })).stdout);
    assertEquals(snapshots.length, 1);
    const restore = await cofre(["restore", "latest", "--target", `${dir}/out`], { env });
    assertEquals(restore.code, 0, restore.stderr);
    assertEquals(
      await describeTree(`${dir}/out/src`, "src"),
      await describeTree(`${dir}/src`, "src"),
    );
  }));

Deno.test("prune exits 11 while another process holds the lock; unlock --remove-all frees it", () =>
  withDir(async (dir) => {
    const env = { COFRE_PASSWORD: PASSWORD, COFRE_REPOSITORY: `${dir}/repo` };
    assertEquals((await cofre(["init"], { env })).code, 0);
    const other = await Repository.open(new LocalStorage(`${dir}/repo`), { password: PASSWORD });
    try {
      const lock = await other.lock({ host: "phone", pid: 7 });
      const refused = await cofre(["prune"], { env });
      assertEquals(refused.code, 11);
      assertTrue(refused.stderr.includes("locked by phone pid 7, taken 0 min ago"), refused.stderr);
      const kept = await cofre(["unlock"], { env });
      assertTrue(kept.stdout.includes("Kept the live lock of phone pid 7"), kept.stdout);
      assertEquals((await cofre(["prune"], { env })).code, 11);
      const removed = await cofre(["unlock", "--remove-all"], { env });
      assertTrue(removed.stdout.includes("Removed lock of phone pid 7"), removed.stdout);
      const prune = await cofre(["prune"], { env });
      assertEquals(prune.code, 0, prune.stderr);
      assertTrue(prune.stdout.includes("Nothing new to remove."), prune.stdout);
      await lock.release();
    } finally {
      await other.close();
    }
    assertEquals((await cofre(["forget", "abcd1234"], { env })).code, 2);
  }));

Deno.test("after forget and prune the chain stays whole: no gap, no fork, the pin agrees", () =>
  withDir(async (dir) => {
    // FORMAT.md §12.3: tombstones and prune's replacement envelopes stand in for the
    // envelopes they replace, and the next backup follows the newest envelope of all.
    const env = {
      COFRE_PASSWORD: PASSWORD,
      COFRE_REPOSITORY: `${dir}/repo`,
      COFRE_STATE_DIR: `${dir}/state`,
    };
    const script = { env, pruneGraceMs: 0 };
    const ok = async (args: string[]) => {
      const run = await cofre(args, script);
      assertEquals(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
      assertTrue(!run.stderr.includes("warning"), `${args.join(" ")}: ${run.stderr}`);
      return run;
    };
    await ok(["init"]);
    await Deno.mkdir(`${dir}/src`);
    // The first pack holds a file every snapshot keeps and one only the first has: once
    // the first is forgotten, prune repacks the kept file and replaces the envelopes
    // that listed the old pack.
    await Deno.writeFile(`${dir}/src/big.bin`, pseudoRandomBytes(1_500_000, 29));
    for (let i = 0; i < 3; i++) {
      await Deno.writeFile(`${dir}/src/f${i}.bin`, pseudoRandomBytes(400_000, 30 + i));
      await ok(["backup", `${dir}/src`, "--workers", "0"]);
      await Deno.remove(`${dir}/src/big.bin`).catch(() => {});
    }
    const ids = JSON.parse((await ok(["snapshots", "--json"])).stdout).map((s: { id: string }) =>
      s.id
    );
    // Forget the newest: the head is now a tombstone, and the next backup follows it.
    await ok(["forget", ids.at(-1).slice(0, 8)]);
    await ok(["backup", `${dir}/src`, "--workers", "0"]);
    // Prune twice (plan, then carry out): the oldest snapshot's data moves, so its envelope
    // is replaced; the next backup and the pin must accept the replacement.
    await ok(["forget", ids[0].slice(0, 8)]);
    const planned = JSON.parse((await ok(["prune", "--json"])).stdout);
    assertEquals(planned.repacked_packs, 1, JSON.stringify(planned));
    const carried = JSON.parse((await ok(["prune", "--json"])).stdout);
    assertTrue(carried.replaced_snapshots >= 1, JSON.stringify(carried));
    await ok(["backup", `${dir}/src`, "--workers", "0"]);
    const check = await ok(["check", "--read-data", "--json"]);
    const report = JSON.parse(check.stdout);
    assertEquals(report.ok, true, check.stdout);
    assertTrue(!check.stdout.includes("fork"), check.stdout);
    await ok(["restore", "latest", "--target", `${dir}/restored`]);
    assertEquals(
      await describeTree(`${dir}/restored/src`, ""),
      await describeTree(`${dir}/src`, ""),
    );
  }));
