// Assertions in the shape of Deno std's, over node:assert (std lives on JSR,
// which this project cannot reach). Test files import these and nothing else.

import assert from "node:assert/strict";

/** Deep, strict equality (typed arrays, bigints and Maps included). */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): asserts actual is T {
  assert.deepStrictEqual(actual, expected, message);
}

export function assertNotEquals(actual: unknown, expected: unknown, message?: string): void {
  assert.notDeepStrictEqual(actual, expected, message);
}

export function assertTrue(condition: unknown, message = "assertion failed"): asserts condition {
  assert.ok(condition, message);
}

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

function check(error: unknown, type: ErrorClass, includes?: string): Error {
  if (!(error instanceof type)) {
    throw new assert.AssertionError({
      message: `expected ${type.name}, got ${error instanceof Error ? error.name : typeof error}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    });
  }
  if (includes !== undefined && !error.message.includes(includes)) {
    throw new assert.AssertionError({
      message: `expected the message to include "${includes}", got "${error.message}"`,
    });
  }
  return error;
}

/** Asserts that `fn` throws an instance of `type` whose message includes `includes`. */
export function assertThrows(fn: () => unknown, type: ErrorClass, includes?: string): Error {
  try {
    fn();
  } catch (error) {
    return check(error, type, includes);
  }
  throw new assert.AssertionError({ message: `expected ${type.name}, but nothing was thrown` });
}

/** Asserts that `fn` rejects with an instance of `type` whose message includes `includes`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  type: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    return check(error, type, includes);
  }
  throw new assert.AssertionError({ message: `expected ${type.name}, but nothing was thrown` });
}
