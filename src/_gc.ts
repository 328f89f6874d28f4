// Prompt garbage collection for the pipeline. Chunk-sized buffers are large
// and die young; V8 lets tens of MB of them pile up per isolate before it
// collects, and with a worker per core that alone broke the 300 MiB budget
// (measured: 384 MB peak for a 512 MB backup with 2 workers). Chunks now
// travel in reused buffers and the rest are freed as they die
// (src/_buffer_pool.ts), so a collection is only a backstop for the heap's
// own garbage, run when RSS says so (GarbageMeter). Each one is a full
// mark-compact of the isolate's heap: 30 to 130 ms on the main thread,
// which holds the index.
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

const MIB = 1024 * 1024;

/** The process's resident memory, or null where the host does not tell. */
function residentBytes(): number | null {
  try {
    return Deno.memoryUsage().rss;
  } catch {
    return null;
  }
}

/**
 * Keeps memory under the budget (peak RSS ≤ 300 MiB, DESIGN.md §2) with as
 * few collections as it takes. Dead chunk buffers are freed as they die
 * (src/_buffer_pool.ts `discard`); what is left is the heap's own garbage
 * (ids, promises, index entries), which V8 lets grow to tens of MB per
 * isolate. Every `everyBytes` of work, this looks at the process's RSS (3.5
 * µs) and collects only above `rssBytes`, and then only once RSS has grown
 * by REGROWTH_BYTES since the last collection: live data above the line
 * must not make every check a collection. Collecting by bytes alone cost a
 * restore 1.5 of 7 s (every 16 MiB); a restore of the peers corpus now
 * collects three or four times in each isolate.
 */
export class GarbageMeter {
  static readonly REGROWTH_BYTES = 16 * MIB;
  readonly #everyBytes: number;
  readonly #rssBytes: number;
  #since = 0;
  #floor = 0;

  constructor(options: { everyBytes?: number; rssBytes?: number } = {}) {
    this.#everyBytes = options.everyBytes ?? 8 * MIB;
    this.#rssBytes = options.rssBytes ?? 224 * MIB;
  }

  /** Collections this meter ran (for tests and profiles). */
  collections = 0;

  /** RSS after the last collection. */
  get floor(): number {
    return this.#floor;
  }

  add(bytes: number): void {
    this.#since += bytes;
    if (this.#since < this.#everyBytes) return;
    this.#since = 0;
    const rss = residentBytes();
    if (rss !== null && rss < Math.max(this.#rssBytes, this.#floor + GarbageMeter.REGROWTH_BYTES)) {
      return;
    }
    collectGarbage();
    this.collections++;
    this.#floor = residentBytes() ?? 0;
  }
}
