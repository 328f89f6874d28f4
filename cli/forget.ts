// `cofre forget`: replace snapshots by tombstones, by retention policy (restic's rules,
// src/forget.ts) or by id; `--prune` then frees their data.

import { Command } from "@commander-js/extra-typings";
import {
  applyPolicy,
  type GroupField,
  isEmptyPolicy,
  type RetentionCandidate,
  type RetentionGroup,
  type RetentionPolicy,
} from "../mod.ts";
import { formatTime } from "./_progress.ts";
import { withRepository } from "./_secrets.ts";
import { type CliContext, EXIT_OK, nonNegativeInteger, UsageError } from "./_ui.ts";
import { printPruneResult, pruneJson } from "./prune.ts";

const collect = (value: string, previous: string[]) => [...previous, value];

function groupBy(value: string): GroupField[] {
  const fields = value.split(",").map((f) => f.trim()).filter((f) => f !== "");
  for (const field of fields) {
    if (field !== "host" && field !== "paths" && field !== "tags") {
      throw new UsageError(
        `Cannot group by "${field}": use host, paths, tags, a comma list, or "" for one group`,
      );
    }
  }
  return fields as GroupField[];
}

export function forgetCommand({ io, done, testOnly }: CliContext) {
  return new Command("forget")
    .description("forget snapshots by retention policy or by id (their data stays until prune)")
    .argument("[snapshot...]", "snapshot ids (or their first characters) to forget")
    .option("--keep-last <n>", "keep the newest n snapshots", nonNegativeInteger)
    .option(
      "--keep-hourly <n>",
      "keep the newest snapshot of each of the last n hours",
      nonNegativeInteger,
    )
    .option(
      "--keep-daily <n>",
      "keep the newest snapshot of each of the last n days",
      nonNegativeInteger,
    )
    .option("--keep-weekly <n>", "... of each of the last n ISO weeks", nonNegativeInteger)
    .option("--keep-monthly <n>", "... of each of the last n months", nonNegativeInteger)
    .option("--keep-yearly <n>", "... of each of the last n years", nonNegativeInteger)
    .option(
      "--keep-tag <tags>",
      "keep snapshots with these tags (a,b: both; repeatable)",
      collect,
      [] as string[],
    )
    .option("--group-by <fields>", "apply the policy per group of host, paths, tags", "host,paths")
    .option("--unsafe-allow-remove-all", "allow a policy that keeps no snapshot of a group")
    .option("--prune", "then run prune (see 'cofre prune --help')")
    .option("--max-unused <percent>", "with --prune: repack packs with more unused bytes", "10%")
    .option("-n, --dry-run", "show what would be forgotten; change nothing")
    .option("--json", "print JSON")
    .addHelpText(
      "after",
      "\nrestic's rules: per group (default: host and paths), each --keep-* rule keeps the newest\n" +
        "snapshot of each of its last n periods that have snapshots; a snapshot kept by any rule\n" +
        "stays. Periods are read in local time (set TZ to choose the zone).\n\n" +
        "Examples:\n  cofre forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --prune\n" +
        "  cofre forget 3f2a9c1b",
    )
    .action(async (ids, options, command) => {
      const policy: RetentionPolicy = {
        last: options.keepLast,
        hourly: options.keepHourly,
        daily: options.keepDaily,
        weekly: options.keepWeekly,
        monthly: options.keepMonthly,
        yearly: options.keepYearly,
        tags: options.keepTag.map((t) => t.split(",").filter((x) => x !== "")),
      };
      const byPolicy = !isEmptyPolicy(policy);
      if (byPolicy && ids.length > 0) {
        throw new UsageError("Cannot forget: give snapshot ids or a --keep-* policy, not both");
      }
      if (!byPolicy && ids.length === 0) {
        throw new UsageError(
          "Cannot forget: no policy given; add --keep-* options or name the snapshots to forget",
        );
      }
      const fields = groupBy(options.groupBy);
      const maxUnused = parsePercent(options.maxUnused);
      await withRepository(command, io, async (repository) => {
        const snapshots = await repository.snapshots();
        const candidates = snapshots.map((s) => ({
          id: s.id,
          timeMs: s.snapshot.timeMs,
          host: s.snapshot.host,
          paths: s.snapshot.paths,
          tags: s.snapshot.tags,
        }));
        let groups: RetentionGroup<RetentionCandidate>[];
        if (byPolicy) {
          groups = applyPolicy(candidates, policy, { groupBy: fields });
          const emptied = groups.filter((g) => g.decisions.every((d) => !d.keep));
          if (emptied.length > 0 && !options.unsafeAllowRemoveAll) {
            throw new UsageError(
              "Cannot forget: the policy keeps no snapshot of " +
                `${emptied.length} group(s) (e.g. host ${emptied[0]!.host ?? "*"}); ` +
                "check the policy, or add --unsafe-allow-remove-all",
            );
          }
        } else {
          const chosen = new Set((await Promise.all(ids.map((id) => repository.snapshot(id))))
            .map((s) => s.id));
          groups = [{
            decisions: candidates.filter((c) => chosen.has(c.id)).reverse()
              .map((snapshot) => ({ snapshot, keep: false, reasons: [] })),
          }];
        }
        const remove = groups.flatMap((g) => g.decisions.filter((d) => !d.keep))
          .map((d) => d.snapshot.id);
        if (!options.dryRun && remove.length > 0) await repository.forget(remove);
        const pruned = options.prune && !options.dryRun
          ? await repository.prune({ maxUnused, graceMs: testOnly?.pruneGraceMs })
          : null;
        if (options.json) {
          io.stdout(
            JSON.stringify({
              dry_run: !!options.dryRun,
              groups: groups.map((g) => ({
                host: g.host ?? null,
                paths: g.paths ?? null,
                tags: g.tags ?? null,
                keep: g.decisions.filter((d) => d.keep).map((d) => ({
                  id: d.snapshot.id,
                  time: new Date(d.snapshot.timeMs).toISOString(),
                  reasons: d.reasons,
                })),
                remove: g.decisions.filter((d) => !d.keep).map((d) => ({
                  id: d.snapshot.id,
                  time: new Date(d.snapshot.timeMs).toISOString(),
                })),
              })),
              prune: pruned ? pruneJson(pruned) : null,
            }) + "\n",
          );
          return;
        }
        for (const group of groups) {
          const what = [
            group.host !== undefined ? `host ${group.host}` : "",
            group.paths !== undefined ? `paths ${group.paths.join(", ")}` : "",
            group.tags !== undefined ? `tags [${group.tags.join(", ")}]` : "",
          ].filter((x) => x).join(", ");
          if (what) io.stdout(`Snapshots of ${what}:\n`);
          io.stdout(`${"id".padEnd(10)}${"time".padEnd(21)}${"action".padEnd(8)}reasons\n`);
          for (const d of group.decisions) {
            const reasons = d.reasons.map((r) => r === "tag" ? "tag" : `${r} snapshot`).join(", ");
            io.stdout(
              `${d.snapshot.id.slice(0, 8).padEnd(10)}${formatTime(d.snapshot.timeMs).padEnd(21)}${
                (d.keep ? "keep" : "remove").padEnd(8)
              }${reasons}\n`,
            );
          }
          io.stdout("\n");
        }
        const verb = options.dryRun ? "Would forget" : "Forgot";
        io.stdout(
          `${verb} ${remove.length} snapshot(s), kept ${snapshots.length - remove.length}.\n`,
        );
        if (pruned) printPruneResult(io, pruned);
      });
      done(EXIT_OK);
    });
}

/** "10%", "10" or "0.5%" → a fraction. */
export function parsePercent(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(value);
  const n = match ? Number(match[1]) : NaN;
  if (!(n >= 0 && n <= 100)) {
    throw new UsageError(`Cannot use max unused "${value}": expected a percentage, 0% to 100%`);
  }
  return n / 100;
}
