// `cofre check` (issue #6, "Trust but verify"): a clean repository passes;
// one flipped byte in each kind of object, a deleted pack, a deleted or
// rolled-back snapshot are found and named; slices cover every pack once.

import fc from "fast-check";
import { assertEquals, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { inSubset, LocalStorage, parseSubset, Repository } from "../mod.ts";
import { tempDirs } from "./_temp_dir.ts";

const PASSWORD = "vivid otter juggles lanterns";

const withDir = tempDirs("cofre-check-");

/** Four files in three folders, each its own chunk (below the 256 KiB minimum). */
async function makeSource(root: string): Promise<void> {
  await Deno.mkdir(`${root}/app/a`, { recursive: true });
  await Deno.mkdir(`${root}/app/b/c`, { recursive: true });
  await Deno.writeFile(`${root}/app/a/one.bin`, pseudoRandomBytes(150_000, 1));
  await Deno.writeTextFile(`${root}/app/a/two.txt`, "hello from two\n".repeat(500));
  await Deno.writeFile(`${root}/app/b/three.bin`, pseudoRandomBytes(120_000, 3));
  await Deno.writeTextFile(`${root}/app/b/c/four.txt`, "four\n");
}

function envFor(dir: string): Record<string, string> {
  return {
    COFRE_PASSWORD: PASSWORD,
    COFRE_REPOSITORY: `${dir}/repo`,
    COFRE_STATE_DIR: `${dir}/state`,
  };
}

/** A repository with one backup of the source; returns the env and the snapshot id. */
async function setUp(dir: string): Promise<{ env: Record<string, string>; snapshot: string }> {
  await makeSource(`${dir}/src`);
  const env = envFor(dir);
  assertEquals((await cofre(["init"], { env })).code, 0);
  const backup = await cofre(["backup", `${dir}/src/app`, "--json"], { env });
  assertEquals(backup.code, 0, backup.stderr);
  return { env, snapshot: JSON.parse(backup.stdout).snapshot_id };
}

async function objects(repo: string, prefix: string): Promise<{ name: string; size: number }[]> {
  return await Array.fromAsync(new LocalStorage(repo).list(prefix));
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[offset] = bytes[offset]! ^ 0x40;
  await Deno.chmod(path, 0o644).catch(() => {});
  await Deno.writeFile(path, bytes);
}

/** Where a blob is: its pack's path and the blob's offset in it. */
async function locate(dir: string, kind: "data" | "tree", path: string) {
  const repository = await Repository.open(new LocalStorage(`${dir}/repo`), {
    password: PASSWORD,
  });
  try {
    let id: string | undefined;
    if (kind === "data") {
      for await (const { path: p, node } of repository.list("latest")) {
        if (p === path && node.type === "file") id = node.content![0];
      }
    } else {
      for await (const { path: p, node } of repository.list("latest")) {
        if (p === path && node.type === "dir") id = node.subtree;
      }
    }
    const location = (await repository.index()).get(id!)!;
    return {
      pack: `${dir}/repo/data/${location.pack.slice(0, 2)}/${location.pack}`,
      offset: location.offset,
      length: location.sealedLength,
    };
  } finally {
    await repository.close();
  }
}

async function check(args: string[], env: Record<string, string>) {
  const result = await cofre(["check", ...args, "--json"], { env });
  return { ...result, report: JSON.parse(result.stdout || "null") };
}

Deno.test("check passes a clean repository, with the password and without", () =>
  withDir(async (dir) => {
    const { env, snapshot } = await setUp(dir);
    const full = await check(["--read-data"], env);
    assertEquals(full.code, 0, full.stdout + full.stderr);
    assertEquals(full.report.ok, true);
    assertEquals(full.report.counts.snapshots, 1);
    assertEquals(full.report.counts.packs, 1);
    assertEquals(full.report.counts.packs_read, 1);
    assertTrue(full.report.counts.trees >= 4, full.stdout);
    assertEquals(full.report.head.id, snapshot);
    const { COFRE_PASSWORD: _, ...noPassword } = env;
    const pub = await check(["--public", "--read-data"], noPassword);
    assertEquals(pub.code, 0, pub.stdout + pub.stderr);
    assertEquals([pub.report.public, pub.report.counts.packs_read], [true, 1]);
    const text = await cofre(["check"], { env });
    assertEquals(text.code, 0);
    assertTrue(text.stdout.includes("No damage found."), text.stdout);
  }));

async function restoreWorks(env: Record<string, string>, target: string, include: string[]) {
  const args = ["restore", "latest", "--target", target];
  for (const path of include) args.push("--include", path);
  const result = await cofre(args, { env });
  assertEquals(result.code, 0, result.stderr);
  return result;
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = [await Deno.readFile(a), await Deno.readFile(b)];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

Deno.test("a flipped byte in a data blob names its file; the other files restore", () =>
  withDir(async (dir) => {
    const { env, snapshot } = await setUp(dir);
    const where = await locate(dir, "data", "app/a/one.bin");
    await flipByte(where.pack, where.offset + Math.floor(where.length / 2));
    const { code, report, stdout } = await check(["--read-data"], env);
    assertEquals(code, 1, stdout);
    assertEquals(report.affected_files, [{ snapshot, path: "app/a/one.bin" }]);
    assertEquals(report.affected_snapshots.map((s: { id: string }) => s.id), [snapshot]);
    assertTrue(report.damage.some((d: { object: string }) => where.pack.endsWith(d.object)));
    const text = await cofre(["check", "--read-data"], { env });
    assertTrue(text.stdout.includes("app/a/one.bin"), text.stdout);
    assertTrue(text.stdout.includes(snapshot.slice(0, 8)), text.stdout);
    await restoreWorks(env, `${dir}/out`, ["app/a/two.txt", "app/b"]);
    assertTrue(await sameFile(`${dir}/out/app/b/three.bin`, `${dir}/src/app/b/three.bin`));
  }));

Deno.test("a flipped byte in a tree blob names its folder, without --read-data", () =>
  withDir(async (dir) => {
    const { env, snapshot } = await setUp(dir);
    const where = await locate(dir, "tree", "app/b");
    await flipByte(where.pack, where.offset + 20);
    const { code, report, stdout } = await check([], env);
    assertEquals(code, 1, stdout);
    assertEquals(report.affected_files, [{ snapshot, path: "app/b/" }]);
    assertTrue(report.damage.some((d: { object: string }) => d.object.startsWith("tree blob ")));
    await restoreWorks(env, `${dir}/out`, ["app/a"]);
    assertTrue(await sameFile(`${dir}/out/app/a/one.bin`, `${dir}/src/app/a/one.bin`));
  }));

Deno.test("a flipped byte in a pack header names the pack; everything still restores", () =>
  withDir(async (dir) => {
    const { env } = await setUp(dir);
    const [pack] = await objects(`${dir}/repo`, "data/");
    const path = `${dir}/repo/${pack!.name}`;
    const bytes = await Deno.readFile(path);
    const headerLength = new DataView(bytes.buffer).getUint32(bytes.length - 4, true);
    await flipByte(path, bytes.length - 4 - Math.floor(headerLength / 2));
    const { code, report } = await check(["--read-data"], env);
    assertEquals(code, 1);
    assertTrue(report.damage.some((d: { object: string }) => d.object === pack!.name));
    // Every blob verified on its own: no file is affected.
    assertEquals(report.affected_files, []);
    await restoreWorks(env, `${dir}/out`, []);
    assertTrue(await sameFile(`${dir}/out/app/b/three.bin`, `${dir}/src/app/b/three.bin`));
  }));

Deno.test("a flipped byte in an index file names it; restore finds the blobs from pack headers", () =>
  withDir(async (dir) => {
    const { env } = await setUp(dir);
    const [index] = await objects(`${dir}/repo`, "index/");
    await flipByte(`${dir}/repo/${index!.name}`, 40);
    const { code, report } = await check([], env);
    assertEquals(code, 1);
    assertTrue(report.damage.some((d: { object: string }) => d.object === index!.name));
    const restored = await restoreWorks(env, `${dir}/out`, []);
    assertTrue(restored.stderr.includes("index file(s) are damaged"), restored.stderr);
    assertTrue(await sameFile(`${dir}/out/app/a/one.bin`, `${dir}/src/app/a/one.bin`));
  }));

Deno.test("a flipped byte in a snapshot envelope names it; the other snapshot restores", () =>
  withDir(async (dir) => {
    const { env, snapshot } = await setUp(dir);
    await Deno.writeTextFile(`${dir}/src/app/a/new.txt`, "added later\n");
    assertEquals((await cofre(["backup", `${dir}/src/app`], { env })).code, 0);
    await flipByte(`${dir}/repo/snapshots/${snapshot}`, 30);
    const { code, report } = await check([], env);
    assertEquals(code, 1);
    assertTrue(
      report.damage.some((d: { object: string }) => d.object === `snapshots/${snapshot}`),
      JSON.stringify(report.damage),
    );
    assertTrue(report.affected_snapshots.some((s: { id: string }) => s.id === snapshot));
    const restored = await restoreWorks(env, `${dir}/out`, ["app/a"]);
    assertTrue(restored.stderr.includes(`snapshots/${snapshot} skipped`), restored.stderr);
    assertTrue(await sameFile(`${dir}/out/app/a/new.txt`, `${dir}/src/app/a/new.txt`));
  }));

Deno.test("a flipped byte in the config or a key slot is named; another slot still opens", () =>
  withDir(async (dir) => {
    const { env } = await setUp(dir);
    const second = { ...env, COFRE_NEW_PASSWORD: "second pass phrase here" };
    assertEquals((await cofre(["key", "add"], { env: second })).code, 0);
    const slots = await objects(`${dir}/repo`, "keys/");
    assertEquals(slots.length, 2);
    // Damage the slot the second password opens (slot id bytes: 10..25).
    const other = await cofre(["key", "list", "--json"], { env });
    const current = JSON.parse(other.stdout).find((s: { current: boolean }) => s.current).id;
    const victim = slots.find((s) => !s.name.endsWith(current))!;
    await flipByte(`${dir}/repo/${victim.name}`, 12);
    const slot = await check([], env);
    assertEquals(slot.code, 1);
    assertTrue(slot.report.damage.some((d: { object: string }) => d.object === victim.name));
    await restoreWorks(env, `${dir}/out`, ["app/b/c"]);

    await flipByte(`${dir}/repo/config`, 30);
    const config = await check(["--read-data"], env);
    assertEquals(config.code, 1, config.stdout + config.stderr);
    assertTrue(config.report.damage.some((d: { object: string }) => d.object === "config"));
    const { COFRE_PASSWORD: _, ...noPassword } = env;
    const pub = await check(["--public"], noPassword);
    assertEquals(pub.code, 1);
    assertTrue(pub.report.damage.some((d: { object: string }) => d.object === "config"));
  }));

Deno.test("a deleted pack fails check --public, without the password, naming the snapshots", () =>
  withDir(async (dir) => {
    const { env, snapshot } = await setUp(dir);
    const [pack] = await objects(`${dir}/repo`, "data/");
    // A second backup adds a file: new trees go to a second pack, the old files stay in the first.
    await Deno.writeTextFile(`${dir}/src/app/a/new.txt`, "added later\n");
    const second = JSON.parse(
      (await cofre(["backup", `${dir}/src/app`, "--json"], { env })).stdout,
    ).snapshot_id;
    await Deno.remove(`${dir}/repo/${pack!.name}`);
    const { COFRE_PASSWORD: _, ...noPassword } = env;
    const pub = await check(["--public"], noPassword);
    assertEquals(pub.code, 1, pub.stdout + pub.stderr);
    assertEquals(
      pub.report.affected_snapshots.map((s: { id: string }) => s.id),
      [snapshot, second],
    );
    assertTrue(pub.report.affected_snapshots[0].time !== null);
    assertTrue(pub.report.damage.some((d: { object: string }) => d.object === pack!.name));
    const text = await cofre(["check", "--public"], { env: noPassword });
    assertEquals(text.code, 1);
    assertTrue(text.stdout.includes(snapshot.slice(0, 8)), text.stdout);
    // With the password, the files are named too.
    const full = await check([], env);
    assertEquals(full.code, 1);
    assertEquals(
      full.report.affected_files.filter((f: { snapshot: string }) => f.snapshot === second),
      ["app/a/one.bin", "app/a/two.txt", "app/b/"].map((path) => ({ snapshot: second, path })),
    );
  }));

Deno.test("--read-data-subset slices cover every pack exactly once (property)", () => {
  const hexId = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) =>
    Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("")
  );
  fc.assert(
    fc.property(fc.array(hexId, { maxLength: 50 }), fc.integer({ min: 1, max: 40 }), (ids, m) => {
      for (const id of ids) {
        let hits = 0;
        for (let n = 1; n <= m; n++) if (inSubset(id, { slice: n, of: m })) hits++;
        if (hits !== 1) return false;
      }
      return true;
    }),
  );
  assertEquals(parseSubset("2/5"), { slice: 2, of: 5 });
  assertEquals(parseSubset("12.5%"), { percent: 12.5 });
  for (const bad of ["0/3", "4/3", "1/0", "0%", "101%", "half", "1/2/3"]) {
    let threw = false;
    try {
      parseSubset(bad);
    } catch (error) {
      threw = error instanceof RangeError;
    }
    assertTrue(threw, bad);
  }
});

Deno.test("check --read-data-subset n/m over n = 1..m reads each pack once", () =>
  withDir(async (dir) => {
    const { env } = await setUp(dir);
    for (let i = 0; i < 3; i++) {
      await Deno.writeFile(`${dir}/src/app/extra-${i}.bin`, pseudoRandomBytes(5000, 10 + i));
      assertEquals((await cofre(["backup", `${dir}/src/app`], { env })).code, 0);
    }
    const packs = (await objects(`${dir}/repo`, "data/")).length;
    assertEquals(packs, 4);
    let read = 0;
    for (let n = 1; n <= 3; n++) {
      const slice = await check([`--read-data-subset`, `${n}/3`], env);
      assertEquals(slice.code, 0, slice.stdout);
      read += slice.report.counts.packs_read;
    }
    assertEquals(read, packs);
    const all = await check(["--read-data-subset", "100%"], env);
    assertEquals(all.report.counts.packs_read, packs);
    const usage = await cofre(["check", "--read-data-subset", "4/3"], { env });
    assertEquals(usage.code, 2, usage.stderr);
  }));

Deno.test("a deleted newest snapshot is detected against the pin: backup and restore warn, check fails", () =>
  withDir(async (dir) => {
    const { env } = await setUp(dir);
    await Deno.writeTextFile(`${dir}/src/app/a/new.txt`, "added later\n");
    const second = JSON.parse(
      (await cofre(["backup", `${dir}/src/app`, "--json"], { env })).stdout,
    ).snapshot_id;
    const pins = await Array.fromAsync(Deno.readDir(`${dir}/state`));
    assertEquals(pins.length, 1);
    assertTrue(pins[0]!.name.endsWith(".pin.json"));
    await Deno.remove(`${dir}/repo/snapshots/${second}`);
    // Without the pin, the chain itself is whole: only this device can tell.
    const fresh = await check([], { ...env, COFRE_STATE_DIR: `${dir}/other-device` });
    assertEquals(fresh.code, 0);
    const restore = await restoreWorks(env, `${dir}/out`, []);
    assertTrue(restore.stderr.includes("rollback"), restore.stderr);
    assertEquals(restore.stderr.trim().split("\n").length, 1, restore.stderr);
    const checked = await check([], env);
    assertEquals(checked.code, 1);
    assertTrue(checked.report.rollback[0].includes("this device saw sequence 1"), checked.stdout);
    const backup = await cofre(["backup", `${dir}/src/app`], { env });
    assertEquals(backup.code, 0, backup.stderr);
    assertTrue(backup.stderr.includes("rollback"), backup.stderr);
    // The pin never moves back: the deleted snapshot stays missing.
    const again = await check([], env);
    assertEquals(again.code, 1);
    assertTrue(again.report.rollback[0].includes("missing without a tombstone"), again.stdout);
  }));

Deno.test("an older copy of the repository put back is detected; a replaced public key is an error", () =>
  withDir(async (dir) => {
    const { env } = await setUp(dir);
    const copy = new Deno.Command("cp", { args: ["-a", `${dir}/repo`, `${dir}/old-repo`] });
    assertEquals((await copy.output()).code, 0);
    await Deno.writeTextFile(`${dir}/src/app/a/new.txt`, "added later\n");
    assertEquals((await cofre(["backup", `${dir}/src/app`], { env })).code, 0);
    const older: Record<string, string> = { ...env, COFRE_REPOSITORY: `${dir}/old-repo` };
    const checked = await check([], older);
    assertEquals(checked.code, 1);
    assertTrue(checked.report.rollback.length === 1, checked.stdout);
    const { COFRE_PASSWORD: _, ...noPassword } = older;
    assertEquals((await check(["--public"], noPassword)).code, 1);
    const restore = await restoreWorks(older, `${dir}/out`, []);
    assertTrue(restore.stderr.includes("rollback"), restore.stderr);

    const [pin] = await Array.fromAsync(Deno.readDir(`${dir}/state`));
    const path = `${dir}/state/${pin!.name}`;
    const saved = JSON.parse(await Deno.readTextFile(path));
    await Deno.writeTextFile(path, JSON.stringify({ ...saved, public_key: "ab".repeat(32) }));
    const replaced = await cofre(["check"], { env });
    assertEquals(replaced.code, 1);
    assertTrue(replaced.stderr.includes("public key"), replaced.stderr);
    const backup = await cofre(["backup", `${dir}/src/app`], { env });
    assertEquals(backup.code, 1);
    assertTrue(backup.stderr.includes("public key"), backup.stderr);
  }));

Deno.test("a snapshot deleted from the middle of the chain is a gap: check fails on any device", () =>
  withDir(async (dir) => {
    const { env } = await setUp(dir);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      await Deno.writeTextFile(`${dir}/src/app/n${i}.txt`, `file ${i}\n`);
      const out = await cofre(["backup", `${dir}/src/app`, "--json"], { env });
      ids.push(JSON.parse(out.stdout).snapshot_id);
    }
    await Deno.remove(`${dir}/repo/snapshots/${ids[0]}`);
    const other = { ...env, COFRE_STATE_DIR: `${dir}/other-device` };
    const checked = await check([], other);
    assertEquals(checked.code, 1);
    assertTrue(
      checked.report.damage.some((d: { object: string; message: string }) =>
        d.object === `snapshots/${ids[1]}` && d.message.includes("gap")
      ),
      checked.stdout,
    );
    const backup = await cofre(["backup", `${dir}/src/app`], { env: other });
    assertEquals(backup.code, 0);
    assertTrue(backup.stderr.includes("gap"), backup.stderr);
  }));

Deno.test("random flips and truncations of any object never crash check: each is reported", () =>
  withDir(async (dir) => {
    const { env } = await setUp(dir);
    const names = [
      "config",
      ...(await objects(`${dir}/repo`, "")).map((o) => o.name).filter((n) => n !== "config"),
    ];
    const random = pseudoRandomBytes(64, 99);
    for (let i = 0; i < 16; i++) {
      const copy = `${dir}/copy-${i}`;
      assertEquals(
        (await new Deno.Command("cp", { args: ["-a", `${dir}/repo`, copy] }).output()).code,
        0,
      );
      const name = names[random[i]! % names.length]!;
      const path = `${copy}/${name}`;
      const bytes = await Deno.readFile(path);
      const at = (random[16 + i]! * 65537 + random[32 + i]! * 257) % bytes.length;
      await Deno.chmod(path, 0o644);
      if (i % 4 === 3) await Deno.writeFile(path, bytes.subarray(0, at));
      else await flipByte(path, at);
      const result = await check(["--read-data"], {
        ...env,
        COFRE_REPOSITORY: copy,
        COFRE_STATE_DIR: `${dir}/state-${i}`,
      });
      const what = `${i % 4 === 3 ? "truncated" : "flipped"} ${name} at ${at}: ${result.stderr}`;
      // A key slot's sealed key opens only with its password: damage there looks like a wrong one.
      if (result.code === 12) assertTrue(name.startsWith("keys/"), what);
      else {
        assertEquals(result.code, 1, what + result.stdout);
        assertTrue(result.report.damage.length > 0, what);
      }
      assertTrue(!result.stderr.includes("    at "), what);
      await Deno.remove(copy, { recursive: true });
    }
  }));

Deno.test("a pack in no index (an interrupted backup's) is a warning, not damage", () =>
  withDir(async (dir) => {
    const { env } = await setUp(dir);
    // A backup into a copy writes a pack the original's index never names.
    const copy = new Deno.Command("cp", { args: ["-a", `${dir}/repo`, `${dir}/copy`] });
    assertEquals((await copy.output()).code, 0);
    await Deno.writeFile(`${dir}/src/app/late.bin`, pseudoRandomBytes(50_000, 77));
    const other = { ...env, COFRE_REPOSITORY: `${dir}/copy`, COFRE_STATE_DIR: `${dir}/state2` };
    assertEquals((await cofre(["backup", `${dir}/src/app`], { env: other })).code, 0);
    const known = new Set((await objects(`${dir}/repo`, "data/")).map((o) => o.name));
    const leftover = (await objects(`${dir}/copy`, "data/")).find((o) => !known.has(o.name))!;
    await Deno.mkdir(`${dir}/repo/${leftover.name.slice(0, 8)}`, { recursive: true });
    await Deno.copyFile(`${dir}/copy/${leftover.name}`, `${dir}/repo/${leftover.name}`);
    const checked = await check(["--read-data"], env);
    assertEquals(checked.code, 0, checked.stdout);
    assertEquals(checked.report.warnings, [{
      object: leftover.name,
      message: "in no index file (left by an interrupted backup, or its index file was lost): " +
        "prune indexes it again if a snapshot needs it, and removes it if none does",
    }]);
    assertEquals(checked.report.counts.packs_read, 2);
  }));
