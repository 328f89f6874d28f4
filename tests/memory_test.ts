// Issue #5: a 2 GiB file, and a database of as many chunks as one database
// makes (FORMAT.md §7.4), back up and restore within the memory budget (peak
// RSS ≤ 300 MiB, workers included), through the real CLI in a subprocess.
// The peak is the kernel's own high-water mark (VmHWM).

import { assertEquals, assertTrue } from "./_assert.ts";
import { createHash } from "node:crypto";
import { MAX_DATABASE_CHUNKS } from "../src/sqlite.ts";
import { buildIncompressibleDatabase } from "../bench/peers/make_corpus.ts";

const GIB = 1024 * 1024 * 1024;
const BUDGET_BYTES = 300 * 1024 * 1024;
const SIZE_BYTES = 2 * GIB;
const CLI = new URL("../cli/main.ts", import.meta.url).pathname;
const FLAGS: string[] = String(
  JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url))).tasks.cofre,
).split(/\s+/).filter((word) => word.startsWith("--v8-flags="));

/** The CLI's environment for a repository in `dir`. */
const cliEnv = (dir: string) => ({
  COFRE_PASSWORD: "vivid otter juggles lanterns",
  COFRE_REPOSITORY: `${dir}/repo`,
});
const mib = (bytes: number) => `${(bytes / 1048576).toFixed(0)} MiB`;

/** Writes `size` bytes that never repeat a chunk: one random block, XORed with a different byte per copy. */
async function writeBigFile(path: string, size: number): Promise<string> {
  const block = new Uint8Array(64 * 1024 * 1024);
  for (let at = 0; at < block.length; at += 65536) {
    crypto.getRandomValues(block.subarray(at, at + 65536));
  }
  const words = new Uint32Array(block.buffer);
  const hash = createHash("sha256");
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let written = 0, copy = 1; written < size; copy++) {
      const mask = (copy * 0x01010101) >>> 0;
      for (let i = 0; i < words.length; i++) words[i]! ^= mask;
      const part = block.subarray(0, Math.min(block.length, size - written));
      for (let at = 0; at < part.length;) at += await file.write(part.subarray(at));
      hash.update(part);
      written += part.length;
    }
  } finally {
    file.close();
  }
  return hash.digest("hex");
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const piece of (await Deno.open(path)).readable) hash.update(piece);
  return hash.digest("hex");
}

/** Fails the test early, and says why, when `dir`'s disk has less than `bytes` free. */
async function assertFreeSpace(dir: string, bytes: number): Promise<void> {
  const df = new TextDecoder().decode(
    (await new Deno.Command("df", { args: ["-k", dir] }).output()).stdout,
  );
  const free = Number(/\S+\s+\d+\s+\d+\s+(\d+)/.exec(df.split("\n")[1]!)?.[1] ?? 0) * 1024;
  assertTrue(
    free > bytes,
    `the memory test needs ${(bytes / GIB).toFixed(0)} GiB free in ${dir}, found ${
      (free / GIB).toFixed(1)
    }`,
  );
}

/** Runs the CLI and reports its exit code and peak RSS. */
async function runMeasured(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; peak: number; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    // As `deno task cofre` runs it (deno.json): the budget is the CLI's.
    args: ["run", "-A", ...FLAGS, CLI, ...args],
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let peak = 0;
  const poll = setInterval(() => {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      const kib = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kib * 1024);
    } catch {
      // the process has just ended
    }
  }, 50);
  const output = await child.output();
  clearInterval(poll);
  return { code: output.code, peak, stderr: new TextDecoder().decode(output.stderr) };
}

Deno.test("a 2 GiB file backs up and restores with a peak RSS under 300 MiB", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cofre-memory-" });
  try {
    if (Deno.build.os !== "linux") {
      console.log("memory test: /proc is Linux-only; not measured on this system");
      return;
    }
    await assertFreeSpace(dir, 7 * GIB);
    await Deno.mkdir(`${dir}/src`);
    const digest = await writeBigFile(`${dir}/src/video.mp4`, SIZE_BYTES);
    const env = cliEnv(dir);
    assertEquals((await runMeasured(["init"], env)).code, 0);
    const backup = await runMeasured(["backup", `${dir}/src`], env);
    assertEquals(backup.code, 0, backup.stderr);
    await Deno.remove(`${dir}/src/video.mp4`); // disk: the source is not needed any more
    const restore = await runMeasured(["restore", "latest", "--target", `${dir}/out`], env);
    assertEquals(restore.code, 0, restore.stderr);
    assertEquals(await hashFile(`${dir}/out/src/video.mp4`), digest);
    console.log(
      `peak RSS: backup ${mib(backup.peak)}, restore ${mib(restore.peak)} (budget ${
        mib(BUDGET_BYTES)
      })`,
    );
    assertTrue(backup.peak > 0 && backup.peak <= BUDGET_BYTES, `backup peak ${mib(backup.peak)}`);
    assertTrue(
      restore.peak > 0 && restore.peak <= BUDGET_BYTES,
      `restore peak ${mib(restore.peak)}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a database of as many chunks as FORMAT.md §7.4 allows backs up, restores and checks under 300 MiB", async () => {
  if (Deno.build.os !== "linux") {
    console.log("memory test: /proc is Linux-only; not measured on this system");
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "cofre-memory-db-" });
  try {
    await Deno.mkdir(`${dir}/src`);
    // Just under M pages of random rows: the most single pages, each a chunk.
    await assertFreeSpace(dir, 3 * GIB);
    const path = `${dir}/src/msgstore.db`;
    buildIncompressibleDatabase(path, Math.floor(MAX_DATABASE_CHUNKS * 0.99));
    const pages = (await Deno.stat(path)).size / 4096;
    assertTrue(
      pages > MAX_DATABASE_CHUNKS * 0.98 && pages <= MAX_DATABASE_CHUNKS,
      `${pages} pages`,
    );
    const digest = await hashFile(path);
    const env = cliEnv(dir);
    assertEquals((await runMeasured(["init"], env)).code, 0);
    const backup = await runMeasured(["backup", `${dir}/src`], env);
    assertEquals(backup.code, 0, backup.stderr);
    const restore = await runMeasured(["restore", "latest", "--target", `${dir}/out`], env);
    assertEquals(restore.code, 0, restore.stderr);
    assertEquals(await hashFile(`${dir}/out/src/msgstore.db`), digest);
    const check = await runMeasured(["check", "--read-data"], env);
    assertEquals(check.code, 0, check.stderr);
    console.log(
      `${pages} pages; peak RSS: backup ${mib(backup.peak)}, restore ${mib(restore.peak)}, ` +
        `check --read-data ${mib(check.peak)} (budget ${mib(BUDGET_BYTES)})`,
    );
    for (
      const [what, run] of [["backup", backup], ["restore", restore], ["check", check]] as const
    ) {
      assertTrue(run.peak > 0 && run.peak <= BUDGET_BYTES, `${what} peak ${mib(run.peak)}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
