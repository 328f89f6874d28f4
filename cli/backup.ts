// `cofre backup PATH...`: the main job.

import { Command } from "@commander-js/extra-typings";
import { type BackupProgress, excludeMatcher } from "../mod.ts";
import { advanceAfter, guardPin } from "./_pin.ts";
import {
  count,
  formatBytes,
  formatDuration,
  formatRate,
  ProgressLine,
  progressShare,
} from "./_progress.ts";
import { connectionsOption, type RepositoryOptions, withRepository } from "./_secrets.ts";
import { describeDue } from "./schedule.ts";
import { type CliContext, EXIT_OK, EXIT_PARTIAL_BACKUP, nonNegativeInteger } from "./_ui.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export function backupCommand({ io, done, testOnly }: CliContext) {
  return new Command("backup")
    .description("back up files and folders into a new snapshot (only new data is stored)")
    .argument("<paths...>", "files and folders to back up")
    .option("--tag <tag>", "label the snapshot (repeatable)", collect, [] as string[])
    .option(
      "--exclude <glob>",
      "skip matching paths (repeatable): '*.tmp' or 'cache' match names anywhere, " +
        "'media/*.tmp' a path's last names, '/abs/path' the whole path; " +
        "* within a name, ** across folders, ? and [a-z] one character",
      collect,
      [] as string[],
    )
    .option("--host <name>", "record this host name instead of the machine's")
    .option(
      "--workers <n>",
      "worker threads (default: one per core; 0: work in one thread)",
      nonNegativeInteger,
    )
    .option(
      "--if-due",
      "back up only when the schedule says so (cofre schedule); for timers that run hourly",
    )
    .option("--json", "print one JSON summary instead of text")
    .addHelpText(
      "after",
      "\nFiles unchanged since the last snapshot of the same paths on this host (same size,\n" +
        "modification time, inode and ctime) are not read again. A file that cannot be read\n" +
        "is skipped and listed: the rest is backed up and the command exits 3.\n\n" +
        "Example:\n  cofre backup -r /backups/phone ~/chat-app --exclude '*.tmp' --tag nightly",
    )
    .action(async (paths, options, command) => {
      // A pattern that cannot be used is a usage error, before the repository is opened.
      excludeMatcher(options.exclude);
      const progress = new ProgressLine(io, { enabled: !options.json });
      const started = performance.now();
      // On a terminal, size the sources alongside the backup for a percentage and an ETA.
      let total: number | null = null;
      if (io.isTerminal && !options.json) {
        sizeOf(paths, options.exclude).then((bytes) => total = bytes, () => {});
      }
      const uploads = connectionsOption(command.optsWithGlobals() as RepositoryOptions, io);
      const result = await withRepository(command, io, async (repository) => {
        // FORMAT.md §12.4: warn before adding to a repository older than this device saw it.
        const pin = await guardPin(io, repository.storage, repository.config);
        if (options.ifDue) {
          const nowMs = testOnly?.now?.() ?? Date.now();
          const status = await repository.dueStatus({ paths, host: options.host, nowMs });
          if (!status.due) return status;
        }
        const result = await repository.backup({
          paths,
          tags: options.tag,
          excludes: options.exclude,
          host: options.host,
          workers: options.workers,
          uploads,
          onProgress: (p: Readonly<BackupProgress>) =>
            progress.update(() => {
              const ms = performance.now() - started;
              const { of, eta } = progressShare(total, p.bytes, p.bytes, ms);
              return `[${formatDuration(ms)}] ${p.files} files, ${formatBytes(p.bytes)}${of}, ` +
                `${formatRate(p.bytes, ms)}${eta}, new ${formatBytes(p.newBytes)}, ` +
                `up ${formatRate(p.storedBytes, ms)}  ${p.path}`;
            }),
        });
        await advanceAfter(io, pin, repository.storage, repository.config);
        return result;
      });
      progress.done();
      if ("due" in result) {
        // --if-due and not due: nothing to do, which is success.
        if (options.json) {
          io.stdout(
            JSON.stringify({
              due: false,
              schedule: result.schedule,
              last_ms: result.lastMs,
              next_ms: result.nextMs,
            }) + "\n",
          );
        } else {
          io.stdout(describeDue(result, testOnly?.now?.() ?? Date.now()) + "\n");
        }
        done(EXIT_OK);
        return;
      }
      const { snapshot, snapshotId } = result;
      const s = snapshot.stats;
      if (options.json) {
        io.stdout(
          JSON.stringify({
            snapshot_id: snapshotId,
            files: s.files,
            dirs: s.dirs,
            bytes: s.bytes,
            new_bytes: s.newBytes,
            new_blobs: s.newBlobs,
            added_packs: result.addedPacks,
            added_bytes: result.addedBytes,
            duration_ms: s.durationMs,
            failed: snapshot.failed,
          }) + "\n",
        );
      } else {
        io.stdout(
          `Backed up ${count(s.files, "file")} in ${count(s.dirs, "folder")}, ` +
            `${formatBytes(s.bytes)} in ` +
            `${(s.durationMs / 1000).toFixed(1)} s (${formatRate(s.bytes, s.durationMs)})\n` +
            `New data: ${formatBytes(s.newBytes)} in ${count(s.newBlobs, "chunk")}, stored as ` +
            `${formatBytes(result.addedBytes)} in ${count(result.addedPacks, "pack")}\n` +
            `Snapshot ${snapshotId.slice(0, 8)} saved\n`,
        );
      }
      for (const w of snapshot.warnings ?? []) {
        io.stderr(`cofre: warning: ${w.path}: ${w.warning}\n`);
      }
      for (const f of snapshot.failed) io.stderr(`cofre: could not read ${f.path}: ${f.error}\n`);
      if (snapshot.failed.length > 0) {
        io.stderr(
          `cofre: ${snapshot.failed.length} path(s) could not be read; the snapshot has everything else\n`,
        );
      }
      done(snapshot.failed.length > 0 ? EXIT_PARTIAL_BACKUP : EXIT_OK);
    });
}

/** Bytes of regular files under `paths` (lstat only: a quick walk, for the ETA). */
async function sizeOf(paths: string[], excludes: string[]): Promise<number> {
  const excluded = excludeMatcher(excludes);
  let bytes = 0;
  async function walk(path: string): Promise<void> {
    if (excluded(path)) return;
    const info = await Deno.lstat(path).catch(() => null);
    if (!info) return;
    if (info.isFile) bytes += info.size;
    else if (info.isDirectory) {
      for await (const entry of Deno.readDir(path)) {
        await walk(`${path}/${entry.name}`).catch(() => {});
      }
    }
  }
  for (const path of paths) await walk(path).catch(() => {});
  return bytes;
}
