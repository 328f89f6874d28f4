// `cofre check` (issue #6, "Trust but verify"): a clean repository passes;
// one flipped byte in each kind of object, a deleted pack, a deleted or
// rolled-back snapshot are found and named; slices cover every pack once.

import fc from "fast-check";
import { assertEquals, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { pseudoRandomBytes } from "./_data.ts";
import { inSubset, LocalStorage, parseSubset, Repository } from "../mod.ts";

const PASSWORD = "vivid otter juggles lanterns";

async function withDir(body: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "cofre-check-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

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
        if (p === path && node.type === "file") id = node.content[0];
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
    // A second backup adds a file: its new trees go to a second pack, the old files stay in the first.
    const before = new Set((await objects(`${dir}/repo`, "data/")).map((o) => o.name));
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
