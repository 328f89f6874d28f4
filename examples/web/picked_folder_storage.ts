// A read-only Storage (src/storage/storage.ts) over the files of a folder the
// user picked with <input type=file webkitdirectory>: the repository's
// objects, as a Google Drive or Dropbox download gives them back. Each
// File's webkitRelativePath starts with the picked folder's name; the
// repository is the folder that holds `config`, at any depth.

import {
  type ByteRange,
  checkRange,
  isObjectName,
  type ObjectInfo,
  ObjectNotFoundError,
  type Storage,
} from "../../src/storage/storage.ts";

/** The part of File this storage reads (a test can pass its own). */
export interface PickedFile {
  readonly webkitRelativePath: string;
  readonly size: number;
  readonly lastModified: number;
  slice(start?: number, end?: number): Blob;
}

export class PickedFolderStorage implements Storage {
  readonly location: string;
  readonly #objects = new Map<string, PickedFile>();

  /** Throws RangeError when no picked file is a repository's `config`. */
  constructor(files: Iterable<PickedFile>) {
    const list = [...files];
    // The shallowest `config` marks the repository's root.
    const roots = list
      .map((file) => file.webkitRelativePath.split("/"))
      .filter((parts) => parts.at(-1) === "config")
      .sort((a, b) => a.length - b.length);
    const root = roots[0];
    if (!root) {
      throw new RangeError(
        "Cannot open the folder: it holds no Cofre repository (no file named config); " +
          "pick the folder that contains config, data, index, keys and snapshots",
      );
    }
    const prefix = root.slice(0, -1).join("/");
    this.location = prefix || "the picked folder";
    for (const file of list) {
      const path = file.webkitRelativePath;
      if (prefix && !path.startsWith(`${prefix}/`)) continue;
      const name = prefix ? path.slice(prefix.length + 1) : path;
      // Downloads add files of their own (desktop.ini, .DS_Store): not objects.
      if (/^[a-z0-9_-]+(\/[a-z0-9_-]+)*$/i.test(name)) this.#objects.set(name, file);
    }
  }

  stat(name: string): Promise<ObjectInfo | null> {
    const file = this.#objects.get(name);
    return Promise.resolve(file ? info(name, file) : null);
  }

  async get(name: string, range?: ByteRange): Promise<Uint8Array> {
    const file = this.#objects.get(name);
    if (!file) throw new ObjectNotFoundError(this.location, name);
    if (range) checkRange(name, file.size, range);
    const part = range ? file.slice(range.offset, range.offset + range.length) : file.slice();
    return new Uint8Array(await part.arrayBuffer());
  }

  put(name: string): Promise<void> {
    return Promise.reject(new Error(`Cannot write ${name}: the picked folder is read-only`));
  }

  delete(name: string): Promise<void> {
    return Promise.reject(new Error(`Cannot delete ${name}: the picked folder is read-only`));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // A Drive or Dropbox download can hold "x (1)" copies: not objects (FORMAT.md §4).
    const names = [...this.#objects.keys()].filter((name) =>
      name.startsWith(prefix) && isObjectName(name)
    ).sort();
    for (const name of names) yield info(name, this.#objects.get(name)!);
  }
}

function info(name: string, file: PickedFile): ObjectInfo {
  return { name, size: file.size, modifiedMs: file.lastModified };
}
