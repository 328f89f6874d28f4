// What the restore page restores, without the page: a snapshot's files as
// streams of verified plaintext chunks. Cofre's own code does the work
// (Repository.list walks the trees; readBlob reads each chunk from its pack,
// opens it with AES-256-GCM in cofre.wasm, decompresses it and checks its
// keyed BLAKE3 id, FORMAT.md §8.2), so the page restores exactly what
// `cofre restore` would.

import type { Repository } from "../../src/repository.ts";

/** One entry of a snapshot, in tree order (parents before children). */
export type RestoredEntry =
  | { type: "dir"; path: string }
  | { type: "file"; path: string; size: number; chunks: () => AsyncIterable<Uint8Array> }
  | { type: "symlink"; path: string; target: string };

/** The entries of snapshot `ref` ("latest" or an id prefix), depth first. */
export async function* snapshotEntries(
  repository: Repository,
  ref: string,
): AsyncIterable<RestoredEntry> {
  for await (const { path, node } of repository.list(ref)) {
    if (node.type === "dir") yield { type: "dir", path };
    else if (node.type === "symlink") yield { type: "symlink", path, target: node.target };
    else {
      yield {
        type: "file",
        path,
        size: node.size,
        chunks: async function* () {
          // A large file's ids come a content list at a time (FORMAT.md §11.1).
          for await (const ids of repository.chunkIds(node)) {
            for (const id of ids) yield await repository.readBlob("data", id);
          }
        },
      };
    }
  }
}
