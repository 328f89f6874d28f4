/**
 * bench/peers, the "2000 new messages" case (issue 9): the bytes each tool's
 * repository grows by when the chat database gets 2000 messages with random
 * keys (`addMessages` in make_corpus.ts), and when the unchanged database is
 * backed up again. Only `msgstore.db` is backed up, from the same path for
 * every tool; byte counts do not depend on the machine's load.
 *
 *     npx deno run -A bench/peers/new_messages.ts --corpus /tmp/cofre-corpus [--count 2000]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { addMessages, buildCorpus } from "./make_corpus.ts";
import { diskUsage, jsonSummary, preparePeer, run, TOOL_NAMES, type ToolName } from "./run.ts";

/** One tool's figures for the case. */
export interface NewMessagesResult {
  tool: ToolName;
  status: "ok" | "skipped" | "failed";
  reason?: string;
  /** The database's size before and after the new messages. */
  databaseBytes?: [number, number];
  /** Repository size (`du -sb`) after the first backup. */
  firstBytes?: number;
  /** Repository growth from backing up the unchanged database again. */
  unchangedGrowth?: number;
  /** Repository growth from the backup after the new messages. */
  messagesGrowth?: number;
  /** The tool's own JSON summaries of the three backups, where it prints one. */
  summaries?: unknown[];
}

export interface NewMessagesOptions {
  /** A corpus folder holding msgstore.db (bench/peers/make_corpus.ts); never modified. */
  corpus: string;
  /** Scratch folder; default a new temp dir, removed afterwards. */
  work?: string;
  tools?: readonly ToolName[];
  count?: number;
  borgCompression?: string;
  cofreCli?: string;
  log?: (line: string) => void;
}

/** Runs the case for one tool; never throws for the tool's own failure. */
export async function benchNewMessages(
  tool: ToolName,
  options: NewMessagesOptions & { work: string },
): Promise<NewMessagesResult> {
  const log = options.log ?? (() => {});
  const { peer, home, env } = await preparePeer(tool, options);
  const probe = await peer.probe(env);
  if ("reason" in probe) {
    log(`${tool}: ${probe.reason}, skipped`);
    return { tool, status: "skipped", reason: probe.reason };
  }
  // The same path for every tool, so stored paths (and tree metadata) match.
  const source = `${options.work}/db`;
  const database = `${source}/msgstore.db`;
  await Deno.remove(source, { recursive: true }).catch(() => {});
  await Deno.mkdir(source);
  await Deno.copyFile(`${options.corpus}/msgstore.db`, database);
  const repo = `${home}/repo`;
  const fail = (reason: string): NewMessagesResult => {
    log(`${tool}: ${reason}`);
    return { tool, status: "failed", reason };
  };
  const init = await run(peer.init(repo), env);
  if (init.code !== 0) return fail(`Cannot init: exit ${init.code}: ${init.stderr.trim()}`);
  const summaries: unknown[] = [];
  const backup = async (label: string): Promise<number | string> => {
    const outcome = await run(peer.backup(repo, source, label), env);
    if (outcome.code !== 0) {
      return `Cannot back up (${label}): exit ${outcome.code}: ${outcome.stderr.trim()}`;
    }
    summaries.push(jsonSummary(outcome.stdout) ?? null);
    return await diskUsage(repo);
  };
  try {
    const before = (await Deno.stat(database)).size;
    const first = await backup("first");
    if (typeof first === "string") return fail(first);
    const unchanged = await backup("unchanged");
    if (typeof unchanged === "string") return fail(unchanged);
    addMessages(database, { count: options.count ?? 2000 });
    const after = (await Deno.stat(database)).size;
    const changed = await backup("messages");
    if (typeof changed === "string") return fail(changed);
    const result: NewMessagesResult = {
      tool,
      status: "ok",
      databaseBytes: [before, after],
      firstBytes: first,
      unchangedGrowth: unchanged - first,
      messagesGrowth: changed - unchanged,
      summaries,
    };
    log(
      `${tool}: first ${first} B, unchanged +${result.unchangedGrowth} B, ` +
        `new messages +${result.messagesGrowth} B`,
    );
    return result;
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
    await Deno.remove(source, { recursive: true }).catch(() => {});
  }
}

/** Runs the case for every tool, one after the other, on private copies of the database. */
export async function runNewMessages(options: NewMessagesOptions): Promise<NewMessagesResult[]> {
  const work = options.work ?? await Deno.makeTempDir({ prefix: "cofre-messages-" });
  try {
    const results: NewMessagesResult[] = [];
    for (const tool of options.tools ?? TOOL_NAMES) {
      results.push(await benchNewMessages(tool, { ...options, work }));
    }
    return results;
  } finally {
    if (!options.work) await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** The two targets: Cofre ≤ 0.2× restic's growth, and no growth but metadata when unchanged. */
export function formatNewMessages(results: NewMessagesResult[], count = 2000): string {
  const mb = (n: number | undefined) => n === undefined ? "-" : (n / 1e6).toFixed(2);
  const lines = [
    `"${count} new messages": repository growth in MB (10^6 bytes)`,
    "tool    first backup  unchanged again  after new messages",
  ];
  for (const r of results) {
    if (r.status !== "ok") {
      lines.push(`${r.tool.padEnd(7)} ${r.status}: ${r.reason}`);
      continue;
    }
    lines.push(
      `${r.tool.padEnd(7)} ${mb(r.firstBytes).padStart(12)} ${
        String(r.unchangedGrowth).padStart(14)
      } B ${mb(r.messagesGrowth).padStart(19)}`,
    );
  }
  const cofre = results.find((r) => r.tool === "cofre" && r.status === "ok");
  const restic = results.find((r) => r.tool === "restic" && r.status === "ok");
  if (cofre && restic) {
    const ratio = cofre.messagesGrowth! / restic.messagesGrowth!;
    lines.push(
      `  ${ratio <= 0.2 ? "PASS" : "MISS"}  new messages, cofre / restic <= 0.2: ${
        ratio.toFixed(3)
      }`,
    );
  }
  if (cofre) {
    // Only the snapshot's envelope: no pack, no index, no blob.
    const summary = cofre.summaries?.[1] as { new_bytes?: number; added_packs?: number } | null;
    const nothing = summary?.new_bytes === 0 && summary?.added_packs === 0;
    lines.push(
      `  ${
        nothing ? "PASS" : "MISS"
      }  unchanged database stores nothing: new_bytes ${summary?.new_bytes}, added_packs ${summary?.added_packs}, repository +${cofre.unchangedGrowth} B`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      corpus: { type: "string" },
      work: { type: "string" },
      tools: { type: "string" },
      count: { type: "string" },
      json: { type: "string" },
      "borg-compression": { type: "string" },
      cofre: { type: "string" },
    },
  });
  if (!values.corpus) {
    console.error(
      "usage: new_messages.ts --corpus DIR [--count 2000] [--tools cofre,restic,borg] [--json FILE]",
    );
    Deno.exit(2);
  }
  if (!(await Deno.stat(`${values.corpus}/msgstore.db`).catch(() => null))) {
    await buildCorpus(values.corpus, { log: (line) => console.error(line) });
  }
  const count = values.count ? Number(values.count) : 2000;
  const results = await runNewMessages({
    corpus: values.corpus,
    work: values.work,
    tools: values.tools?.split(",") as ToolName[] | undefined,
    count,
    borgCompression: values["borg-compression"],
    cofreCli: values.cofre,
    log: (line) => console.error(line),
  });
  console.log(formatNewMessages(results, count));
  if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(results, null, 2) + "\n");
}
