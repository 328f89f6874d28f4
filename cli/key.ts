// `cofre key list|add|remove|passwd|recovery`: manage key slots. Changing a
// password rewrites one small slot object, never the data.

import { Command } from "@commander-js/extra-typings";
import type { Repository } from "../mod.ts";
import { formatTime } from "./_progress.ts";
import { newPassword, withRepository as withOpenRepository } from "./_secrets.ts";
import { type CliContext, EXIT_OK, UsageError } from "./_ui.ts";

export function keyCommand(context: CliContext) {
  const { io, done } = context;

  const withRepository = <T>(
    command: { optsWithGlobals(): object },
    body: (r: Repository) => Promise<T>,
  ) => withOpenRepository(command, io, body);

  async function askNewPassword(file: string | undefined, repository: Repository): Promise<string> {
    const password = await newPassword({
      file,
      env: "COFRE_NEW_PASSWORD",
      context: [repository.id],
    }, io);
    if (password === undefined) {
      throw new UsageError(
        "Cannot set a new password: none given. Set COFRE_NEW_PASSWORD, use --new-password-file, " +
          "or run in a terminal to be asked",
      );
    }
    return password;
  }

  const argon2id = context.testOnly?.argon2id;
  const key = new Command("key").description(
    "manage the passwords and the recovery key that open the repository",
  );

  key.command("list")
    .description("list the key slots (the one in use is marked with *)")
    .option("--json", "print a JSON array")
    .action(async (options, command) => {
      const slots = await withRepository(command, (r) => r.keySlots());
      if (options.json) {
        io.stdout(
          JSON.stringify(slots.map((s) => ({
            id: s.id,
            kind: s.kind,
            created: new Date(s.createdMs).toISOString(),
            current: s.current,
            argon2id: s.argon2id &&
              {
                memory_kib: s.argon2id.memoryKib,
                iterations: s.argon2id.iterations,
                parallelism: s.argon2id.parallelism,
              },
          }))) + "\n",
        );
        return done(EXIT_OK);
      }
      io.stdout(`${"  id".padEnd(12)}${"kind".padEnd(10)}${"created".padEnd(22)}key derivation\n`);
      for (const s of slots) {
        const kdf = s.argon2id
          ? `Argon2id ${
            s.argon2id.memoryKib / 1024
          } MiB, t=${s.argon2id.iterations}, p=${s.argon2id.parallelism}`
          : "HKDF (256-bit key)";
        const created = formatTime(s.createdMs);
        io.stdout(
          `${s.current ? "* " : "  "}${s.id.slice(0, 8).padEnd(10)}${s.kind.padEnd(10)}${
            created.padEnd(22)
          }${kdf}\n`,
        );
      }
      done(EXIT_OK);
    });

  /** `key add` and `key passwd`: ask for a new password, apply it, report the new slot. */
  function newPasswordCommand(
    name: string,
    description: string,
    apply: (
      r: Repository,
      password: string,
      options: { argon2id?: typeof argon2id },
    ) => Promise<string>,
    reportDone: (id: string) => string,
  ) {
    key.command(name)
      .description(description)
      .option(
        "--new-password-file <file>",
        "read the new password from a file (else COFRE_NEW_PASSWORD or a prompt)",
      )
      .option("--json", "print {id}")
      .action(async (options, command) => {
        const id = await withRepository(
          command,
          async (r) => apply(r, await askNewPassword(options.newPasswordFile, r), { argon2id }),
        );
        io.stdout(options.json ? JSON.stringify({ id }) + "\n" : reportDone(id.slice(0, 8)) + "\n");
        done(EXIT_OK);
      });
  }

  newPasswordCommand(
    "add",
    "add a password (the existing ones keep working)",
    (r, password, options) => r.addPassword(password, options),
    (id) => `Added password slot ${id}`,
  );

  key.command("remove")
    .description("remove a key slot (not the last one, nor the one in use)")
    .argument("<id>", "the slot id, or its first 4+ characters (see 'key list')")
    .action(async (id, _options, command) => {
      await withRepository(command, (r) => r.removeKeySlot(id));
      io.stdout(`Removed key slot ${id}\n`);
      done(EXIT_OK);
    });

  newPasswordCommand(
    "passwd",
    "change the password you opened the repository with (no data is rewritten)",
    (r, password, options) => r.changePassword(password, options),
    (id) => `Changed the password (new slot ${id})`,
  );

  key.command("recovery")
    .description("create the recovery key, or replace it (the old one stops working)")
    .option("--json", "print {recovery_key}")
    .action(async (options, command) => {
      const recoveryKey = await withRepository(command, (r) => r.setRecoveryKey());
      if (options.json) {
        io.stdout(JSON.stringify({ recovery_key: recoveryKey }) + "\n");
      } else {
        io.stdout(
          "New recovery key (shown only this once; any previous recovery key no longer works):\n\n" +
            `    ${recoveryKey}\n\n`,
        );
      }
      done(EXIT_OK);
    });
  return key;
}
