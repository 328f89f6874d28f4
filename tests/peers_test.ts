// Smoke test for bench/peers: a corpus of a few MB, the whole comparison for
// whichever peers are installed, and a stand-in Cofre CLI so the Cofre driver
// is exercised before the real `backup` and `restore` exist. No apt-get: on a
// machine without restic or borg their part returns early with a note.

import { assertEquals, assertTrue } from "./_assert.ts";
import {
  buildCorpus,
  listFiles,
  mutateCorpus,
  summarizeCorpus,
} from "../bench/peers/make_corpus.ts";
import {
  benchPart,
  benchTool,
  evaluateTargets,
  formatParts,
  formatReport,
  mergeRounds,
  PART_NAMES,
  runComparison,
  syncedWriteSpeed,
} from "../bench/peers/run.ts";
import type { PartResult, StepName, ToolName, ToolResult } from "../bench/peers/run.ts";

const SMALL = { mediaMb: 1.5, videoMb: 0.5, dbMb: 1 };

async function installed(command: string): Promise<boolean> {
  try {
    const output = await new Deno.Command(command, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return output.success;
  } catch {
    return false;
  }
}

function assertRecord(result: ToolResult): void {
  assertEquals(result.status, "ok", `${result.tool}: ${result.reason}`);
  assertEquals(
    result.steps.map((step) => step.step),
    "part" in result
      ? ["first backup", "restore"]
      : ["first backup", "unchanged re-backup", "backup after 1% change", "restore"],
  );
  for (const step of result.steps) {
    assertTrue(step.seconds > 0, `${result.tool} ${step.step}: seconds`);
    assertTrue(step.bytes > 0, `${result.tool} ${step.step}: bytes`);
    assertTrue(step.mbPerSecond > 0, `${result.tool} ${step.step}: MB/s`);
    assertTrue(step.repoBytes > 0, `${result.tool} ${step.step}: repository size`);
    assertTrue(
      step.peakRssKib === null || step.peakRssKib > 0,
      `${result.tool} ${step.step}: peak RSS`,
    );
    // The sync after a restore is timed apart; after a backup it is not reported.
    assertEquals(step.flushSeconds !== undefined, step.step === "restore");
    assertTrue((step.flushSeconds ?? 0) >= 0, `${result.tool} ${step.step}: sync time`);
  }
  assertTrue(result.verification?.ok, `${result.tool}: ${result.verification?.mismatches}`);
}

/** A part's record: both steps, and a verified restore of only that part's files. */
function assertPart(result: PartResult, corpusFiles: number): void {
  assertRecord(result);
  const files = result.verification!.files;
  if (result.part === "database") assertEquals(files, 1);
  else assertEquals(files, corpusFiles - 1);
  assertEquals(result.steps[0]!.bytes, result.steps[1]!.bytes);
}

Deno.test("make_corpus builds the same corpus twice and mutate() changes it the same way", async () => {
  const work = await Deno.makeTempDir({ prefix: "cofre-peers-test-" });
  try {
    const reports = [];
    for (const name of ["a", "b"]) {
      const report = await buildCorpus(`${work}/${name}`, { ...SMALL, seed: "test" });
      assertTrue(report.files > 3 && report.messages > 0);
      assertTrue(report.breakdown.some((group) => group.folder === "msgstore.db"));
      assertTrue(report.breakdown.some((group) => group.folder === "media/video"));
      reports.push(report);
    }
    assertEquals(reports[0]!.bytes, reports[1]!.bytes);
    const before = await Deno.readFile(`${work}/a/msgstore.db`);
    const mutations = [
      await mutateCorpus(`${work}/a`, { seed: "test" }),
      await mutateCorpus(`${work}/b`, { seed: "test" }),
    ];
    assertEquals(mutations[0], mutations[1]);
    assertTrue(mutations[0]!.mediaFilesChanged >= 1 && mutations[0]!.messagesInserted > 0);
    assertTrue(mutations[0]!.changedPaths.includes("msgstore.db"));
    assertTrue(!equalBytes(before, await Deno.readFile(`${work}/a/msgstore.db`)));
    const files = await listFiles(`${work}/a`);
    assertEquals(files, await listFiles(`${work}/b`));
    for (const path of files) {
      assertTrue(
        equalBytes(
          await Deno.readFile(`${work}/a/${path}`),
          await Deno.readFile(`${work}/b/${path}`),
        ),
        `${path} differs between two seeded builds`,
      );
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("syncedWriteSpeed measures a synced write and leaves nothing behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cofre-disk-probe-test-" });
  try {
    const speed = await syncedWriteSpeed(dir, 2);
    assertTrue(Number.isFinite(speed) && speed > 0, `speed ${speed}`);
    assertEquals([...Deno.readDirSync(dir)].length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

Deno.test("run.ts times restic and borg on a small corpus and verifies their restores", async () => {
  const tools: ToolName[] = [];
  for (const tool of ["restic", "borg"] as const) {
    if (await installed(tool)) tools.push(tool);
  }
  if (tools.length === 0) {
    console.log(
      "  note: neither restic nor borg is installed (bench/peers/setup.sh): nothing to time",
    );
    return;
  }
  const work = await Deno.makeTempDir({ prefix: "cofre-peers-test-" });
  try {
    await buildCorpus(`${work}/corpus`, { ...SMALL, seed: "test" });
    const corpusBefore = await summarizeCorpus(`${work}/corpus`);
    const report = await runComparison({
      corpus: `${work}/corpus`,
      tools,
      work: `${work}/run`,
      parts: true,
      diskProbeMib: 4,
    });
    assertEquals(report.results.map((result) => result.tool), tools);
    for (const result of report.results) assertRecord(result);
    // Each part alone, every tool: the media folder's files, then the database's one.
    assertEquals(
      report.parts?.map((part) => `${part.part} ${part.tool}`),
      PART_NAMES.flatMap((part) => tools.map((tool) => `${part} ${tool}`)),
    );
    for (const part of report.parts!) assertPart(part, corpusBefore.files);
    assertTrue(formatReport(report).includes("each part alone"));
    assertTrue(report.mutation !== undefined && report.mutation.mediaFilesChanged >= 1);
    // The pristine corpus is never touched: every tool works on a copy.
    assertEquals((await summarizeCorpus(`${work}/corpus`)).bytes, corpusBefore.bytes);
    assertEquals(report.targets.length, 5);
    assertTrue(report.targets.every((target) => target.verdict === "n/a"));
    assertTrue(formatReport(report).includes("restore verified"));
    assertTrue(formatReport(report).includes("restore, then sync"));
    // The disk was measured before and after, and the restore's floor printed.
    const disk = report.machine.syncedWriteMbPerSecond;
    assertTrue(disk !== undefined && disk.before > 0 && disk.after > 0);
    assertTrue(formatReport(report).includes("a restore that syncs its files needs at least"));
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

// A Cofre CLI that has init, backup and restore, by copying folders: enough to
// drive run.ts's Cofre path (probe, JSON summary, restore layout) end to end.
const STAND_IN_CLI = `
const args = Deno.args.filter((arg) => arg !== "--json");
const repoIndex = args.indexOf("-r");
const repo = args[repoIndex + 1];
const rest = repoIndex < 0 ? args : args.filter((_, i) => i !== repoIndex && i !== repoIndex + 1);
const copy = (from, to) => new Deno.Command("cp", { args: ["-a", from, to] }).outputSync();
switch (rest[0]) {
  case "version": console.log("cofre stand-in"); break;
  case "snapshots":
    console.log(JSON.stringify([...Deno.readDirSync(repo + "/snapshots")].map((e) => ({ id: e.name }))));
    break;
  case "init": Deno.mkdirSync(repo + "/snapshots", { recursive: true }); break;
  case "backup": {
    try { Deno.statSync(repo + "/snapshots"); } catch { console.error("no repository"); Deno.exit(10); }
    const n = [...Deno.readDirSync(repo + "/snapshots")].length;
    copy(rest[1], repo + "/snapshots/" + n);
    Deno.writeTextFileSync(repo + "/name", rest[1].split("/").pop());
    console.log(JSON.stringify({ snapshot_id: String(n) }));
    break;
  }
  case "restore": {
    try { Deno.statSync(repo + "/snapshots"); } catch { console.error("no repository"); Deno.exit(10); }
    const n = [...Deno.readDirSync(repo + "/snapshots")].length - 1;
    const name = Deno.readTextFileSync(repo + "/name");
    copy(repo + "/snapshots/" + n, rest[rest.indexOf("--target") + 1] + "/" + name);
    break;
  }
  default: console.error("error: unknown command '" + rest[0] + "'"); Deno.exit(2);
}
`;

Deno.test("run.ts drives a Cofre CLI through the contract, and skips one without backup", async () => {
  const work = await Deno.makeTempDir({ prefix: "cofre-peers-test-" });
  try {
    await buildCorpus(`${work}/corpus`, { mediaMb: 0.3, videoMb: 0.1, dbMb: 0.2, seed: "test" });
    await Deno.mkdir(`${work}/cofre/cli`, { recursive: true });
    await Deno.writeTextFile(`${work}/cofre/deno.json`, "{}\n");
    await Deno.writeTextFile(`${work}/cofre/cli/main.ts`, STAND_IN_CLI);
    const result = await benchTool("cofre", {
      corpus: `${work}/corpus`,
      work: `${work}/run`,
      cofreCli: `${work}/cofre/cli/main.ts`,
    });
    assertRecord(result);
    assertEquals(result.version, "cofre stand-in");
    assertEquals(result.steps[0]!.summary, { snapshot_id: "0" });
    assertEquals(result.snapshots, 3);
    const targets = evaluateTargets([result]);
    assertTrue(targets.every((target) => target.verdict === "n/a"), "no peer, no verdict");
    const files = (await summarizeCorpus(`${work}/corpus`)).files;
    for (const part of PART_NAMES) {
      const alone = await benchPart("cofre", part, {
        corpus: `${work}/corpus`,
        work: `${work}/run`,
        cofreCli: `${work}/cofre/cli/main.ts`,
      });
      assertEquals(alone.part, part);
      assertPart(alone, files);
    }

    // This checkout's CLI: skipped while backup is missing, otherwise a full record.
    const logged: string[] = [];
    const own = await benchTool("cofre", {
      corpus: `${work}/corpus`,
      work: `${work}/run`,
      log: (line) => logged.push(line),
    });
    if (own.status === "skipped") {
      assertEquals(own.reason, "backup not available yet");
      assertEquals(logged, ["cofre: backup not available yet, skipped"]);
    } else {
      assertRecord(own);
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("mergeRounds keeps each position's median round, and formatParts sets each part's times against restic's", () => {
  const step = (name: StepName, seconds: number, flushSeconds?: number) => ({
    step: name,
    seconds,
    bytes: 10e6,
    mbPerSecond: 10 / seconds,
    peakRssKib: 1,
    repoBytes: 1,
    ...(flushSeconds === undefined ? {} : { flushSeconds }),
  });
  const part = (tool: ToolName, backup: number, restore: number, flush: number): PartResult => ({
    part: "media",
    tool,
    status: "ok",
    settings: "",
    steps: [step("first backup", backup), step("restore", restore, flush)],
    verification: { ok: true, files: 1, mismatches: [] },
  });
  const merged = mergeRounds([
    [part("cofre", 2, 2, 0), part("restic", 4, 3, 1)],
    [part("cofre", 1, 1, 0), part("restic", 3, 2, 1)],
    [part("cofre", 3, 3, 0), part("restic", 5, 4, 1)],
  ]);
  assertEquals(merged.map((result) => `${result.part} ${result.tool}`), [
    "media cofre",
    "media restic",
  ]);
  assertEquals(merged.map((result) => result.steps.map((s) => s.seconds)), [[2, 2], [4, 3]]);
  assertEquals(merged[0]!.steps[0]!.samples, [2, 1, 3]);

  const failed: PartResult = { ...part("cofre", 1, 1, 0), part: "database", status: "failed" };
  const lines = formatParts([...merged, { ...failed, reason: "exit 1" }]);
  const row = (tool: string) =>
    lines.find((line) => line.trim().startsWith("media") && line.includes(tool))!.trim()
      .split(/\s+/);
  // restic's time over Cofre's: backup 4 / 2, restore 3 / 2, restore then sync (3 + 1) / (2 + 0).
  assertEquals(row("cofre"), [
    "media",
    "10.0",
    "cofre",
    "2.00",
    "2.00",
    "2.00",
    "2.00x",
    "1.50x",
    "2.00x",
  ]);
  assertEquals(row("restic"), [
    "media",
    "10.0",
    "restic",
    "4.00",
    "3.00",
    "4.00",
    "1.00x",
    "1.00x",
    "1.00x",
  ]);
  // A failed part keeps its place in the table, its name aligned and why in place of the figures.
  assertTrue(lines.includes("  database  cofre: failed: exit 1"), lines.join("\n"));
});
