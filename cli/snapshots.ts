// `cofre snapshots` and `cofre ls`.

import { Command } from "@commander-js/extra-typings";
import { count, formatBytes, formatTime } from "./_progress.ts";
import { withRepository } from "./_secrets.ts";
import { type CliContext, EXIT_OK } from "./_ui.ts";

export function snapshotsCommand({ io, done }: CliContext) {
  return new Command("snapshots")
    .description("list the snapshots, oldest first")
    .option("--json", "print a JSON array")
    .action(async (options, command) => {
      const list = await withRepository(command, io, (r) => r.snapshots());
      if (options.json) {
        io.stdout(
          JSON.stringify(list.map((s) => ({
            id: s.id,
            sequence: Number(s.sequence),
            time: new Date(s.snapshot.timeMs).toISOString(),
            host: s.snapshot.host,
            paths: s.snapshot.paths,
            tags: s.snapshot.tags,
            files: s.snapshot.stats.files,
            bytes: s.snapshot.stats.bytes,
            failed: s.snapshot.failed.length,
          }))) + "\n",
        );
        return done(EXIT_OK);
      }
      if (list.length === 0) {
        io.stdout("No snapshots yet: run 'cofre backup PATH'.\n");
        return done(EXIT_OK);
      }
      io.stdout(
        `${"id".padEnd(10)}${"time".padEnd(21)}${"host".padEnd(16)}${"size".padStart(11)}  paths\n`,
      );
      for (const s of list) {
        const tags = s.snapshot.tags.length ? `  [${s.snapshot.tags.join(", ")}]` : "";
        // A backup that could not read everything (exit 3): say so where it is listed.
        const failed = s.snapshot.failed.length;
        const partial = failed ? `  (partial: ${count(failed, "path")} unread)` : "";
        io.stdout(
          `${s.id.slice(0, 8).padEnd(10)}${formatTime(s.snapshot.timeMs).padEnd(21)}${
            s.snapshot.host.slice(0, 15).padEnd(16)
          }` +
            `${formatBytes(s.snapshot.stats.bytes).padStart(11)}  ${
              s.snapshot.paths.join(", ")
            }${tags}${partial}\n`,
        );
      }
      // FORMAT.md §12.4: on a new device, the newest snapshot is the person's check against a replayed, older chain.
      const newest = list.at(-1)!;
      io.stdout(
        `\nNewest: sequence ${newest.sequence}, ${formatTime(newest.snapshot.timeMs)}. ${
          count(list.length, "snapshot")
        }.\n`,
      );
      done(EXIT_OK);
    });
}

export function lsCommand({ io, done }: CliContext) {
  return new Command("ls")
    .description("list the files of a snapshot")
    .argument("<snapshot>", "a snapshot id (or its first characters), or 'latest'")
    .argument("[path]", "only what is under this path (relative to the snapshot's root)")
    .option("-l, --long", "show type, mode, size and time")
    .option("--json", "print one JSON object per line")
    .action(async (ref, path, options, command) => {
      await withRepository(command, io, async (r) => {
        for await (const { path: p, node } of r.list(ref, path ?? "")) {
          if (options.json) {
            io.stdout(
              JSON.stringify({
                path: p,
                type: node.type,
                mode: node.mode,
                mtime: new Date(node.mtimeMs).toISOString(),
                ...(node.type === "file" ? { size: node.size } : {}),
                ...(node.type === "symlink" ? { target: node.target } : {}),
              }) + "\n",
            );
          } else if (options.long) {
            const kind = node.type === "dir" ? "d" : node.type === "symlink" ? "l" : "-";
            const size = node.type === "file" ? String(node.size) : "";
            const link = node.type === "symlink" ? ` -> ${node.target}` : "";
            io.stdout(
              `${kind}${(node.mode & 0o777).toString(8).padStart(4, "0")} ${size.padStart(12)} ${
                formatTime(node.mtimeMs)
              } ${p}${link}\n`,
            );
          } else {
            io.stdout(`${p}${node.type === "dir" ? "/" : ""}\n`);
          }
        }
      });
      done(EXIT_OK);
    });
}
