// LOCAL STAND-IN, not committed: replaced by the zstd branch's module.
// deno-lint-ignore-file no-explicit-any
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { ZstdCodec } = require("zstd-codec");
const simple: any = await new Promise((resolve) =>
  ZstdCodec.run((z: any) => resolve(new z.Simple()))
);
export function compress(data: Uint8Array, options: { level?: number } = {}): Uint8Array {
  return simple.compress(data, options.level ?? 3);
}
export function decompress(frame: Uint8Array, _options: { maxBytes: number }): Uint8Array {
  return simple.decompress(frame);
}
