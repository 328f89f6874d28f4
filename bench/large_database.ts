// A large chat database against the memory budget (DESIGN.md §2: peak RSS
// ≤ 300 MiB): builds a rollback-journal SQLite database of N GiB of 4 KiB
// pages (random 4,000-byte rows, so nothing compresses), backs it up and
// restores it through the CLI as `deno task cofre` runs it, and prints time,
// peak RSS (GNU time) and whether the restore is byte for byte. `--media`
// does the same with one file of N GiB of random bytes (a long video).
//
//   npx deno run -A bench/large_database.ts [--gib 2] [--media] [--work /tmp/cofre-large-db]

import { parseArgs } from "node:util";
import { buildIncompressibleDatabase } from "./peers/make_corpus.ts";
import { taskV8Flags } from "./peers/run.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    gib: { type: "string", default: "2" },
    media: { type: "boolean", default: false },
    work: { type: "string" },
  },
});
const gib = Number(values.gib);
const work = values.work ?? "/tmp/cofre-large-db";
const root = new URL("..", import.meta.url).pathname;

/** N GiB of random bytes, written 16 MiB at a time. */
async function buildMedia(path: string): Promise<void> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(16 * 2 ** 20);
  for (let left = gib * 2 ** 30; left > 0; left -= block.length) {
    for (let i = 0; i < block.length; i += 65536) {
      crypto.getRandomValues(block.subarray(i, i + 65536));
    }
    const piece = block.subarray(0, Math.min(block.length, left));
    for (let done = 0; done < piece.length;) done += await file.write(piece.subarray(done));
  }
  file.close();
}

async function cofre(args: string[]): Promise<{ seconds: number; peakMiB: number }> {
  const rss = `${work}/rss`;
  const started = performance.now();
  const { code, stderr } = await new Deno.Command("/usr/bin/time", {
    args: [
      "-f",
      "%M",
      "-o",
      rss,
      Deno.execPath(),
      "run",
      "-A",
      ...taskV8Flags(`${root}deno.json`),
      `${root}cli/main.ts`,
      ...args,
    ],
    env: { COFRE_PASSWORD: "correct horse battery staple", COFRE_REPOSITORY: `${work}/repo` },
    stdout: "null",
  }).output();
  if (code !== 0) throw new Error(`cofre ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
  const seconds = (performance.now() - started) / 1000;
  return { seconds, peakMiB: Number((await Deno.readTextFile(rss)).trim()) / 1024 };
}

await Deno.remove(work, { recursive: true }).catch(() => {});
await Deno.mkdir(`${work}/src`, { recursive: true });
const name = values.media ? "video.mkv" : "msgstore.db";
if (values.media) await buildMedia(`${work}/src/${name}`);
else buildIncompressibleDatabase(`${work}/src/${name}`, Math.floor(gib * 2 ** 30 / 4096));
const size = (await Deno.stat(`${work}/src/${name}`)).size;
await cofre(["init"]);
const backup = await cofre(["backup", `${work}/src`]);
const restore = await cofre(["restore", "latest", "--target", `${work}/out`]);
const same = await new Deno.Command("cmp", {
  args: [`${work}/src/${name}`, `${work}/out/src/${name}`],
}).output();
const line = (what: string, r: { seconds: number; peakMiB: number }) =>
  `${what.padEnd(8)} ${r.seconds.toFixed(1).padStart(6)} s  peak ${r.peakMiB.toFixed(0)} MiB`;
console.log(
  values.media
    ? `one file of ${(size / 2 ** 30).toFixed(2)} GiB of random bytes`
    : `database ${(size / 2 ** 30).toFixed(2)} GiB, ${Math.ceil(size / 4096)} pages`,
);
console.log(line("backup", backup));
console.log(line("restore", restore));
console.log(same.code === 0 ? "restored byte for byte" : "RESTORED FILE DIFFERS");
await Deno.remove(work, { recursive: true });
