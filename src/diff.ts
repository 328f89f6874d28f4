/**
 * What changed between two snapshots. Identical subtrees have identical ids
 * (FORMAT.md §11), so only the folders that changed are read.
 *
 * @module
 */

import { readTree } from "./backup.ts";
import type { BlobStore } from "./blob_store.ts";
import { sameFileContent, type TreeNode } from "./format.ts";

/** `+` added, `-` removed, `M` content changed, `U` only metadata (mode, time), `T` type changed. */
export interface Change {
  change: "+" | "-" | "M" | "U" | "T";
  path: string;
  type: TreeNode["type"];
}

/** Every change from tree `a` to tree `b`, depth first, in name order. */
export async function* diffTrees(
  store: BlobStore,
  a: string,
  b: string,
  prefix = "",
): AsyncIterable<Change> {
  if (a === b) return;
  const left = await readTree(store, a);
  const right = await readTree(store, b);
  const names = [...new Set([...left.keys(), ...right.keys()])].sort();
  for (const name of names) {
    const path = prefix ? `${prefix}/${name}` : name;
    const x = left.get(name);
    const y = right.get(name);
    if (!x) {
      yield { change: "+", path, type: y!.type };
      if (y!.type === "dir") yield* everything(store, y!.subtree, path, "+");
    } else if (!y) {
      yield { change: "-", path, type: x.type };
      if (x.type === "dir") yield* everything(store, x.subtree, path, "-");
    } else if (x.type !== y.type) {
      yield { change: "T", path, type: y.type };
    } else if (x.type === "dir" && y.type === "dir") {
      if (x.mode !== y.mode) yield { change: "U", path, type: "dir" };
      yield* diffTrees(store, x.subtree, y.subtree, path);
    } else if (!sameContent(x, y)) {
      yield { change: "M", path, type: y.type };
    } else if (x.mode !== y.mode || x.mtimeMs !== y.mtimeMs) {
      yield { change: "U", path, type: y.type };
    }
  }
}

function sameContent(x: TreeNode, y: TreeNode): boolean {
  if (x.type === "file" && y.type === "file") {
    return x.size === y.size && sameFileContent(x, y);
  }
  if (x.type === "symlink" && y.type === "symlink") return x.target === y.target;
  return true;
}

async function* everything(
  store: BlobStore,
  tree: string,
  prefix: string,
  change: "+" | "-",
): AsyncIterable<Change> {
  for (const node of (await readTree(store, tree)).values()) {
    const path = `${prefix}/${node.name}`;
    yield { change, path, type: node.type };
    if (node.type === "dir") yield* everything(store, node.subtree, path, change);
  }
}
