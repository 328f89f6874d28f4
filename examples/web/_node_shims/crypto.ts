// node:crypto for the browser bundle (see unavailable.ts): src/pack.ts
// hashes packs it writes; the restore page writes none.

import { unavailable } from "./unavailable.ts";

export function createHash(_algorithm: string): never {
  return unavailable("node:crypto createHash");
}
