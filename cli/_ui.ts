// What every command shares: where output goes, how errors become exit codes
// (DESIGN.md §4, restic's codes), and number formatting. Commands never call
// Deno.exit or console.*: they write to `io` and return a code, so tests can
// run them in process.

import { InvalidArgumentError } from "@commander-js/extra-typings";
import process from "node:process";
import {
  FormatError,
  RepositoryLockedError,
  RepositoryNotFoundError,
  UnsupportedVersionError,
  WrongKeyError,
} from "../mod.ts";

/** The CLI's window on the world; `denoIo()` is the real one. */
export interface Io {
  /** Writes to standard output (no newline is added). */
  stdout(text: string): void;
  /** Writes raw bytes to standard output (`cat blob`). */
  stdoutBytes(bytes: Uint8Array): void;
  /** Writes to standard error (no newline is added). */
  stderr(text: string): void;
  /** True when standard output is a terminal: progress and colour only then. */
  readonly isTerminal: boolean;
  /** True when standard error, where the progress line goes, is a terminal too (unknown: assumed). */
  readonly stderrIsTerminal?: boolean;
  /** The terminal's width in columns, where known. */
  columns?(): number | undefined;
  /** True once standard output's reader has gone (a closed pipe): what was written since is lost. */
  stdoutClosed?(): boolean;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** True when standard input is a terminal: prompts only then. */
  readonly stdinIsTerminal: boolean;
  /** Asks for a secret without echoing it (terminal only; the prompt goes to stderr). */
  promptSecret(message: string): Promise<string>;
  /** Asks a yes/no question (terminal only). */
  confirm(message: string): Promise<boolean>;
  /** Reads a text file (secrets from --password-file and friends). */
  readTextFile(path: string): Promise<string>;
}

/** What every command builder receives. */
export interface CliContext {
  io: Io;
  /** Records the command's exit code. */
  done: (code: number) => void;
  /** Settings only tests pass (fast Argon2id); never set by the real CLI. */
  testOnly?: {
    argon2id?: { memoryKib: number; iterations: number; parallelism: number };
    /** The clock `backup --if-due` and `schedule` read. */
    now?: () => number;
    /** Prune's grace period (FORMAT.md §14.2), shortened so tests need not wait an hour. */
    pruneGraceMs?: number;
  };
}

/** Exit codes (DESIGN.md §4). */
export const EXIT_OK = 0;
export const EXIT_FATAL = 1;
export const EXIT_USAGE = 2;
export const EXIT_PARTIAL_BACKUP = 3;
export const EXIT_NO_REPOSITORY = 10;
export const EXIT_LOCKED = 11;
export const EXIT_WRONG_KEY = 12;
/** Ctrl-C at a prompt: 128 + SIGINT, as shells and restic report it. */
export const EXIT_INTERRUPTED = 130;
/** Ended by SIGTERM: 128 + 15. */
export const EXIT_TERMINATED = 143;
/** Standard output's reader went away: 128 + SIGPIPE, as a shell reports `ls | head`'s ls. */
export const EXIT_BROKEN_PIPE = 141;

/** A usage problem found after parsing (exit 2), with what to do next. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The one place errors become exit codes and a one-line message (DESIGN.md §4). */
export function reportError(error: unknown, io: Io): number {
  const say = (text: string, code: number) => {
    io.stderr(`cofre: ${text}\n`);
    return code;
  };
  if (error instanceof WrongKeyError) {
    return say("wrong password, recovery key or account", EXIT_WRONG_KEY);
  }
  // @inquirer's prompts reject with ExitPromptError when the person presses Ctrl-C.
  if (error instanceof Error && error.name === "ExitPromptError") {
    return say("cancelled", EXIT_INTERRUPTED);
  }
  if (error instanceof RepositoryNotFoundError) return say(error.message, EXIT_NO_REPOSITORY);
  if (error instanceof RepositoryLockedError) return say(error.message, EXIT_LOCKED);
  if (error instanceof UsageError || error instanceof RangeError) {
    return say(error.message, EXIT_USAGE);
  }
  if (error instanceof UnsupportedVersionError) return say(error.message, EXIT_FATAL);
  if (error instanceof FormatError) {
    return say(`${error.message}. The repository may be damaged: run 'cofre check'.`, EXIT_FATAL);
  }
  return say(error instanceof Error ? error.message : String(error), EXIT_FATAL);
}

const encoder = new TextEncoder();

/** The process's real standard streams, environment and terminal. */
export function denoIo(): Io {
  const out = streamWriter(Deno.stdout);
  const err = streamWriter(Deno.stderr);
  // Prompts write to stderr so that stdout stays clean for --json and pipes.
  const context = { input: process.stdin, output: process.stderr, clearPromptOnDone: false };
  return {
    stdout: (text) => out.write(encoder.encode(text)),
    stdoutBytes: (bytes) => out.write(bytes),
    stderr: (text) => err.write(encoder.encode(text)),
    stdoutClosed: out.closed,
    isTerminal: Deno.stdout.isTerminal(),
    stderrIsTerminal: Deno.stderr.isTerminal(),
    columns: () => {
      try {
        return Deno.consoleSize().columns;
      } catch {
        return undefined; // not a terminal after all
      }
    },
    env: (name) => Deno.env.get(name),
    stdinIsTerminal: Deno.stdin.isTerminal(),
    async promptSecret(message) {
      const { default: password } = await import("@inquirer/password");
      return await password({ message }, context);
    },
    async confirm(message) {
      const { default: confirm } = await import("@inquirer/confirm");
      return await confirm({ message, default: false }, context);
    },
    readTextFile: (path) => Deno.readTextFile(path),
  };
}

function writeAll(stream: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) at += stream.writeSync(bytes.subarray(at));
}

/**
 * Writes to a standard stream; once its reader has gone (`cofre ls | head
 * -1`), later writes go nowhere instead of failing the command, which ends
 * as it would have (cli/main.ts reports the closed stdout).
 */
function streamWriter(stream: typeof Deno.stdout | typeof Deno.stderr) {
  let closed = false;
  return {
    write(bytes: Uint8Array): void {
      if (closed) return;
      try {
        writeAll(stream, bytes);
      } catch (error) {
        if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
        closed = true;
      }
    },
    closed: () => closed,
  };
}

/** Parses a positive integer option, for commander. */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("Expected a positive whole number.");
  }
  return n;
}

/** Parses a whole number ≥ 0, for commander. */
export function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError("Expected a whole number (0 or more).");
  }
  return n;
}

/** Right-aligns text in a column. */
export function padStart(text: string, width: number): string {
  return text.length >= width ? text : " ".repeat(width - text.length) + text;
}
