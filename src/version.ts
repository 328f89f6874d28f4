/**
 * Version numbers a user or a bug report needs.
 *
 * @module
 */

import { ABI_VERSION } from "./_wasm/core.ts";

/** Cofre's release version (kept equal to package.json's by a test). */
export const VERSION = "0.1.0";

/** The WebAssembly core's ABI version (ABI.md §1). */
export const WASM_ABI_VERSION: number = ABI_VERSION;
