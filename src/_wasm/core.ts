// Loads build/cofre.wasm once per realm (main thread or worker) and hands out
// regions of its memory. This folder is the only code that holds a view of
// WebAssembly memory (STYLE.md): everything it returns to the rest of Cofre
// is a copy the caller owns.

/** The raw exports, as ABI.md documents them. */
export interface CoreExports {
  readonly memory: WebAssembly.Memory;
  abi_version(): number;
  alloc(bytes: number): number;
  wipe(ptr: number, bytes: number): void;
  b3_context_bytes(): number;
  b3_init(ctx: number, key: number): number;
  b3_update(ctx: number, ptr: number, len: number): number;
  b3_finish(ctx: number, out: number): number;
  cdc_context_bytes(): number;
  cdc_init(
    ctx: number,
    min: number,
    avg: number,
    max: number,
    nc: number,
    seedLo: number,
    seedHi: number,
  ): number;
  cdc_cut(ctx: number, ptr: number, n: number): number;
  cdc_hash_lo(ctx: number): number;
  cdc_hash_hi(ctx: number): number;
  gcm_context_bytes(): number;
  gcm_init(ctx: number, key: number): number;
  gcm_start(ctx: number, nonce: number, nonceLen: number): number;
  gcm_aad_update(ctx: number, ptr: number, len: number): number;
  gcm_seal_update(ctx: number, ptr: number, len: number): number;
  gcm_seal_finish(ctx: number, tag: number): number;
  gcm_open_update(ctx: number, ptr: number, len: number): number;
  gcm_open_finish(ctx: number, tag: number): number;
  gcm_decrypt_update(ctx: number, ptr: number, len: number): number;
  self_test(): number;
}

/** ABI.md §2: status codes shared with assembly/status.ts. */
export const STATUS_OK = 0;
export const STATUS_BAD_ARGUMENT = -1;
export const STATUS_AUTH_FAILED = -2;

/** The ABI version this host code speaks (ABI.md §1). */
export const ABI_VERSION = 4;

const WASM_URL = new URL("../../build/cofre.wasm", import.meta.url);

async function loadBytes(url: URL): Promise<Uint8Array<ArrayBuffer>> {
  if (url.protocol === "file:" && typeof Deno === "undefined") {
    // Node has no fetch() for file: URLs.
    const fs = await import("node:fs/promises");
    return new Uint8Array(await fs.readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`Cannot load ${url.href}: HTTP ${response.status}`);
  }
  return new Uint8Array(await response.arrayBuffer());
}

async function instantiate(): Promise<CoreExports> {
  const module = await WebAssembly.compile(await loadBytes(WASM_URL) as Uint8Array<ArrayBuffer>);
  const instance = await WebAssembly.instantiate(module, {});
  const exports = instance.exports as unknown as CoreExports;
  const version = exports.abi_version();
  if (version !== ABI_VERSION) {
    throw new Error(
      `Cannot load ${WASM_URL.href}: ABI version ${version}, expected ${ABI_VERSION} (rebuild with 'deno task build')`,
    );
  }
  // The module's known answers (ABI.md §6), before any data goes through it:
  // a runtime that executes it wrongly must not seal or restore anything.
  const failed = exports.self_test();
  if (failed !== 0) {
    throw new Error(
      `Cannot load ${WASM_URL.href}: its self-test failed with code ${failed} (see ABI.md §6); ` +
        "this JavaScript runtime does not run it correctly",
    );
  }
  return exports;
}

/** The module's exports, instantiated at import time so the API stays synchronous. */
export const core: CoreExports = await instantiate();

let view = new Uint8Array(core.memory.buffer);

/** A byte view of the whole memory, renewed after the memory grows. */
export function memoryBytes(): Uint8Array {
  if (view.buffer !== core.memory.buffer) view = new Uint8Array(core.memory.buffer);
  return view;
}

/** A region of wasm memory, reserved with `alloc` and recycled by `releaseRegion`. */
export interface Region {
  readonly ptr: number;
  readonly bytes: number;
}

// `alloc` never frees (ABI.md §3), so released regions are kept here, by size,
// for the next user: a backup of a million files reuses a handful of windows.
const freeRegions = new Map<number, number[]>();

/** Reserves `bytes` of wasm memory, reusing a released region of that size. */
export function acquireRegion(bytes: number): Region {
  const reused = freeRegions.get(bytes)?.pop();
  if (reused !== undefined) return { ptr: reused, bytes };
  const ptr = core.alloc(bytes);
  if (ptr === 0) {
    throw new RangeError(`Cannot reserve ${bytes} bytes of WebAssembly memory: out of memory`);
  }
  return { ptr, bytes };
}

/** Zeroes a region and makes it available to `acquireRegion` again. */
export function releaseRegion(region: Region): void {
  core.wipe(region.ptr, region.bytes);
  const list = freeRegions.get(region.bytes);
  if (list) list.push(region.ptr);
  else freeRegions.set(region.bytes, [region.ptr]);
}
