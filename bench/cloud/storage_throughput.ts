// Backup and restore throughput to a loopback S3-compatible server (s3rver)
// and through rclone (serve webdav, a local folder), against a local folder,
// on the same corpus.
//
//   npx --no deno run -A bench/cloud/storage_throughput.ts [corpus-dir] [--mb 200] [--connections 4]
//
// Without a corpus folder it generates one (~200 MB: incompressible media,
// compressible text, many small files). Timings on a shared machine are
// indicative only.

import { LocalStorage, openRcloneStorage, Repository, S3Storage, type Storage } from "../../mod.ts";
import { startS3Server } from "../../tests/_servers.ts";
import { pseudoRandomBytes } from "../../tests/_data.ts";

const args = [...Deno.args];
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  args.splice(i, 2);
  return value;
};
const megabytes = flag("--mb", 200);
const connections = flag("--connections", 4);
const PASSWORD = "benchmark password, not a secret";

async function makeCorpus(root: string, total: number): Promise<void> {
  await Deno.mkdir(`${root}/media`, { recursive: true });
  await Deno.mkdir(`${root}/db`, { recursive: true });
  await Deno.mkdir(`${root}/small`, { recursive: true });
  const media = Math.floor(total * 0.6);
  for (let i = 0, left = media; left > 0; i++) {
    const size = Math.min(left, 20_000_000);
    await Deno.writeFile(
      `${root}/media/video-${i}.mp4`,
      pseudoRandomBytes(size, (2 * i + 1) * 104729),
    );
    left -= size;
  }
  const line = (i: number) =>
    `${i}|2024-05-0${i % 9 + 1}|+55 11 9${i % 10000}|see you at ${i % 24}h\n`;
  const text: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < total * 0.35; i++) {
    const l = line(i);
    text.push(l);
    bytes += l.length;
  }
  await Deno.writeTextFile(`${root}/db/msgstore.txt`, text.join(""));
  for (let i = 0; i < 1000; i++) {
    await Deno.writeFile(
      `${root}/small/note-${i}.bin`,
      pseudoRandomBytes(Math.floor(total * 0.05 / 1000), (2 * i + 101) * 7919),
    );
  }
}

async function treeBytes(root: string): Promise<number> {
  let n = 0;
  for await (const entry of Deno.readDir(root)) {
    const path = `${root}/${entry.name}`;
    if (entry.isDirectory) n += await treeBytes(path);
    else if (entry.isFile) n += (await Deno.stat(path)).size;
  }
  return n;
}

async function measure(label: string, storage: Storage, corpus: string, bytes: number) {
  const { repository } = await Repository.init(storage, {
    password: PASSWORD,
    argon2id: { memoryKib: 64, iterations: 1, parallelism: 1 },
  });
  const target = await Deno.makeTempDir({ prefix: "cofre-bench-restore-" });
  try {
    let t = performance.now();
    const result = await repository.backup({ paths: [corpus], uploads: connections });
    const backupMs = performance.now() - t;
    t = performance.now();
    await repository.restore("latest", { target, connections });
    const restoreMs = performance.now() - t;
    const rate = (ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(1);
    console.log(
      `${label.padEnd(24)} backup ${rate(backupMs).padStart(6)} MB/s (${
        (backupMs / 1000).toFixed(1)
      } s, ` +
        `${(result.addedBytes / 1e6).toFixed(0)} MB stored)   restore ${
          rate(restoreMs).padStart(6)
        } MB/s ` +
        `(${(restoreMs / 1000).toFixed(1)} s)`,
    );
  } finally {
    await repository.close();
    await Deno.remove(target, { recursive: true });
  }
}

const generated = args[0] === undefined;
const corpus = args[0] ?? await Deno.makeTempDir({ prefix: "cofre-bench-corpus-" });
if (generated) await makeCorpus(corpus, megabytes * 1e6);
const bytes = await treeBytes(corpus);
console.log(
  `corpus ${corpus}: ${(bytes / 1e6).toFixed(0)} MB; connections ${connections}; ` +
    `${navigator.hardwareConcurrency} cores (shared machine: indicative figures)`,
);

const local = await Deno.makeTempDir({ prefix: "cofre-bench-local-" });
try {
  await measure("local folder", new LocalStorage(`${local}/repo`), corpus, bytes);
} finally {
  await Deno.remove(local, { recursive: true });
}

const server = await startS3Server();
try {
  await measure(
    "s3 (s3rver, loopback)",
    new S3Storage({
      endpoint: server.endpoint,
      bucket: server.bucket,
      prefix: "bench",
      region: "us-east-1",
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
    }),
    corpus,
    bytes,
  );
} finally {
  await server.stop();
}

const remote = await Deno.makeTempDir({ prefix: "cofre-bench-rclone-" });
try {
  await measure(
    "rclone (webdav, local)",
    await openRcloneStorage(`rclone:${remote}/repo`),
    corpus,
    bytes,
  );
} catch (error) {
  console.log(`rclone: skipped (${(error as Error).message})`);
} finally {
  await Deno.remove(remote, { recursive: true });
}
if (generated) await Deno.remove(corpus, { recursive: true });
