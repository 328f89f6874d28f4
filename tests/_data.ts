// Test data that reproduces: the same seed always gives the same bytes.

/** Pseudo-random bytes (xorshift32): incompressible, unique per seed. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * What a restore must reproduce, path by path under `dir` (named `rel`):
 * types, modes, times, symlink targets and SHA-256 of contents.
 */
export async function describeTree(dir: string, rel: string): Promise<Record<string, unknown>> {
  const { createHash } = await import("node:crypto");
  const out: Record<string, unknown> = {};
  async function walk(path: string, r: string): Promise<void> {
    for (const name of (await Array.fromAsync(Deno.readDir(path))).map((e) => e.name).sort()) {
      const child = `${path}/${name}`;
      const key = `${r}/${name}`;
      const info = await Deno.lstat(child);
      if (info.isSymlink) out[key] = { type: "symlink", target: await Deno.readLink(child) };
      else if (info.isDirectory) {
        out[key] = { type: "dir", mode: info.mode! & 0o7777 };
        await walk(child, key);
      } else {
        const sha256 = createHash("sha256").update(await Deno.readFile(child)).digest("hex");
        out[key] = {
          type: "file",
          mode: info.mode! & 0o7777,
          mtime_ms: info.mtime!.getTime(),
          sha256,
        };
      }
    }
  }
  await walk(dir, rel);
  return out;
}
