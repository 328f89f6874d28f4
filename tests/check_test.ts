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
