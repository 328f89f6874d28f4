// node:module for the browser bundle: src/compress.ts loads zstd-codec with
// `createRequire(import.meta.url)("zstd-codec/lib/module.js")`. Here the same
// emscripten binding is imported statically, so the bundler includes it, and
// `run` starts it the way zstd-codec's module.js does on a host with
// WebAssembly (its asm.js fallback is left out: every browser the page
// supports has WebAssembly).

import binding from "zstd-codec/lib/zstd-codec-binding-wasm.js";

interface ZstdModule {
  run(callback: (loaded: unknown) => void): void;
}

const zstdModule: ZstdModule = {
  run(callback) {
    const module: Record<string, unknown> = {};
    module.onRuntimeInitialized = () => callback(module);
    (binding as (module: Record<string, unknown>) => void)(module);
  },
};

export function createRequire(_url: string | URL): (id: string) => unknown {
  return (id) => {
    if (id === "zstd-codec/lib/module.js") return zstdModule;
    throw new Error(`Cannot load ${id} in the browser restore page: only zstd-codec is bundled`);
  };
}
