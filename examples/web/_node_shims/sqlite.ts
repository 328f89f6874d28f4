// node:sqlite for the browser bundle (see unavailable.ts): src/sqlite.ts
// captures live databases during backup; the restore page backs up nothing.

import { unavailable } from "./unavailable.ts";

export function backup(): never {
  return unavailable("node:sqlite backup");
}

export class DatabaseSync {
  constructor() {
    unavailable("node:sqlite DatabaseSync");
  }
}
