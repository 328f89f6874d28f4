// Prompt garbage collection for the pipeline. Chunk-sized buffers are large
// and die young; V8 lets tens of MB of them pile up per isolate before it
// collects, and with a worker per core that alone broke the 300 MiB budget
// (measured: 384 MB peak for a 512 MB backup with 2 workers; 263 MB when
// each isolate collects every 16 MiB, for about 6% more time). Since then
// chunks travel in reused buffers (src/_buffer_pool.ts), and collections
// are kept for what still makes garbage: batched pages, new pool buffers.
// Each one is two full mark-compacts (Deno's gc ignores V8's options).
//
// Node's idiom works in Deno without a command-line flag: enable
// --expose-gc at run time and take `gc` from a fresh context. Hosts without
// node:v8 (browsers) simply do without.

let collector: (() => void) | null = null;
let loading: Promise<void> | null = null;

/** Makes `collectGarbage` effective where the host allows it; idempotent. */
export function loadGarbageCollector(): Promise<void> {
  loading ??= (async () => {
    try {
      const v8 = await import("node:v8");
      const vm = await import("node:vm");
      v8.setFlagsFromString("--expose-gc");
      const gc = vm.runInNewContext("gc");
      if (typeof gc === "function") collector = gc as () => void;
    } catch {
      collector = null; // not available here: V8's own heuristics decide
    }
  })();
  return loading;
}

/** Runs a full collection now, if the host allows it. */
export function collectGarbage(): void {
  collector?.();
}

/**
 * Counts bytes that became garbage and collects once `everyBytes` have
 * piled up: the one rule backup, restore, check and the workers share.
 */
export class GarbageMeter {
  readonly #everyBytes: number;
  #since = 0;

  constructor(everyBytes: number) {
    this.#everyBytes = everyBytes;
  }

  add(bytes: number): void {
    this.#since += bytes;
    if (this.#since >= this.#everyBytes) {
      collectGarbage();
      this.#since = 0;
    }
  }
}
