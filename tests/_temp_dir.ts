// A temporary folder for one test, removed afterwards whatever happens.

/** A `withDir(body)` that runs `body` in a new folder named `prefix`…, then removes it. */
export function tempDirs(prefix: string): (body: (dir: string) => Promise<void>) => Promise<void> {
  return async (body) => {
    const dir = await Deno.makeTempDir({ prefix });
    try {
      await body(dir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  };
}
