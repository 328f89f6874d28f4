// Cofre's WebAssembly core: the single entry point asc compiles to
// build/cofre.wasm. Every export takes and returns numbers; ABI.md is the
// contract, and its version below changes whenever an export does.

/** ABI version (ABI.md §1); bump on any change to an export's meaning. */
const ABI_VERSION: i32 = 4;

export function abi_version(): i32 {
  return ABI_VERSION;
}

export { alloc, wipe } from "./memory";
export { b3_context_bytes, b3_finish, b3_init, b3_update } from "./blake3";
export {
  cdc_context_bytes,
  cdc_cut,
  cdc_hash_hi,
  cdc_hash_lo,
  cdc_init,
} from "./fastcdc";
export {
  gcm_aad_update,
  gcm_context_bytes,
  gcm_decrypt_update,
  gcm_init,
  gcm_open_finish,
  gcm_open_update,
  gcm_seal_finish,
  gcm_seal_update,
  gcm_start,
} from "./gcm";
export { self_test } from "./self_test";
