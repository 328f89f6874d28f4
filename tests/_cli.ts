// Runs the CLI in process, as tests need it: a scripted terminal (secrets
// typed at prompts, answers to questions), an environment, files, and fast
// Argon2id parameters.

import { main } from "../cli/main.ts";
import type { Io } from "../cli/_ui.ts";
import { TEST_ONLY_FAST_ARGON2ID } from "../src/kdf.ts";

export interface Script {
  env?: Record<string, string>;
  /** When set, stdin is a terminal and these are typed at the secret prompts, in order ("^C" interrupts). */
  typed?: string[];
  /** Answers to yes/no questions, in order. */
  answers?: boolean[];
  files?: Record<string, string>;
  /** The time the CLI's clock reads (ms), for `backup --if-due` and `schedule`. */
  nowMs?: number;
  /** Prune's grace period, shortened (FORMAT.md §14.2). */
  pruneGraceMs?: number;
}

export async function cofre(args: string[], script: Script = {}) {
  let stdout = "";
  let stderr = "";
  const prompts: string[] = [];
  const typed = [...(script.typed ?? [])];
  const answers = [...(script.answers ?? [])];
  const io: Io = {
    stdout: (t) => stdout += t,
    stdoutBytes: (b) => stdout += new TextDecoder().decode(b),
    stderr: (t) => stderr += t,
    isTerminal: false,
    env: (name) => script.env?.[name],
    stdinIsTerminal: script.typed !== undefined,
    promptSecret(message) {
      prompts.push(message);
      const next = typed.shift();
      if (next === "^C") {
        const interrupted = new Error("User force closed the prompt with SIGINT");
        interrupted.name = "ExitPromptError";
        return Promise.reject(interrupted);
      }
      return next === undefined
        ? Promise.reject(new Error(`unexpected prompt: ${message}`))
        : Promise.resolve(next);
    },
    confirm(message) {
      prompts.push(message);
      const next = answers.shift();
      return next === undefined
        ? Promise.reject(new Error(`unexpected question: ${message}`))
        : Promise.resolve(next);
    },
    readTextFile(path) {
      const content = script.files?.[path];
      return content === undefined
        ? Promise.reject(new Error("No such file"))
        : Promise.resolve(content);
    },
  };
  const now = script.nowMs === undefined ? undefined : () => script.nowMs!;
  const code = await main(args, io, {
    argon2id: TEST_ONLY_FAST_ARGON2ID,
    now,
    pruneGraceMs: script.pruneGraceMs,
  });
  return { code, stdout, stderr, prompts };
}
