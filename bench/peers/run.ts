// Times Cofre against restic and borg on one corpus in one run (the issue's
// comparison): for each tool a fresh repository, a first backup, an unchanged
// re-backup, a backup after changing ~1% of the files, and a verified restore,
// each with wall time, MB/s, peak RSS and repository size. README.md beside
// this file explains the method and its caveats.
//
//   npx deno run -A bench/peers/run.ts --corpus /tmp/cofre-corpus [--tools cofre,restic,borg]
//       [--json results.json] [--work DIR] [--keep] [--drop-caches] [--borg-compression zstd,3]
//       [--repeat 3] [--parts]

import { createHash } from "node:crypto";
import { parseArgs } from "node:util";
import {
  buildCorpus,
  type CorpusSummary,
  formatMb,
  formatSummary,
  listFiles,
  mutateCorpus,
  type MutationReport,
  summarizeCorpus,
} from "./make_corpus.ts";

const MB = 1_000_000;

export type ToolName = "cofre" | "restic" | "borg";
export const TOOL_NAMES: readonly ToolName[] = ["cofre", "restic", "borg"];

export type StepName =
  | "first backup"
  | "unchanged re-backup"
  | "backup after 1% change"
  | "restore";

export interface StepResult {
  step: StepName;
  seconds: number;
  /** Bytes of the corpus at this step (the restore writes the same amount). */
  bytes: number;
  /** bytes / seconds, in MB/s (MB = 10^6 bytes). */
  mbPerSecond: number;
  /** Peak resident set of the tool's process, from GNU time; null without /usr/bin/time. */
  peakRssKib: number | null;
  /** `du -sb` of the repository after the step. */
  repoBytes: number;
  /** Seconds of this step in every round, when there was more than one. */
  samples?: number[];
  /**
   * After a restore: the seconds `sync` then took to flush what the tool
   * left in the page cache. Cofre syncs each file before renaming it into
   * place; restic and borg leave that to the kernel, so their restores end
   * sooner and their data reaches the disk later.
   */
  flushSeconds?: number;
  /** What the tool printed as its JSON summary, when it prints one. */
  summary?: unknown;
}

export interface Verification {
  ok: boolean;
  files: number;
  /** Paths that are missing, extra or different (at most 20). */
  mismatches: string[];
}

export interface ToolResult {
  tool: ToolName;
  status: "ok" | "skipped" | "failed";
  version?: string;
  /** Why the tool was skipped or where it failed. */
  reason?: string;
  /** Encryption, compression and chunking as configured for this run. */
  settings: string;
  steps: StepResult[];
  verification?: Verification;
  /** How many snapshots `snapshots --json` listed after the three backups (Cofre only). */
  snapshots?: number;
  /** Client-side caches (restic's cache, borg's files and chunks caches), not in repoBytes. */
  localStateBytes?: number;
}

/** The corpus's two kinds of content, each timed alone with `--parts`. */
export type PartName = "media" | "database";
export const PART_NAMES: readonly PartName[] = ["media", "database"];
/** Where each part lies in the corpus (bench/peers/README.md, "The corpus"). */
const PART_PATHS: Record<PartName, string> = { media: "media", database: "msgstore.db" };

/**
 * One part of the corpus backed up alone into a fresh repository and
 * restored: which content a whole-corpus figure's time goes to.
 */
export interface PartResult extends ToolResult {
  part: PartName;
}

export interface TargetResult {
  target: string;
  /** Cofre's figure over the peer's, oriented so that bigger is better, except repository size. */
  ratio: number | null;
  threshold: number;
  verdict: "PASS" | "MISS" | "n/a";
}

export interface RunOptions {
  /** The pristine corpus; never modified (each tool works on a private copy). */
  corpus: string;
  tools?: readonly ToolName[];
  /** Scratch folder for copies, repositories and restores; default a new temp dir. */
  work?: string;
  keep?: boolean;
  dropCaches?: boolean;
  /** borg's -C setting; zstd,3 matches Cofre's and restic's compressor. */
  borgCompression?: string;
  /** Cofre's cli/main.ts; default the one in this checkout. */
  cofreCli?: string;
  /** Rounds of the whole sequence; the report keeps each step's median. */
  repeat?: number;
  /** Percentage of media files the mutation step changes. */
  percent?: number;
  /** Also time each part of the corpus alone (first backup and restore): `PART_NAMES`. */
  parts?: boolean;
  /**
   * MiB written to measure the disk's synced write speed before and after
   * the rounds (default: the corpus's size, as a restore writes it; a
   * smaller probe can fit a virtual disk's write cache; 0: skip).
   */
  diskProbeMib?: number;
  log?: (line: string) => void;
}

export interface RunResult {
  date: string;
  machine: {
    cores: number;
    memoryBytes: number;
    kernel: string;
    /** /proc/loadavg's 1-minute figure: other work on the machine skews timings. */
    loadBefore: string;
    loadAfter: string;
    /**
     * The work folder's disk: MB/s of writes followed by fdatasync, before
     * and after the rounds. A restore that syncs every file (Cofre's) cannot
     * beat the corpus's size at this speed; one that leaves its files to the
     * kernel (restic's, borg's) is not bound by it.
     */
    syncedWriteMbPerSecond?: { before: number; after: number };
  };
  cachePolicy: string;
  /** Rounds run; each step's figures are those of its median-time round. */
  repeat: number;
  corpus: CorpusSummary;
  mutation?: MutationReport;
  results: ToolResult[];
  targets: TargetResult[];
  /** With `parts`: per part, per tool, each step the median of the rounds. */
  parts?: PartResult[];
}

const PASSWORD = "benchmark-passphrase-7f3a9c";

interface Invocation {
  argv: string[];
  cwd?: string;
}

/** How one tool is driven: every command is a full argv, secrets come from `env`. */
interface Peer {
  name: ToolName;
  settings: string;
  env(home: string): Record<string, string>;
  /** The version, or why the tool cannot run. */
  probe(env: Record<string, string>): Promise<{ version: string } | { reason: string }>;
  init(repo: string): Invocation;
  backup(repo: string, source: string, label: string): Invocation;
  /** Restores the last backup (named `label`) into `target`. */
  restore(repo: string, target: string, label: string): Invocation;
  /** Lists snapshots as JSON; run untimed to check the CLI contract. */
  snapshots?(repo: string): Invocation;
}

export async function run(
  invocation: Invocation,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, ...args] = invocation.argv;
  try {
    const output = await new Deno.Command(command!, {
      args,
      cwd: invocation.cwd,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { code: 127, stdout: "", stderr: `${command}: not found` };
    }
    throw error;
  }
}

function repoRoot(): string {
  return new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
}

function resticPeer(): Peer {
  return {
    name: "restic",
    settings:
      "repository v2; AES-256-CTR + Poly1305-AES (always on); compression auto (zstd, default level); " +
      "CDC avg 1 MiB (512 KiB-8 MiB); uses all cores",
    env: (home) => ({ RESTIC_PASSWORD: PASSWORD, RESTIC_CACHE_DIR: `${home}/cache` }),
    async probe(env) {
      const result = await run({ argv: ["restic", "version"] }, env);
      return result.code === 0
        ? { version: result.stdout.trim() }
        : { reason: "restic is not installed (bench/peers/setup.sh installs it)" };
    },
    init: (repo) => ({ argv: ["restic", "init", "--repo", repo, "--repository-version", "2"] }),
    backup: (repo, source) => ({
      argv: ["restic", "backup", "--repo", repo, "--json", "--quiet", source],
    }),
    restore: (repo, target) => ({
      argv: ["restic", "restore", "latest", "--repo", repo, "--target", target],
    }),
  };
}

function borgPeer(compression: string): Peer {
  return {
    name: "borg",
    settings: `repokey-blake2 (AES-256-CTR + keyed BLAKE2b-256 MAC); compression ${compression}; ` +
      "CDC buzhash avg 2 MiB (default 19,23,21,4095); single-threaded",
    env: (home) => ({
      BORG_PASSPHRASE: PASSWORD,
      // Keys, caches and security state stay in the run's folder, not in ~.
      BORG_BASE_DIR: home,
      BORG_DISPLAY_PASSPHRASE: "no",
    }),
    async probe(env) {
      const result = await run({ argv: ["borg", "--version"] }, env);
      return result.code === 0
        ? { version: result.stdout.trim() }
        : { reason: "borg is not installed (bench/peers/setup.sh installs it)" };
    },
    init: (repo) => ({ argv: ["borg", "init", "--encryption=repokey-blake2", repo] }),
    backup: (repo, source, label) => ({
      argv: ["borg", "create", "--json", "--compression", compression, `${repo}::${label}`, source],
    }),
    // borg extracts into the current directory.
    restore: (repo, target, label) => ({
      argv: ["borg", "extract", `${repo}::${label}`],
      cwd: target,
    }),
  };
}

function cofrePeer(cli: string): Peer {
  const root = cli.replace(/\/cli\/main\.ts$/, "");
  // Deno itself, not `npx deno`: npx's node process would add its start-up
  // time and its own RSS to Cofre's figures. The V8 flags are the ones
  // `deno task cofre` runs with (deno.json), as users run it.
  const flags = taskV8Flags(`${root}/deno.json`);
  const cofre = (...args: string[]): Invocation => ({
    argv: [Deno.execPath(), "run", "-A", ...flags, "--config", `${root}/deno.json`, cli, ...args],
    cwd: root,
  });
  return {
    name: "cofre",
    settings: "AES-256-GCM; zstd level 3, skipped when it saves < 3%; FastCDC avg 1 MiB " +
      "(256 KiB-4 MiB); workers on all cores",
    env: (home) => ({
      COFRE_PASSWORD: PASSWORD,
      COFRE_PROBE_DIR: home,
      // The repository comes from -r only; local state (the snapshot pin) stays in the run's folder.
      COFRE_REPOSITORY: "",
      XDG_CONFIG_HOME: `${home}/config`,
      XDG_STATE_HOME: `${home}/state`,
      XDG_CACHE_HOME: `${home}/cache`,
      // Keep Deno's own cache where it is: a fresh one would compile Cofre inside a timed step.
      DENO_DIR: Deno.env.get("DENO_DIR") ??
        `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/deno`,
    }),
    async probe(env) {
      // DESIGN.md §4: an unknown command is a usage error (exit 2). The probe
      // points at a repository that does not exist, so a real backup or
      // restore fails before it touches anything; running it also warms
      // Deno's module cache, so no timed step pays for compiling.
      const missing = `${env.COFRE_PROBE_DIR}/no-repository`;
      for (const command of ["backup", "restore"]) {
        const result = await run(cofre("-r", missing, command), env);
        if (result.code === 2 && result.stderr.includes("unknown command")) {
          return { reason: `${command} not available yet` };
        }
      }
      const version = await run(cofre("version"), env);
      if (version.code !== 0) {
        return {
          reason: `Cannot run cofre version: exit ${version.code}: ${tail(version.stderr)}`,
        };
      }
      return { version: version.stdout.trim().split("\n")[0] ?? "unknown" };
    },
    init: (repo) => cofre("init", "-r", repo),
    backup: (repo, source) => cofre("backup", "-r", repo, source, "--json"),
    restore: (repo, target) => cofre("restore", "-r", repo, "latest", "--target", target),
    snapshots: (repo) => cofre("snapshots", "-r", repo, "--json"),
  };
}

/** The `--v8-flags=...` of deno.json's `cofre` task (none when it has none). */
export function taskV8Flags(config: string): string[] {
  const task = JSON.parse(Deno.readTextFileSync(config)).tasks?.cofre ?? "";
  return String(task).split(/\s+/).filter((word) => word.startsWith("--v8-flags="));
}

/** Whether GNU time is there to measure peak RSS. */
async function gnuTime(): Promise<boolean> {
  try {
    return (await Deno.stat("/usr/bin/time")).isFile;
  } catch {
    return false;
  }
}

async function timed(
  invocation: Invocation,
  env: Record<string, string>,
  rssFile: string | null,
): Promise<
  { code: number; stdout: string; stderr: string; seconds: number; peakRssKib: number | null }
> {
  const wrapped = rssFile
    ? { ...invocation, argv: ["/usr/bin/time", "-f", "%M", "-o", rssFile, ...invocation.argv] }
    : invocation;
  const start = performance.now();
  const result = await run(wrapped, env);
  const seconds = (performance.now() - start) / 1000;
  let peakRssKib: number | null = null;
  if (rssFile) {
    // GNU time writes "Command exited with non-zero status N" before the figure on failure.
    const last = (await Deno.readTextFile(rssFile)).trim().split("\n").pop() ?? "";
    peakRssKib = /^\d+$/.test(last) ? Number(last) : null;
  }
  return { ...result, seconds, peakRssKib };
}

/** `du -sb`: apparent bytes of everything under `path`. */
export async function diskUsage(path: string): Promise<number> {
  const result = await run({ argv: ["du", "-sb", path] }, {});
  if (result.code !== 0) throw new Error(`Cannot measure ${path}: ${result.stderr.trim()}`);
  return Number(result.stdout.split(/\s/)[0]);
}

const SQLITE_MAGIC = "SQLite format 3\0";

/**
 * SHA-256 of a file. In an SQLite database, the header's file change counter,
 * schema cookie and version-valid-for number (bytes 24..27, 40..43 and
 * 92..99) are left out: Cofre
 * restores a database from a consistent copy (FORMAT.md §7.4), whose every
 * page equals the source's but whose counters start again.
 */
async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  const buffer = new Uint8Array(1024 * 1024);
  let first = true;
  for (;;) {
    const read = await file.read(buffer);
    if (read === null) break;
    if (first && read >= 100 && new TextDecoder().decode(buffer.subarray(0, 16)) === SQLITE_MAGIC) {
      buffer.fill(0, 24, 28);
      buffer.fill(0, 40, 44);
      buffer.fill(0, 92, 100);
    }
    first = false;
    hash.update(buffer.subarray(0, read));
  }
  return hash.digest("hex");
}

/** Relative path → SHA-256 of every regular file under `dir`. */
export async function treeDigest(dir: string): Promise<Map<string, string>> {
  const digest = new Map<string, string>();
  for (const path of await listFiles(dir)) digest.set(path, await sha256File(`${dir}/${path}`));
  return digest;
}

/** Compares a restored tree with the source's digest: same paths, same contents. */
export async function verifyTree(
  expected: Map<string, string>,
  restored: string,
): Promise<Verification> {
  const actual = await treeDigest(restored);
  const mismatches: string[] = [];
  for (const [path, hash] of expected) {
    const other = actual.get(path);
    if (other === undefined) mismatches.push(`missing ${path}`);
    else if (other !== hash) mismatches.push(`differs ${path}`);
  }
  for (const path of actual.keys()) if (!expected.has(path)) mismatches.push(`extra ${path}`);
  return { ok: mismatches.length === 0, files: actual.size, mismatches: mismatches.slice(0, 20) };
}

/**
 * Finds where a tool put the restored source: restic and borg re-create the
 * absolute path under the target; a tool may also restore the folder by name
 * or its contents directly.
 */
async function restoredRoot(
  target: string,
  source: string,
  sample: string | undefined,
): Promise<string> {
  const candidates = [`${target}${source}`, `${target}/${source.split("/").pop()}`, target];
  for (const candidate of candidates) {
    if (sample === undefined) return candidate;
    if (await Deno.stat(`${candidate}/${sample}`).catch(() => null)) return candidate;
  }
  return candidates[0]!;
}

/** A folder at `to` holding only `part` of the corpus at `corpus`, as the corpus holds it. */
async function copyPart(corpus: string, part: PartName, to: string): Promise<void> {
  await Deno.remove(to, { recursive: true }).catch(() => {});
  await Deno.mkdir(to, { recursive: true });
  await copyTree(`${corpus}/${PART_PATHS[part]}`, `${to}/${PART_PATHS[part]}`);
}

/** Copies `from` (a folder or a file) to `to`, replacing it, mtimes kept. */
export async function copyTree(from: string, to: string): Promise<void> {
  await Deno.remove(to, { recursive: true }).catch(() => {});
  // -a keeps mtimes, so every tool starts from the same metadata too.
  const result = await run({ argv: ["cp", "-a", "--reflink=auto", from, to] }, {});
  if (result.code !== 0) throw new Error(`Cannot copy the corpus: ${result.stderr.trim()}`);
}

/**
 * MB/s of writing `mib` MiB into a new file in `dir` and syncing it
 * (`fdatasync`), as `dd conv=fdatasync` measures; the file is removed. The
 * bytes are random, repeated: a disk or file system that compresses or
 * skips zeros must not flatter the figure.
 */
export async function syncedWriteSpeed(dir: string, mib: number): Promise<number> {
  await settle(false); // the rounds' own dirty pages are not this probe's
  const block = new Uint8Array(1024 * 1024);
  // getRandomValues fills at most 64 KiB a call.
  for (let at = 0; at < block.length; at += 65536) {
    crypto.getRandomValues(block.subarray(at, at + 65536));
  }
  const path = `${dir}/.disk-probe`;
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    const start = performance.now();
    for (let i = 0; i < mib; i++) {
      for (let at = 0; at < block.length;) at += await file.write(block.subarray(at));
    }
    await file.syncData();
    return mib * 1024 * 1024 / MB / ((performance.now() - start) / 1000);
  } finally {
    file.close();
    await Deno.remove(path).catch(() => {});
  }
}

/** Flushes dirty pages, and with `drop` also empties the page cache (root only). */
export async function settle(drop: boolean): Promise<void> {
  await run({ argv: ["sync"] }, {});
  if (!drop) return;
  try {
    await Deno.writeTextFile("/proc/sys/vm/drop_caches", "3\n");
  } catch (error) {
    throw new Error(
      `Cannot drop caches: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

export function jsonSummary(stdout: string): unknown {
  // restic and Cofre print the summary as the last JSON line; borg as one object.
  const trimmed = stdout.trim();
  for (const candidate of [trimmed, trimmed.split("\n").pop() ?? ""]) {
    try {
      return JSON.parse(candidate);
    } catch {
      // Not JSON: try the next shape.
    }
  }
  return undefined;
}

function hasSnapshotId(summary: unknown): boolean {
  return typeof summary === "object" && summary !== null && "snapshot_id" in summary;
}

export function peerFor(tool: ToolName, options: RunOptions): Peer {
  switch (tool) {
    case "cofre":
      return cofrePeer(options.cofreCli ?? `${repoRoot()}/cli/main.ts`);
    case "restic":
      return resticPeer();
    case "borg":
      return borgPeer(options.borgCompression ?? "zstd,3");
  }
}

/**
 * The tool's peer, a fresh home for its state at `${work}/${tool}`, and the
 * environment it runs in.
 */
export async function preparePeer(
  tool: ToolName,
  options: RunOptions & { work: string },
): Promise<{ peer: Peer; home: string; env: Record<string, string> }> {
  const peer = peerFor(tool, options);
  const home = `${options.work}/${tool}`;
  await Deno.remove(home, { recursive: true }).catch(() => {});
  await Deno.mkdir(home, { recursive: true });
  return { peer, home, env: { ...Deno.env.toObject(), ...peer.env(home) } };
}

/** What `timeStep` needs of the tool it times. */
interface StepContext {
  tool: ToolName;
  env: Record<string, string>;
  /** The folder backed up: its size is the step's byte count. */
  source: string;
  repo: string;
  /** Where GNU time writes the peak RSS; null without GNU time. */
  rssFile: string | null;
  options: RunOptions;
}

/** Runs one timed step; its record, or why it failed. */
async function timeStep(
  { tool, env, source, repo, rssFile, options }: StepContext,
  name: StepName,
  invocation: Invocation,
): Promise<StepResult | string> {
  const log = options.log ?? (() => {});
  const bytes = (await summarizeCorpus(source)).bytes;
  await settle(options.dropCaches ?? false);
  const outcome = await timed(invocation, env, rssFile);
  if (outcome.code !== 0) {
    return `Cannot run the ${name} with ${tool}: exit ${outcome.code}: ${tail(outcome.stderr)}`;
  }
  const flushStart = performance.now();
  await settle(false);
  const flushSeconds = (performance.now() - flushStart) / 1000;
  const record: StepResult = {
    step: name,
    seconds: outcome.seconds,
    bytes,
    mbPerSecond: bytes / MB / outcome.seconds,
    peakRssKib: outcome.peakRssKib,
    repoBytes: await diskUsage(repo),
  };
  if (name === "restore") record.flushSeconds = flushSeconds;
  const summary = jsonSummary(outcome.stdout);
  if (summary !== undefined) record.summary = summary;
  if (tool === "cofre" && name !== "restore" && !hasSnapshotId(summary)) {
    log(`cofre: warning: backup --json printed no "snapshot_id" (the CLI contract wants one)`);
  }
  log(`${tool}: ${name}: ${outcome.seconds.toFixed(2)} s, ${record.mbPerSecond.toFixed(1)} MB/s`);
  return record;
}

/**
 * Runs the four steps for one tool on a private copy of the corpus at
 * `${work}/src` (the same path for every tool, so stored paths match).
 * With `part`, only that part is copied (to `${work}/part`), backed up once
 * and restored. Never throws for a tool's own failure: the result says
 * "failed" and why.
 */
export async function benchTool(
  tool: ToolName,
  options: RunOptions & { work: string; part?: PartName },
): Promise<ToolResult & { mutation?: MutationReport }> {
  const log = options.log ?? (() => {});
  const { peer, home, env } = await preparePeer(tool, options);
  const result: ToolResult & { mutation?: MutationReport } = {
    tool,
    status: "ok",
    settings: peer.settings,
    steps: [],
  };
  const probe = await peer.probe(env);
  if ("reason" in probe) {
    log(`${tool}: ${probe.reason}, skipped`);
    return { ...result, status: "skipped", reason: probe.reason };
  }
  result.version = probe.version;

  const part = options.part;
  const source = part ? `${options.work}/part` : `${options.work}/src`;
  const repo = `${home}/repo`;
  const target = `${home}/restore`;
  const rssFile = (await gnuTime()) ? `${home}/rss.txt` : null;
  const fail = (reason: string) => {
    log(`${tool}: ${reason}`);
    return { ...result, status: "failed" as const, reason };
  };

  if (part) await copyPart(options.corpus, part, source);
  else await copyTree(options.corpus, source);
  const init = await run(peer.init(repo), env);
  if (init.code !== 0) {
    return fail(`Cannot init a ${tool} repository: exit ${init.code}: ${tail(init.stderr)}`);
  }

  const context = { tool, env, source, repo, rssFile, options };
  const step = (name: StepName, invocation: Invocation) => timeStep(context, name, invocation);

  const allBackups: [StepName, string][] = [
    ["first backup", "first"],
    ["unchanged re-backup", "unchanged"],
    ["backup after 1% change", "changed"],
  ];
  const backups = part ? allBackups.slice(0, 1) : allBackups;
  for (const [name, label] of backups) {
    if (name === "backup after 1% change") {
      result.mutation = await mutateCorpus(source, { percent: options.percent });
    }
    const record = await step(name, peer.backup(repo, source, label));
    if (typeof record === "string") return fail(record);
    result.steps.push(record);
  }

  if (peer.snapshots) {
    const listed = await run(peer.snapshots(repo), env);
    const snapshots = listed.code === 0 ? jsonSummary(listed.stdout) : undefined;
    if (Array.isArray(snapshots)) result.snapshots = snapshots.length;
    else {
      log(`${tool}: warning: snapshots --json gave no JSON list (exit ${listed.code})`);
    }
  }

  const expected = await treeDigest(source);
  await Deno.mkdir(target, { recursive: true });
  const last = backups[backups.length - 1]![1];
  const restore = await step("restore", peer.restore(repo, target, last));
  if (typeof restore === "string") return fail(restore);
  result.steps.push(restore);
  const root = await restoredRoot(target, source, expected.keys().next().value);
  result.verification = await verifyTree(expected, root);
  result.localStateBytes = (await diskUsage(home)) - (await diskUsage(repo)) -
    (await diskUsage(target));
  if (!result.verification.ok) {
    log(`${tool}: restore verification FAILED: ${result.verification.mismatches.join(", ")}`);
  }
  if (!options.keep) {
    await Deno.remove(target, { recursive: true });
    await Deno.remove(repo, { recursive: true });
    if (part) await Deno.remove(source, { recursive: true });
  }
  return result;
}

/** `part` of the corpus alone, timed with `tool`: a first backup and its restore. */
export async function benchPart(
  tool: ToolName,
  part: PartName,
  options: RunOptions & { work: string },
): Promise<PartResult> {
  // A folder of its own: `--keep` keeps the whole corpus's run as well as each part's.
  const work = `${options.work}/parts/${part}`;
  const { mutation: _none, ...result } = await benchTool(tool, { ...options, work, part });
  return { part, ...result };
}

function tail(text: string): string {
  return text.trim().split("\n").slice(-3).join(" | ");
}

function stepOf(result: ToolResult | undefined, name: StepName): StepResult | undefined {
  return result?.status === "ok" ? result.steps.find((step) => step.step === name) : undefined;
}

/** The issue's targets, Cofre against each peer, with PASS, MISS or n/a. */
export function evaluateTargets(results: ToolResult[]): TargetResult[] {
  const byTool = (tool: ToolName) => results.find((result) => result.tool === tool);
  const cofre = byTool("cofre");
  const restic = byTool("restic");
  const borg = byTool("borg");
  const targets: TargetResult[] = [];
  const add = (target: string, ratio: number | null, threshold: number, atMost = false) => {
    const verdict = ratio === null
      ? "n/a"
      : (atMost ? ratio <= threshold : ratio >= threshold)
      ? "PASS"
      : "MISS";
    targets.push({ target, ratio, threshold, verdict });
  };
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? null : a / b;
  add(
    "first backup MB/s, cofre / restic >= 2.0",
    ratio(stepOf(cofre, "first backup")?.mbPerSecond, stepOf(restic, "first backup")?.mbPerSecond),
    2.0,
  );
  add(
    "first backup MB/s, cofre / borg >= 1.3",
    ratio(stepOf(cofre, "first backup")?.mbPerSecond, stepOf(borg, "first backup")?.mbPerSecond),
    1.3,
  );
  add(
    "unchanged re-backup, restic time / cofre time >= 1.0",
    ratio(
      stepOf(restic, "unchanged re-backup")?.seconds,
      stepOf(cofre, "unchanged re-backup")?.seconds,
    ),
    1.0,
  );
  add(
    "restore MB/s, cofre / restic >= 1.2",
    ratio(stepOf(cofre, "restore")?.mbPerSecond, stepOf(restic, "restore")?.mbPerSecond),
    1.2,
  );
  add(
    "repository size after 3 backups, cofre / restic <= 1.02",
    ratio(
      stepOf(cofre, "backup after 1% change")?.repoBytes,
      stepOf(restic, "backup after 1% change")?.repoBytes,
    ),
    1.02,
    true,
  );
  return targets;
}

/**
 * One result per position from several rounds (each round lists the same
 * tools, or tool and part pairs, in the same order): a result that failed
 * or was skipped in any round keeps that round's; otherwise each step is the
 * record of its median-time round (the lower middle for an even count),
 * with all times in `samples`.
 */
export function mergeRounds<T extends ToolResult>(rounds: T[][]): T[] {
  const first = rounds[0] ?? [];
  if (rounds.length <= 1) return first;
  return first.map((result, index) => {
    const all = rounds.map((round) => round[index]!);
    const bad = all.find((r) => r.status !== "ok" || (r.verification && !r.verification.ok));
    if (bad) return bad;
    const steps = result.steps.map((_step, s) => {
      const records = all.map((r) => r.steps[s]!);
      const sorted = [...records].sort((a, b) => a.seconds - b.seconds);
      const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
      return { ...median, samples: records.map((record) => record.seconds) };
    });
    return { ...result, steps };
  });
}

async function loadAverage(): Promise<string> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return text.split(" ")[0] || "unknown";
}

/** Builds the full report: every selected tool in turn, then the targets. */
export async function runComparison(options: RunOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const work = options.work ?? await Deno.makeTempDir({ prefix: "cofre-peers-" });
  await Deno.mkdir(work, { recursive: true });
  if (options.dropCaches) await settle(true);
  const corpus = await summarizeCorpus(options.corpus);
  const probeMib = options.diskProbeMib ?? Math.ceil(corpus.bytes / 2 ** 20);
  const diskBefore = probeMib > 0 ? await syncedWriteSpeed(work, probeMib) : undefined;
  const loadBefore = await loadAverage();
  const rounds: ToolResult[][] = [];
  const partRounds: PartResult[][] = [];
  let mutation: MutationReport | undefined;
  let mutatedDigest: string | undefined;
  let loadAfter = "unknown";
  let diskAfter: number | undefined;
  const repeat = Math.max(1, Math.floor(options.repeat ?? 1));
  try {
    // Rounds go tool by tool in turn, so a burst of load from elsewhere on the
    // machine falls on every tool alike rather than on whichever ran then.
    for (let round = 0; round < repeat; round++) {
      if (repeat > 1) log(`round ${round + 1} of ${repeat}`);
      const results: ToolResult[] = [];
      for (const tool of options.tools ?? TOOL_NAMES) {
        const { mutation: report, ...result } = await benchTool(tool, { ...options, work });
        results.push(result);
        if (report) {
          // Every tool must see the same states; the mutation is seeded, so
          // its report must come out the same each time.
          const digest = JSON.stringify(report);
          if (mutatedDigest !== undefined && digest !== mutatedDigest) {
            log(`warning: ${tool} saw a different mutation than the runs before it`);
          }
          mutatedDigest = digest;
          mutation = report;
        }
      }
      rounds.push(results);
      if (options.parts) {
        const parts: PartResult[] = [];
        for (const part of PART_NAMES) {
          for (const tool of options.tools ?? TOOL_NAMES) {
            parts.push(await benchPart(tool, part, { ...options, work }));
          }
        }
        partRounds.push(parts);
      }
    }
    loadAfter = await loadAverage();
    if (diskBefore !== undefined) diskAfter = await syncedWriteSpeed(work, probeMib);
  } finally {
    if (!options.keep && options.work === undefined) {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    } else if (!options.keep) {
      await Deno.remove(`${work}/src`, { recursive: true }).catch(() => {});
    }
  }
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  return {
    date: new Date().toISOString(),
    machine: {
      cores: navigator.hardwareConcurrency,
      memoryBytes: Number(/MemTotal:\s+(\d+)/.exec(meminfo)?.[1] ?? 0) * 1024,
      kernel: Deno.osRelease(),
      loadBefore,
      loadAfter,
      ...(diskBefore !== undefined && diskAfter !== undefined
        ? { syncedWriteMbPerSecond: { before: diskBefore, after: diskAfter } }
        : {}),
    },
    cachePolicy: options.dropCaches
      ? "page cache dropped before every timed step"
      : "warm page cache (the corpus was just copied; nothing dropped)",
    repeat,
    corpus,
    mutation,
    results: mergeRounds(rounds),
    targets: evaluateTargets(mergeRounds(rounds)),
    ...(options.parts ? { parts: mergeRounds(partRounds) } : {}),
  };
}

/** The report as the table and verdicts printed to stdout. */
export function formatReport(report: RunResult): string {
  const lines: string[] = [];
  lines.push(
    `${formatSummary(report.corpus)}\n` +
      `machine: ${report.machine.cores} cores, ${
        (report.machine.memoryBytes / 2 ** 30).toFixed(0)
      } GiB; load average ${report.machine.loadBefore} before, ${report.machine.loadAfter} after; ` +
      `${report.cachePolicy}` +
      (report.repeat > 1 ? `; each step: the median of ${report.repeat} rounds` : ""),
  );
  const disk = report.machine.syncedWriteMbPerSecond;
  if (disk) {
    // The best of the two: the floor no restore that syncs can go under.
    const floor = report.corpus.bytes / MB / Math.max(disk.before, disk.after);
    lines.push(
      `disk: synced writes ${disk.before.toFixed(0)} MB/s before, ${
        disk.after.toFixed(0)
      } after: a restore that syncs its files needs at least ${
        floor.toFixed(2)
      } s for the corpus (Cofre syncs; restic and borg leave their files to the kernel)`,
    );
  }
  if (report.mutation) {
    const m = report.mutation;
    lines.push(
      `mutation: ${m.mediaFilesChanged} of ${m.mediaFiles} media files changed; msgstore.db +${m.messagesInserted} messages, ${m.messagesUpdated} updated, ${m.messagesDeleted} deleted`,
    );
  }
  lines.push("");
  const header = ["tool", "step", "time s", "MB/s", "peak RSS MiB", "repo MB"];
  if (report.repeat > 1) header.push("rounds s");
  const rows: TableRow[] = [];
  for (const result of report.results) {
    if (result.status !== "ok") {
      rows.push({ lead: [result.tool], note: `${result.status}: ${result.reason ?? ""}` });
      continue;
    }
    for (const step of result.steps) {
      rows.push([
        result.tool,
        step.step,
        step.seconds.toFixed(2),
        step.mbPerSecond.toFixed(1),
        step.peakRssKib === null ? "-" : (step.peakRssKib / 1024).toFixed(0),
        (step.repoBytes / MB).toFixed(1),
        ...(report.repeat > 1 ? [(step.samples ?? []).map((t) => t.toFixed(2)).join(" ")] : []),
      ]);
    }
  }
  lines.push(...formatTable(header, rows, { left: [0, 1], rule: true }));
  lines.push("");
  for (const result of report.results) {
    if (result.status !== "ok") continue;
    const v = result.verification;
    lines.push(
      `${result.tool} ${result.version ?? ""}: restore ${
        v?.ok
          ? `verified (${v.files} files, SHA-256 equal)`
          : `MISMATCH: ${v?.mismatches.join(", ")}`
      }; local cache ${formatMb(result.localStateBytes ?? 0)}` +
        (result.snapshots === undefined ? "" : `; snapshots --json lists ${result.snapshots}`),
    );
    lines.push(`  settings: ${result.settings}`);
    const restore = stepOf(result, "restore");
    const synced = syncedSeconds(restore);
    if (synced !== undefined) {
      lines.push(
        `  restore, then sync: ${synced.toFixed(2)} s (the sync ${
          restore!.flushSeconds!.toFixed(2)
        } s)`,
      );
    }
  }
  if (report.parts) lines.push("", ...formatParts(report.parts));
  lines.push("");
  lines.push("targets (issue):");
  for (const target of report.targets) {
    lines.push(
      `  ${target.verdict.padEnd(4)}  ${target.target}: ${
        target.ratio === null ? "n/a (cofre or the peer did not run)" : target.ratio.toFixed(2)
      }`,
    );
  }
  const durable = (tool: ToolName) =>
    syncedSeconds(stepOf(report.results.find((result) => result.tool === tool), "restore"));
  const cofreDurable = durable("cofre");
  const resticDurable = durable("restic");
  if (cofreDurable !== undefined && resticDurable !== undefined) {
    lines.push(
      `  (not a target: restore, then sync, restic time / cofre time: ${
        (resticDurable / cofreDurable).toFixed(2)
      })`,
    );
  }
  return lines.join("\n");
}

/**
 * The parts table: each tool's time on each part alone, and its throughput
 * over restic's on the same part (restic's seconds / the tool's), for the
 * restore also counting the `sync` after it (`flushSeconds`).
 */
export function formatParts(parts: PartResult[]): string[] {
  const header = [
    "part",
    "MB",
    "tool",
    "backup s",
    "restore s",
    "restore+sync s",
    "backup vs restic",
    "restore vs restic",
    "restore+sync vs restic",
  ];
  type Measure = "backup" | "restore" | "restore+sync";
  const seconds = (result: PartResult | undefined, measure: Measure): number | undefined => {
    if (result?.status !== "ok" || !result.verification?.ok) return undefined;
    const step = stepOf(result, measure === "backup" ? "first backup" : "restore");
    return measure === "restore+sync" ? syncedSeconds(step) : step?.seconds;
  };
  const rows: TableRow[] = parts.map((result) => {
    if (seconds(result, "backup") === undefined || seconds(result, "restore") === undefined) {
      const why = result.status === "ok"
        ? `restore MISMATCH: ${result.verification?.mismatches.join(", ")}`
        : `${result.status}: ${result.reason ?? ""}`;
      return { lead: [result.part], note: `${result.tool}: ${why}` };
    }
    const restic = parts.find((other) => other.part === result.part && other.tool === "restic");
    const cell = (measure: Measure) => seconds(result, measure)?.toFixed(2) ?? "-";
    const versus = (measure: Measure) => {
      const mine = seconds(result, measure);
      const theirs = seconds(restic, measure);
      return mine === undefined || theirs === undefined ? "-" : `${(theirs / mine).toFixed(2)}x`;
    };
    return [
      result.part,
      (result.steps[0]!.bytes / MB).toFixed(1),
      result.tool,
      cell("backup"),
      cell("restore"),
      cell("restore+sync"),
      versus("backup"),
      versus("restore"),
      versus("restore+sync"),
    ];
  });
  return [
    "each part alone (a fresh repository: first backup, then restore):",
    ...formatTable(header, rows, { left: [0, 2] }).map((line) => `  ${line}`),
  ];
}

/** A table row: its cells, or its first cells and a note (a tool that failed) in place of the rest. */
type TableRow = string[] | { lead: string[]; note: string };

/**
 * A table's lines, each column as wide as its widest cell: the `left`
 * columns (names) padded on the right, the others (figures) on the left,
 * with a rule under the header when asked.
 */
function formatTable(
  header: string[],
  rows: TableRow[],
  options: { left: number[]; rule?: boolean },
): string[] {
  const full = rows.filter((row): row is string[] => Array.isArray(row));
  const widths = header.map((title, column) =>
    Math.max(title.length, ...full.map((row) => row[column]!.length))
  );
  const pad = (cell: string, column: number) =>
    options.left.includes(column) ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!);
  const format = (row: TableRow) =>
    Array.isArray(row)
      ? row.map(pad).join("  ")
      : [...row.lead.map((cell, column) => cell.padEnd(widths[column]!)), row.note].join("  ");
  return [
    format(header),
    ...(options.rule ? [widths.map((width) => "-".repeat(width)).join("  ")] : []),
    ...rows.map(format),
  ];
}

/** A restore's seconds with the `sync` after it, where that was timed. */
function syncedSeconds(step: StepResult | undefined): number | undefined {
  return step?.flushSeconds === undefined ? undefined : step.seconds + step.flushSeconds;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      corpus: { type: "string" },
      tools: { type: "string" },
      json: { type: "string" },
      work: { type: "string" },
      keep: { type: "boolean" },
      "drop-caches": { type: "boolean" },
      "borg-compression": { type: "string" },
      cofre: { type: "string" },
      percent: { type: "string" },
      repeat: { type: "string" },
      parts: { type: "boolean" },
      "disk-probe-mib": { type: "string" },
      "media-mb": { type: "string" },
      "video-mb": { type: "string" },
      "db-mb": { type: "string" },
    },
  });
  if (!values.corpus) {
    console.error(
      "usage: run.ts --corpus DIR [--tools cofre,restic,borg] [--json FILE] [--work DIR] [--keep]\n" +
        "              [--drop-caches] [--borg-compression zstd,3] [--cofre path/to/cli/main.ts]\n" +
        "              [--percent 1] [--repeat 1] [--parts] [--disk-probe-mib N]\n" +
        "              [--media-mb N --video-mb N --db-mb N (to build a missing corpus)]",
    );
    Deno.exit(2);
  }
  const tools = (values.tools ?? TOOL_NAMES.join(",")).split(",").map((t) => t.trim());
  for (const tool of tools) {
    if (!(TOOL_NAMES as readonly string[]).includes(tool)) {
      console.error(`Cannot run the comparison: unknown tool "${tool}" (cofre, restic, borg)`);
      Deno.exit(2);
    }
  }
  const log = (line: string) => console.error(line);
  if (!(await Deno.stat(values.corpus).catch(() => null))) {
    log(`building the corpus in ${values.corpus}`);
    const number = (v: string | undefined) => v === undefined ? undefined : Number(v);
    await buildCorpus(values.corpus, {
      mediaMb: number(values["media-mb"]),
      videoMb: number(values["video-mb"]),
      dbMb: number(values["db-mb"]),
      log,
    });
  }
  let report: RunResult;
  try {
    report = await runComparison({
      corpus: values.corpus,
      tools: tools as ToolName[],
      work: values.work,
      keep: values.keep,
      dropCaches: values["drop-caches"],
      borgCompression: values["borg-compression"],
      cofreCli: values.cofre,
      percent: values.percent === undefined ? undefined : Number(values.percent),
      repeat: values.repeat === undefined ? undefined : Number(values.repeat),
      parts: values.parts,
      diskProbeMib: values["disk-probe-mib"] === undefined
        ? undefined
        : Number(values["disk-probe-mib"]),
      log,
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
  console.log(formatReport(report));
  if (values.json) {
    await Deno.writeTextFile(values.json, JSON.stringify(report, null, 2) + "\n");
    console.log(`\nall figures: ${values.json}`);
  }
  const failed = [...report.results, ...(report.parts ?? [])].some((r) =>
    r.status === "failed" || (r.verification && !r.verification.ok)
  );
  Deno.exit(failed ? 1 : 0);
}
