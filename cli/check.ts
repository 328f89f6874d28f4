// `cofre check`: verify the repository and report damage (exit 1) by object,
// snapshot and file.

import { Command, InvalidArgumentError } from "@commander-js/extra-typings";
import {
  type CheckOptions,
  type CheckReport,
  checkRepository,
  FormatError,
  parseSubset,
  type ReadDataSubset,
  Repository,
} from "../mod.ts";
import { advancePinned, comparePinned, type PinCheck } from "./_pin.ts";
import { formatBytes, formatDuration, formatRate, formatTime, ProgressLine } from "./_progress.ts";
import { openingCredentials, openStorage, type RepositoryOptions } from "./_secrets.ts";
import { type CliContext, EXIT_FATAL, EXIT_OK } from "./_ui.ts";

/** Lines of affected files shown per snapshot in text output (--json lists all). */
const FILES_SHOWN = 20;

function subsetOption(value: string): ReadDataSubset {
  try {
    return parseSubset(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function checkCommand({ io, done }: CliContext) {
  return new Command("check")
    .description(
      "verify the repository: structure, signatures, snapshot chain and, optionally, data",
    )
    .option("--read-data", "also download every pack and verify every blob in it")
    .option(
      "--read-data-subset <n/m|p%>",
      "read only slice n of m of the packs (by pack id), or a random p% of them",
      subsetOption,
    )
    .option(
      "--public",
      "check without the password: signatures, chain, and that every pack a snapshot needs exists",
    )
    .option("--json", "print one JSON report")
    .addHelpText(
      "after",
      "\nWithout the password (--public), Cofre checks the config's and every snapshot's\n" +
        "signature, the snapshot chain, and that the packs each snapshot committed to exist with\n" +
        "their size (with --read-data, also their SHA-256). With it, it also opens every snapshot,\n" +
        "index file, pack header and tree. Slices n/m are fixed (runs 1/m..m/m read every pack once);\n" +
        "p% is a new random sample each run. Exit 1 when anything is damaged, or when the repository\n" +
        "is older than this device last saw it (a rollback; the pin lives in COFRE_STATE_DIR).\n\n" +
        "Example:\n  cofre check -r /backups/phone --read-data-subset 3/7",
    )
    .action(async (options, command) => {
      const global = command.optsWithGlobals() as RepositoryOptions;
      const storage = await openStorage(global, io);
      try {
        const progress = new ProgressLine(io, { enabled: !options.json });
        const started = performance.now();
        const checkOptions: CheckOptions = {
          readData: options.readData === true || options.readDataSubset !== undefined,
          subset: options.readDataSubset,
          onProgress: (p) =>
            progress.update(() => {
              const ms = performance.now() - started;
              return `[${formatDuration(ms)}] ${p.packsRead}/${p.packsToRead} packs, ${
                formatBytes(p.bytesRead)
              } of ${formatBytes(p.bytesToRead)}, ${formatRate(p.bytesRead, ms)}`;
            }),
        };
        let report: CheckReport;
        if (options.public) {
          report = await checkRepository(storage, checkOptions);
        } else {
          const credentials = await openingCredentials(global, io);
          let repository: Repository | null = null;
          let openProblem = "";
          try {
            repository = await Repository.open(storage, credentials);
          } catch (error) {
            if (!(error instanceof FormatError)) throw error;
            openProblem = error.message;
          }
          if (repository) {
            try {
              report = await repository.check(checkOptions);
            } finally {
              await repository.close();
            }
          } else {
            // A damaged config or key slot: say so, and check what needs no password.
            report = await checkRepository(storage, checkOptions);
            report.damage.unshift({ object: "repository", message: openProblem });
          }
        }
        progress.done();
        let pin: PinCheck | null = null;
        if (report.chain && report.repositoryId && report.publicKey) {
          // Gaps are already damage lines; the pin adds what only this device can know.
          pin = await comparePinned(io, report.repositoryId, report.publicKey, report.chain, {
            gaps: false,
          });
        }
        const rollback = pin?.warnings ?? [];
        const ok = report.damage.length === 0 && rollback.length === 0;
        if (options.json) io.stdout(JSON.stringify(toJson(report, rollback, ok)) + "\n");
        else printReport(io, report, rollback, ok);
        if (ok && pin && report.chain) {
          await advancePinned(io, pin, {
            repositoryId: report.repositoryId!,
            publicKey: report.publicKey!,
            chain: report.chain,
          });
        }
        done(ok ? EXIT_OK : EXIT_FATAL);
      } finally {
        await storage.close?.(); // also when opening failed (a wrong password...)
      }
    });
}

function toJson(report: CheckReport, rollback: string[], ok: boolean) {
  const c = report.counts;
  return {
    ok,
    repository_id: report.repositoryId,
    public: report.public,
    counts: {
      key_slots: c.keySlots,
      snapshots: c.snapshots,
      tombstones: c.tombstones,
      index_files: c.indexFiles,
      packs: c.packs,
      blobs: c.blobs,
      trees: c.trees,
      packs_read: c.packsRead,
      bytes_read: c.bytesRead,
    },
    head: report.chain?.head
      ? { sequence: Number(report.chain.head.sequence), id: report.chain.head.id }
      : null,
    damage: report.damage,
    rollback,
    warnings: report.warnings,
    notes: report.notes,
    affected_snapshots: report.affectedSnapshots.map((s) => ({
      id: s.id,
      sequence: s.sequence < 0n ? null : Number(s.sequence),
      time: s.timeMs ? new Date(s.timeMs).toISOString() : null,
    })),
    affected_files: report.affectedFiles,
  };
}

function printReport(
  io: CliContext["io"],
  report: CheckReport,
  rollback: string[],
  ok: boolean,
): void {
  const c = report.counts;
  const read = c.packsRead > 0 ? `; read ${c.packsRead} pack(s), ${formatBytes(c.bytesRead)}` : "";
  const structure = report.public
    ? `${c.keySlots} key slot(s), ${c.snapshots} snapshot(s)`
    : `${c.keySlots} key slot(s), ${c.snapshots} snapshot(s), ${c.indexFiles} index file(s), ` +
      `${c.packs} pack(s), ${c.blobs} blob(s), ${c.trees} tree(s)`;
  io.stdout(
    `Checked repository ${report.repositoryId?.slice(0, 8) ?? "(unreadable config)"}${
      report.public ? " without the password" : ""
    }: ${structure}${read}\n`,
  );
  if (c.tombstones > 0) io.stdout(`${c.tombstones} forgotten snapshot(s) (tombstones)\n`);
  for (const n of report.notes) io.stdout(`note: ${n.message}\n`);
  for (const w of report.warnings) io.stdout(`warning: ${w.object}: ${w.message}\n`);
  for (const d of report.damage) io.stdout(`damage: ${d.object}: ${d.message}\n`);
  for (const r of rollback) io.stdout(`damage: ${r}\n`);
  if (report.affectedSnapshots.length > 0) {
    io.stdout("Affected snapshots:\n");
    for (const s of report.affectedSnapshots) {
      const when = s.timeMs ? formatTime(s.timeMs) : "time unknown";
      const seq = s.sequence >= 0n ? `, sequence ${s.sequence}` : "";
      io.stdout(`  ${s.id.slice(0, 8)}  ${when}${seq}\n`);
    }
  }
  if (report.affectedFiles.length > 0) {
    io.stdout("Affected files:\n");
    const bySnapshot = Map.groupBy(report.affectedFiles, (f) => f.snapshot);
    for (const [snapshot, files] of bySnapshot) {
      for (const f of files.slice(0, FILES_SHOWN)) {
        io.stdout(`  ${snapshot.slice(0, 8)}  ${f.path}\n`);
      }
      if (files.length > FILES_SHOWN) {
        io.stdout(
          `  ${snapshot.slice(0, 8)}  ... and ${
            files.length - FILES_SHOWN
          } more (--json lists all)\n`,
        );
      }
    }
  }
  const problems = report.damage.length + rollback.length;
  io.stdout(
    ok ? "No damage found.\n" : `Found ${problems} problem(s): the repository is damaged.\n`,
  );
}
