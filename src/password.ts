/**
 * The password policy (FORMAT.md §5.3): at least 8 characters, counted in
 * Unicode code points after NFC normalisation, and a strength estimate that
 * warns about passwords an offline attacker would guess.
 *
 * @module
 */

import type { ZxcvbnFactory } from "@zxcvbn-ts/core";

/** The shortest password Cofre accepts, in code points. */
export const MIN_PASSWORD_CHARS = 8;

/**
 * Returns the password in NFC, or throws `RangeError` stating the rule.
 *
 * @example
 * ```ts
 * import { normalizePassword } from "./password.ts";
 * normalizePassword("correct horse"); // ok
 * try { normalizePassword("short"); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function normalizePassword(password: string): string {
  if (typeof password !== "string") throw new TypeError("Cannot use the password: not a string");
  const nfc = password.normalize("NFC");
  const chars = [...nfc].length;
  if (chars < MIN_PASSWORD_CHARS) {
    throw new RangeError(
      `Cannot use the password: it has ${chars} character${chars === 1 ? "" : "s"}, ` +
        `and at least ${MIN_PASSWORD_CHARS} are needed`,
    );
  }
  return nfc;
}

let estimator: Promise<ZxcvbnFactory> | undefined;

/** The dictionaries weigh about 50 MB in memory: loaded only when a password is judged. */
async function loadEstimator(): Promise<ZxcvbnFactory> {
  const [{ ZxcvbnFactory }, common, english] = await Promise.all([
    import("@zxcvbn-ts/core"),
    import("@zxcvbn-ts/language-common"),
    import("@zxcvbn-ts/language-en"),
  ]);
  return new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...english.dictionary },
    graphs: common.adjacencyGraphs,
    translations: english.translations,
  });
}

/** A strength estimate: 0 (guessed at once) .. 4 (very strong), with advice. */
export interface PasswordStrength {
  score: 0 | 1 | 2 | 3 | 4;
  /** log10 of the estimated guesses an attacker needs. */
  guessesLog10: number;
  /** One paragraph for the person, or null when the password is strong enough. */
  warning: string | null;
}

/**
 * Estimates how hard a password is to guess (zxcvbn's model: dictionaries,
 * names, keyboard patterns, dates, repeats). `context` holds words an
 * attacker would try first (the account, the host name).
 */
export async function estimatePasswordStrength(
  password: string,
  context: string[] = [],
): Promise<PasswordStrength> {
  estimator ??= loadEstimator();
  const result = (await estimator).check(password, context);
  const score = result.score as PasswordStrength["score"];
  if (score >= 3) return { score, guessesLog10: result.guessesLog10, warning: null };
  const hint = [result.feedback.warning, ...result.feedback.suggestions].filter(Boolean).join(" ");
  return {
    score,
    guessesLog10: result.guessesLog10,
    warning: "This password is weak. Anyone who copies the backup (the storage provider, or " +
      "whoever breaks into it) can try passwords offline, as fast as their hardware allows, " +
      `and this one is near the front of their list (about 10^${Math.round(result.guessesLog10)} ` +
      "guesses). Use a long passphrase of several unrelated words, or a recovery key." +
      (hint ? ` ${hint}` : ""),
  };
}
