// `cofre prune` and `cofre unlock` (FORMAT.md §14).

import { Command } from "@commander-js/extra-typings";
import { describeLock, type PruneResult } from "../mod.ts";
import { formatBytes } from "./_progress.ts";
import { withRepository } from "./_secrets.ts";
import { type CliContext, EXIT_OK, type Io } from "./_ui.ts";
import { parsePercent } from "./forget.ts";

export function pruneCommand({ io, done, testOnly }: CliContext) {
  return new Command("prune")
    .description("remove data no snapshot needs, and repack sparse packs")
    .option("--max-unused <percent>", "repack packs with more unused bytes than this", "10%")
    .option("-n, --dry-run", "show what would be done; change nothing")
    .option("--json", "print one JSON summary")
    .addHelpText(
      "after",
      "\nDeletion is two-phase, so that backups running meanwhile (they take no lock) lose\n" +
        "nothing: a prune plans what to delete, and a prune run more than an hour later deletes\n" +
        "it, unless a new snapshot still needs it. Run prune regularly (after forget) and the\n" +
        "space is freed one run later.\n\nExample:\n  cofre forget --keep-daily 7 --keep-weekly 4 && cofre prune",
    )
    .action(async (options, command) => {
      const maxUnused = parsePercent(options.maxUnused);
      const result = await withRepository(
        command,
        io,
        (repository) =>
          repository.prune({
            maxUnused,
            dryRun: !!options.dryRun,
            graceMs: testOnly?.pruneGraceMs,
          }),
      );
      if (options.json) io.stdout(JSON.stringify(pruneJson(result)) + "\n");
      else printPruneResult(io, result);
      done(EXIT_OK);
    });
}

export function unlockCommand({ io, done }: CliContext) {
  return new Command("unlock")
    .description("remove stale locks (left by a prune that was killed)")
    .option("--remove-all", "remove every lock, also live ones: only when no prune is running")
    .action(async (options, command) => {
      const result = await withRepository(
        command,
        io,
        (repository) => repository.unlock({ all: !!options.removeAll }),
      );
      const now = Date.now();
      for (const lock of result.removed) io.stdout(`Removed lock of ${describeLock(lock, now)}\n`);
      for (const name of result.foreign) io.stdout(`Removed unreadable lock ${name}\n`);
      for (const lock of result.live) {
        io.stdout(
          `Kept the live lock of ${describeLock(lock, now)}; --remove-all removes it too\n`,
        );
      }
      if (result.removed.length + result.foreign.length + result.live.length === 0) {
        io.stdout("No locks.\n");
      }
      done(EXIT_OK);
    });
}

export function pruneJson(r: PruneResult) {
  return {
    dry_run: r.dryRun,
    plans_carried_out: r.plansCarriedOut,
    deleted_packs: r.deletedPacks,
    deleted_bytes: r.deletedBytes,
    deleted_index_files: r.deletedIndexFiles,
    rescued_packs: r.rescuedPacks,
    replaced_snapshots: r.replacedSnapshots,
    unused_packs: r.unusedPacks,
    repacked_packs: r.repackedPacks,
    new_packs: r.newPacks,
    new_bytes: r.newBytes,
    planned_bytes: r.plannedBytes,
    pending_plans: r.pendingPlans,
    young_packs: r.youngPacks,
    stale_locks: r.staleLocks.map((l) => ({ host: l.host, pid: l.pid, time_ms: l.timeMs })),
    reindexed_packs: r.reindexedPacks,
    stale_temporaries: r.staleTemporaries.files,
    stale_temporary_bytes: r.staleTemporaries.bytes,
  };
}

export function printPruneResult(io: Io, r: PruneResult): void {
  const would = r.dryRun ? "would be " : "";
  for (const lock of r.staleLocks) {
    io.stdout(`Ignored a stale lock of ${describeLock(lock)} ('cofre unlock' removes it)\n`);
  }
  if (r.reindexedPacks > 0) {
    io.stdout(
      `${r.reindexedPacks} pack(s) that no index file named, and a snapshot needs, ` +
        `${r.dryRun ? "would be " : ""}indexed again\n`,
    );
  }
  if (r.staleTemporaries.files > 0) {
    io.stdout(
      `Removed ${r.staleTemporaries.files} temporary file(s) of interrupted writes, ` +
        `${formatBytes(r.staleTemporaries.bytes)}\n`,
    );
  }
  if (r.plansCarriedOut > 0) {
    io.stdout(
      `Deletion plans carried out: ${r.plansCarriedOut}; ${r.deletedPacks} pack(s) ${would}deleted, ` +
        `${formatBytes(r.deletedBytes)} ${r.dryRun ? "would be " : ""}freed` +
        (r.rescuedPacks ? `; ${r.rescuedPacks} pack(s) kept: a newer snapshot needs them` : "") +
        (r.replacedSnapshots ? `; ${r.replacedSnapshots} snapshot envelope(s) rewritten` : "") +
        "\n",
    );
  }
  if (r.unusedPacks + r.repackedPacks > 0) {
    io.stdout(
      `Planned for deletion: ${r.unusedPacks} unused pack(s) and ${r.repackedPacks} sparse ` +
        `pack(s)${r.dryRun ? "" : ` (repacked into ${r.newPacks}, ${formatBytes(r.newBytes)})`}` +
        `, ${formatBytes(r.plannedBytes)}; a prune an hour from now frees them\n`,
    );
  } else {
    io.stdout("Nothing new to remove.\n");
  }
  if (r.youngPacks > 0) {
    io.stdout(
      `Left ${r.youngPacks} pack(s) younger than an hour alone (a backup may still need them)\n`,
    );
  }
  if (r.pendingPlans > 0) {
    io.stdout(`${r.pendingPlans} earlier plan(s) still waiting for their hour\n`);
  }
}
