// The restore page's behaviour (index.html holds the markup): open the
// repository in the picked folder with the typed password and account,
// list its snapshots, and restore one, either as downloads or, where the
// browser has the File System Access API, streamed into a folder on disk.
// `deno task web` bundles this file, with Cofre's code, into
// build/web/cofre_restore.js. Nothing leaves the page: no request is made
// except for the page's own files.

/// <reference lib="dom" />

import { Repository } from "../../src/repository.ts";
import { PickedFolderStorage } from "./picked_folder_storage.ts";
import { type RestoredEntry, snapshotEntries } from "./restore_snapshot.ts";

// The File System Access API, where Chromium-based browsers have it.
interface WritableFile {
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
}
interface DirectoryHandle {
  getDirectoryHandle(name: string, options: { create: true }): Promise<DirectoryHandle>;
  getFileHandle(name: string, options: { create: true }): Promise<{
    createWritable(): Promise<WritableFile>;
  }>;
}
type DirectoryPicker = (options: { mode: "readwrite" }) => Promise<DirectoryHandle>;

function element<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const folder = element<HTMLInputElement>("folder");
const password = element<HTMLInputElement>("password");
const recoveryKey = element<HTMLInputElement>("recovery-key");
const account = element<HTMLInputElement>("account");
const openButton = element<HTMLButtonElement>("open");
const snapshotSelect = element<HTMLSelectElement>("snapshot");
const restoreButton = element<HTMLButtonElement>("restore");
const restoreToFolderButton = element<HTMLButtonElement>("restore-to-folder");
const status = element<HTMLElement>("status");
const problem = element<HTMLElement>("error");
const files = element<HTMLElement>("files");

const pickDirectory = (globalThis as { showDirectoryPicker?: DirectoryPicker }).showDirectoryPicker;
restoreToFolderButton.hidden = pickDirectory === undefined;

let repository: Repository | null = null;
const objectUrls: string[] = [];

function say(text: string): void {
  status.textContent = text;
}

function fail(error: unknown): void {
  // Cofre's errors say what failed and what to do ("Cannot open the
  // repository: wrong password, recovery key or account").
  problem.textContent = error instanceof Error ? error.message : String(error);
  say("");
}

async function busy(action: () => Promise<void>): Promise<void> {
  problem.textContent = "";
  say("");
  for (const button of [openButton, restoreButton, restoreToFolderButton]) button.disabled = true;
  try {
    await action();
  } catch (error) {
    fail(error);
  } finally {
    openButton.disabled = false;
    restoreButton.disabled = restoreToFolderButton.disabled = repository === null;
  }
}

openButton.addEventListener("click", () =>
  busy(async () => {
    await repository?.close();
    repository = null;
    snapshotSelect.replaceChildren();
    if (!folder.files || folder.files.length === 0) {
      throw new Error("Cannot open the repository: pick its folder first");
    }
    const storage = new PickedFolderStorage(folder.files);
    const key = recoveryKey.value.trim();
    if (key === "") say("Deriving the key from the password (this takes a few seconds)…");
    const secret = key !== "" ? { recoveryKey: key } : { password: password.value };
    try {
      repository = await Repository.open(storage, { ...secret, account: account.value.trim() });
    } finally {
      // Not kept in the page longer than needed.
      password.value = "";
      recoveryKey.value = "";
    }
    const snapshots = await repository.snapshots();
    if (snapshots.length === 0) throw new Error("Cannot restore: the repository has no snapshot");
    for (const stored of snapshots.toReversed()) {
      const option = document.createElement("option");
      option.value = stored.id;
      const time = new Date(stored.snapshot.timeMs).toLocaleString();
      option.textContent = `${time} · ${stored.id.slice(0, 8)}`;
      snapshotSelect.append(option);
    }
    say(`Opened: ${snapshots.length} snapshot(s). Pick one and restore it.`);
  }));

restoreButton.addEventListener("click", () =>
  busy(async () => {
    for (const url of objectUrls.splice(0)) URL.revokeObjectURL(url);
    files.replaceChildren();
    const count = await restoreEach((entry) => offerDownload(entry));
    say(`Restored ${count} file(s): download them below.`);
  }));

restoreToFolderButton.addEventListener("click", () =>
  busy(async () => {
    const target = await pickDirectory!({ mode: "readwrite" });
    files.replaceChildren();
    const count = await restoreEach((entry) => writeInto(target, entry));
    say(`Restored ${count} file(s) into the folder you picked.`);
  }));

/** Runs `write` for every entry of the selected snapshot; returns the number of files. */
async function restoreEach(write: (entry: RestoredEntry) => Promise<void>): Promise<number> {
  if (!repository) throw new Error("Cannot restore: open the repository first");
  let count = 0;
  for await (const entry of snapshotEntries(repository, snapshotSelect.value)) {
    if (entry.type === "file") say(`Restoring ${entry.path}…`);
    await write(entry);
    if (entry.type === "file") count++;
  }
  return count;
}

/** Download mode: the file's chunks become a Blob (the browser may keep it on disk). */
async function offerDownload(entry: RestoredEntry): Promise<void> {
  const item = document.createElement("li");
  if (entry.type === "file") {
    const parts: Uint8Array<ArrayBuffer>[] = [];
    for await (const chunk of entry.chunks()) parts.push(new Uint8Array(chunk));
    const url = URL.createObjectURL(new Blob(parts));
    objectUrls.push(url);
    const link = document.createElement("a");
    link.href = url;
    link.download = entry.path.replaceAll("/", "_");
    link.dataset.path = entry.path;
    link.textContent = `${entry.path} (${entry.size} bytes)`;
    item.append(link);
  } else if (entry.type === "symlink") {
    item.textContent = `${entry.path} → ${entry.target} (symbolic link, not restored)`;
  } else return;
  files.append(item);
}

/** Folder mode: each chunk is written to disk as soon as it is verified. */
async function writeInto(root: DirectoryHandle, entry: RestoredEntry): Promise<void> {
  if (entry.type === "symlink") return;
  const parts = entry.path.split("/");
  const name = entry.type === "file" ? parts.pop()! : null;
  let dir = root;
  for (const part of parts) dir = await dir.getDirectoryHandle(part, { create: true });
  if (entry.type !== "file" || name === null) return;
  const writable = await (await dir.getFileHandle(name, { create: true })).createWritable();
  try {
    for await (const chunk of entry.chunks()) await writable.write(chunk);
  } finally {
    await writable.close();
  }
  const item = document.createElement("li");
  item.textContent = `${entry.path} (${entry.size} bytes)`;
  files.append(item);
}
