// Where the repository and its secrets come from (DESIGN.md §4): flags, then
// environment variables, then a hidden prompt on a terminal. Secrets are
// never printed, logged or passed on the command line.

import {
  type Credentials,
  estimatePasswordStrength,
  LocalStorage,
  normalizeAccount,
  normalizePassword,
  openRcloneStorage,
  openS3Storage,
  Repository,
  type Storage,
} from "../mod.ts";
import { processAwsEnvironment } from "../src/storage/_aws_config.ts";
import { type Io, UsageError } from "./_ui.ts";

/** The options every repository command shares (defined once, on the program). */
export interface RepositoryOptions {
  repo?: string;
  passwordFile?: string;
  recoveryKeyFile?: string;
  account?: string;
  connections?: number;
}

/** The location named by --repo or COFRE_REPOSITORY. */
function repositoryLocation(options: RepositoryOptions, io: Io): string {
  const location = options.repo ?? io.env("COFRE_REPOSITORY");
  if (!location) {
    throw new UsageError("Cannot find the repository: give --repo/-r or set COFRE_REPOSITORY");
  }
  return location;
}

/**
 * The storage named by --repo or COFRE_REPOSITORY: `s3:...`, `rclone:...`
 * or a folder. Close it (`storage.close?.()`) when done: rclone runs as a
 * helper process.
 */
export async function openStorage(options: RepositoryOptions, io: Io): Promise<Storage> {
  const location = repositoryLocation(options, io);
  if (location.startsWith("s3:")) {
    return await openS3Storage(location, {
      env: io.env,
      readTextFile: processAwsEnvironment().readTextFile,
    });
  }
  if (location.startsWith("rclone:")) return await openRcloneStorage(location);
  return new LocalStorage(location);
}

/** Remote storage answers slowly: keep several requests in flight there. */
const REMOTE_CONNECTIONS = 4;
/**
 * A folder: two, as restic does. Each pack is synced to disk before it is
 * named (FORMAT.md §4), 50-70 ms for 16 MiB on the peers machine's disk,
 * and with one at a time the pipeline waited for each: a first backup of
 * the peers corpus just copied onto that disk took 5.28-5.53 s with one,
 * 5.02-5.05 s with two. Memory: one more pack in flight (about 20 MiB).
 */
const LOCAL_CONNECTIONS = 2;

/**
 * Uploads and downloads in flight at once, from --connections or
 * COFRE_CONNECTIONS: by default 4 for s3: and rclone:, 2 for a folder.
 */
export function connectionsOption(options: RepositoryOptions, io: Io): number {
  if (options.connections !== undefined) return options.connections;
  const env = io.env("COFRE_CONNECTIONS");
  if (env !== undefined && env !== "") {
    const n = Number(env);
    if (!/^\d+$/.test(env.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new UsageError(`Cannot use COFRE_CONNECTIONS=${env}: expected a positive whole number`);
    }
    return n;
  }
  return /^(s3|rclone):/.test(repositoryLocation(options, io))
    ? REMOTE_CONNECTIONS
    : LOCAL_CONNECTIONS;
}

/** The account from --account or COFRE_ACCOUNT, normalised; undefined when unbound. */
export function accountOption(options: RepositoryOptions, io: Io): string | undefined {
  const account = options.account ?? io.env("COFRE_ACCOUNT");
  return account ? normalizeAccount(account) : undefined;
}

/** A secret file's content without its final line break. */
async function readSecretFile(path: string, what: string, io: Io): Promise<string> {
  let text: string;
  try {
    text = await io.readTextFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read the ${what} file ${path}: ${(error as Error).message}`);
  }
  return text.replace(/\r?\n$/, "");
}

/** The credentials that open an existing repository. */
export async function openingCredentials(options: RepositoryOptions, io: Io): Promise<Credentials> {
  const account = accountOption(options, io);
  if (options.recoveryKeyFile) {
    return {
      recoveryKey: await readSecretFile(options.recoveryKeyFile, "recovery key", io),
      account,
    };
  }
  const recoveryKey = io.env("COFRE_RECOVERY_KEY");
  if (recoveryKey) return { recoveryKey, account };
  const password = await existingPassword(options, io);
  if (password !== undefined) return { password, account };
  throw new UsageError(
    "Cannot open the repository: no password. Set COFRE_PASSWORD, use --password-file or " +
      "--recovery-key-file, or run in a terminal to be asked",
  );
}

/** The password from --password-file, COFRE_PASSWORD or a prompt; undefined when there is none. */
async function existingPassword(options: RepositoryOptions, io: Io): Promise<string | undefined> {
  if (options.passwordFile) return await readSecretFile(options.passwordFile, "password", io);
  const env = io.env("COFRE_PASSWORD");
  if (env !== undefined && env !== "") return env;
  if (io.stdinIsTerminal) return await io.promptSecret("Repository password:");
  return undefined;
}

/**
 * A new password (init, key add, key passwd): from a file or variable when
 * given, else asked twice on a terminal, with a strength warning that the
 * person must accept. Returns undefined when there is no source and no terminal.
 */
export async function newPassword(
  sources: { file?: string; env: string; context: string[] },
  io: Io,
): Promise<string | undefined> {
  let password: string | undefined;
  if (sources.file) password = await readSecretFile(sources.file, "new password", io);
  else if (io.env(sources.env)) password = io.env(sources.env);
  if (password !== undefined) {
    normalizePassword(password); // the rule first: a short password is a usage error
    const { warning } = await estimatePasswordStrength(password, sources.context);
    if (warning) io.stderr(`warning: ${warning}\n`);
    return password;
  }
  if (!io.stdinIsTerminal) return undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const first = await io.promptSecret("New password (at least 8 characters):");
    if ([...first.normalize("NFC")].length < 8) {
      io.stderr("The password needs at least 8 characters. Try again.\n");
      continue;
    }
    const second = await io.promptSecret("Repeat the new password:");
    if (first !== second) {
      io.stderr("The two passwords differ. Try again.\n");
      continue;
    }
    const { warning } = await estimatePasswordStrength(first, sources.context);
    if (warning) {
      io.stderr(`\n${warning}\n\n`);
      if (!(await io.confirm("Use this weak password anyway?"))) continue;
    }
    return first;
  }
  throw new UsageError("Cannot set the password: no acceptable password after 3 attempts");
}

/** Opens the repository the global options name, runs `body`, and always zeroes the keys. */
export async function withRepository<T>(
  command: { optsWithGlobals(): object },
  io: Io,
  body: (repository: Repository) => Promise<T>,
): Promise<T> {
  const global = command.optsWithGlobals() as RepositoryOptions;
  const credentials = await openingCredentials(global, io);
  const storage = await openStorage(global, io);
  try {
    const repository = await Repository.open(storage, credentials);
    const warned = new Set<string>();
    repository.onWarning = (message) => {
      if (warned.has(message)) return;
      warned.add(message);
      io.stderr(`cofre: warning: ${message}\n`);
    };
    try {
      return await body(repository);
    } finally {
      await repository.close();
    }
  } finally {
    await storage.close?.(); // also when opening failed (wrong password...)
  }
}
