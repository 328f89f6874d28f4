// How the chunk length of a database (FORMAT.md §7.4) trades speed for the
// bytes a change stores: for each limit on a database's chunk count (which
// sets the length: single pages, or runs of 2, 4, 8 pages), a fresh local
// repository, a first backup and a restore of the database alone (timed in
// this process, after the key is derived), then #9's change (2000 messages
// with random keys, bench/peers/new_messages.ts) and how much the
// repository grows by backing it up. The default limit (2^17 chunks) keeps
// single pages up to 512 MiB, which #9's bound asks for: a change stores at
// most 0.2× what restic stores for it.
//
//   npx deno run -A bench/database_grain.ts [--db /tmp/cofre-corpus/msgstore.db] [--rounds 2]
//       [--work /tmp/cofre-grain] [--json results.json]

import { parseArgs } from "node:util";
import { LocalStorage, Repository } from "../mod.ts";
import { addMessages } from "./peers/make_corpus.ts";
import { copyTree, diskUsage, settle } from "./peers/run.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    db: { type: "string", default: "/tmp/cofre-corpus/msgstore.db" },
    rounds: { type: "string", default: "2" },
    work: { type: "string", default: "/tmp/cofre-grain" },
    json: { type: "string" },
  },
});
const PASSWORD = "database grain benchmark";
/** Chunk-count limits: for the corpus's 150 MB database, 4, 8, 16 and 32 KiB chunks. */
const LIMITS = [2 ** 17, 2 ** 15, 2 ** 14, 2 ** 13];

async function withRepository<T>(
  storage: LocalStorage,
  run: (repository: Repository) => Promise<T>,
): Promise<T> {
  const repository = await Repository.open(storage, { password: PASSWORD });
  try {
    return await run(repository);
  } finally {
    await repository.close();
  }
}

/** One limit in one round. */
interface GrainResult {
  maxDatabaseChunks: number;
  blobs: number;
  backupSeconds: number;
  restoreSeconds: number;
  repositoryBytes: number;
  /** Repository growth from backing up the database after 2000 new messages. */
  messagesGrowth: number;
}
const results: GrainResult[] = [];

for (let round = 0; round < Number(values.rounds); round++) {
  for (const maxDatabaseChunks of LIMITS) {
    const work = `${values.work}/${maxDatabaseChunks}`;
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${work}/src`, { recursive: true });
    await copyTree(values.db, `${work}/src/msgstore.db`);
    const storage = new LocalStorage(`${work}/repo`);
    await (await Repository.init(storage, { password: PASSWORD })).repository.close();
    const paths = [`${work}/src`];
    await settle(false);
    const first = await withRepository(storage, async (repository) => {
      const start = performance.now();
      const result = await repository.backup({ paths, maxDatabaseChunks });
      return { result, seconds: (performance.now() - start) / 1000 };
    });
    await settle(false);
    const restoreSeconds = await withRepository(storage, async (repository) => {
      const start = performance.now();
      await repository.restore("latest", { target: `${work}/restored` });
      return (performance.now() - start) / 1000;
    });
    const before = await diskUsage(`${work}/repo`);
    addMessages(`${work}/src/msgstore.db`, { count: 2000 });
    await withRepository(storage, (repository) => repository.backup({ paths, maxDatabaseChunks }));
    const growth = (await diskUsage(`${work}/repo`)) - before;
    results.push({
      maxDatabaseChunks,
      blobs: first.result.snapshot.stats.newBlobs,
      backupSeconds: first.seconds,
      restoreSeconds,
      repositoryBytes: before,
      messagesGrowth: growth,
    });
    console.log(
      `limit ${maxDatabaseChunks}: ${first.result.snapshot.stats.newBlobs} blobs; ` +
        `backup ${first.seconds.toFixed(2)} s, restore ${restoreSeconds.toFixed(2)} s; ` +
        `repository ${(before / 1e6).toFixed(1)} MB, +${
          (growth / 1e6).toFixed(2)
        } MB for 2000 messages`,
    );
    await Deno.remove(work, { recursive: true });
  }
}
if (values.json) {
  const report = { date: new Date().toISOString(), database: values.db, results };
  await Deno.writeTextFile(values.json, JSON.stringify(report, null, 2) + "\n");
}
