/**
 * Account binding (FORMAT.md §5.4): a repository can be bound to a phone
 * number, which then enters every key slot's derivation and is stored nowhere.
 *
 * @module
 */

/**
 * Normalises a phone number to E.164 (`+` and 8 to 15 digits): spaces,
 * dashes, dots and parentheses go, a leading `00` becomes `+`. Throws
 * `RangeError` for anything that cannot be a phone number.
 *
 * @example
 * ```ts
 * import { normalizeAccount } from "./account.ts";
 * if (normalizeAccount("+55 11 99999-8888") !== "+5511999998888") throw new Error();
 * ```
 */
export function normalizeAccount(input: string): string {
  if (typeof input !== "string") throw new TypeError("Cannot use the account: not a string");
  let compact = input.normalize("NFKC").replace(/[\s\-.()]/g, "");
  if (compact.startsWith("00")) compact = "+" + compact.slice(2);
  if (!/^\+[1-9][0-9]{7,14}$/.test(compact)) {
    throw new RangeError(
      "Cannot use the account: it must be a phone number in international form, " +
        "+ then 8 to 15 digits (for example +5511999998888)",
    );
  }
  return compact;
}
