// `--exclude` patterns, restic's way (src/backup.ts excludeMatcher): names
// anywhere, trailing names, whole paths; and a backup that honours them.

import { assertEquals, assertThrows } from "./_assert.ts";
import { excludeMatcher, globToRegExp, LocalStorage, Repository } from "../mod.ts";
import { tempDirs } from "./_temp_dir.ts";

const withDir = tempDirs("cofre-exclude-test-");

Deno.test("globToRegExp: *, **, ?, sets and literal characters", () => {
  const cases: [string, string, boolean][] = [
    ["*.tmp", "a.tmp", true],
    ["*.tmp", "dir/a.tmp", false],
    ["**/a.tmp", "x/y/a.tmp", true],
    ["?.txt", "a.txt", true],
    ["?.txt", "ab.txt", false],
    ["[xy].tmp", "x.tmp", true],
    ["[xy].tmp", "z.tmp", false],
    ["[a-c]1", "b1", true],
    ["[!a-c]1", "b1", false],
    ["[!a-c]1", "d1", true],
    ["a+b(1).txt", "a+b(1).txt", true],
    ["a.txt", "abtxt", false],
    ["[unclosed", "[unclosed", true],
    ["[!]a]b", "]b", false],
    ["[!]a]b", "cb", true],
    ["x[/]c", "x/c", false],
    ["a/**/b", "a/b", true],
    ["a/**/b", "a/x/y/b", true],
  ];
  for (const [glob, text, expected] of cases) {
    assertEquals(globToRegExp(glob).test(text), expected, `${glob} on ${text}`);
  }
});

Deno.test("excludeMatcher: names anywhere, trailing names, whole paths, a trailing slash", () => {
  const cases: [string, string, boolean][] = [
    ["*.tmp", "/home/me/app/a.tmp", true],
    ["cache", "/home/me/app/cache", true],
    ["cache", "/home/me/app/cache2", false],
    ["cache/", "/home/me/app/cache", true],
    ["media/*.tmp", "/home/me/app/media/a.tmp", true],
    ["media/*.tmp", "/home/me/app/media/sub/a.tmp", false],
    ["app/media", "/home/me/app/media", true],
    ["app/media", "/home/me/myapp/media", false],
    ["**/deep", "/home/me/deep", true],
    ["/home/me/app/cache", "/home/me/app/cache", true],
    ["/home/me/app/cache", "/other/home/me/app/cache", false],
    ["/home/*/app", "/home/me/app", true],
  ];
  for (const [pattern, path, expected] of cases) {
    assertEquals(excludeMatcher([pattern])(path), expected, `${pattern} on ${path}`);
  }
  assertEquals(excludeMatcher([])("/any"), false);
  assertThrows(() => excludeMatcher(["[z-a]"]), RangeError, 'Cannot use the pattern "[z-a]"');
});

Deno.test("a backup leaves out what --exclude patterns match, and keeps the rest", () =>
  withDir(async (dir) => {
    const src = `${dir}/src`;
    for (
      const path of ["app/media/a.jpg", "app/media/b.tmp", "app/cache/x", "app/keep/cache.txt"]
    ) {
      await Deno.mkdir(`${src}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${src}/${path}`, path);
    }
    const { repository } = await Repository.init(new LocalStorage(`${dir}/repo`), {
      password: "correct horse battery staple",
      argon2id: { memoryKib: 64, iterations: 1, parallelism: 1 },
    });
    try {
      await repository.backup({ paths: [`${src}/app`], excludes: ["media/*.tmp", "cache/"] });
      const listed: string[] = [];
      for await (const { path } of repository.list("latest")) listed.push(path);
      assertEquals(listed.sort(), [
        "app",
        "app/keep",
        "app/keep/cache.txt",
        "app/media",
        "app/media/a.jpg",
      ]);
    } finally {
      await repository.close();
    }
  }));
