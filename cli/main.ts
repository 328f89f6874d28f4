// The `cofre` command line: `deno task cofre <command>` or
// `deno run -A cli/main.ts <command>`. DESIGN.md §4 is the contract.

import { Command, CommanderError } from "@commander-js/extra-typings";
import { removePendingWritesSync, VERSION } from "../mod.ts";
import {
  type CliContext,
  denoIo,
  EXIT_BROKEN_PIPE,
  EXIT_INTERRUPTED,
  EXIT_OK,
  EXIT_TERMINATED,
  EXIT_USAGE,
  type Io,
  positiveInteger,
  reportError,
} from "./_ui.ts";
import { backupCommand } from "./backup.ts";
import { benchCommand } from "./bench.ts";
import { forgetCommand } from "./forget.ts";
import { checkCommand } from "./check.ts";
import { initCommand } from "./init.ts";
import { catCommand, diffCommand, statsCommand } from "./inspect.ts";
import { keyCommand } from "./key.ts";
import { pruneCommand, unlockCommand } from "./prune.ts";
import { restoreCommand } from "./restore.ts";
import { scheduleCommand } from "./schedule.ts";
import { lsCommand, snapshotsCommand } from "./snapshots.ts";
import { versionCommand } from "./version.ts";

/**
 * Runs the CLI with `args` (without the program name) and returns the exit
 * code; it never exits the process itself.
 */
export async function main(
  args: string[],
  io: Io,
  testOnly?: CliContext["testOnly"],
): Promise<number> {
  let code = EXIT_OK;
  const context: CliContext = { io, done: (c) => code = c, testOnly };
  const program = new Command("cofre")
    .description(
      "End-to-end encrypted, deduplicated backups: the storage sees only ciphertext,\n" +
        "and only your password or recovery key opens it.",
    )
    .version(VERSION, "-V, --version", "print the version")
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .option(
      "-r, --repo <location>",
      "the repository: a folder, s3:https://host/bucket[/prefix], s3:bucket[/prefix] or " +
        "rclone:remote:path (or set COFRE_REPOSITORY)",
    )
    .option("--password-file <file>", "read the password from a file (or set COFRE_PASSWORD)")
    .option(
      "--recovery-key-file <file>",
      "open with the recovery key in a file (or set COFRE_RECOVERY_KEY)",
    )
    .option(
      "--account <phone>",
      "the phone number the repository is bound to (or set COFRE_ACCOUNT)",
    )
    .option(
      "--connections <n>",
      "uploads/downloads at once (or set COFRE_CONNECTIONS; default 4 for s3:/rclone:, 2 for a folder)",
      positiveInteger,
    )
    .addCommand(initCommand(context))
    .addCommand(backupCommand(context))
    .addCommand(snapshotsCommand(context))
    .addCommand(lsCommand(context))
    .addCommand(restoreCommand(context))
    .addCommand(diffCommand(context))
    .addCommand(statsCommand(context))
    .addCommand(checkCommand(context))
    .addCommand(catCommand(context))
    .addCommand(forgetCommand(context))
    .addCommand(pruneCommand(context))
    .addCommand(unlockCommand(context))
    .addCommand(keyCommand(context))
    .addCommand(scheduleCommand(context))
    .addCommand(benchCommand(context))
    .addCommand(versionCommand(context))
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 error, 2 usage, 3 partial backup, 10 no repository,\n" +
        "11 locked, 12 wrong password, recovery key or account.\n\n" +
        "Environment: COFRE_REPOSITORY, COFRE_PASSWORD, COFRE_RECOVERY_KEY, COFRE_ACCOUNT, and\n" +
        "COFRE_STATE_DIR: where this device pins the newest snapshot it saw of each repository\n" +
        "(default $XDG_STATE_HOME/cofre or ~/.local/state/cofre), to detect rollbacks.",
    );
  const configure = (command: typeof program.commands[number]) => {
    command.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
      .showHelpAfterError("(add --help for usage)");
    command.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  try {
    if (args.length === 0) {
      program.outputHelp();
      return EXIT_USAGE;
    }
    await program.parseAsync(args, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version requests end parsing with exit code 0; the rest are usage errors.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    return reportError(error, io);
  }
}

/**
 * Ctrl-C (or a SIGTERM) ends the run at once, as before, but first removes
 * the temporary files of a backup or restore in progress: what was written
 * whole stays, nothing half-written does. A backup's packs without an index
 * are left for `prune`, as after any interrupted backup (FORMAT.md §14.3).
 */
function exitOnSignals(io: Io): void {
  const signals: [Deno.Signal, number][] = [
    ["SIGINT", EXIT_INTERRUPTED],
    ["SIGTERM", EXIT_TERMINATED],
  ];
  for (const [signal, code] of signals) {
    try {
      Deno.addSignalListener(signal, () => {
        removePendingWritesSync();
        io.stderr("\ncofre: cancelled\n");
        Deno.exit(code);
      });
    } catch {
      // Not a signal this platform delivers (SIGTERM on Windows).
    }
  }
}

if (import.meta.main) {
  const io = denoIo();
  exitOnSignals(io);
  const code = await main(Deno.args, io);
  // A run that did all it should but could not print it all does not say 0; a failure keeps its code.
  Deno.exit(code === EXIT_OK && io.stdoutClosed?.() ? EXIT_BROKEN_PIPE : code);
}
