// Crash safety and concurrency (DESIGN.md §6, issue #6): a backup killed with
// SIGKILL at random moments leaves a repository that `check` passes (leftover
// packs are only warnings) and that the next backup completes; two backups at
// once both succeed, and the fork they make is information, not damage.

import { assertEquals, assertTrue } from "./_assert.ts";
import { cofre } from "./_cli.ts";
import { describeTree, pseudoRandomBytes } from "./_data.ts";
import { LocalStorage, Repository } from "../mod.ts";
import { TEST_ONLY_FAST_ARGON2ID } from "../src/kdf.ts";
import { tempDirs } from "./_temp_dir.ts";

const PASSWORD = "vivid otter juggles lanterns";
const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;
const KILLS = 10;

const withDir = tempDirs("cofre-crash-");

/** A repository made in process: its key slot's fast Argon2id keeps the subprocesses fast too. */
async function initRepository(path: string): Promise<void> {
  const { repository } = await Repository.init(new LocalStorage(path), {
    password: PASSWORD,
    argon2id: TEST_ONLY_FAST_ARGON2ID,
  });
  await repository.close();
}

/** A pack's worth of incompressible files, and some small ones. */
async function makeSource(root: string, seed: number): Promise<void> {
  await Deno.mkdir(`${root}/media`, { recursive: true });
  await Deno.mkdir(`${root}/db`, { recursive: true });
  for (let i = 0; i < 2; i++) {
    await Deno.writeFile(`${root}/media/v${i}.bin`, pseudoRandomBytes(4_000_000, seed + i));
  }
  for (let i = 0; i < 20; i++) {
    await Deno.writeTextFile(`${root}/db/row${i}.txt`, `row ${i} of ${seed}\n`.repeat(100 + i));
  }
}

function spawnBackup(env: Record<string, string>, source: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "backup", source, "--json"],
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("a backup killed with SIGKILL at random moments leaves a repository that checks and backs up", () =>
  withDir(async (dir) => {
    await initRepository(`${dir}/repo`);
    await makeSource(`${dir}/src`, 1);
    const env = {
      COFRE_PASSWORD: PASSWORD,
      COFRE_REPOSITORY: `${dir}/repo`,
      COFRE_STATE_DIR: `${dir}/state`,
    };
    // A whole backup, in a subprocess like the ones killed, sets the range of moments.
    const started = performance.now();
    const whole = await spawnBackup(env, `${dir}/src`).output();
    const duration = performance.now() - started;
    assertEquals(whole.code, 0, new TextDecoder().decode(whole.stderr));
    const moments: number[] = [];
    let interrupted = 0;
    for (let i = 0; i < KILLS; i++) {
      // Each run changes a file, so every backup has new data to write.
      await Deno.writeFile(`${dir}/src/media/v${i % 2}.bin`, pseudoRandomBytes(4_000_000, 100 + i));
      const child = spawnBackup(env, `${dir}/src`);
      const at = Math.random() * duration;
      moments.push(Math.round(at));
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* it had finished */ }
      }, at);
      const status = await child.output();
      clearTimeout(timer);
      if (status.signal === "SIGKILL") interrupted++;
      const checked = await cofre(["check", "--json"], { env });
      assertEquals(checked.code, 0, `killed at ${at} ms: ${checked.stdout}${checked.stderr}`);
      const report = JSON.parse(checked.stdout);
      assertEquals(report.damage, []);
      assertTrue(
        report.warnings.every((w: { message: string }) => w.message.includes("in no index")),
        checked.stdout,
      );
    }
    const final = await cofre(["backup", `${dir}/src`, "--json"], { env });
    assertEquals(final.code, 0, final.stderr);
    const read = await cofre(["check", "--read-data", "--json"], { env });
    assertEquals(read.code, 0, read.stdout);
    const restored = await cofre(["restore", "latest", "--target", `${dir}/out`], { env });
    assertEquals(restored.code, 0, restored.stderr);
    assertEquals(await describeTree(`${dir}/out/src`, ""), await describeTree(`${dir}/src`, ""));
    const leftovers = JSON.parse(read.stdout).warnings.length;
    console.log(
      `whole backup ${Math.round(duration)} ms; killed at ${moments.join(", ")} ms; ` +
        `${interrupted} interrupted, ${leftovers} unindexed pack(s) left`,
    );
  }));

Deno.test("two backups into one repository at the same time both succeed and both restore", () =>
  withDir(async (dir) => {
    await initRepository(`${dir}/repo`);
    await makeSource(`${dir}/one`, 1);
    await makeSource(`${dir}/two`, 2);
    const env = {
      COFRE_PASSWORD: PASSWORD,
      COFRE_REPOSITORY: `${dir}/repo`,
      COFRE_STATE_DIR: `${dir}/state`,
    };
    assertEquals((await cofre(["backup", `${dir}/one/db`], { env })).code, 0);
    const runs = await Promise.all([
      spawnBackup(env, `${dir}/one`).output(),
      spawnBackup(env, `${dir}/two`).output(),
    ]);
    const ids = runs.map((run) => {
      assertEquals(run.code, 0, new TextDecoder().decode(run.stderr));
      return JSON.parse(new TextDecoder().decode(run.stdout)).snapshot_id as string;
    });
    const list = JSON.parse((await cofre(["snapshots", "--json"], { env })).stdout);
    const sequences = ids.map((id) => list.find((s: { id: string }) => s.id === id).sequence);
    const checked = await cofre(["check", "--read-data", "--json"], { env });
    assertEquals(checked.code, 0, checked.stdout);
    const report = JSON.parse(checked.stdout);
    // Both followed the first snapshot (the usual case): a fork, reported as a note.
    if (sequences[0] === sequences[1]) {
      assertEquals(report.notes.length, 1, checked.stdout);
      assertTrue(report.notes[0].message.includes("fork at sequence 1"), checked.stdout);
    } else assertEquals(report.notes, []);
    console.log(`sequences ${sequences.join(" and ")}: ${report.notes.length} fork(s)`);
    for (const [i, name] of ["one", "two"].entries()) {
      const target = `${dir}/out-${name}`;
      const restored = await cofre(["restore", ids[i]!, "--target", target], { env });
      assertEquals(restored.code, 0, restored.stderr);
      assertEquals(
        await describeTree(`${target}/${name}`, ""),
        await describeTree(`${dir}/${name}`, ""),
      );
    }
    // The next backup follows one of the fork's ends, and the chain stays whole.
    assertEquals((await cofre(["backup", `${dir}/two`], { env })).code, 0);
    assertEquals((await cofre(["check"], { env })).code, 0);
  }));
