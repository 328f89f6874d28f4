// `cofre init`: create a repository protected by a password, a recovery key,
// or both, optionally bound to an account (phone number).

import { Command } from "@commander-js/extra-typings";
import { Repository } from "../mod.ts";
import { accountOption, newPassword, openStorage, type RepositoryOptions } from "./_secrets.ts";
import { type CliContext, EXIT_FATAL, EXIT_OK, UsageError } from "./_ui.ts";

const NO_RECOVERY_WARNING =
  "Cofre cannot recover a forgotten password. Nobody can: not the storage " +
  "provider, not the Cofre developers. Without the password (or the recovery key) and the " +
  "account, this backup can never be read again.";

export function initCommand(context: CliContext) {
  const { io, done } = context;
  return new Command("init")
    .description("create a new encrypted repository")
    .option("--recovery-key", "also create a recovery key (shown once) that opens the repository")
    .option("--json", "print one JSON object: {id, location, recovery_key}")
    .addHelpText(
      "after",
      "\nThe password comes from --password-file or COFRE_PASSWORD, or is asked twice on a\n" +
        "terminal. With --recovery-key and no password source, the repository has only a\n" +
        "recovery key. --account (or COFRE_ACCOUNT) binds it to a phone number, which is then\n" +
        "needed to open it and is stored nowhere.\n\n" +
        "Example:\n  cofre init -r /backups/phone --account '+55 11 99999-8888' --recovery-key",
    )
    .action(async (options, command) => {
      const global = command.optsWithGlobals() as RepositoryOptions & typeof options;
      const account = accountOption(global, io);
      let password: string | undefined;
      let warned = false;
      if (global.passwordFile || io.env("COFRE_PASSWORD")) {
        password = await newPassword(
          { file: global.passwordFile, env: "COFRE_PASSWORD", context: [account ?? ""] },
          io,
        );
      } else if (io.stdinIsTerminal) {
        io.stderr(`${NO_RECOVERY_WARNING}\n\n`);
        warned = true;
        password = await newPassword({ env: "COFRE_PASSWORD", context: [account ?? ""] }, io);
        if (
          !(await io.confirm(
            "I understand that a forgotten password cannot be recovered. Create the repository?",
          ))
        ) {
          io.stderr("cofre: cancelled; nothing was created\n");
          return done(EXIT_FATAL);
        }
      } else if (!options.recoveryKey) {
        throw new UsageError(
          "Cannot create the repository: no password. Set COFRE_PASSWORD, use --password-file, " +
            "add --recovery-key, or run in a terminal to be asked",
        );
      }
      // Opened only now: an rclone remote starts a helper process, which must not outlive a refusal.
      const storage = await openStorage(global, io);
      const { repository, recoveryKey } = await Repository.init(storage, {
        password,
        recoveryKey: options.recoveryKey,
        account,
        argon2id: context.testOnly?.argon2id,
      }).catch(async (error) => {
        await storage.close?.();
        throw error;
      });
      await repository.close(); // closes the storage too
      if (options.json) {
        io.stdout(
          JSON.stringify({
            id: repository.id,
            location: storage.location,
            recovery_key: recoveryKey,
          }) + "\n",
        );
        return done(EXIT_OK);
      }
      io.stdout(`Created repository ${repository.id} at ${storage.location}\n`);
      if (account) io.stdout("It is bound to an account: restoring needs the same phone number.\n");
      if (recoveryKey) {
        io.stdout(
          "\nRecovery key (shown only this once; write it down and keep it apart from this device):\n\n" +
            `    ${recoveryKey}\n\n`,
        );
      }
      if (!warned) io.stdout(`\n${NO_RECOVERY_WARNING}\n`);
      done(EXIT_OK);
    });
}
