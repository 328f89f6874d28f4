// A new folder repository for one test, with Argon2id at its cheapest (the
// KDF's own tests cover the real parameters), closed afterwards whatever happens.

import { LocalStorage, Repository } from "../mod.ts";

/** Argon2id parameters that make init and open take milliseconds. */
export const FAST_ARGON2ID = { memoryKib: 64, iterations: 1, parallelism: 1 };

/** Runs `body` with a repository just created at `path` (a folder) under `password`. */
export async function withNewRepository(
  path: string,
  password: string,
  body: (repository: Repository) => Promise<void>,
): Promise<void> {
  const { repository } = await Repository.init(new LocalStorage(path), {
    password,
    argon2id: FAST_ARGON2ID,
  });
  try {
    await body(repository);
  } finally {
    await repository.close();
  }
}
