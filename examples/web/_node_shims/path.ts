// node:path for the browser bundle (see unavailable.ts): imported by
// src/backup.ts and src/restore.ts, used only when writing to a disk.

import { unavailable } from "./unavailable.ts";

export function basename(_path: string): string {
  return unavailable("node:path basename");
}
export function dirname(_path: string): string {
  return unavailable("node:path dirname");
}
export function join(..._paths: string[]): string {
  return unavailable("node:path join");
}
export function resolve(..._paths: string[]): string {
  return unavailable("node:path resolve");
}
