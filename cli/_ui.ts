// What every command shares: where output goes, how errors become exit codes
// (DESIGN.md §4, restic's codes), and number formatting. Commands never call
// Deno.exit or console.*: they write to `io` and return a code, so tests can
// run them in process.

import { InvalidArgumentError } from "@commander-js/extra-typings";

/** The CLI's window on the world; `denoIo()` is the real one. */
export interface Io {
  /** Writes to standard output (no newline is added). */
  stdout(text: string): void;
  /** Writes to standard error (no newline is added). */
  stderr(text: string): void;
  /** True when standard output is a terminal: progress and colour only then. */
  readonly isTerminal: boolean;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
}

/** Exit codes (DESIGN.md §4). */
export const EXIT_OK = 0;
export const EXIT_FATAL = 1;
export const EXIT_USAGE = 2;
export const EXIT_PARTIAL_BACKUP = 3;
export const EXIT_NO_REPOSITORY = 10;
export const EXIT_LOCKED = 11;
export const EXIT_WRONG_KEY = 12;

/** A usage problem found after parsing (exit 2), with what to do next. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The one place errors become exit codes and a one-line message. */
export function reportError(error: unknown, io: Io): number {
  if (error instanceof UsageError || error instanceof RangeError) {
    io.stderr(`cofre: ${error.message}\n`);
    return EXIT_USAGE;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr(`cofre: ${message}\n`);
  return EXIT_FATAL;
}

const encoder = new TextEncoder();

/** The process's real standard streams and environment. */
export function denoIo(): Io {
  return {
    stdout: (text) => writeAll(Deno.stdout, encoder.encode(text)),
    stderr: (text) => writeAll(Deno.stderr, encoder.encode(text)),
    isTerminal: Deno.stdout.isTerminal(),
    env: (name) => Deno.env.get(name),
  };
}

function writeAll(stream: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length;) at += stream.writeSync(bytes.subarray(at));
}

/** Parses a positive integer option, for commander. */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError("Expected a positive whole number.");
  }
  return n;
}

/** Right-aligns text in a column. */
export function padStart(text: string, width: number): string {
  return text.length >= width ? text : " ".repeat(width - text.length) + text;
}
