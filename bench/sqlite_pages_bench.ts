/**
 * Measures how to group an SQLite database's pages into chunks (FORMAT.md
 * §7.4): for each grouping, the bytes a repository stores for a first backup
 * of the database and for an incremental backup after `--messages` new chat
 * messages with random timestamps, conversations and senders (so their index
 * entries land in B-tree pages all over the file). Stored bytes count
 * compression (zstd level 3 with the 3% rule) and every per-blob cost: nonce
 * 12, flag 1, GCM tag 16, pack header entry 41, index entry 49.
 *
 *     npx deno run -A bench/sqlite_pages_bench.ts DB [--messages 2000]
 *
 * DB is copied; the original is not changed.
 *
 * @module
 */

import { backup, DatabaseSync } from "node:sqlite";
import { createHash } from "node:crypto";
import { compressBlob, loadCompressor } from "../src/compress.ts";
import { cutPoints, DEFAULT_CHUNKER_OPTIONS } from "../src/chunker.ts";

const PER_BLOB_BYTES = 12 + 1 + 16 + 41 + 49;

/** Chunk ends for one grouping of `bytes`. */
type Grouping = { name: string; ends: (bytes: Uint8Array, pageSize: number) => number[] };

function runsOf(pages: number): Grouping {
  return {
    name: `runs of ${pages} page(s)`,
    ends: (bytes, pageSize) => {
      const ends: number[] = [];
      for (let end = pages * pageSize; end < bytes.length; end += pages * pageSize) ends.push(end);
      ends.push(bytes.length);
      return ends;
    },
  };
}

const GROUPINGS: Grouping[] = [
  runsOf(1),
  runsOf(2),
  runsOf(4),
  runsOf(8),
  runsOf(16),
  {
    name: "FastCDC 256K/1M/4M (default)",
    ends: (bytes) => cutPoints(bytes, { ...DEFAULT_CHUNKER_OPTIONS, seed: 7n }),
  },
];

async function capture(path: string, to: string): Promise<Uint8Array> {
  await Deno.remove(to).catch(() => {});
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    await backup(db, to, { rate: -1 });
  } finally {
    db.close();
  }
  return await Deno.readFile(to);
}

function chunksOf(bytes: Uint8Array, ends: number[]): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let start = 0;
  for (const end of ends) {
    const chunk = bytes.subarray(start, end);
    out.set(createHash("sha256").update(chunk).digest("hex"), chunk);
    start = end;
  }
  return out;
}

function storedBytes(chunks: Iterable<Uint8Array>): number {
  let total = 0;
  for (const chunk of chunks) {
    total += compressBlob(chunk, { level: 3 }).bytes.length + PER_BLOB_BYTES;
  }
  return total;
}

function addMessages(path: string, count: number): void {
  const db = new DatabaseSync(path);
  try {
    const range = db.prepare(
      "SELECT min(timestamp) AS lo, max(timestamp) AS hi, max(id) AS top FROM messages",
    ).get() as { lo: number; hi: number; top: number };
    const conversations = Number(
      (db.prepare("SELECT count(*) AS n FROM conversations").get() as { n: number }).n,
    );
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    db.exec("BEGIN");
    const insert = db.prepare(
      "INSERT INTO messages (conversation_id, sender_id, timestamp, text, status, starred)" +
        " VALUES (?, ?, ?, ?, 0, 0)",
    );
    for (let i = 0; i < count; i++) {
      const time = Math.floor(Number(range.lo) + random() * (Number(range.hi) - Number(range.lo)));
      insert.run(
        1 + Math.floor(random() * conversations),
        1 + Math.floor(random() * 150),
        time,
        `synced message ${i} ${random().toString(36)}`,
      );
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
}

if (import.meta.main) {
  const source = Deno.args[0];
  if (!source) throw new Error("usage: sqlite_pages_bench.ts DB [--messages N]");
  const at = Deno.args.indexOf("--messages");
  const messages = at >= 0 ? Number(Deno.args[at + 1]) : 2000;
  await loadCompressor();
  const dir = await Deno.makeTempDir({ prefix: "cofre-pages-" });
  try {
    await Deno.copyFile(source, `${dir}/db`);
    const before = await capture(`${dir}/db`, `${dir}/a`);
    const pageSize = new DataView(before.buffer).getUint16(16) || 65536;
    addMessages(`${dir}/db`, messages);
    const after = await capture(`${dir}/db`, `${dir}/b`);
    let changed = 0;
    for (let p = 0; p < after.length / pageSize; p++) {
      const a = before.subarray(p * pageSize, (p + 1) * pageSize);
      const b = after.subarray(p * pageSize, (p + 1) * pageSize);
      if (a.length !== b.length || !a.every((x, i) => x === b[i])) changed++;
    }
    console.log(
      `database ${before.length} B -> ${after.length} B, page ${pageSize} B, ` +
        `${changed} of ${after.length / pageSize} pages changed by ${messages} messages`,
    );
    console.log("grouping                        chunks   first MB  incr. MB  incr. blobs");
    for (const grouping of GROUPINGS) {
      const first = chunksOf(before, grouping.ends(before, pageSize));
      const second = chunksOf(after, grouping.ends(after, pageSize));
      const fresh = [...second].filter(([id]) => !first.has(id)).map(([, c]) => c);
      console.log(
        `${grouping.name.padEnd(30)} ${String(first.size).padStart(7)} ${
          (storedBytes(first.values()) / 1e6).toFixed(2).padStart(10)
        } ${(storedBytes(fresh) / 1e6).toFixed(2).padStart(9)} ${
          String(fresh.length).padStart(12)
        }`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
