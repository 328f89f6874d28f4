// The module's memory discipline (ABI.md §3): a bump allocator the host calls
// at set-up time to reserve the regions it will pass back as pointers
// (chunker contexts, input windows, AEAD buffers). Nothing is ever freed and
// no kernel allocates: hot loops only see host-provided pointers. Alignment is
// 16 bytes so that v128 loads and stores of any region are aligned.

const ALIGN: usize = 16;
const PAGE_BYTES: usize = 65536;

let top: usize = (__heap_base + ALIGN - 1) & ~(ALIGN - 1);

/**
 * Reserves `bytes` of zeroed memory and returns its address, or 0 when memory
 * cannot grow that far (the module never traps on a failed allocation).
 */
export function alloc(bytes: usize): usize {
  const ptr = top;
  const rounded = (bytes + ALIGN - 1) & ~(ALIGN - 1);
  const end = ptr + rounded;
  // Overflow of the 32-bit address space, or more than wasm32 can address.
  if (end < ptr) return 0;
  const have = <usize>memory.size() * PAGE_BYTES;
  if (end > have) {
    const pages = <i32>((end - have + PAGE_BYTES - 1) / PAGE_BYTES);
    if (memory.grow(pages) < 0) return 0;
  }
  top = end;
  return ptr;
}

/** Overwrites `bytes` at `ptr` with zeros (used to erase key material). */
export function wipe(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}
