// `cofre restore SNAPSHOT --target DIR`.

import { Command } from "@commander-js/extra-typings";
import { guardPin } from "./_pin.ts";
import {
  count,
  formatBytes,
  formatDuration,
  formatRate,
  ProgressLine,
  progressShare,
} from "./_progress.ts";
import { connectionsOption, type RepositoryOptions, withRepository } from "./_secrets.ts";
import { type CliContext, EXIT_OK, nonNegativeInteger, UsageError } from "./_ui.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

export function restoreCommand({ io, done }: CliContext) {
  return new Command("restore")
    .description("restore a snapshot, or chosen paths of it, verifying every byte")
    .argument("<snapshot>", "a snapshot id (or its first characters), or 'latest'")
    .requiredOption("--target <dir>", "the folder to restore into (created if missing)")
    .option(
      "--include <path>",
      "restore only this path of the snapshot, e.g. app/db (repeatable)",
      collect,
      [] as string[],
    )
    .option("--overwrite", "replace files that exist in the target (default: keep them)")
    .option(
      "--workers <n>",
      "worker threads (default: one per core; 0: work in one thread)",
      nonNegativeInteger,
    )
    .option("--json", "print one JSON summary")
    .addHelpText(
      "after",
      "\nPaths are relative to the snapshot's root, as 'cofre ls' shows them. Files are written\n" +
        "under a temporary name and renamed when complete; modes, times, symlinks and empty\n" +
        "folders are restored.\n\nExample:\n  cofre restore latest --target /tmp/restored --include chat-app/db",
    )
    .action(async (ref, options, command) => {
      if (options.target.trim() === "") {
        // "" would mean the current folder: too easy to get by an unset variable.
        throw new UsageError("Cannot restore: --target is empty; give the folder to restore into");
      }
      const progress = new ProgressLine(io, { enabled: !options.json });
      const started = performance.now();
      const connections = connectionsOption(command.optsWithGlobals() as RepositoryOptions, io);
      const result = await withRepository(command, io, async (repository) => {
        // FORMAT.md §12.4: a rollback or deleted snapshots are worth a warning before restoring.
        await guardPin(io, repository.storage, repository.config);
        return await repository.restore(ref, {
          target: options.target,
          include: options.include,
          overwrite: options.overwrite,
          workers: options.workers,
          connections,
          onProgress: (p) =>
            progress.update(() => {
              const ms = performance.now() - started;
              // Skipped files count as done for the share, not for the speed.
              const { of, eta } = progressShare(
                p.totalBytes,
                p.bytes + p.skippedBytes,
                p.bytes,
                ms,
              );
              return `[${formatDuration(ms)}] ${p.files} files, ${formatBytes(p.bytes)}${of}, ${
                formatRate(p.bytes, ms)
              }${eta}  ${p.path}`;
            }),
        });
      });
      progress.done();
      const ms = performance.now() - started;
      if (options.json) {
        io.stdout(
          JSON.stringify({
            files: result.files,
            dirs: result.dirs,
            bytes: result.bytes,
            skipped: result.skipped,
            duration_ms: Math.round(ms),
          }) + "\n",
        );
      } else {
        io.stdout(
          `Restored ${count(result.files, "file")} in ${count(result.dirs, "folder")}, ${
            formatBytes(result.bytes)
          } (${formatRate(result.bytes, ms)}) into ${options.target}\n`,
        );
        if (result.skipped > 0) {
          io.stdout(
            `Kept ${result.skipped} existing file(s) or folder(s) as they were; ` +
              "use --overwrite to replace them\n",
          );
        }
      }
      done(EXIT_OK);
    });
}
